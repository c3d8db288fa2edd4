# eval.sh: end-to-end tests of `kepler eval`, --help and --version.
. "$KP_SRCDIR/tests/e2e/lib.sh"

expect_status 0 "--help" "$KEPLER" --help
grep -q "eval" "$T/out" && ok || bad "--help lists eval"
expect_status 0 "--version" "$KEPLER" --version
grep -Eq '^kepler [0-9]+\.[0-9]+' "$T/out" && ok || bad "--version format"
expect_status 2 "no subcommand" "$KEPLER"
expect_status 2 "unknown subcommand" "$KEPLER" frobnicate
expect_status 0 "eval --help" "$KEPLER" eval --help

# Exact rationals.
expect_status 0 "exact 1/3+1/6" "$KEPLER" eval --exact "1/3 + 1/6"
expect_out "1/2" "1/3 + 1/6 is 1/2"
expect_status 0 "exact decimal" "$KEPLER" eval --exact "0.1 + 0.2"
expect_out "3/10" "0.1 + 0.2 is exactly 3/10"
expect_status 0 "exact power" "$KEPLER" eval --exact "(2/3)**3 - 8/27"
expect_out "0" "(2/3)**3 - 8/27 is 0"
expect_status 0 "exact sqrt of a square" "$KEPLER" eval --exact "sqrt(9/4)"
expect_out "3/2" "sqrt(9/4) is 3/2"

# Enclosures: sin(pi/6) contains 1/2 with radius below 1e-30.
expect_status 0 "exact sin(pi/6)" "$KEPLER" eval --exact "sin(pi/6)"
out=$(cat "$T/out")
case "$out" in
"[0.5"* | "[0.4999"*)
    rad=$(echo "$out" | sed -n 's/.*+\/- \([0-9.e+-]*\)\]/\1/p')
    awk -v r="$rad" 'BEGIN { exit !(r != "" && r + 0 < 1e-30) }' && ok ||
        bad "sin(pi/6) radius '$rad' not below 1e-30" ;;
*) bad "sin(pi/6) printed '$out'" ;;
esac
expect_status 0 "exact undefined" "$KEPLER" eval --exact "log(-1)"
expect_out "undefined" "log(-1) is undefined"

# Values on the command line.
expect_status 0 "values" "$KEPLER" eval "x**2 + y" x=3 y=1/2
expect_out "9.5" "x**2 + y at x=3, y=1/2"
expect_status 0 "exact values" "$KEPLER" eval --exact "x**2 + y" x=3 y=1/3
expect_out "28/3" "exact x**2 + y"
expect_status 0 "float nan" "$KEPLER" eval "log(x)" x=-1
expect_out "nan" "log(-1) is nan in floating point"

# Data files.
printf 'x,y\n1,2\n3,4\n0.5,-1\n' >"$T/f.csv"
expect_status 0 "data" "$KEPLER" eval "x**2 + y" --data "$T/f.csv"
expect_out "$(printf '3\n13\n-0.75')" "one value per row"
expect_status 0 "data exact" "$KEPLER" eval --exact "x/3 + y" --data "$T/f.csv"
expect_out "$(printf '7/3\n5\n-5/6')" "exact values per row"
expect_status 0 "embedded example" "$KEPLER" eval "planet_a**(3/2)" \
    --data "$KP_SRCDIR/examples/planets.csv"
[ "$(wc -l <"$T/out")" -eq 8 ] && ok || bad "planets: 8 rows"

# Bad input: one line naming the place, exit 2.
expect_status 2 "unknown name" "$KEPLER" eval "x + z" x=1
expect_err_line '^kepler: expression:1:5: .*z' "unknown name column"
expect_status 2 "syntax error" "$KEPLER" eval "1 + * 2"
expect_err_line '^kepler: expression:1:[0-9]+: ' "syntax error column"
expect_status 2 "unbalanced" "$KEPLER" eval "sin(1"
expect_err_line '^kepler: expression:1:[0-9]+: ' "missing paren"
expect_status 2 "bad value" "$KEPLER" eval "x" x=abc
expect_err_line '^kepler: ' "bad value"
expect_status 2 "missing data file" "$KEPLER" eval "x" --data "$T/none.csv"
expect_err_line 'none.csv' "missing file named"
printf 'x,y\n1,2\n3\n' >"$T/ragged.csv"
expect_status 2 "ragged data" "$KEPLER" eval "x" --data "$T/ragged.csv"
expect_err_line 'ragged.csv:3:[0-9]+: ' "ragged row located"
printf 'x,y\n1,nan\n' >"$T/nan.csv"
expect_status 2 "nan data" "$KEPLER" eval "x" --data "$T/nan.csv"
expect_err_line 'nan.csv:2:3: ' "nan cell located"
printf 'x,y\n1,abc\n' >"$T/text.csv"
expect_status 2 "text data" "$KEPLER" eval "x" --data "$T/text.csv"
expect_err_line 'text.csv:2:3: ' "text cell located"
: >"$T/empty.csv"
expect_status 2 "empty data" "$KEPLER" eval "x" --data "$T/empty.csv"
expect_err_line 'empty.csv' "empty file named"
printf 'x,x\n1,2\n' >"$T/dup.csv"
expect_status 2 "duplicate header" "$KEPLER" eval "x" --data "$T/dup.csv"
expect_err_line 'dup.csv:1:3: ' "duplicate header located"
expect_status 2 "unknown option" "$KEPLER" eval --frob "x"
expect_status 2 "missing expr" "$KEPLER" eval --exact

finish
