# The Batch API hand-off (issue 27): contrib/batch/splitgpt-batch.sh
# against the mock's Files and Batches endpoints, and `splitgpt --resume`
# finishing what the batch failed or left unanswered.
. tests/lib.sh
SB=$TOP/contrib/batch/splitgpt-batch.sh
mock_start --require-key "$OPENAI_API_KEY"

# curl and jq through shims that log their argv, to look for the key.
mkdir "$T/bin"
for c in curl jq; do
	real=$(command -v $c)
	printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s/argv"\nexec %s "$@"\n' \
	    "$T" "$real" >"$T/bin/$c"
	chmod +x "$T/bin/$c"
done
# sb ARGS...: the script against the mock (OPENAI_BASE_URL), bounded in
# time, with the shims.
sb() {
	OPENAI_BASE_URL=${BASE-$MOCK_URL} PATH=$T/bin:$PATH \
	    timeout -k 5 120 "$SB" "$@"
}
# requests N [AWK-EXPR]: N Batch API lines p-1..p-N; the content of line
# i is "p-i", plus the text of AWK-EXPR (evaluated with i) when non-empty.
requests() {
	awk -v n="$1" 'BEGIN {
		for (i = 1; i <= n; i++) {
			x = ""
			'"${2:-}"'
			printf "{\"custom_id\":\"p-%d\",\"method\":\"POST\"," \
			    "\"url\":\"/v1/chat/completions\",\"body\":{\"model\":" \
			    "\"mock-model\",\"messages\":[{\"role\":\"user\"," \
			    "\"content\":\"p-%d%s\"}]}}\n", i, i, x
		}
	}'
}
# summary FILE: "custom_id status error-code" a line.
summary() {
	jq -r '"\(.custom_id) \(.response.status_code // "-") \(.error.code // "-")"' "$1"
}

check "splitgpt-batch.sh is executable, with a header saying how to run it" \
    sh -c "test -x '$SB' && sed -n 2p '$SB' | grep -q '^# splitgpt-batch.sh: '"
check "splitgpt-batch.sh passes sh -n" sh -n "$SB"
if command -v shellcheck >/dev/null; then
	check "... and shellcheck" shellcheck "$SB"
else
	skip 1 "no shellcheck"
fi

# --- all answered -------------------------------------------------------
requests 50 >"$T/in"
sb -i 0 "$T/in" >"$T/out" 2>"$T/err"
is "$?" 0 "50 lines, all answered: exit 0"
check "... one record per line, in input order, each the line's answer" \
    in_order "$T/out" 50
check "... each a Batch API record with a batch_req_ id and no error" \
    jq -e -s 'all(.[]; (.id | startswith("batch_req_")) and .error == null)
	and length == 50' "$T/out"
out_id=$(curl -s --max-time 10 -H "Authorization: Bearer $OPENAI_API_KEY" \
    "$MOCK_URL/batches" | jq -r '.data[0].output_file_id')
curl -s --max-time 10 -H "Authorization: Bearer $OPENAI_API_KEY" \
    "$MOCK_URL/files/$out_id/content" | jq -r .custom_id >"$T/order"
check "(the batch's output file is not in input order: the join is tested)" \
    sh -c "[ \$(wc -l <'$T/order') = 50 ] && ! jq -r .custom_id '$T/in' | cmp -s - '$T/order'"
check "progress on standard error: the batch's status and counts" \
    grep -q 'completed: 50 of 50 done, 0 failed' "$T/err"
is "$(mock_stats .max_sent)" 1 "each line was answered once"
check "the key was in the argv of no curl or jq" sh -c "
	[ -s '$T/argv' ] && ! grep -qF -- '$OPENAI_API_KEY' '$T/argv'"

# --- failed and expired lines, then --resume ------------------------------
mock_reset
requests 50 'if (i == 5 || i == 17 || i == 33) x = " [[mock:500:times=1]]"
	if (i == 9 || i == 40) x = " [[mock:batch-expire]]"' >"$T/in2"
sb -i 0 -o "$T/out2" "$T/in2" 2>"$T/err2"
is "$?" 1 "failed and expired lines: exit 1"
summary "$T/out2" >"$T/sum2"
is "$(awk '$2 != 200' "$T/sum2" | tr '\n' ' ')" \
    "p-5 500 - p-9 - batch_expired p-17 500 - p-33 500 - p-40 - batch_expired " \
    "... the error file's records for them, in their places"
is "$(cut -d' ' -f1 "$T/sum2" | tr '\n' ' ')" \
    "$(jq -r .custom_id "$T/in2" | tr '\n' ' ')" "... every line's record, in input order"
before=$(mock_stats .requests)
sg --resume -o "$T/out2" <"$T/in2" 2>"$T/err3"
is "$?" 0 "splitgpt --resume finishes them: exit 0"
is "$(($(mock_stats .requests) - before))" 5 "... sending only the 5 that failed or expired"
is "$(mock_stats '[.keys[] | select(.after_ok > 0)] | length')" 0 \
    "... no line answered twice"
is "$(summary "$T/out2" | awk '$2 != 200 || $3 != "-"' | wc -l)" 0 \
    "... and every record of the file is a success"
is "$(jq -r .custom_id "$T/out2" | tr '\n' ' ')" \
    "$(jq -r .custom_id "$T/in2" | tr '\n' ' ')" "... in input order"
