#!/bin/bash
# tests/bench/wait.sh: what waiting costs at high concurrency (issue 26).
#
#   bash tests/bench/wait.sh [SPLITGPT [MOCK]]    (or: make bench-wait)
#
# In one run, for splitgpt and for a peer (the official OpenAI Node SDK
# with a semaphore, tests/bench/peer-node/), against the mock:
#   - CPU seconds per 1000 requests at P = 512 and 2048 with 100 ms, 2 s
#     and 10 s latency, N = WAIT_ROUNDS x P (2 rounds: each worker waits
#     twice, the second time on its kept-alive connection);
#   - the makespan efficiency, ceil(N/P) x latency / wall, at P=512
#     N=2048 2 s and P=2048 N=8192 5 s;
#   - memory while P requests wait (the 10 s rows): the parent's RSS, the
#     workers' Pss (smaps_rollup) summed and per worker; for the peer, its
#     one process.
# Targets (a bench, not a test: nothing is asserted, it exits 0 unless it
# cannot run): CPU/1000 at 10 s within 2x of that at 100 ms; efficiency
# >= 0.90 at P=512 and >= 0.85 at P=2048.
#
# Environment:
#   BENCH_OUT=DIR   where wait.tsv and wait-summary.txt go (build/bench);
#                   the peer is installed in DIR/peer-node
#   WAIT_QUICK=1    small sizes (P = 64, 256; 100 ms and 1 s), under a minute
#   WAIT_PEER=0     leave the Node peer out
#   WAIT_ROUNDS=R   N = R x P in the CPU rows (2)
#
# Everything runs on 127.0.0.1 (the mock on an ephemeral port, started and
# stopped here); every wait loop is bounded, every run is under timeout(1).
# See tests/bench/README.md.

if [ -z "${BASH_VERSION:-}" ]; then
	exec bash "$0" "$@"
fi
BENCH_NAME=bench-wait
# shellcheck source=tests/bench/common.sh
. "$(dirname "$0")/common.sh"
bench_setup "${1:-}" "${2:-}" /usr/bin/time timeout curl awk jq pgrep
HERE=$(cd "$(dirname "$0")" && pwd)
MODEL=mock-model

if [ "${WAIT_QUICK:-0}" = 1 ]; then
	PS="64 256"
	LATS="100 1000"
	EFF="256:64:1000 1024:256:1000"	# N:P:latency_ms
else
	PS="512 2048"
	LATS="100 2000 10000"
	EFF="2048:512:2000 8192:2048:5000"
fi
ROUNDS=${WAIT_ROUNDS:-2}
PMAX=0
for p in $PS; do [ "$p" -gt $PMAX ] && PMAX=$p; done
for s in $EFF; do
	p=${s#*:} p=${p%:*}
	[ "$p" -gt $PMAX ] && PMAX=$p
done
MEMLAT=$(printf '%s\n' $LATS | sort -n | tail -n 1)	# rows that sample memory

MOCK_PID=
cleanup() {
	mock_stop
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the machine's limits -------------------------------------------------

# Descriptors: the splitgpt parent holds a few pipes per worker, the mock
# (one thread per connection) a socket per connection; raise the soft limit
# (and the hard one, when allowed) here, for this script's processes only.
NEED_FD=$((4 * PMAX + 512))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $NEED_FD ]; then
	ulimit -n $NEED_FD 2>/dev/null || ulimit -S -n "$(ulimit -H -n)"
fi
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $NEED_FD ] ||
    die "open files: $(ulimit -n), P=$PMAX needs $NEED_FD (ulimit -n)"
# Processes: P workers and P mock threads.
if [ "$(ulimit -u)" != unlimited ] && [ "$(ulimit -u)" -lt $((3 * PMAX)) ]; then
	ulimit -u $((3 * PMAX + 256)) 2>/dev/null ||
	    die "max user processes $(ulimit -u): too few for P=$PMAX (ulimit -u)"
