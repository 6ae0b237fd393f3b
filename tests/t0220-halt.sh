# Halting early: a rejected key, an exhausted quota, or --halt-after stop
# new requests; every line still gets a record, unsent ones "not_sent".
. tests/lib.sh
mock_start --require-key right-key --latency 10

prompts 200 h >"$T/in"
OPENAI_API_KEY=wrong-key sg -P 4 <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 3 "a 401 on every request: exit 3 (halted)"
is "$(wc -l <"$T/out")" 200 "... one record per line all the same"
check "... in order" sh -c "jq -r .custom_id '$T/out' | awk '\$0 != \"h-\" NR { exit 1 }'"
check "... only the requests in flight reached the server" \
    test "$(mock_stats .requests)" -le 8
is "$(jq -r 'select(.response) | .response.status_code' "$T/out" | sort -u)" 401 \
    "... those sent have their 401"
is "$(jq -r 'select(.response == null) | .error.code' "$T/out" | sort -u)" not_sent \
    "... the rest are not_sent"
check "... saying why" sh -c "grep -q 'not sent: the API key was rejected' '$T/out'"
check "stderr says it halted" grep -q 'halting: the API key was rejected' "$T/err"

# A 401 when no key was sent says that, not that a key was rejected.
mock_reset
prompts 5 n | (unset OPENAI_API_KEY; sg -P 1) >"$T/out" 2>"$T/err"
is "$?" 3 "a 401 with no key sent: exit 3 (halted)"
check "... stderr says no key was sent, and how to give one" \
    grep -q 'halting: HTTP 401, and no API key was sent: set OPENAI_API_KEY, or give --api-key-file' "$T/err"

mock_stop
mock_start --fault 429:1:code=insufficient_quota
OPENAI_API_KEY=x sg -P 2 <"$T/in" >"$T/out" 2>/dev/null
is "$?" 3 "insufficient_quota halts"
is "$(jq -r '.error.code // "answered"' "$T/out" | sort | uniq -c | awk '{print $2}' | tr '\n' ' ')" \
    "answered not_sent " "... with quota records then not_sent"

mock_stop
mock_start --fault 500:0.5 --seed 4
sg -P 1 --retries 0 --halt-after 5 <"$T/in" >"$T/out" 2>/dev/null
is "$?" 3 "--halt-after 5: exit 3"
is "$(jq -r 'select(.response.status_code == 500) | .custom_id' "$T/out" | wc -l)" 5 \
    "... after exactly 5 failed requests (-P 1)"
is "$(wc -l <"$T/out")" 200 "... every line has its record"

sg -P 1 --retries 0 --halt-after 90% <"$T/in" >"$T/out" 2>/dev/null
is "$?" 1 "--halt-after 90% does not halt at a 50% failure rate"
sg -P 1 --retries 0 --halt-after 30% <"$T/in" >"$T/out" 2>/dev/null
is "$?" 3 "--halt-after 30% halts at a 50% failure rate"
check "... not before 20 requests finished" \
    test "$(jq -r 'select(.response) | .custom_id' "$T/out" | wc -l)" -ge 20

done_testing
