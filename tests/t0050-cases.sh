# The data-driven cases: each tests/data/*.case (the format is in
# tests/data/README) is one splitgpt run against the mock, with its input,
# options and mock behaviour, and the exit status, records, standard error
# and mock counters it must give.  One check per expectation, each named
# after the case's title.  CASES='tests/data/01*.case' runs some of them.
. tests/lib.sh

: "${CASES:=tests/data/*.case}"
: "${SG_TIMEOUT:=120}"
SECTIONS='title keywords mock env options argv stdin stdin-sh status filter'
SECTIONS="$SECTIONS records stdout assert stderr stderr-not stderr-count"
SECTIONS="$SECTIONS stderr-only mock-stats seconds"
# the sections of lines where blank lines and # comments are skipped
LIST_SECTIONS='keywords env assert stderr stderr-not stderr-count'
LIST_SECTIONS="$LIST_SECTIONS stderr-only mock-stats seconds"

# bad FILE REASON: a case that cannot be run is one failing check.
bad() {
	ok 1 "$1: $2"
}

# parse FILE DIR: split the case file into DIR/SECTION files; check its
# shape.  Prints the reason and fails if the file is malformed.
parse() {
	awk -v dir="$2" -v sections=" $SECTIONS " -v lists=" $LIST_SECTIONS " '
	function fail(msg) { print "line " NR ": " msg; bad = 1; exit 1 }
	/^--- / {
		name = substr($0, 5)
		if (index(sections, " " name " ") == 0)
			fail("unknown section \"" name "\"")
		if (name in seen)
			fail("section \"" name "\" twice")
		seen[name] = 1
		if (cur != "")
			close(cur)
		cur = dir "/" name
		list = index(lists, " " name " ") > 0
		printf "" >cur
		next
	}
	/^---/ { fail("a line starting \"---\" that is no section header") }
	cur == "" && (/^#/ || /^[ \t]*$/) { next }
	cur == "" { fail("text before the first section") }
	list && (/^#/ || /^[ \t]*$/) { next }
	{ print >cur }
	END { if (!bad && cur == "") { print "no sections"; exit 1 } }' "$1" ||
	    return 1
	_d=$2
	if [ ! -s "$_d/title" ] || [ "$(wc -l <"$_d/title")" -ne 1 ]; then
		echo "needs a title of one line"
		return 1
	fi
	grep -Eqx '[0-9]+' "$_d/status" 2>/dev/null ||
	    { echo "needs a status: one number"; return 1; }
	for p in 'options argv' 'stdin stdin-sh'; do
		_x=${p% *} _y=${p#* }
		if [ -f "$_d/$_x" ] && [ -f "$_d/$_y" ]; then
			echo "has both $_x and $_y"
			return 1
		fi
	done
	if [ -f "$_d/filter" ] && [ ! -f "$_d/records" ]; then
		echo "has a filter but no records"
		return 1
	fi
	for s in mock options argv; do
		[ -f "$_d/$s" ] || continue
		sh -n -c "set -- $(tr '\n' ' ' <"$_d/$s")" >/dev/null 2>&1 ||
		    { echo "$s: not a shell word list"; return 1; }
	done
	if [ -f "$_d/records" ] && ! jq -c . "$_d/records" >"$_d/want" 2>/dev/null
	then
		echo "records: not JSON values"
		return 1
	fi
	if [ -f "$_d/env" ] && ! sh -n -c "export $(grep -v '^-' "$_d/env" |
	    tr '\n' ' ')" >/dev/null 2>&1; then
		echo "env: a line that is not NAME=WORD"
		return 1
	fi
	if [ -f "$_d/env" ] && grep -Evq '^(-[A-Za-z_][A-Za-z0-9_]*|[A-Za-z_][A-Za-z0-9_]*=.*)$' "$_d/env"; then
		echo "env: a line that is neither NAME=WORD nor -NAME"
		return 1
	fi
	if [ -f "$_d/stderr-count" ] && grep -Evq '^[0-9]+ ' "$_d/stderr-count"; then
		echo "stderr-count: a line that is not 'N PATTERN'"
		return 1
	fi
	if [ -f "$_d/seconds" ] && grep -Evq '^(<|>=) [0-9]+$' "$_d/seconds"; then
		echo "seconds: a line that is not '< N' or '>= N'"
		return 1
	fi
	return 0
}

# show FILE: a file's first lines as TAP comments.
show() {
	head -c 2000 "$1" | head -n "${2:-10}" | sed 's/^/#   /'
}

# compare WHAT GOT WANT: the line counts (and, for stdout, the bytes),
# then line by line.
compare() {
	_g=$(wc -l <"$2")
	_w=$(wc -l <"$3")
	if [ "$1" = records ]; then
		is "$_js:$_g" "0:$_w" "$title: $_w records, all JSON"
		[ "$_js" -eq 0 ] || show "$d/jqerr"
		[ "$_g" -eq "$_w" ] || { diag "records:"; show "$2"; }
	else
		check "$title: stdout is $_w lines, byte for byte" cmp -s "$2" "$3"
		if [ "$_g" -ne "$_w" ]; then
			diag "stdout is $_g lines:"
			show "$2"
		fi
	fi
	_i=1
	while [ "$_i" -le "$_w" ]; do
		is "$(sed -n "${_i}p" "$2")" "$(sed -n "${_i}p" "$3")" \
		    "$title: ${1%s} $_i"
		_i=$((_i + 1))
	done
}

# run_case DIR: run one parsed case, against the mock now running.
run_case() {
	d=$1
	title=$(cat "$d/title")
	diag "$(cat "$d/file")"
	mock_reset
	if [ -f "$d/stdin" ]; then
		cp "$d/stdin" "$d/in"
	elif [ -f "$d/stdin-sh" ]; then
		# in a shell of its own, with lib.sh's helpers, bounded in time
		if ! MOCK_URL=$MOCK_URL MOCK_ROOT=$MOCK_ROOT \
		    MOCK_RAW_URL=$MOCK_RAW_URL timeout -k 5 60 sh -c \
		    '. tests/lib.sh && eval "$(cat "$1")"' sh "$d/stdin-sh" \
		    >"$d/in" 2>"$d/in.err"; then
			bad "$(cat "$d/file")" "stdin-sh fails"
			show "$d/in.err"
			return
		fi
	else
		: >"$d/in"
	fi
	_start=$(date +%s)
	# The case's words are expanded under timeout(1) too, in a shell that
	# then becomes splitgpt.
	SPLITGPT=$SPLITGPT MOCK_URL=$MOCK_URL MOCK_ROOT=$MOCK_ROOT \
	    MOCK_RAW_URL=$MOCK_RAW_URL T=$T \
	    timeout -k 5 "$SG_TIMEOUT" sh -c '
		d=$1
		if [ -f "$d/env" ]; then
			while IFS= read -r _l; do
				case $_l in
				-*) unset "${_l#-}" ;;
				*) eval "export $_l" ;;
				esac
			done <"$d/env"
		fi
		if [ -f "$d/argv" ]; then
			eval "set -- $(tr "\n" " " <"$d/argv")"
		elif [ -f "$d/options" ]; then
			eval "set -- --base-url \"\$MOCK_URL\" $(tr "\n" " " <"$d/options")"
		else
			set -- --base-url "$MOCK_URL"
		fi
		exec "$SPLITGPT" "$@"' sh "$d" <"$d/in" >"$d/out" 2>"$d/err"
	_st=$?
	_secs=$(( $(date +%s) - _start ))
	curl -s --max-time 10 "$MOCK_ROOT/stats" >"$d/stats"

	want=$(cat "$d/status")
	if ! is "$_st" "$want" "$title: exit $want"; then
		diag "stderr:"
		show "$d/err"
	fi
	if [ -f "$d/records" ]; then
		if [ -f "$d/filter" ]; then
			jq -c -f "$d/filter" "$d/out" >"$d/got" 2>"$d/jqerr"
		else
			jq -c 'del(.id)' "$d/out" >"$d/got" 2>"$d/jqerr"
		fi
		_js=$?
		compare records "$d/got" "$d/want"
	fi
	[ -f "$d/stdout" ] && compare stdout "$d/out" "$d/stdout"
	if [ -f "$d/assert" ]; then
		while IFS= read -r _a; do
			if jq -e -s "$_a" "$d/out" >/dev/null 2>"$d/jqerr"; then
				ok 0 "$title: $_a"
			else
				ok 1 "$title: $_a"
				show "$d/jqerr" 3
			fi
		done <"$d/assert"
	fi
	check "$title: the key is in no output" \
	    sh -c '! grep -qF -e "$1" "$2" "$3"' sh "$OPENAI_API_KEY" \
	    "$d/out" "$d/err"
	if [ -f "$d/stderr" ]; then
		while IFS= read -r _p; do
			check "$title: stderr has /$_p/" grep -q -e "$_p" "$d/err" ||
			    show "$d/err"
		done <"$d/stderr"
	fi
	if [ -f "$d/stderr-not" ]; then
		while IFS= read -r _p; do
			check "$title: stderr has no /$_p/" \
			    sh -c '! grep -q -e "$1" "$2"' sh "$_p" "$d/err" ||
			    show "$d/err"
		done <"$d/stderr-not"
	fi
	if [ -f "$d/stderr-count" ]; then
		while IFS= read -r _l; do
			_c=${_l%% *} _p=${_l#* }
			is "$(grep -c -e "$_p" "$d/err")" "$_c" \
			    "$title: stderr has $_c lines /$_p/" || show "$d/err"
		done <"$d/stderr-count"
	fi
	if [ -f "$d/stderr-only" ]; then
		grep -v -f "$d/stderr-only" "$d/err" >"$d/err.other"
		check "$title: stderr has nothing else" test ! -s "$d/err.other" ||
		    show "$d/err.other"
	fi
	if [ -f "$d/mock-stats" ]; then
		while IFS= read -r _a; do
			check "$title: mock $_a" \
			    sh -c 'jq -e "$1" "$2" >/dev/null 2>&1' sh "$_a" \
			    "$d/stats" ||
			    diag "stats: $(jq -c 'del(.keys)' "$d/stats" 2>&1 | head -c 600)"
		done <"$d/mock-stats"
	fi
	if [ -f "$d/seconds" ]; then
		while read -r _o _s; do
			case $_o in
			'<') check "$title: took less than $_s s ($_secs)" \
			    test "$_secs" -lt "$_s" ;;
			'>=') check "$title: took $_s s or more ($_secs)" \
			    test "$_secs" -ge "$_s" ;;
			esac
		done <"$d/seconds"
	fi
}

