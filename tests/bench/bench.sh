#!/bin/bash
# tests/bench/bench.sh: splitgpt's benchmark, against the mock server.
#
#   bash tests/bench/bench.sh [SPLITGPT [MOCK [FLOOR]]]    (or: make bench)
#
# Environment:
#   BENCH_OUT=DIR   where the TSV files and efficiency.png go (build/bench)
#   BENCH_QUICK=1   a small run (about a minute) to smoke-test the script
#   BENCH_BIG=N     lines of the big memory run (1000000; 0 skips it)
#   BENCH_REPS=N    runs of splitgpt per makespan and straggler row (3;
#                   quick: 1); the row is the run with the median wall time
#
# This is not a test: it asserts nothing about timings.  It prints a table
# and writes TSV.  Everything runs against the mock on 127.0.0.1 (an
# ephemeral port), started and stopped here; every loop is bounded and every
# run is under timeout(1).  The machine may be shared and small, so compare
# the ratios measured within one run, not absolute numbers across runs.
# See tests/bench/README.md for what each section measures.

# `make bench` runs this with sh; it needs bash ($EPOCHREALTIME, /dev/tcp).
if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
BENCH_NAME=bench
# shellcheck source=tests/bench/common.sh
. "$(dirname "$0")/common.sh"
bench_setup "${1:-}" "${2:-}" /usr/bin/time timeout curl awk jq xargs pgrep
FLOOR=$(abspath "${3:-build/floor}")
[ -x "$FLOOR" ] || die "no floor client at $FLOOR (run make build/floor)"
HAVE_PARALLEL=0
command -v parallel >/dev/null 2>&1 && HAVE_PARALLEL=1
HAVE_STRACE=0
command -v strace >/dev/null 2>&1 && HAVE_STRACE=1
HAVE_GNUPLOT=0
command -v gnuplot >/dev/null 2>&1 && HAVE_GNUPLOT=1
SYS_CA=/etc/ssl/certs/ca-certificates.crt	# Debian's CA bundle
HAVE_TLS=0
command -v openssl >/dev/null 2>&1 && [ -r "$SYS_CA" ] && HAVE_TLS=1
HERE=$(cd "$(dirname "$0")" && pwd)

MODEL=mock-model

MOCK_PID=
cleanup() {
	if [ -n "$MOCK_PID" ]; then
		kill "$MOCK_PID" 2>/dev/null
		wait "$MOCK_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- sizes ----------------------------------------------------------------

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	MAKESPAN="64:16:200 256:64:50 512:256:100"	# N:P:latency_ms
	PEER_MAKESPAN=2		# how many of those rows get peers
	TP_N=1000
	TP_PS="8 32 64"
	PEER_N=200
	PEER_PS="8 32"
	STRAGGLE="256:64:50"
	MEM_NS="2000"
	FR_N=128
	FR_REPS=1
	SWEEP_PS="1 4 16 64"
	SWEEP_MIN=32
	TLS_PS="16"
	REPS=${BENCH_REPS:-1}
else
	MAKESPAN="400:16:200 2000:64:50 5000:256:100"
	PEER_MAKESPAN=${BENCH_PEER_ROWS:-3}
	TP_N=20000
	TP_PS="8 32 64"
	PEER_N=2000
	PEER_PS="8 32"
	STRAGGLE="2000:64:50"
	BIG=${BENCH_BIG:-1000000}
	MEM_NS="10000"
	[ "$BIG" -gt 0 ] 2>/dev/null && MEM_NS="$MEM_NS $BIG"
	FR_N=256
	FR_REPS=3
	SWEEP_PS="1 4 16 64 256"
	SWEEP_MIN=400
	TLS_PS="16 64 256"
	REPS=${BENCH_REPS:-3}
fi
FR_P=64
MEM_P=16

# ---- small helpers --------------------------------------------------------

# ideal N P LATENCY_MS: ceil(N/P) x latency, in seconds
ideal() {
	awk -v n="$1" -v p="$2" -v l="$3" \
	    'BEGIN { printf "%.3f", int((n + p - 1) / p) * l / 1000 }'
}

# per-run timeout: generous, so it only catches a hang
tmo() {	# N IDEAL_S PER_SECOND
	awk -v n="$1" -v i="$2" -v r="$3" 'BEGIN { printf "%d", 60 + 10 * i + n / r }'
}

gen_prompts() {	# N FILE [TAIL]: {"prompt":"p-1TAIL","id":"p-1"} ...
	awk -v n="$1" -v t="${3:-}" 'BEGIN { for (i = 1; i <= n; i++)
	    printf "{\"prompt\":\"p-%d%s\",\"id\":\"p-%d\"}\n", i, t, i }' >"$2"
}

# N FILE: the same prompts, with ids like UUIDs (unique, in no order)
gen_uuids() {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++) {
	    h = (i * 40503) % 2147483647
	    printf "{\"prompt\":\"p-%d\",\"id\":\"%08x-%04x-4%03x-8%03x-%06x%06x\"}\n",
	        i, h, h % 65536, (h * 7) % 4096, (h * 13) % 4096,
	        (h * 69069) % 16777213, (h * 1103) % 16777213 } }' >"$2"
}

gen_bodies() {	# N FILE [TAIL]: one chat request body per line, for the peers
	awk -v n="$1" -v m="$MODEL" -v t="${3:-}" 'BEGIN { for (i = 1; i <= n; i++)
	    printf "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"p-%d%s\"}]}\n", m, i, t }' >"$2"
}

