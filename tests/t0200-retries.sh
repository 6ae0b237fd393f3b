# Retries follow the server: what is retried, what is not, and a 10,000
# request run through a fault mix where every line still ends ok.
. tests/lib.sh
mock_start --seed 11

# one_line KEY [options]: run one prompt, leave its record in $T/r.
one_line() {
	_k=$1
	shift
	printf '{"prompt":"%s","id":"x"}\n' "$_k" | sg --backoff-max 0.2 "$@" >"$T/r" 2>"$T/e"
}
sent() {
	mock_stats ".keys[\"$1\"].sent"
}

for st in 400 401 403 404 422; do
	k="na-$st [[mock:$st]]"
	one_line "$k"
	is "$(sent "$k")" 1 "HTTP $st is not retried: one attempt"
	is "$(jq -r .response.status_code "$T/r")" "$st" "... its record keeps status $st"
	is "$(jq -r .error "$T/r")" null "... and error null (a Batch API HTTP error)"
done

k="quota [[mock:429:code=insufficient_quota]]"
one_line "$k"
is "$(sent "$k")" 1 "a 429 insufficient_quota is not retried"
is "$(jq -r .response.body.error.code "$T/r")" insufficient_quota "... its body kept"

k="xsr-false [[mock:503:should-retry=false]]"
one_line "$k"
is "$(sent "$k")" 1 "x-should-retry: false overrides a 503"
k="xsr-true [[mock:400:should-retry=true:times=2]]"
one_line "$k"
is "$(sent "$k")" 3 "x-should-retry: true makes a 400 retried"
is "$(jq -r .response.status_code "$T/r")" 200 "... until it succeeds"

for f in 408 409 429 500 502 503 504 reset reset-body badjson nonjson; do
	k="transient-$f [[mock:$f:times=2]]"
	one_line "$k"
	is "$(sent "$k"):$(jq -r .response.status_code "$T/r")" 3:200 \
	    "$f twice, then ok: three attempts, the last record ok"
done

k="always-500 [[mock:500]]"
one_line "$k" --retries 3
is "$(sent "$k")" 4 "--retries 3: four attempts at most"
is "$(jq -r .response.status_code "$T/r")" 500 "... the last status kept"
is "$(jq -r .error.code "$T/r"):$(jq -r .error.attempts "$T/r")" retries_exhausted:4 \
    "... with retries_exhausted and the attempt count"

k="ra-ms [[mock:429:retry-after-ms=200:times=1]]"
one_line "$k"
is "$(sent "$k"):$(jq -r .response.status_code "$T/r")" 2:200 "retry-after-ms is honoured"
k="ra-date [[mock:503:retry-after-date=1:times=1]]"
one_line "$k"
is "$(sent "$k"):$(jq -r .response.status_code "$T/r")" 2:200 "Retry-After as an HTTP date"
k="ra-long [[mock:429:retry-after=300]]"
one_line "$k"
is "$(sent "$k")" 1 "Retry-After over --max-retry-wait: no second attempt"
is "$(jq -r .error.code "$T/r")" retry_after_too_long "... the record says why"
check "... in its message" grep -q 'asked to wait 300.0 s' "$T/r"
k="ra-long2 [[mock:429:retry-after=3:times=1]]"
one_line "$k" --max-retry-wait 2
is "$(jq -r .error.code "$T/r")" retry_after_too_long "--max-retry-wait 2 refuses a 3 s wait"

k="hang-once [[mock:hang:times=1]]"
one_line "$k" --timeout 1
is "$(sent "$k"):$(jq -r .response.status_code "$T/r")" 2:200 "a hang times out and is retried"
k="hang-always [[mock:hang]]"
one_line "$k" --timeout 0.5 --retries 10 --max-time 2
is "$(jq -r .error.code "$T/r")" timeout "--max-time ends a request that keeps hanging"
check "... before its retries are spent" test "$(sent "$k")" -lt 6
check "... saying so" grep -q -- '--max-time 2.0 s reached' "$T/r"

k="big [[mock:ok]]"
one_line "$k" --max-response-size 1K -d '{"n":40}'
is "$(jq -r .error.code "$T/r")" response_too_large "an answer over --max-response-size"
is "$(sent "$k")" 1 "... is not retried"

# A body that comes late after its headers: waited for within --timeout,
# cut and retried past it; a stream as silent is cut by --idle-timeout.
k="slow-body [[mock:slow-body:ms=500]]"
one_line "$k" --timeout 5
is "$(sent "$k"):$(jq -r .response.status_code "$T/r")" 1:200 \
    "a body 0.5 s after its headers is waited for: one attempt, ok"
k="slow-body-long [[mock:slow-body:ms=3000:times=1]]"
one_line "$k" --timeout 1
is "$(sent "$k"):$(jq -r .response.status_code "$T/r")" 2:200 \
    "a body later than --timeout after its headers: cut, retried, then ok"
k="slow-stream [[mock:slow-body:ms=3000:times=1]]"
one_line "$k" --stream --idle-timeout 1
is "$(sent "$k"):$(jq -r .response.status_code "$T/r")" 2:200 \
    "a stream silent past --idle-timeout after its headers: cut, retried, then ok"

# The fault mix: 10,000 requests, 5% 500s, 5% 429s with Retry-After: 1,
# 2% connection resets, 1% hangs (with a 1 s timeout).
mock_stop
mock_start --seed 5 --fault 500:0.05 --fault 429:0.05:retry-after=1 \
    --fault reset:0.02 --fault hang:0.01 --hang 5
prompts 10000 fm >"$T/in"
# -P 32, not more: on two loaded cores a 1 s timeout could otherwise cut
# a healthy answer, which then (rightly) counts as sent again.
sg -P 32 --timeout 1 --retries 5 <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 0 "fault mix: exit 0"
check "fault mix: every line ends ok, in order" in_order "$T/out" 10000 fm
check "fault mix: no prompt sent more than 1 + --retries times" \
    test "$(mock_stats .max_sent)" -le 6
is "$(mock_stats .max_after_ok)" 0 "fault mix: none sent again after it succeeded"
check "fault mix: the faults really happened" \
    test "$(mock_stats '.faults.http + .faults.reset + .faults.hang')" -gt 1000
diag "fault mix: $(mock_stats '"\(.requests) requests for 10000 lines, max \(.max_sent) per prompt, faults \(.faults | tostring)"')"

# An unknown model: OpenAI's 404 model_not_found is final, kept whole.
mock_stop
mock_start --models mock-model,gpt-x
printf '"a"\n"b"\n' | sg -m nope -P 2 >"$T/mnf" 2>"$T/e"
is "$?" 1 "an unknown model: exit 1"
is "$(jq -r '[.response.status_code, .response.body.error.code, .error] | @tsv' "$T/mnf" | sort -u)" \
    "$(printf '404\tmodel_not_found\t')" "... each line a 404 model_not_found record"
is "$(mock_stats .requests)" 2 "... each sent once"
check "... with the server's message" grep -q 'The model `nope` does not exist' "$T/mnf"
printf '"c"\n' | sg -m gpt-x --format content >"$T/mok"
is "$(cat "$T/mok")" '"echo: c"' "a model on --models is answered"

done_testing
