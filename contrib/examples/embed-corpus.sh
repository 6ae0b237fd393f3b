#!/bin/sh
# embed-corpus.sh: embed the documents of a corpus through /v1/embeddings
# and write one JSON line {"id": ..., "embedding": [...]} per document, in
# input order.
#
#   embed-corpus.sh [-l] [-m MODEL] [-P JOBS] [-x CHARS] [FILE...]
#                   [-- SPLITGPT-OPTION...] > vectors.jsonl
#
#   embed-corpus.sh docs/*.md > docs.jsonl         # a document per file
#   embed-corpus.sh -l faq.txt > faq.jsonl         # a document per line
#   cut -f2 titles.tsv | embed-corpus.sh -- --rpm 3000 > titles.jsonl
#
# Each FILE is one document, its id the file name; with -l each non-blank
# line of each FILE is one, its id "FILE:N" (N the line number).  With no
# FILE the documents are the non-blank lines of standard input, their ids
# the line numbers ("1", "2", ...).  Empty documents are skipped.  Each
# becomes a Batch API request line (built with jq) for /v1/embeddings with
# model MODEL (default text-embedding-3-small), cut to its first CHARS
# characters (default 20000, about 5,000 tokens of English, under the
# model's 8,192; 0: no cut).  A document whose request failed gets
# {"id": ..., "embedding": null, "error": CODE} and the exit status is 1.
# Options after "--" go to splitgpt (e.g. -d '{"dimensions":256}').
# splitgpt is $SPLITGPT, else the one on PATH; it takes the key and server
# from OPENAI_API_KEY and OPENAI_BASE_URL.  Needs jq.
#
# One request per document keeps the example simple; the API also takes
# up to 2048 inputs in one request, which costs fewer round trips.
set -u
SPLITGPT=${SPLITGPT:-splitgpt}
lines=0
model=text-embedding-3-small
jobs=8
chars=20000

usage() {
	sed -n '6,7p' "$0" | sed 's/^#   //; 1s/^/usage: /' |
	    if [ "$1" = 0 ]; then cat; else cat >&2; fi
	exit "$1"
}

while getopts lm:P:x:h opt; do
	case $opt in
	l) lines=1 ;;
	m) model=$OPTARG ;;
	P) jobs=$OPTARG ;;
	x) chars=$OPTARG ;;
	h) usage 0 ;;
	*) usage 2 ;;
	esac
done
shift $((OPTIND - 1))
case $chars in '' | *[!0-9]*) usage 2 ;; esac
command -v jq >/dev/null || { echo "embed-corpus.sh: needs jq" >&2; exit 2; }

# The FILE operands come first, then "--" and splitgpt's options.
nfiles=0
for a do
	case $a in
	-) ;;
	-*) break ;;
	esac
	nfiles=$((nfiles + 1))
done
skip=$nfiles
i=0
for f do
	[ $i -lt "$nfiles" ] || break
	i=$((i + 1))
	case $f in -) continue ;; esac
	[ -f "$f" ] && [ -r "$f" ] && continue
	echo "embed-corpus.sh: $f: not a readable file" >&2
	exit 2
done
eval "[ \"\${$((nfiles + 1))-}\" = -- ]" && skip=$((nfiles + 1))

# requests FILE-OPERANDS...: the Batch API request lines.
requests() {
	if [ "$nfiles" -eq 0 ]; then
		lines_of - ""
		return
	fi
	i=0
	for f do
		[ $i -lt "$nfiles" ] || break
		i=$((i + 1))
		if [ "$lines" = 1 ]; then
			lines_of "$f" "$f:"
		else
			cat -- "$f" | jq -R -s -c --arg id "$f" --arg m "$model" \
			    --argjson x "$chars" '
			    select(test("\\S")) |
			    {custom_id: $id, method: "POST", url: "/v1/embeddings",
			     body: {model: $m,
				    input: (if $x > 0 then .[:$x] else . end)}}'
		fi
	done
}

# lines_of FILE PREFIX: a request per non-blank line, id PREFIX + N.
lines_of() {
	cat -- "$1" | jq -n -R -c --arg p "$2" --arg m "$model" \
	    --argjson x "$chars" '
	    foreach inputs as $l (0; . + 1;
		select($l | test("\\S")) |
		{custom_id: "\($p)\(.)", method: "POST", url: "/v1/embeddings",
		 body: {model: $m,
			input: (if $x > 0 then $l[:$x] else $l end)}})'
}

embed() {
	shift "$skip"
	"$SPLITGPT" -P "$jobs" "$@"
}

status=$(mktemp "${TMPDIR:-/tmp}/embed-corpus.XXXXXX") || exit 2
trap 'rm -f "$status"' EXIT
trap 'exit 130' INT TERM
{
	requests "$@" | embed "$@"
	echo $? >"$status"
} | jq -c 'if (.response.status_code // 0) == 200 then
	{id: .custom_id, embedding: .response.body.data[0].embedding}
    else
	{id: .custom_id, embedding: null,
	 error: (.error.code // .response.body.error.code //
		 "http_\(.response.status_code)")}
    end'
jqstatus=$?
s=$(cat "$status")
[ "${s:-4}" -ne 0 ] && exit "${s:-4}"
exit "$jqstatus"
