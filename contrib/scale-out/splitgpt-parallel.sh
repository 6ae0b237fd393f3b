#!/bin/sh
# splitgpt-parallel.sh: run splitgpt on several hosts at once with GNU
# parallel, the rate limit shared out between them, the output in input
# order.  See README.md beside this script.
#
#   splitgpt-parallel.sh [-S SSHLOGINS]... [-a FILE] [--block SIZE]
#       [-P JOBS] [--rpm TOTAL] [--tpm TOTAL] [--add-ids] [--outdir DIR]
#       [--dry-run] [-- SPLITGPT-OPTION...] [< input.jsonl] > output.jsonl
#
#   splitgpt-parallel.sh -S host1,host2,2/host3 -a in.jsonl --rpm 9000 \
#       -P 16 --add-ids -- -m gpt-4o-mini > out.jsonl
#
# The input (FILE, split in place with --pipepart, else standard input
# with --pipe) is cut into blocks of about SIZE bytes (default 1M) at line
# ends; each block goes to `splitgpt -P JOBS ...` on one of the hosts, and
# parallel -k writes the outputs in block order.  SSHLOGINS is parallel's
# --sshlogin list: ":" is this machine (the default), "N/host" runs N
# splitgpt processes on host at once (default 1 each).  --rpm and --tpm
# are the totals for the whole run; each of the S processes that run at
# once gets TOTAL/S.  --add-ids first gives every line that names no
# custom_id the id "line-N", N its line number in the whole input (the
# line-N ids splitgpt makes up count from the start of each block).
# --outdir DIR writes each block's records to DIR/chunk-K.jsonl with
# --resume (DIR must be the same path on every host: local, or a shared
# file system), so running the same command again sends only the lines
# that failed; the blocks are then written out in order at the end.
# Options after "--" go to splitgpt.  splitgpt is $SPLITGPT (the same path
# on every host), else "splitgpt" on each host's PATH.  OPENAI_BASE_URL is
# passed on; OPENAI_API_KEY is not (see README.md).  Other parallel options
# can go in $PARALLEL (not -j: it would override N/host).  --dry-run prints
# the parallel command.  Exit status: parallel's, that is 0 when every
# line succeeded, else the number of blocks whose splitgpt exited non-zero
# (101 for more than 100), or 255 for other errors, this script's own
# usage errors included.
set -u
me=splitgpt-parallel.sh
SPLITGPT=${SPLITGPT:-splitgpt}
logins=
file=
block=
jobs=
rpm=
tpm=
addids=0
outdir=
dryrun=0

usage() {
	sed -n '6,8p' "$0" | sed 's/^#   //; 1s/^/usage: /' |
	    if [ "$1" = 0 ]; then cat; else cat >&2; fi
	exit "$1"
}
die() {
	echo "$me: $*" >&2
	exit 255
}
# need OPTION ARGC: the option has its argument.
need() {
	[ "$2" -ge 2 ] || die "$1 needs an argument"
}

while [ $# -gt 0 ]; do
	case $1 in
	-S | --sshlogin) need "$1" $#; logins="$logins${logins:+,}$2"; shift 2 ;;
	-a | --arg-file) need "$1" $#; file=$2; shift 2 ;;
	--block) need "$1" $#; block=$2; shift 2 ;;
	-P | --jobs) need "$1" $#; jobs=$2; shift 2 ;;
	--rpm) need "$1" $#; rpm=$2; shift 2 ;;
	--tpm) need "$1" $#; tpm=$2; shift 2 ;;
	--outdir) need "$1" $#; outdir=$2; shift 2 ;;
	--add-ids) addids=1; shift ;;
	--dry-run) dryrun=1; shift ;;
	--) shift; break ;;
	-h | --help) usage 0 ;;
	*) die "unknown option $1 (splitgpt's options go after --)" ;;
	esac
done
command -v parallel >/dev/null || die "needs GNU parallel"
[ -z "$file" ] || [ -f "$file" ] || die "$file: not a regular file"

