/* t-symsearch.c: the symmetry hooks of the capset problem (batched third
   points, sign-change orbits, the groups) against digit-by-digit oracles,
   and the symmetric search: valid, invariant results, the maxima of
   F_3^4 and F_3^6 on small budgets, determinism, bad requests. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kp_test.h"
#include "kp_capset.h"
#include "kp_csearch.h"
#include "kp_problems.h"
#include "kp_symsearch.h"

static void *problem_ws(const kp_problem_t *p, int n)
{
    size_t sz = (p->ws_size(n) + 63) / 64 * 64 + 64;
    void *ws = aligned_alloc(64, sz);
    cr_assert(ws != NULL);
    memset(ws, 0, sz);
    return ws;
}

Test(symsearch, batched_thirds_match_the_digit_oracle)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    const kp_problem_t *p = kp_problem_capset();
    for (int n = 1; n <= 10; n++) {
        void *ws = problem_ws(p, n);
        uint32_t np = kp_capset_npoints(n), b[64], z[64];
        for (long it = 0; it < 50 * kp_test_multiplier(); it++) {
            uint32_t a = (uint32_t)kp_rng_below(&rng, np);
            size_t k = 1 + kp_rng_below(&rng, 64);
            for (size_t j = 0; j < k; j++)
                b[j] = (uint32_t)kp_rng_below(&rng, np);
            p->line_thirds(z, a, b, k, n, ws);
            for (size_t j = 0; j < k; j++)
                cr_assert_eq(z[j], kp_capset_third(a, b[j], n),
                             "n=%d a=%u b=%u seed %llu", n, a, b[j],
                             (unsigned long long)kp_test_seed());
        }
        /* The table survives verify using the same workspace. */
        uint8_t *x = calloc(np, 1);
        x[0] = 1;
        cr_assert_eq(p->verify(x, n, ws, NULL), KP_PROBLEM_OK);
        p->line_thirds(z, 1 % np, b, 1, n, ws);
        cr_assert_eq(z[0], kp_capset_third(1 % np, b[0], n));
        free(x);
        free(ws);
    }
}

/* Oracle: orbit of p under block sign changes, by brute force over all
   2^blocks group elements. */
static int same_orbit(uint32_t p, uint32_t q, const uint8_t *block, int n)
{
    int nb = 0;
    for (int i = 0; i < n; i++)
        if (block[i] != KP_CAPSET_FIXED)
            nb = block[i] + 1 > nb ? block[i] + 1 : nb;
    uint8_t c[KP_CAPSET_MAX_N], d[KP_CAPSET_MAX_N];
    kp_capset_decode(c, p, n);
    for (uint32_t g = 0; g < (1u << nb); g++) {
        for (int i = 0; i < n; i++)
            d[i] = block[i] != KP_CAPSET_FIXED && (g >> block[i] & 1)
                       ? (uint8_t)((3 - c[i]) % 3)
                       : c[i];
        if (kp_capset_encode(d, n) == q)
            return 1;
    }
    return 0;
}

Test(symsearch, sign_orbits_match_brute_force)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (int n = 1; n <= 5; n++) {
        uint32_t np = kp_capset_npoints(n);
        uint32_t *orb = malloc(sizeof *orb * np);
        for (int rep = 0; rep < 4; rep++) {
            uint8_t block[KP_CAPSET_MAX_N];
            for (int i = 0; i < n; i++) { /* value n: a fixed coordinate */
                block[i] = (uint8_t)kp_rng_below(&rng, (uint64_t)n + 1);
                if (block[i] == n)
                    block[i] = KP_CAPSET_FIXED;
            }
            uint32_t no = kp_capset_sign_orbits(orb, block, n);
            uint32_t next = 0; /* numbered in order of smallest point */
            for (uint32_t p = 0; p < np; p++) {
                cr_assert(orb[p] < no);
                if (orb[p] == next)
                    next++;
                else
                    cr_assert(orb[p] < next, "orbit numbering at %u", p);
                for (uint32_t q = 0; q < np; q++)
                    cr_assert_eq(orb[p] == orb[q], same_orbit(p, q, block, n),
                                 "n=%d p=%u q=%u", n, p, q);
            }
            cr_assert_eq(next, no);
        }
        free(orb);
    }
}

