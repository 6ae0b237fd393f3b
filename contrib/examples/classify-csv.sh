#!/bin/sh
# classify-csv.sh: label every row of a CSV file with a model, and write
# the CSV back with the label as a new last column.
#
#   classify-csv.sh [-c COLUMN] [-l LABELS] [-n NAME] [-s SYSTEM] [-m MODEL]
#                   [-P JOBS] [FILE.csv | -] [-- SPLITGPT-OPTION...]
#
#   classify-csv.sh -c review -l positive,negative,neutral reviews.csv \
#       > labelled.csv
#   classify-csv.sh -l spam,ham - -- --max-tokens 5 < mail.csv > out.csv
#
# The first line is the header.  The text of column COLUMN (a header name,
# default "text", or a 1-based number) of each row is sent as the user
# message, with a system message (SYSTEM, or one asking for exactly one of
# LABELS, default positive,negative,neutral), through
# `splitgpt --format content`.  The answer becomes the new column NAME
# (default "label"): an answer equal to one of LABELS but for case,
# surrounding spaces, quotes or a final full stop is written as that label,
# any other answer as it came (newlines and tabs made spaces), and a row
# whose request failed gets an empty label and makes the exit status 1.
# Options after "--" go to splitgpt (use "-" for standard input before
# them).  splitgpt is $SPLITGPT, else the one on PATH; it takes the key
# and server from OPENAI_API_KEY and OPENAI_BASE_URL.  Needs jq and awk.
#
# CSV as in RFC 4180: comma-separated fields, optionally in double quotes,
# "" for a quote inside quotes.  A quoted field may span lines (its
# newlines become spaces in the prompt).  The rows are written back as
# they were with ",LABEL" added (the label quoted when it holds a comma, a
# quote, or a leading or trailing space); CRLF line ends become LF.
# Blank lines are copied and not sent.  Not handled: separators other
# than the comma (convert first, e.g. `mlr --icsv --ifs ';' --ocsv cat`),
# a header that spans lines, a quote in the middle of an unquoted field
# (taken literally) or a quoted field never closed (it runs to the end of
# the file).  The whole file is kept in a temporary directory.
set -u
SPLITGPT=${SPLITGPT:-splitgpt}
column=text
labels=positive,negative,neutral
name=label
system=
model=gpt-4o-mini
jobs=8

usage() {
	sed -n '5,6p' "$0" | sed 's/^#   //; 1s/^/usage: /' |
	    if [ "$1" = 0 ]; then cat; else cat >&2; fi
	exit "$1"
}

while getopts c:l:n:s:m:P:h opt; do
	case $opt in
	c) column=$OPTARG ;;
	l) labels=$OPTARG ;;
	n) name=$OPTARG ;;
	s) system=$OPTARG ;;
	m) model=$OPTARG ;;
	P) jobs=$OPTARG ;;
	h) usage 0 ;;
	*) usage 2 ;;
	esac
done
shift $((OPTIND - 1))
file=-
case ${1-} in
-) shift ;;
-?*) ;;
?*) file=$1; shift ;;
esac
[ "${1-}" = -- ] && shift
[ -n "$system" ] || system="Classify the text the user sends. \
Answer with exactly one of these labels and nothing else: \
$(printf '%s' "$labels" | sed 's/,/, /g')."
command -v jq >/dev/null || { echo "classify-csv.sh: needs jq" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/classify-csv.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
cat -- "$file" >"$tmp/in.csv" || exit 2

# shellcheck disable=SC2016 # the backquote in norm() is literal
# mode=extract: the COLUMN text of each data row, one per line.
# mode=paste: each record again with "," and its label from $labfile.
AWK='
function parse(s,   n, f, i) {
	n = 0
	for (;;) {
		f = ""
		if (substr(s, 1, 1) == "\"") {
			s = substr(s, 2)
			for (;;) {
				i = index(s, "\"")
				if (i == 0) { f = f s; s = ""; break }
				f = f substr(s, 1, i - 1)
				s = substr(s, i + 1)
				if (substr(s, 1, 1) != "\"") break
				f = f "\""
				s = substr(s, 2)
			}
		}
		i = index(s, ",")
		if (i == 0) { F[++n] = f s; return n }
		F[++n] = f substr(s, 1, i - 1)
		s = substr(s, i + 1)
	}
}
function norm(s) {
	s = tolower(s)
	gsub(/^[ \t"'\''`*]+|[ \t"'\''`*.]+$/, "", s)
	return s
}
function csvq(s) {
	if (s !~ /[",\r\n]|^[ \t]|[ \t]$/) return s
	gsub(/"/, "\"\"", s)
	return "\"" s "\""
}
BEGIN {
	nl = split(labels, L, ",")
	for (i = 1; i <= nl; i++) canon[norm(L[i])] = L[i]
}
{
	sub(/\r$/, "")
	rec = $0
	t = rec
	q = gsub(/"/, "", t)
	while (q % 2 == 1 && (getline more) > 0) {
		sub(/\r$/, "", more)
		rec = rec "\n" more
		t = more
		q += gsub(/"/, "", t)
	}
	n = parse(rec)
	if (++nrec == 1) {
		sub(/^\357\273\277/, "", F[1])
		col = 0
		if (column ~ /^[1-9][0-9]*$/) col = column + 0
		else for (i = 1; i <= n; i++) if (F[i] == column) col = i
		if (col == 0) {
			print "classify-csv.sh: no column \"" column "\" in the header" > "/dev/stderr"
			exit 2
		}
		if (mode == "paste") print rec "," csvq(name)
		next
	}
	if (rec ~ /^[ \t]*$/) {
		if (mode == "paste") print rec
		next
	}
	if (mode == "extract") {
		f = col <= n ? F[col] : ""
		gsub(/[\r\n]+/, " ", f)
		print f
		next
	}
	if ((getline ans < labfile) <= 0) ans = ""
	k = norm(ans)
	if (k in canon) ans = canon[k]
	print rec "," csvq(ans)
}'

awk -v mode=extract -v column="$column" -v labels="$labels" "$AWK" \
    "$tmp/in.csv" >"$tmp/texts" || exit 2
# One JSON string per row: never a blank line, so answers line up.
jq -R -c . <"$tmp/texts" >"$tmp/prompts" || exit 2
"$SPLITGPT" -m "$model" -P "$jobs" --system "$system" --format content \
    "$@" <"$tmp/prompts" >"$tmp/answers"
status=$?
case $status in
0 | 1 | 3) ;;
*) exit "$status" ;;
esac
if [ "$(wc -l <"$tmp/answers")" -ne "$(wc -l <"$tmp/prompts")" ]; then
	echo "classify-csv.sh: the answers do not line up with the rows" >&2
	exit 4
fi
jq -r '(. // "") | gsub("[\r\n\t]+"; " ")' <"$tmp/answers" >"$tmp/labels" ||
    exit 2
awk -v mode=paste -v column="$column" -v labels="$labels" -v name="$name" \
    -v labfile="$tmp/labels" "$AWK" "$tmp/in.csv" || exit 2
exit "$status"
