# search.sh: end-to-end tests of `kepler search` and `kepler verify`:
# finding the maximum cap of F_3^4, certificates and their corruptions, and
# a problem plugin compiled and loaded on the fly.
. "$KP_SRCDIR/tests/e2e/lib.sh"

expect_status 0 "search --help" "$KEPLER" search --help
grep -q capset "$T/out" && ok || bad "search --help lists capset"
expect_status 0 "verify --help" "$KEPLER" verify --help

# Find the 20-cap and verify it.
expect_status 0 "search capset n=4" "$KEPLER" search capset --n 4 --target 20 \
    --out "$T/c.json" --seed 3 --quiet
[ -s "$T/c.json" ] && ok || bad "certificate written"
grep -q '"size": 20' "$T/c.json" && ok || bad "certificate claims size 20"
expect_status 0 "verify found cap" "$KEPLER" verify "$T/c.json"
grep -q "holds" "$T/out" && ok || bad "verify says holds"
expect_status 2 "refuses to overwrite" "$KEPLER" search capset --n 4 --out "$T/c.json"
expect_err_line 'c.json.*--force' "overwrite message"
# Deterministic: same seed, same certificate.
expect_status 0 "search again" "$KEPLER" search capset --n 4 --target 20 \
    --out "$T/c2.json" --seed 3 --quiet --threads 1
cmp -s "$T/c.json" "$T/c2.json" && ok || bad "same seed gives the same certificate"

# Symmetric search: the 112-cap of F_3^6 (the maximum), invariant under a
# group of sign changes, verified; a --rounds budget gives the same
# certificate for 1 and 2 threads.
expect_status 0 "symmetric search n=6" "$KEPLER" search capset --n 6 \
    --method symmetric --target 112 --out "$T/s6.json" --seed 2
grep -q 'invariant under sign changes' "$T/out" && ok || bad "symmetric search names its group"
grep -q '"size": 112' "$T/s6.json" && ok || bad "symmetric certificate claims 112"
expect_status 0 "verify symmetric cap" "$KEPLER" verify "$T/s6.json"
expect_status 1 "symmetric, rounds budget" "$KEPLER" search capset --n 7 \
    --method symmetric --rounds 3 --target 1000 --out "$T/s7a.json" --threads 1 --quiet
expect_status 1 "symmetric, rounds budget, 2 threads" "$KEPLER" search capset --n 7 \
    --method symmetric --rounds 3 --target 1000 --out "$T/s7b.json" --threads 2 --quiet
cmp -s "$T/s7a.json" "$T/s7b.json" && ok || bad "symmetric search: same certificate for any thread count"
expect_status 0 "verify n=7 symmetric" "$KEPLER" verify "$T/s7a.json"

# Unreachable target: exit 1, best so far still written and valid.
expect_status 1 "target not reached" "$KEPLER" search capset --n 3 --target 10 \
    --out "$T/c3.json" --time 0.3 --quiet
expect_status 0 "best so far verifies" "$KEPLER" verify "$T/c3.json"

# Usage errors.
expect_status 2 "unknown problem" "$KEPLER" search nosuch --n 4
expect_err_line "unknown problem" "unknown problem message"
expect_status 2 "missing --n" "$KEPLER" search capset
expect_status 2 "n out of range" "$KEPLER" search capset --n 99
expect_status 2 "bad method" "$KEPLER" search capset --n 3 --method frob
expect_status 2 "verify missing file" "$KEPLER" verify "$T/none.json"
expect_err_line 'none.json' "missing file named"

# Corrupted certificates: one-line errors, exit 2 (bad file) or 1 (refuted).
sed '0,/\[1,1,0,0\]/s//[1,1,0]/' "$T/c.json" >"$T/dim.json"
grep -q '\[1,1,0\]' "$T/dim.json" || printf '{"problem":"capset","n":4,"points":[\n[1,1,0]]}' >"$T/dim.json"
expect_status 2 "wrong dimension" "$KEPLER" verify "$T/dim.json"
expect_err_line '^kepler: .*dim.json:[0-9]+:[0-9]+: .*coordinates' "wrong dimension located"

printf '{"problem": "capset", "n": 2,\n "points": [[0,1],\n  [1,3]]}\n' >"$T/coord.json"
expect_status 2 "coordinate 3" "$KEPLER" verify "$T/coord.json"
expect_err_line '^kepler: .*coord.json:3:6: ' "coordinate 3 at line 3 column 6"

printf '{"problem": "capset", "n": 2,\n "points": [[0,1],\n  [0,1]]}\n' >"$T/rep.json"
expect_status 2 "repeated point" "$KEPLER" verify "$T/rep.json"
expect_err_line '^kepler: .*rep.json:3:3: .*repeat' "repeated point located"

printf '{"problem": "capset", "n": 2, "size": 3,\n "points": [[0,1],[1,1]]}\n' >"$T/size.json"
expect_status 2 "wrong size" "$KEPLER" verify "$T/size.json"
expect_err_line '^kepler: .*size.json:1:39: .*size' "wrong size located"

