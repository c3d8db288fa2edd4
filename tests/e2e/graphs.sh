# graphs.sh: end-to-end tests of the graph problems (wagner21, ramsey34,
# ramsey44) through `kepler verify` and `kepler search`.
. "$KP_SRCDIR/tests/e2e/lib.sh"

# Wagner's double broom on 19 vertices: a counterexample to Conjecture 2.1.
edges='[0,1],[0,2]'
for v in 3 4 5 6 7 8 9 10; do edges="$edges,[1,$v]"; done
for v in 11 12 13 14 15 16 17 18; do edges="$edges,[2,$v]"; done
printf '{"problem":"wagner21","n":19,"edges":[%s]}\n' "$edges" >"$T/broom.json"
expect_status 0 "double broom is a counterexample" "$KEPLER" verify "$T/broom.json"

# The star is the equality case, a path is far from it: refuted (exit 1).
star='[0,1]'
for v in $(seq 2 18); do star="$star,[0,$v]"; done
printf '{"problem":"wagner21","n":19,"edges":[%s]}\n' "$star" >"$T/star.json"
expect_status 1 "star is not a counterexample" "$KEPLER" verify "$T/star.json"
printf '{"problem":"wagner21","n":19,"edges":[%s]}\n' "$(echo "$edges" | sed 's/\[0,1\],//')" >"$T/disc.json"
expect_status 1 "disconnected graph" "$KEPLER" verify "$T/disc.json"

# Malformed certificates: exit 2.
for bad in '[[0,1],[1,0]]' '[[0,19]]' '[[4,4]]' '[[0,-1]]' '[[0,1,2]]' '"x"'; do
    printf '{"problem":"wagner21","n":19,"edges":%s}\n' "$bad" >"$T/bad.json"
    expect_status 2 "bad edges $bad" "$KEPLER" verify "$T/bad.json"
done
printf '{"problem":"wagner21","n":19,"edges":[%s],"mu":3}\n' "$edges" >"$T/mu.json"
expect_status 2 "wrong mu" "$KEPLER" verify "$T/mu.json"
printf '{"problem":"wagner21","n":2,"edges":[[0,1]]}\n' >"$T/n.json"
expect_status 2 "n below the range" "$KEPLER" verify "$T/n.json"

# Ramsey: the Wagner graph C_8(1,4) proves R(3,4) > 8; C_8 does not.
printf '{"problem":"ramsey34","n":8,"edges":[[0,1],[1,2],[2,3],[3,4],[4,5],[5,6],[6,7],[0,7],[0,4],[1,5],[2,6],[3,7]]}\n' >"$T/w8.json"
expect_status 0 "Wagner graph" "$KEPLER" verify "$T/w8.json"
printf '{"problem":"ramsey34","n":8,"edges":[[0,1],[1,2],[2,3],[3,4],[4,5],[5,6],[6,7],[0,7]]}\n' >"$T/c8.json"
expect_status 1 "C_8 has an independent 4-set" "$KEPLER" verify "$T/c8.json"

# Malformed certificates are located: file:line:column, one line, exit 2.
printf '{"problem": "wagner21", "n": 4,\n "edges": [[0,1],\n  [1,0]]}\n' >"$T/rep.json"
expect_status 2 "repeated edge" "$KEPLER" verify "$T/rep.json"
expect_err_line '^kepler: .*rep.json:3:3: .*repeats' "repeated edge located"
printf '{"problem": "wagner21", "n": 4,\n "edges": [[0,1],\n  [1,4]]}\n' >"$T/range.json"
expect_status 2 "vertex out of range" "$KEPLER" verify "$T/range.json"
expect_err_line '^kepler: .*range.json:3:3: .*outside 0\.\.3' "out-of-range vertex located"
printf '{"problem": "ramsey34", "n": 4,\n "edges": [[0,1], [2,2]]}\n' >"$T/loop.json"
expect_status 2 "self-loop" "$KEPLER" verify "$T/loop.json"
expect_err_line '^kepler: .*loop.json:2:19: .*self-loop' "self-loop located"
printf '{"problem": "wagner21", "n": 4,\n "edges": [[0,1] [1,2]]}\n' >"$T/syn.json"
expect_status 2 "malformed JSON" "$KEPLER" verify "$T/syn.json"
expect_err_line '^kepler: .*syn.json:2:[0-9]+: invalid JSON' "malformed JSON located"
printf '{"problem": "wagner21",\n "n": "19", "edges": []}\n' >"$T/nstr.json"
expect_status 2 "n not an integer" "$KEPLER" verify "$T/nstr.json"
expect_err_line '^kepler: .*nstr.json:2:7: .*"n"' "bad n located"
printf '{"problem": "ramsey44", "n": 65, "edges": []}\n' >"$T/nbig.json"
expect_status 2 "n too large" "$KEPLER" verify "$T/nbig.json"

