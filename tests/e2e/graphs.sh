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

# Search writes certificates that verify.
expect_status 0 "search ramsey34" "$KEPLER" search ramsey34 --n 8 --method local \
    --time 10 --target 0 --out "$T/r34.json" --quiet
expect_status 0 "verify found ramsey34" "$KEPLER" verify "$T/r34.json"
finish