fi
# Ephemeral ports: P kept-alive connections per run; a new mock port per
# latency, and loopback's tcp_tw_reuse, keep TIME_WAIT from piling up.
# A system setting: checked, not changed.
read -r plo phi </proc/sys/net/ipv4/ip_local_port_range
[ $((phi - plo + 1)) -ge $((2 * PMAX)) ] ||
    die "ephemeral ports $plo-$phi: too few for P=$PMAX"
SOMAXCONN=$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo '?')
MAXCONNS=$((PMAX + 256))	# the mock's --max-conns (its default is 4096)

# ---- the peer -------------------------------------------------------------

# The official OpenAI Node SDK, at the version pinned in
# peer-node/package.json (it has no dependencies), installed once into
# $OUT/peer-node with the peer's script.
PEER=0
PEER_NOTE="left out (WAIT_PEER=0)"
PEER_DIR=$OUT/peer-node
if [ "${WAIT_PEER:-1}" != 0 ]; then
	PEER_NOTE=
	command -v node >/dev/null 2>&1 || PEER_NOTE="skipped: no node"
	command -v npm >/dev/null 2>&1 || PEER_NOTE="skipped: no npm"
fi
if [ "${WAIT_PEER:-1}" != 0 ] && [ -z "$PEER_NOTE" ]; then
	mkdir -p "$PEER_DIR"
	cp "$HERE/peer-node/package.json" "$HERE/peer-node/peer.mjs" "$PEER_DIR/"
	want=$(jq -r .dependencies.openai "$PEER_DIR/package.json")
	have=$(jq -r .version "$PEER_DIR/node_modules/openai/package.json" \
	    2>/dev/null)
	if [ "$have" != "$want" ]; then
		say "installing openai@$want (npm) into $PEER_DIR"
		(cd "$PEER_DIR" && timeout 300 npm install --no-audit --no-fund \
		    --no-package-lock --loglevel=error) >"$TMP/npm.log" 2>&1 ||
		    PEER_NOTE="skipped: npm install failed: $(tail -n 1 "$TMP/npm.log")"
	fi
	if [ -z "$PEER_NOTE" ]; then
		PEER=1
		PEER_NOTE="openai@$want, node $(node --version)"
	fi
fi
say "peer: $PEER_NOTE"

# ---- the mock -------------------------------------------------------------

mock_stop() {
	if [ -n "$MOCK_PID" ]; then
		kill "$MOCK_PID" 2>/dev/null
		wait "$MOCK_PID" 2>/dev/null
		MOCK_PID=
	fi
}

mock_start() {	# LATENCY_MS: a fresh mock, warmed, its counters zeroed
	local i=0
	mock_stop
	rm -f "$TMP/port"
	"$MOCK" --port 0 --port-file "$TMP/port" --lifetime 3600 \
	    --max-conns "$MAXCONNS" --latency "$1" 2>>"$TMP/mock.err" &
	MOCK_PID=$!
	while [ ! -s "$TMP/port" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$TMP/port" ] || { cat "$TMP/mock.err" >&2; die "the mock did not start"; }
	ROOT=http://127.0.0.1:$(cat "$TMP/port")
	URL=$ROOT/v1
	curl -sS -m 30 -o /dev/null -H 'Content-Type: application/json' \
	    -d '{"model":"mock-model","messages":[{"role":"user","content":"warm"}]}' \
	    "$URL/chat/completions" || die "the mock does not answer"
}

mock_stat() {	# FIELD: one of the mock's counters
	curl -sS -m 10 "$ROOT/stats?keys=0" | jq -r ".$1" 2>/dev/null
}

# ---- one run --------------------------------------------------------------

prompts() {	# N: the file of N prompts, made once
	[ -s "$TMP/in.$1" ] || awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
	    printf "{\"prompt\":\"p-%d\",\"id\":\"p-%d\"}\n", i, i }' >"$TMP/in.$1"
	printf '%s\n' "$TMP/in.$1"
}