# Claimed values are re-derived: lambda_1 + mu of the broom is sqrt(10) + 2.
printf '{"problem":"wagner21","n":19,"edges":[%s],\n"value":"5.1622776602","bound":"sqrt(18) + 1"}\n' "$edges" >"$T/val.json"
expect_status 0 "correct value (rounded)" "$KEPLER" verify "$T/val.json"
printf '{"problem":"wagner21","n":19,"edges":[%s],\n"value":"5.17","bound":"sqrt(18) + 1"}\n' "$edges" >"$T/val2.json"
expect_status 2 "wrong value" "$KEPLER" verify "$T/val2.json"
expect_err_line '^kepler: .*val2.json:2:9: "value" is not lambda_1 \+ mu = 5\.16227766' "wrong value located"
printf '{"problem":"wagner21","n":19,"edges":[%s],\n"value":"5.16","bound":"sqrt(19) + 1"}\n' "$edges" >"$T/bnd.json"
expect_status 2 "wrong bound" "$KEPLER" verify "$T/bnd.json"
expect_err_line '^kepler: .*bnd.json:2:24: "bound"' "wrong bound located"
printf '{"problem":"ramsey34","n":8,"edges":[[0,1],[1,2],[2,3],[3,4],[4,5],[5,6],[6,7],[0,7],[0,4],[1,5],[2,6],[3,7]],"value":"2"}\n' >"$T/rv.json"
expect_status 2 "wrong ramsey value" "$KEPLER" verify "$T/rv.json"

# Search: the default method for graph problems is the cross-entropy
# method, and its default target is an object passing the exact check.
expect_status 0 "search wagner21 n=19" "$KEPLER" search wagner21 --n 19 \
    --rounds 20 --out "$T/w.json" --quiet
expect_status 0 "verify found counterexample" "$KEPLER" verify "$T/w.json"
grep -q "holds: wagner21 n=19" "$T/out" && ok || bad "verify says holds"
grep -q '"value": "5\.' "$T/w.json" && grep -q '"bound": "sqrt(18) + 1"' "$T/w.json" \
    && ok || bad "certificate has value and bound"
expect_status 0 "search wagner21 summary" "$KEPLER" search wagner21 --n 19 \
    --rounds 20
grep -q "passes the exact check" "$T/out" && grep -q "method cem" "$T/out" \
    && ok || bad "summary: $(head -2 "$T/out")"
expect_status 2 "refuses to overwrite" "$KEPLER" search wagner21 --n 19 --out "$T/w.json"
expect_err_line 'w.json.*--force' "overwrite message"
# Tampering with the found certificate's value is caught.
sed 's/"value": "5\.1/"value": "5.3/' "$T/w.json" >"$T/wbad.json"
expect_status 2 "tampered value" "$KEPLER" verify "$T/wbad.json"

# Same seed and generation budget: identical certificates for 1 and 2
# threads (n = 12 has no counterexample, so every generation runs).
expect_status 1 "n=12 threads 1" "$KEPLER" search wagner21 --n 12 --rounds 3 --time 3600 \
    --seed 7 --threads 1 --out "$T/t1.json" --quiet
expect_status 1 "n=12 threads 2" "$KEPLER" search wagner21 --n 12 --rounds 3 --time 3600 \
    --seed 7 --threads 2 --out "$T/t2.json" --quiet
cmp -s "$T/t1.json" "$T/t2.json" && ok || bad "threads 1 and 2 differ"
expect_status 1 "best without counterexample is refuted" "$KEPLER" verify "$T/t1.json"
expect_status 0 "n=19 threads 1" "$KEPLER" search wagner21 --n 19 --rounds 20 --time 3600 \
    --seed 4 --population 32 --threads 1 --out "$T/f1.json" --quiet
