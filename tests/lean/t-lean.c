/* t-lean.c: the Lean 4 generators. The generated text is parsed back here
   (point codes, edges, certificates, data rows) and checked against the
   objects it came from with independent code: base-3 decoding, a cap check
   by brute force over triples, the Collatz–Wielandt and Tutte–Berge
   inequalities recomputed from the parsed numbers. Refusals (non-caps,
   non-counterexamples, undefined formulas) must leave no file behind.
   Running `lean` on the files is tests/e2e/lean.sh. */
#include <criterion/criterion.h>
#include <gmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kp_data.h"
#include "kp_expr.h"
#include "kp_lean.h"
#include "../kp_test.h"

/* ---- helpers ------------------------------------------------------------ */

static char *render_capset(int n, const unsigned char *c, size_t k, int flags, int *rc,
                           kp_error_t *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    *rc = kp_lean_capset(f, n, c, k, flags, err);
    fclose(f);
    return buf;
}

/* The numbers of the Lean list literal that follows `key` in text. */
static size_t parse_list(const char *text, const char *key, unsigned long *out, size_t max)
{
    const char *p = strstr(text, key);
    cr_assert_not_null(p, "no '%s' in the output", key);
    p = strchr(p, '[');
    cr_assert_not_null(p);
    size_t k = 0;
    for (p++; *p && *p != ']'; p++)
        if (*p >= '0' && *p <= '9') {
            char *end;
            unsigned long v = strtoul(p, &end, 10);
            cr_assert(k < max);
            out[k++] = v;
            p = end - 1;
        }
    return k;
}

/* Brute-force cap test over all triples of decoded coordinate vectors. */
static int is_cap_bruteforce(const unsigned char *c, size_t k, int n)
{
    for (size_t a = 0; a < k; a++)
        for (size_t b = a + 1; b < k; b++) {
            if (!memcmp(c + a * n, c + b * n, (size_t)n))
                return 0;
            for (size_t d = b + 1; d < k; d++) {
                int line = 1;
                for (int i = 0; i < n && line; i++)
                    line = (c[a * n + i] + c[b * n + i] + c[d * n + i]) % 3 == 0;
                if (line)
                    return 0;
            }
        }
    return 1;
}

/* The 20-cap of F_3^4: nonzero v with v0^2 + v1^2 + v2 v3 = 0 (mod 3). */
static size_t quadric20(unsigned char *c)
{
    size_t k = 0;
    for (int x = 1; x < 81; x++) {
        int v[4] = {x % 3, x / 3 % 3, x / 9 % 3, x / 27 % 3};
        if ((v[0] * v[0] + v[1] * v[1] + v[2] * v[3]) % 3 == 0) {
            for (int i = 0; i < 4; i++)
                c[k * 4 + i] = (unsigned char)v[i];
            k++;
        }
    }
    return k;
}

/* Product of caps: (u, v) with u in a (dimension na), v in b. */
static size_t product(unsigned char *out, const unsigned char *a, size_t ka, int na,
                      const unsigned char *b, size_t kb, int nb)
{
    size_t k = 0;
    for (size_t i = 0; i < ka; i++)
        for (size_t j = 0; j < kb; j++, k++) {
            memcpy(out + k * (na + nb), a + i * na, (size_t)na);
            memcpy(out + k * (na + nb) + na, b + j * nb, (size_t)nb);
        }
    return k;
}

static const unsigned char cap4[] = {0, 0, 0, 1, 1, 0, 1, 1}; /* 4-cap of F_3^2 */

/* ---- cap sets ----------------------------------------------------------- */

Test(lean, capset_code)
{
    unsigned char c[6] = {2, 0, 1, 0, 0, 2};
    cr_assert_eq(kp_lean_capset_code(c, 6), 2 + 9 + 2 * 243ul);
    cr_assert_eq(kp_lean_capset_code(c, 1), 2ul);
}