kv() {	# FILE KEY: "Key: N kB" in FILE, or 0
	awk -v k="$2:" '$1 == k { print $2; f = 1; exit } END { if (!f) print 0 }' \
	    "$1" 2>/dev/null
}

# memsample PID: "PARENT_RSS PARENT_PSS WORKERS WORKERS_PSS" for PID and
# its children, read while they wait
memsample() {
	local k n=0 sum=0
	for k in $(pgrep -P "$1"); do
		sum=$((sum + $(kv "/proc/$k/smaps_rollup" Pss)))
		n=$((n + 1))
	done
	echo "$(kv "/proc/$1/status" VmRSS) $(kv "/proc/$1/smaps_rollup" Pss) $n $sum"
}

# run TOOL N P LAT SAMPLE: run splitgpt or the peer on N prompts with P in
# flight; sets WALL, CPU, RC, CHECK, MNOTE, and when SAMPLE is 1 MEM (the
# memsample once the mock holds P requests, or "" when it never did)
run() {
	local tool=$1 n=$2 p=$3 lat=$4 smp=$5 to w c i got
	to=$(awk -v n="$n" -v p="$p" -v l="$lat" \
	    'BEGIN { printf "%d", 120 + 3 * int((n + p - 1) / p) * l / 1000 }')
	if [ "$tool" = splitgpt ]; then
		set -- "$SPLITGPT" -q -m "$MODEL" -P "$p" --base-url "$URL"
	else
		set -- node "$PEER_DIR/peer.mjs" "$p" "$MODEL" "$URL"
	fi
	curl -sS -m 10 -X POST -o /dev/null "$ROOT/reset"
	rm -f "$TMP/time" "$TMP/wall"
	(
		t0=$EPOCHREALTIME
		timeout -k 5 "$to" /usr/bin/time -f '%e %U %S %M' -o "$TMP/time" \
		    "$@" <"$(prompts "$n")" >"$TMP/out" 2>"$TMP/cmd.err"
		rc=$?
		echo "$t0 $EPOCHREALTIME $rc" >"$TMP/wall"
	) &
	w=$!
	MEM=
	if [ "$smp" = 1 ]; then
		# the chain is: subshell -> timeout -> time -> TOOL; sample
		# when the mock holds P requests (every worker waits), one
		# sample: reading 2048 smaps_rollup costs CPU
		c=
		i=0
		while [ $i -lt $((to * 10)) ] && [ -z "$MEM" ] &&
		    kill -0 "$w" 2>/dev/null; do
			[ -n "$c" ] || c=$(pgrep -P "$(pgrep -P \
			    "$(pgrep -P "$w" | head -n 1)" | head -n 1)" |
			    head -n 1)
			if [ -n "$c" ] && [ "$(mock_stat in_flight)" = "$p" ]; then
				MEM=$(memsample "$c")
			else
				sleep 0.1
			fi
			i=$((i + 1))
		done
	fi
	wait "$w"
	set -- $(cat "$TMP/wall" 2>/dev/null) 0 0 1
	WALL=$(usdiff "$1" "$2")
	RC=$3
	CPU=$(tail -n 1 "$TMP/time" 2>/dev/null | awk '{ printf "%.2f", $2 + $3 }')
	got=$(grep -o 'echo: p-[0-9]*' "$TMP/out" | sort -u | wc -l)
	CHECK="answers=$got/$n"
	[ "$got" -eq "$n" ] || CHECK="WARNING:$CHECK"
	# in input order: line K of the output answers p-K
	grep -o 'echo: p-[0-9]*' "$TMP/out" | awk -F- '$2 != NR { exit 1 }' ||
	    CHECK="$CHECK WARNING:out_of_order"
	[ "$RC" -eq 0 ] || CHECK="$CHECK rc=$RC $(head -c 200 "$TMP/cmd.err" | tr '\n\t' '  ')"
	[ "$RC" -eq 124 ] && CHECK="$CHECK TIMEOUT"
	MNOTE="mock_requests=$(mock_stat requests) max_in_flight=$(mock_stat max_in_flight)"
}

