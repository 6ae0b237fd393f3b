#!/bin/sh
# splitgpt-batch.sh: send a Batch API request file through the OpenAI Batch
# API (half the price, answers within 24 hours) and write one splitgpt
# record per line, in input order, ready for `splitgpt --resume`.
#
#   splitgpt-batch.sh [-o FILE] [-i SECONDS] [-w SECONDS] [--base-url URL]
#                     [--batch ID] [--delete] REQUESTS.jsonl
#
#   splitgpt --emit-requests < prompts.jsonl > requests.jsonl
#   splitgpt-batch.sh -o answers.jsonl requests.jsonl
#   splitgpt --resume -o answers.jsonl < requests.jsonl   # the rest, now
#
# REQUESTS.jsonl holds one {"custom_id","method":"POST","url","body"} a
# line (what `splitgpt --emit-requests` writes); every line must have the
# same url, which is the batch's endpoint, and its own custom_id.  The
# script uploads the file (purpose "batch"), creates the batch (window
# 24h), and polls it every SECONDS (-i, default 30) with its status and
# request counts on standard error, for at most -w SECONDS (default 90000,
# 25 hours).  Then it downloads the output and error files and writes to
# standard output (or to FILE with -o, replaced whole) a record for every
# line, in input order: the output file's record for an answered line, the
# error file's for a failed one, and for a line in neither (expired, or a
# batch that failed or was cancelled) a record with "response":null and
# an error whose code is batch_expired or not_answered.  `splitgpt
# --resume -o FILE` on the same requests keeps the successes and sends the
# rest.  --batch ID polls and collects a batch created before (say after
# -w ran out) instead of creating one; --delete deletes the three files
# from the server at the end.  Exit status: 0 when every line succeeded,
# 1 when some did not, 2 on an error (bad usage or input, an API error,
# no result within -w).  The key is OPENAI_API_KEY; it reaches curl
# through a file, never on a command line.  The server is --base-url,
# else OPENAI_BASE_URL, else https://api.openai.com/v1.  Needs curl, jq.
set -eu
me=splitgpt-batch.sh
out=
interval=30
maxwait=90000
base=${OPENAI_BASE_URL:-https://api.openai.com/v1}
batch=
delete=0

usage() {
	sed -n '6,7p' "$0" | sed 's/^#   //; 1s/^/usage: /' |
	    if [ "$1" = 0 ]; then cat; else cat >&2; fi
	exit "$1"
}
die() {
	echo "$me: $*" >&2
	exit 2
}
need_arg() {
	[ "$2" -gt 1 ] || die "$1 needs a value"
}

while [ $# -gt 0 ]; do
	case $1 in
	-o | --output) need_arg "$1" $#; out=$2; shift ;;
	-i | --interval) need_arg "$1" $#; interval=$2; shift ;;
	-w | --max-wait) need_arg "$1" $#; maxwait=$2; shift ;;
	--base-url) need_arg "$1" $#; base=$2; shift ;;
	--base-url=*) base=${1#*=} ;;
	--batch) need_arg "$1" $#; batch=$2; shift ;;
	--delete) delete=1 ;;
	-h | --help) usage 0 ;;
	--) shift; break ;;
	-?*) echo "$me: unknown option $1" >&2; usage 2 ;;
	*) break ;;
	esac
	shift
done
[ $# = 1 ] || usage 2
in=$1
case $interval in '' | *[!0-9]*) die "-i: '$interval' is not a number of seconds" ;; esac
case $maxwait in '' | *[!0-9]*) die "-w: '$maxwait' is not a number of seconds" ;; esac
base=${base%/}
for cmd in curl jq; do
	command -v "$cmd" >/dev/null || die "needs $cmd"
