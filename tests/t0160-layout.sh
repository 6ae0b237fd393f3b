# The source keeps the shape the design comment in src/main.c promises:
# files and functions of a readable size, stages that do not reach back
# (the collector never calls the dispatcher), and workers that know
# nothing of the parent's reader and classifier.
. tests/lib.sh

big=$(wc -l src/*.c | awk '$2 != "total" && $1 > 600 { print $2 " " $1 }')
is "$big" "" "no src file over 600 lines"
# A function runs from a line that starts its definition at column 0 to
# the next "}" at column 0; json_check, a tight state machine, may be long.
long=$(awk 'FNR == 1 { name = "" }
	/^[a-z].*\(/ && !/;$/ { name = $0; start = FNR }
	/^}/ && name != "" {
		if (FNR - start + 1 > 100 && name !~ /json_check/)
			print FILENAME ": " name " (" FNR - start + 1 " lines)"
		name = ""
	}' src/*.c)
is "$long" "" "no function over 100 lines"
check "src/main.c is under 300 lines" test "$(wc -l <src/main.c)" -lt 300
check "the collector never calls the dispatcher" \
    sh -c "! grep -Eq '(^|[^_a-z])dispatch\\(' src/collect.c"
check "the worker side includes neither the reader nor the classifier" \
    sh -c "! grep -Eq '#include \"(reader|classify|parent)\\.h\"' src/worker.c src/transfer.c src/judge.c src/cacache.c src/sse.c src/evstream.c src/ssechunks.c"
# No two modules include each other's headers.
circles=$(for f in src/*.c; do
	m=${f#src/}; m=${m%.c}
	sed -n 's/^#include "\([a-z0-9_]*\)\.h".*/\1/p' "$f" "include/$m.h" 2>/dev/null |
	    sort -u | sed "s/^/$m /"
done | awk '$1 != $2 { e[$1 " " $2] = 1 }
	END { for (k in e) { split(k, p, " ");
		if ((p[2] " " p[1]) in e && p[1] < p[2]) print p[1] " <-> " p[2] } }')
is "$circles" "" "no two modules include each other"
check "die() is always given its exit status" \
    sh -c "! grep -En '(^|[^_a-z])die(_errno)?\\(\"' src/*.c"

done_testing
