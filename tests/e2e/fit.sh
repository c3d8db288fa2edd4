# fit.sh: end-to-end tests of `kepler fit`.
. "$KP_SRCDIR/tests/e2e/lib.sh"

# y = 3/2 * x**2 + z on exact decimals: the verifier can prove the law.
awk 'BEGIN { print "x,z,y"; for (i = 1; i <= 40; i++) {
    x = i / 4; z = (i % 7) / 4; printf "%.2f,%.2f,%.6f\n", x, z, 1.5 * x * x + z } }' >"$T/law.csv"
expect_status 0 "fit an exact law" "$KEPLER" fit "$T/law.csv" --time 60 \
    --seed 3 --json "$T/law.json" --csv "$T/law.pareto.csv" \
    --plot "$T/law.svg" --quiet
grep -q '"target": "y"' "$T/law.json" && ok || bad "json target"
grep -q '"inputs": \[' "$T/law.json" && ok || bad "json inputs"
for key in seed seconds evaluations best pareto expr latex complexity mse r2 exact; do
    grep -q "\"$key\":" "$T/law.json" && ok || bad "json key $key"
done
# The best formula is proved exact and has only exact constants.
best=$(grep -A8 '"best"' "$T/law.json")
echo "$best" | grep -q '"exact": true' && ok || bad "best is exact: $best"
echo "$best" | grep -Eq '"expr": "(3\*x\*\*2/2|3/2\*x\*\*2|x\*\*2\*3/2) \+ z"' && ok ||
    bad "best formula has the constant 3/2: $best"
head -n 1 "$T/law.pareto.csv" | grep -q '^complexity,mse,r2,exact,expr$' && ok ||
    bad "pareto csv header"
head -c 4 "$T/law.svg" | grep -q '<svg' && ok || bad "svg written"

# Outputs are not overwritten without --force.
expect_status 2 "existing output" "$KEPLER" fit "$T/law.csv" --rounds 1 \
    --json "$T/law.json" --quiet
expect_err_line 'law.json.*exists' "refusal names the file"

# Same seed, same options: same result with 1 and 2 threads.
awk 'BEGIN { print "a,b,out"; for (i = 1; i <= 60; i++) {
    a = i / 10; b = (i * 7 % 13) / 5; printf "%.2f,%.2f,%.6f\n", a, b, a * b + sin(a) } }' >"$T/d.csv"
for t in 1 2; do
    expect_status 0 "deterministic run $t" "$KEPLER" fit "$T/d.csv" --rounds 3 \
        --seed 9 --threads $t --json "$T/d$t.json" --quiet
    grep -v -E '"seconds"|"evaluations_per_second"|"node_evaluations_per_second"' "$T/d$t.json" >"$T/d$t.cmp"
done
cmp -s "$T/d1.cmp" "$T/d2.cmp" && ok || bad "results differ between 1 and 2 threads"
for engine in evolve policy; do
    expect_status 0 "engine $engine" "$KEPLER" fit "$T/d.csv" --rounds 2 \
        --engine $engine --json "$T/e-$engine.json" --quiet
    grep -q "\"engine\": \"$engine\"" "$T/e-$engine.json" && ok || bad "engine recorded"
done

# Ctrl-C stops the search and still writes the results.
"$KEPLER" fit "$T/d.csv" --time 120 --json "$T/int.json" --quiet >/dev/null 2>&1 &
pid=$!
sleep 3
kill -INT $pid
wait $pid
rc=$?
[ "$rc" = 0 ] && ok || bad "SIGINT exit status $rc"
grep -q '"interrupted": true' "$T/int.json" && ok || bad "interrupted run wrote its JSON"

# Bad input: one line naming the place, exit 2.
expect_status 2 "unknown target" "$KEPLER" fit "$T/d.csv" --target nope --quiet
expect_err_line 'd.csv:1: .*nope' "missing target named"
printf 'x,y\n1,2\n2,\n' >"$T/empty-cell.csv"
expect_status 2 "empty cell" "$KEPLER" fit "$T/empty-cell.csv" --quiet
expect_err_line 'empty-cell.csv:3:3: ' "empty cell located"
printf 'x,y\n1,2\n2,NaN\n' >"$T/nan.csv"
expect_status 2 "nan cell" "$KEPLER" fit "$T/nan.csv" --quiet
expect_err_line 'nan.csv:3:3: ' "nan located"
printf 'y\n1\n2\n' >"$T/one.csv"
expect_status 2 "no inputs" "$KEPLER" fit "$T/one.csv" --quiet
expect_err_line 'one.csv' "no inputs named"
expect_status 2 "unknown grammar" "$KEPLER" fit "$T/d.csv" --grammar nosuch --quiet
expect_err_line 'nosuch' "grammar named"
printf 'grammar broken\ntype real\nop frobnicate real -> real\nterminal inputs -> real\n' >"$T/bad.grammar"
expect_status 2 "broken grammar" "$KEPLER" fit "$T/d.csv" --grammar "$T/bad.grammar" --quiet
expect_err_line 'bad.grammar:3:4: ' "grammar error located"
expect_status 2 "bad engine" "$KEPLER" fit "$T/d.csv" --engine magic
expect_status 2 "bad time" "$KEPLER" fit "$T/d.csv" --time -3
expect_status 2 "missing data" "$KEPLER" fit
expect_status 2 "absent file" "$KEPLER" fit "$T/absent.csv"
expect_err_line 'absent.csv' "absent file named"

# Units: a consistent law is found; a bad list is refused with its column.
awk 'BEGIN { print "x,t,m,F"; for (i = 1; i <= 40; i++) {
    x = i / 8; t = 1 + (i * 7 % 11) / 4; m = 1 + (i * 5 % 13) / 5
    printf "%.3f,%.2f,%.1f,%.10g\n", x, t, m, 2 * m * x / (t * t) } }' >"$T/u.csv"
expect_status 0 "fit with units" "$KEPLER" fit "$T/u.csv" --units m,s,kg,N \
    --rounds 20 --seed 3 --json "$T/u.json" --quiet
grep -A8 '"best"' "$T/u.json" | grep -q '"exact": true' && ok || bad "units: best not exact"
expect_status 2 "too few units" "$KEPLER" fit "$T/u.csv" --units m,s,kg --quiet
expect_err_line -- '--units:1:7: ' "too few units located"
expect_status 2 "bad unit" "$KEPLER" fit "$T/u.csv" --units 'm,s^x,kg,N' --quiet
expect_err_line -- '--units:1:5: ' "bad exponent located"
expect_status 2 "bad --propose" "$KEPLER" fit "$T/u.csv" --propose maybe --quiet

# Noisy data: the wider BIC snapping pass names the constants (the law is
# exp(-x^2/2) * 3/2; the noise is 1% of the signal, deterministic).
awk 'BEGIN { print "x,y"; for (i = 1; i <= 400; i++) {
    x = -2 + 4 * i / 400; n = sin(i * 12.9898) * 43758.5453; n = n - int(n)
    printf "%.6f,%.8g\n", x, 1.5 * exp(-x * x / 2) * (1 + 0.02 * (n - 0.5)) } }' >"$T/noisy.csv"
expect_status 0 "noisy fit" "$KEPLER" fit "$T/noisy.csv" --rounds 10 --seed 2 \
    --json "$T/noisy.json" --quiet
best=$(grep -A3 '"best"' "$T/noisy.json" | grep '"expr"')
echo "$best" | grep -q 'exp(' && ! echo "$best" | grep -Eq '0\.(49|50)[0-9]{4}' && ok ||
    bad "noisy fit: the exponent's 1/2 is not snapped: $best"

finish
