# The contrib/ scripts run and do what their headers say: the examples in
# contrib/examples/ and the GNU parallel scale-out in contrib/scale-out/,
# against the mock, with splitgpt found through $SPLITGPT or PATH.
. tests/lib.sh
mock_start

OPENAI_BASE_URL=$MOCK_URL
PATH=$(dirname "$SPLITGPT"):$PATH
export OPENAI_BASE_URL SPLITGPT PATH
EX=$TOP/contrib/examples
SO=$TOP/contrib/scale-out/splitgpt-parallel.sh
# run SCRIPT ARGS...: a contrib script, bounded in time.
run() {
	timeout -k 5 120 "$@"
}
# ok_keys: no prompt was answered successfully twice since the last reset.
ok_twice() {
	mock_stats '[.keys[] | select(.ok > 1)] | length'
}

for t in classify-csv embed-corpus summarise-files batch-roundtrip; do
	check "$t.sh is executable, with a header saying how to run it" \
	    sh -c "test -x '$EX/$t.sh' && sed -n 2p '$EX/$t.sh' | grep -q '^# $t.sh: '"
done
check "splitgpt-parallel.sh is executable" test -x "$SO"

# --- classify-csv.sh ----------------------------------------------------
printf '%s\r\n' 'id,text,score' '1,hello world,3' \
    '2,"with, comma and ""quotes""",4' '' '3,"two' 'lines",5' '4,,6' \
    >"$T/in.csv"
printf '5,short row\n' >>"$T/in.csv"
cat >"$T/want.csv" <<'EOF'
id,text,score,label
1,hello world,3,echo: hello world
2,"with, comma and ""quotes""",4,"echo: with, comma and ""quotes"""

3,"two
lines",5,echo: two lines
4,,6,"echo: "
5,short row,echo: short row
EOF
mock_reset
run "$EX/classify-csv.sh" "$T/in.csv" >"$T/out.csv" 2>"$T/err"
is "$?" 0 "classify-csv: exit 0"
is "$(cat "$T/out.csv")" "$(cat "$T/want.csv")" \
    "classify-csv: each row gets its own answer as a new label column (quotes, commas, newlines, CRLF, blank lines)"
is "$(mock_stats .requests)" 5 "classify-csv: one request per row, none for the header or the blank line"
is "$(mock_stats .max_sent)" 1 "classify-csv: no row sent twice"

printf 'text,n\nPOSITIVE.,1\nOTHER,2\n  some thing ,3\n' |
    run "$EX/classify-csv.sh" -c 1 -n 'my label' \
    -l 'echo: positive,echo: other' >"$T/out2.csv" 2>"$T/err"
is "$?" 0 "classify-csv: standard input, a column by number"
is "$(cat "$T/out2.csv")" 'text,n,my label
POSITIVE.,1,echo: positive
OTHER,2,echo: other
  some thing ,3,"echo:   some thing "' \
    "classify-csv: answers equal to a label but for case and a full stop become the label; others stay (quoted when they need it)"

printf 'text\nfine\nbad [[mock:500]]\n' |
    run "$EX/classify-csv.sh" - -- --retries 0 -q >"$T/out3.csv" 2>"$T/err"
is "$?" 1 "classify-csv: a failed row makes the exit status 1"
is "$(sed -n 3p "$T/out3.csv")" 'bad [[mock:500]],' "classify-csv: ... and gets an empty label"
printf 'a,b\n1,2\n' | run "$EX/classify-csv.sh" -c nope >/dev/null 2>"$T/err"
is "$?" 2 "classify-csv: an unknown column is an error (exit 2)"
check "classify-csv: ... that names the column" grep -q '"nope"' "$T/err"

# --- embed-corpus.sh ----------------------------------------------------
mkdir "$T/corpus"
printf 'alpha\n\nbeta gamma\n' >"$T/corpus/one.txt"
printf 'a document\nof two lines\n' >"$T/corpus/two words.txt"
: >"$T/corpus/empty.txt"
# vec < TEXT: the mock's embedding of TEXT, compact.
vec() {
	jq -R -s -c '{model: "m", input: .}' |
	    curl -s --max-time 10 -H 'Content-Type: application/json' -d @- \
	    "$MOCK_URL/embeddings" | jq -c '.data[0].embedding'
}
(cd "$T/corpus" && run "$EX/embed-corpus.sh" one.txt 'two words.txt' \
    empty.txt) >"$T/emb" 2>"$T/err"
is "$?" 0 "embed-corpus: files: exit 0"
is "$(jq -r .id "$T/emb" | tr '\n' '|')" 'one.txt|two words.txt|' \
    "embed-corpus: a line per file, in order, the empty file skipped"
