# Progress on a terminal, nothing of it elsewhere; the summary, --stats and
# --joblog agree with each other and with the mock's own counts.
. tests/lib.sh
mock_start --latency 30 --seed 9 --fault 500:0.1

prompts 300 g >"$T/in"
# Under a real pseudo-terminal: stderr is the terminal.
SG_ARGS="--base-url $MOCK_URL -P 8 --backoff-max 0.05"
timeout 120 script -qec "$SPLITGPT $SG_ARGS <'$T/in' >'$T/out'" "$T/tty" >/dev/null 2>&1
is "$(wc -l <"$T/out")" 300 "under a terminal: the output is whole"
check "the progress line is drawn with carriage returns" grep -q "$(printf '\r')splitgpt: " "$T/tty"
check "it shows done/total and percent (the total counted up front)" grep -q '/300 [0-9.]*%' "$T/tty"
check "it shows lines per second" grep -q 'lines/s' "$T/tty"
check "it shows an ETA" grep -q 'ETA ' "$T/tty"
check "it shows ok / failed / retried" grep -q 'ok [0-9]* failed [0-9]* retried [0-9]*' "$T/tty"
check "it shows tokens in and out" grep -q 'tokens [0-9.k]* in [0-9.k]* out' "$T/tty"
check "the line is cleared at the end" grep -q "$(printf '\r\033\\[K')" "$T/tty"
check "the summary follows" grep -q 'splitgpt: 300 lines: 300 ok' "$T/tty"

# In an 80-column terminal (tmux): the line fits in one row, each redraw
# overwrites it, and a warning gets a row of its own above it.
if command -v tmux >/dev/null 2>&1; then
	mock_reset
	{ prompts 150 w; echo '{bad'; prompts 250 v; } >"$T/win"
	sock="$T/tmux"
	tmux -S "$sock" new-session -d -x 80 -y 24 \
	    "$SPLITGPT $SG_ARGS <'$T/win' >'$T/wout' 2>/dev/tty; touch '$T/wdone'; sleep 30"
	_pids="$_pids $(tmux -S "$sock" display -p '#{pane_pid}' 2>/dev/null)"
	wait_for 200 0.05 '[ "$(mock_stats .requests)" -ge 200 ]'
	tmux -S "$sock" capture-pane -p >"$T/pane1"
	wait_for 600 0.05 '[ -e "$T/wdone" ]'
	tmux -S "$sock" capture-pane -p >"$T/pane2"
	tmux -S "$sock" kill-server 2>/dev/null
	# The line is drawn last, so it is the pane's last row unless it
	# wrapped (a warning above it may wrap: it is drawn once).
	check "80 columns: the progress line fits in a row" \
	    sh -c "grep . '$T/pane1' | tail -n 1 | grep -q '^splitgpt: [0-9]*/401 .* lines/s'"
	is "$(grep -c ' lines/s' "$T/pane1")" 1 "... and redraws do not add rows"
	check "... with the time labelled (ETA or elapsed)" grep -Eq '\| (ETA|elapsed) ' "$T/pane1"
	check "a warning gets a row of its own, not glued onto the line" \
	    grep -q '^splitgpt: line 151: invalid JSON' "$T/pane2"
	is "$(wc -l <"$T/wout")" 401 "... and the output is whole"
	# Prompts typed at the terminal: it says how they end.
	tmux -S "$sock" new-session -d -x 120 -y 10 \
	    "$SPLITGPT --base-url $MOCK_URL --no-progress >'$T/tout'; touch '$T/tdone'; sleep 30"
	wait_for 100 0.05 'tmux -S "$sock" capture-pane -p | grep -q "reading prompts"'
	tmux -S "$sock" capture-pane -p >"$T/pane3"
	tmux -S "$sock" send-keys '"typed"' Enter C-d
	wait_for 100 0.05 '[ -e "$T/tdone" ]'
	tmux -S "$sock" kill-server 2>/dev/null
	check "reading from the terminal: it says so, and that ^D ends the prompts" \
	    grep -q 'splitgpt: reading prompts from the terminal, a request per line; ^D ends them' "$T/pane3"
	is "$(jq -r .custom_id "$T/tout" 2>/dev/null)" line-1 "... and the typed line is answered"
