# Hostile servers: the worker's memory stays bounded under header
# floods.  That every hostile answer ends as an error record, within its
# timeouts, and the run goes on: the cases tests/data/04*.case.
. tests/lib.sh
mock_start --hang 20 --gzip --raw-port-file "$T/rawport"

# Headers libmicrohttpd cannot send come from the mock's raw port.
MOCK_URL=$MOCK_RAW_URL

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
