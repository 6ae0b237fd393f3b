# The documentation agrees with the program: the man page names every
# option, exit status and error code the program has (and no others), its
# SYNOPSIS is usage(), it is lint-clean, its marked examples run against the
# mock; the README's set-up command installs what CI installs; the shell
# completions know every option.
. tests/lib.sh

MAN=man/splitgpt.1
"$SPLITGPT" --help >"$T/help" 2>&1
is "$?" 0 "--help exits 0"

# The long options --help lists, one per line: "--jobs" from the option
# lines ("  -P, --jobs N ..." or "      --system TEXT ...").
sed -n 's/^ \{1,\}\(-[A-Za-z], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\2/p' \
    "$T/help" | sort -u >"$T/help.long"
# "P --jobs" pairs: the short options and their long forms.
sed -n 's/^ \{1,\}-\([A-Za-z]\), \(--[a-z][a-z0-9-]*\).*/\1 \2/p' \
    "$T/help" | sort -u >"$T/help.pairs"
check "--help lists at least 20 long options" \
    test "$(wc -l <"$T/help.long")" -ge 20

# The long options the man page marks up, written "Fl \-name".
grep -o 'Fl \\-[a-z][a-z0-9-]*' "$MAN" | sed 's/^Fl \\-/--/' | sort -u \
    >"$T/man.long"

# in_file FILE WORD: WORD occurs in FILE, not as part of a longer option.
in_file() {
	grep -Eq -- "$2([^a-z0-9-]|\$)" "$1"
}

missing=
for o in $(cat "$T/help.long"); do
	name=${o#--}
	grep -Eq "^\.It .*Fl \\\\-$name([^a-z0-9-]|\$)" "$MAN" ||
	    missing="$missing $o"
done
is "$missing" "" "every long option in --help has an .It entry in the man page"

extra=$(comm -13 "$T/help.long" "$T/man.long" | tr '\n' ' ')
is "$extra" "" "every long option in the man page exists (is in --help)"

missing=
while read -r s l; do
	grep -Eq "^\.It Fl $s( |\$).*Fl \\\\-${l#--}([^a-z0-9-]|\$)" "$MAN" ||
	    missing="$missing -$s/$l"
done <"$T/help.pairs"
is "$missing" "" "each short option is listed with its long form (.It Fl X ..., Fl \\-long)"

extra=
for s in $(sed -n 's/^\.It Fl \([A-Za-z]\)\( .*\)\{0,1\}$/\1/p' "$MAN"); do
	grep -q "^$s " "$T/help.pairs" || extra="$extra -$s"
done
is "$extra" "" "every short option in the man page's list is in --help"

# SYNOPSIS: the same flags as usage_text (the --help lines before the first
# blank line), and rendered, the same words.
sed '/^$/q' "$T/help" >"$T/usage"
flags() {
	# One flag per line from "-hqVv", "-P", "--text" words.
	while read -r w; do
		case $w in
		--*) echo "$w" ;;
		-*) printf '%s\n' "${w#-}" | fold -w 1 | sed 's/^/-/' ;;
		esac
	done | sort -u
}
grep -o '\[--*[A-Za-z][A-Za-z0-9-]*' "$T/usage" | tr -d '[' | flags \
    >"$T/usage.flags"
sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' "$MAN" |
awk '{ for (i = 1; i < NF; i++) if ($i == "Fl") print $(i + 1) }' |
    sed 's/^\\-/--/; s/^\([A-Za-z]\)/-\1/' | flags >"$T/syn.flags"
is "$(tr '\n' ' ' <"$T/syn.flags")" "$(tr '\n' ' ' <"$T/usage.flags")" \
    "the man page SYNOPSIS has the flags of usage()"

if command -v mandoc >/dev/null 2>&1; then
	bs=$(printf '\b')
	mandoc -Tascii -O width=300 "$MAN" | sed "s/.$bs//g" |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' |
	    tr -s ' \n' '  ' | sed 's/^ //; s/ $//' >"$T/syn.text"
	sed 's/^usage: //' "$T/usage" | tr -s ' \n' '  ' |
	    sed 's/^ //; s/ $//' >"$T/usage.text"
	is "$(cat "$T/syn.text")" "$(cat "$T/usage.text")" \
	    "the man page SYNOPSIS renders as usage() reads"

	# Only the "manual not found" kind may remain, which depends on the
	# machine's manual database, not on this page.
	mandoc -Tlint -W warning "$MAN" 2>&1 |
	    grep -v 'not found\|mandoc\.db' >"$T/lint"
	is "$(cat "$T/lint")" "" "mandoc -Tlint -W warning is clean"
	mandoc -Tutf8 "$MAN" >/dev/null 2>&1
	is "$?" 0 "the man page renders"
