# Input and output beyond the cases in tests/data/00*.case (the input
# forms, endpoints, base URLs): the body embedded byte for byte, input cut
# short, and closed standard descriptors.
. tests/lib.sh
mock_start --require-key "$OPENAI_API_KEY"

# The body is embedded byte for byte: the mock's bytes, not re-serialised.
curl -s -H "Authorization: Bearer $OPENAI_API_KEY" -H 'Content-Type: application/json' \
    -d '{"model":"mock-model","messages":[{"role":"user","content":"a bare string"}]}' \
    "$MOCK_URL/chat/completions" >"$T/direct"
printf '"a bare string"\n' | sg -m mock-model >"$T/out"
is "$(head -1 "$T/out" | sed 's/.*"body"://; s/},"error":null}$//')" \
    "$(cat "$T/direct")" "the server's body is embedded byte for byte"

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

# A space inside a base URL is refused, naming the byte (the cases in
# tests/data/ have the other base URL checks).
printf '"s"\n' | timeout 60 "$SPLITGPT" --base-url "$MOCK_URL/chat completions" >"$T/s" 2>"$T/serr"
is "$?" 2 "a base URL with a space inside: a usage error"
is "$(cat "$T/serr")" "splitgpt: --base-url: the URL has a space at byte $((${#MOCK_URL} + 6))" "... named"
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


done_testing
