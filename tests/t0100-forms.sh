# Every input form reaches the right endpoint with the right body, and the
# output is one Batch API record per line, in order.
. tests/lib.sh
mock_start --require-key "$OPENAI_API_KEY"

cat >"$T/in" <<'IN'
"a bare string"
{"prompt":"a prompt","id":"p1","system":"be brief"}
{"custom_id":"b1","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-x","messages":[{"role":"user","content":"batch chat"}]}}
{"custom_id":"b2","method":"POST","url":"/v1/embeddings","body":{"model":"emb","input":"embed me"}}
{"custom_id":"b3","method":"POST","url":"/v1/completions","body":{"model":"c","prompt":"complete me"}}
{"custom_id":"b4","method":"POST","url":"/v1/responses","body":{"model":"r","input":"respond"}}
{"messages":[{"role":"user","content":"bare body"}]}

   
{"messages":[{"role":"user","content":"last"}],"custom_id":"e1"}
IN
sg -m mock-model <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 0 "exit 0 when every line succeeded"
is "$(wc -l <"$T/out")" 8 "one record per non-blank line (blank lines skipped)"
is "$(jq -r .custom_id "$T/out" | tr '\n' ' ')" \
    "line-1 p1 b1 b2 b3 b4 line-7 e1 " "custom_ids: given, or line-N by physical line"
is "$(jq -r '.response.status_code' "$T/out" | sort -u)" 200 "every answer is 200"
is "$(jq -r '.error' "$T/out" | sort -u)" null "error is null on success"
is "$(jq -r 'select(.custom_id=="line-1") | .response.body.choices[0].message.content' "$T/out")" \
    "echo: a bare string" "a bare string is a user message"
is "$(jq -r 'select(.custom_id=="b1") | .response.body.model' "$T/out")" gpt-x \
    "the line's own model wins over -m"
is "$(jq -r 'select(.custom_id=="p1") | .response.body.model' "$T/out")" mock-model \
    "-m fills a line without a model"
is "$(jq -r 'select(.custom_id=="b2") | .response.body.object' "$T/out")" list \
    "a Batch line for /v1/embeddings reaches embeddings"
is "$(jq -r 'select(.custom_id=="b3") | .response.body.choices[0].text' "$T/out")" \
    "echo: complete me" "completions"
is "$(jq -r 'select(.custom_id=="b4") | .response.body.output[0].content[0].text' "$T/out")" \
    "echo: respond" "responses"
is "$(jq -r 'select(.custom_id=="e1") | .response.body.choices[0].message.content' "$T/out")" \
    "echo: last" "a bare body's custom_id is used (and taken out of the body)"
check "request_id comes from x-request-id" \
    sh -c "jq -r .response.request_id '$T/out' | grep -c '^req_mock_' | grep -qx 8"
printf '{"input":"vec"}\n' | sg --endpoint /v1/embeddings >"$T/emb"
is "$(jq -r .response.body.data[0].object "$T/emb")" embedding \
    "a bare {input} body goes to the default endpoint (--endpoint /v1/embeddings)"
check "record ids look like batch_req_" \
    sh -c "jq -r .id '$T/out' | grep -vc '^batch_req_[0-9a-f]\{24\}$' | grep -qx 0"
is "$(jq -r .id "$T/out" | sort -u | wc -l)" 8 "record ids are unique"

# The body is embedded byte for byte: the mock's bytes, not re-serialised.
curl -s -H "Authorization: Bearer $OPENAI_API_KEY" -H 'Content-Type: application/json' \
    -d '{"model":"mock-model","messages":[{"role":"user","content":"a bare string"}]}' \
    "$MOCK_URL/chat/completions" >"$T/direct"
is "$(head -1 "$T/out" | sed 's/.*"body"://; s/},"error":null}$//')" \
    "$(cat "$T/direct")" "the server's body is embedded byte for byte"

# --format content
printf '"x"\n"y"\n' | sg --format content >"$T/c"
is "$(cat "$T/c" | tr '\n' ' ')" '"echo: x" "echo: y" ' "--format content: one JSON string per line"

# defaults: --system, --max-tokens, --temperature, -d
printf '"abcdefghijklmnopqrstuvwxyz"\n' |
    sg --max-tokens 2 --temperature 0.3 -d '{"user":"u1"}' --system sys >"$T/d"
