# Streaming: --stream gives the same output as without it, however the
# server cuts and spaces its events; first-token times are reported.
# Stalled, cut and failing streams, and --idle-timeout, are the cases
# tests/data/03*.case.
. tests/lib.sh
mock_start --seed 3

# The figures that must not depend on streaming: per record, the id, the
# status, each choice's content (or text) and finish_reason, the usage.
digest() {
	jq -c '[.custom_id, .response.status_code,
	    (.response.body.choices // [] | map([.message.content // .text,
	    .finish_reason])), .response.body.usage, .error]' "$1"
}
sent() {
	mock_stats ".keys[\"$1\"].sent"
}
# one_line KEY [options]: run one prompt, leave its record in $T/r.
one_line() {
	_k=$1
	shift
	printf '{"prompt":"%s","id":"x"}\n' "$_k" |
	    sg --backoff-max 0.2 "$@" >"$T/r" 2>"$T/e"
}
# retried_once KEY DESCRIPTION [options]: KEY's stream goes wrong once,
# is sent again and is ok.
retried_once() {
	_k=$1 _d=$2
	shift 2
	one_line "$_k" --stream "$@"
	is "$(sent "$_k"):$(jq -r .response.status_code "$T/r")" 2:200 "$_d"
}

# Same prompts, with and without --stream: chat, n > 1, max_tokens cut,
# UTF-8 and escapes, and a Batch line per endpoint.
{
	prompts 30 s
	echo '{"prompt":"two choices","id":"n2","n":3}'
	echo '{"prompt":"a long answer cut short by max_tokens","id":"mt","max_tokens":3}'
	printf '%s\n' '{"prompt":"été \"quoted\" \\ / \n tab\t","id":"utf"}'
	echo '{"custom_id":"c1","method":"POST","url":"/v1/completions","body":{"model":"m","prompt":"complete me"}}'
	echo '{"custom_id":"c2","method":"POST","url":"/v1/completions","body":{"model":"m","prompt":"three","n":2}}'
	echo '{"custom_id":"e1","method":"POST","url":"/v1/embeddings","body":{"model":"e","input":"embed me"}}'
} >"$T/in"
sg -P 4 <"$T/in" >"$T/plain" 2>"$T/err"
is "$?" 0 "without --stream: exit 0"
sg -P 4 --stream <"$T/in" >"$T/streamed" 2>"$T/err"
is "$?" 0 "with --stream: exit 0"
digest "$T/plain" >"$T/d.plain"
digest "$T/streamed" >"$T/d.streamed"
check "the same content, finish_reason and usage, line by line" \
    cmp -s "$T/d.plain" "$T/d.streamed"
cmp -s "$T/d.plain" "$T/d.streamed" || diff "$T/d.plain" "$T/d.streamed" |
    head -5 | sed 's/^/# /'
is "$(jq -r 'select(.custom_id=="n2") | .response.body.choices | length' \
    "$T/streamed")" 3 "n=3: three choices put back together"
is "$(jq -r 'select(.custom_id=="mt") | .response.body.choices[0].finish_reason' \
    "$T/streamed")" length "max_tokens: finish_reason length kept"
is "$(jq -r 'select(.custom_id=="c1") | .response.body.object' "$T/streamed")" \
    text_completion "completions streamed give a text_completion"
is "$(jq -r 'select(.custom_id=="s-1") | .response.body.object' "$T/streamed")" \
    chat.completion "chat streamed gives a chat.completion"
is "$(jq -r 'select(.custom_id=="e1") | .response.body.object' "$T/streamed")" \
    list "embeddings are not streamed, and still work"
sg -P 4 --format content <"$T/in" >"$T/c.plain" 2>"$T/err"
sg -P 4 --format content --stream <"$T/in" >"$T/c.streamed" 2>"$T/err"
check "--format content: the same lines" cmp -s "$T/c.plain" "$T/c.streamed"
check "every streamed record is one line of valid JSON" \
    sh -c "jq -c . '$T/streamed' | wc -l | grep -qx $(wc -l <"$T/in")"

