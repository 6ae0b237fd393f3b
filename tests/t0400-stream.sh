# Streaming: --stream gives the same output as without it; stalled, cut
# and failing streams are retried; --idle-timeout cuts only silence.
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

# A stream-only fault proves the request was streamed: the mock ignores
# it otherwise.
k="cut [[mock:sse-cut:after=3:times=1]]"
one_line "$k" --stream
is "$(sent "$k"):$(jq -r .response.status_code "$T/r")" 2:200 \
    "a stream cut off before [DONE] is retried, then ok"
is "$(jq -r .response.body.choices[0].message.content "$T/r")" "echo: $k" \
    "... with the whole content"
k="cut-always [[mock:sse-cut:after=2]]"
one_line "$k" --stream --retries 1
is "$(sent "$k"):$(jq -r .error.code "$T/r")" 2:invalid_response \
    "always cut off: invalid_response after the attempts"
check "... saying it was cut off" grep -q 'cut off' "$T/r"
retried_once "badjson [[mock:badjson:after=2:times=1]]" \
    "an event with cut JSON is retried, then ok"

k="stall [[mock:stall:after=3:times=1]]"
start=$(date +%s)
one_line "$k" --stream --idle-timeout 1
took=$(( $(date +%s) - start ))
is "$(sent "$k"):$(jq -r .response.status_code "$T/r")" 2:200 \
    "--idle-timeout 1: a stalled stream is cut and retried, then ok"
check "... well before the stall would end on its own ($took s)" \
    test "$took" -lt 10
k="stall-always [[mock:stall:after=2]]"
one_line "$k" --stream --idle-timeout 0.5 --retries 1
is "$(sent "$k"):$(jq -r .error.code "$T/r")" 2:timeout \
    "a stream that always stalls ends as a timeout"
check "... whose message says idle" grep -q 'idle for 0.5 s' "$T/r"
is "$(jq -r .response "$T/r")" null "... with no response"

k="sse-error [[mock:sse-error:after=2]]"
one_line "$k" --stream --retries 2
is "$(sent "$k")" 3 "a server_error event mid-stream is retried"
is "$(jq -r .error.code "$T/r"):$(jq -r .response "$T/r")" stream_error:null \
    "... and after the attempts is a stream_error record"
check "... whose message has the server's" \
    grep -q 'line 1: the stream reported an error: The server had an error' "$T/r"
is "$(jq -r .error.attempts "$T/r")" 3 "... and the attempt count"
k="sse-fatal [[mock:sse-error:after=2:type=invalid_request_error:code=content_filter]]"
one_line "$k" --stream --retries 2
is "$(sent "$k")" 1 "a non-transient error event mid-stream is sent once, not retried"
is "$(jq -r .error.code "$T/r"):$(jq -r .error.attempts "$T/r"):$(jq -r .response "$T/r")" \
    stream_error:1:null "... and gets a stream_error record"
check "... whose message has the server's" \
    grep -q 'line 1: the stream reported an error: mock: injected stream error' "$T/r"
retried_once "sse-error-once [[mock:sse-error:after=1:times=1]]" \
    "an error event once, then ok"

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

k="big [[mock:ok]]"
one_line "$k" --stream -d '{"n":40}' --max-response-size 1K
is "$(jq -r .error.code "$T/r"):$(sent "$k")" response_too_large:1 \
    "a stream past --max-response-size: response_too_large, not retried"

# A line that asks for a stream itself, without --stream.
k="own [[mock:sse-cut:after=1:times=1]]"
printf '{"custom_id":"own","method":"POST","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":"%s"}],"stream":true}}\n' \
    "$k" | sg --backoff-max 0.2 >"$T/r" 2>"$T/e"
is "$(sent "$k")" 2 "a line with \"stream\": true is streamed without --stream"
is "$(jq -r .response.body.object "$T/r")" chat.completion \
    "... and gets the normal object"
is "$(jq -r .response.body.choices[0].message.content "$T/r")" "echo: $k" \
    "... with its content"
k="own-false [[mock:sse-cut:after=1:times=1]]"
printf '{"messages":[{"role":"user","content":"%s"}],"stream":false}\n' \
    "$k" | sg --stream >"$T/r" 2>"$T/e"
is "$(sent "$k"):$(jq -r .response.status_code "$T/r")" 1:200 \
    "a line with \"stream\": false is not streamed, even with --stream"

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

# Slow but steady: 300 ms between events, for more than the idle timeout.
mock_stop
mock_start --seed 3 --chunk-delay 300
k="a slow and steady answer, several pieces long"
start=$(date +%s)
one_line "$k" --stream --idle-timeout 1
took=$(( $(date +%s) - start ))
is "$(sent "$k"):$(jq -r .response.status_code "$T/r")" 1:200 \
    "a slow steady stream is not cut by --idle-timeout 1"
check "... though it took longer than that ($took s)" test "$took" -ge 2
is "$(jq -r .response.body.choices[0].message.content "$T/r")" "echo: $k" \
    "... and its content is whole"
k="slow under a short timeout"
one_line "$k" --stream --idle-timeout 1 --timeout 1 --retries 0
is "$(jq -r .error.code "$T/r")" timeout "--timeout still bounds the attempt"
check "... and says so, not idle" sh -c "! grep -q idle '$T/r'"

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