Test(lean, capset_roundtrip)
{
    unsigned char q[80], c[80 * 6];
    size_t k20 = quadric20(q);
    cr_assert_eq(k20, 20);
    cr_assert(is_cap_bruteforce(q, k20, 4));
    size_t k = product(c, q, k20, 4, cap4, 4, 2); /* 80 points in F_3^6 */
    cr_assert(is_cap_bruteforce(c, k, 6));
    /* Shuffle so the generator's sorting is exercised. */
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (size_t i = k - 1; i > 0; i--) {
        size_t j = kp_rng_below(&rng, i + 1);
        unsigned char t[6];
        memcpy(t, c + i * 6, 6);
        memcpy(c + i * 6, c + j * 6, 6);
        memcpy(c + j * 6, t, 6);
    }
    int rc;
    kp_error_t err;
    char *text = render_capset(6, c, k, 0, &rc, &err);
    cr_assert_eq(rc, KP_OK, "%s", err.msg);
    cr_assert_not_null(strstr(text, "theorem capset_6_size : IsCap 6 pts ∧ pts.length = 80 := by decide\n"));
    cr_assert_not_null(strstr(text, "abbrev IsCap (n : Nat) (pts : List Nat) : Prop :="));
    cr_assert_not_null(strstr(text, "set_option maxRecDepth"));
    cr_assert_null(strstr(text, "native_decide"));
    cr_assert_null(strstr(text, "sorry"));
    cr_assert_null(strstr(text, "↦"));
    cr_assert_not_null(strstr(text, "namespace Kepler.Capset"));
    cr_assert_not_null(strstr(text, "end Kepler.Capset"));

    unsigned long codes[100];
    size_t kk = parse_list(text, "def pts : List Nat :=", codes, 100);
    cr_assert_eq(kk, k);
    /* Decode every code and find it among the input points; increasing. */
    unsigned char seen[80] = {0};
    for (size_t j = 0; j < kk; j++) {
        if (j)
            cr_assert_lt(codes[j - 1], codes[j]);
        cr_assert_lt(codes[j], 729ul);
        unsigned char p[6];
        unsigned long x = codes[j];
        for (int i = 0; i < 6; i++, x /= 3)
            p[i] = (unsigned char)(x % 3);
        size_t at = k;
        for (size_t i = 0; i < k; i++)
            if (!memcmp(p, c + i * 6, 6))
                at = i;
        cr_assert_lt(at, k, "decoded point %lu is not an input point", codes[j]);
        cr_assert(!seen[at]);
        seen[at] = 1;
    }
    free(text);
}

/* The Lean file's `pairs n pts`, computed here with GMP exactly as its
   definitions read: weights t_i = T^(5^(n-1-i)), P = Σ_x Π_i t_i^(x_i),
   R = Σ_z Π_i r(z_i, t_i), N = P^2 R / Π_i t_i^4 % T with T = k^2 + 1. */
static void lean_pairs(mpz_t N, const unsigned long *codes, size_t k, int n)
{
    mpz_t T, P, R, top, mP, mR, t;
    mpz_inits(T, P, R, top, mP, mR, t, NULL);
    mpz_set_ui(T, (unsigned long)(k * k + 1));
    mpz_t *w = malloc((size_t)n * sizeof *w);
    for (int i = n - 1; i >= 0; i--) {
        mpz_init(w[i]);
        if (i == n - 1)
            mpz_set(w[i], T);
        else
            mpz_pow_ui(w[i], w[i + 1], 5);
    }
    mpz_set_ui(top, 1);
    for (int i = 0; i < n; i++) {
        mpz_pow_ui(t, w[i], 4);
        mpz_mul(top, top, t);
    }
    for (size_t j = 0; j < k; j++) {
        mpz_set_ui(mP, 1);
        mpz_set_ui(mR, 1);
        unsigned long x = codes[j];
        for (int i = 0; i < n; i++, x /= 3) {
            unsigned d = (unsigned)(x % 3);
            mpz_pow_ui(t, w[i], d);
            mpz_mul(mP, mP, t);
            mpz_t r;
            mpz_init(r);
            for (unsigned sdig = 0; sdig <= 4; sdig++)
                if ((sdig + d) % 3 == 0) {
                    mpz_pow_ui(t, w[i], 4 - sdig);
                    mpz_add(r, r, t);
                }
            mpz_mul(mR, mR, r);
            mpz_clear(r);
        }
        mpz_add(P, P, mP);
        mpz_add(R, R, mR);
    }
    mpz_mul(N, P, P);
    mpz_mul(N, N, R);
    mpz_fdiv_q(N, N, top);
    mpz_fdiv_r(N, N, T);
    for (int i = 0; i < n; i++)
        mpz_clear(w[i]);
    free(w);
    mpz_clears(T, P, R, top, mP, mR, t, NULL);
}

