# Integrity under hostile use: never an answer under another line's
# custom_id, never a request paid twice that could have been kept.
. tests/lib.sh
mock_start --latency 10

# A line held by the pacer while a worker dies on its last attempt: the
# dead line's record and the held line's answer each keep their own id.
printf '%s\n' '{"prompt":"s [[mock:sleep=5000]]","id":"s"}' \
    '{"prompt":"x","id":"x"}' '{"prompt":"y","id":"y"}' >"$T/held.in"
sg_bg "$T/held.in" "$T/held.out" -P 2 --retries 0 --rpm 20
parent=$SG_PID
wait_for 100 0.05 '[ "$(mock_stats .in_flight)" = 1 ]'
sleep 0.3	# x is held: the pacer lets one request go every 3 s
kill -9 $(workers "$parent") 2>/dev/null
wait "$SG_WAIT"
is "$?" 1 "a held line while a worker dies on its last attempt: exit 1"
is "$(jq -r '[.custom_id, (.error.code // .response.body.choices[0].message.content)] | join(" ")' "$T/held.out" | tr '\n' ,)" \
    "s worker_crashed,x echo: x,y echo: y," \
    "... each record under its own line's custom_id"

# kill_slow_head IN OUT [options...]: run with a slow first line and
# SIGKILL the parent once the rest are answered: their answers are only in
# OUT.journal.
kill_slow_head() {
	_in=$1 _out=$2
	shift 2
	sg_bg "$_in" /dev/null -o "$_out" "$@"
	wait_for 100 0.05 '[ "$(mock_stats .in_flight)" = 1 ] && [ "$(mock_stats .requests)" -ge "$(($(wc -l <"$_in") - 1))" ]'
	kill -KILL "$SG_PID"
	wait "$SG_WAIT"
}

# The journal answers a line by its place in the input, not its custom_id:
# with --allow-duplicate-ids two lines share an id but not an answer.
mock_reset
printf '%s\n' '{"prompt":"first [[mock:sleep=2000]]","id":"d"}' \
    '{"prompt":"second","id":"d"}' '{"prompt":"third","id":"t"}' >"$T/dup.in"
kill_slow_head "$T/dup.in" "$T/dup.out" -P 3 --allow-duplicate-ids
check "a duplicate id's answer waits in the journal" test -s "$T/dup.out.journal"
sg -P 3 --allow-duplicate-ids -o "$T/dup.out" --resume <"$T/dup.in" 2>/dev/null
is "$?" 0 "--allow-duplicate-ids, resumed after a SIGKILL: exit 0"
is "$(jq -r '.response.body.choices[0].message.content' "$T/dup.out" | tr '\n' ,)" \
    "echo: first [[mock:sleep=2000]],echo: second,echo: third," \
    "... each line its own answer, though two share a custom_id"

# Without it the later line is a duplicate, on the resume as on the run.
mock_reset
printf '%s\n' '{"prompt":"h [[mock:sleep=2000]]","id":"h"}' \
    '{"prompt":"one","id":"e"}' '{"prompt":"two","id":"e"}' \
    '{"prompt":"three","id":"f"}' >"$T/dup2.in"
kill_slow_head "$T/dup2.in" "$T/dup2.out" -P 3
sg -P 3 -o "$T/dup2.out" --resume <"$T/dup2.in" 2>/dev/null
is "$?" 1 "a duplicate custom_id, resumed after a SIGKILL: exit 1"
is "$(jq -r '.error.code // .response.body.choices[0].message.content' "$T/dup2.out" | tr '\n' ,)" \
    "echo: h [[mock:sleep=2000]],echo: one,duplicate_custom_id,echo: three," \
    "... the duplicate gets duplicate_custom_id, not a copy of the first's answer"

# ^C during a resume keeps the journal's answers it did not reach.
mock_reset
{ printf '{"prompt":"k-1 [[mock:sleep=1500]]","id":"k-1"}\n'; prompts 100 k | tail -n +2; } >"$T/k.in"
kill_slow_head "$T/k.in" "$T/k.out" -P 4
nj=$(wc -l <"$T/k.out.journal")
check "SIGKILL with a slow head: the journal holds the rest ($nj)" test "$nj" -ge 99
# (counted from a reset, not by in_flight: the killed run's k-1 may
# still be asleep in the mock)
mock_reset
sg_bg "$T/k.in" /dev/null -P 4 -o "$T/k.out" --resume --max-pending 10
wait_for 100 0.05 '[ "$(mock_stats .requests)" = 1 ]'
kill -INT "$SG_PID"
wait "$SG_WAIT"
is "$?" 130 "a resume interrupted while the slow head is out: exit 130"
check "... FILE holds a prefix short of the journal's answers" \
    test "$(wc -l <"$T/k.out")" -lt 50