# ---- results --------------------------------------------------------------

COLS='section	tool	N	P	latency_ms	wall_s	ideal_s	efficiency	cpu_s	cpu_per_1000	parent_rss_kb	workers	worker_pss_kb	total_pss_kb	notes'
printf '%s\n' "$COLS" >"$OUT/wait.tsv"

row() {	# SECTION TOOL N P LAT: a row from the last run's variables
	local sec=$1 tool=$2 n=$3 p=$4 lat=$5 id eff c1k prss=
	local wk= wpss= tpss= line
	id=$(calc "int(($n + $p - 1) / $p) * $lat / 1000")
	eff=$(calc "$id / $WALL")
	c1k=
	[ -n "$CPU" ] && c1k=$(calc "$CPU * 1000 / $n")
	if [ -n "$MEM" ]; then
		set -- $MEM
		prss=$1 wk=$3
		tpss=$(($2 + $4))
		[ "$3" -gt 0 ] && wpss=$(($4 / $3))
	fi
	line="$sec	$tool	$n	$p	$lat	$WALL	$id	$eff	$CPU	$c1k	$prss	$wk	$wpss	$tpss	$CHECK $MNOTE load1=$(cut -d' ' -f1 /proc/loadavg)"
	printf '%s\n' "$line" >>"$OUT/wait.tsv"
	printf '%s\n' "$line" | awk -F'\t' '{
		printf "%-4s %-9s %5s %5s %6s %8.3f %7s %6s %6s %7s %8s %5s %6s %8s  %s\n",
		    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15 }'
}

header() {
	printf '\n== %s\n' "$1"
	printf '%-4s %-9s %5s %5s %6s %8s %7s %6s %6s %7s %8s %5s %6s %8s  %s\n' \
	    sec tool N P lat wall_s ideal_s eff cpu_s cpu/1k rss_kb wkrs wk_pss pss_kb notes
}

tools() {	# splitgpt, and the peer when it is there
	echo splitgpt
	[ "$PEER" = 1 ] && echo node-sdk
}

{
	echo "splitgpt wait benchmark  $(date -u '+%Y-%m-%d %H:%M:%SZ')  $(uname -srm)"
	echo "splitgpt: $SPLITGPT ($("$SPLITGPT" --version 2>&1 | head -n 1))"
	echo "peer: $PEER_NOTE"
	echo "cpus: $(nproc)  uptime: $(uptime)"
	echo "limits: open files $(ulimit -n), processes $(ulimit -u)," \
	    "ephemeral ports $plo-$phi, somaxconn $SOMAXCONN, mock --max-conns $MAXCONNS"
	echo "cpu = user+sys of the tool and its workers (GNU time); N = $ROUNDS x P in the cpu rows"
} | tee "$OUT/wait-info.txt"

# ---- CPU against latency --------------------------------------------------

header "cpu: CPU per 1000 requests, N = $ROUNDS x P (memory sampled at ${MEMLAT} ms)"
for lat in $LATS; do
	mock_start "$lat"
	for p in $PS; do
		for tool in $(tools); do
			n=$((ROUNDS * p))
			say "cpu $tool N=$n P=$p latency=${lat}ms"
			run "$tool" "$n" "$p" "$lat" $([ "$lat" = "$MEMLAT" ] && echo 1 || echo 0)
			row cpu "$tool" "$n" "$p" "$lat"
		done
	done
done

# ---- makespan efficiency --------------------------------------------------

header "eff: makespan efficiency"
for s in $EFF; do
	IFS=: read -r n p lat <<EOF
$s
EOF
	mock_start "$lat"
	for tool in $(tools); do
		say "eff $tool N=$n P=$p latency=${lat}ms"
		run "$tool" "$n" "$p" "$lat" 0
		row eff "$tool" "$n" "$p" "$lat"
	done
done
mock_stop

# ---- summary: the targets -------------------------------------------------