/* #{(x, y) : -(x + y) in S} by brute force over the codes. */
static unsigned long pairs_bruteforce(const unsigned long *codes, size_t k, int n)
{
    unsigned long cnt = 0;
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < k; b++) {
            unsigned long x = codes[a], y = codes[b], z = 0, p = 1;
            for (int i = 0; i < n; i++, x /= 3, y /= 3, p *= 3)
                z += (6 - x % 3 - y % 3) % 3 * p;
            for (size_t c = 0; c < k; c++)
                cnt += codes[c] == z;
        }
    return cnt;
}

/* The counting identity behind IsCap, on caps and on sets with lines. */
Test(lean, capset_pairs_identity)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    mpz_t N;
    mpz_init(N);
    unsigned char q[80], c[80 * 6];
    size_t k20 = quadric20(q);
    size_t k = product(c, q, k20, 4, cap4, 4, 2);
    unsigned long codes[100];
    for (size_t j = 0; j < k; j++)
        codes[j] = kp_lean_capset_code(c + j * 6, 6);
    lean_pairs(N, codes, k, 6);
    cr_assert_eq(mpz_get_ui(N), (unsigned long)k, "a cap: N = |S|");
    cr_assert_eq(pairs_bruteforce(codes, k, 6), (unsigned long)k);
    /* Random sets (mostly not caps), dimensions 1..5: N = |S| + 6 lines. */
    for (int trial = 0; trial < 40; trial++) {
        int n = 1 + trial % 5;
        unsigned long space = 1;
        for (int i = 0; i < n; i++)
            space *= 3;
        size_t m = 1 + kp_rng_below(&rng, space < 30 ? space : 30);
        unsigned char used[243] = {0};
        for (size_t j = 0; j < m;) {
            unsigned long x = kp_rng_below(&rng, space);
            if (!used[x]) {
                used[x] = 1;
                codes[j++] = x;
            }
        }
        lean_pairs(N, codes, m, n);
        unsigned long want = pairs_bruteforce(codes, m, n);
        cr_assert_eq(mpz_get_ui(N), want, "n = %d, %zu points", n, m);
        cr_assert_eq((want - m) % 6, 0ul);
    }
    mpz_clear(N);
}

Test(lean, capset_native)
{
    int rc;
    kp_error_t err;
    char *text = render_capset(2, cap4, 4, KP_LEAN_NATIVE, &rc, &err);
    cr_assert_eq(rc, KP_OK);
    cr_assert_not_null(strstr(text, "TRUSTED COMPILER"));
    cr_assert_not_null(strstr(text, ":= by native_decide\n"));
    cr_assert_null(strstr(text, "by decide"));
    free(text);
}