# Responses, streamed with --stream.
echo '{"input":"respond, please","id":"r1"}' >"$T/rin"
sg --endpoint /v1/responses <"$T/rin" >"$T/r.plain" 2>"$T/err"
sg --endpoint /v1/responses --stream <"$T/rin" >"$T/r.streamed" 2>"$T/err"
is "$(jq -c .response.body "$T/r.streamed")" "$(jq -c .response.body "$T/r.plain")" \
    "Responses: the completed response is the answer"

# llama-server's in-stream errors are "error: {...}" lines, not "data:".
# The record is the one the same request gets unstreamed: the status in
# the error's code, {"error": the object} for the body; a 400 at once.
k="llama [[mock:error-line]]"
one_line "$k" --stream --retries 2
is "$(sent "$k"):$(jq -r .response.status_code "$T/r")" 1:400 \
    "an error: line with code 400: its status, sent once"
jq -c '[.response.status_code, .response.body, .error]' "$T/r" >"$T/rs"
mock_reset
one_line "$k" --retries 2
jq -c '[.response.status_code, .response.body, .error]' "$T/r" >"$T/ru"
check "... the same record as unstreamed" cmp -s "$T/rs" "$T/ru"
check "... with the server's message" grep -q 'exceeds the available context' "$T/rs"
retried_once "llama-503 [[mock:error-line:code=503:times=1]]" \
    "an error: line with code 503 is retried, then ok"
# In-stream rate limits and 408/409/429 codes are retried like those
# HTTP statuses.
retried_once "rl [[mock:sse-error:after=1:type=requests:code=rate_limit_exceeded:times=1]]" \
    "a rate_limit_exceeded error event is retried, then ok"
retried_once "e429 [[mock:error-line:code=429:times=1]]" \
    "an error with code 429 is retried, then ok"

# Line ends and keep-alives as servers vary them.
mock_stop
mock_start --seed 3 --sse-crlf --sse-comments --chunk-bytes 3
sg -P 4 --stream <"$T/in" >"$T/crlf" 2>"$T/err"
digest "$T/crlf" >"$T/d.crlf"
check "--sse-crlf --sse-comments --chunk-bytes 3: the same output" \
    cmp -s "$T/d.plain" "$T/d.crlf"

# A stream sent with no Content-Type at all (some servers do): the body,
# which begins with "data:", says it is one.
mock_stop
mock_start --seed 3 --sse-no-content-type
sg -P 4 --stream <"$T/in" >"$T/noct" 2>"$T/err"
is "$?" 0 "--stream, no Content-Type on the streams: exit 0"
digest "$T/noct" >"$T/d.noct"
check "... and the same output as without --stream" \
    cmp -s "$T/d.plain" "$T/d.noct"
retried_once "noctype [[mock:sse-cut:after=2:times=1:noctype]]" \
    "a stream with no Content-Type is still checked for [DONE]: retried, then ok"

# Time to first token and the streaming rate reach the job log, the
# summary and --stats.
mock_stop
mock_start --chunk-delay 20
prompts 6 tt >"$T/ttin"
sg -P 3 --stream --joblog "$T/ttjl" --stats "$T/ttst" <"$T/ttin" >/dev/null 2>"$T/tterr"
is "$(tail -n +2 "$T/ttjl" | awk -F'\t' '$10 == "-" || $10 <= 0' | wc -l)" 0 \
    "--joblog: every streamed line has its first-token time"
check "--joblog: the first token comes before the end" sh -c \
    "tail -n +2 '$T/ttjl' | awk -F'\t' '\$10 > \$4 { exit 1 }'"
check "the summary gives first-token percentiles and the streaming rate" \
    grep -q 'streamed 6: first token p50 [0-9.]* s, p95 [0-9.]* s; [0-9.]* tokens/s while streaming' "$T/tterr"
is "$(jq -r .streamed "$T/ttst")" 6 "--stats: streamed"
check "--stats: a positive streaming rate" sh -c "jq -e '.stream_tokens_per_second > 0' '$T/ttst' >/dev/null"

done_testing
