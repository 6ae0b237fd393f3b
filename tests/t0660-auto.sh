# -P auto: the number of requests in flight found as the run goes, against
# a server with 8 slots that queues the rest, and one at its rate limit.
# Loose bounds here; tests/bench measures them precisely.
. tests/lib.sh
mock_start --slots 8 --latency 100

prompts 400 a >"$T/in"
sg -P auto:64 --stats "$T/s" <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 0 "-P auto against 8 slots: exit 0"
check "every line answered, in order" in_order "$T/out" 400 a
w=$(jq .workers "$T/s")
check "it settled near the 8 slots (at $w; peak $(jq .workers_peak "$T/s"))" \
    test "$w" -ge 6 -a "$w" -le 16
check "the server never had far more than its slots in flight ($(mock_stats .max_in_flight))" \
    test "$(mock_stats .max_in_flight)" -le 20
check "the summary gives the worker count" grep -q -- '-P auto: [0-9]* at the end' "$T/err"

# At a rate limit: a handful of 429s at most.
mock_start --rpm 600 --rl-window 1 --latency 50
prompts 40 r >"$T/in2"
sg -P auto --stats "$T/s2" <"$T/in2" >"$T/out2" 2>/dev/null
is "$?" 0 "-P auto at a rate limit: exit 0"
check "every line answered, in order" in_order "$T/out2" 40 r
check "a handful of 429s at most ($(mock_stats .rate_limited))" \
    test "$(mock_stats .rate_limited)" -le 10

for bad in auto:0 auto:5000 autox auto: ; do
	sg -P "$bad" <"$T/in2" >/dev/null 2>"$T/e"
	is "$?" 2 "-P $bad: a usage error"
done
sg -P autox <"$T/in2" >/dev/null 2>"$T/e"
check "... that says what -P takes" grep -q 'not N, auto or auto:MAX' "$T/e"
done_testing
