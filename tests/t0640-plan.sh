# Runs that send nothing: --dry-run checks every line as a real run would
# and reports requests, models, tokens and cost; --emit-requests writes
# the Batch API request lines a real run would send.
. tests/lib.sh
mock_start

# Every input form, a second endpoint, an invalid line and a blank one.
cat >"$T/in" <<'IN'
"a bare string prompt"
{"prompt":"a prompt object","id":"p2","max_tokens":30}
{"custom_id":"b3","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-x","messages":[{"role":"user","content":"batch chat"}],"max_tokens":20,"n":2}}
{"custom_id":"b4","method":"POST","url":"/v1/embeddings","body":{"model":"emb","input":"embed me"}}
{"messages":[{"role":"user","content":"a bare body"}],"max_tokens":10}
not JSON at all

{"prompt":"last","id":"p8","max_tokens":5}
IN

sg --dry-run -m mm --stats "$T/dry.stats" --price-in 1 --price-out 2 \
    <"$T/in" >"$T/dry.out" 2>"$T/dry.err"
is "$?" 1 "dry run with an invalid line: exit 1"
is "$(mock_stats .requests)" 0 "dry run: nothing was sent"
is "$(wc -l <"$T/dry.out")" 1 "dry run: one record, the invalid line's"
is "$(jq -c '[.custom_id, .error.code, .error.line]' "$T/dry.out")" \
    '["line-6","invalid_json",6]' "... its error record, as a real run writes it"
is "$(jq -c '[.lines, .requests, .invalid, .endpoints, .models]' "$T/dry.stats")" \
    '[7,6,1,{"/v1/chat/completions":5,"/v1/embeddings":1},{"mm":4,"gpt-x":1,"emb":1}]' \
    "dry run --stats: lines, requests, invalid, by endpoint, by model"
is "$(jq -c '[.completion_tokens_max, .unbounded_requests, .cost_max]' "$T/dry.stats")" \
    '[85,1,null]' "dry run: completion tokens at most (max_tokens x n), one unbounded, so no cost bound"
check "dry run: the report says so on stderr" \
    grep -q 'dry run, nothing sent: 7 lines: 6 requests, 1 invalid' "$T/dry.err"
check "dry run: ... and names the invalid line" grep -q '^splitgpt: line 6: ' "$T/dry.err"

# The same input for real: the same error record, and the prompt tokens
# it estimated for the pacer are the dry run's.
sg -m mm --stats "$T/real.stats" <"$T/in" >"$T/real.out" 2>/dev/null
is "$?" 1 "the real run: exit 1 (the invalid line)"
is "$(jq -c 'select(.error.code == "invalid_json") | [.custom_id, .error.code, .error.line]' "$T/real.out")" \
    '["line-6","invalid_json",6]' "the real run writes the same error record"
is "$(jq .prompt_tokens_estimated "$T/real.stats")" \
    "$(jq .prompt_tokens_estimated "$T/dry.stats")" \
    "the dry run's prompt tokens are the --tpm estimate of the real run's requests"
mock_reset

# All bounded: a cost range.
grep -v 'bare string\|bare body\|not JSON' "$T/in" >"$T/bounded"
sg --dry-run -q --stats "$T/b.stats" --price-in 1 --price-out 2 \
    <"$T/bounded" >"$T/b.out" 2>"$T/b.err"
is "$?" 0 "dry run, every line valid: exit 0"
is "$(wc -c <"$T/b.out") $(wc -c <"$T/b.err")" "0 0" "dry run -q: no output, no report"
is "$(jq -c '[.completion_tokens_max, .unbounded_requests, (.cost_max > .cost_min)]' "$T/b.stats")" \
    '[75,0,true]' "dry run: bounded completions give a cost range"

# --text: each line a prompt.
printf 'one\ntwo\n\nthree\n' >"$T/txt"
sg --dry-run --text --stats "$T/t.stats" <"$T/txt" >/dev/null 2>&1
is "$?" 0 "dry run --text: exit 0"
is "$(jq -c '[.lines, .requests]' "$T/t.stats")" '[3,3]' "dry run --text: three requests"
is "$(mock_stats .requests)" 0 "dry runs send nothing, whatever the form"

# --emit-requests: the request lines, which splitgpt (like the Batch API)
# takes back as they are and sends as the same requests.
sg --emit-requests -m mm --max-tokens 40 <"$T/in" >"$T/req" 2>"$T/req.err"
is "$?" 1 "emit with an invalid line: exit 1"
is "$(wc -l <"$T/req")" 6 "emit: a request line for each valid line, the invalid one left out"
check "emit: the invalid line is named on stderr" grep -q '^splitgpt: line 6: ' "$T/req.err"
is "$(jq -c 'keys' "$T/req" | sort -u)" '["body","custom_id","method","url"]' \
    "emit: Batch API request lines, nothing else"
is "$(jq -r .custom_id "$T/req" | tr '\n' ' ')" "line-1 p2 b3 b4 line-5 p8 " \
    "emit: ids assigned as a real run assigns them, in input order"
is "$(jq -c 'select(.custom_id == "line-1") | .body' "$T/req")" \
    '{"messages":[{"role":"user","content":"a bare string prompt"}],"model":"mm","max_tokens":40}' \
    "emit: the body with the defaults applied"
is "$(mock_stats .requests)" 0 "emit: nothing was sent"
sg -m mm --max-tokens 40 <"$T/in" >"$T/a.out" 2>/dev/null
sg <"$T/req" >"$T/b.out" 2>/dev/null
is "$?" 0 "the emitted file runs as it is"
is "$(jq -r 'select(.response) | .id' "$T/b.out" | tr '\n' ' ')" \
    "$(jq -r 'select(.response) | .id' "$T/a.out" | tr '\n' ' ')" \
    "... as the very requests of the original (the same request digests in the ids)"

# Refused combinations.
sg --emit-requests --stream <"$T/in" >/dev/null 2>&1
is "$?" 2 "--emit-requests --stream: a usage error (the Batch API does not stream)"
sg --dry-run --resume -o "$T/x" <"$T/in" >/dev/null 2>&1
is "$?" 2 "--dry-run --resume: a usage error"
sg --dry-run --emit-requests <"$T/in" >/dev/null 2>&1
is "$?" 2 "--dry-run --emit-requests: a usage error"
done_testing
