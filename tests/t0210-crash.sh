# Workers killed with SIGKILL lose nothing: the parent notices at once,
# starts a replacement and sends the line again; output stays complete,
# in order, without duplicates.
. tests/lib.sh
mock_start --latency 20 --jitter 30 --seed 2

prompts 2000 k >"$T/in"
sg_bg "$T/in" "$T/out" -P 16
parent=$SG_PID
sleep 0.5
kills=0
i=0
while [ $kills -lt 10 ] && [ $i -lt 200 ]; do
	i=$((i + 1))
	victim=$(workers "$parent" | shuf -n 1)
	if [ -n "$victim" ] && kill -9 "$victim" 2>/dev/null; then
		kills=$((kills + 1))
	fi
	sleep 0.15
done
wait $SG_WAIT
st=$?
is "$kills" 10 "ten workers were killed during the run"
is "$st" 0 "exit 0: every line succeeded despite the kills"
check "2000 records, each answering its own line, in order" in_order "$T/out" 2000 k
is "$(jq -r .custom_id "$T/out" | sort | uniq -d | wc -l)" 0 "no duplicates"
is "$(workers "$parent" | wc -l)" 0 "no worker left behind"

# A line that kills its worker on every attempt ends as worker_crashed.
printf '{"prompt":"slow [[mock:sleep=20000]]","id":"s"}\n"after"\n' >"$T/in2"
sg_bg "$T/in2" "$T/out2" -P 1 --retries 2
parent=$SG_PID
kills=0
i=0
while [ $kills -lt 3 ] && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.3
	w=$(workers "$parent")
	if [ -n "$w" ] && kill -9 $w 2>/dev/null; then
		kills=$((kills + 1))
	fi
done
wait $SG_WAIT
is "$?" 1 "a line that kills its worker every time: exit 1"
is "$(sed -n 1p "$T/out2" | jq -r .error.code)" worker_crashed "... ends as worker_crashed"
is "$(sed -n 1p "$T/out2" | jq -r .error.attempts)" 3 "... after 1 + --retries attempts"
check "... the message says how it died" sh -c "sed -n 1p '$T/out2' | grep -q 'died (signal 9)'"
is "$(sed -n 2p "$T/out2" | jq -r .response.status_code)" 200 "the next line is unaffected"
