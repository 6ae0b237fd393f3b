# A server that refuses connections gives one error record per line, not
# a hang; so does one that never answers, within --timeout.
. tests/lib.sh

# A port nothing listens on: the mock's, once it has stopped.
mock_start; port=${MOCK_ROOT##*:}; mock_stop   # a port nothing listens on now
prompts 20 r >"$T/in"
timeout 60 "$SPLITGPT" --base-url "http://127.0.0.1:$port/v1" -P 4 --retries 1 \
    --backoff-max 0.1 <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 1 "connection refused: exit 1"
is "$(wc -l <"$T/out")" 20 "connection refused: one record per line"
is "$(jq -r .error.code "$T/out" | sort -u)" connection_error "... each a connection_error"
is "$(jq -r .error.attempts "$T/out" | sort -u)" 2 "... after 1 + --retries attempts"
is "$(jq -r .custom_id "$T/out" | head -2 | tr '\n' ' ')" "r-1 r-2 " "... in order"

mock_start --fault hang:1 --hang 20
prompts 4 h >"$T/in"
start=$(date +%s)
sg --timeout 1 --retries 0 -P 4 <"$T/in" >"$T/out"
is "$?" 1 "a server that hangs: exit 1"
is "$(jq -r .error.code "$T/out" | sort -u)" timeout "... each line a timeout record"
check "... within the timeout, not the hang" test $(( $(date +%s) - start )) -lt 15

done_testing
