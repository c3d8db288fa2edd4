# lean.sh: end-to-end tests of `kepler lean`: every fixture under
# tests/lean/ is exported, refusals leave no file, and every generated file
# is checked by a Lean 4 executable when there is one ($KEPLER_LEAN, else
# `lean` on the PATH). Without Lean the export checks still run and the
# Lean step says clearly that it was skipped.
. "$KP_SRCDIR/tests/e2e/lib.sh"
F="$KP_SRCDIR/tests/lean"

expect_status 0 "lean --help" "$KEPLER" lean --help
grep -q "native" "$T/out" && ok || bad "lean --help mentions --native"
expect_status 2 "lean without -o" "$KEPLER" lean "$F/capset4.json"
expect_status 2 "lean missing input" "$KEPLER" lean "$T/nope.json" -o "$T/x.lean"

expect_status 0 "capset export" "$KEPLER" lean "$F/capset4.json" -o "$T/capset4.lean"
grep -q "theorem capset_4_size : IsCap 4 pts ∧ pts.length = 20 := by decide" "$T/capset4.lean" &&
    ok || bad "capset theorem line"
expect_status 2 "existing output without --force" "$KEPLER" lean "$F/capset4.json" -o "$T/capset4.lean"
expect_status 0 "--force --native" "$KEPLER" lean "$F/capset4.json" -o "$T/native.lean" --native
grep -q "by native_decide" "$T/native.lean" && grep -q "TRUSTED COMPILER" "$T/native.lean" &&
    ok || bad "--native output"

expect_status 2 "not a cap" "$KEPLER" lean "$F/notcap.json" -o "$T/notcap.lean"
grep -q "collinear" "$T/err" && ok || bad "not-a-cap message: $(cat "$T/err")"
[ ! -e "$T/notcap.lean" ] && ok || bad "refused export left a file"

expect_status 0 "capset n=5 export" "$KEPLER" lean "$F/capset5.json" -o "$T/capset5.lean"
grep -q "theorem capset_5_size : IsCap 5 pts ∧ pts.length = 45 := by decide" "$T/capset5.lean" &&
    ok || bad "capset n=5 theorem line"

expect_status 0 "wagner21 export" "$KEPLER" lean "$F/wagner21-doublestar.json" -o "$T/wagner21.lean"
grep -q "theorem wagner21_counterexample" "$T/wagner21.lean" && ok || bad "wagner21 theorem"
expect_status 0 "double broom export" "$KEPLER" lean "$F/wagner21-broom.json" -o "$T/broom.lean"
grep -q "theorem cover_bound" "$T/broom.lean" && ok || bad "double broom: cover bound"
expect_status 0 "double broom --native" "$KEPLER" lean "$F/wagner21-broom.json" -o "$T/broom-native.lean" --native

expect_status 0 "fit export (data path from the JSON)" "$KEPLER" lean "$F/fit.json" -o "$T/fit.lean"
grep -q "theorem fit_exact" "$T/fit.lean" && ok || bad "fit theorem"
expect_status 2 "fit without data" "$KEPLER" lean "$F/sqrt.json" -o "$T/sqrt.lean"
expect_status 0 "fit export with --data" "$KEPLER" lean "$F/sqrt.json" --data "$F/sqrt.csv" -o "$T/sqrt.lean"
grep -q "theorem enclosure_error_bound" "$T/sqrt.lean" && ok || bad "enclosure theorem"
expect_status 0 "fit --native" "$KEPLER" lean "$F/fit.json" -o "$T/fit-native.lean" --native

# `kepler fit --lean`: the best formula of the fit, re-checked by kp_lean.
# The data are y = x^2 exactly, so whatever the search returns, the file
# states either exact reproduction or a proved error bound.
printf 'x,y\n1,1\n2,4\n3,9\n-1,1\n0.5,0.25\n' >"$T/sq.csv"
expect_status 0 "fit --lean" "$KEPLER" fit "$T/sq.csv" --rounds 3 --seed 1 --threads 1 \
    --quiet --lean "$T/fitlean.lean"
grep -Eq "^theorem (fit_exact|fit_error_bound|enclosure_error_bound) " "$T/fitlean.lean" &&
    ok || bad "fit --lean wrote no theorem"
expect_status 2 "fit --lean refuses to overwrite" "$KEPLER" fit "$T/sq.csv" --rounds 1 \
    --quiet --lean "$T/fitlean.lean"

# `kepler search --lean` (when search has the option): capset and wagner21.
if "$KEPLER" search --help 2>/dev/null | grep -q -- "--lean"; then
    expect_status 0 "search capset --lean" "$KEPLER" search capset --n 4 --target 20 --seed 1 \
        --threads 1 --quiet --lean "$T/search-cap4.lean"
    expect_status 0 "search wagner21 --lean" "$KEPLER" search wagner21 --n 19 --rounds 3 --seed 1 \
        --threads 1 --quiet --lean "$T/search-w19.lean"
fi

# Round trip through search, when `kepler search capset` is there.
if "$KEPLER" search capset --n 3 --out "$T/s3.json" --seed 1 --time 5 --quiet >/dev/null 2>&1; then
    expect_status 0 "export a searched cap" "$KEPLER" lean "$T/s3.json" -o "$T/s3.lean"
fi

# Lean on every generated file. The --native files use `native_decide`,
# which the July-2021 Lean spells `nativeDecide`: when that Lean rejects the
# tactic name, the file is checked again with the old spelling.
LEAN=${KEPLER_LEAN:-$(command -v lean 2>/dev/null || true)}
if [ -z "$LEAN" ] || [ ! -x "$LEAN" ]; then
    echo "SKIPPED: Lean check of the generated files: no lean executable" \
         "(put lean on the PATH or set KEPLER_LEAN)"
else
    echo "Lean: $LEAN ($("$LEAN" --version 2>&1 | head -n 1))"
    for f in "$T"/*.lean; do
        start=$(date +%s.%N)
        "$LEAN" "$f" >"$T/lean.out" 2>&1
        st=$?
        if [ $st -ne 0 ] && grep -q "by native_decide" "$f" && grep -q "unknown tactic" "$T/lean.out"; then
            sed 's/by native_decide/by nativeDecide/' "$f" >"$T/old-spelling.tmp"
            "$LEAN" "$T/old-spelling.tmp" >"$T/lean.out" 2>&1
            st=$?
        fi
        secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        if [ $st -eq 0 ] && [ ! -s "$T/lean.out" ]; then
            ok
            echo "lean OK  $(basename "$f")  $secs s"
        else
            bad "lean rejects $(basename "$f"): $(head -c 600 "$T/lean.out")"
        fi
    done
    # A tampered file must fail: the kernel really checks the claim.
    sed 's/^def m : Nat := \([0-9]*\)/def m : Nat := 0/' "$T/broom.lean" >"$T/tampered.tmp"
    if "$LEAN" "$T/tampered.tmp" >"$T/lean.out" 2>&1; then
        bad "lean accepts a double broom with matching bound m = 0"
    else
        ok
    fi
fi
finish
