# Hostile servers: every request ends, as an error record, within its
# timeouts, and the run goes on.
. tests/lib.sh
mock_start --hang 20 --gzip

# one KEY [options]: a hostile answer, then an ordinary line after it.
one() {
	_k=$1
	shift
	_n=$((${_n:-0} + 1))
	printf '{"prompt":"%s","id":"h"%s}\n{"prompt":"after %d","id":"a"}\n' \
	    "$_k" "${EXTRA:-}" $_n |
	    sg -P 1 --retries 1 --backoff-max 0.05 "$@" >"$T/r" 2>"$T/e"
	_st=$?
	[ "$_st" -le 1 ] || diag "exit status $_st"
}
code() {
	sed -n 1p "$T/r" | jq -r '.error.code'
}
next_ok() {
	sed -n 2p "$T/r" | jq -e '.response.status_code == 200' >/dev/null
}

one "u [[mock:badutf8]]"
is "$(code)" invalid_response "a body with invalid UTF-8: invalid_response"
check "... the record itself is valid JSON (nothing of the bad byte leaks)" \
    sh -c "jq -e . '$T/r' >/dev/null"
check "... and the next line is answered" next_ok

one "n [[mock:nulbody]]"
is "$(code)" invalid_response "a body with an embedded NUL: invalid_response"
check "... the next line is answered" next_ok

one "d [[mock:deep]]"
is "$(code)" invalid_response "a body nested 100,000 deep: invalid_response"
check "... no crash: the next line is answered" next_ok

EXTRA=',"n":100' one "g [[mock:ok]]" --max-response-size 4K
is "$(code)" response_too_large "a gzip body that inflates past --max-response-size"
check "... the next line is answered" next_ok

start=$(date +%s)
one "s [[mock:drip:ms=300]]" --timeout 1
is "$(code)" timeout "a slow-loris drip ends at --timeout"
check "... within its two attempts' timeouts" test $(( $(date +%s) - start )) -lt 10
check "... the next line is answered" next_ok

start=$(date +%s)
one "w [[mock:slow-headers]]" --timeout 1
is "$(code)" timeout "headers that never come end at --timeout"
check "... within its timeouts" test $(( $(date +%s) - start )) -lt 10

is "$(mock_stats .max_after_ok)" 0 "nothing was sent again after a success"