# N FILE: prompts, or bodies, each answered after 1.5 s
# ([[mock:sleep=1500]]), so that N = P clients are all started, connected
# and waiting at one moment, for a memory sample
gen_held() { gen_prompts "$1" "$2" ' [[mock:sleep=1500]]'; }
gen_held_bodies() { gen_bodies "$1" "$2" ' [[mock:sleep=1500]]'; }

# input KIND N: the file $TMP/KIND.N, made once per size by gen_KIND
input() {
	[ -s "$TMP/$1.$2" ] || "gen_$1" "$2" "$TMP/$1.$2"
	printf '%s\n' "$TMP/$1.$2"
}
prompts() { input prompts "$1"; }
bodies() { input bodies "$1"; }

# answers FILE: distinct "echo: p-K" answers in FILE
answers() {
	grep -o 'echo: p-[0-9]*' "$1" | sort -u | wc -l
}

# ---- the mock -------------------------------------------------------------

MOCK_CA=	# set: the mock serves https, with a certificate this CA signed

# mcurl [curl options]: curl to the mock, trusting MOCK_CA when it is set
mcurl() {
	curl ${MOCK_CA:+--cacert "$MOCK_CA"} "$@"
}

mock_stop() {
	if [ -n "$MOCK_PID" ]; then
		kill "$MOCK_PID" 2>/dev/null
		wait "$MOCK_PID" 2>/dev/null
		MOCK_PID=
	fi
}

