# A worker waiting on an answer sleeps: nothing wakes it until the answer
# comes (issue 26, lean waiting).  curl_easy_perform polled at most a
# second at a time, so each waiting worker woke once a second for nothing,
# 2048 of them some 4% of a core.  A worker's voluntary context switches,
# read from /proc before and after a pause inside the mock's latency,
# count its wake-ups.  (libcurl's own timers still wake it twice per
# request: 200 ms after connecting, and when --connect-timeout would have
# run out, 10 s; the pause is between the two.)
. tests/lib.sh
[ -r /proc/self/status ] || skip_all "no /proc"
mock_start --latency 6000
prompts 2 >"$T/in"
sg_bg "$T/in" "$T/out" -P 2 -q
check "both requests reach the mock, which holds them" \
    wait_for 200 0.05 '[ "$(mock_stats .in_flight)" = 2 ]'
w=$(workers "$SG_PID" | head -n 1)
switches() {
	awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "/proc/$w/status"
}
sleep 0.5	# past libcurl's 200 ms timer
a=$(switches)
sleep 2.5
b=$(switches)
check "a worker to watch" test -n "$a" -a -n "$b"
is "$((b - a))" 0 "the waiting worker was not woken in 2.5 s"
wait "$SG_WAIT"
is "$?" 0 "... and the run ends well"
check "... every answer, in order" in_order "$T/out" 2
done_testing