mock_reset
sg -P 4 -o "$T/k.out" --resume <"$T/k.in" 2>/dev/null
is "$?" 0 "the next resume completes"
is "$(jq -r '.custom_id + " " + (.response.status_code|tostring)' "$T/k.out" | md5sum)" \
    "$(seq 1 100 | sed 's/^/k-/; s/$/ 200/' | md5sum)" "... every line answered, in order"
is "$(mock_stats .requests)" 0 "... and pays for nothing again: the journal kept what ^C did not reach"
check "... and the journal is gone" test ! -e "$T/k.out.journal"

# -o replaces a regular file (or makes a new one) and nothing else: a
# FIFO, a device or a symlink's target is written to where it is.
prompts 5 o >"$T/o.in"
mkfifo "$T/fifo"
timeout 30 cat "$T/fifo" >"$T/fifo.read" &
reader=$!
sg -o "$T/fifo" <"$T/o.in" 2>"$T/fifo.err"
is "$?" 0 "-o FIFO: exit 0"
wait "$reader"
check "... the FIFO is still a FIFO" test -p "$T/fifo"
check "... and its reader got the records" in_order "$T/fifo.read" 5 o
if mknod "$T/null" c 1 3 2>/dev/null; then
	sg -o "$T/null" <"$T/o.in" 2>/dev/null
	is "$?" 0 "-o a device: exit 0"
	check "... the device is still a character device" test -c "$T/null"
else
	skip 2 "mknod is not allowed here"
fi
prompts 3 old >"$T/real"
ln -s real "$T/link"
sg -o "$T/link" <"$T/o.in" 2>/dev/null
is "$?" 0 "-o a symlink: exit 0"
check "... the symlink is still a symlink" test -L "$T/link"
check "... and its target holds the records" in_order "$T/real" 5 o
sg -o "$T/link" --resume <"$T/o.in" 2>/dev/null
is "$?" 0 "-o a symlink --resume: exit 0, through the link"
check "... the symlink is still a symlink" test -L "$T/link"
ln -s nowhere/x "$T/dangling"
sg -o "$T/dangling" <"$T/o.in" 2>"$T/dangling.err"
is "$?" 2 "-o a symlink to nothing: a usage error"
check "... saying so" grep -q "symbolic link" "$T/dangling.err"
mkdir "$T/dir"
sg -o "$T/dir" <"$T/o.in" 2>"$T/dir.err"
is "$?" 2 "-o a directory: a usage error"
check "... saying so" grep -q "is a directory" "$T/dir.err"
sg -o "$T/fifo" --resume <"$T/o.in" 2>"$T/fr.err"
is "$?" 2 "--resume with -o a FIFO: a usage error"
check "... saying why" grep -q "regular file" "$T/fr.err"
check "... and the FIFO stays" test -p "$T/fifo"

# Every record is valid JSON whatever the server sends, and request_id is
# always a string.
printf '%s\n' '{"prompt":"u [[mock:ok:request-id=badutf8]]","id":"u"}' \
    '{"prompt":"n [[mock:ok:request-id=none]]","id":"n"}' >"$T/rid.in"
sg -o "$T/rid.out" <"$T/rid.in" 2>/dev/null
is "$?" 0 "an x-request-id that is not UTF-8, and none at all: exit 0"
check "... every record is UTF-8" iconv -f UTF-8 -t UTF-8 "$T/rid.out" -o /dev/null
is "$(jq -r '.response.request_id | type' "$T/rid.out" | tr '\n' ,)" "string,string," \
    "... request_id is a string in both"
check "... made up by splitgpt when the server sent none" \
    sh -c "sed -n 2p '$T/rid.out' | jq -r .response.request_id | grep -q '^req_splitgpt_'"
sg -o "$T/rid.out" --resume <"$T/rid.in" 2>"$T/rid.err"
is "$?" 0 "... and --resume reads the file back"

# Workers die with their parent: a SIGKILLed parent leaves no worker
# making requests.  With splitgpt-poll (built without epoll(7) or
# PR_SET_PDEATHSIG, as on the BSDs and macOS) a worker sees its request
# pipe close and makes no new attempt.
orphans() {
	mock_reset
	awk 'BEGIN { for (i = 1; i <= 8; i++)
		printf "{\"prompt\":\"o%d [[mock:500]]\",\"id\":\"o%d\"}\n", i, i }' >"$T/orph.in"
	sg_bg "$T/orph.in" "$T/orph.out" -P 4 --retries 50 --backoff-max 0.2
	wait_for 100 0.05 '[ "$(mock_stats .requests)" -ge 8 ]'
	kill -KILL "$SG_PID"
	wait "$SG_WAIT"
	wait_for 60 0.05 '[ -z "$(left_behind)" ]'
	is "$(left_behind | wc -l)" 0 "$1: the parent SIGKILLed: no worker left behind"
	n1=$(mock_stats .requests)
	sleep 1
	is "$(mock_stats .requests)" "$n1" "$1: ... and no request after that"
}
orphans splitgpt
if [ -x "${SPLITGPT_POLL:-}" ]; then
	sg_main=$SPLITGPT
	SPLITGPT=$SPLITGPT_POLL
	orphans splitgpt-poll
	SPLITGPT=$sg_main