done
[ -n "${OPENAI_API_KEY:-}" ] || die "OPENAI_API_KEY is not set"
if [ ! -f "$in" ] || [ ! -r "$in" ]; then die "$in: not a readable file"; fi

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/splitgpt-batch.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# The key goes to curl in a header file (printf is a shell builtin: no
# process ever has the key in its argv).
printf 'Authorization: Bearer %s\n' "$OPENAI_API_KEY" >"$tmp/auth"

# api METHOD PATH [CURL-ARG...]: the answer's body in $tmp/body; an HTTP
# error (or none) is returned as 1 with its message in $tmp/why.
api() {
	m=$1 p=$2
	shift 2
	http=$(curl -sS -X "$m" -H @"$tmp/auth" --connect-timeout 30 \
	    --max-time 3600 -o "$tmp/body" -w '%{http_code}' "$@" \
	    "$base$p" 2>"$tmp/why") || http=000
	case $http in
	2??) return 0 ;;
	000) ;;
	*) { printf 'HTTP %s: ' "$http"
	     jq -r '.error.message // empty' "$tmp/body" 2>/dev/null ||
	     head -c 300 "$tmp/body"; } >"$tmp/why" ;;
	esac
	return 1
}
# must METHOD PATH [CURL-ARG...]: api, or die saying what failed.
must() {
	api "$@" || die "$1 $base$2: $(tr '\n' ' ' <"$tmp/why")"
}

# --- the input: one custom_id and one url a line ----------------------
grep -v '^[[:space:]]*$' "$in" >"$tmp/requests" || true
[ -s "$tmp/requests" ] || die "$in: no requests"
# (read as text, line by line, so that an error names its line)
jq -R -r 'input_line_number as $n | select(test("^[[:space:]]*$") | not) |
	(try fromjson catch null) as $o |
	if ($o | type) == "object" and ($o.custom_id | type) == "string" and
	   ($o.url | type) == "string"
	then "\($o.custom_id | @json)\t\($o.url)"
	else error("line \($n): not a Batch API request (a JSON object " +
	    "with the strings custom_id and url)") end' \
    "$in" >"$tmp/ids-urls" 2>"$tmp/why" ||
	die "$in: $(head -n 1 "$tmp/why" | sed 's/^jq: error (at [^)]*): //')"
cut -f 1 "$tmp/ids-urls" >"$tmp/ids"
endpoint=$(cut -f 2- "$tmp/ids-urls" | sort -u)
case $endpoint in
*'
'*) die "$in: the lines have different urls ($(echo "$endpoint" | tr '\n' ' ')); one batch has one endpoint" ;;
esac
dup=$(sort "$tmp/ids" | uniq -d | head -n 1)
[ -z "$dup" ] || die "$in: the custom_id $dup is on more than one line"
lines=$(wc -l <"$tmp/ids" | tr -d ' ')

# --- upload and create, unless resuming a batch -----------------------
if [ -z "$batch" ]; then
	# (the file's name as curl -F can carry it)
	name=$(basename "$in" | tr -c 'A-Za-z0-9._\n-' '_')
	must POST /files -F purpose=batch \
	    -F "file=@$tmp/requests;filename=$name"
	file=$(jq -r .id "$tmp/body")
	echo "$me: uploaded $in ($lines requests) as $file" >&2
	jq -n --arg f "$file" --arg e "$endpoint" '{input_file_id: $f,
	    endpoint: $e, completion_window: "24h",
	    metadata: {description: "splitgpt-batch.sh"}}' >"$tmp/create"
	must POST /batches -H 'Content-Type: application/json' \
	    --data-binary @"$tmp/create"
	batch=$(jq -r .id "$tmp/body")
	echo "$me: created $batch; to collect it later: $me --batch $batch $in" >&2
fi

