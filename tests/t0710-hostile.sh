# Hostile servers: every request ends, as an error record, within its
# timeouts, and the run goes on.
. tests/lib.sh
mock_start --hang 20 --gzip --raw-port-file "$T/rawport"

# one KEY [options]: a hostile answer, then an ordinary line after it.
one() {
	_k=$1
	shift
	_one=$((${_one:-0} + 1))	# not _n: that counts the checks
	printf '{"prompt":"%s","id":"h"%s}\n{"prompt":"after %d","id":"a"}\n' \
	    "$_k" "${EXTRA:-}" $_one |
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

# Headers libmicrohttpd cannot send, from the mock's raw port.  libcurl
# stops reading at one header line over 100 KB or 300 KB of headers.
MOCK_URL=$MOCK_RAW_URL
sent() {
	mock_stats ".keys[\"$1\"].sent"
}
one "hh [[mock:huge-header]]" --timeout 5
is "$(code)" invalid_response "a header line of 1 MB: invalid_response"
check "... the message says why" grep -q 'a header too large to read' "$T/r"
is "$(sent "hh [[mock:huge-header]]")" 1 "... not retried (it would come again)"
check "... the next line is answered" next_ok

one "mh [[mock:many-headers]]" --timeout 5
is "$(code)" connection_error "20,000 header lines (640 KB): connection_error"
check "... the message says why" grep -q 'Too large response headers' "$T/r"
check "... the next line is answered" next_ok

start=$(date +%s)
one "eh [[mock:endless-headers]]" --timeout 5
is "$(code)" connection_error "header lines without end, flooding: connection_error"
check "... the message says why" grep -q 'Too large response headers' "$T/r"
check "... within its timeouts" test $(( $(date +%s) - start )) -lt 20
check "... the next line is answered" next_ok

start=$(date +%s)
one "dh [[mock:drip-headers]]" --timeout 1
is "$(code)" timeout "a header line every 0.1 s without end: timeout at --timeout"
check "... within its two attempts' timeouts" test $(( $(date +%s) - start )) -lt 10
check "... the next line is answered" next_ok

# Memory: the worker's peak RSS, read while it still runs, stays far
# below what keeping those headers would take (the flood alone offers
# 512 MB).  -v shows every header line that arrives.
mkfifo "$T/fifo"
exec 3<>"$T/fifo"	# a writer, so that opening it to read does not block
sg_bg "$T/fifo" "$T/mem" -P 1 -v --retries 0 --timeout 10 3>&-
printf '{"prompt":"m%d [[mock:%s]]"}\n' 1 huge-header 2 many-headers \
    3 endless-headers >&3
wait_for 300 0.1 '[ "$(wc -l <"$T/mem")" -ge 3 ]'
w=$(workers "$SG_PID" | head -1)
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/${w:-0}/status" 2>/dev/null)
exec 3>&-
wait "$SG_WAIT"
is "$(jq -r .error.code "$T/mem" | tr '\n' ' ')" \
    "invalid_response connection_error connection_error " \
    "(the three answers, with -v: the same records)"
check "the worker's peak memory stays bounded (${hwm:-?} kB < 200 MB)" \
    test "${hwm:-999999999}" -lt 200000

MOCK_URL=$MOCK_ROOT/v1
is "$(mock_stats .max_after_ok)" 0 "nothing was sent again after a success"

done_testing