else
	ok 0 "# SKIP mandoc is not installed: SYNOPSIS rendering"
	ok 0 "# SKIP mandoc is not installed: lint"
fi
if command -v man >/dev/null 2>&1; then
	# man -l formats with whatever the system has (groff with man-db),
	# which is stricter about over-long lines than mandoc.
	MANWIDTH=80 man -l "$MAN" >"$T/man.out" 2>"$T/man.err"
	st=$?
	check "man -l renders the page, with no warnings (status $st)" \
	    sh -c "[ $st -eq 0 ] && [ ! -s '$T/man.err' ] &&
	        grep -q 'EXIT STATUS' '$T/man.out'"
	[ -s "$T/man.err" ] && sed 's/^/# /' "$T/man.err" | head -5
else
	ok 0 "# SKIP man is not installed"
fi

# EXIT STATUS: the statuses --help lists and the man page's .It numbers.
sed -n '/^Exit status:/,$p' "$T/help" | sed 's/^Exit status://' |
    tr '\n' ' ' | tr ';' '\n' | sed -n 's/^ *\([0-9][0-9]*\) .*/\1/p' |
    sort -n >"$T/help.exit"
sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' "$MAN" |
    sed -n 's/^\.It \([0-9][0-9]*\)$/\1/p' | sort -n >"$T/man.exit"
check "--help lists exit statuses" test -s "$T/help.exit"
is "$(tr '\n' ' ' <"$T/man.exit")" "$(tr '\n' ' ' <"$T/help.exit")" \
    "EXIT STATUS lists exactly the statuses --help lists"

# Error codes: every name in src/record.c's errnames is in the man page's
# table of codes, and the table names no other.
sed -n 's/^[[:space:]]*\[ERR_[A-Z_]*\] = "\([a-z_]*\)",.*/\1/p' src/record.c |
    grep -vx none | sort >"$T/codes"
sed -n '/^\.Sh OUTPUT FORMAT/,/^\.Sh /p' "$MAN" |
    sed -n 's/^\.It Cm \([a-z_]*\)$/\1/p' | sort >"$T/man.codes"
check "src/record.c has error codes" test "$(wc -l <"$T/codes")" -ge 10
is "$(comm -23 "$T/codes" "$T/man.codes" | tr '\n' ' ')" "" \
    "every error code is in the man page's table"
is "$(comm -13 "$T/codes" "$T/man.codes" | tr '\n' ' ')" "" \
    "the man page's table names no code the program lacks"

