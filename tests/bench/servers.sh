#!/bin/bash
# tests/bench/servers.sh: how splitgpt spreads lines over several servers
# (--base-url given twice, issue 26).
#
#   bash tests/bench/servers.sh [SPLITGPT [MOCK]]    (or: make bench-servers)
#
# Two mocks, at SERVERS_FAST and SERVERS_SLOW ms (20 and 100), -P
# SERVERS_P (16), N = SERVERS_N (2000) lines:
#   - spread: the share of the lines each server answered against the
#     ideal share, and the makespan against the ideal.  splitgpt sends a
#     line to the server with the fewest requests in flight, so each holds
#     about P/2 and completes (P/2)/latency lines a second: the ideal
#     share of server i is (1/lat_i) / sum(1/lat_j), the ideal throughput
#     sum((P/2)/lat_j), the ideal makespan N over that.
#   - killed: the same run with the fast server killed (SIGKILL) once half
#     the records are out (K, in the notes as killed_at).  Ideal: K lines
#     at the pair's throughput, the rest on the slow server alone
#     (P/lat_slow); the fast one's ideal share is its share of the K.  The
#     notes check every line ok, in input order, and that the survivor
#     answered no line twice.
# SERVERS_REPS (3) runs of each; each row is one run, the summary gives
# the median.  A bench, not a test: nothing is asserted; it exits 0
# unless it cannot run.
#
# Environment: BENCH_OUT=DIR (build/bench) gets servers.tsv and
# servers-summary.txt.
#
# Everything runs on 127.0.0.1 (mocks on ephemeral ports, started and
# stopped here); every wait loop is bounded, every run is under timeout(1).

if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
BENCH_NAME=bench-servers
# shellcheck source=tests/bench/common.sh
. "$(dirname "$0")/common.sh"
bench_setup "${1:-}" "${2:-}" timeout curl awk jq

FAST=${SERVERS_FAST:-20}
SLOW=${SERVERS_SLOW:-100}
P=${SERVERS_P:-16}
N=${SERVERS_N:-2000}
REPS=${SERVERS_REPS:-3}

PIDS=
cleanup() {
	local p
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# mock NAME LATENCY: a fresh mock logging to $TMP/NAME.log; sets
# MURL and MPID
mock() {
	local i=0 port=$TMP/$1.port
	rm -f "$port" "$TMP/$1.log"
	"$MOCK" --port 0 --port-file "$port" --lifetime 3600 \
	    --latency "$2" --log "$TMP/$1.log" 2>>"$TMP/mock.err" &
	MPID=$!
	PIDS="$PIDS $MPID"
	while [ ! -s "$port" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$port" ] || { cat "$TMP/mock.err" >&2; die "the mock did not start"; }
	MURL=http://127.0.0.1:$(cat "$port")/v1
}

stop() {	# PID
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

awk 'BEGIN { for (i = 1; i <= '"$N"'; i++)
    printf "{\"prompt\":\"p-%d\",\"id\":\"p-%d\"}\n", i, i }' >"$TMP/in"

ok200() {	# LOG: the requests that mock answered 200
	[ -f "$1" ] || { echo 0; return; }
	awk -F'\t' '$2 ~ /^POST / && $5 == "200"' "$1" | wc -l
}

# check OUT: "ok" when every record answers its own line, in order,
# otherwise what is wrong
check() {
	grep -o '"content":"echo: p-[0-9]*"' "$1" | tr -dc '0-9\n' |
	    awk -v n="$N" '$1 != NR { bad++ } END {
		if (NR != n) printf "records=%d/%d ", NR, n
		if (bad) printf "out_of_order=%d ", bad
		if (NR == n && !bad) printf "ok" }'
}

# run KILL: one run over the two mocks; KILL=1 kills the fast one once half
# the records are out.  Sets WALL, RC, NOTES, FAST_N, SLOW_N.
run() {
	local kill=$1 w t0 i=0 at=
	mock fast "$FAST"
	fast_URL=$MURL fast_PID=$MPID
	mock slow "$SLOW"
	slow_URL=$MURL slow_PID=$MPID
	rm -f "$TMP/out" "$TMP/stats"
	t0=$EPOCHREALTIME
	timeout -k 5 300 "$SPLITGPT" -q -P "$P" --retries 0 \
	    --base-url "$fast_URL" --base-url "$slow_URL" --stats "$TMP/stats" \
	    <"$TMP/in" >"$TMP/out" 2>"$TMP/err" &
	w=$!
	if [ "$kill" = 1 ]; then
		while [ $i -lt 6000 ] && kill -0 "$w" 2>/dev/null &&
		    [ "$(wc -l 2>/dev/null <"$TMP/out" || echo 0)" -lt $((N / 2)) ]; do
			sleep 0.01
			i=$((i + 1))
		done
		at=$(wc -l <"$TMP/out")
		KILLED_AT=$at
		{ kill -9 "$fast_PID"; wait "$fast_PID"; } 2>/dev/null
	fi
	wait "$w"
	RC=$?
	WALL=$(usdiff "$t0" "$EPOCHREALTIME")
	stop "$fast_PID"
	stop "$slow_PID"
	FAST_N=$(ok200 "$TMP/fast.log")
	SLOW_N=$(ok200 "$TMP/slow.log")
	NOTES="$(check "$TMP/out")"
	[ "$RC" = 0 ] || NOTES="$NOTES rc=$RC"
	[ -n "$at" ] && NOTES="$NOTES killed_at=$at"
	[ "$kill" = 1 ] && NOTES="$NOTES twice_on_slow=$(awk -F'\t' \
	    '$5 == "200" { c[$3]++ } END { for (k in c) if (c[k] > 1) n++;
	    print n + 0 }' "$TMP/slow.log")"
	NOTES="$NOTES $(jq -r '[.servers[] | "s\(.url | sub(".*:"; "") | sub("/v1"; ""))=answered:\(.answered),failovers:\(.failovers),set_aside:\(.set_aside),p50:\(.latency_p50_s)"] | join(" ")' \
	    "$TMP/stats" 2>/dev/null) load1=$(cut -d' ' -f1 /proc/loadavg)"
}