Test(symsearch, groups_are_the_shapes_of_n)
{
    const kp_problem_t *p = kp_problem_capset();
    /* One group per partition of m acted-on coordinates, m = 1..n. */
    static const int partitions[11] = {1, 1, 2, 3, 5, 7, 11, 15, 22, 30, 42};
    char name[128];
    for (int n = 1; n <= 10; n++) {
        int total = 0;
        for (int m = 1; m <= n; m++)
            total += partitions[m];
        cr_assert_eq(p->nsymmetries(n), total, "n=%d", n);
        for (int s = 0; s < total; s++) {
            p->symmetry_name(name, sizeof name, s, n);
            cr_assert(strstr(name, "sign changes on blocks") != NULL);
        }
    }
    /* n = 4: pairs first (2+2; then 2+1+1, 2+1 and 2 with 0, 1, 2 fixed
       coordinates), singletons, then larger blocks: 4, 3+1, 3. */
    static const char *const order4[11] = {"2+2",
                                           "2+1+1",
                                           "2+1, 1 coordinate fixed",
                                           "2, 2 coordinates fixed",
                                           "1+1+1+1",
                                           "1+1+1, 1 coordinate fixed",
                                           "1+1, 2 coordinates fixed",
                                           "1, 3 coordinates fixed",
                                           "4",
                                           "3+1",
                                           "3, 1 coordinate fixed"};
    for (int s = 0; s < 11; s++) {
        p->symmetry_name(name, sizeof name, s, 4);
        cr_assert_str_eq(name + strlen("sign changes on blocks "), order4[s],
                         "group %d: %s", s, name);
    }
    /* Block 4 of F_3^4 is x -> -x: (81 - 1) / 2 pairs and {0}; block 3
       with the fourth coordinate fixed: (27 - 1) / 2 + 1 orbits of F_3^3,
       for each of 3 values of the fixed coordinate. */
    uint32_t orb[81];
    cr_assert_eq(p->symmetry_orbits(orb, 8, 4), 41);
    cr_assert_eq(p->symmetry_orbits(orb, 10, 4), 3 * 14);
    cr_assert_eq(p->symmetry_orbits(orb, 99, 4), 0);
}

static int is_invariant(const uint8_t *x, const uint32_t *orb, size_t len)
{
    for (size_t e = 0; e < len; e++)
        for (size_t f = e + 1; f < len; f++)
            if (orb[e] == orb[f] && x[e] != x[f])
                return 0;
    return 1;
}

Test(symsearch, finds_valid_invariant_caps)
{
    const kp_problem_t *p = kp_problem_capset();
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (int n = 2; n <= 5; n++) {
        size_t len = p->length(n);
        uint8_t *x = malloc(len);
        uint32_t *orb = malloc(sizeof *orb * len);
        void *ws = problem_ws(p, n);
        for (int g = 0; g < p->nsymmetries(n); g++) {
            kp_sym_t s;
            kp_error_t err;
            cr_assert_eq(kp_sym_init(&s, p, n, g, ws, &err), KP_OK, "%s",
                         err.msg);
            kp_sym_run(&s, 300, &rng);
            size_t k = kp_sym_best(x, &s);
            cr_assert_eq(k, s.best_size);
            cr_assert(k >= 2, "n=%d group %d: %zu", n, g, k);
            cr_assert_eq(p->verify(x, n, ws, NULL), KP_PROBLEM_OK,
                         "n=%d group %d", n, g);
            p->symmetry_orbits(orb, g, n);
            cr_assert(is_invariant(x, orb, len), "n=%d group %d", n, g);
            /* The running state stays a valid invariant cap too. */
            memset(x, 0, len);
            for (size_t i = 0; i < s.k; i++)
                x[s.pts[i]] = 1;
            cr_assert_eq(p->verify(x, n, ws, NULL), KP_PROBLEM_OK);
            cr_assert(is_invariant(x, orb, len));
            kp_sym_clear(&s);
        }
        free(ws);
        free(orb);
        free(x);
    }
}

Test(symsearch, reaches_the_maxima_of_dimensions_4_and_6)
{
    const kp_problem_t *p = kp_problem_capset();
    static const int n_of[2] = {4, 6}, best[2] = {20, 112};
    for (int t = 0; t < 2; t++) {
        int n = n_of[t];
        void *ws = problem_ws(p, n);
        kp_rng_t rng;
        kp_test_rng_init(&rng);
        kp_sym_t s;
        cr_assert_eq(kp_sym_init(&s, p, n, 0, ws, NULL), KP_OK);
        for (int r = 0; r < 200 && s.best_size < (size_t)best[t]; r++)
            kp_sym_run(&s, 100, &rng);
        cr_assert_eq(s.best_size, (size_t)best[t], "n=%d: %zu", n, s.best_size);
        uint8_t *x = malloc(p->length(n));
        kp_sym_best(x, &s);
        cr_assert_eq(p->verify(x, n, ws, NULL), KP_PROBLEM_OK);
        free(x);
        kp_sym_clear(&s);
        free(ws);
    }
}