# The sshlogins, each with its number of processes ("N/"), and S.
logins=$(printf '%s\n' "${logins:-:}" | tr ',' '\n' | awk '
	/^[ \t]*$/ { next }
	{
		n = 1
		if (match($0, /^[0-9]+\//)) {
			n = substr($0, 1, RLENGTH - 1) + 0
			$0 = substr($0, RLENGTH + 1)
		}
		if (n < 1) { print "bad" ; exit }
		if ($0 in seen) { print "dup " $0; exit }
		seen[$0] = 1
		s += n
		out = out (out == "" ? "" : ",") n "/" $0
	}
	END { print s " " out }')
case $logins in
dup\ *) die "${logins#dup } is listed twice: give it once, as N/host for N processes" ;;
bad | 0*) die "bad --sshlogin list" ;;
esac
slots=${logins%% *}
logins=${logins#* }

# share TOTAL: TOTAL/slots, to the thousandth.
share() {
	awk -v t="$1" -v s="$slots" 'BEGIN {
		if (t !~ /^[0-9]*\.?[0-9]+$/ || t / s < 0.001) exit 1
		v = sprintf("%.3f", t / s)
		sub(/\.?0+$/, "", v)
		print v
	}'
}
set -- ${jobs:+-P "$jobs"} "$@"
if [ -n "$tpm" ]; then
	each=$(share "$tpm") || die "--tpm $tpm: not a number of at least 0.001 per process"
	set -- --tpm "$each" "$@"
fi
if [ -n "$rpm" ]; then
	each=$(share "$rpm") || die "--rpm $rpm: not a number of at least 0.001 per process"
	set -- --rpm "$each" "$@"
fi
if [ -n "$outdir" ]; then
	mkdir -p "$outdir" || exit 255
	outdir=$(cd "$outdir" && pwd) || exit 255
	set -- -o "$outdir/chunk-{#}.jsonl" --resume "$@"
fi
echo "$me: $slots splitgpt process(es) at once on $logins; each: $*" >&2

# Every line lacking a custom_id gets "line-N", N its line number in the
# whole input; blank lines go, lines that are not JSON stay as they are.
# shellcheck disable=SC2016 # a jq program
idjq='foreach inputs as $l (0; . + 1;
	($l | try fromjson catch null) as $v |
	if ($l | test("^[ \t\r]*$")) then empty
	elif ($v | type) == "string" then {prompt: $v, custom_id: "line-\(.)"} | tojson
	elif ($v | type) == "object" and ($v | has("custom_id") | not)
	then $v + {custom_id: "line-\(.)"} | tojson
	else $l end)'

tmp=
trap '[ -z "$tmp" ] || rm -f "$tmp"' EXIT
trap 'exit 130' INT TERM
if [ "$addids" = 1 ] && [ -n "$file" ]; then
	command -v jq >/dev/null || die "--add-ids needs jq"
	if [ "$dryrun" = 1 ]; then
		tmp=NUMBERED.jsonl
		printf "jq -n -R -r '%s' <'%s' >%s\n" \
		    "$(printf '%s' "$idjq" | tr -s '\n\t' '  ')" "$file" "$tmp"
		file=$tmp
		tmp=
	else
		tmp=$(mktemp "${TMPDIR:-/tmp}/splitgpt-parallel.XXXXXX") ||
		    exit 255
		jq -n -R -r "$idjq" <"$file" >"$tmp" || exit 255
		file=$tmp
	fi
fi

# Prepend to splitgpt's options the command, then parallel's options.
set -- "$SPLITGPT" "$@"
if [ -n "$file" ]; then
	set -- --pipepart -a "$file" "$@"
else
	set -- --pipe "$@"
fi
[ -z "${OPENAI_BASE_URL:-}" ] || set -- --env OPENAI_BASE_URL "$@"
[ -z "$outdir" ] || set -- --joblog "$outdir/joblog" "$@"
set -- parallel ${block:+--block "$block"} --keep-order --quote \
    -S "$logins" "$@"

if [ "$dryrun" = 1 ]; then
	[ "$addids" = 0 ] || [ -n "$file" ] || printf "jq -n -R -r '%s' | " \
	    "$(printf '%s' "$idjq" | tr -s '\n\t' '  ')"
	for a do
		case $a in
		*[!A-Za-z0-9_./:,=@%+-]*)
			printf "'%s' " "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")" ;;
		*) printf '%s ' "$a" ;;
		esac
	done
	echo
	exit 0
fi

if [ "$addids" = 1 ] && [ -z "$file" ]; then
	command -v jq >/dev/null || die "--add-ids needs jq"
	# parallel's status, not jq's, through the pipe.
	st=$(mktemp "${TMPDIR:-/tmp}/splitgpt-parallel.XXXXXX") || exit 255
	tmp=$st
	jq -n -R -r "$idjq" | { "$@"; echo $? >"$st"; }
	status=$(cat "$st")
else
	"$@"
	status=$?
fi
if [ -n "$outdir" ]; then
	# The blocks' records, in order: one joblog line per block.
	n=$(($(wc -l <"$outdir/joblog") - 1))
	k=1
	while [ $k -le $n ]; do
		cat "$outdir/chunk-$k.jsonl" || status=255
		k=$((k + 1))
	done
fi
exit "${status:-255}"
