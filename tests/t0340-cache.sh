# --cache PATH: answers kept by request digest.  A rerun sends nothing and
# writes the same bytes; identical requests in a run are sent once; a kill
# loses nothing and pays nothing twice; processes share one cache.
. tests/lib.sh
command -v sqlite3 >/dev/null || skip_all "the sqlite3 command is not installed"
mock_start --seed 5
C=$T/cache.db

# A rerun with the same cache: nothing sent, the same bytes.
prompts 60 a >"$T/in"
sg -P 4 --cache "$C" <"$T/in" >"$T/out1" 2>"$T/err1"
is "$?" 0 "a first run with --cache: exit 0"
check "its records are right" in_order "$T/out1" 60 a
is "$(mock_stats .requests)" 60 "the first run sent 60 requests"
mock_reset
sg -P 4 --cache "$C" --stats "$T/stats" --joblog "$T/jl" <"$T/in" \
    >"$T/out2" 2>"$T/err2"
is "$?" 0 "the rerun: exit 0"
is "$(mock_stats .requests)" 0 "the rerun sent no request"
check "the rerun's output is the first's, byte for byte" cmp "$T/out1" "$T/out2"
check "the summary says 60 answered from the cache" \
    grep -q '60 answered from the cache' "$T/err2"
is "$(jq .cache_hits "$T/stats")" 60 "--stats: cache_hits 60"
is "$(grep -c '	a-' "$T/jl")" 60 "the job log has a line for each hit"
is "$(sqlite3 "$C" 'PRAGMA journal_mode')" wal "the cache is in WAL mode"

# --resume with --cache: lines whose records in FILE failed, held while
# --resume compares its first lines, are answered from the cache too.
timeout 60 "$SPLITGPT" --base-url "http://127.0.0.1:1/v1" -q --retries 0 \
    -o "$T/res" <"$T/in" 2>/dev/null
mock_reset
sg -P 4 --cache "$C" -o "$T/res" --resume <"$T/in" 2>/dev/null
is "$?" 0 "--resume --cache over failed records: exit 0"
is "$(mock_stats .requests)" 0 "... every line answered from the cache, none sent"
check "... and FILE is the first run's output" cmp "$T/out1" "$T/res"

# 100 lines, 10 distinct requests: 10 sent, each line its own record.
mock_reset
awk 'BEGIN { for (i = 1; i <= 100; i++)
	printf "{\"prompt\":\"d-%d\",\"id\":\"line-%d\",\"metadata\":{\"n\":%d}}\n",
	    i % 10, i, i }' >"$T/dup"
sg -P 8 --cache "$T/dup.db" <"$T/dup" >"$T/dupout" 2>"$T/duperr"
is "$?" 0 "100 lines of 10 requests: exit 0"
is "$(mock_stats .requests)" 10 "only the 10 distinct requests were sent"
bad=$(jq -r '[.custom_id, .response.status_code,
    .response.body.choices[0].message.content, .metadata.n] | @tsv' \
    "$T/dupout" | awk -F'\t' '$1 != "line-" NR || $2 != 200 ||
    $3 != "echo: d-" NR % 10 || $4 != NR' | wc -l)
is "$bad" 0 "each of the 100 records has its own custom_id and metadata, and the shared answer"
is "$(jq -r .id "$T/dupout" | sort -u | wc -l)" 10 "ten record ids: one per request"

# Answers that are not 2xx are never cached; the next run sends them again.
mock_reset
printf '%s\n' '{"prompt":"[[mock:500]] bad","id":"b1"}' \
    '{"prompt":"[[mock:500]] bad","id":"b2"}' '{"prompt":"fine","id":"f"}' \
    >"$T/fail"
sg -P 2 --retries 0 --cache "$T/fail.db" <"$T/fail" >"$T/failout" 2>/dev/null
is "$?" 1 "a run with HTTP 500 answers: exit 1"
is "$(sqlite3 "$T/fail.db" 'SELECT count(*) FROM answers')" 1 \
    "only the success is in the cache"
is "$(jq -r .response.status_code "$T/failout" | tr '\n' ' ')" "500 500 200 " \
    "the two failed lines have their own 500 records"
is "$(mock_stats .requests)" 3 "the second 500 line was sent for real once its leader failed"
mock_reset
sg -P 2 --retries 0 --cache "$T/fail.db" <"$T/fail" >/dev/null 2>&1
is "$(mock_stats .requests)" 2 "a rerun sends the 500s again, not the success"

# --no-cache-write: read-only; nothing stored, and no dedupe.
n0=$(sqlite3 "$C" 'SELECT count(*) FROM answers')
awk 'BEGIN { for (i = 1; i <= 20; i++) printf "{\"prompt\":\"ro-%d\"}\n", i % 10 }' >"$T/ro2"
mock_reset
sg -P 4 --cache "$C" --no-cache-write <"$T/ro2" >"$T/roout" 2>/dev/null
is "$?" 0 "--no-cache-write: exit 0"
is "$(sqlite3 "$C" 'SELECT count(*) FROM answers')" "$n0" "--no-cache-write stored nothing"
is "$(mock_stats .requests)" 20 "--no-cache-write: no dedupe, every line sent"
mock_reset
sg --cache "$C" --no-cache-write <"$T/in" >"$T/roout" 2>/dev/null
is "$(mock_stats .requests)" 0 "--no-cache-write still answers from the cache"
sg --cache "$T/none.db" --no-cache-write <"$T/in" >/dev/null 2>"$T/err"
is "$?" 2 "--no-cache-write with a missing file: exit 2"
check "... saying it could not open it" grep -q 'opening it read-only' "$T/err"

