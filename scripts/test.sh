#!/bin/sh
# test.sh: builds Kepler if needed and runs the whole test suite (Criterion
# unit tests and end-to-end tests of the kepler binary), then prints one
# summary line "N passed, N failed".
cd "$(dirname "$0")/.." || exit 3
if [ ! -f Makefile ]; then
    scripts/setup.sh || exit 3
fi
make -j"$(nproc)" check >/dev/null 2>make-check.err
status=$?
for log in $(find tests -name '*.log' ! -name test-suite.log | sort); do
    grep -E '^(FAIL|ERROR)' "${log%.log}.trs" >/dev/null 2>&1 && {
        echo "---- $log"; tail -n 40 "$log"; }
done
# Criterion closes each binary's log with
# "[====] Synthesis: Tested: N | Passing: N | Failing: N | Crashing: N";
# each shell test counts as one test.
passed=0; failed=0
for trs in $(find tests -name '*.trs' | sort); do
    log=${trs%.trs}.log
    if grep -q 'Synthesis: Tested:' "$log" 2>/dev/null; then
        p=$(grep 'Synthesis: Tested:' "$log" | tail -n 1 | sed 's/.*Passing: \([0-9]*\).*/\1/')
        f=$(grep 'Synthesis: Tested:' "$log" | tail -n 1 | sed 's/.*Failing: \([0-9]*\).*Crashing: \([0-9]*\).*/\1 \2/' | awk '{print $1 + $2}')
        passed=$((passed + p)); failed=$((failed + f))
        if grep -q ':test-result: \(FAIL\|ERROR\)' "$trs" && [ "$f" = 0 ]; then failed=$((failed + 1)); fi
    elif grep -q ':test-result: PASS' "$trs"; then passed=$((passed + 1))
    elif grep -q ':test-result: SKIP' "$trs"; then :
    else failed=$((failed + 1)); fi
done
[ "$status" = 0 ] || { [ "$failed" -gt 0 ] || failed=1; tail -n 20 make-check.err; }
echo "$passed passed, $failed failed"
[ "$status" = 0 ] && [ "$failed" = 0 ]