# mock_start [mock options]: (re)start the mock, warm it, zero its counters
mock_start() {
	local i=0
	mock_stop
	rm -f "$TMP/port"
	"$MOCK" --port 0 --port-file "$TMP/port" --lifetime 3600 "$@" \
	    2>>"$TMP/mock.err" &
	MOCK_PID=$!
	while [ ! -s "$TMP/port" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$TMP/port" ] || { cat "$TMP/mock.err" >&2; die "the mock did not start"; }
	PORT=$(cat "$TMP/port")
	ROOT=http${MOCK_CA:+s}://127.0.0.1:$PORT
	URL=$ROOT/v1
	# warm: a few curls and a small splitgpt run (page cache, threads)
	for i in 1 2 3; do
		mcurl -sS -m 30 -o /dev/null -H 'Content-Type: application/json' \
		    -d '{"model":"mock-model","messages":[{"role":"user","content":"warm"}]}' \
		    "$URL/chat/completions" || die "the mock does not answer"
	done
	printf '{"prompt":"warm-%d"}\n' 1 2 3 4 |
	    timeout -k 5 60 "$SPLITGPT" -q -m "$MODEL" -P 2 --base-url "$URL" \
	    ${MOCK_CA:+--cacert "$MOCK_CA"} >/dev/null 2>&1
	mock_reset
}

mock_reset() {
	mcurl -sS -m 10 -X POST -o /dev/null "$ROOT/reset"
}

# mock_note: the mock's counters since the last reset, for the notes column
mock_note() {
	mcurl -sS -m 10 "$ROOT/stats?keys=0" |
	    jq -r '"mock_requests=\(.requests) mock_ok=\(.ok) max_in_flight=\(.max_in_flight)"' \
	    2>/dev/null
}

CLK_TCK=$(getconf CLK_TCK)
mock_ticks() {	# user+system clock ticks the mock has used
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$MOCK_PID/stat"
}

# ---- running one command --------------------------------------------------

# run_timed TIMEOUT IN OUT CMD...: run CMD under timeout and GNU time; sets
# WALL (seconds, measured around the command by $EPOCHREALTIME), CPU (user +
# system of the command and every child it waited for), RC
run_timed() {
	local to=$1 in=$2 out=$3 t0 t1
	shift 3
	rm -f "$TMP/time"
	t0=$EPOCHREALTIME
	timeout -k 5 "$to" /usr/bin/time -f '%e %U %S %M' -o "$TMP/time" \
	    "$@" <"$in" >"$out" 2>"$TMP/cmd.err"
	RC=$?
	t1=$EPOCHREALTIME
	WALL=$(usdiff "$t0" "$t1")
	parse_time
}

parse_time() {
	CPU=
	if [ -s "$TMP/time" ]; then
		CPU=$(tail -n 1 "$TMP/time" | awk '{ printf "%.2f", $2 + $3 }')
	fi
}

# sample PID: print "VmHWM-of-PID sum-of-VmRSS sum-of-Pss" over PID and its
# children.  VmRSS counts a shared page (libc, libcurl, a CA parse the
# parent made before forking) in every process; Pss divides it among them.
sample() {
	awk -v p="$1" -v kids="$(pgrep -P "$1" | tr '\n' ' ')" '
	function val(f, key,   l, a, r) {	# "key: N kB" in file f, or ""
		r = ""
		while ((getline l < f) > 0)
			if (index(l, key ":") == 1) { split(l, a, " "); r = a[2] }
		close(f)
		return r
	}
	BEGIN {
		h = val("/proc/" p "/status", "VmHWM")
		if (h == "")
			exit 1		# gone, or a zombie
		t = val("/proc/" p "/status", "VmRSS")
		ps = val("/proc/" p "/smaps_rollup", "Pss")
		n = split(kids, k, " ")
		for (i = 1; i <= n; i++) {
			t += val("/proc/" k[i] "/status", "VmRSS")
			ps += val("/proc/" k[i] "/smaps_rollup", "Pss")
		}
		print h, t + 0, ps + 0
	}' 2>/dev/null	# mawk reports a child that exits while read
}

# run_sampled TIMEOUT IN OUT CMD...: like run_timed, and samples the memory
# of CMD's process (and its children) every ~50 ms; sets also PEAK (VmHWM of
# the process at the last sample), TOTAL (largest sum of VmRSS) and PSS
# (largest sum of Pss)
run_sampled() {
	local to=$1 in=$2 out=$3 w tm c i s max
	shift 3
	rm -f "$TMP/time" "$TMP/wall"
	(
		t0=$EPOCHREALTIME
		timeout -k 5 "$to" /usr/bin/time -f '%e %U %S %M' \
		    -o "$TMP/time" "$@" <"$in" >"$out" 2>"$TMP/cmd.err"
		rc=$?
		echo "$t0 $EPOCHREALTIME $rc" >"$TMP/wall"
	) &
	w=$!
	# the chain is: subshell -> timeout -> time -> CMD
	c=
	i=0
	while [ -z "$c" ] && [ $i -lt 500 ]; do
		tm=$(pgrep -P "$w" | head -n 1)
		[ -n "$tm" ] && tm=$(pgrep -P "$tm" | head -n 1)
		[ -n "$tm" ] && c=$(pgrep -P "$tm" | head -n 1)
		[ -n "$c" ] || sleep 0.01
		i=$((i + 1))
	done
	PEAK=
	TOTAL=
	PSS=
	max=$((to * 20 + 100))
	i=0
	while [ -n "$c" ] && [ $i -lt $max ]; do
		s=$(sample "$c") || break
		set -- $s
		PEAK=$1
		[ "$2" -gt "${TOTAL:-0}" ] && TOTAL=$2
		[ "$3" -gt "${PSS:-0}" ] && PSS=$3
		sleep 0.05
		i=$((i + 1))
	done
	wait "$w"
	set -- $(cat "$TMP/wall" 2>/dev/null)
	WALL=$(usdiff "$1" "$2")
	RC=$3
	parse_time
}

# run_as timed|sampled TIMEOUT IN OUT CMD...: run_timed, or run_sampled
# (which also sets PEAK, TOTAL and PSS; run_timed clears them)
run_as() {
	local how=$1
	shift
	if [ "$how" = sampled ]; then
		run_sampled "$@"
	else
		PEAK= TOTAL= PSS=
		run_timed "$@"
	fi
}

# ---- results --------------------------------------------------------------

COLS='name	N	P	latency_ms	wall_s	ideal_s	efficiency	cpu_s	cpu_per_1000	rps	parent_peak_rss_kb	total_rss_kb	notes'
: >"$OUT/results.tsv"
printf '%s\n' "$COLS" >"$OUT/results.tsv"
for f in makespan throughput peers stragglers memory first_request sweep tls; do
	printf '%s\n' "$COLS" >"$OUT/$f.tsv"
done

# row FILE NAME N P LAT WALL IDEAL CPU PEAK TOTAL NOTES: derive efficiency,
# cpu per 1000 and rps; append to FILE.tsv and results.tsv; print a line
row() {
	local file=$1 name=$2 n=$3 p=$4 lat=$5 wall=$6 ideal=$7 cpu=$8
	local peak=$9 total=${10} notes=${11} eff= c1k= rps= line
	notes="$notes load1=$(cut -d' ' -f1 /proc/loadavg)"
	if [ -n "$ideal" ] && [ -n "$wall" ]; then
		eff=$(calc "$ideal / $wall")
	fi
	[ -n "$cpu" ] && c1k=$(calc "$cpu * 1000 / $n")
	[ -n "$wall" ] && rps=$(calc "$n / $wall" %.0f)
	line="$name	$n	$p	$lat	$wall	$ideal	$eff	$cpu	$c1k	$rps	$peak	$total	$notes"
	printf '%s\n' "$line" >>"$OUT/$file.tsv"
	printf '%s\n' "$line" >>"$OUT/results.tsv"
	printf '%s\n' "$line" | awk -F'\t' '{
		printf "%-26s %8s %4s %4s %8.3f %7s %6s %7s %7s %7s %8s %8s  %s\n",
		    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }'
	LAST_EFF=$eff
	LAST_C1K=$c1k
}

header() {
	printf '\n== %s\n' "$1"
	printf '%-26s %8s %4s %4s %8s %7s %6s %7s %7s %7s %8s %8s  %s\n' \
	    name N P lat wall_s ideal_s eff cpu_s cpu/1k rps peak_kb total_kb notes
}

# compare NAME N P LAT SG PEER: a line of the summary (section 6): splitgpt's
# efficiency (or rps:R) against the peer's, with splitgpt's CPU/1000
# ($s_c1k) and the peer's from its row just written (LAST_C1K, CHECK)
compare() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" \
	    "$5" "$6" "$s_c1k" "$LAST_C1K" "$CHECK" >>"$TMP/cmp"
}

# completeness note: "" when all N answers are there
check_note() {	# OUT_FILE N RC
	local got
	got=$(answers "$1")
	CHECK="answers=$got/$2"
	[ "$got" -eq "$2" ] || CHECK="WARNING:answers=$got/$2"
	[ "$3" -eq 0 ] || CHECK="$CHECK rc=$3"
	[ "$3" -eq 124 ] && CHECK="$CHECK TIMEOUT"
}