Test(lean, capset_refusals)
{
    int rc;
    kp_error_t err;
    /* (0,0), (1,1), (2,2) are collinear. */
    unsigned char line[] = {0, 0, 0, 1, 1, 1, 2, 2};
    char *text = render_capset(2, line, 4, 0, &rc, &err);
    cr_assert_eq(rc, KP_EINPUT);
    cr_assert_not_null(strstr(err.msg, "collinear"), "%s", err.msg);
    free(text);
    unsigned char dup[] = {0, 1, 1, 0, 0, 1};
    free(render_capset(2, dup, 3, 0, &rc, &err));
    cr_assert_eq(rc, KP_EINPUT);
    cr_assert_not_null(strstr(err.msg, "both"), "%s", err.msg);
    unsigned char bad[] = {0, 3};
    free(render_capset(2, bad, 1, 0, &rc, &err));
    cr_assert_eq(rc, KP_EINPUT);
    free(render_capset(13, cap4, 0, 0, &rc, &err));
    cr_assert_eq(rc, KP_EINPUT);

    /* The file form writes nothing when it refuses. */
    char path[] = "/tmp/kp-lean-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    unlink(path);
    cr_assert_eq(kp_lean_write_capset(path, 2, line, 4, 0, &err), KP_EINPUT);
    cr_assert_neq(access(path, F_OK), 0);
    cr_assert_eq(kp_lean_write_capset(path, 2, cap4, 4, 0, &err), KP_OK);
    cr_assert_eq(access(path, F_OK), 0);
    unlink(path);
}

/* ---- graphs ------------------------------------------------------------- */

/* Double star S(a, a): centres 0 and 1 joined, a leaves on each. With
   a >= 13 it violates Wagner's conjecture 2.1 (lambda_1 ~ sqrt(a) + 1/2,
   mu = 2, n = 2a + 2). */
static size_t double_star(int *e, int a)
{
    size_t m = 0;
    e[2 * m] = 0, e[2 * m + 1] = 1, m++;
    for (int i = 0; i < a; i++) {
        e[2 * m] = 0, e[2 * m + 1] = 2 + i, m++;
        e[2 * m] = 1, e[2 * m + 1] = 2 + a + i, m++;
    }
    return m;
}

static char *render_graph(int n, const int *e, size_t m, int *rc, kp_error_t *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    *rc = kp_lean_graph(f, "wagner21", n, e, m, 0, err);
    fclose(f);
    return buf;
}

static void parse_big(mpz_t z, const char *text, const char *key)
{
    const char *p = strstr(text, key);
    cr_assert_not_null(p, "no '%s'", key);
    p += strlen(key);
    char digits[4096];
    size_t k = 0;
    while (*p == ' ')
        p++;
    while (*p >= '0' && *p <= '9' && k + 1 < sizeof digits)
        digits[k++] = *p++;
    digits[k] = '\0';
    cr_assert_eq(mpz_set_str(z, digits, 10), 0);
}

