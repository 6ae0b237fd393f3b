# --hedge: a line out too long gets one copy on an idle worker; the first
# answer is written, once, in order; the budget and the default hold.
. tests/lib.sh
mock_start --latency 20 --slow 0.05:100 --seed 7

prompts 300 g >"$T/in"

# Off by default: one request per line, stragglers and all.
sg -P 8 --stats "$T/s0" <"$T/in" >"$T/out0" 2>"$T/err0"
is "$?" 0 "no --hedge: exit 0"
is "$(mock_stats .requests)" 300 "no --hedge: one request per line"
is "$(jq .hedged "$T/s0")" 0 "no --hedge: --stats counts no hedge"
check "no --hedge: the summary does not mention hedging" \
    sh -c "! grep -q hedged '$T/err0'"

mock_reset
sg -P 8 --hedge 0.3 --stats "$T/s1" <"$T/in" >"$T/out1" 2>"$T/err1"
is "$?" 0 "--hedge 0.3: exit 0"
check "--hedge 0.3: every line answered once, in order" \
    in_order "$T/out1" 300 g
h=$(jq .hedged "$T/s1")
w=$(jq .hedge_won "$T/s1")
check "--hedge 0.3: stragglers (2 s each) were hedged ($h)" test "$h" -ge 3
check "--hedge 0.3: at most one line in 20 ($h of 300)" test "$h" -le 15
check "--hedge 0.3: the copies answered first ($w of $h)" test "$w" -ge 3
# A copy whose original answered first may be cut before it reaches the
# server; a copy that answered first surely did.
r=$(mock_stats .requests)
check "--hedge 0.3: the server saw one request per line plus at most one per hedge ($r)" \
    test "$r" -ge $((300 + w)) -a "$r" -le $((300 + h))
is "$(mock_stats .max_sent)" 2 "--hedge 0.3: no line was sent more than twice"
check "--hedge 0.3: the summary counts the hedges" \
    grep -q "; $h hedged (the copy first in $w)" "$T/err1"

# Relative to the median latency, once 20 answers are in.
mock_reset
sg -P 8 --hedge 5x --stats "$T/s2" <"$T/in" >"$T/out2" 2>/dev/null
is "$?" 0 "--hedge 5x: exit 0"
check "--hedge 5x: every line answered once, in order" \
    in_order "$T/out2" 300 g
check "--hedge 5x: stragglers were hedged" test "$(jq .hedged "$T/s2")" -ge 3
r=$(mock_stats .requests)
check "--hedge 5x: one request per line plus at most one per hedge ($r)" \
    test "$r" -ge $((300 + $(jq .hedge_won "$T/s2"))) -a \
    "$r" -le $((300 + $(jq .hedged "$T/s2")))

# A line slow on every attempt is hedged once, and its first answer kept;
# the idle workers stay for it although the input is done.
mock_reset
printf '{"prompt":"s [[mock:sleep=1500]]","id":"s"}\n' >"$T/in3"
prompts 40 t >>"$T/in3"
sg -P 4 --hedge 0.2 --stats "$T/s3" <"$T/in3" >"$T/out3" 2>/dev/null
is "$?" 0 "always slow: exit 0"
is "$(mock_stats '.keys["s [[mock:sleep=1500]]"].sent')" 2 \
    "always slow: sent twice (hedged once), no more"
is "$(head -1 "$T/out3" | jq -r '.custom_id + " " + (.response.status_code|tostring)')" \
    "s 200" "always slow: its answer is written first, once"
is "$(wc -l <"$T/out3")" 41 "always slow: 41 records"

# One of the two requests for a hedged line dies: the other answers for
# it, and the line is not hedged a third time.
mock_reset
printf '{"prompt":"k [[mock:sleep=2500]]","id":"k"}\n' >"$T/in4"
sg_bg "$T/in4" "$T/out4" -P 3 --hedge 0.2
parent=$SG_PID
sent='.keys["k [[mock:sleep=2500]]"].sent'
wait_for 60 0.05 '[ "$(mock_stats "$sent")" = 2 ]'
# The two workers that hold the line have a connection to the mock; the
# third has made no request, so it has none.
victim=
for w in $(workers "$parent"); do
	if ls -l "/proc/$w/fd" 2>/dev/null | grep -q 'socket:'; then
		victim=$w
		break
	fi
done
check "a worker holding the hedged line was found" test -n "$victim"
check "... and killed" kill -9 "$victim"
wait $SG_WAIT
is "$?" 0 "a hedged line's worker killed: exit 0"
is "$(jq -r '.custom_id + " " + (.response.status_code|tostring)' "$T/out4")" \
    "k 200" "... the other request answers for the line, once"
is "$(mock_stats '.keys["k [[mock:sleep=2500]]"].sent')" 2 \
    "... and it is not sent a third time"

# Usage: tests/data/1000-*.case to 1004-*.case.

done_testing