# ---- the three programs ---------------------------------------------------

# breakdown LOG SKIP N P LAT: where one run's wall time went, from the
# mock's log after line SKIP (its last three fields: when the request was
# complete, when the answer went, the connection), in the mock's clock:
#   ramp_ms  first request to the first request of the K-th connection,
#            K = N mod P (or P): the workers that make the last round
#   over_ms  the mock's own lateness: answer - complete - LAT, mean
#   turn_ms  an answer to the next complete request on that connection,
#            mean: the hand-off (client, pipes, parent, and the mock
#            reading the request)
#   edge_ms  WALL less the span from the first request to the last answer:
#            exec to the first request, and the last answer to exit
breakdown() {
	local log=$1 skip=$2 n=$3 p=$4 lat=$5 k first span over turn kth
	k=$((n % p))
	[ "$k" -gt 0 ] || k=$p
	tail -n +"$((skip + 1))" "$log" | awk -F'\t' -v lat="$lat" \
	    -v st="$TMP/starts" '
	$3 ~ /^p-/ && $6 != "-" {
		c = $8
		if (c in last) { turn += $6 - last[c]; nt++ }
		else print $6 > st
		last[c] = $7
		over += $7 - $6 - lat; no++
		if (first == "" || $6 < first) first = $6
		if ($7 > end) end = $7
	}
	END { printf "%.3f %.3f %.3f %.3f\n", first, end - first,
	    no ? over / no : 0, nt ? turn / nt : 0 }' >"$TMP/bd"
	read -r first span over turn <"$TMP/bd"
	kth=$(sort -n "$TMP/starts" | sed -n "${k}p")
	rm -f "$TMP/starts"
	[ -n "$kth" ] || return 0
	printf 'ramp_ms=%s over_ms=%s turn_ms=%s edge_ms=%s\n' \
	    "$(calc "$kth - $first" %.1f)" "$(calc "$over" %.2f)" \
	    "$(calc "$turn" %.2f)" "$(calc "$WALL * 1000 - $span" %.1f)"
}

SG_EXTRA=	# more splitgpt options for one run (unquoted: words)
SG_IN=		# another input for one run (default: prompts N)
PEER_EXTRA=	# more curl options for the peers (unquoted: words)
PEER_IN=	# another input for one peer run (default: bodies N)
MS_LOG=		# the mock's --log: add breakdown's figures to the notes

# client_run splitgpt|floor|libcurl-floor N P LAT [sampled]: run splitgpt
# on N prompts, or the floor client (floor.c; with -c for libcurl-floor)
# on the same N as request bodies; sets the variables of
# run_timed/run_sampled plus CHECK and MNOTE
client_run() {
	local who=$1 n=$2 p=$3 lat=$4 how=${5:-timed} in id to skip c
	id=$(ideal "$n" "$p" "$lat")
	to=$(tmo "$n" "$id" 1000)
	# the command, in the positional parameters
	if [ "$who" != splitgpt ]; then
		in=$(bodies "$n")
		c=
		[ "$who" = floor ] || c=-c
		set -- "$FLOOR" $c "$p" "$PORT"
	else
		in=${SG_IN:-$(prompts "$n")}
		set -- "$SPLITGPT" -q -m "$MODEL" -P "$p" --base-url "$URL" \
		    $SG_EXTRA
	fi
	mock_reset
	[ -z "$MS_LOG" ] || skip=$(wc -l <"$MS_LOG")
	run_as "$how" "$to" "$in" "$TMP/out" "$@"
	MNOTE=$(mock_note)
	[ -z "$MS_LOG" ] ||
	    MNOTE="$MNOTE $(breakdown "$MS_LOG" "$skip" "$n" "$p" "$lat")"
	check_note "$TMP/out" "$n" "$RC"
}
splitgpt_run() { client_run splitgpt "$@"; }

# median_run splitgpt|floor|libcurl-floor N P LAT: client_run REPS times;
# sets the variables of the run with the median wall time, and RUNS (every
# run's wall, sorted).  A repeat that lost answers marks CHECK too.
median_run() {
	local i=0
	: >"$TMP/reps"
	while [ $i -lt "$REPS" ]; do
		client_run "$@"
		printf '%s|%s|%s|%s\n' "$WALL" "$CPU" "$CHECK" "$MNOTE" \
		    >>"$TMP/reps"
		i=$((i + 1))
	done
	RUNS=$(cut -d '|' -f 1 "$TMP/reps" | sort -n |
	    awk '{ printf "%s%.3f", (NR > 1 ? "," : ""), $1 }')
	# '|', not a tab: IFS white space would merge an empty CPU away
	IFS='|' read -r WALL CPU CHECK MNOTE <<EOF
$(sort -n "$TMP/reps" | sed -n "$(((REPS + 1) / 2))p")
EOF
	if grep -q WARNING "$TMP/reps" && [ "${CHECK#WARNING}" = "$CHECK" ]
	then
		CHECK="WARNING:a_repeat_lost_answers $CHECK"
	fi
}

