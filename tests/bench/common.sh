# tests/bench/common.sh: what the benchmark scripts share.  Sourced by
# bash once the script has set BENCH_NAME (its name in messages):
#
#   . "$(dirname "$0")/common.sh"
#   bench_setup "${1:-}" "${2:-}" TOOL...
#
# bench_setup makes SPLITGPT and MOCK absolute paths (default build/...)
# and checks them, checks each TOOL is installed, creates OUT (BENCH_OUT,
# default build/bench) and a scratch TMP (the script removes it), and
# sets a made-up OPENAI_API_KEY (the mock does not check it; peers send
# the same header) with no OPENAI_BASE_URL.  usdiff and calc do the
# arithmetic on times.
# shellcheck shell=bash disable=SC2034 # what it sets is for the caller
set -u
export LC_ALL=C

die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}
say() {
	printf '# %s\n' "$*" >&2
}
abspath() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s/%s\n' "$PWD" "$1" ;;
	esac
}

# usdiff T0 T1: seconds between two $EPOCHREALTIME values, to the microsecond
usdiff() {
	local a=${1/./} b=${2/./} d
	d=$((10#$b - 10#$a))
	printf '%d.%06d\n' $((d / 1000000)) $((d % 1000000))
}

# calc AWK-EXPRESSION [FORMAT]
calc() {
	awk "BEGIN { printf \"${2:-%.3f}\", $1 }"
}

bench_setup() {
	local t
	SPLITGPT=$(abspath "${1:-build/splitgpt}")
	MOCK=$(abspath "${2:-build/mock}")
	shift 2
	[ -x "$SPLITGPT" ] || die "no splitgpt at $SPLITGPT (run make)"
	[ -x "$MOCK" ] || die "no mock at $MOCK (run make build/mock)"
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || die "needs $t"
	done
	OUT=$(abspath "${BENCH_OUT:-build/bench}")
	mkdir -p "$OUT" || die "cannot create $OUT"
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/splitgpt-$BENCH_NAME.XXXXXX") || die "mktemp"
	OPENAI_API_KEY=sk-bench-0000000000000000
	export OPENAI_API_KEY
	unset OPENAI_BASE_URL
}
