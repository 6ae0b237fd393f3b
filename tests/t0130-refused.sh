# A server that refuses connections gives one error record per line, not
# a hang.  (One that never answers: tests/data/0600-timeout-hang.case.)
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

done_testing