# peer_run xargs|parallel N P LAT [sampled]: one curl per request, P at a
# time; sampled: with the memory sampled (run_sampled), on PEER_IN if set
peer_run() {
	local kind=$1 n=$2 p=$3 lat=$4 how=${5:-timed} in id to
	in=${PEER_IN:-$(bodies "$n")}
	id=$(ideal "$n" "$p" "$lat")
	to=$(tmo "$n" "$id" 20)
	set -- curl -sS --max-time 60 -H 'Content-Type: application/json' \
	    -H "Authorization: Bearer $OPENAI_API_KEY" -w '\n' $PEER_EXTRA \
	    "$URL/chat/completions" --data-binary
	mock_reset
	case $kind in
	xargs)
		run_as "$how" "$to" "$in" "$TMP/out" \
		    xargs -d '\n' -n 1 -P "$p" "$@"
		;;
	parallel)
		run_as "$how" "$to" "$in" "$TMP/out" \
		    parallel --will-cite -q -k -j "$p" "$@"
		;;
	esac
	MNOTE=$(mock_note)
	check_note "$TMP/out" "$n" "$RC"
}

# ---- start ----------------------------------------------------------------

# the launcher's own cost (timeout + GNU time), included in every wall_s
LAUNCH=$(
	for i in 1 2 3 4 5; do
		t0=$EPOCHREALTIME
		timeout 10 /usr/bin/time -o /dev/null true
		t1=$EPOCHREALTIME
		usdiff "$t0" "$t1"
	done | sort -n | sed -n 3p
)
[ "$HAVE_PARALLEL" = 1 ] && parallel --will-cite true ::: 1 >/dev/null 2>&1

{
	echo "splitgpt benchmark  $(date -u '+%Y-%m-%d %H:%M:%SZ')  $(uname -srm)"
	echo "splitgpt: $SPLITGPT ($("$SPLITGPT" --version 2>&1 | head -n 1))"
	echo "libraries: $("$SPLITGPT" --version 2>&1 | sed -n '2,$p' |
	    tr '\n' ' ')"
	echo "cpus: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)  quick: $QUICK"
	echo "launcher overhead (timeout + GNU time, in every wall_s): ${LAUNCH}s"
	echo "efficiency = ideal/wall, ideal = ceil(N/P) x latency;" \
	    "cpu = user+sys incl. waited-for children"
} | tee "$OUT/info.txt"

# ---- 1 and 6: makespan, with peers ----------------------------------------

header "1. makespan efficiency (6: peers on the same mock, same N and P)"
: >"$TMP/cmp"
k=0
for spec in $MAKESPAN; do
	IFS=: read -r n p lat <<EOF
$spec
EOF
	k=$((k + 1))
	say "makespan N=$n P=$p latency=${lat}ms"
	MS_LOG=$TMP/makespan.log
	: >"$MS_LOG"
	mock_start --latency "$lat" --log "$MS_LOG"
	id=$(ideal "$n" "$p" "$lat")
	median_run splitgpt "$n" "$p" "$lat"
	row makespan splitgpt "$n" "$p" "$lat" "$WALL" "$id" "$CPU" "" "" \
	    "$CHECK runs_s=$RUNS $MNOTE"
	s_eff=$LAST_EFF s_c1k=$LAST_C1K
	# The floors: what this machine allows any client that forks P
	# workers with splitgpt's libraries, one connection each; then the
	# same with libcurl making each worker's calls, as splitgpt's do.
	for who in floor libcurl-floor; do
		say "  $who client"
		median_run "$who" "$n" "$p" "$lat"
		row peers "makespan:$who" "$n" "$p" "$lat" "$WALL" "$id" \
		    "$CPU" "" "" "$CHECK runs_s=$RUNS $MNOTE"
		compare "$who" "$n" "$p" "$lat" "$s_eff" "$LAST_EFF"
	done
	MS_LOG=
	[ $k -le "$PEER_MAKESPAN" ] || continue
	for peer in xargs parallel; do
		[ "$peer" = parallel ] && [ "$HAVE_PARALLEL" = 0 ] && continue
		say "  peer $peer"
		peer_run "$peer" "$n" "$p" "$lat"
		row peers "makespan:$peer-curl" "$n" "$p" "$lat" "$WALL" "$id" \
		    "$CPU" "" "" "$CHECK $MNOTE"
		compare "$peer-curl" "$n" "$p" "$lat" "$s_eff" "$LAST_EFF"
	done
done

# ---- 2 and 6: throughput at zero latency, with peers ----------------------

header "2. throughput at zero latency (6: peers at N=$PEER_N)"
mock_start --latency 0
for p in $TP_PS; do
	say "throughput N=$TP_N P=$p"
	m0=$(mock_ticks)
	splitgpt_run "$TP_N" "$p" 0
	m1=$(mock_ticks)
	mcpu=$(calc "($m1 - $m0) / $CLK_TCK" %.2f)
	row throughput splitgpt "$TP_N" "$p" 0 "$WALL" "" "$CPU" "" "" \
	    "$CHECK mock_cpu_s=$mcpu $MNOTE"
