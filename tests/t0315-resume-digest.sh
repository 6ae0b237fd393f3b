# --resume keeps a record only for the request its line makes now: the
# digest in the record's id (batch_req_<32 hex>) must be the line's.  A
# changed line is sent again, another input (or other options) is refused
# before anything is sent, and records an older splitgpt made (24 hex
# digits, no digest) are still resumed by custom_id alone.
. tests/lib.sh
mock_start --seed 5

# batch_line ID PROMPT MODEL: the Batch form of a prompt, with a model.
batch_line() {
	printf '{"custom_id":"%s","method":"POST","url":"/v1/chat/completions","body":{"model":"%s","messages":[{"role":"user","content":"%s"}]}}\n' \
	    "$1" "$3" "$2"
}

# 1. A model changed in 3 of 200 lines: exactly those 3 are sent again.
prompts 200 q >"$T/in"
OUT=$T/q.jsonl
sg -P 4 -o "$OUT" <"$T/in" 2>/dev/null
is "$?" 0 "a first run of 200 lines"
awk -F'\t' 'NR == FNR { b[$1] = $2; next }
	FNR in b { print b[FNR]; next } { print }' - "$T/in" >"$T/changed" <<EOF
2	$(batch_line q-2 q-2 other-model)
100	$(batch_line q-100 q-100 other-model)
180	$(batch_line q-180 q-180 other-model)
EOF
is "$(diff "$T/in" "$T/changed" | grep -c '^>')" 3 \
    "... the input changed in 3 lines (2, 100, 180)"
old_ids=$(jq -r .id "$OUT" | sed -n '2p;100p;180p' | tr '\n' ' ')
mock_reset
sg -P 4 -o "$OUT" --resume <"$T/changed" >/dev/null 2>"$T/err"
is "$?" 0 "resumed with the 3 lines changed: exit 0"
is "$(mock_stats .requests)" 3 "... exactly 3 requests were sent"
is "$(mock_stats '[.keys | to_entries[] | select(.value.sent > 0) | .key] | sort | join(" ")')" \
    "q-100 q-180 q-2" "... for the changed lines"
is "$(jq -r .response.body.model "$OUT" | sed -n '2p;100p;180p' | tr '\n' ' ')" \
    "other-model other-model other-model " "... whose records answer the new requests"
is "$(jq -r 'select(.response.body.model == "other-model") | .custom_id' "$OUT" | wc -l)" 3 \
    "... and only they: the others kept their old answers"
check "... the file has 200 records, each its own line's" \
    sh -c "jq -r .custom_id '$OUT' | awk '\$0 != \"q-\" NR { exit 1 } END { exit NR != 200 }'"
new_ids=$(jq -r .id "$OUT" | sed -n '2p;100p;180p' | tr '\n' ' ')
sed -n '2p;100p;180p' "$T/changed" >"$T/three"
sg -o "$T/three.out" <"$T/three" 2>/dev/null
is "$new_ids" "$(jq -r .id "$T/three.out" | tr '\n' ' ')" \
    "the changed lines' records have their new request's id"
check "... which is not the old one" test "$new_ids" != "$old_ids"
check "stderr says 3 lines asked for another request" \
    grep -q '3 lines asked for another request' "$T/err"
check "the summary counts 197 reused" grep -q '197 reused from the output file' "$T/err"
mock_reset
sg -P 4 -o "$OUT" --resume <"$T/changed" >/dev/null 2>&1
is "$(mock_stats .requests)" 0 "resumed again: nothing is sent"

# 2. Another input of the same length, with automatic ids (line-N): the
# ids match, the requests do not.  Refused, nothing sent, FILE unchanged.
awk 'BEGIN { for (i = 1; i <= 40; i++) printf "\"a-%d\"\n", i }' >"$T/a"
awk 'BEGIN { for (i = 1; i <= 40; i++) printf "\"b-%d\"\n", i }' >"$T/b"
OUT=$T/a.jsonl
sg -o "$OUT" <"$T/a" 2>/dev/null
sum=$(md5sum <"$OUT")
mock_reset
sg -P 4 -o "$OUT" --resume <"$T/b" >/dev/null 2>"$T/err"
is "$?" 2 "--resume with another input under line-N ids: exit 2"
check "... saying why" grep -q 'ask for other requests than' "$T/err"
check "... and that nothing was sent" grep -q 'nothing was sent' "$T/err"
is "$(mock_stats .requests)" 0 "... and nothing was"
is "$(md5sum <"$OUT")" "$sum" "... FILE is unchanged"