else
	skip 7 "no tmux here"
fi

# Not a terminal: no progress drawing, only the summary.
mock_reset
sg -P 8 --backoff-max 0.05 --joblog "$T/jl" --stats "$T/stats.json" \
    --price-in 0.15 --price-out 0.60 <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 0 "exit 0"
check "no progress line when stderr is not a terminal" sh -c "! grep -q \"\$(printf '\r')\" '$T/err' && ! grep -q 'lines/s |' '$T/err'"
check "a summary on stderr" grep -q '^splitgpt: 300 lines: 300 ok, 0 failed; [0-9]* retries' "$T/err"
check "the summary has latency percentiles" grep -q 'latency p50 [0-9.]* s, p95 [0-9.]* s, max' "$T/err"
check "and an estimated cost" grep -q 'estimated cost \$' "$T/err"
# --stats against the mock's counts.
is "$(jq -r .lines "$T/stats.json")" 300 "--stats: lines"
is "$(jq -r '.requests' "$T/stats.json")" "$(mock_stats .requests)" \
    "--stats: requests = what the mock received"
is "$(jq -r '.lines_sent + .retries' "$T/stats.json")" "$(mock_stats .requests)" \
    "--stats: lines sent and their retries, the same"
check "the summary counts the requests as the mock did" \
    grep -q "; $(mock_stats .requests) requests\$" "$T/err"
is "$(jq -r .retries "$T/stats.json")" "$(mock_stats '.by_status["500"]')" \
    "--stats: every retry answers one of the mock's 500s"
is "$(jq -r .prompt_tokens "$T/stats.json")" \
    "$(jq -s 'map(.response.body.usage.prompt_tokens) | add' "$T/out")" \
    "--stats: prompt tokens add up to the records' usage"
is "$(jq -r .completion_tokens "$T/stats.json")" \
    "$(jq -s 'map(.response.body.usage.completion_tokens) | add' "$T/out")" \
    "--stats: completion tokens too"
check "--stats: cost = tokens x prices" sh -c "jq -e '(.cost - (.prompt_tokens * 0.15 + .completion_tokens * 0.6) / 1e6) | fabs < 1e-6' '$T/stats.json' >/dev/null"
check "--stats: the parent's peak RSS" sh -c "jq -e '.parent_max_rss_kb > 0' '$T/stats.json' >/dev/null"

# (-q: tests/data/1005-quiet.case)
script -qec "$SPLITGPT $SG_ARGS --no-progress <'$T/in' >/dev/null" "$T/tty2" >/dev/null 2>&1
check "--no-progress: no progress line even on a terminal" sh -c "! grep -q 'req/s' '$T/tty2'"

# --joblog: a header, then one line per record, nine columns.
is "$(head -1 "$T/jl")" "$(printf 'Seq\tCustomId\tStarttime\tJobRuntime\tAttempts\tStatus\tError\tPromptTokens\tCompletionTokens\tFirstToken')" \
    "--joblog: the header"
is "$(tail -n +2 "$T/jl" | wc -l)" 300 "--joblog: one line per line"
is "$(tail -n +2 "$T/jl" | awk -F'\t' 'NF != 10' | wc -l)" 0 "--joblog: ten columns each"
is "$(tail -n +2 "$T/jl" | cut -f10 | sort -u)" "-" "--joblog: no first-token time when not streamed"
is "$(tail -n +2 "$T/jl" | cut -f1 | sort -n | tr '\n' ' ' | md5sum)" \
    "$(seq 1 300 | tr '\n' ' ' | md5sum)" "--joblog: every sequence number once"
is "$(tail -n +2 "$T/jl" | awk -F'\t' '{ s += $5 - 1 } END { print s }')" \
    "$(jq -r .retries "$T/stats.json")" "--joblog: attempts agree with the retries"
is "$(tail -n +2 "$T/jl" | sort -n | cut -f2 | head -3 | tr '\n' ' ')" "g-1 g-2 g-3 " \
    "--joblog: custom_ids"
is "$(tail -n +2 "$T/jl" | cut -f6 | sort -u)" 200 "--joblog: statuses"

done_testing
