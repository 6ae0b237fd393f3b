# Several servers (--base-url given more than once, issue 26): lines spread
# by what each server completes, failover that does not count against
# --retries, a failing server set aside and brought back, per-server keys,
# each server's own published limits, the summary and --stats "servers".  Every mock logs its requests
# (--log), so the checks count what each server really answered; no check
# asserts a wall-clock time.
# shellcheck disable=SC2154 # mock_as sets NAME_URL and NAME_PID with eval
. tests/lib.sh

# mock_as NAME [options...]: start a mock logging to $T/NAME.log (its
# MOCK_URL and MOCK_PID are then kept as NAME_URL and NAME_PID).
mock_as() {
	_name=$1
	shift
	mock_start --log "$T/$_name.log" "$@"
	eval "${_name}_URL=\$MOCK_URL ${_name}_PID=\$MOCK_PID"
}

# dead_port: a port nothing listens on now (a mock's, once stopped).
dead_port() {
	mock_start
	DEAD=${MOCK_ROOT##*:}
	mock_stop
}

# answered LOG: the requests a mock answered 200 (none if no log).
answered() {
	[ -f "$1" ] || { echo 0; return; }
	awk -F'\t' '$2 ~ /^POST / && $5 == "200"' "$1" | wc -l | tr -d ' '
}

# tried LOG: the requests a mock got, whatever it answered.
tried() {
	[ -f "$1" ] || { echo 0; return; }
	awk -F'\t' '$2 ~ /^POST /' "$1" | wc -l | tr -d ' '
}

# run [options...]: splitgpt, bounded in time; no --base-url of its own.
run() {
	timeout -k 5 "${SG_TIMEOUT:-120}" "$SPLITGPT" "$@"
}

# run_bg IN OUT ERR [options...]: run in the background; SG_WAIT its pid.
run_bg() {
	_in=$1 _out=$2 _err=$3
	shift 3
	timeout -k 5 "${SG_TIMEOUT:-120}" "$SPLITGPT" "$@" \
	    <"$_in" >"$_out" 2>"$_err" &
	SG_WAIT=$!
	_pids="$_pids $SG_WAIT"
}

# spread K N TAG P A B: N prompts tagged TAG over the mocks A and B (started
# with mock_as, their URLs kept as A_URL and B_URL) at -P P, into
# $T/inK, $T/outK, $T/errK and --stats $T/sK; st is the exit status, a1
# and a2 what each mock answered 200.
spread() {
	_sk=$1 _sa=$5 _sb=$6 _su1='' _su2=''
	prompts "$2" "$3" >"$T/in$_sk"
	eval "_su1=\$${_sa}_URL _su2=\$${_sb}_URL"
	run --base-url "$_su1" --base-url "$_su2" -P "$4" --stats "$T/s$_sk" \
	    <"$T/in$_sk" >"$T/out$_sk" 2>"$T/err$_sk"
	st=$?
	a1=$(answered "$T/$_sa.log")
	a2=$(answered "$T/$_sb.log")
}

# jqs FILE FILTER: one figure from a --stats file ("" if none).
jqs() {
	jq -r "$2" "$1" 2>/dev/null
}

# --- 1. Two servers, one six times faster: it gets more lines ---------------
mock_as fast --latency 10
mock_as slow --latency 60
N=400
spread 1 $N a 8 fast slow
f=$a1 s=$a2
is "$st" 0 "two servers at 10 and 60 ms: exit 0"
check "... every line ok, in order, one record each" in_order "$T/out1" $N a
check "... both were used (fast $f, slow $s)" test "$f" -ge 1 -a "$s" -ge 1
check "... the faster got at least twice the lines (fast $f, slow $s; ideal ~6x)" \
    test "$f" -ge $((2 * s))
is "$(jqs "$T/s1" '.servers | length')" 2 "... --stats: two servers"
is "$(jqs "$T/s1" '[.servers[].url] | join(" ")')" "$fast_URL $slow_URL" \
    "... in the order given, with their URLs"
is "$(jqs "$T/s1" '[.servers[].answered] | add')" $N \
    "... answered adds up to the lines"
is "$(jqs "$T/s1" '[.servers[].ok] | join(" ")')" "$f $s" \
    "... each server's ok is what its mock answered 200"
is "$(jqs "$T/s1" '[.servers[] | .latency_p50_s, .latency_p95_s, .latency_mean_s |
    type] | unique | join(" ")')" number "... latencies are numbers"