# 3. The same input with another -m for every line: refused the same way.
mock_reset
sg -P 4 -m another-model -o "$OUT" --resume <"$T/a" >/dev/null 2>"$T/err"
is "$?" 2 "--resume with another -m: exit 2"
check "... saying why" grep -q 'other options such as -m' "$T/err"
is "$(mock_stats .requests)" 0 "... nothing sent"
is "$(md5sum <"$OUT")" "$sum" "... FILE is unchanged"
sg -P 4 -o "$OUT" --resume <"$T/a" >/dev/null 2>&1
is "$?" 0 "with the same input and options it resumes"
is "$(mock_stats .requests)" 0 "... sending nothing"

# 4. Records an older splitgpt made: ids of 24 hex digits, no digest.
# Matched by custom_id alone, as before, and stderr says so.
OUT=$T/old.jsonl
jq -c '.id = "batch_req_00c0ffee0000000000000001"' "$T/q.jsonl" | head -150 >"$OUT"
mock_reset
sg -P 4 -o "$OUT" --resume <"$T/changed" >/dev/null 2>"$T/err"
is "$?" 0 "a file with old-style ids resumes: exit 0"
is "$(mock_stats .requests)" 50 "... sending only the 50 lines beyond it"
check "... saying its records were kept by custom_id alone" \
    grep -q '150 of .* successes were kept by custom_id alone' "$T/err"
check "... the file has 200 records, each its own line's" \
    sh -c "jq -r .custom_id '$OUT' | awk '\$0 != \"q-\" NR { exit 1 } END { exit NR != 200 }'"
is "$(jq -r .response.body.model "$OUT" | sed -n 180p)" other-model \
    "... line 180, beyond the old records, answers its new request"

# 5. The journal: the answers a SIGKILLed run left there are reused only
# for their own request.
OUT=$T/j.jsonl
killed_behind_slow_head "$OUT"
sleep 1.5	# the orphaned worker finishes the slow line and exits
cut -f2- "$OUT.journal" | jq -r .custom_id | sort -t- -k2n >"$T/journaled"
check "a SIGKILLed run left answers in the journal" \
    test "$(wc -l <"$T/journaled")" -gt 50
# Change three journaled lines, past the first few.
sed -n '20p;30p;40p' "$T/journaled" >"$T/jchanged"
: >"$T/jin2"
while IFS= read -r l; do
	id=$(printf '%s\n' "$l" | jq -r .id)
	if grep -qx "$id" "$T/jchanged"; then
		batch_line "$id" "$id" other-model >>"$T/jin2"
	else
		printf '%s\n' "$l" >>"$T/jin2"
	fi
done <"$T/jin"
mock_reset
sg -P 4 -o "$OUT" --resume <"$T/jin2" >/dev/null 2>"$T/err"
is "$?" 0 "the resume completes"
is "$(jq -r 'select(.response.body.model == "other-model") | .custom_id' "$OUT" | tr '\n' ' ')" \
    "$(tr '\n' ' ' <"$T/jchanged")" "... the changed lines answer their new requests"
is "$(mock_stats "[.keys | to_entries[] | select(.value.sent > 0) | .key] | map(select(IN($(sed 's/.*/"&"/' "$T/jchanged" | paste -sd,)))) | length")" 3 \
    "... they were sent again"
is "$(mock_stats "[.keys | to_entries[] | select(.value.sent > 0) | .key] | map(select(IN($(grep -vxF -f "$T/jchanged" "$T/journaled" | sed 's/.*/"&"/' | paste -sd,)))) | length")" 0 \
    "... no other journaled line was"
check "... every line in order" \
    sh -c "jq -r .custom_id '$OUT' | awk '\$0 != \"j-\" NR { exit 1 } END { exit NR != 120 }'"

done_testing
