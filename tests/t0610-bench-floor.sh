# The benchmark's floor client (tests/bench/floor.c) does what its header
# says: every body posted once, every answer written as one line, and an
# exit status that tells a failed request apart.  The benchmark trusts its
# figures, so it must not quietly drop or repeat a request.
. tests/lib.sh
: "${FLOOR:=$TOP/${BUILD:-build}/floor}"
# A latency, so the workers' requests overlap and the mock sees them so.
mock_start --latency 100
port=${MOCK_ROOT##*:}
# bodies N: N chat request bodies, p-1 to p-N
bodies() {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
	    printf "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"p-%d\"}]}\n", i }'
}
# answers FILE: distinct "echo: p-K" answers in FILE
answers() {
	grep -o 'echo: p-[0-9]*' "$1" | sort -u | wc -l | tr -d ' '
}

check "the floor client is built" test -x "$FLOOR"

# modes MODE: the checks each mode must pass ("plain", or "-c", whose
# workers make their calls with libcurl; $c is the option, or nothing).
modes() {
	m=$1
	c=
	[ "$m" = plain ] || c=$m
	bodies 40 >"$T/in"
	mock_reset
	timeout -k 5 60 "$FLOOR" $c 4 "$port" <"$T/in" >"$T/out" 2>"$T/err"
	is "$?" 0 "$m: 40 bodies over 4 workers: exit 0"
	is "$(wc -l <"$T/out" | tr -d ' ')" 40 "$m: one line per body"
	is "$(answers "$T/out")" 40 "$m: every body answered, none twice"
	is "$(mock_stats .requests)" 40 "$m: the mock saw each request once"
	inflight=$(mock_stats .max_in_flight)
	check "$m: more than one at a time, at most four ($inflight)" \
	    test "$inflight" -gt 1 -a "$inflight" -le 4

	bodies 3 >"$T/in"
	timeout -k 5 60 "$FLOOR" $c 8 "$port" <"$T/in" >"$T/out" 2>"$T/err"
	is "$?:$(answers "$T/out")" 0:3 \
	    "$m: more workers than bodies: exit 0, every body answered"

	{ bodies 2; echo '{"model":"m","messages":"not a list"}'; } >"$T/in"
	timeout -k 5 60 "$FLOOR" $c 2 "$port" <"$T/in" >"$T/out" 2>"$T/err"
	is "$?:$(wc -l <"$T/out" | tr -d ' ')" 1:3 \
	    "$m: a request the server refuses: exit 1, its answer still a line"

	timeout -k 5 60 "$FLOOR" $c 2 "$port" </dev/null >"$T/out" 2>"$T/err"
	is "$?" 0 "$m: no bodies: nothing to post, exit 0"
	echo x | timeout -k 5 60 "$FLOOR" $c 2 1 >"$T/out" 2>"$T/err"
	is "$?" 1 "$m: nothing listening: exit 1"
}

modes plain
check "... and it says why" grep -q 'connect: ' "$T/err"
modes -c
# libcurl's words (curl_easy_strerror), not the socket code's
check "... and libcurl says why" grep -q "Couldn't connect to server" "$T/err"

timeout -k 5 60 "$FLOOR" 0 "$port" </dev/null >"$T/out" 2>"$T/err"
is "$?" 2 "P of 0: a usage error"
timeout -k 5 60 "$FLOOR" -x 2 "$port" </dev/null >"$T/out" 2>"$T/err"
is "$?" 2 "an unknown option: a usage error"

done_testing
