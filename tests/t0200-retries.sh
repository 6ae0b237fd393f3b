# A 10,000 request run through a fault mix where every line still ends
# ok.  What is retried and what is not, one line at a time, are the cases
# tests/data/02*.case.
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
# A whole file for an unknown model stops at the first requests.
mock_reset
prompts 40 u | sg -m nope -P 2 >"$T/mnf" 2>"$T/e"
is "$?" 3 "an unknown model on every line: the run halts (exit 3)"
check "... naming the status, the code and the server's words" \
    grep -q 'halting: the first 3 requests all failed the same way: HTTP 404 model_not_found: The model `nope` does not exist' "$T/e"
check "... after no more than the requests in flight" \
    test "$(mock_stats .requests)" -le 4

done_testing