is "$(jq '.embedding | map(numbers) | length' "$T/emb" | sort -u)" 8 \
    "embed-corpus: each embedding is 8 numbers"
is "$(jq -c 'select(.id == "two words.txt") | .embedding' "$T/emb")" \
    "$(vec <"$T/corpus/two words.txt")" \
    "embed-corpus: a file's embedding is that of its whole text"

(cd "$T/corpus" && run "$EX/embed-corpus.sh" -l -P 3 one.txt 'two words.txt') \
    >"$T/emb2" 2>"$T/err"
is "$?" 0 "embed-corpus -l: exit 0"
is "$(jq -r .id "$T/emb2" | tr '\n' '|')" \
    'one.txt:1|one.txt:3|two words.txt:1|two words.txt:2|' \
    "embed-corpus -l: a line per non-blank line, id FILE:N"
is "$(jq -c 'select(.id == "one.txt:3") | .embedding' "$T/emb2")" \
    "$(printf 'beta gamma' | vec)" "embed-corpus -l: each id has its own line's embedding"

printf 'x\n\ny [[mock:500]]\nz\n' |
    run "$EX/embed-corpus.sh" -m emb-model -- --retries 0 -q >"$T/emb3"
is "$?" 1 "embed-corpus: standard input, a failed line: exit 1"
is "$(jq -c '[.id, (.embedding | length), .error]' "$T/emb3" | tr '\n' ' ')" \
    '["1",8,null] ["3",0,"retries_exhausted"] ["4",8,null] ' \
    "embed-corpus: ids are line numbers; a failure has embedding null and its error"
run "$EX/embed-corpus.sh" "$T/nonexistent" >/dev/null 2>&1
is "$?" 2 "embed-corpus: a missing file is an error before anything is sent"

# --- summarise-files.sh -------------------------------------------------
mkdir -p "$T/docs/sub"
printf '# Title\n\nSome\ttext.\n' >"$T/docs/a.md"
printf 'second file' >"$T/docs/b c.md"
printf 'third\n' >"$T/docs/sub/c.md"
: >"$T/docs/empty.md"
printf 'bin\000ary' >"$T/docs/bin.md"
mock_reset
(unset SPLITGPT; cd "$T/docs" && find . -name '*.md' | sort |
    run "$EX/summarise-files.sh" -P 3) >"$T/sum" 2>"$T/err"
is "$?" 0 "summarise-files: exit 0 (splitgpt found on PATH)"
is "$(cut -f1 "$T/sum" | tr '\n' '|')" './a.md|./b c.md|./sub/c.md|' \
    "summarise-files: one line per text file, in input order"
bad=0
while IFS="$(printf '\t')" read -r f s; do
	want="echo: $(tr -s ' \t\n' '   ' <"$T/docs/$f" | sed 's/^ //; s/ $//')"
	[ "$s" = "$want" ] || { bad=1; diag "$f: got '$s', want '$want'"; }
done <"$T/sum"
is "$bad" 0 "summarise-files: each summary is paired with its own file"
check "summarise-files: empty and binary files are skipped with a warning" \
    sh -c "grep -q 'empty.md: empty or binary' '$T/err' && grep -q 'bin.md: empty or binary' '$T/err'"
printf 'ok\n' >"$T/docs/fine.txt"
printf 'no [[mock:500]]\n' >"$T/docs/fail.txt"
printf '%s\n' "$T/docs/fine.txt" "$T/docs/missing.txt" "$T/docs/fail.txt" |
    run "$EX/summarise-files.sh" -- --retries 0 -q >"$T/sum2" 2>"$T/err"
is "$?" 1 "summarise-files: a failed file: exit 1"
is "$(cut -f2 "$T/sum2" | tr '\n' '|')" 'echo: ok||' \
    "summarise-files: the failed file has an empty summary, the missing one no line"

# --- batch-roundtrip.sh -------------------------------------------------
batch_line() {
	printf '{"custom_id":"%s","method":"POST","url":"%s","body":%s}\n' "$@"
}
{
	batch_line q1 /v1/chat/completions '{"model":"m","messages":[{"role":"user","content":"one"}]}'
	batch_line q2 /v1/chat/completions '{"model":"m","messages":[{"role":"user","content":"two [[mock:500:times=2]]"}]}'
	batch_line e1 /v1/embeddings '{"model":"e","input":"three"}'
	batch_line q3 /v1/chat/completions '{"model":"m","messages":[{"role":"user","content":"four [[mock:500]]"}]}'
} >"$T/batch_input.jsonl"
mock_reset
run "$EX/batch-roundtrip.sh" -r 3 -w 0 -e "$T/errors.jsonl" \
    "$T/batch_input.jsonl" -- --retries 0 >"$T/rt.out" 2>"$T/rt.err"
