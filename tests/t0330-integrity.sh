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

done_testing