# ideal figures
PAIR=$(calc "($P / 2) * 1000 / $FAST + ($P / 2) * 1000 / $SLOW")	# lines/s
IDEAL_FAST=$(calc "(1 / $FAST) / (1 / $FAST + 1 / $SLOW)")
IDEAL_SPREAD=$(calc "$N / $PAIR")
# killed once K records are out: K at the pair's pace, the rest on the slow
# one alone; the fast one's ideal share is its share of the K
ideal_killed() {	# K
	IDEAL_KILLED=$(calc "$1 / $PAIR + ($N - $1) / ($P * 1000 / $SLOW)")
	IDEAL_FAST_KILLED=$(calc "$IDEAL_FAST * $1 / $N")
}
ideal_killed $((N / 2))

COLS='section	rep	N	P	fast_ms	slow_ms	wall_s	ideal_s	efficiency	fast_lines	slow_lines	fast_share	ideal_fast_share	notes'
printf '%s\n' "$COLS" >"$OUT/servers.tsv"
{
	echo "splitgpt servers benchmark  $(date -u '+%Y-%m-%d %H:%M:%SZ')  $(uname -srm)"
	echo "splitgpt: $SPLITGPT"
	echo "cpus: $(nproc)  uptime: $(uptime)"
	echo "two mocks at $FAST and $SLOW ms, -P $P, N=$N, $REPS runs each"
	echo "ideal: fast share $IDEAL_FAST; pair throughput $PAIR lines/s" \
	    "(P/2 in flight on each); makespan $IDEAL_SPREAD s;" \
	    "with the fast one killed at N/2 records $IDEAL_KILLED s" \
	    "(each killed row: at its own killed_at)"
	printf '%-7s %3s %8s %7s %6s %6s %6s %6s %6s  %s\n' \
	    section rep wall_s ideal_s eff fast slow share ideal notes
} | tee "$OUT/servers-info.txt"

for sec in spread killed; do
	ideal=$IDEAL_SPREAD ishare=$IDEAL_FAST
	for rep in $(seq 1 "$REPS"); do
		say "$sec run $rep"
		run $([ "$sec" = killed ] && echo 1 || echo 0)
		if [ "$sec" = killed ]; then
			ideal_killed "$KILLED_AT"
			ideal=$IDEAL_KILLED ishare=$IDEAL_FAST_KILLED
		fi
		share=$(calc "$FAST_N / ($FAST_N + $SLOW_N + ($FAST_N + $SLOW_N == 0))")
		line="$sec	$rep	$N	$P	$FAST	$SLOW	$WALL	$ideal	$(calc "$ideal / $WALL")	$FAST_N	$SLOW_N	$share	$ishare	$NOTES"
		printf '%s\n' "$line" >>"$OUT/servers.tsv"
		printf '%s\n' "$line" | awk -F'\t' '{
			printf "%-7s %3s %8.3f %7s %6s %6s %6s %6s %6s  %s\n",
			    $1, $2, $7, $8, $9, $10, $11, $12, $13, $14 }'
	done
done

{
	printf '\n== median of %s runs (a bench: reported, not asserted)  load: %s\n' \
	    "$REPS" "$(cut -d' ' -f1-3 /proc/loadavg)"
	for sec in spread killed; do
		awk -F'\t' -v s="$sec" '$1 == s { print $9 "\t" $12 "\t" $7 "\t" $13 }' \
		    "$OUT/servers.tsv" | sort -n | awk -F'\t' -v s="$sec" '{ e[NR] = $1; sh[NR] = $2; w[NR] = $3; f = $4 }
		    END { m = int((NR + 1) / 2)
			printf "%-7s efficiency %s (wall %.3f s); fast server share %s (ideal %s)\n",
			    s, e[m], w[m], sh[m], f }'
	done
} | tee "$OUT/servers-summary.txt"