is "$(jq -r .response.body.choices[0].finish_reason "$T/d")" length "--max-tokens reaches the body"

# --text: plain lines, quotes and backslashes intact
printf 'say "hi" \\ now\nsecond line\n' | sg --text --format content >"$T/t"
is "$(sed -n 1p "$T/t")" '"echo: say \"hi\" \\ now"' "--text: a line is a prompt, escaped"
is "$(wc -l <"$T/t")" 2 "--text: one output per line"

# --endpoint /v1/completions makes {"prompt"} a completions body
printf '{"prompt":"once","id":"c"}\n' | sg --endpoint /v1/completions >"$T/e"
is "$(jq -r .response.body.object "$T/e")" text_completion "--endpoint /v1/completions"

# gzip input is detected
printf '"g1"\n"g2"\n' | gzip | sg --format content >"$T/g"
is "$(tr '\n' ' ' <"$T/g")" '"echo: g1" "echo: g2" ' "gzip input is read"

# Input cut short (gzip that ends early, a read error): the lines read
# whole get their records, the piece of a line at the cut is not sent, and
# the exit status says the rest have none.
awk 'BEGIN { srand(7); for (i = 1; i <= 300; i++) printf "\"%d %.12f\"\n", i, rand() }' |
    gzip >"$T/cut.gz"
head -c $(($(wc -c <"$T/cut.gz") / 2)) "$T/cut.gz" | sg --format content >"$T/cut" 2>"$T/cuterr"
is "$?" 4 "gzip that ends early: exit 4"
n=$(wc -l <"$T/cut")
check "... the lines before the cut get their records ($n of 300)" test "$n" -gt 50 -a "$n" -lt 300
is "$(grep -c '^"echo: [0-9]* ' "$T/cut")" "$n" "... answered"
is "$(grep -c 'gzip data ends early' "$T/cuterr")" 1 "... the cut is named"
is "$(grep -c "line $((n + 1)) is cut short; it gets no record" "$T/cuterr")" 1 "... and so is the line it cut"
sg <&- >"$T/closed" 2>"$T/closederr"
is "$?" 4 "a read error on standard input: exit 4"
check "... named" grep -q 'standard input: read error' "$T/closederr"
# A closed standard output or error is no descriptor of ours to reuse:
# the pipes and the epoll set go elsewhere.
prompts 20 >"$T/twenty"
sg -P 4 <"$T/twenty" >&- 2>"$T/closederr"
is "$?" 4 "standard output closed: exit 4"
check "... named" grep -q 'standard output: Bad file descriptor' "$T/closederr"
sg -P 4 -v <"$T/twenty" >"$T/closed" 2>&-
is "$?" 0 "standard error closed, with -v: exit 0"
check "... and every record is whole, in order" in_order "$T/closed" 20

# A base URL without /v1 and Batch urls with /v1 meet once.
printf '{"custom_id":"u","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":"u"}]}}\n' |
    timeout 60 "$SPLITGPT" --base-url "$MOCK_ROOT" >"$T/u"
is "$(jq -r .response.status_code "$T/u")" 200 "a base URL without /v1 works"
printf '{"custom_id":"u","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":"u"}]}}\n' |
    timeout 60 "$SPLITGPT" --base-url "$MOCK_URL/" >"$T/u"
is "$(jq -r .response.status_code "$T/u")" 200 "a base URL ending /v1/ does not double /v1"
printf '"env"\n' | OPENAI_BASE_URL=$MOCK_URL timeout 60 "$SPLITGPT" --format content >"$T/env"
is "$(cat "$T/env")" '"echo: env"' "OPENAI_BASE_URL is used"

# A base URL with a query (Azure's ?api-version=) keeps it after the
# path; blanks and a line end around it are dropped; a space inside is
# refused, naming the source.
printf '"q"\n' | OPENAI_BASE_URL=$(printf ' %s/?api-version=2024-10-21\r' "$MOCK_URL") \
    timeout 60 "$SPLITGPT" -v --format content >"$T/q" 2>"$T/qerr"
