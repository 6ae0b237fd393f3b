#!/bin/bash
# tests/bench/cache.sh: what --cache costs per line at a large cache.
#
#   bash tests/bench/cache.sh SPLITGPT MOCK [N [P]]
#
# Fills a new cache with N distinct requests (default 1,000,000) through
# the mock at latency 0 with -P P (default 16), then runs the same input
# again, every line a hit; and, for comparison, the same input with no
# cache against the mock.  For each run: wall time, CPU seconds per 1000
# lines (user + sys of splitgpt and its workers, from /usr/bin/time) and
# the parent's max RSS (--stats parent_max_rss_kb).  Not a test: it
# asserts nothing.  Everything on 127.0.0.1; every run under timeout(1).
set -u
SG=$1 MOCK=$2 N=${3:-1000000} P=${4:-16}
T=$(mktemp -d)
trap 'kill "$mp" 2>/dev/null; rm -rf "$T"' EXIT
"$MOCK" --port-file "$T/port" --latency 0 --lifetime 7200 >/dev/null 2>&1 &
mp=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || { echo "cache.sh: the mock did not start" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$T/port")/v1"
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) printf "{\"prompt\":\"q %d\"}\n", i }' >"$T/in"
export OPENAI_API_KEY=sk-bench-not-a-key

# run NAME [options...]: one run over the input, and its figures.
run() {
	name=$1
	shift
	/usr/bin/time -f "%e %U %S" -o "$T/time" timeout 7200 "$SG" \
	    --base-url "$url" -P "$P" -q --stats "$T/stats" "$@" <"$T/in" \
	    >"$T/out"
	rc=$?
	read -r e u s <"$T/time"
	awk -v b="$name" -v e="$e" -v u="$u" -v s="$s" -v N="$N" -v rc="$rc" \
	    -v n="$(wc -l <"$T/out")" -v rss="$(jq .parent_max_rss_kb "$T/stats")" \
	    -v hits="$(jq .cache_hits "$T/stats")" \
	    -v sent="$(jq .lines_sent "$T/stats")" 'BEGIN {
		printf "%-8s rc=%d lines=%d sent=%d hits=%d wall=%.1fs cpu/1000=%.3fs parent_rss=%dKB\n",
		    b, rc, n, sent, hits, e, (u + s) * 1000 / N, rss }'
}

run fill --cache "$T/c.db"
echo "cache: $(du -k "$T/c.db" | cut -f1) KB, $(sqlite3 "$T/c.db" 'SELECT count(*) FROM answers' 2>/dev/null) answers"
run hits --cache "$T/c.db"
run nocache
