# Output keeps input order when results come in pieces, when workers are
# let go or killed; a worker holds no file of the parent's.  Order under
# random latency at any -P, in-flight counts, 10,000 lines and a slow
# head line are the cases tests/data/07*.case.
. tests/lib.sh
mock_start --seed 3

# Results bigger than a pipe's buffer arrive in pieces, between the small
# results of other workers: each line's answer is whole and its own.
# 40 lines, every third with a 300 KB prompt of random letters, which
# deflate shrinks only to 3/4 (still more than 64 KB).
awk 'BEGIN { srand(11)
	a = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
	for (i = 1; i <= 40; i++) {
		printf "{\"prompt\":\"%d ", i
		for (k = 0; i % 3 == 0 && k < 300000; k++)
			printf "%s", substr(a, int(rand() * 64) + 1, 1)
		printf "\",\"id\":\"b%d\"}\n", i
	} }' >"$T/huge"
jq -r '"\(.id) echo: \(.prompt)"' "$T/huge" >"$T/hugewant"
sg -P 4 <"$T/huge" >"$T/hugeout"
is "$?" 0 "big results in pieces: exit 0"
jq -r '.custom_id + " " + .response.body.choices[0].message.content' \
    "$T/hugeout" >"$T/hugegot"
check "big results in pieces: every answer is its own prompt, in order" \
    cmp -s "$T/hugegot" "$T/hugewant"

# Once the input is done, idle workers are let go while the last requests
# are still out, and a crash then still gets its line answered: a slot
# that is needed again starts a worker again.
prompts 40 r >"$T/tail"
printf '{"prompt":"last [[mock:sleep=4000]]","id":"z"}\n' >>"$T/tail"
sg_bg "$T/tail" "$T/tailout" -P 8
parent=$SG_PID
# First the 40 quick answers (written: z, the last line, is still out),
# then the count: while the workers start it passes through 1 as well.
wait_for 200 0.02 '[ "$(wc -l <"$T/tailout")" -ge 40 ]'
wait_for 60 0.05 '[ "$(workers "$parent" | wc -l)" -eq 1 ]'
is "$(workers "$parent" | wc -l)" 1 \
    "input done, one request out: the idle workers are gone (7 of 8)"
kill -9 $(workers "$parent") 2>/dev/null
wait $SG_WAIT
is "$?" 0 "the last worker killed: its line is sent again, exit 0"
is "$(wc -l <"$T/tailout")" 41 "every line answered"
is "$(tail -1 "$T/tailout" | jq -r '.custom_id + " " + (.response.status_code|tostring)')" \
    "z 200" "... the last one too"

# A worker holds its own two pipes and none of the parent's files: not
# the output file, not the job log, not another worker's pipe.
# Two lines for two workers: both are busy, neither is let go.
printf '{"prompt":"f%d [[mock:sleep=1500]]","id":"f%d"}\n' 1 1 2 2 >"$T/fds"
sg_bg "$T/fds" /dev/null -P 2 -o "$T/fdsout" --joblog "$T/fdsjl"
parent=$SG_PID
wait_for 40 0.05 '[ -n "$(workers "$parent")" ]'
sleep 0.3
w=$(workers "$parent" | head -1)
if [ -n "$w" ] && [ -d "/proc/$w/fd" ]; then
	ls -l "/proc/$w/fd" >"$T/fdlist" 2>/dev/null
	check "a worker does not hold the output file or the job log" \
	    sh -c "! grep -q -e fdsout -e fdsjl '$T/fdlist'"
	is "$(grep -c 'pipe:' "$T/fdlist")" 2 "a worker holds two pipes, its own"
else
	diag "no /proc/PID/fd here: the worker's files are not checked"
fi
wait $SG_WAIT

done_testing