Test(lean, graph_certificates)
{
    int e[2 * 40];
    size_t m = double_star(e, 14);
    int n = 30, rc;
    /* Present the edges reversed and shuffled: the file sorts them. */
    for (size_t i = 0; i < m; i++) {
        int t = e[2 * i];
        e[2 * i] = e[2 * i + 1];
        e[2 * i + 1] = t;
    }
    kp_error_t err;
    char *text = render_graph(n, e, m, &rc, &err);
    cr_assert_eq(rc, KP_OK, "%s", err.msg);
    cr_assert_not_null(strstr(text, "theorem wagner21_counterexample"));
    cr_assert_not_null(strstr(text, "Collatz"));
    cr_assert_not_null(strstr(text, "Tutte"));
    cr_assert_not_null(strstr(text, "theorem cover_bound"));
    cr_assert_not_null(strstr(text, "def n : Nat := 30\n"));

    /* Edges round-trip. */
    unsigned long ed[200];
    size_t ne = parse_list(text, "def edges : List (Nat × Nat) :=", ed, 200);
    cr_assert_eq(ne, 2 * m);
    unsigned char adj[30][30] = {{0}};
    for (size_t i = 0; i < m; i++) {
        cr_assert_lt(ed[2 * i], ed[2 * i + 1]);
        adj[ed[2 * i]][ed[2 * i + 1]] = adj[ed[2 * i + 1]][ed[2 * i]] = 1;
    }
    for (size_t i = 0; i < m; i++)
        cr_assert(adj[e[2 * i]][e[2 * i + 1]]);

    /* Re-check the certificates from the parsed numbers. */
    unsigned long x[64];
    cr_assert_eq(parse_list(text, "def x : List Nat :=", x, 64), (size_t)n);
    mpz_t bn, bd, U, s, l, r;
    mpz_inits(bn, bd, U, s, l, r, NULL);
    parse_big(bn, text, "def bNum : Nat :=");
    parse_big(bd, text, "def bDen : Nat :=");
    parse_big(U, text, "def U : Nat :=");
    for (int i = 0; i < n; i++) {
        cr_assert_gt(x[i], 0ul);
        mpz_set_ui(s, 0);
        for (int j = 0; j < n; j++)
            if (adj[i][j])
                mpz_add_ui(s, s, x[j]);
        mpz_mul(l, s, bd);
        mpz_mul_ui(r, bn, x[i]);
        cr_assert(mpz_cmp(l, r) <= 0, "Collatz-Wielandt fails at %d", i);
    }
    /* b >= the true lambda_1 of S(14,14): lambda^2 = (29 + sqrt(57)) / 2. */
    double lam = sqrt((29 + sqrt(57.0)) / 2);
    cr_assert_geq(mpz_get_d(bn) / mpz_get_d(bd), lam - 1e-12);
    cr_assert_eq(mpz_popcount(U), 2ul);
    cr_assert(mpz_tstbit(U, 0) && mpz_tstbit(U, 1));
    cr_assert_not_null(strstr(text, "def m : Nat := 2\n"));
    /* The packing bound n y_i < F. */
    mpz_t F;
    mpz_init(F);
    parse_big(F, text, "def F : Nat :=");
    for (int i = 0; i < n; i++)
        cr_assert_gt(mpz_cmp_ui(F, (unsigned long)n * x[i]), 0);
    mpz_clear(F);
    /* The spanning tree reaches every vertex from 0 along edges. */
    unsigned long tr[200];
    cr_assert_eq(parse_list(text, "def tree : List (Nat × Nat) :=", tr, 200), 2 * (size_t)(n - 1));
    unsigned char reached[30] = {1};
    for (int i = 0; i < n - 1; i++) {
        unsigned long v = tr[2 * i], p = tr[2 * i + 1];
        cr_assert(reached[p] && !reached[v] && adj[p][v], "tree step %d", i);
        reached[v] = 1;
    }
    /* Labels: closed under the edges of G - U; odd classes give the bound. */
    unsigned long lab[64];
    cr_assert_eq(parse_list(text, "def labels : List Nat :=", lab, 64), (size_t)n);
    for (size_t i = 0; i < m; i++) {
        unsigned long a = ed[2 * i], b2 = ed[2 * i + 1];
        if (!mpz_tstbit(U, a) && !mpz_tstbit(U, b2))
            cr_assert_eq(lab[a], lab[b2]);
    }
    int size[64] = {0}, q = 0;
    for (int v = 0; v < n; v++)
        if (!mpz_tstbit(U, v) && lab[v] < (unsigned long)n)
            size[lab[v]]++;
    for (int j = 0; j < n; j++)
        q += size[j] & 1;
    cr_assert_leq((n + 2 - q) / 2, 2);
    /* (b + 2 - 1)^2 < 29 */
    double b = mpz_get_d(bn) / mpz_get_d(bd);
    cr_assert_lt((b + 1) * (b + 1), 29.0);
    mpz_clears(bn, bd, U, s, l, r, NULL);
    free(text);
}