else
	skip 2 "no splitgpt-poll (make check builds it)"
fi

# A fork that fails costs no answer: the run goes on with the workers it
# has; with none at all every line still gets its record (exit 4).
# FAILFORK_AFTER=N lets N forks through (tests/failfork.c).
if [ -r "${FAILFORK:-}" ]; then
	# failfork N: SPLITGPT, with only its own first N forks let through
	# (timeout(1), which runs it, forks too).
	sg_real=$SPLITGPT
	failfork() {
		cat >"$T/ff.sh" <<-EOS
		#!/bin/sh
		LD_PRELOAD='$FAILFORK' FAILFORK_AFTER=$1 \
		ASAN_OPTIONS='${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0' \
		exec '$sg_real' "\$@"
		EOS
		chmod +x "$T/ff.sh"
		SPLITGPT=$T/ff.sh
	}
	prompts 60 ff >"$T/ff.in"
	mock_reset
	failfork 3
	sg -P 8 <"$T/ff.in" >"$T/ff.out" 2>"$T/ff.err"
	is "$?" 0 "fork fails after 3 workers of 8: exit 0"
	check "... every line answered, in order" in_order "$T/ff.out" 60 ff
	check "... and stderr says it goes on with 3" grep -q "fork.*3 workers" "$T/ff.err"
	failfork 0
	sg -P 4 <"$T/ff.in" >"$T/ff0.out" 2>"$T/ff0.err"
	is "$?" 4 "fork fails for the first worker: exit 4"
	is "$(jq -r .error.code "$T/ff0.out" | sort | uniq -c | tr -s ' ')" " 60 not_sent" \
	    "... every line has its not_sent record"
	check "... which says why" sh -c "jq -r .error.message '$T/ff0.out' | grep -q 'fork'"
	# Respawning fails: the dead worker's line goes to the other one.
	printf '%s\n' '{"prompt":"a [[mock:sleep=1500]]","id":"a"}' \
	    '{"prompt":"b [[mock:sleep=1500]]","id":"b"}' '"c"' '"d"' >"$T/ffr.in"
	mock_reset
	failfork 2
	sg_bg "$T/ffr.in" "$T/ffr.out" -P 2
	wait_for 100 0.05 '[ "$(mock_stats .in_flight)" = 2 ]'
	victim=$(workers "$SG_PID" | head -1)
	check "respawn fails: a busy worker killed" kill -9 "$victim"
	wait "$SG_WAIT"
	is "$?" 0 "... exit 0: its line went to the other worker"
	is "$(jq -r '.custom_id + " " + (.response.status_code|tostring)' "$T/ffr.out" | tr '\n' ,)" \
	    "a 200,b 200,line-3 200,line-4 200," "... every line answered, in order"
	SPLITGPT=$sg_real
else
	skip 10 "no failfork.so (make check builds it)"
fi

# libcurl must not send a request again by itself when a reused
# connection is reset: every request that leaves is an attempt splitgpt
# counted.
mock_stop
mock_start --fault reset:0.25 --seed 3
prompts 40 rs >"$T/rs.in"
sg -P 1 --retries 0 <"$T/rs.in" >"$T/rs.out" 2>/dev/null
is "$(mock_stats .requests)" 40 "resets on reused connections, --retries 0: one request per line"
is "$(jq -r '.error.code // "ok"' "$T/rs.out" | sort | uniq -c | awk '{ printf "%s %s,", $2, $1 }')" \
    "connection_error $(mock_stats .faults.reset),ok $(mock_stats .ok)," \
    "... each reset is its line's connection_error"
mock_reset
sg -P 2 --retries 5 --backoff-max 0.01 --joblog "$T/rs.jl" <"$T/rs.in" >"$T/rs2.out" 2>/dev/null
is "$?" 0 "with retries: exit 0"
is "$(awk -F'\t' 'NR > 1 { n += $5 } END { print n }' "$T/rs.jl")" "$(mock_stats .requests)" \
    "... the server saw exactly the attempts the job log counts"

# --max-line-length against the request that would be sent (--system,
# --text's escapes): tests/data/0800-*.case and 0801-*.case.