printf '{"problem": "capset", "n": 2,\n "points": [[0,1],[1,1],[2,1]]}\n' >"$T/line.json"
expect_status 1 "line inside" "$KEPLER" verify "$T/line.json"
expect_err_line '^kepler: .*line.json: refuted: not a cap: \[0,1\] \+ \[1,1\] \+ \[2,1\]' "line named"

printf '{"problem": "capset", "n": 2,\n "points": [[0,1],,]}\n' >"$T/syntax.json"
expect_status 2 "bad JSON" "$KEPLER" verify "$T/syntax.json"
expect_err_line '^kepler: .*syntax.json:2:[0-9]+: invalid JSON' "bad JSON located"

printf '{"problem": "capsets", "n": 2, "points": []}\n' >"$T/prob.json"
expect_status 2 "unknown problem in certificate" "$KEPLER" verify "$T/prob.json"
expect_err_line '^kepler: .*prob.json:1:13: .*unknown problem' "problem located"

printf '{"problem": "capset", "n": 0, "points": []}\n' >"$T/n0.json"
expect_status 2 "n out of range in certificate" "$KEPLER" verify "$T/n0.json"
expect_err_line '^kepler: .*n0.json:1:28: ' "n located"

printf '[1, 2]\n' >"$T/arr.json"
expect_status 2 "not an object" "$KEPLER" verify "$T/arr.json"

# A plugin: bit strings of length n with no two adjacent ones; score =
# number of ones (the maximum is ceil(n/2)).
cat >"$T/plug.c" <<'PLUG'
#include <kepler/problem.h>
#include <stdio.h>
#include <string.h>
static size_t length(int n) { return (size_t)n; }
static void score(kp_score_t *s, const uint8_t *x, int n, void *ws)
{
    (void)ws;
    int k = 0;
    for (int i = 0; i < n; i++) k += x[i] != 0;
    s->value = k; s->num = k; s->den = 1;
}
static int verify(const uint8_t *x, int n, void *ws, kp_problem_msg_t *m)
{
    (void)ws;
    for (int i = 0; i + 1 < n; i++)
        if (x[i] && x[i + 1]) {
            if (m) snprintf(m->msg, sizeof m->msg, "ones at %d and %d", i, i + 1);
            return KP_PROBLEM_REFUTED;
        }
    return KP_PROBLEM_OK;
}
static size_t construct(uint8_t *x, const uint32_t *order, int n, void *ws)
{
    (void)ws;
    size_t k = 0;
    memset(x, 0, (size_t)n);
    for (int i = 0; i < n; i++) {
        uint32_t e = order[i];
        if ((e > 0 && x[e - 1]) || (e + 1 < (uint32_t)n && x[e + 1])) continue;
        x[e] = 1; k++;
    }
    return k;
}
static int nfeatures(int n) { (void)n; return 2; }
static void features(double *const *cols, int n)
{
    for (int i = 0; i < n; i++) { cols[0][i] = i; cols[1][i] = i % 2; }
}
static void feature_name(char *buf, size_t size, int f, int n)
{
    (void)n;
    snprintf(buf, size, f == 0 ? "pos" : "parity");
}
static const kp_problem_t problem = {
    .abi = KP_PROBLEM_ABI, .name = "sparse", .summary = "no two adjacent ones",
    .kind = KP_OBJ_BITS, .n_min = 1, .n_max = 1000,
    .length = length, .score = score, .verify = verify,
    .nfeatures = nfeatures, .features = features, .feature_name = feature_name,
    .construct = construct,
};
const kp_problem_t *kepler_problem(void) { return &problem; }
PLUG
CC=${CC:-cc}
if $CC -shared -fPIC -o "$T/plug.so" -I"$KP_SRCDIR/problems" "$T/plug.c" 2>"$T/cc.err"; then
    ok
    expect_status 0 "plugin search" "$KEPLER" search --plugin "$T/plug.so" \
        --n 21 --target 11 --quiet
    expect_status 0 "plugin local search" "$KEPLER" search --plugin "$T/plug.so" \
        --n 21 --target 11 --method local --quiet
    expect_status 0 "plugin with matching name" "$KEPLER" search sparse \
        --plugin "$T/plug.so" --n 5 --target 3 --quiet
    expect_status 2 "plugin name mismatch" "$KEPLER" search capset \
        --plugin "$T/plug.so" --n 5
    expect_status 2 "plugin without certificates" "$KEPLER" search \
        --plugin "$T/plug.so" --n 5 --out "$T/p.json" --time 0.2
    expect_err_line "cannot write certificates" "no cert_write message"
    printf 'int x;\n' >"$T/empty.c"
    $CC -shared -fPIC -o "$T/empty.so" "$T/empty.c"
    expect_status 2 "plugin without entry point" "$KEPLER" search \
        --plugin "$T/empty.so" --n 5
    expect_err_line "kepler_problem" "missing symbol named"
else
    bad "compiling the plugin: $(head -3 "$T/cc.err")"
fi
expect_status 2 "missing plugin file" "$KEPLER" search --plugin "$T/none.so" --n 3
expect_err_line 'none.so' "plugin file named"

finish