Test(symsearch, deterministic_given_the_stream)
{
    const kp_problem_t *p = kp_problem_capset();
    int n = 5;
    void *ws = problem_ws(p, n);
    kp_sym_t a, b;
    kp_rng_t ra, rb;
    kp_test_rng_init(&ra);
    kp_test_rng_init(&rb);
    cr_assert_eq(kp_sym_init(&a, p, n, 1, ws, NULL), KP_OK);
    cr_assert_eq(kp_sym_init(&b, p, n, 1, ws, NULL), KP_OK);
    kp_sym_run(&a, 700, &ra);
    for (int i = 0; i < 7; i++)
        kp_sym_run(&b, 100, &rb);
    cr_assert_eq(a.best_size, b.best_size);
    cr_assert_eq(memcmp(a.best, b.best, a.norb), 0);
    cr_assert_eq(memcmp(a.in, b.in, a.norb), 0);
    kp_sym_clear(&a);
    kp_sym_clear(&b);
    free(ws);
}

Test(symsearch, rejects_problems_without_symmetries)
{
    kp_problem_t p = *kp_problem_capset();
    kp_sym_t s;
    kp_error_t err;
    void *ws = problem_ws(&p, 3);
    cr_assert_eq(kp_sym_init(&s, &p, 3, 99, ws, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "out of range") != NULL);
    p.symmetry_orbits = NULL;
    cr_assert_eq(kp_sym_init(&s, &p, 3, 0, ws, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "no symmetries") != NULL);
    /* The driver refuses method symmetric for such a problem. */
    kp_cs_params_t prm;
    kp_cs_params_default(&prm);
    prm.method = KP_CS_SYMMETRIC;
    prm.max_rounds = 1;
    kp_cs_result_t r;
    cr_assert_eq(kp_cs_result_init(&r, &p, 3), KP_OK);
    cr_assert_eq(kp_cs_run(&r, &p, 3, NULL, &prm, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "symmetr") != NULL);
    kp_cs_result_clear(&r);
    free(ws);
}

/* kp_sym_add (the checkpoint restore path) rebuilds a state orbit by
   orbit: the same counts as the search's own state, and refuses orbits
   that are out of range, already in, or would close a line. */
Test(symsearch, add_rebuilds_a_state_and_refuses_lines)
{
    const kp_problem_t *p = kp_problem_capset();
    int n = 5;
    void *ws = problem_ws(p, n);
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    kp_sym_t a, b;
    cr_assert_eq(kp_sym_init(&a, p, n, 2, ws, NULL), KP_OK);
    cr_assert_eq(kp_sym_init(&b, p, n, 2, ws, NULL), KP_OK);
    kp_sym_run(&a, 150, &rng);
    cr_assert(a.nmem > 0);
    for (uint32_t i = 0; i < a.nmem; i++)
        cr_assert_eq(kp_sym_add(&b, a.mem[i]), KP_OK, "orbit %u", a.mem[i]);
    cr_assert_eq(b.k, a.k);
    cr_assert_eq(memcmp(b.in, a.in, a.norb), 0);
    cr_assert_eq(memcmp(b.mem, a.mem, sizeof *a.mem * a.nmem), 0);
    cr_assert_eq(memcmp(b.cnt, a.cnt, sizeof *a.cnt * a.len), 0);
    cr_assert_eq(kp_sym_add(&b, a.mem[0]), KP_EINPUT);
    cr_assert_eq(kp_sym_add(&b, b.norb), KP_EINPUT);
    /* An orbit whose first point closes a line with the state is refused. */
    int refused = 0;
    for (uint32_t o = 0; o < b.norb; o++)
        if (!b.in[o] && b.cnt[b.opts[b.ostart[o]]] > 0) {
            cr_assert_eq(kp_sym_add(&b, o), KP_EINPUT, "orbit %u", o);
            refused++;
        }
    cr_assert(refused > 0);
    kp_sym_clear(&a);
    kp_sym_clear(&b);
    free(ws);
}