done
for p in $PEER_PS; do
	say "throughput peers N=$PEER_N P=$p"
	m0=$(mock_ticks)
	splitgpt_run "$PEER_N" "$p" 0
	m1=$(mock_ticks)
	mcpu=$(calc "($m1 - $m0) / $CLK_TCK" %.2f)
	row peers "throughput:splitgpt" "$PEER_N" "$p" 0 "$WALL" "" "$CPU" \
	    "" "" "$CHECK mock_cpu_s=$mcpu $MNOTE"
	s_rps=$(calc "$PEER_N / $WALL" %.0f) s_c1k=$LAST_C1K
	for peer in xargs parallel; do
		[ "$peer" = parallel ] && [ "$HAVE_PARALLEL" = 0 ] && continue
		say "  peer $peer"
		m0=$(mock_ticks)
		peer_run "$peer" "$PEER_N" "$p" 0
		m1=$(mock_ticks)
		mcpu=$(calc "($m1 - $m0) / $CLK_TCK" %.2f)
		row peers "throughput:$peer-curl" "$PEER_N" "$p" 0 "$WALL" "" \
		    "$CPU" "" "" "$CHECK mock_cpu_s=$mcpu $MNOTE"
		compare "$peer-curl" "$PEER_N" "$p" 0 "rps:$s_rps" \
		    "rps:$(calc "$PEER_N / $WALL" %.0f)"
	done
done

# ---- 3: stragglers --------------------------------------------------------

header "3. stragglers (mock --slow 0.01:20)"
IFS=: read -r n p lat <<EOF
$STRAGGLE
EOF
say "stragglers N=$n P=$p latency=${lat}ms"
mock_start --latency "$lat" --slow 0.01:20
id=$(ideal "$n" "$p" "$lat")
median_run splitgpt "$n" "$p" "$lat"
wall=$WALL cpu=$CPU check="$CHECK runs_s=$RUNS" mnote=$MNOTE
# Which lines were slow?  The mock decides from (seed, key, attempt) and
# /reset zeroes the attempts, so a second pass with a per-attempt timeout
# between the normal and the slow latency, and no retries, fails exactly
# the slow lines.  Then two bounds with those exact durations and zero
# overhead: work_bound (any order: the larger of the ideal, all the work
# over P, and one slow request) and inorder_bound (lines handed out in
# input order to the first free of P workers, as splitgpt does).
say "stragglers: finding the slow lines"
mock_reset
timeout -k 5 120 "$SPLITGPT" -q -m "$MODEL" -P "$p" --base-url "$URL" \
    --retries 0 --timeout "$(calc "$lat * 10.5 / 1000")" \
    <"$(prompts "$n")" >"$TMP/slow.out" 2>/dev/null
