#!/bin/sh
# summarise-files.sh: summarise files named on standard input, one name a
# line, and write "FILE<TAB>SUMMARY" lines in the same order.
#
#   ... | summarise-files.sh [-m MODEL] [-P JOBS] [-s SYSTEM] [-x CHARS]
#                            [-- SPLITGPT-OPTION...] > summaries.tsv
#
#   find . -name '*.md' | summarise-files.sh > summaries.tsv
#   git ls-files '*.c' | summarise-files.sh -s 'What does this C file do?
#       Answer in one sentence.' -- --max-tokens 100
#
# Each file's content, cut to its first CHARS characters (default 50000,
# about 12,000 tokens of English; 0: no cut), is the user message, with
# the system message SYSTEM (default: a summary in one or two sentences)
# and model MODEL (default gpt-4o-mini).  The file name is the request's
# custom_id, so each summary is written beside its own file as soon as it
# and the ones before it are done.  Newlines and tabs in a summary become
# spaces.  Names that are not readable regular files, empty files and
# binary files (as grep -I sees them) are skipped with a warning; a file
# whose request failed gets an empty summary and makes the exit status 1,
# as does a name given twice.  File names may not hold newlines, and a tab
# in one makes the output ambiguous.  Options after "--" go to splitgpt.
# splitgpt is $SPLITGPT, else the one on PATH; it takes the key and server
# from OPENAI_API_KEY and OPENAI_BASE_URL.  Needs jq.
set -u
SPLITGPT=${SPLITGPT:-splitgpt}
model=gpt-4o-mini
jobs=8
chars=50000
system='Summarise the file the user sends in one or two sentences. Answer with the summary only.'

usage() {
	sed -n '5,6p' "$0" | sed 's/^#   //; 1s/^/usage: /' |
	    if [ "$1" = 0 ]; then cat; else cat >&2; fi
	exit "$1"
}

while getopts m:P:s:x:h opt; do
	case $opt in
	m) model=$OPTARG ;;
	P) jobs=$OPTARG ;;
	s) system=$OPTARG ;;
	x) chars=$OPTARG ;;
	h) usage 0 ;;
	*) usage 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1-}" = -- ] && shift
case $chars in '' | *[!0-9]*) usage 2 ;; esac
command -v jq >/dev/null || { echo "summarise-files.sh: needs jq" >&2; exit 2; }

# shellcheck disable=SC2094 # the files are only read
# A prompt object per file: {"prompt": CONTENT, "id": NAME}.
prompts() {
	while IFS= read -r f || [ -n "$f" ]; do
		[ -n "$f" ] || continue
		if [ ! -f "$f" ] || [ ! -r "$f" ]; then
			echo "summarise-files.sh: $f: not a readable file, skipped" >&2
		elif ! grep -Iq . "$f"; then
			echo "summarise-files.sh: $f: empty or binary, skipped" >&2
		else
			jq -R -s -c --arg id "$f" --argjson x "$chars" \
			    '{prompt: (if $x > 0 then .[:$x] else . end), id: $id}' \
			    <"$f"
		fi
	done
}

status=$(mktemp "${TMPDIR:-/tmp}/summarise-files.XXXXXX") || exit 2
trap 'rm -f "$status"' EXIT
trap 'exit 130' INT TERM
{
	prompts | "$SPLITGPT" -m "$model" -P "$jobs" --system "$system" "$@"
	echo $? >"$status"
} | jq -r '.custom_id + "\t" +
    ((.response.body.choices[0].message.content // "") |
     gsub("\\s+"; " ") | gsub("^ | $"; ""))'
jqstatus=$?
s=$(cat "$status")
[ "${s:-4}" -ne 0 ] && exit "${s:-4}"
exit "$jqstatus"