a1=$(jqs "$T/s1" '.servers[0].answered')
a2=$(jqs "$T/s1" '.servers[1].answered')
check "... the summary has a line per server" sh -c "
    grep -qF 'splitgpt: server 1 $fast_URL: $a1 answered' '$T/err1' &&
    grep -qF 'splitgpt: server 2 $slow_URL: $a2 answered' '$T/err1'"
kill "$fast_PID" "$slow_PID" 2>/dev/null

# --- 2. One of two killed mid-run: nothing lost, nothing answered twice -----
mock_as live --latency 30
mock_as victim --latency 30
N=600
P=8
prompts $N k >"$T/in2"
run_bg "$T/in2" "$T/out2" "$T/err2" --base-url "$live_URL" \
    --base-url "$victim_URL" -P $P --retries 0 --stats "$T/s2"
# shellcheck disable=SC2016 # wait_for evaluates it
wait_for 300 0.05 '[ "$(cat "$T/out2" 2>/dev/null | wc -l)" -ge 20 ] || ! kill -0 $SG_WAIT 2>/dev/null'
at=$(wc -l <"$T/out2")
kill -9 "$victim_PID" 2>/dev/null
wait "$SG_WAIT"
st=$?
wait "$victim_PID" 2>/dev/null
check "the second server was killed mid-run (at $at of $N records)" \
    test "$at" -ge 1 -a "$at" -lt $N
is "$st" 0 "one of two servers killed, --retries 0: exit 0"
check "... every line ok, in order, exactly $N records" in_order "$T/out2" $N k
is "$(awk -F'\t' '$2 ~ /^POST / && $5 == "200" { c[$3]++ }
    END { for (k in c) if (c[k] > 1) n++; print n + 0 }' "$T/live.log")" 0 \
    "... the survivor answered each line 200 at most once"
l=$(answered "$T/live.log")
v=$(answered "$T/victim.log")
check "... the 200s of both add up to at most N + P ($l + $v)" \
    test $((l + v)) -le $((N + P))
check "... the killed server was used before (${v} answered)" test "$v" -ge 1
check "... --stats: it was set aside ($(jqs "$T/s2" '.servers[1].set_aside'))" \
    test "$(jqs "$T/s2" '.servers[1].set_aside // 0')" -ge 1
check "... and lines moved from it ($(jqs "$T/s2" '.servers[1].failovers'))" \
    test "$(jqs "$T/s2" '.servers[1].failovers // 0')" -ge 1
check "... stderr says it was set aside" \
    grep -qF "splitgpt: server 2 ($victim_URL) set aside for" "$T/err2"
is "$(jqs "$T/s2" '.failovers')" "$(jqs "$T/s2" '[.servers[].failovers] | add')" \
    "... --stats: the run's failovers are the servers'"
is "$(jqs "$T/s2" '.requests')" "$(jqs "$T/s2" '.lines_sent + .retries + .failovers')" \
    "... and requests count them, with the retries"
check "... the summary counts the moves" \
    grep -q "0 retries, [1-9][0-9]* moved to another server; [0-9]* requests" "$T/err2"
kill "$live_PID" 2>/dev/null

# --- 3. One server dead from the start: no fail-fast halt -------------------
dead_port
mock_as good3 --latency 5
N=50
prompts $N d >"$T/in3"
run --base-url "http://127.0.0.1:$DEAD/v1" --base-url "$good3_URL" -P 4 \
    --retries 0 --stats "$T/s3" <"$T/in3" >"$T/out3" 2>"$T/err3"
is "$?" 0 "server 1 refuses, server 2 answers, --retries 0: exit 0, no halt"
check "... every line ok, in order" in_order "$T/out3" $N d
check "... the dead one was tried ($(jqs "$T/s3" '.servers[0].failed_attempts') failed attempts)" \
    test "$(jqs "$T/s3" '.servers[0].failed_attempts // 0')" -ge 1
is "$(jqs "$T/s3" '[.servers[].ok] | join(" ")')" "0 $N" \
    "... --stats: every line ok on server 2"
kill "$good3_PID" 2>/dev/null

# --- 4. A server that comes back --------------------------------------------
dead_port
back=$DEAD
back_URL="http://127.0.0.1:$back/v1"
mock_as first4 --latency 50
N=800	# 10 s on server 1 alone: time for probes at ~1 s, ~3 s and ~7 s
prompts $N b >"$T/in4"
run_bg "$T/in4" "$T/out4" "$T/err4" --base-url "$first4_URL" \
    --base-url "$back_URL" -P 4 --retries 0 --stats "$T/s4"
