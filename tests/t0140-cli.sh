# The command line: help, version, -H @FILE and the open-file limit.  The
# usage errors, each an exit 2 naming its option, are tests/data/05*.case.
. tests/lib.sh

"$SPLITGPT" --help >"$T/help" 2>&1
is "$?" 0 "--help exits 0"
check "--help shows usage and the exit statuses" \
    sh -c "grep -q '^usage: splitgpt' '$T/help' && grep -q 'Exit status' '$T/help'"
"$SPLITGPT" -V >"$T/version" 2>&1
is "$?" 0 "-V exits 0"
is "$(sed -n 1p "$T/version")" "splitgpt 0.1.0" "... and prints the version"
check "... then libcurl's, with its TLS library" \
    grep -Eq '^libcurl/[0-9.]+ [A-Za-z]+' "$T/version"
check "... then json-c's and zlib's" \
    grep -Eq '^json-c/[0-9.]+ zlib/[0-9.]+$' "$T/version"

# -H @file keeps secrets off the command line.
mock_start
printf '# comment\napi-key: from-a-file\n\nX-Other: 2\n' >"$T/headers"
printf '"h"\n' | sg -H @"$T/headers" --format content >"$T/h"
is "$(cat "$T/h")" '"echo: h"' "-H @FILE reads headers"

# -P up to 1024 and beyond: the open-file limit is raised as needed.
prompts 300 f >"$T/fin"
( ulimit -S -n 256 && sg -q -P 600 <"$T/fin" >"$T/fout" )
is "$?" 0 "-P 600 under a soft limit of 256 open files: the limit is raised"
is "$(wc -l <"$T/fout")" 300 "... and every line answered"
( ulimit -n 128 && sg -P 100 </dev/null >/dev/null 2>"$T/ferr" )
is "$?" 2 "a hard limit too low for -P: a usage error"
check "... that says what is needed" grep -q 'needs 264 open files' "$T/ferr"

# getopt's own errors, in splitgpt's words and under its name (not argv[0]'s),
# each one line that points to --help.
getopt_error() {
	want=$1
	shift
	"$SPLITGPT" "$@" </dev/null >/dev/null 2>"$T/e"
	is "$?:$(cat "$T/e")" "2:splitgpt: $want" "$* : $want"
}
getopt_error "--bogus: no such option; splitgpt --help lists them" --bogus
getopt_error "-Z: no such option; splitgpt --help lists them" -qZ
getopt_error "-P needs a value; see splitgpt --help" -P
getopt_error "--jobs needs a value; see splitgpt --help" --jobs
getopt_error "--resume takes no value; see splitgpt --help" --resume=yes
getopt_error "--max is ambiguous: it begins more than one option; see splitgpt --help" --max
"$SPLITGPT" --hel </dev/null >"$T/o" 2>&1
is "$?:$(head -c 15 "$T/o")" "0:usage: splitgpt" "an unambiguous abbreviation still works (--hel)"

done_testing
