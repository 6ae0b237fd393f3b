# Rate limits: run at the provider's limit without tripping it.
. tests/lib.sh

# rate LOG [COST]: the achieved rate per minute in the mock's log, from
# the first request to the last (requests, or with COST a file of each
# key's token cost, tokens).
rate() {
	if [ $# -eq 1 ]; then
		awk -F'\t' 'NR == 1 { f = $1 } { l = $1 } END { printf "%.1f", (NR - 1) * 60000 / (l - f) }' "$1"
	else
		awk -F'\t' 'NR == FNR { cost[$1] = $2; next }
		    FNR == 1 { f = $1; next } { l = $1; t += cost[$3] }
		    END { printf "%.1f", t * 60000 / (l - f) }' "$2" "$1"
	fi
}
between() {
	awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'
}

# 600 a minute, enforced over 6 s windows (60 per 6 s).
mock_start --rpm 600 --rl-window 6 --log "$T/log1"
prompts 150 r >"$T/in"
sg -P 16 --rpm 540 <"$T/in" >"$T/out" 2>/dev/null
is "$?" 0 "--rpm 540 against a 600/min limit: every line ok"
is "$(mock_stats .rate_limited)" 0 "--rpm 540: no 429"
r=$(rate "$T/log1")
check "--rpm 540: achieved $r a minute, within 95-105% of 540" between "$r" 513 567
check "--rpm 540: the first requests are not a burst" \
    test "$(awk -F'\t' 'NR <= 10' "$T/log1" | awk -F'\t' 'NR == 1 { f = $1 } { l = $1 } END { print l - f }')" -ge 900

# Tokens: 30,000 a minute over 12 s windows; long and short prompts.
mock_stop
mock_start --tpm 30000 --rl-window 12 --log "$T/log2"
long=$(awk 'BEGIN { for (i = 0; i < 1200; i++) printf "w" }')
: >"$T/tin"
: >"$T/cost"
i=1
while [ $i -le 60 ]; do
	if [ $((i % 3)) -eq 0 ]; then
		p="long-$i $long"
	else
		p="short-$i lorem ipsum dolor sit amet ok"
	fi
	printf '{"prompt":"%s","id":"t%d","max_tokens":20}\n' "$p" $i >>"$T/tin"
	# The mock's charge: ceil(bytes / 4) + max_tokens.
	printf '%s\t%d\n' "$p" $(( (${#p} + 3) / 4 + 20 )) >>"$T/cost"
	i=$((i + 1))
done
sg -P 8 --tpm 27900 <"$T/tin" >"$T/tout" 2>/dev/null
is "$?" 0 "--tpm 27900 against a 30,000/min limit: every line ok"
is "$(mock_stats .rate_limited)" 0 "--tpm: no 429"
r=$(rate "$T/log2" "$T/cost")
check "--tpm: achieved $r tokens a minute, at least 90% of 30,000" between "$r" 27000 30000
