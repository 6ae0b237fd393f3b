# Secrets: the key comes from the environment or --api-key-file, never
# argv; it appears in no output, error record, job log or message.
. tests/lib.sh
KEY=$OPENAI_API_KEY
mock_start --require-key "$KEY" --fault 500:0.3 --seed 4

printf '  %s  \n' "$KEY" >"$T/keyfile"
prompts 40 s >"$T/in"
OPENAI_API_KEY= sg -P 4 --api-key-file "$T/keyfile" --retries 0 --joblog "$T/jl" \
    --stats "$T/st" -o "$T/out" <"$T/in" >"$T/stdout" 2>"$T/err"
is "$?" 1 "--api-key-file: the key reaches the server (some 500s by design: exit 1)"
n200=$(jq -r 'select(.response.status_code == 200) | .custom_id' "$T/out" | wc -l)
n500=$(jq -r 'select(.response.status_code == 500) | .custom_id' "$T/out" | wc -l)
is "$((n200 + n500))" 40 "... every line got its 200 or its 500 ($n200 + $n500)"
is "$n200" "$(mock_stats '.by_status["200"]')" "... the rest answered: a 200 record for each 200 the server sent"
check "... some of them ($n200)" test "$n200" -gt 0
check "... no 401 among them" sh -c "! jq -r .response.status_code '$T/out' | grep -q 401"
OPENAI_API_KEY=wrong sg --api-key-file "$T/keyfile" <"$T/in" >/dev/null 2>&1
check "--api-key-file wins over OPENAI_API_KEY" test $? -ne 3
: >"$T/empty"
sg --api-key-file "$T/empty" </dev/null >/dev/null 2>"$T/e"
is "$?" 2 "an empty key file is a usage error"
sg --api-key-file "$T/nonexistent" </dev/null >/dev/null 2>"$T/e"
is "$?" 2 "a missing key file is a usage error"

# A key copied with its line end, or from a file saved on Windows, works;
# one with a line break inside would add a header of its own: refused,
# without showing the key.
crlfkey=$(printf ' %s\r\n_' "$KEY")
crlfkey=${crlfkey%_}	# $(...) would drop the line end
printf '"crlf"\n' | OPENAI_API_KEY=$crlfkey sg --format content >"$T/crlf" 2>/dev/null
is "$(cat "$T/crlf")" '"echo: crlf"' "OPENAI_API_KEY with blanks and CR LF around it: the key is trimmed"
# (OPENAI_API_KEY with a line break: tests/data/0900-key-line-break.case)
printf '%s\tx\r\n' "$KEY" >"$T/tabkey"
sg --api-key-file "$T/tabkey" </dev/null >/dev/null 2>"$T/e"
is "$?" 2 "a key file whose key has a control character inside: a usage error"
check "... named" grep -q "^splitgpt: --api-key-file $T/tabkey: the key has a control character at byte" "$T/e"

# Failures of every kind, to fill error records and messages.
mock_stop
mock_start --require-key "$KEY" --fault 401:0.2 --fault reset:0.2 --fault nonjson:0.2 --seed 5
sg -P 4 --retries 0 --joblog "$T/jl2" <"$T/in" >"$T/out2" 2>"$T/err2"
printf '"bad\n' | sg >"$T/out3" 2>"$T/err3"
check "the key is in no output, record, job log, stats or message" \
    sh -c "! grep -rqF -- '$KEY' '$T/out' '$T/stdout' '$T/err' '$T/jl' '$T/st' '$T/out2' '$T/err2' '$T/jl2' '$T/out3' '$T/err3'"
printf '%s\n' "$KEY" >"$T/pattern"	# not on a command line of ours
mock_stop
mock_start --latency 300
"$SPLITGPT" --base-url "$MOCK_URL" -P 2 <"$T/in" >/dev/null 2>&1 &
bg=$!
sleep 0.3
procs="$bg $(pgrep -P $bg | tr '\n' ' ')"
is "$(echo $procs | wc -w)" 3 "(splitgpt and its two workers are running)"
check "the key is in no argv of splitgpt or its workers" sh -c "
	for p in $procs; do cat /proc/\$p/cmdline; done 2>/dev/null |
	    tr '\\0' ' ' | grep -qF -f '$T/pattern' && exit 1; exit 0"
wait $bg

# The warnings (plain http, no key), -v's redactions, --insecure and a
# missing --cacert are the cases tests/data/09*.case.

# No core file can carry the key off.
"$SPLITGPT" --base-url "$MOCK_URL" -P 1 <"$T/in" >/dev/null 2>&1 &
bg=$!
sleep 0.3
w=$(pgrep -P $bg | head -1)
is "$(awk '/Max core file size/ { print $5 }' /proc/$bg/limits)" 0 "with a key, the parent dumps no core"
is "$(awk '/Max core file size/ { print $5 }' /proc/${w:-$bg}/limits)" 0 "... nor do its workers"
wait $bg

done_testing