sleep 1.5
if kill -0 "$SG_WAIT" 2>/dev/null; then
	# the same port: the second server is back
	if mock_try_start --log "$T/back4.log" --port "$back" --latency 50; then
		back4_PID=$MOCK_PID
	else
		diag "the mock did not start again on port $back"
	fi
fi
wait "$SG_WAIT"
is "$?" 0 "server 2 down at the start, back later: exit 0"
check "... every line ok, in order" in_order "$T/out4" $N b
b=$(answered "$T/back4.log")
check "... server 2 answered lines once back ($b)" test "$b" -ge 1
is "$(jqs "$T/s4" '.servers[1].ok')" "$b" "... --stats counts them on server 2"
check "... stderr says it is back" \
    grep -qF "splitgpt: server 2 ($back_URL) is back" "$T/err4"
kill "$first4_PID" "${back4_PID:-}" 2>/dev/null

# --- 5. A server answering 500 to everything --------------------------------
mock_as bad5 --fault 500:1
mock_as good5 --latency 5
N=50
prompts $N f >"$T/in5"
run --base-url "$bad5_URL" --base-url "$good5_URL" -P 4 --retries 0 \
    --stats "$T/s5" <"$T/in5" >"$T/out5" 2>"$T/err5"
is "$?" 0 "server 1 answers 500 to all, --retries 0: exit 0"
check "... every line ok, in order" in_order "$T/out5" $N f
check "... the failing server was tried ($(tried "$T/bad5.log") requests)" \
    test "$(tried "$T/bad5.log")" -ge 1
# One server: --stats still has "servers", the summary no line for it.
run --base-url "$good5_URL" --stats "$T/s5b" <"$T/in5" >/dev/null 2>"$T/err5b"
is "$(jqs "$T/s5b" '[.servers[] | .url, .answered] | join(" ")')" \
    "$good5_URL $N" "one server: --stats has it in \"servers\""
check "... the summary has no line per server" \
    sh -c "! grep -q '^splitgpt: server 1 ' '$T/err5b'"
kill "$bad5_PID" "$good5_PID" 2>/dev/null

# --- 6. A key per server: key-file= and header-file= ------------------------
mock_as keyA --latency 5 --require-key sk-key-one-1111
mock_as keyB --latency 5 --require-key sk-key-two-2222
printf 'sk-key-one-1111\n' >"$T/key1"
printf '# the second server\n\nAuthorization: Bearer sk-key-two-2222\n' >"$T/hdr2"
N=40
prompts $N h >"$T/in6"
OPENAI_API_KEY=sk-neither-of-them run --base-url "$keyA_URL,key-file=$T/key1" \
    --base-url "$keyB_URL,header-file=$T/hdr2" -P 4 --retries 0 \
    <"$T/in6" >"$T/out6" 2>"$T/err6"
is "$?" 0 "key-file= and header-file= per server: exit 0"
check "... every line ok, in order (a wrong key is a 401)" in_order "$T/out6" $N h
check "... both servers answered ($(answered "$T/keyA.log"), $(answered "$T/keyB.log"))" \
    test "$(answered "$T/keyA.log")" -ge 1 -a "$(answered "$T/keyB.log")" -ge 1
is "$(cat "$T/keyA.log" "$T/keyB.log" | awk -F'\t' '$5 !~ /^200/' | wc -l | tr -d ' ')" 0 \
    "... neither answered anything but 200 (a wrong key: 401)"
check "... no key leaked into the output or stderr" sh -c "
    ! grep -q 'sk-key-\\|sk-neither' '$T/out6' '$T/err6'"

# --- 7. Usage errors --------------------------------------------------------
# usage DESCRIPTION GREP-PATTERN options...: exit 2, and stderr matches
usage() {
	_d=$1 _p=$2
	shift 2
	run "$@" </dev/null >/dev/null 2>"$T/e7"
	is "$?" 2 "$_d: a usage error (exit 2)"
	check "... naming it ($(head -c 200 "$T/e7" | tr '\n' ' '))" \
	    grep -q -- "$_p" "$T/e7"
}
usage "an empty key-file=" '--base-url .*key-file' --base-url "$keyA_URL,key-file="
usage "an empty header-file=" '--base-url .*header-file' \
    --base-url "$keyA_URL" --base-url "$keyB_URL,header-file="
usage "a key file that does not exist" "--base-url .*: .*$T/no-such-key" \
    --base-url "$keyA_URL,key-file=$T/no-such-key"
usage "key-file= twice" '--base-url .*: .*key-file' \
    --base-url "$keyA_URL,key-file=$T/key1,key-file=$T/key1"
