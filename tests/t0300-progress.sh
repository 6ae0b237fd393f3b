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
check "it shows requests per second" grep -q 'req/s' "$T/tty"
check "it shows an ETA" grep -q 'ETA ' "$T/tty"
check "it shows ok / failed / retried" grep -q 'ok [0-9]* failed [0-9]* retried [0-9]*' "$T/tty"
check "it shows tokens in and out" grep -q 'tokens [0-9.k]* in [0-9.k]* out' "$T/tty"
check "the line is cleared at the end" grep -q "$(printf '\r\033\\[K')" "$T/tty"
check "the summary follows" grep -q 'splitgpt: 300 lines: 300 ok' "$T/tty"

# Not a terminal: no progress drawing, only the summary.
mock_reset
sg -P 8 --backoff-max 0.05 --joblog "$T/jl" --stats "$T/stats.json" \
    --price-in 0.15 --price-out 0.60 <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 0 "exit 0"
check "no progress line when stderr is not a terminal" sh -c "! grep -q \"\$(printf '\r')\" '$T/err' && ! grep -q 'req/s' '$T/err'"
check "a summary on stderr" grep -q '^splitgpt: 300 lines: 300 ok, 0 failed; [0-9]* retries' "$T/err"
check "the summary has latency percentiles" grep -q 'latency p50 [0-9.]* s, p95 [0-9.]* s, max' "$T/err"
check "and an estimated cost" grep -q 'estimated cost \$' "$T/err"
# --stats against the mock's counts.
is "$(jq -r .lines "$T/stats.json")" 300 "--stats: lines"
is "$(jq -r '.requests + .retries' "$T/stats.json")" "$(mock_stats .requests)" \
    "--stats: requests + retries = what the mock received"
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