check "... each the answer to its own line" sh -c "
	jq -r '.response.body.choices[0].message.content' '$T/out2' |
	    sed 's/^echo: //' >'$T/got'
	jq -r '.body.messages[0].content' '$T/in2' | cmp -s - '$T/got'"

# --- errors -------------------------------------------------------------------
env -u OPENAI_API_KEY "$SB" -i 0 "$T/in" >/dev/null 2>"$T/err"
is "$?" 2 "no key: exit 2"
check "... saying so" grep -q 'OPENAI_API_KEY is not set' "$T/err"
{ requests 2; requests 1 | sed 's,/v1/chat/completions,/v1/embeddings,; s/p-1/q-1/g'; } >"$T/mixed"
sb -i 0 "$T/mixed" >/dev/null 2>"$T/err"
is "$?" 2 "lines for two endpoints: exit 2"
check "... saying so" grep -q 'different urls' "$T/err"
{ requests 2; requests 1; } >"$T/dup"
sb -i 0 "$T/dup" >/dev/null 2>"$T/err"
is "$?" 2 "a custom_id twice: exit 2"
check "... naming it" grep -q '"p-1" is on more than one line' "$T/err"
printf '{"custom_id":"a","url":"/v1/completions"}\n\n{x\n[1]\n' >"$T/bad"
sb -i 0 "$T/bad" >/dev/null 2>"$T/err"
is "$?" 2 "a line that is no request: exit 2"
check "... naming the line (blank lines counted)" \
    grep -q "^splitgpt-batch.sh: $T/bad: line 3: not a Batch API request" "$T/err"
{ requests 2; requests 3 | sed -n '3s/"POST"/"GET"/p'; } >"$T/get"
sb -i 0 -o "$T/out" "$T/get" 2>"$T/err"
is "$?" 1 "a batch the server fails in validation: exit 1"
check "... showing the server's errors" \
    grep -q "failed: line 3: invalid_request: 'method' must be" "$T/err"
is "$(summary "$T/out" | tr '\n' ' ')" \
    "p-1 - not_answered p-2 - not_answered p-3 - not_answered " \
    "... and a not_answered record for every line, for --resume"

mock_stop
mock_start --require-key "$OPENAI_API_KEY" --batch-steps 1000000
sb -i 0 -w 0 "$T/in" >"$T/out" 2>"$T/err"
is "$?" 2 "a batch that does not finish within -w: exit 2"
check "... saying which batch, and how to collect it later" \
    grep -q 'batch_.* is still validating after .*--batch batch_' "$T/err"
check "... and nothing on standard output" test ! -s "$T/out"

mock_stop
mock_start --require-key "$OPENAI_API_KEY" --batch-steps 2
sb -i 0 -w 0 "$T/in" >/dev/null 2>"$T/err"
is "$?" 2 "(a batch still validating at -w)"
id=$(sed -n 's/.*--batch \(batch_[A-Za-z0-9]*\).*/\1/p' "$T/err" | head -n 1)
BASE=http://127.0.0.1:1/v1 sb -i 0 --batch "$id" --delete \
    --base-url "$MOCK_URL" -o "$T/out" "$T/in" 2>"$T/err"
is "$?" 0 "--batch ID collects it later (--base-url over OPENAI_BASE_URL)"
check "... every line, in order" in_order "$T/out" 50
is "$(curl -s --max-time 10 -H "Authorization: Bearer $OPENAI_API_KEY" \
    "$MOCK_URL/files" | jq '.data | length')" 0 "--delete: the files are gone from the server"

mock_stop
mock_start --require-key "$OPENAI_API_KEY" --max-body 1000
sb -i 0 "$T/in" >/dev/null 2>"$T/err"
is "$?" 2 "an upload the server refuses: exit 2"
check "... with the server's status and message" grep -q 'HTTP 413: File too large' "$T/err"
OPENAI_API_KEY=sk-wrong sb -i 0 "$T/in" >/dev/null 2>"$T/err"
is "$?" 2 "a wrong key: exit 2"
check "... with the server's message" grep -q 'HTTP 401: Incorrect API key' "$T/err"
check "the key is in no message" sh -c "! grep -rqF -- '$OPENAI_API_KEY' '$T/err' '$T/err2' '$T/out2'"

# --- the whole hand-off from prompts: emit, batch, resume -------------
mock_start --require-key "$OPENAI_API_KEY"
{ prompts 20 e; printf '{"prompt":"e-21 [[mock:batch-expire]]","id":"e-21"}\n'; } >"$T/prompts"
sg --emit-requests -m mock-model <"$T/prompts" >"$T/emitted" 2>/dev/null
is "$?" 0 "splitgpt --emit-requests writes the request file"
sb -i 0 "$T/emitted" >"$T/out5" 2>/dev/null
is "$?" 1 "the batch answers all but the expired line: exit 1"
sent=$(mock_stats .requests)
sg -m mock-model --resume -o "$T/out5" <"$T/prompts" 2>/dev/null
is "$?" 0 "splitgpt --resume on the prompts finishes the batch's output"
is "$(( $(mock_stats .requests) - sent ))" 1 "... sending only the expired line"
is "$(jq -r '.custom_id' "$T/out5" | tr '\n' ' ')" \
    "$(jq -r '.id' "$T/prompts" | tr '\n' ' ')" "... every line in input order"
is "$(jq -r '.response.status_code' "$T/out5" | sort -u)" 200 "... all answered"
done_testing
