# A server that refuses connections: the first requests all fail the same
# way, so the run halts at once, saying why and where, rather than retry
# every line (a wrong port cost ~14 s a line); every line has its record.
# (One that never answers: tests/data/0600-timeout-hang.case.)
. tests/lib.sh

# A port nothing listens on: the mock's, once it has stopped.
mock_start; port=${MOCK_ROOT##*:}; mock_stop   # a port nothing listens on now
prompts 20 r >"$T/in"
timeout 60 "$SPLITGPT" --base-url "http://127.0.0.1:$port/v1" -P 4 --retries 1 \
    --backoff-max 0.1 <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 3 "connection refused: the run halts (exit 3)"
is "$(wc -l <"$T/out")" 20 "... one record per line"
is "$(jq -r .error.code "$T/out" | sed -n 1p)" connection_error "... the first a connection_error"
is "$(jq -r .error.code "$T/out" | sort -u | tr '\n' ' ')" "connection_error not_sent " \
    "... the rest not_sent"
is "$(jq -r .custom_id "$T/out" | head -2 | tr '\n' ' ')" "r-1 r-2 " "... in order"
check "... stderr names the error once, as it first happens" \
    test "$(grep -c 'Failed to connect.*(the first error of its kind)' "$T/err")" = 1
check "... and the halt, with the URL tried" \
    grep -q "halting: the first 3 requests all failed the same way: connection error: .*(POST http://127.0.0.1:$port/v1/chat/completions)" "$T/err"
check "... and the summary counts the requests made" \
    grep -q '; [3-8] requests$' "$T/err"	# 4 workers, 2 attempts each at most

# The same client error on the first requests (a wrong model, path...)
# halts too; the summary counts errors by status and code.
mock_start --latency 5
{ for i in 1 2 3 4 5 6 7 8; do
	printf '{"prompt":"m %d [[mock:404:code=model_not_found]]"}\n' "$i"
done; } >"$T/in"
sg -P 2 --stats "$T/stats.json" <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 3 "the same 404 on the first requests: the run halts (exit 3)"
check "... saying the status, the code and the server's message" \
    grep -q 'halting: the first 3 requests all failed the same way: HTTP 404 model_not_found: mock: injected HTTP 404 Not Found (POST http' "$T/err"
check "... the summary counts them by status and code" \
    grep -q 'HTTP errors by status and code: 404 model_not_found [3-4]$' "$T/err"
check "... and so does --stats" \
    sh -c "jq -e '.http_errors_by_kind[\"404 model_not_found\"] >= 3' '$T/stats.json' >/dev/null"
check "... and no more than the lines in flight were sent" \
    test "$(mock_stats .requests)" -le 4
# One bad line among good ones is no such failure.
mock_reset
{ printf '{"prompt":"bad [[mock:404:code=model_not_found]]"}\n'; prompts 6 g; } >"$T/in"
sg -P 1 <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 1 "one line's 404 before good ones: no halt (exit 1)"
is "$(grep -c '"status_code":200' "$T/out")" 6 "... the good ones answered"
mock_stop

# Once a request has passed, a server that goes away is a run of
# failures like any other: retried, and no halt.
mock_start --latency 10
prompts 300 s >"$T/in"	# more than a loaded machine answers before the stop
sg_bg "$T/in" "$T/out" -P 2 --retries 1 --backoff-max 0.1
wait_for 100 0.05 '[ "$(mock_stats .requests)" -ge 5 ]'
mock_stop
wait "$SG_WAIT"
is "$?" 1 "a server gone after answering: exit 1, no halt"
check "... no line not_sent" sh -c "! grep -q not_sent '$T/out'"
is "$(wc -l <"$T/out")" 300 "... every line a record"

done_testing