# Parse every case; index the good ones by their mock options, so that
# the cases that want the same mock share one (reset between them).
mkdir "$T/cases"
k=0
: >"$T/index"
for f in $CASES; do
	[ -f "$f" ] || continue
	k=$((k + 1))
	d="$T/cases/$k"
	mkdir "$d"
	echo "$f" >"$d/file"
	if ! parse "$f" "$d" >"$d/why" 2>&1; then
		bad "$f" "malformed: $(head -1 "$d/why")"
		continue
	fi
	m=
	[ -f "$d/mock" ] && m=$(tr '\t\n' '  ' <"$d/mock")
	printf '%s\t%s\n' "$m" "$d" >>"$T/index"
done
check "there are cases ($k)" test "$k" -gt 0

cut -f1 "$T/index" | awk '!seen[$0]++' >"$T/mocks"
while IFS= read -r m; do
	M=$m awk -F'\t' '$1 == ENVIRON["M"] { print $2 }' "$T/index" >"$T/group"
	if eval "mock_try_start $m"; then
		while IFS= read -r d; do
			run_case "$d" </dev/null
		done <"$T/group"
		mock_stop
	else
		while IFS= read -r d; do
			bad "$(cat "$d/file")" "the mock does not start with: $m"
		done <"$T/group"
		show "$T/mock.log"
	fi
done <"$T/mocks"

done_testing
