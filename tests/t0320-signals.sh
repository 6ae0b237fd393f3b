# Signals and broken pipes: the first SIGINT (or SIGHUP) finishes what is
# in flight, a second SIGINT aborts; | head exits promptly and leaves no
# worker behind.
. tests/lib.sh
mock_start --latency 400 --seed 3

prompts 200 s >"$T/in"
sg_bg "$T/in" "$T/out" -P 8
sleep 1
kill -INT "$SG_PID"
wait "$SG_WAIT"
is "$?" 130 "SIGINT: exit 130"
n=$(wc -l <"$T/out")
check "SIGINT: the requests in flight were finished and written ($n lines)" \
    sh -c "[ $n -ge 8 ] && [ $n -lt 200 ]"
is "$(jq -r .response.status_code "$T/out" | sort -u)" 200 "SIGINT: all of them answered"
check "SIGINT: in order" sh -c "jq -r .custom_id '$T/out' | awk '\$0 != \"s-\" NR { exit 1 }'"
check "SIGINT: the summary was printed" grep -q 'lines:' "$T/sg_bg.err"

: >"$T/sg_bg.err"
mock_stop
mock_start --latency 5000
sg_bg "$T/in" "$T/out" -P 8
sleep 0.5
kill -INT "$SG_PID"
sleep 0.3
kill -INT "$SG_PID"
wait "$SG_WAIT"
is "$?" 130 "a second SIGINT aborts at once: exit 130"
check "... leaving whole lines only" sh -c "[ ! -s '$T/out' ] || jq -e . '$T/out' >/dev/null"
check "... and no worker left behind" test -z "$(left_behind)"

# A hangup (the terminal went away) stops like SIGINT, though it reaches
# the workers too and the shell passes it on a second time.
: >"$T/sg_bg.err"
mock_stop
mock_start --latency 400 --seed 3
sg_bg "$T/in" "$T/out" -P 8
sleep 1
kill -HUP "$SG_PID" $(workers "$SG_PID")
sleep 0.1
kill -HUP "$SG_PID"
wait "$SG_WAIT"
is "$?" 130 "SIGHUP: exit 130"
n=$(wc -l <"$T/out")
check "SIGHUP: some lines, not all ($n)" sh -c "[ $n -ge 8 ] && [ $n -lt 200 ]"
is "$n" "$(mock_stats .requests)" "SIGHUP: every request sent was finished and written"
is "$(jq -r .response.status_code "$T/out" | sort -u)" 200 "SIGHUP: all of them answered"
check "SIGHUP: no worker crashed" sh -c "! grep -q crash '$T/sg_bg.err'"

# A SIGTERM to the process group reaches the workers too: they leave the
# stop to the parent.
: >"$T/sg_bg.err"
mock_reset
sg_bg "$T/in" "$T/out" -P 8
sleep 1
kill -TERM $(workers "$SG_PID")
sleep 0.1
kill -TERM "$SG_PID"
wait "$SG_WAIT"
is "$?" 130 "SIGTERM to every process: exit 130"
is "$(wc -l <"$T/out")" "$(mock_stats .requests)" "... every request sent was finished and written"
check "... no worker crashed" sh -c "! grep -q crash '$T/sg_bg.err'"

# Under nohup the hangup stays ignored.
prompts 24 n >"$T/nin"
timeout -s KILL 60 sh -c 'trap "" HUP; exec "$0" "$@"' "$SPLITGPT" \
    --base-url "$MOCK_URL" -P 8 <"$T/nin" >"$T/nout" 2>/dev/null &
nw=$!
wait_for 50 0.05 'np=$(pgrep -P "$nw" 2>/dev/null | head -1); [ -n "$np" ] && [ -n "$(workers "$np")" ]'
kill -HUP "$np" $(workers "$np")
wait "$nw"
is "$?" 0 "SIGHUP ignored (nohup): exit 0"
is "$(wc -l <"$T/nout")" 24 "... every line answered"

# | head -3: exit promptly and quietly.
mock_stop
mock_start --latency 200
prompts 1000 h >"$T/in"
( "$SPLITGPT" --base-url "$MOCK_URL" -P 4 <"$T/in" 2>"$T/herr"; echo $? >"$T/status" ) | head -3 >"$T/head" &
hp=$!
wait_for 50 0.1 '[ -s "$T/status" ]'
wait $hp
is "$(wc -l <"$T/head")" 3 "| head -3 gets its three lines"
check "splitgpt exits soon after head does (within 5 s)" test -s "$T/status"
is "$(cat "$T/status" 2>/dev/null)" 141 "... killed by SIGPIPE like any filter"
is "$(wc -c <"$T/herr")" 0 "... quietly"
check "... and no worker is left" sh -c "! pgrep -f '[s]plitgpt --base-url $MOCK_URL' >/dev/null"

done_testing
