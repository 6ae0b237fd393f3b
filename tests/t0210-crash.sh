# Workers killed with SIGKILL lose nothing: the parent notices at once,
# starts a replacement and sends the line again; output stays complete,
# in order, without duplicates.
. tests/lib.sh
mock_start --latency 20 --jitter 30 --seed 2

prompts 2000 k >"$T/in"
# kill_run WHAT: ten workers of a 2000-line run killed, nothing lost.
# Run with the epoll(7) build and with splitgpt-poll, whose parent polls
# every result pipe as it does where there is no epoll.
kill_run() {
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
	is "$kills" 10 "$1: ten workers were killed during the run"
	is "$st" 0 "$1: exit 0, every line succeeded despite the kills"
	check "$1: 2000 records, each answering its own line, in order" \
	    in_order "$T/out" 2000 k
	is "$(jq -r .custom_id "$T/out" | sort | uniq -d | wc -l)" 0 \
	    "$1: no duplicates"
	is "$(left_behind | wc -l)" 0 "$1: no worker left behind"
}
kill_run splitgpt
if [ -x "${SPLITGPT_POLL:-}" ]; then
	sg_epoll=$SPLITGPT
	SPLITGPT=$SPLITGPT_POLL
	kill_run splitgpt-poll
	SPLITGPT=$sg_epoll
else
	skip 5 "no splitgpt-poll (make check builds it)"
fi

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

done_testing