is "$?" 1 "batch-roundtrip: a line that always fails: exit 1"
OUT=$T/batch_input.output.jsonl
is "$(jq -r '"\(.custom_id):\(.response.status_code)"' "$OUT" | tr '\n' ' ')" \
    'q1:200 q2:200 e1:200 q3:500 ' \
    "batch-roundtrip: the output file has a record per line, in order; q2 succeeded in round 3"
is "$(jq -r .custom_id "$T/errors.jsonl")" q3 "batch-roundtrip -e: the error file has the failed record"
check "batch-roundtrip: three rounds, the later ones with --resume" \
    sh -c "grep -c -- '--resume' '$T/rt.err' | grep -qx 2 && grep -q '^round 3: 3 of 4 lines ok (2 kept' '$T/rt.err'"
is "$(ok_twice)" 0 "batch-roundtrip: no line was answered successfully twice"
is "$(wc -c <"$T/rt.out")" 0 "batch-roundtrip: nothing on standard output"

head -1 "$T/batch_input.jsonl" >"$T/b1.jsonl"
mkdir "$T/rt"
(cd "$T/rt" && run "$EX/batch-roundtrip.sh" <"$T/b1.jsonl") 2>"$T/rt.err"
is "$?" 0 "batch-roundtrip: standard input, every line ok: exit 0"
is "$(jq -r .response.body.choices[0].message.content "$T/rt/batch_output.jsonl")" \
    "echo: one" "batch-roundtrip: standard input goes to batch_output.jsonl"
(cd "$T/rt" && run "$EX/batch-roundtrip.sh" - <"$T/b1.jsonl") 2>"$T/rt.err"
check "batch-roundtrip: run again, it keeps what succeeded and sends nothing" \
    grep -q '^round 1: 1 of 1 lines ok (1 kept from before, 0 requests sent)' "$T/rt.err"

# --- scale-out/splitgpt-parallel.sh -------------------------------------
if ! command -v parallel >/dev/null; then
	skip_all "scale-out: GNU parallel is not installed"
fi
# 200 lines of several forms; some name their own custom_id.
awk 'BEGIN {
	for (i = 1; i <= 200; i++) {
		if (i % 4 == 0) printf "\"p-%d\"\n", i
		else if (i % 4 == 1) printf "{\"prompt\":\"p-%d\"}\n", i
		else if (i % 4 == 2) printf "{\"messages\":[{\"role\":\"user\",\"content\":\"p-%d\"}]}\n", i
		else printf "{\"custom_id\":\"own-%d\",\"body\":{\"messages\":[{\"role\":\"user\",\"content\":\"p-%d\"}]}}\n", i, i
	}
}' >"$T/in200.jsonl"
# in_order200 FILE: record i answers p-i, with id line-i (own-i if given).
in_order200() {
	jq -r '[.custom_id, .response.status_code,
	    .response.body.choices[0].message.content] | @tsv' "$1" |
	awk -F'\t' '{ id = (NR % 4 == 3 ? "own-" : "line-") NR }
	    $1 != id || $2 != 200 || $3 != "echo: p-" NR {
		if (++bad < 5) print "# record " NR ": " $0 }
	    END { if (NR != 200) { print "# " NR " records"; bad++ }
		  exit bad > 0 }'
}

# Two simulated hosts (2/: is two job slots on this machine) share a
# total of 4800 requests a minute; the mock allows 6000 (100 a second).
mock_start --rpm 6000 --rl-window 1
OPENAI_BASE_URL=$MOCK_URL
start=$(date +%s.%N)
run "$SO" -S 2/: -a "$T/in200.jsonl" --block 1k --rpm 4800 --add-ids \
    -- -q -P 4 >"$T/so.out" 2>"$T/so.err"
is "$?" 0 "scale-out: exit 0"
secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
check "scale-out: every line answered once, in input order, with global ids" \
    in_order200 "$T/so.out"
is "$(mock_stats .max_sent)" 1 "scale-out: no prompt was sent twice"
is "$(mock_stats .requests)" 200 "scale-out: 200 requests"
is "$(mock_stats .rate_limited)" 0 "scale-out: the shared rate limit was never exceeded (no 429)"
check "scale-out: 2 processes at once, --rpm 2400 each" \
    grep -q '2 splitgpt process(es) at once on 2/:; each: --rpm 2400 ' "$T/so.err"
check "scale-out: 200 requests at 4800 a minute take at least 2 s (took $secs)" \
    awk -v s="$secs" 'BEGIN { exit !(s >= 2) }'

# The rest on a mock with no rate limit.
mock_start
OPENAI_BASE_URL=$MOCK_URL

