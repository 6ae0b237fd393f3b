#!/bin/sh
# batch-roundtrip.sh: run an OpenAI Batch API input file here and now, and
# finish it: a Batch API input file goes in, a Batch API output file comes
# out (one record per line, in input order), and the lines that failed are
# sent again with --resume until none is left or ROUNDS runs are done.
#
#   batch-roundtrip.sh [-r ROUNDS] [-w SECONDS] [-e ERRORS.jsonl]
#                      [BATCH_INPUT.jsonl | -] [BATCH_OUTPUT.jsonl]
#                      [-- SPLITGPT-OPTION...]
#
#   batch-roundtrip.sh batch_input.jsonl      # -> batch_input.output.jsonl
#   batch-roundtrip.sh -r 5 -e errors.jsonl in.jsonl out.jsonl -- -P 32
#
# Each round is `splitgpt -o OUTPUT --resume < INPUT`, shown on standard
# error with its figures: the successes already in OUTPUT are kept without
# being sent, every other line is sent (again).  Run the script again
# after an interruption and it goes on where it stopped; the records are
# in OUTPUT.partial meanwhile, and OUTPUT is only ever replaced whole.
# ROUNDS defaults to 3, with SECONDS (default 10) between them; a run that
# halted (exit 3: a rejected key, no quota) is not repeated.  At the end
# the custom_ids that still failed are listed, and with -e their records
# are also written to ERRORS, as the Batch API's error file.  The input
# is standard input when it is "-" or not given (it is then kept in a
# temporary file, to be read once per round; the output defaults to
# batch_output.jsonl).  Exit status: 0 when every line succeeded, 1 when
# some failed, else splitgpt's.  Options after "--" go to splitgpt.
# splitgpt is $SPLITGPT, else the one on PATH; it takes the key and server
# from OPENAI_API_KEY and OPENAI_BASE_URL.  Needs jq.
set -u
SPLITGPT=${SPLITGPT:-splitgpt}
rounds=3
wait=10
errors=

usage() {
	sed -n '7,9p' "$0" | sed 's/^#   //; 1s/^/usage: /' |
	    if [ "$1" = 0 ]; then cat; else cat >&2; fi
	exit "$1"
}

while getopts r:w:e:h opt; do
	case $opt in
	r) rounds=$OPTARG ;;
	w) wait=$OPTARG ;;
	e) errors=$OPTARG ;;
	h) usage 0 ;;
	*) usage 2 ;;
	esac
done
shift $((OPTIND - 1))
case $rounds in '' | *[!0-9]* | 0) usage 2 ;; esac
in=-
out=
case ${1-} in -?*) ;; ?*) in=$1; shift ;; esac
case ${1-} in -?*) ;; ?*) out=$1; shift ;; esac
[ "${1-}" = -- ] && shift
command -v jq >/dev/null || { echo "batch-roundtrip.sh: needs jq" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/batch-roundtrip.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
if [ "$in" = - ]; then
	cat >"$tmp/input.jsonl" || exit 2
	in=$tmp/input.jsonl
	: "${out:=batch_output.jsonl}"
fi
[ -n "$out" ] || out=${in%.jsonl}.output.jsonl
[ -r "$in" ] || { echo "batch-roundtrip.sh: $in: cannot read" >&2; exit 2; }

show() {
	printf '$ %s\n' "$*" >&2
}

# What the input holds: lines by endpoint.
jq -R -r 'fromjson? | objects | .url // "(no url)"' <"$in" | sort | uniq -c |
    while read -r n url; do
	echo "batch-roundtrip.sh: $url: $n lines" >&2
done

r=1
while :; do
	resume=
	[ -e "$out" ] || [ -e "$out.partial" ] && resume=--resume
	rm -f "$tmp/stats"
	show "$SPLITGPT" -o "$out" $resume "$@" "<" "$in"
	"$SPLITGPT" -q -o "$out" $resume --stats "$tmp/stats" "$@" <"$in"
	status=$?
	[ -s "$tmp/stats" ] && jq -r --arg r "$r" '"round \($r): \(.ok) of \(.lines) lines ok (\(.reused) kept from before, \(.requests) requests sent), \(.failed) failed"' \
	    "$tmp/stats" >&2
	if [ "$status" -ne 1 ] || [ "$r" -ge "$rounds" ]; then
		break
	fi
	r=$((r + 1))
	echo "batch-roundtrip.sh: sending the failed lines again in $wait s" >&2
	sleep "$wait"
done

case $status in
0 | 1 | 3) ;;
*) exit "$status" ;;
esac
fail='select(((.response.status_code // 0) / 100 | floor) != 2 or .error != null)'
jq -r "$fail"' | "batch-roundtrip.sh: failed: \(.custom_id): \(.error.code // .response.status_code)"' \
    "$out" >&2
[ -z "$errors" ] || jq -c "$fail" "$out" >"$errors" || exit 2
echo "batch-roundtrip.sh: the Batch API output file is $out" >&2
exit "$status"
