# Interrupt, resume, repeat: the file ends with one record per line, in
# order, and no request was answered successfully twice.
. tests/lib.sh
# (120 ms: each of the interrupted runs below must still be at work when
# it is stopped, on a loaded machine too)
mock_start --latency 120 --seed 21 --fault 500:0.1

prompts 300 r >"$T/in"
OUT=$T/out.jsonl

# A first run with no retries, so some records fail; interrupted.
sg_bg "$T/in" "$OUT" -P 4 --retries 0 -o "$OUT"
sleep 1
kill -INT "$SG_PID"
wait "$SG_WAIT"
is "$?" 130 "SIGINT: exit 130"
n1=$(wc -l <"$OUT")
check "SIGINT: the file holds a whole prefix ($n1 records)" \
    sh -c "[ $n1 -gt 0 ] && [ $n1 -lt 300 ] && jq -e . '$OUT' >/dev/null"
check "SIGINT: no partial file is left" test ! -e "$OUT.partial"
check "SIGINT: the records are lines 1..$n1 in order" \
    sh -c "jq -r .custom_id '$OUT' | awk '\$0 != \"r-\" NR { exit 1 }'"
check "SIGINT: some of them failed (to be retried)" \
    sh -c "jq -r .response.status_code '$OUT' | grep -q 500"

# Resume and interrupt again, three times, then SIGKILL the parent once.
for i in 1 2 3; do
	sg_bg "$T/in" /dev/null -P 4 -o "$OUT" --resume --retries 0
	sleep 0.8
	kill -INT "$SG_PID"
	wait "$SG_WAIT"
done
check "after three interrupted resumes the file is still a valid prefix" \
    sh -c "jq -r .custom_id '$OUT' | awk '\$0 != \"r-\" NR { exit 1 }'"
is "$(mock_stats '[.keys[] | select(.ok > 1)] | length')" 0 \
    "through the SIGINTs no prompt was answered successfully twice"
sg_bg "$T/in" /dev/null -P 4 -o "$OUT" --resume --retries 0
sleep 1
kill -KILL "$SG_PID"
wait "$SG_WAIT"
sleep 0.3	# orphaned workers finish their request and exit
check "SIGKILL of the parent: FILE is never cut mid-line" \
    sh -c "jq -e . '$OUT' >/dev/null"
check "SIGKILL: the partial file is left for the next resume" test -e "$OUT.partial"

sg -P 4 -o "$OUT" --resume --retries 3 <"$T/in" >"$T/stdout" 2>"$T/err"
is "$?" 0 "the last resume completes: exit 0"
is "$(wc -c <"$T/stdout")" 0 "with -o nothing goes to stdout"
check "the final file: 300 records, each its own line's answer, in order" \
    in_order "$OUT" 300 r
check "the partial file is merged and gone" test ! -e "$OUT.partial"
check "the summary counts what was reused" grep -q 'reused from the output file' "$T/err"
twice=$(mock_stats "[.keys | to_entries[] | select(.value.ok > 1) | .key] | join(\" \")")
diag "answered twice: $twice"
check "across all runs only the requests in flight at the SIGKILL (at most -P 4) were answered twice" \
    test "$(mock_stats '[.keys[] | select(.ok > 1)] | length')" -le 4
is "$(mock_stats '[.keys[] | select(.ok > 2)] | length')" 0 "none three times"

# A resume against another input is refused and changes nothing.
sum=$(md5sum <"$OUT")
prompts 300 other >"$T/other"
sg -o "$OUT" --resume <"$T/other" >/dev/null 2>"$T/err"
is "$?" 2 "--resume with a different input: exit 2"
check "... saying why" grep -q 'is it the same input' "$T/err"
is "$(md5sum <"$OUT")" "$sum" "... and the file is unchanged"
head -100 "$T/in" >"$T/short"
sg -o "$OUT" --resume <"$T/short" >/dev/null 2>"$T/err"
is "$?" 2 "--resume with a shorter input: exit 2"
is "$(wc -l <"$OUT")" 300 "... the file keeps all its records"

sg --resume <"$T/in" >/dev/null 2>&1
is "$?" 2 "--resume without -o is a usage error"

# A slow first line holds the head while the others finish: their answers
# wait in the ring.  A SIGKILL then must not cost them: the journal keeps
# them, and the resume reuses them.
OUT=$T/j.jsonl
killed_behind_slow_head "$OUT"
check "SIGKILL with a slow head: nothing reached FILE in order" test ! -s "$OUT"
check "... but the finished answers are in the journal" \
    test "$(wc -l <"$OUT.journal" 2>/dev/null || echo 0)" -gt 50
sleep 1.5	# the orphaned worker finishes the slow line and exits
sg -P 4 -o "$OUT" --resume <"$T/jin" >/dev/null 2>"$T/err"
is "$?" 0 "the resume completes"
is "$(jq -r .custom_id "$OUT" | tr '\n' ' ' | md5sum)" \
    "$(seq 1 120 | sed 's/^/j-/' | tr '\n' ' ' | md5sum)" "... every line, in order"
is "$(mock_stats '[.keys[] | select(.ok > 1)] | length')" 1 \
    "only the one request in flight at the SIGKILL (the slow line) was answered twice"
check "the journal is gone after a complete run" test ! -e "$OUT.journal"

# --keep-blank: blank lines' records keep the file in step with the input
# on --resume; they are made again, nothing is sent for them.
mock_reset
OUT=$T/kb.out
printf 'a 1\n\nb 2 [[mock:500]]\n\t\nc 3\n' >"$T/kb.in"
sg --text --keep-blank --retries 0 -o "$OUT" <"$T/kb.in" 2>/dev/null
is "$?" 1 "--keep-blank with a failing line: exit 1"
printf 'a 1\n\nb 2\n\t\nc 3\n' >"$T/kb.in"
mock_reset
sg --text --keep-blank -o "$OUT" --resume <"$T/kb.in" 2>/dev/null
is "$?" 0 "... resumed with the line fixed: exit 0"
is "$(jq -r '.error.code // .response.status_code' "$OUT" | tr '\n' ' ')" \
    "200 blank_line 200 blank_line 200 " "... every line in its place, the blank ones blank_line"
is "$(mock_stats .requests)" 1 "... and only the failed line was sent again"

done_testing