bounds=$(awk -v p="$p" -v l="$lat" '
	{ d[NR] = index($0, "\"echo: p-") ? l : 20 * l; s += (d[NR] > l) }
	END {
		for (j = 1; j <= p; j++) f[j] = 0
		for (i = 1; i <= NR; i++) {
			m = 1
			for (j = 2; j <= p; j++) if (f[j] < f[m]) m = j
			f[m] += d[i]; w += d[i]
		}
		mk = 0; for (j = 1; j <= p; j++) if (f[j] > mk) mk = f[j]
		wb = w / p; id = int((NR + p - 1) / p) * l
		if (id > wb) wb = id; if (s > 0 && 20 * l > wb) wb = 20 * l
		printf "%d %.3f %.3f", s, wb / 1000, mk / 1000
	}' "$TMP/slow.out")
set -- $bounds
row stragglers splitgpt "$n" "$p" "$lat" "$wall" "$id" "$cpu" "" "" \
    "$check slow_lines=$1 work_bound_s=$2 eff_vs_work_bound=$(calc "$2 / $wall") inorder_bound_s=$3 eff_vs_inorder_bound=$(calc "$3 / $wall") $mnote"
# The same run with stragglers hedged: a copy after 3x, then 1.5x, the
# median latency (the mock's slow draw is per attempt, so a copy is
# usually fast).  The lower delay ends the slow lines sooner and copies
# more lines that were merely late; mock_requests counts both.
for hx in 3x 1.5x; do
	say "stragglers N=$n P=$p latency=${lat}ms --hedge $hx"
	SG_EXTRA="--hedge $hx"
	median_run splitgpt "$n" "$p" "$lat"
	SG_EXTRA=
	row stragglers "splitgpt --hedge $hx" "$n" "$p" "$lat" "$WALL" "$id" \
	    "$CPU" "" "" "$CHECK runs_s=$RUNS $MNOTE"
done

# ---- 4: memory ------------------------------------------------------------

header "4. memory (P=$MEM_P, latency 0; peak = VmHWM of the parent, total = sum of VmRSS, total_pss_kb = sum of Pss)"
mock_start --latency 0
for n in $MEM_NS; do
	say "memory N=$n P=$MEM_P (generating input)"
	prompts "$n" >/dev/null
	input uuids "$n" >/dev/null
	# Every line names its own custom_id.  Numbered ids (p-1, p-2, ...)
	# cost the set that refuses duplicates nothing; ids in no order, like
	# UUIDs, cost it 10 to 15 bytes each; --allow-duplicate-ids keeps none.
	for run in "counter:" "counter:--allow-duplicate-ids" "uuid:"; do
		ids=${run%%:*} extra=${run#*:}
		say "memory N=$n P=$MEM_P $ids ids $extra (running)"
		SG_EXTRA=$extra
		[ "$ids" = uuid ] && SG_IN=$(input uuids "$n")
		splitgpt_run "$n" "$MEM_P" 0 sampled
		SG_EXTRA= SG_IN=
		maxrss=$(tail -n 1 "$TMP/time" 2>/dev/null | awk '{ print $4 }')
		label="splitgpt${extra:+ $extra}"
		[ "$ids" = uuid ] && label="$label (UUID ids)"
		row memory "$label" "$n" \
		    "$MEM_P" 0 "$WALL" "" "$CPU" "$PEAK" "$TOTAL" \
		    "$CHECK ids=$ids total_pss_kb=$PSS time_maxrss_kb=$maxrss $MNOTE"
		rm -f "$TMP/out"
	done
done
rm -f "$TMP/prompts.${BIG:-none}" "$TMP/uuids.${BIG:-none}"

# ---- 5: time to the first request -----------------------------------------

header "5. time from exec to the first request on the wire (P=$FR_P)"
mock_start --latency 0 --log "$TMP/fr.log"

# calibrate TAG: map the mock's log clock (ms since it started) to ours.
# A raw HTTP request through bash's /dev/tcp (no fork between the two
# timestamps); the mock logs it between CAL_A and CAL_B.  Sets CAL_MID (our
# microseconds) and CAL_MS (the mock's ms), CAL_ERR (half the bracket, ms).
calibrate() {
	local body req line ta tb
	body="{\"model\":\"$MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"calib-$1\"}]}"
	req=$(printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "${#body}" "$body")
	exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
	ta=$EPOCHREALTIME
	printf '%s' "$req" >&3
	read -r -t 10 line <&3
	tb=$EPOCHREALTIME
	exec 3<&- 3>&-
	ta=${ta/./} tb=${tb/./}
	CAL_MID=$(((10#$ta + 10#$tb) / 2))
	CAL_ERR=$(calc "($tb - $ta) / 2000" %.2f)
	CAL_MS=
	local i=0
	while [ -z "$CAL_MS" ] && [ $i -lt 50 ]; do
		CAL_MS=$(awk -F'\t' -v k="calib-$1" '$3 == k { print $1; exit }' \
		    "$TMP/fr.log")
		[ -n "$CAL_MS" ] || sleep 0.02
		i=$((i + 1))
	done
	[ -n "$CAL_MS" ]
}

in=$(prompts "$FR_N")
: >"$TMP/fr.vals"
for rep in $(seq 1 "$FR_REPS"); do
	say "first request, run $rep of $FR_REPS"
	calibrate "$rep" || die "calibration failed"
	skip=$(wc -l <"$TMP/fr.log")
	mock_reset
	rm -f "$TMP/t0"
	# the timestamp is taken in the process that then execs splitgpt
	timeout -k 5 60 bash -c 'printf "%s\n" "$EPOCHREALTIME" >"$0"; exec "$@"' \
	    "$TMP/t0" "$SPLITGPT" -q -m "$MODEL" -P "$FR_P" --base-url "$URL" \
	    <"$in" >"$TMP/out" 2>"$TMP/cmd.err"
	RC=$?
	t1=$EPOCHREALTIME
	t0=$(cat "$TMP/t0")
	WALL=$(usdiff "$t0" "$t1")
	MNOTE=$(mock_note)
	check_note "$TMP/out" "$FR_N" "$RC"
	# the log's lines for this run, sorted by the mock's ms: the first and
	# the P-th (every worker has sent one by then)
	set -- $(tail -n +"$((skip + 1))" "$TMP/fr.log" |
	    awk -F'\t' '$3 ~ /^p-/ { print $1 }' | sort -n |
	    awk -v p="$FR_P" 'NR == 1 { f = $1 } NR == p { q = $1 }
	    END { print f, q }')
	t0us=${t0/./}
	first=$(calc "(($1 + 0.5) * 1000 + $CAL_MID - $CAL_MS * 1000 - 0.5 * 1000 - $t0us) / 1000" %.1f)
	pth=$(calc "(($2 + 0.5) * 1000 + $CAL_MID - $CAL_MS * 1000 - 0.5 * 1000 - $t0us) / 1000" %.1f)
	# cross-check with strace: execve to the first connect() to the mock
	st=
	if [ "$HAVE_STRACE" = 1 ]; then
		timeout -k 5 60 strace -f --seccomp-bpf -ttt -e trace=execve,connect \
		    -o "$TMP/strace" "$SPLITGPT" -q -m "$MODEL" -P "$FR_P" \
		    --base-url "$URL" <"$in" >/dev/null 2>"$TMP/cmd.err" ||
		    say "strace run failed: $(head -n 1 "$TMP/cmd.err")"
		st=$(awk -v port="$PORT" '
		    /execve\(/ && e == "" { e = $2 }
		    /connect\(/ && index($0, "htons(" port ")") && c == "" { c = $2 }
		    END { if (e != "" && c != "") printf "%.1f", (c - e) * 1000 }' \
		    "$TMP/strace" 2>/dev/null)
	fi
	echo "$first" >>"$TMP/fr.vals"
	row first_request splitgpt "$FR_N" "$FR_P" 0 "$WALL" "" "" "" "" \
	    "$CHECK first_request_ms=$first pth_request_ms=$pth calib_err_ms=$CAL_ERR strace_first_connect_ms=${st:-n/a} $MNOTE"
done
FR_MEDIAN=$(sort -n "$TMP/fr.vals" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')

# ---- 7: efficiency and CPU against P --------------------------------------

header "7. efficiency and CPU/1000 against P (latency 50 ms; N = max($SWEEP_MIN, 8P))"
mock_start --latency 50
for p in $SWEEP_PS; do
	n=$((8 * p))
	[ $n -lt $SWEEP_MIN ] && n=$SWEEP_MIN
	say "sweep N=$n P=$p"
	id=$(ideal "$n" "$p" 50)
	splitgpt_run "$n" "$p" 50
	row sweep splitgpt "$n" "$p" 50 "$WALL" "$id" "$CPU" "" "" "$CHECK $MNOTE"
done
mock_stop

if [ "$HAVE_GNUPLOT" = 1 ]; then
	gnuplot -e "datafile='$OUT/sweep.tsv'; outfile='$OUT/efficiency.png'; nmin=$SWEEP_MIN" \
	    "$HERE/plot.gp" 2>"$TMP/gnuplot.err" ||
	    say "gnuplot failed: $(head -n 3 "$TMP/gnuplot.err")"
else
	say "no gnuplot: efficiency.png not drawn"
fi

# ---- 8: one round over TLS, with a full CA bundle -------------------------

header "8. one round over https (latency 100 ms, N = P), the system's CA bundle"
if [ "$HAVE_TLS" = 1 ]; then
	# A CA of our own signs the mock's certificate; the bundle the clients
	# trust is the system's (what a run against a real API reads) plus it.
	mkdir -p "$TMP/tls"
	(cd "$TMP/tls" &&
	    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca &&
	    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout srv.key -out srv.csr -subj /CN=bench &&
	    printf 'subjectAltName=IP:127.0.0.1\n' >srv.ext &&
	    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key \
	    -set_serial 2 -days 2 -extfile srv.ext -out srv.pem) \
	    >"$TMP/openssl.log" 2>&1 || die "openssl: $(tail -n 3 "$TMP/openssl.log")"
	cat "$SYS_CA" "$TMP/tls/ca.pem" >"$TMP/tls/bundle.pem"
	MOCK_CA=$TMP/tls/ca.pem
	mock_start --latency 100 --tls-cert "$TMP/tls/srv.pem" \
	    --tls-key "$TMP/tls/srv.key"
	ncas=$(grep -c 'BEGIN CERTIFICATE' "$TMP/tls/bundle.pem")
	for p in $TLS_PS; do
		id=$(ideal "$p" "$p" 100)
		for ca in bundle ca; do
			case $ca in
			bundle)	name=tls:splitgpt cas=$ncas ;;
			ca)	name=tls:splitgpt:one-ca cas=1 ;;
			esac
			say "tls N=$p P=$p CA file: $ca"
			SG_EXTRA="--cacert $TMP/tls/$ca.pem"
			# memory from a run of its own (sampling costs CPU),
			# with every worker connected and waiting at once
			SG_IN=$(input held "$p")
			client_run splitgpt "$p" "$p" 100 sampled
			SG_IN=
			pss=$PSS
			median_run splitgpt "$p" "$p" 100
			SG_EXTRA=
			row tls "$name" "$p" "$p" 100 "$WALL" "$id" "$CPU" "" "" \
			    "$CHECK cas=$cas runs=$RUNS total_pss_kb=$pss $MNOTE"
			[ "$ca" = bundle ] && s_eff=$LAST_EFF s_c1k=$LAST_C1K
		done
		say "  peer xargs"
		PEER_EXTRA="--cacert $TMP/tls/bundle.pem"
		PEER_IN=$(input held_bodies "$p")
		peer_run xargs "$p" "$p" 100 sampled
		PEER_IN=
		pss=$PSS
		peer_run xargs "$p" "$p" 100
		PEER_EXTRA=
		row tls tls:xargs-curl "$p" "$p" 100 "$WALL" "$id" "$CPU" "" "" \
		    "$CHECK cas=$ncas total_pss_kb=$pss $MNOTE"
		compare tls:xargs-curl "$p" "$p" 100 "$s_eff" "$LAST_EFF"
	done
	mock_stop
	MOCK_CA=
else
	say "no openssl or no $SYS_CA: section 8 skipped"
fi

# ---- summary: splitgpt against the peers ----------------------------------

{
	printf '\n== 6. splitgpt against its peers (same mock, same N and P, same run)\n'
	printf '%-15s %6s %4s %4s %12s %12s %7s %9s %9s %7s  %s\n' peer N P lat \
	    splitgpt peer ratio cpu1k_sg cpu1k_peer ratio check
	awk -F'\t' '{
		s = $5; q = $6; unit = "eff"
		if (s ~ /^rps:/) { sub(/^rps:/, "", s); sub(/^rps:/, "", q); unit = "rps" }
		r = (q + 0 > 0) ? sprintf("%.2fx", s / q) : "-"
		c = ($7 + 0 > 0) ? sprintf("%.1fx", $8 / $7) : "-"
		printf "%-15s %6s %4s %4s %12s %12s %7s %9s %9s %7s  %s\n", $1, $2, $3,
		    $4, unit "=" s, unit "=" q, r, $7, $8, c, $9
	}' "$TMP/cmp"
	echo "(ratio: splitgpt's efficiency or rps over the peer's; CPU ratio: the peer's CPU/1000 over splitgpt's;"
	echo " floor: what the machine allows P forked workers with splitgpt's libraries, doing nothing else;"
	echo " libcurl-floor: the same, with libcurl making the calls as splitgpt's workers do)"
	printf '\nfirst request median: %s ms (P=%s)\n' "$FR_MEDIAN" "$FR_P"
	printf 'TSV: %s/*.tsv' "$OUT"
	[ -s "$OUT/efficiency.png" ] && printf '   plot: %s/efficiency.png' "$OUT"
	printf '\n'
} | tee "$OUT/summary.txt"