Test(lean, graph_refusals)
{
    int e[2 * 40], rc;
    kp_error_t err;
    /* S(12,12) meets the bound with equality (lambda_1 = 4, mu = 2, n = 26). */
    size_t m = double_star(e, 12);
    free(render_graph(26, e, m, &rc, &err));
    cr_assert_eq(rc, KP_EINPUT);
    cr_assert_not_null(strstr(err.msg, "not certified"), "%s", err.msg);
    /* A star is an equality case too. */
    int star[2 * 9];
    for (int i = 0; i < 9; i++)
        star[2 * i] = 0, star[2 * i + 1] = i + 1;
    free(render_graph(10, star, 9, &rc, &err));
    cr_assert_eq(rc, KP_EINPUT);
    /* Disconnected: drop the centre edge of S(14,14). */
    m = double_star(e, 14);
    free(render_graph(30, e + 2, m - 1, &rc, &err));
    cr_assert_eq(rc, KP_EINPUT);
    cr_assert_not_null(strstr(err.msg, "connected"), "%s", err.msg);
    /* Repeated edge, loop, vertex out of range. */
    e[2] = 1, e[3] = 0;
    free(render_graph(30, e, m, &rc, &err));
    cr_assert_eq(rc, KP_EINPUT);
    cr_assert_not_null(strstr(err.msg, "repeats"), "%s", err.msg);
    m = double_star(e, 14);
    e[0] = 3, e[1] = 3;
    free(render_graph(30, e, m, &rc, &err));
    cr_assert_eq(rc, KP_EINPUT);
    m = double_star(e, 14);
    free(render_graph(29, e, m, &rc, &err));
    cr_assert_eq(rc, KP_EINPUT);
}

/* ---- fits --------------------------------------------------------------- */

