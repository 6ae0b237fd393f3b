# tests/lib.sh: sourced by every tests/tNNNN-*.sh script.
#
# Each check prints one TAP line.  mock_start runs the mock server on
# 127.0.0.1 with an ephemeral port; everything started here is stopped when
# the script exits, and every wait is bounded.
set -u
: "${SPLITGPT:=$PWD/build/splitgpt}"
: "${MOCK:=$PWD/build/mock}"
TOP=$(pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/splitgpt-t.XXXXXX")
# A made-up key: tests check that it never leaks into output.
OPENAI_API_KEY=sk-test-7b0f3c9e1d2a4c5b8e6f
export OPENAI_API_KEY
unset OPENAI_BASE_URL
_n=0
_pids=

cleanup() {
	for p in $_pids; do
		kill "$p" 2>/dev/null
	done
	for p in $_pids; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ok STATUS DESCRIPTION: a check passes when STATUS is 0.
ok() {
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_n - $2"
	else
		echo "not ok $_n - $2"
	fi
	return "$1"
}

# skip N REASON: N checks that cannot run here, each an "ok" saying why
skip() {
	_k=$1
	shift
	while [ "$_k" -gt 0 ]; do
		ok 0 "# SKIP $*"
		_k=$((_k - 1))
	done
}

# is GOT WANT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '#   got:  %s\n#   want: %s\n' "$1" "$2"
		return 1
	fi
}

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
	_d=$1
	shift
	if "$@"; then ok 0 "$_d"; else ok 1 "$_d"; fi
}

# done_testing: the plan, "1..N", once every check has run.  tests/run
# fails a script that prints none, or whose plan disagrees with its
# checks: so a script that stops half-way fails, whatever its status.
done_testing() {
	echo "1..$_n"
}

# skip_all REASON: nothing in this script can run here; say why, end it
skip_all() {
	ok 0 "# SKIP $*"
	done_testing
	exit 0
}

diag() {
	printf '# %s\n' "$*"
}

# mock_start [mock options...]: start a mock; sets MOCK_URL (the API base,
# ending in /v1), MOCK_ROOT and MOCK_PID.  A second call starts another.
# With --raw-port-file "$T/rawport", MOCK_RAW_URL is the raw port's base.
# mock_try_start [options...]: start the mock; 1 (and none running) if it
# does not start.
mock_try_start() {
	rm -f "$T/port" "$T/rawport"
	"$MOCK" --port 0 --port-file "$T/port" --lifetime 900 "$@" \
	    2>>"$T/mock.log" &
	MOCK_PID=$!
	_pids="$_pids $MOCK_PID"
	wait_for 100 0.1 '[ -s "$T/port" ] || ! kill -0 "$MOCK_PID" 2>/dev/null'
	if [ ! -s "$T/port" ]; then
		mock_stop
		return 1
	fi
	MOCK_ROOT="http://127.0.0.1:$(cat "$T/port")"
	MOCK_URL="$MOCK_ROOT/v1"
	MOCK_RAW_URL=
	if [ -s "$T/rawport" ]; then
		# shellcheck disable=SC2034 # for the scripts and cases
		MOCK_RAW_URL="http://127.0.0.1:$(cat "$T/rawport")/v1"
	fi
}

# mock_start [options...]: start the mock, or bail out.
mock_start() {
	if ! mock_try_start "$@"; then
		echo "Bail out! the mock server did not start"
		cat "$T/mock.log"
		exit 1
	fi
}

mock_stop() {
	kill "$MOCK_PID" 2>/dev/null
	wait "$MOCK_PID" 2>/dev/null
}

# mock_stats JQ-FILTER: a figure from the mock's counters.
mock_stats() {
	curl -s --max-time 10 "$MOCK_ROOT/stats" | jq -r "$1"
}

mock_reset() {
	curl -s --max-time 10 -X POST "$MOCK_ROOT/reset" >/dev/null
}

# sg [options...]: run splitgpt against the mock, bounded in time.
sg() {
	timeout -k 5 "${SG_TIMEOUT:-300}" "$SPLITGPT" --base-url "$MOCK_URL" "$@"
}

# prompts N [PREFIX]: N lines {"prompt":"PREFIX-i"} with ids.
prompts() {
	awk -v n="$1" -v p="${2:-p}" 'BEGIN {
		for (i = 1; i <= n; i++)
			printf "{\"prompt\":\"%s-%d\",\"id\":\"%s-%d\"}\n", p, i, p, i
	}'
}

# in_order FILE N [PREFIX]: every record i (1-based) answers PREFIX-i, ok.
in_order() {
	jq -r '[.custom_id, .response.status_code,
	    .response.body.choices[0].message.content] | @tsv' "$1" |
	awk -F'\t' -v n="$2" -v p="${3:-p}" '
		$1 != p "-" NR || $2 != 200 || $3 != "echo: " p "-" NR {
			bad++
			if (bad < 5) print "# line " NR ": " $0
		}
		END { if (NR != n) { print "# " NR " records, want " n; bad++ }
		      exit bad > 0 }'
}

# sg_bg IN OUT [options...]: start splitgpt in the background under
# timeout(1); SG_WAIT is the pid to wait for, SG_PID splitgpt's own.
sg_bg() {
	_in=$1
	_out=$2
	shift 2
	timeout -k 5 "${SG_TIMEOUT:-300}" "$SPLITGPT" --base-url "$MOCK_URL" \
	    "$@" <"$_in" >"$_out" 2>>"$T/sg_bg.err" &
	SG_WAIT=$!
	_pids="$_pids $SG_WAIT"
	SG_PID=
	wait_for 50 0.05 \
	    'SG_PID=$(pgrep -P "$SG_WAIT" 2>/dev/null | head -1); [ -n "$SG_PID" ]'
}

# killed_behind_slow_head OUT: a fresh mock, then splitgpt -P 4 -o OUT
# over $T/jin (120 prompts tagged j, the first held 2.5 s by the mock),
# SIGKILLed 1.5 s in: the answers behind the slow head wait in OUT's
# journal, and none is in OUT.
killed_behind_slow_head() {
	mock_stop
	mock_start --latency 20 --seed 8
	{ printf '{"prompt":"j-1 [[mock:sleep=2500]]","id":"j-1"}\n'; prompts 120 j | tail -n +2; } >"$T/jin"
	sg_bg "$T/jin" /dev/null -P 4 -o "$1"
	sleep 1.5
	kill -KILL "$SG_PID"
	wait "$SG_WAIT"
}

# wait_for TRIES DELAY CONDITION: evaluate the shell text CONDITION up to
# TRIES times, DELAY seconds apart, until it holds (status 0) or the tries
# run out (status 1).  The bound every wait in the tests needs.
wait_for() {
	_wt=$1 _wd=$2
	shift 2
	while ! eval "$*"; do
		[ "$_wt" -gt 1 ] || return 1
		_wt=$((_wt - 1))
		sleep "$_wd"
	done
}

# workers PID: the worker processes of a splitgpt parent.
workers() {
	pgrep -P "$1" 2>/dev/null
}

# left_behind: the processes still in the process group of the last
# sg_bg, once it has been waited for.  timeout(1) leads a group of its
# own, which splitgpt and its workers join; a worker that outlived its
# parent is reparented, so workers PID can't find it, but it keeps the
# group.
left_behind() {
	pgrep -g "$SG_WAIT" 2>/dev/null
}