is "$(cat "$T/q")" '"echo: q"' "a base URL with a query and blanks around it works"
check "... the query goes after the path" \
    grep -q '^splitgpt: line 1: > POST /v1/chat/completions?api-version=2024-10-21 HTTP' "$T/qerr"
printf '"s"\n' | timeout 60 "$SPLITGPT" --base-url "$MOCK_URL/chat completions" >"$T/s" 2>"$T/serr"
is "$?" 2 "a base URL with a space inside: a usage error"
is "$(cat "$T/serr")" "splitgpt: --base-url: the URL has a space at byte $((${#MOCK_URL} + 6))" "... named"
printf '"s"\n' | OPENAI_BASE_URL=' ' timeout 60 "$SPLITGPT" >"$T/s" 2>"$T/serr"
is "$?:$(cat "$T/serr")" "2:splitgpt: OPENAI_BASE_URL: empty" "a blank OPENAI_BASE_URL: a usage error"

# The key travels in the Authorization header; a wrong key gets 401.
printf '"k"\n' | OPENAI_API_KEY=wrong sg >"$T/k"
is "$?" 3 "a rejected key halts (exit 3)"
is "$(jq -r .response.status_code "$T/k")" 401 "... with the 401 record"
# -H reaches the server: an api-key header is the key (no other is sent)
printf '"h"\n' | sg -H 'X-Extra: 1' -H "api-key: $OPENAI_API_KEY" --format content >"$T/h"
is "$(cat "$T/h")" '"echo: h"' "-H headers are accepted"

# An answer that is a JSON array (llama-server's to a "prompt" array) is
# an answer: sent once, embedded as it is; its content is null.
k='arr [[mock:array]]'
printf '{"prompt":"%s","id":"a"}\n' "$k" | sg >"$T/arr"
is "$?:$(jq -r '.response.status_code, (.response.body | type)' "$T/arr" | paste -sd:)" \
    0:200:array "a 200 JSON array is an answer"
is "$(mock_stats ".keys[\"$k\"].sent")" 1 "... sent once, not retried as cut off"
printf '{"prompt":"%s","id":"a"}\n' "$k" | sg --format content >"$T/arr"
is "$(cat "$T/arr")" null "... and --format content gives null"

# A prompt for /v1/moderations becomes {"input": ...}, with no system,
# max_tokens or temperature, and is not streamed; by --endpoint or by a
# Batch line's url.
printf '"mod me"\n' | sg --endpoint /v1/moderations --system S \
    --max-tokens 5 --temperature 0.5 --stream >"$T/mod" 2>"$T/moderr"
is "$?:$(jq -r '.response.status_code, (.response.body.results | length)' "$T/mod" | paste -sd:)" \
    0:200:1 "--endpoint /v1/moderations: a prompt is moderated"
is "$(mock_stats '.keys["mod me"].sent')" 1 "... its input is the prompt"
printf '{"custom_id":"m","method":"POST","url":"/v1/moderations","body":{"input":"mod batch"}}\n' |
    sg --stream --max-tokens 5 >"$T/modb" 2>"$T/moderr"
is "$(jq -r .response.body.results[0].flagged "$T/modb")" false \
    "a Batch line to /v1/moderations: not streamed, no max_tokens"

# --format content gives an embedding as its array of numbers, when it
# came as base64 ("encoding_format":"base64", as the official SDKs ask)
# too: the same array.
printf '"vec"\n' | sg --endpoint /v1/embeddings --format content >"$T/vf"
printf '"vec"\n' | sg --endpoint /v1/embeddings --format content \
    -d '{"encoding_format":"base64"}' >"$T/vb"
is "$(jq -r 'type, length' "$T/vb" | paste -sd:)" array:8 \
    "--format content: a base64 embedding is an array of 8 numbers"
check "... the same as the one sent as floats" cmp -s "$T/vf" "$T/vb"

# empty input
sg </dev/null >"$T/empty"
is "$?" 0 "empty input: exit 0"
is "$(wc -c <"$T/empty")" 0 "empty input: empty output"
printf '\n\n  \n' | sg >"$T/blank"
is "$(wc -c <"$T/blank")" 0 "only blank lines: empty output"

check "the key appears nowhere in output or stderr" \
    sh -c "! grep -rq '$OPENAI_API_KEY' '$T'/out '$T'/err '$T'/k '$T'/h"

done_testing