static char *render_fit(const char *csv, const char *expr, int *rc, kp_error_t *err)
{
    kp_data_t d;
    kp_data_init(&d);
    cr_assert_eq(kp_data_load_buffer(&d, csv, strlen(csv), "t.csv", err), KP_OK, "%s",
                 err->msg);
    const char *names[8];
    for (int j = 0; j < d.ncols - 1; j++)
        names[j] = d.names[j];
    kp_expr_t e;
    cr_assert_eq(kp_expr_parse(&e, expr, names, d.ncols - 1, err), KP_OK, "%s", err->msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    *rc = kp_lean_fit(f, &e, &d, d.ncols - 1, 0, err);
    fclose(f);
    kp_data_clear(&d);
    return buf;
}

/* Round trip of the data rows: every "Row.mk (Q.mk p q d) ..." line decodes
   to the CSV's cells, (p - q) / d, in column order. */
static void check_q_rows(const char *text, const char *csv)
{
    const char *line = strchr(csv, '\n') + 1;
    const char *p = strstr(text, "def rows : List Row := [");
    cr_assert_not_null(p);
    int rows = 0;
    while ((p = strstr(p, "\n  Row.mk ")) != NULL) {
        p += 10;
        const char *end = strchr(p, '\n');
        const char *cell = line;
        while (p < end && strncmp(p, "(Q.mk ", 6) == 0) {
            long long a, b, d;
            int used;
            cr_assert_eq(sscanf(p, "(Q.mk %lld %lld %lld)%n", &a, &b, &d, &used), 3);
            cr_assert(a == 0 || b == 0);
            cr_assert_gt(d, 0);
            double want = strtod(cell, NULL);
            cr_assert_float_eq((double)(a - b) / (double)d, want, 1e-12, "cell %.20s", cell);
            cell = strpbrk(cell, ",\n") + 1;
            p += used + 1;
        }
        line = strchr(line, '\n') + 1;
        rows++;
    }
    cr_assert_eq(*line, '\0', "fewer rows in the file than in the CSV (%d)", rows);
}

Test(lean, fit_exact_rows)
{
    int rc;
    kp_error_t err;
    char *text = render_fit("x,z,y\n1,2,2\n3,0.5,9.25\n-2,1,4.5\n0.5,-4,-1.75\n",
                            "x**2 + z/2", &rc, &err);
    cr_assert_eq(rc, KP_OK, "%s", err.msg);
    cr_assert_not_null(strstr(text, "theorem fit_exact : allRows = true ∧ len rows = 4 := by decide"));
    cr_assert_not_null(strstr(text, "def f (v0 v1 : Q) : Q :=\n  qadd (qpow (v0) 2) (qdiv (v1) ((Q.mk 2 0 1)))"), "%s", text);
    /* The rows are the written decimals exactly: (pos - neg) / den. */
    cr_assert_not_null(strstr(text, "Row.mk (Q.mk 3 0 1) (Q.mk 1 0 2) (Q.mk 37 0 4),"), "%s", text);
    cr_assert_not_null(strstr(text, "Row.mk (Q.mk 1 0 2) (Q.mk 0 4 1) (Q.mk 0 7 4)  --"));
    cr_assert_not_null(strstr(text, "v0 = x, v1 = z"));
    cr_assert_null(strstr(text, "⟨"), "anonymous constructors elaborate slowly in a list");
    check_q_rows(text, "x,z,y\n1,2,2\n3,0.5,9.25\n-2,1,4.5\n0.5,-4,-1.75\n");
    free(text);
}

Test(lean, fit_error_bound)
{
    int rc;
    kp_error_t err;
    /* y = x / 3 rounded to 4 decimals: not exact, error <= 1/30000. */
    char *text = render_fit("x,y\n1,0.3333\n2,0.6667\n4,1.3333\n", "x/3", &rc, &err);
    cr_assert_eq(rc, KP_OK, "%s", err.msg);
    cr_assert_not_null(strstr(text, "theorem fit_error_bound"));
    cr_assert_not_null(strstr(text, "qle (qabs (qsub (f r.v0) r.y)) E"));
    /* max error 1/30000 = 3.33e-5, rounded up to two digits: 34/1000000. */
    cr_assert_not_null(strstr(text, "def E : Q := (Q.mk 17 0 500000)"), "%s", text);
    free(text);
}

Test(lean, fit_enclosures)
{
    int rc;
    kp_error_t err;
    char *text = render_fit("x,y\n2,1.41421356\n3,1.73205081\n", "sqrt(x)", &rc, &err);
    cr_assert_eq(rc, KP_OK, "%s", err.msg);
    cr_assert_not_null(strstr(text, "theorem enclosure_error_bound"));
    cr_assert_not_null(strstr(text, "Float.sqrt v0"));
    cr_assert_not_null(strstr(text, "not a rational function"));
    free(text);
}

Test(lean, fit_refusals)
{
    int rc;
    kp_error_t err;
    free(render_fit("x,y\n1,1\n0,2\n", "1/x", &rc, &err));
    cr_assert_eq(rc, KP_EINPUT);
    cr_assert_not_null(strstr(err.msg, "undefined on data row 2"), "%s", err.msg);
    cr_assert_eq(err.line, 3);
    free(render_fit("x,y\n1,-1\n2,-2\n", "log(x - 1)", &rc, &err));
    cr_assert_eq(rc, KP_EINPUT);

    /* A free (floating-point) constant. */
    kp_data_t d;
    kp_data_init(&d);
    cr_assert_eq(kp_data_load_buffer(&d, "x,y\n1,2\n", 8, NULL, &err), KP_OK);
    kp_expr_t e;
    kp_expr_init(&e);
    kp_expr_push_op(&e, KP_OP_MUL);
    kp_expr_push_var(&e, 0);
    kp_expr_push_const(&e, 2.0000001);
    cr_assert_eq(kp_expr_finish(&e, &err), KP_OK);
    FILE *f = fopen("/dev/null", "w");
    cr_assert_eq(kp_lean_fit(f, &e, &d, 1, 0, &err), KP_EINPUT);
    cr_assert_not_null(strstr(err.msg, "floating-point"));
    fclose(f);
    kp_data_clear(&d);
}

Test(lean, capset_codes_form)
{
    char path[] = "/tmp/kp-lean-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    kp_error_t err;
    unsigned long codes[] = {0, 1, 3, 4}; /* the 4-cap of F_3^2 */
    cr_assert_eq(kp_lean_write_capset_codes(path, 2, codes, 4, 0, &err), KP_OK, "%s", err.msg);
    FILE *f = fopen(path, "r");
    char buf[8192];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = '\0';
    fclose(f);
    cr_assert_not_null(strstr(buf, "def pts : List Nat := [0, 1, 3, 4]"));
    unsigned long bad[] = {0, 9};
    cr_assert_eq(kp_lean_write_capset_codes(path, 2, bad, 2, 0, &err), KP_EINPUT);
    unlink(path);
}
