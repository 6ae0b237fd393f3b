# A 10,000 request run through a fault mix where every line still ends
# ok.  What is retried and what is not, one line at a time, are the cases
# tests/data/02*.case.
. tests/lib.sh

# The fault mix: 10,000 requests, 5% 500s, 5% 429s with Retry-After: 1,
# 2% connection resets, 1% hangs (with a 1 s timeout).
mock_start --seed 5 --fault 500:0.05 --fault 429:0.05:retry-after=1 \
    --fault reset:0.02 --fault hang:0.01 --hang 5
prompts 10000 fm >"$T/in"
# -P 32, not more: on two loaded cores a 1 s timeout could otherwise cut
# a healthy answer, which then (rightly) counts as sent again.
sg -P 32 --timeout 1 --retries 5 <"$T/in" >"$T/out" 2>"$T/err"
is "$?" 0 "fault mix: exit 0"
check "fault mix: every line ends ok, in order" in_order "$T/out" 10000 fm
check "fault mix: no prompt sent more than 1 + --retries times" \
    test "$(mock_stats .max_sent)" -le 6
is "$(mock_stats .max_after_ok)" 0 "fault mix: none sent again after it succeeded"
check "fault mix: the faults really happened" \
    test "$(mock_stats '.faults.http + .faults.reset + .faults.hang')" -gt 1000
diag "fault mix: $(mock_stats '"\(.requests) requests for 10000 lines, max \(.max_sent) per prompt, faults \(.faults | tostring)"')"

done_testing