# A file that is no cache of ours is refused before anything is sent.
mock_reset
echo 'not a database' >"$T/bad.db"
echo 'the last run' >"$T/keep.jsonl"
sg --cache "$T/bad.db" -o "$T/keep.jsonl" <"$T/in" 2>"$T/err"
is "$?" 2 "a --cache that is not SQLite: exit 2"
check "... with a clear message" grep -q 'not a database' "$T/err"
check "... before -o FILE is touched: no FILE.partial left behind" \
    test ! -e "$T/keep.jsonl.partial"
is "$(cat "$T/keep.jsonl")" "the last run" "... and FILE as it was"
sqlite3 "$T/other.db" 'CREATE TABLE t (x)'
sg --cache "$T/other.db" <"$T/in" >/dev/null 2>"$T/err"
is "$?" 2 "an SQLite database of another kind: exit 2"
check "... not a splitgpt cache" grep -q 'not a splitgpt cache' "$T/err"
cp "$C" "$T/v9.db"
sqlite3 "$T/v9.db" 'UPDATE splitgpt_cache SET version = 9'
sg --cache "$T/v9.db" <"$T/in" >/dev/null 2>"$T/err"
is "$?" 2 "a cache of another schema version: exit 2"
is "$(mock_stats .requests)" 0 "none of them sent anything"

# --format content: the same from the cache as from the server.
mock_reset
sg -P 3 --format content <"$T/in" >"$T/c0" 2>/dev/null
sg -P 3 --format content --cache "$T/content.db" <"$T/in" >"$T/c1" 2>/dev/null
sg -P 3 --format content --cache "$T/content.db" <"$T/in" >"$T/c2" 2>/dev/null
check "--format content: the server's and the cache's lines are the same" \
    sh -c "cmp '$T/c0' '$T/c1' && cmp '$T/c1' '$T/c2'"
is "$(mock_stats .requests)" 120 "... and the third run sent nothing"

# SIGKILL of the parent in a cached run, then a rerun: every line ok, in
# order, and no prompt answered twice: the workers of the killed parent
# store the answer they hold before they exit.
mock_start --latency 300 --seed 6
prompts 80 k >"$T/kin"
sg_bg "$T/kin" /dev/null -P 8 --cache "$T/kill.db"
sleep 1
kill -KILL "$SG_PID"
wait "$SG_WAIT"
wait_for 50 0.1 '[ -z "$(left_behind)" ]'
check "the cache is whole after the kill" \
    test "$(sqlite3 "$T/kill.db" 'PRAGMA integrity_check')" = ok
sg -P 8 --cache "$T/kill.db" <"$T/kin" >"$T/kout" 2>/dev/null
is "$?" 0 "the rerun after the kill: exit 0"
check "every line is answered, in order" in_order "$T/kout" 80 k
is "$(mock_stats '[.keys[] | select(.ok > 1)] | length')" 0 \
    "across both runs no prompt was answered twice (those in flight at the kill were stored)"

# Two processes sharing one cache at once, their inputs overlapping.
mock_reset
awk 'BEGIN { for (i = 1; i <= 60; i++) printf "{\"prompt\":\"s-%d\",\"id\":\"s-%d\"}\n", i, i }' >"$T/s1"
awk 'BEGIN { for (i = 31; i <= 90; i++) printf "{\"prompt\":\"s-%d\",\"id\":\"s-%d\"}\n", i, i }' >"$T/s2"
sg_bg "$T/s1" "$T/so1" -P 6 --cache "$T/shared.db"
w1=$SG_WAIT
sg_bg "$T/s2" "$T/so2" -P 6 --cache "$T/shared.db"
w2=$SG_WAIT
wait "$w1"
st1=$?
wait "$w2"
st2=$?
is "$st1 $st2" "0 0" "two processes on one cache: both exit 0"
right() {
	jq -r '[.custom_id, .response.status_code,
	    .response.body.choices[0].message.content] | @tsv' "$1" |
	awk -F'\t' -v first="$2" -v n="$3" '$1 != "s-" (NR + first - 1) ||
	    $2 != 200 || $3 != "echo: " $1 { bad++ }
	    END { exit bad > 0 || NR != n }'
}
check "the first's output is complete and right" right "$T/so1" 1 60
check "the second's output is complete and right" right "$T/so2" 31 60
is "$(sqlite3 "$T/shared.db" 'PRAGMA integrity_check')" ok "the shared cache is whole"
cat "$T/s1" "$T/s2" >"$T/union"
mock_reset
sg -P 4 --cache "$T/shared.db" <"$T/union" >/dev/null 2>&1
is "$(mock_stats .requests)" 0 "a third run over the union sends nothing"

done_testing
