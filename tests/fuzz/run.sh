#!/bin/sh
# tests/fuzz/run.sh: run the fuzz targets (make fuzz, make fuzz-regress).
#
#   sh tests/fuzz/run.sh run DIR SECONDS NAME...
#	Fuzz each target DIR/fuzz-NAME for SECONDS, one after the other,
#	on DIR/corpus-NAME (created from tests/fuzz/corpus/NAME, and kept,
#	so runs build on each other); the log is DIR/fuzz-NAME.log, crash
#	inputs go to DIR/artifacts/NAME-*.  Prints one line per target:
#	executions, exec/s, and libFuzzer's final cov, ft and corp (the
#	corpus it keeps), and crashes.
#	FUZZ_ARGS adds libFuzzer options (e.g. "-fork=1 -ignore_crashes=1"
#	to go on after a crash).  Exits 1 if any target crashed.
#
#   sh tests/fuzz/run.sh regress DIR NAME...
#	Run each target once over tests/fuzz/regressions/NAME-* and
#	tests/fuzz/corpus/NAME/* (the seeds in one process, each saved
#	crash input in its own), without fuzzing or writing to the source
#	tree.  Exits 1 if a target crashes, leaks or hangs on any of them.
set -u
SRC=tests/fuzz
mode=${1:?usage: run.sh run|regress DIR ...}
DIR=${2:?usage: run.sh run|regress DIR ...}
shift 2

# Per target: the largest input worth trying, and its dictionary.
max_len() {
	case $1 in
	headers) echo 256 ;;
	sse) echo 8192 ;;
	*) echo 4096 ;;
	esac
}
dict() {
	case $1 in
	jsoncheck|input|record) echo "-dict=$SRC/dict/json.dict" ;;
	sse) echo "-dict=$SRC/dict/sse.dict" ;;
	headers) echo "-dict=$SRC/dict/headers.dict" ;;
	esac
}

# The last value after "KEY" on a line of the log (libFuzzer's "#N" status
# lines, "cov: N ft: N corp: N/Nb ... exec/s: N", fork mode's "corp: N").
last_field() {
	awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) v = $(i + 1) }
	    END { sub("/.*", "", v); print v == "" ? "-" : v }' "$1"
}
# replay NAME LOG FILE...: run fuzz-NAME once over the files.
replay() {
	_n=$1
	_log=$2
	shift 2
	"$DIR/fuzz-$_n" -runs=1 -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix="$DIR/regress-$_n-" "$@" >"$_log" 2>&1
}
stat() {
	sed -n "s/^stat::$2: *//p" "$1" | tail -1
}

case $mode in
run)
	secs=${1:?usage: run.sh run DIR SECONDS NAME...}
	shift
	mkdir -p "$DIR/artifacts"
	printf '%-10s %12s %8s %6s %7s %7s %8s\n' target execs exec/s cov ft \
	    corpus crashes
	bad=0
	for n in "$@"; do
		log=$DIR/fuzz-$n.log
		mkdir -p "$DIR/corpus-$n"
		cp "$SRC/corpus/$n"/* "$DIR/corpus-$n/" 2>/dev/null
		stamp=$DIR/.stamp-$n
		: >"$stamp"
		# shellcheck disable=SC2046,SC2086
		"$DIR/fuzz-$n" -max_total_time="$secs" -max_len=$(max_len "$n") \
		    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		    -artifact_prefix="$DIR/artifacts/$n-" $(dict "$n") \
		    ${FUZZ_ARGS:-} "$DIR/corpus-$n" >"$log" 2>&1
		rc=$?
		execs=$(stat "$log" number_of_executed_units)
		[ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 |
		    tr -d '#')
		rate=$(stat "$log" average_exec_per_sec)
		[ -n "$rate" ] || rate=$(last_field "$log" exec/s:)
		[ -n "$rate" ] || rate=$(last_field "$log" exec/s)
		crashes=$(find "$DIR/artifacts" -name "$n-*" -newer "$stamp" \
		    -type f | wc -l)
		if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
			crashes=1	# died without an artifact
		fi
		[ "$crashes" -eq 0 ] || bad=1
		printf '%-10s %12s %8s %6s %7s %7s %8s\n' "$n" "${execs:--}" \
		    "${rate:--}" "$(last_field "$log" cov:)" \
		    "$(last_field "$log" ft:)" "$(last_field "$log" corp:)" \
		    "$crashes"
		if [ "$crashes" -ne 0 ]; then
			find "$DIR/artifacts" -name "$n-*" -newer "$stamp" \
			    -type f | sed 's/^/    crash input: /'
			grep -m 3 -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: )|runtime error' \
			    "$log" | sed 's/^/    /'
			echo "    log: $log"
		fi
		rm -f "$stamp"
	done
	exit $bad
	;;
regress)
	bad=0
	for n in "$@"; do
		# The seeds in one process; each saved crash input in its own,
		# so every one that still crashes is named.
		set --
		for f in "$SRC/corpus/$n"/*; do
			[ -f "$f" ] && set -- "$@" "$f"
		done
		failed=
		runs=0
		if [ $# -gt 0 ]; then
			runs=$#
			replay "$n" "$DIR/regress-$n.log" "$@" ||
			    failed="$failed $DIR/regress-$n.log"
		fi
		for f in "$SRC/regressions/$n-"*; do
			[ -f "$f" ] || continue
			runs=$((runs + 1))
			replay "$n" "$DIR/regress-${f##*/}.log" "$f" ||
			    failed="$failed $DIR/regress-${f##*/}.log"
		done
		[ "$runs" -gt 0 ] || continue
		if [ -z "$failed" ]; then
			printf 'fuzz-regress: %-10s %3d inputs ok\n' "$n" "$runs"
			continue
		fi
		bad=1
		printf 'fuzz-regress: %-10s FAILED\n' "$n"
		for log in $failed; do
			grep -E '^Running: ' "$log" | tail -1 | sed 's/^/    /'
			grep -E '^fuzz: |runtime error|ERROR: (Address|Leak)Sanitizer|ERROR: libFuzzer: (timeout|out-of-memory|fuzz target exited)|^    #[0-9]+ .* in .*/(src|tests/fuzz)/' \
			    "$log" | head -8 | sed 's/^/    /'
			echo "    log: $log"
		done
	done
	exit $bad
	;;
*)
	echo "usage: run.sh run|regress DIR ..." >&2
	exit 2
	;;
esac