# A worker that stops answering (SIGSTOP) is killed once it is silent
# past its attempt's --timeout and a margin, and its line sent again.
mock_stop
mock_start --latency 600
prompts 4 st >"$T/st.in"
SG_TIMEOUT=60 sg_bg "$T/st.in" "$T/st.out" -P 2 --timeout 2
wait_for 100 0.05 '[ "$(mock_stats .in_flight)" = 2 ]'
victim=$(workers "$SG_PID" | head -1)
check "a busy worker stopped" kill -STOP "$victim"
t0=$(date +%s)
wait "$SG_WAIT"
st=$?
kill -CONT "$victim" 2>/dev/null
is "$st" 0 "... the run still ends, exit 0 (not stalled for ever)"
check "... every line answered, in order" in_order "$T/st.out" 4 st
check "... the stall is reported" grep -q "silent for .*killed" "$T/sg_bg.err"
check "... within the timeout and its margin ($(( $(date +%s) - t0 )) s)" \
    test $(( $(date +%s) - t0 )) -le 30
mock_stop
mock_start --latency 10

# Signals work whatever the output is doing: with a reader that reads
# nothing, SIGTERM is heard and a second SIGINT aborts at once, leaving
# whole records only; the summary counts the records written.
mock_reset
long=$(head -c 2000 /dev/zero | tr '\0' 'w')
awk -v w="$long" 'BEGIN { for (i = 1; i <= 300; i++)
	printf "{\"prompt\":\"%s %d\",\"id\":\"b-%d\"}\n", w, i, i }' >"$T/blk.in"
mkfifo "$T/blk.fifo"
# The reader opens the FIFO and reads nothing until told to ($T/go).
(exec 3<"$T/blk.fifo"
 i=0
 while [ ! -e "$T/go" ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done
 cat <&3 >"$T/blk.out") &
reader=$!
_pids="$_pids $reader"
sg_bg "$T/blk.in" "$T/blk.fifo" -P 4
wait_for 100 0.05 '[ "$(mock_stats .requests)" -ge 100 ]'
: >"$T/sg_bg.err"
kill -TERM "$SG_PID"
wait_for 40 0.05 'grep -q interrupted "$T/sg_bg.err"'
check "output blocked: SIGTERM is heard at once" grep -q "interrupted" "$T/sg_bg.err"
kill -INT "$SG_PID"
t0=$(date +%s)
wait "$SG_WAIT"
is "$?" 130 "... and a SIGINT after it aborts: exit 130"
check "... at once, not when the reader reads ($(( $(date +%s) - t0 )) s)" \
    test $(( $(date +%s) - t0 )) -le 5
touch "$T/go"
wait "$reader"
# A reader that reads nothing may leave the abort a record it cut: then
# stderr says so.
check "... the output ends with a whole record, or stderr says it is cut" \
    sh -c "[ ! -s '$T/blk.out' ] || [ \"\$(tail -c 1 '$T/blk.out' | od -An -c | tr -d ' ')\" = '\\n' ] ||
        grep -q 'ends with a cut record' '$T/sg_bg.err'"
n=$(grep -c '}$' "$T/blk.out")
check "... the summary counts the $n records written" \
    grep -q "splitgpt: $n lines: $n ok" "$T/sg_bg.err"

# A double ^C while a slow first line holds the others back: the summary
# counts what the output holds, not the answers that never reached it.
mock_reset
{ printf '{"prompt":"h [[mock:sleep=3000]]","id":"h"}\n'; prompts 50 a; } >"$T/dc.in"
sg_bg "$T/dc.in" "$T/dc.out" -P 4
wait_for 100 0.05 '[ "$(mock_stats .requests)" -ge 51 ] && [ "$(mock_stats .in_flight)" = 1 ]'
: >"$T/sg_bg.err"
kill -INT "$SG_PID"
sleep 0.2
kill -INT "$SG_PID"
wait "$SG_WAIT"
is "$?" 130 "double ^C with the head line out: exit 130"
n=$(grep -c '' "$T/dc.out")
check "... the summary counts the $n records written, not the 50 answers waiting" \
    grep -q "splitgpt: $n lines: $n ok" "$T/sg_bg.err"

# A non-blocking standard output (someone else set O_NONBLOCK) with a slow
# reader: EAGAIN is waited out, not fatal.
mock_reset
nonblock() {
	perl -e 'use Fcntl; my $f = fcntl(STDOUT, F_GETFL, 0);
	    fcntl(STDOUT, F_SETFL, $f | O_NONBLOCK) or die; exec @ARGV' "$@"
}
nonblock "$SPLITGPT" --base-url "$MOCK_URL" -P 4 <"$T/blk.in" 2>"$T/nb.err" |
    (sleep 1; cat) >"$T/nb.out"
check "non-blocking stdout, slow reader: every record written" \
    test "$(jq -r .custom_id "$T/nb.out" | wc -l)" -eq 300
check "... and no error" sh -c "! grep -q 'Resource temporarily' '$T/nb.err'"

# A rate-limit reset far off, capped like Retry-After:
# tests/data/0802-ratelimit-reset-far.case.

done_testing