expect_status 0 "n=19 threads 2" "$KEPLER" search wagner21 --n 19 --rounds 20 --time 3600 \
    --seed 4 --population 32 --threads 2 --out "$T/f2.json" --quiet
cmp -s "$T/f1.json" "$T/f2.json" && ok || bad "found counterexamples differ across threads"
expect_status 1 "n=12 max-evals" "$KEPLER" search wagner21 --n 12 --max-evals 1000 --quiet
expect_status 0 "explicit target" "$KEPLER" search wagner21 --n 19 --rounds 20 --time 3600 \
    --target 0.05 --quiet
expect_status 1 "unreachable target" "$KEPLER" search ramsey34 --n 8 --rounds 2 --time 3600 \
    --target 1 --quiet

# Ctrl-C: the best so far is written and the exit status is 0.
"$KEPLER" search wagner21 --n 12 --time 120 --out "$T/int.json" --quiet &
pid=$!
sleep 2
kill -INT $pid
wait $pid
rc=$?
[ "$rc" = 0 ] && ok || bad "SIGINT exit $rc, wanted 0"
[ -s "$T/int.json" ] && ok || bad "SIGINT wrote no certificate"
expect_status 1 "interrupted best is a refuted non-counterexample" "$KEPLER" verify "$T/int.json"
"$KEPLER" search ramsey44 --n 18 --time 120 --out "$T/term.json" --quiet &
pid=$!
sleep 2
kill -TERM $pid
wait $pid
rc=$?
[ "$rc" = 0 ] && ok || bad "SIGTERM exit $rc, wanted 0"
expect_status 1 "R(4,4) = 18: no witness on 18 vertices" "$KEPLER" verify "$T/term.json"

# Ramsey witnesses: R(3,4) > 8 and R(4,4) > 17.
expect_status 0 "search ramsey34" "$KEPLER" search ramsey34 --n 8 --rounds 20 --time 3600 \
    --out "$T/r34.json" --quiet
expect_status 0 "verify found ramsey34" "$KEPLER" verify "$T/r34.json"
# --time 3600: the round budget decides, also in a slow sanitizer build
expect_status 0 "search ramsey44 n=17" "$KEPLER" search ramsey44 --n 17 --rounds 200 --time 3600 \
    --seed 1 --out "$T/r44.json" --quiet
expect_status 0 "verify found ramsey44" "$KEPLER" verify "$T/r44.json"
expect_status 0 "local search ramsey34" "$KEPLER" search ramsey34 --n 8 --method local \
    --time 10 --target 0 --out "$T/r34l.json" --quiet
expect_status 0 "verify local ramsey34" "$KEPLER" verify "$T/r34l.json"

# Methods that do not fit the problem, and --lean.
expect_status 2 "cem on capset" "$KEPLER" search capset --n 3 --method cem
expect_err_line "cem" "cem on capset message"
expect_status 2 "program on a graph problem" "$KEPLER" search wagner21 --n 19 --method program
expect_status 2 "no Lean export for ramsey" "$KEPLER" search ramsey34 --n 8 --lean "$T/r.lean"
expect_err_line "Lean" "no Lean export message"
expect_status 0 "search wagner21 --lean" "$KEPLER" search wagner21 --n 19 --rounds 20 --time 3600 \
    --lean "$T/w.lean" --quiet
grep -q "theorem" "$T/w.lean" && ok || bad "Lean file has a theorem"
expect_status 2 "--lean refuses to overwrite" "$KEPLER" search wagner21 --n 19 --lean "$T/w.lean"
expect_err_line 'w.lean.*--force' "--lean overwrite message"
expect_status 0 "--lean --force" "$KEPLER" search wagner21 --n 19 --rounds 20 --time 3600 \
    --lean "$T/w.lean" --force --quiet
expect_status 1 "no Lean file without a counterexample" "$KEPLER" search wagner21 \
    --n 12 --rounds 1 --lean "$T/none.lean" --quiet
[ ! -e "$T/none.lean" ] && ok || bad "Lean file written for a non-counterexample"
expect_status 0 "search capset --lean" "$KEPLER" search capset --n 4 --target 20 \
    --lean "$T/c.lean" --quiet
grep -q "theorem" "$T/c.lean" && ok || bad "capset Lean file has a theorem"
finish
