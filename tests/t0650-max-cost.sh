# --max-cost: the run stops sending before its spend could pass the cap,
# counting what is in flight at its worst; the rest get not_sent records.
. tests/lib.sh
mock_start --latency 30

awk 'BEGIN { for (i = 1; i <= 100; i++)
    printf "{\"prompt\":\"q-%d\",\"id\":\"q-%d\",\"max_tokens\":10}\n", i, i }' >"$T/in"
# About 15 tokens at worst a request, at $1000 a million: $0.015 each.
sg -P 4 --max-cost 0.3 --price-in 1000 --price-out 1000 --stats "$T/s" \
    <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 3 "--max-cost reached: exit 3 (halted)"
is "$(wc -l <"$T/out")" 100 "a record for every line"
check "the records are in input order" \
    sh -c "jq -r .custom_id '$T/out' | awk '\$0 != \"q-\" NR { exit 1 }'"
ok=$(jq -r 'select(.response.status_code == 200) | .custom_id' "$T/out" | wc -l)
ns=$(jq -r 'select(.error.code == "not_sent") | .custom_id' "$T/out" | wc -l)
is "$((ok + ns))" 100 "each line answered ($ok) or not sent ($ns)"
check "some lines were sent, and not all ($ok)" test "$ok" -gt 5 -a "$ok" -lt 60
is "$(mock_stats .requests)" "$ok" "only the answered lines were sent"
check "the spend stayed under the cap ($(jq .cost "$T/s"))" \
    jq -e '.cost <= 0.3' "$T/s"
check "the first line not sent says why" \
    sh -c "jq -r 'select(.error.code == \"not_sent\") | .error.message' '$T/out' | head -1 | grep -q 'max-cost'"
check "stderr says why the run stopped" grep -q 'halting: --max-cost' "$T/err"

# A line with no limit on its completion can't be bounded: not sent, the
# others are.
mock_reset
printf '%s\n' '{"prompt":"a","max_tokens":5}' '{"prompt":"no limit"}' \
    '{"prompt":"c","max_tokens":5}' >"$T/in2"
sg --max-cost 10 --price-in 1 --price-out 1 <"$T/in2" >"$T/out2" 2>"$T/err2"
is "$?" 1 "an unbounded line: exit 1, the run goes on"
is "$(jq -c '[.custom_id, (.error.code // .response.status_code)]' "$T/out2" | tr '\n' ' ')" \
    '["line-1",200] ["line-2","not_sent"] ["line-3",200] ' \
    "the unbounded line is not sent, the others are"
check "... and its record says to give --max-tokens" \
    sh -c "jq -r 'select(.custom_id == \"line-2\") | .error.message' '$T/out2' | grep -q -- '--max-tokens'"
is "$(mock_stats .requests)" 2 "two requests were sent"
sg --max-cost 10 --price-in 1 --price-out 1 --max-tokens 5 <"$T/in2" >/dev/null 2>&1
is "$?" 0 "with --max-tokens every line is bounded: exit 0"

# Usage errors.
sg --max-cost 1 <"$T/in2" >/dev/null 2>&1
is "$?" 2 "--max-cost without prices: a usage error"
sg --max-cost 1 --price-in 1 --price-out 1 --hedge 2 <"$T/in2" >/dev/null 2>&1
is "$?" 2 "--max-cost with --hedge: a usage error"
# Answers from --cache cost nothing: a rerun under a tiny cap sends
# nothing and answers every line.
mock_reset
sg --cache "$T/cache.db" -q <"$T/in2" --max-tokens 5 >/dev/null 2>&1
sent=$(mock_stats .requests)
sg --cache "$T/cache.db" --max-tokens 5 --max-cost 0.000001 --price-in 1 \
    --price-out 1 <"$T/in2" >"$T/out3" 2>/dev/null
is "$?" 0 "under a tiny --max-cost, cached answers still come: exit 0"
is "$(( $(mock_stats .requests) - sent ))" 0 "... and nothing is sent"
is "$(jq -r .response.status_code "$T/out3" | sort -u)" 200 "... every line answered"
done_testing