{
	printf '\n== targets (a bench: reported, not asserted)  load: %s\n' \
	    "$(cut -d' ' -f1-3 /proc/loadavg)"
	awk -F'\t' -v lo="$(printf '%s\n' $LATS | sort -n | head -n 1)" \
	    -v mid="$(printf '%s\n' $LATS | sort -n | tail -n 2 | head -n 1)" \
	    -v hi="$MEMLAT" -v pmin="$(printf '%s\n' $PS | sort -n | head -n 1)" \
	    -v rounds="$ROUNDS" '
	function all_in() {	# did the mock see all P requests at once?
		return match($15, /max_in_flight=[0-9]+/) &&
		    substr($15, RSTART + 14, RLENGTH - 14) + 0 == $4 + 0
	}
	NR == 1 { next }
	$1 == "cpu" && !(($2 " " $4) in seen) { seen[$2 " " $4]; key[++nk] = $2 " " $4 }
	$1 == "cpu" && $5 == lo { c_lo[$2 " " $4] = $10
		if (!all_in()) few[$2 " " $4] = substr($15, RSTART, RLENGTH) }
	$1 == "cpu" && $5 == mid && all_in() { s_mid[$2 " " $4] = $9 }
	$1 == "cpu" && $5 == hi && all_in() { s_hi[$2 " " $4] = $9 }
	$1 == "cpu" && $5 == hi { c_hi[$2 " " $4] = $10
		if ($13 != "") m[++nm] = sprintf("memory  %-9s P=%-5s parent RSS %s kB, %s workers, Pss %s kB each, %s kB in all (%.0f kB per request in flight)",
		    $2, $4, $11, $12, $13, $14, $14 / $4)
		else if ($14 != "") m[++nm] = sprintf("memory  %-9s P=%-5s RSS %s kB, Pss %s kB (%.0f kB per request in flight)",
		    $2, $4, $11, $14, $14 / $4) }
	$1 == "eff" { e[++ne] = $0 }
	END {
		for (i = 1; i <= nk; i++) if (c_lo[key[i]] > 0 && key[i] in c_hi) {
			split(key[i], a, " ")
			r = c_hi[key[i]] / c_lo[key[i]]
			printf "cpu     %-9s P=%-5s cpu/1000 %s s at %d ms, %s s at %d ms: %.2fx  (target <= 2x: %s)%s\n",
			    a[1], a[2], c_lo[key[i]], lo, c_hi[key[i]], hi, r, (r <= 2 ? "met" : "NOT met"),
			    key[i] in few ? "; at " lo " ms " few[key[i]] ": fewer than P were ever out at once" : ""
		}
		# Both rows had all P waiting at once, the same start-up: the
		# difference is (hi - mid) ms more waiting, ROUNDS times.
		for (i = 1; i <= nk; i++) if ((key[i] in s_mid) && (key[i] in s_hi) && hi > mid) {
			split(key[i], a, " ")
			printf "wait    %-9s P=%-5s (cpu_s at %d ms - at %d ms) / (%d x P x %.0f s): %.1f us per waiting worker (or request) per second\n",
			    a[1], a[2], hi, mid, rounds, (hi - mid) / 1000,
			    (s_hi[key[i]] - s_mid[key[i]]) * 1e6 / (rounds * a[2] * (hi - mid) / 1000)
		}
		for (i = 1; i <= ne; i++) {
			split(e[i], f, "\t")
			t = (f[4] + 0 <= pmin + 0) ? 0.90 : 0.85
			printf "eff     %-9s P=%-5s N=%-5s %5d ms: %s  (target >= %.2f: %s)\n",
			    f[2], f[4], f[3], f[5], f[8], t, (f[8] + 0 >= t ? "met" : "NOT met")
		}
		for (i = 1; i <= nm; i++) print m[i]
	}' "$OUT/wait.tsv"
	printf 'TSV: %s/wait.tsv\n' "$OUT"
} | tee "$OUT/wait-summary.txt"