set --
i=0
while [ $i -lt 65 ]; do
	set -- "$@" --base-url "$keyA_URL,key-file=$T/key1"
	i=$((i + 1))
done
usage "65 --base-url" '--base-url.* 64' "$@"
shift 2
prompts 4 m >"$T/in7"
run "$@" -P 2 <"$T/in7" >"$T/out7" 2>"$T/e7"
is "$?" 0 "64 --base-url are allowed"
check "... every line ok" in_order "$T/out7" 4 m
# Any other comma is part of the URL (the mock matches the end of a path).
run --base-url "$keyB_URL,key-fil=x,header-file=$T/hdr2" <"$T/in7" \
    >"$T/out7" 2>"$T/e7"
is "$?" 0 "an unknown ,name= is part of the URL, not an option"
check "... and it was sent so" grep -q 'POST /v1,key-fil=x/' "$T/keyB.log"
# OPENAI_BASE_URL is one URL, options or not: no file is read.
OPENAI_BASE_URL="$keyB_URL,key-file=$T/no-such-key" run -H "@$T/hdr2" \
    <"$T/in7" \
    >"$T/out7" 2>"$T/e7"
is "$?" 0 "OPENAI_BASE_URL with ,key-file=: all of it is the URL"
check "... sent so" grep -q 'POST /v1,key-file=' "$T/keyB.log"
kill "$keyA_PID" "$keyB_PID" 2>/dev/null

# --- 8. Every server down ---------------------------------------------------
dead_port
d1=$DEAD
dead_port
d2=$DEAD
N=5
prompts $N z >"$T/in8"
SG_TIMEOUT=45 run --base-url "http://127.0.0.1:$d1/v1" \
    --base-url "http://127.0.0.1:$d2/v1" --retries 1 --backoff-max 0.1 \
    <"$T/in8" >"$T/out8" 2>"$T/err8"
st=$?
check "every server down: the run ends by itself, nonzero (status $st)" \
    test "$st" -ne 0 -a "$st" -ne 124 -a "$st" -ne 137
is "$(jq -r '.custom_id' "$T/out8" | tr '\n' ' ')" "z-1 z-2 z-3 z-4 z-5 " \
    "... a record per line, in order"
is "$(jq -r 'select(.error == null) | .custom_id' "$T/out8" | wc -l | tr -d ' ')" 0 \
    "... each an error record"

# --- 9. Each server's own published limits ---------------------------------
# Server 1 publishes a tight limit (10 a second) in its x-ratelimit-*
# headers; server 2 none.  Paced apart, the first slows only its own
# lines: the second takes the rest.  (Paced together, both got half.)
mock_as tight --rpm 600 --rl-window 1 --latency 20
mock_as free --latency 20
N=300
spread 9 $N r 4 tight free
t=$a1 f=$a2
is "$st" 0 "one server with a tight published limit, one with none: exit 0"
check "... every line ok, in order" in_order "$T/out9" $N r
check "... the limited one slowed only its own lines (tight $t, free $f)" \
    test "$f" -ge $((4 * t))
check "... and it was used ($t)" test "$t" -ge 1
is "$(awk -F'\t' '$5 == "429"' "$T/tight.log" | wc -l | tr -d ' ')" 0 \
    "... within its limit: no 429"
kill "$tight_PID" "$free_PID" 2>/dev/null

# --- 10. Servers that hold their body for the ACK of their head -------------
# llama.cpp's server writes an answer's head and body apart with Nagle's
# algorithm on; splitgpt acknowledges each head at once (case 0410), on
# the socket of the server the attempt went to: a worker keeps one to each.
# 400 requests in turn to two such servers took 40 ms each (8.7 s) when the
# ACK went to the socket opened last; well under a second now.  The bound
# is 20 times that.
mock_start --raw-port-file "$T/rawport" --raw-keepalive
raw1_URL=$MOCK_RAW_URL raw1_PID=$MOCK_PID
mock_start --raw-port-file "$T/rawport" --raw-keepalive
raw2_URL=$MOCK_RAW_URL raw2_PID=$MOCK_PID
prompts 400 h >"$T/in10"
SG_TIMEOUT=5 run --base-url "$raw1_URL" --base-url "$raw2_URL" -P 1 -q \
    --stats "$T/s10" <"$T/in10" >"$T/out10"
is "$?" 0 "two servers holding their body for the ACK: done within 5 s"
check "... every line ok, in order" in_order "$T/out10" 400 h
is "$(jqs "$T/s10" '[.servers[].answered | . > 100] | all')" true \
    "... both servers in use"
kill "$raw1_PID" "$raw2_PID" 2>/dev/null

done_testing