# --- poll, within -w seconds -------------------------------------------
start=$(date +%s)
polls=0
last=
status=
while :; do
	polls=$((polls + 1))
	if api GET "/batches/$batch"; then
		status=$(jq -r .status "$tmp/body")
		now=$(jq -r '"\(.status): \(.request_counts.completed // 0) of \(.request_counts.total // 0) done, \(.request_counts.failed // 0) failed"' "$tmp/body")
		[ "$now" = "$last" ] || echo "$me: $batch $now" >&2
		last=$now
		case $status in completed | expired | failed | cancelled) break ;; esac
	else
		# A refusal (a wrong key, no such batch) stays one; a server
		# or network error may pass: poll again.
		case $http in 4??) [ "$http" = 429 ] || must GET "/batches/$batch" ;; esac
		echo "$me: $batch: poll failed: $(tr '\n' ' ' <"$tmp/why")" >&2
	fi
	elapsed=$(($(date +%s) - start))
	if [ "$elapsed" -ge "$maxwait" ] || [ "$polls" -ge 1000000 ]; then
		die "$batch is still ${status:-of unknown status} after ${elapsed}s (-w $maxwait): collect it later with: $me --batch $batch $in"
	fi
	[ "$interval" = 0 ] || sleep "$interval"
done
cp "$tmp/body" "$tmp/batch"
if [ "$status" = failed ]; then
	jq -r '.errors.data[]? | "\(.line // "-"): \(.code): \(.message)"' \
	    "$tmp/batch" | sed "s/^/$me: $batch failed: line /" >&2
fi

# --- download, and join by custom_id in input order --------------------
: >"$tmp/answered"
for kind in output error; do
	id=$(jq -r ".${kind}_file_id // empty" "$tmp/batch")
	[ -n "$id" ] || continue
	must GET "/files/$id/content"
	# One line per record: its custom_id as JSON, 1 for a success (2xx,
	# no error) else 0, and the record as received (byte for byte), with
	# tabs between.  The output file's come first.
	jq -r '(.response.status_code? // 0) as $s | "\(.custom_id |
	    @json)\t\(if $s >= 200 and $s < 300 and .error == null then 1
	    else 0 end)"' \
	    "$tmp/body" >"$tmp/cids" ||
	    die "the $kind file of $batch is not JSON lines"
	grep -v '^[[:space:]]*$' "$tmp/body" | paste "$tmp/cids" - \
	    >>"$tmp/answered"
	if [ "$delete" = 1 ]; then api DELETE "/files/$id" || true; fi
done
if [ "$delete" = 1 ]; then
	id=$(jq -r '.input_file_id // empty' "$tmp/batch")
	[ -z "$id" ] || api DELETE "/files/$id" || true
fi
code=not_answered
msg="The batch ended ($status) without answering this request."
if [ "$status" = expired ]; then
	code=batch_expired
	msg='This request could not be executed before the completion window expired.'
fi
dest=/dev/stdout
[ -z "$out" ] || dest=$out.tmp
awk -v code="$code" -v msg="$msg" -v batch="$batch" -v stats="$tmp/stats" '
	FILENAME == ARGV[1] {
		t = index($0, "\t")
		id = substr($0, 1, t - 1)
		if (!(id in rec)) {
			ok[id] = substr($0, t + 1, 1) == "1"
			rec[id] = substr($0, t + 3)
		}
		next
	}
	{
		if ($0 in rec) {
			print rec[$0]
			if (ok[$0]) good++; else bad++
		} else {
			printf "{\"id\":\"batch_req_%s_%d\",\"custom_id\":%s," \
			    "\"response\":null,\"error\":{\"code\":\"%s\"," \
			    "\"message\":\"%s\"}}\n", substr(batch, 7), FNR, $0,
			    code, msg
			none++
		}
	}
	END { printf "%d %d %d\n", good, bad, none > stats }
' "$tmp/answered" "$tmp/ids" >"$dest"
[ -z "$out" ] || mv "$out.tmp" "$out"
read -r good bad none <"$tmp/stats"
echo "$me: $lines lines: $good answered, $bad failed, $none not answered ($status)" >&2
[ "$good" = "$lines" ]
