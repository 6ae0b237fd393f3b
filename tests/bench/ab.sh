#!/bin/bash
# tests/bench/ab.sh: two splitgpt binaries, A and B, against one mock, in
# interleaved runs, for a change that must not cost anything (a refactor):
#
#   bash tests/bench/ab.sh OLD NEW MOCK [N [P [LATENCY_MS [REPS]]]]
#
# Each run prints its exit status, lines, wall time, makespan efficiency
# (ceil(N/P) x latency over wall) and CPU per 1000 requests (splitgpt and
# its workers, from /usr/bin/time), then the means.  Not a test: it asserts
# nothing.  Everything on 127.0.0.1; every run under timeout(1).
set -u
OLD=$1 NEW=$2 MOCK=$3 N=${4:-8000} P=${5:-64} LAT=${6:-20} REPS=${7:-5}
T=$(mktemp -d)
trap 'kill "$mp" 2>/dev/null; rm -rf "$T"' EXIT
"$MOCK" --port-file "$T/port" --latency "$LAT" --lifetime 3600 >/dev/null 2>&1 &
mp=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || { echo "ab: the mock did not start" >&2; exit 1; }
port=$(cat "$T/port")
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) printf "{\"prompt\":\"q %d\"}\n", i }' >"$T/in"
ideal=$(awk -v n="$N" -v p="$P" -v l="$LAT" 'BEGIN { printf "%.3f", int((n + p - 1) / p) * l / 1000 }')
export OPENAI_API_KEY=sk-ab-not-a-key
for _ in $(seq "$REPS"); do
	for b in old new; do
		bin=$OLD
		[ "$b" = new ] && bin=$NEW
		/usr/bin/time -f "%e %U %S" -o "$T/time" timeout 600 "$bin" \
		    --base-url "http://127.0.0.1:$port/v1" -P "$P" -q <"$T/in" >"$T/out"
		rc=$?
		read -r e u s <"$T/time"
		awk -v b="$b" -v e="$e" -v u="$u" -v s="$s" -v N="$N" -v ideal="$ideal" \
		    -v rc="$rc" -v n="$(wc -l <"$T/out")" 'BEGIN {
			printf "%s rc=%d lines=%d wall=%.2f eff=%.3f cpu/1000=%.3f\n",
			    b, rc, n, e, ideal / e, (u + s) * 1000 / N }'
	done
done | tee "$T/runs"
awk '{ split($5, e, "="); split($6, c, "="); ef[$1] += e[2]; cp[$1] += c[2]; k[$1]++ }
    END { for (b in k) printf "%s mean: eff=%.3f cpu/1000=%.3f (%d runs)\n",
	b, ef[b] / k[b], cp[b] / k[b], k[b] }' "$T/runs"