# Without --add-ids, the made-up line-N ids start again in each block.
run "$SO" -S 2/: -a "$T/in200.jsonl" --block 1k -- -q >"$T/so2.out" 2>/dev/null
is "$?" 0 "scale-out without --add-ids: exit 0"
check "scale-out without --add-ids: the input is cut into blocks, and line-N ids repeat (the caveat)" \
    test "$(jq -r 'select(.custom_id == "line-1") | .custom_id' "$T/so2.out" | wc -l)" -gt 2

# Standard input (--pipe), three slots.
mock_reset
run "$SO" -S 3/: --block 2k --add-ids -- -q <"$T/in200.jsonl" >"$T/so3.out" 2>/dev/null
is "$?" 0 "scale-out --pipe from standard input: exit 0"
check "scale-out --pipe: every line answered once, in order" in_order200 "$T/so3.out"
is "$(mock_stats .max_sent)" 1 "scale-out --pipe: no prompt sent twice"

# --outdir: blocks with failures are resumed by running the same command.
sed 's/"p-37"/"p-37 [[mock:500:times=1]]"/; s/"p-170"/"p-170 [[mock:500:times=1]]"/' \
    "$T/in200.jsonl" >"$T/in200f.jsonl"
mock_reset
run "$SO" -S 2/: -a "$T/in200f.jsonl" --block 1k --add-ids --outdir "$T/od" \
    -- -q --retries 0 >"$T/so4.out" 2>/dev/null
is "$?" 2 "scale-out --outdir: two blocks had a failure (parallel's exit 2)"
is "$(jq -r 'select(.response.status_code != 200) | .custom_id' "$T/so4.out" | tr '\n' ' ')" \
    'line-37 line-170 ' "scale-out --outdir: the two failures are in place"
sent=$(mock_stats .requests)
run "$SO" -S 2/: -a "$T/in200f.jsonl" --block 1k --add-ids --outdir "$T/od" \
    -- -q --retries 0 >"$T/so5.out" 2>/dev/null
is "$?" 0 "scale-out --outdir: the same command again: exit 0"
is "$(( $(mock_stats .requests) - sent ))" 2 "scale-out --outdir: ... and only the two failed lines were sent"
is "$(jq -r .response.status_code "$T/so5.out" | sort | uniq -c | awk '{ print $1 "x" $2 }')" \
    200x200 "scale-out --outdir: now all 200 records are successes, in one output"

# Or finish a whole output on one host with --resume, using the same ids
# (the one-liner in contrib/scale-out/README.md).
mock_reset
run "$SO" -S 2/: -a "$T/in200f.jsonl" --block 1k --add-ids \
    -- -q --retries 0 >"$T/so6.out" 2>/dev/null
jq -nRr 'foreach inputs as $l (0; .+1; ($l|try fromjson catch null) as $v
  | if ($l|test("^\\s*$")) then empty
    elif ($v|type) == "string" then {prompt: $v, custom_id: "line-\(.)"}|tojson
    elif ($v|type) == "object" and ($v|has("custom_id")|not) then $v + {custom_id: "line-\(.)"}|tojson
    else $l end)' <"$T/in200f.jsonl" >"$T/in200f.ids.jsonl"
is "$(jq -r .custom_id "$T/so6.out" | tr '\n' ' ')" \
    "$(jq -r '.custom_id' "$T/in200f.ids.jsonl" | tr '\n' ' ')" \
    "the README's jq one-liner gives the ids --add-ids gives"
sent=$(mock_stats .requests)
sg -q -o "$T/so6.out" --resume --retries 0 <"$T/in200f.ids.jsonl"
is "$?" 0 "splitgpt --resume finishes the parallel run's output on one host"
is "$(( $(mock_stats .requests) - sent ))" 2 "... sending only the failed lines"
check "... and the whole output is in order" \
    sh -c "jq -r .custom_id '$T/so6.out' | awk '{ id = (NR % 4 == 3 ? \"own-\" : \"line-\") NR } \$0 != id { exit 1 } END { exit NR != 200 }'"

# Rates are shared out by processes (N/host counts N), checked dry.
run "$SO" --dry-run -S 3/:,host2 --rpm 900 --tpm 90000 -- -m x >"$T/dry" 2>/dev/null
check "scale-out --dry-run: 4 processes get --rpm 225 and --tpm 22500 each" \
    grep -q -- "-S 3/:,1/host2 .*--rpm 225 --tpm 22500 -m x" "$T/dry"
run "$SO" -S :,: -a "$T/in200.jsonl" >/dev/null 2>"$T/err"
is "$?" 255 "scale-out: a host listed twice is an error (exit 255)"

done_testing
