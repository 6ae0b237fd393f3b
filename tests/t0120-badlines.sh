# Each bad line gives exactly one error record that names its line, and
# the run goes on.
. tests/lib.sh
mock_start

big=$(head -c 10485760 /dev/zero | tr '\0' 'x')
deep=$(awk 'BEGIN { for (i = 0; i < 100; i++) printf "["; for (i = 0; i < 100; i++) printf "]" }')
{
	echo '"ok-1"'
	echo '{"prompt": "unterminated'
	echo '[1,2,3]'
	echo '{"custom_id":"nb","method":"POST","url":"/v1/chat/completions","body":"not an object"}'
	printf '"%s"\n' "$big"
	printf '"nul\000byte"\n'
	printf '"bad \377 utf8"\n'
	echo "$deep"
	echo '{"prompt":"dup","id":"d1"}'
	echo '{"prompt":"dup again","id":"d1"}'
	echo "{'single':'quotes'}"
	echo '{"unrelated":true}'
	echo '"ok-2"'
} >"$T/in"
sg -P 3 <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 1 "exit 1 when some lines failed"
is "$(wc -l <"$T/out")" 13 "one record per line, bad ones included"
check "every record is valid JSON" sh -c "jq -e . '$T/out' >/dev/null"
is "$(jq -r '.error.code // "ok"' "$T/out" | tr '\n' ' ')" \
    "ok invalid_json invalid_request invalid_request line_too_long invalid_json invalid_json invalid_json ok duplicate_custom_id invalid_json invalid_request ok " \
    "each bad line has the right code"
is "$(jq -r '.error.line // 0' "$T/out" | tr '\n' ' ')" \
    "0 2 3 4 5 6 7 8 0 10 11 12 0 " "each error names its line number"
check "each message starts with its line" sh -c \
    "jq -r 'select(.error) | [.error.line, .error.message] | @tsv' '$T/out' |
     awk -F'\t' 'index(\$2, \"line \" \$1 \": \") != 1 { exit 1 }'"
is "$(jq -r 'select(.custom_id=="nb") | .error.message' "$T/out")" \
    "line 4: body is a string, not an object" "a body that is not an object, named"
is "$(sed -n 5p "$T/out" | jq -r .error.message)" \
    "line 5: the line is 10485762 bytes, longer than --max-line-length 4194304" \
    "a 10 MB line is refused by length"
check "nesting deeper than the limit is named" sh -c \
    "sed -n 8p '$T/out' | jq -r .error.message | grep -q 'nesting deeper than --max-depth 64'"
is "$(sed -n 10p "$T/out" | jq -r .error.message)" 'line 10: duplicate custom_id "d1"' \
    "a duplicate custom_id is an error for the later line"
is "$(sed -n 9p "$T/out" | jq -r .response.status_code)" 200 "the first d1 is answered"
is "$(jq -r 'select(.error) | .response' "$T/out" | sort -u)" null "error records have response null"
is "$(grep -c '^splitgpt: line [0-9]*: ' "$T/err")" 10 "each bad line is reported on stderr"
is "$(mock_stats .requests)" 3 "bad lines never reach the server"

# --allow-duplicate-ids: both lines named d1 are sent and answered, and so
# is a line whose id is the made-up one of a later line.
mock_reset
{
	echo '{"prompt":"first d1","id":"d1"}'
	echo '{"prompt":"takes line-3","id":"line-3"}'
	echo '"third"'
	echo '{"prompt":"second d1","id":"d1"}'
} >"$T/dup"
sg -P 2 --allow-duplicate-ids <"$T/dup" >"$T/dout" 2>"$T/derr"
is "$?" 0 "--allow-duplicate-ids: exit 0"
is "$(jq -r '[.custom_id, .response.status_code] | @tsv' "$T/dout" | tr '\t\n' ': ')" \
    "d1:200 line-3:200 line-3:200 d1:200 " \
    "--allow-duplicate-ids: every line sent, ids kept as given"
is "$(mock_stats .requests)" 4 "--allow-duplicate-ids: four requests"
sg -P 2 <"$T/dup" >"$T/dout2" 2>/dev/null
is "$(jq -r '.error.code // "ok"' "$T/dout2" | tr '\n' ' ')" \
    "ok ok duplicate_custom_id duplicate_custom_id " "without it, both later lines are refused"

sg -q <"$T/in" >/dev/null 2>"$T/qerr"
is "$(wc -c <"$T/qerr")" 0 "-q: nothing on stderr"

# Windows tools may start a file with a byte order mark.  A UTF-8 one is
# no part of the first line; UTF-16 input is named once, at the start.
printf '\357\273\277"bom"\r\n"two"\r\n' | sg --format content >"$T/bom" 2>"$T/bomerr"
is "$(tr '\n' ' ' <"$T/bom")" '"echo: bom" "echo: two" ' "a UTF-8 BOM before the first line is skipped"
is "$(grep -c -v '^splitgpt: [0-9.]* s, \|^splitgpt: tokens\|^splitgpt: 2 lines: 2 ok, 0 failed' "$T/bomerr")" 0 "... without a word"
printf '\377\376"\000x\000"\000\n\000' | sg --format content >"$T/u16" 2>"$T/u16err"
is "$(grep -c 'UTF-16.*iconv -f UTF-16 -t UTF-8' "$T/u16err")" 1 "UTF-16 input is named once, with the fix"
is "$(wc -l <"$T/u16")" 2 "... and each of its lines still gets its record"

# A file of nothing but bad lines.
printf 'x\ny\n' | sg --format content >"$T/c"
is "$(tr '\n' ' ' <"$T/c")" "null null " "--format content: null for bad lines"

# One JSON document instead of JSON Lines (an array, or pretty-printed) is
# refused before anything is sent, with the jq that fixes it.
mock_reset
printf '[\n {"prompt":"a"},\n {"prompt":"b"}\n]\n' | sg >"$T/doc" 2>"$T/docerr"
is "$?" 2 "a JSON array over several lines: a usage error"
check "... that says so, and how to make JSON Lines of it" \
    grep -q "line 1: the input is one JSON document (an array), not JSON Lines.*nothing was sent.*jq -c '.\[\]'" "$T/docerr"
printf '\n{\n  "prompt": "a"\n}\n' | sg >"$T/doc" 2>"$T/docerr"
is "$?" 2 "a pretty-printed object: a usage error"
check "... that names its line and jq -c ." \
    grep -q "line 2: the input is one JSON document (pretty-printed).*jq -c \. makes" "$T/docerr"
is "$(mock_stats .requests)" 0 "... and nothing was sent for either"

# Plain text without --text: after three lines, one hint; past 20 bad lines
# the rest are counted, not listed.
awk 'BEGIN { for (i = 1; i <= 30; i++) print "what is " i "?" }' | sg >/dev/null 2>"$T/txterr"
is "$(grep -c 'hint: the first 3 lines are not JSON: if each is a prompt as it stands, give --text' "$T/txterr")" 1 \
    "plain text lines: one hint to give --text"
is "$(grep -c 'invalid JSON at byte 1' "$T/txterr")" 20 "... 20 bad lines named"
check "... and the other 10 counted" grep -q 'and 10 more bad lines not shown' "$T/txterr"

done_testing
