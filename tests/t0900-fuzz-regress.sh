# Fuzz regressions: every libFuzzer target (tests/fuzz/) runs once over its
# seed corpus and the crash inputs saved in tests/fuzz/regressions/.
. tests/lib.sh

: "${MAKE:=make}"
: "${FUZZ_CC:=clang}"

# Skip where clang cannot build a libFuzzer binary with the sanitizers.
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
    '{ (void)d; (void)n; return 0; }' >"$T/probe.c"
if ! "$FUZZ_CC" -fsanitize=fuzzer,address,undefined -o "$T/probe" \
    "$T/probe.c" >"$T/probe.log" 2>&1; then
	skip_all "no libFuzzer"
fi

"$MAKE" -s FUZZ_CC="$FUZZ_CC" fuzz-build >"$T/build.log" 2>&1
if ! ok $? "the fuzz targets build"; then
	tail -20 "$T/build.log" | sed 's/^/# /'
	exit 1
fi

"$MAKE" -s FUZZ_CC="$FUZZ_CC" fuzz-regress >"$T/regress.log" 2>&1
st=$?
# One line per target: "fuzz-regress: NAME  N inputs ok" or "... FAILED".
grep '^fuzz-regress: ' "$T/regress.log" >"$T/targets"
while read -r _ name rest; do
	case $rest in
	*FAILED*) ok 1 "fuzz-$name: corpus and regressions" ;;
	*) ok 0 "fuzz-$name: corpus and regressions ($rest)" ;;
	esac
done <"$T/targets"
grep -v '^fuzz-regress: .* ok$' "$T/regress.log" | sed 's/^/# /'
ok "$st" "make fuzz-regress exits 0"

done_testing