# EXAMPLES: each literal block right after a '.\" test' line is a shell
# script.  They run in order in one directory holding the files they name,
# against the mock, and each must exit 0 or 1 and produce output (on
# standard output or in a file).
mkdir "$T/ex" "$T/work" "$T/bin"
awk -v dir="$T/ex" '
	$0 == ".\\\" test" { want = 1; next }
	want && /^\.Bd -literal/ { n++; inblock = 1; want = 0
		f = sprintf("%s/%02d.sh", dir, n); next }
	want { printf "marker before a line that is not .Bd -literal: %s\n", \
		$0; bad = 1; want = 0 }
	inblock && /^\.Ed/ { inblock = 0; close(f); next }
	inblock {
		gsub(/\\e/, "\001")
		gsub(/\\-/, "-")
		gsub(/\\\(aq/, "\047")
		gsub(/\\\(dq/, "\"")
		gsub(/\\&/, "")
		gsub(/\001/, "\\\\")
		print >f
	}
	END { exit bad }' "$MAN" >"$T/ex.err"
is "$?" 0 "every '.\\\" test' marker comes right before a literal block"
nex=$(ls "$T/ex" | wc -l)
check "the man page marks at least 6 examples to test ($nex)" test "$nex" -ge 6

ln -s "$SPLITGPT" "$T/bin/splitgpt"
cp contrib/examples/prompts.jsonl "$T/work/prompts.jsonl"
cat >"$T/work/questions.csv" <<'EOF'
id,question
capital,What is the capital of France?
sky,Why is the sky blue, in a few words?
EOF
cat >"$T/work/questions.txt" <<'EOF'
What is the capital of France?
Why is the sky blue?
Name a prime number larger than 100.
EOF
cat >"$T/work/batch_input.jsonl" <<'EOF'
{"custom_id":"request-1","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}}
{"custom_id":"request-2","method":"POST","url":"/v1/chat/completions","body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"refused [[mock:400]]"}]}}
{"custom_id":"request-3","method":"POST","url":"/v1/embeddings","body":{"model":"text-embedding-3-small","input":"embed me"}}
{"custom_id":"request-4","method":"POST","url":"/v1/responses","body":{"model":"gpt-4o-mini","input":"Hi"}}
EOF
gzip -c "$T/work/batch_input.jsonl" >"$T/work/batch_input.jsonl.gz"

mock_start --require-key "$OPENAI_API_KEY"
OPENAI_BASE_URL=$MOCK_URL
export OPENAI_BASE_URL

# The non-empty files of the work directory, with their checksums.
snapshot() {
	(cd "$T/work" && find . -type f -size +0c -exec cksum {} + | sort)
}
for f in "$T"/ex/*.sh; do
	[ -f "$f" ] || continue
	n=${f##*/}
	snapshot >"$T/before"
	(cd "$T/work" && PATH="$T/bin:$PATH" timeout -k 5 120 sh "$f") \
	    >"$T/ex.out" 2>"$T/ex.stderr"
	st=$?
	snapshot >"$T/after"
	if { [ "$st" -eq 0 ] || [ "$st" -eq 1 ]; } &&
	    { [ -s "$T/ex.out" ] || ! cmp -s "$T/before" "$T/after"; }; then
		ok 0 "example $n exits $st and produces output"
	else
		ok 1 "example $n exits 0 or 1 and produces output"
		diag "status $st; the script:"
		sed 's/^/#   /' "$f"
		diag "stdout:"
		sed 's/^/#   /' "$T/ex.out" | head -10
		diag "stderr:"
		sed 's/^/#   /' "$T/ex.stderr" | head -10
	fi
done
# The README's tour runs as written, on the sample files it names.
mkdir -p "$T/tour"
ln -s "$TOP/contrib" "$T/tour/contrib"
awk -v dir="$T/tour" '
	/^```sh$/ { on = 1; buf = ""; next }
	/^```$/ {
		if (on && buf ~ /contrib\/examples\/(questions|batch_input)/) {
			f = dir "/tour-" ++n ".sh"
			printf "%s", buf >f
			close(f)
		}
		on = 0
		next
	}
	on { buf = buf $0 "\n" }' README.md
ntour=$(ls "$T"/tour/tour-*.sh 2>/dev/null | wc -l)
check "the README's tour has its three sample-file examples ($ntour)" test "$ntour" -ge 3
for f in "$T"/tour/tour-*.sh; do
	[ -f "$f" ] || continue
	(cd "$T/tour" && PATH="$T/bin:$PATH" timeout -k 5 120 sh "$f") \
	    >"$T/tour.out" 2>"$T/tour.err"
	st=$?
	if [ "$st" -le 1 ] && { [ -s "$T/tour.out" ] ||
	    [ -s "$T/tour/batch_output.jsonl" ]; }; then
		ok 0 "README ${f##*/} exits $st and produces output"
	else
		ok 1 "README ${f##*/} exits 0 or 1 and produces output"
		diag "status $st: $(head -c 600 "$T/tour.err")"
	fi
done
is "$(wc -l <"$T/tour/answers.txt" 2>/dev/null)" \
    "$(wc -l <contrib/examples/questions.txt)" "the tour's answers line up with its questions"
unset OPENAI_BASE_URL

# README: the set-up command installs exactly .ci/run's PACKAGES.
sed -n 's/^PACKAGES="\(.*\)"$/\1/p' .ci/run | tr ' ' '\n' | grep . | sort -u \
    >"$T/ci.pkgs"
grep -m1 'apt-get install -y ' README.md |
    sed "s/.*apt-get install -y //; s/&&.*//; s/\`.*//; s/'.*//" | tr ' ' '\n' |
    grep . | sort -u >"$T/readme.pkgs"
check ".ci/run has PACKAGES" test -s "$T/ci.pkgs"
is "$(tr '\n' ' ' <"$T/readme.pkgs")" "$(tr '\n' ' ' <"$T/ci.pkgs")" \
    "the README's apt-get line installs .ci/run's PACKAGES"

# Completions: every long option, in both shells' files.
for c in contrib/completion/splitgpt.bash contrib/completion/_splitgpt; do
	missing=
	for o in $(cat "$T/help.long"); do
		in_file "$c" "$o" || missing="$missing $o"
	done
	is "$missing" "" "$c completes every long option in --help"
done
if command -v bash >/dev/null 2>&1; then
	bash -c '. contrib/completion/splitgpt.bash && complete -p splitgpt' \
	    >"$T/complete" 2>&1
	check "the bash completion loads and registers splitgpt" \
	    grep -q 'complete -F .* splitgpt$' "$T/complete"
fi

done_testing
