# An integration run under valgrind memcheck, parent and workers: no
# errors, no leaks.
. tests/lib.sh
if ! command -v valgrind >/dev/null; then
	skip_all "valgrind is not installed"
fi
if ldd "$SPLITGPT" 2>/dev/null | grep -q 'libasan\|libubsan'; then
	skip_all "a sanitizer build (valgrind and ASan do not mix)"
fi
mock_start --fault 500:0.2 --seed 3
{
	prompts 12 vg
	echo 'not json'
	echo '{"prompt":"streamed","id":"st","stream":true}'
	echo '{"custom_id":"e","url":"/v1/embeddings","body":{"input":"x"}}'
	printf '"%s"\n' "$(head -c 3000 /dev/zero | tr '\0' y)"
} >"$T/in"
VG="valgrind -q --trace-children=yes --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
    --log-file=$T/vg.%p"
# shellcheck disable=SC2086
SG_TIMEOUT=300 timeout -k 5 300 $VG "$SPLITGPT" --base-url "$MOCK_URL" -P 3 \
    --backoff-max 0.05 --joblog "$T/jl" -o "$T/out" <"$T/in" 2>"$T/err"
st=$?
is "$st" 1 "under valgrind: the run completes (exit 1: one bad line)"
is "$(wc -l <"$T/out")" 16 "... with every record"
errs=$(cat "$T"/vg.* 2>/dev/null | grep -c .)	# with -q, a clean log is empty
is "$errs" 0 "valgrind: no errors and no leaks in the parent or any worker"
[ "$errs" -eq 0 ] || cat "$T"/vg.* | head -60 | sed 's/^/# /'
check "valgrind looked at the parent and the workers" \
    test "$(ls "$T"/vg.* | wc -l)" -ge 4

# --cache: stores, identical requests waiting on one (some leaders fail:
# the next is sent), and hits, in one run under valgrind.
rm -f "$T"/vg.*
prompts 6 vc >"$T/cin"
cat "$T/cin" "$T/cin" "$T/cin" >"$T/cin3"
# shellcheck disable=SC2086
SG_TIMEOUT=300 timeout -k 5 300 $VG "$SPLITGPT" --base-url "$MOCK_URL" -P 3 \
    --backoff-max 0.05 --allow-duplicate-ids --cache "$T/c.db" <"$T/cin3" \
    >"$T/cout" 2>"$T/err"
is "$(wc -l <"$T/cout")" 18 "under valgrind with --cache: every record"
check "... some of them answered from the cache" \
    grep -q 'answered from the cache' "$T/err"
errs=$(cat "$T"/vg.* 2>/dev/null | grep -c .)
is "$errs" 0 "valgrind with --cache: no errors and no leaks"
[ "$errs" -eq 0 ] || cat "$T"/vg.* | head -60 | sed 's/^/# /'

# Two servers, one a dead port and one with its own header file: moves to
# the live one, the dead one set aside, per-server headers and statistics.
rm -f "$T"/vg.*
mock_start --fault 500:0.2 --seed 4
printf 'X-Server: two\n# a comment\n' >"$T/hdr"
# shellcheck disable=SC2086
SG_TIMEOUT=300 timeout -k 5 300 $VG "$SPLITGPT" --base-url http://127.0.0.1:1/v1 \
    --base-url "$MOCK_URL,header-file=$T/hdr" -P 3 --backoff-max 0.05 \
    --stats "$T/st" <"$T/cin" >"$T/sout" 2>"$T/err"
is "$(wc -l <"$T/sout")" 6 "under valgrind with two servers, one dead: every record"
check "... the dead one set aside" grep -q 'server 1 .* set aside' "$T/err"
errs=$(cat "$T"/vg.* 2>/dev/null | grep -c .)
is "$errs" 0 "valgrind with two servers: no errors and no leaks"
[ "$errs" -eq 0 ] || cat "$T"/vg.* | head -60 | sed 's/^/# /'

done_testing
