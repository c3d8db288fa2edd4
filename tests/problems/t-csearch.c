/* t-csearch.c: construction search: the priority order against a qsort
   oracle, determinism of builds and of whole runs across thread counts,
   and that program search, local search and symmetric search reach the
   maximum caps of F_3^4, F_3^5 and F_3^6 on test-sized budgets. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kp_capset.h"
#include "kp_csearch.h"
#include "kp_grammar.h"
#include "kp_problems.h"
#include "../kp_test.h"

typedef struct {
    double v;
    uint32_t i;
} pv_t;

/* Oracle order: priority as float, descending, NaN last, ties by index. */
static int cmp_pv(const void *a, const void *b)
{
    const pv_t *x = a, *y = b;
    float fx = (float)x->v, fy = (float)y->v;
    int nx = isnan(fx), ny = isnan(fy);
    if (nx != ny)
        return nx - ny;
    if (!nx && fx != fy)
        return fx > fy ? -1 : 1;
    return x->i < y->i ? -1 : 1;
}

Test(csearch, order_matches_qsort_oracle)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    enum { LEN = 500 };
    static double prio[LEN];
    static uint32_t order[LEN];
    static uint64_t keys[2 * LEN];
    static pv_t pv[LEN];
    for (long it = 0; it < 200 * kp_test_multiplier(); it++) {
        size_t len = 1 + kp_rng_below(&rng, LEN);
        int kind = (int)(it % 4);
        for (size_t i = 0; i < len; i++) {
            double v = kind == 0   ? (double)kp_rng_below(&rng, 5) - 2
                       : kind == 1 ? kp_rng_normal(&rng) * 1e6
                       : kind == 2 ? (kp_rng_below(&rng, 7) ? 0.0 : -0.0)
                                   : kp_rng_normal(&rng);
            if (kind == 3 && kp_rng_below(&rng, 10) == 0)
                v = kp_rng_below(&rng, 2) ? NAN : INFINITY;
            prio[i] = v;
            pv[i].v = v;
            pv[i].i = (uint32_t)i;
        }
        kp_cs_order(order, prio, len, keys);
        qsort(pv, len, sizeof *pv, cmp_pv);
        for (size_t i = 0; i < len; i++)
            cr_assert_eq(order[i], pv[i].i, "seed %llu it %ld pos %zu",
                         (unsigned long long)kp_test_seed(), it, i);
    }
}

static void load_capset_grammar(kp_grammar_t *g, int n)
{
    kp_error_t err;
    kp_grammar_init(g);
    cr_assert_eq(kp_grammar_load(g, "capset", &err), KP_OK, "%s", err.msg);
    cr_assert_eq(kp_cs_bind_grammar(g, kp_problem_capset(), n, &err), KP_OK,
                 "%s", err.msg);
}

Test(csearch, build_is_a_deterministic_greedy)
{
    const kp_problem_t *p = kp_problem_capset();
    int n = 4;
    size_t len = p->length(n);
    int nf = p->nfeatures(n);
    double *mem = malloc(sizeof(double) * len * (size_t)nf);
    double *cols[32];
    for (int f = 0; f < nf; f++)
        cols[f] = mem + (size_t)f * len;
    p->features(cols, n);
    /* x0..x3 are the digits; n0+n1+n2 = n; s is the digit sum mod 3. */
    for (size_t e = 0; e < len; e++) {
        uint8_t c[4];
        kp_capset_decode(c, (uint32_t)e, n);
        cr_assert_eq(cols[2][e], c[2]);
        cr_assert_eq(cols[n][e] + cols[n + 1][e] + cols[n + 2][e], n);
        cr_assert_eq(cols[n + 3][e], (c[0] + c[1] + c[2] + c[3]) % 3);
    }
    kp_grammar_t g;
    load_capset_grammar(&g, n);
    kp_expr_t e;
    const char *names[] = {"x0", "x1", "x2", "x3"};
    cr_assert_eq(kp_expr_parse(&e, "x0*x1 - x2/3 + x3", names, 4, NULL), KP_OK);
    double prio[81];
    uint32_t order[81];
    uint64_t keys[162];
    uint8_t x[81], y[81], z[81];
    void *ws = calloc(1, p->ws_size(n));
    kp_score_t s1, s2;
    cr_assert_eq(kp_cs_build(x, &s1, &e, p, n, (const double *const *)cols,
                             prio, order, keys, ws), KP_OK);
    cr_assert_eq(kp_cs_build(y, &s2, &e, p, n, (const double *const *)cols,
                             prio, order, keys, ws), KP_OK);
    cr_assert_eq(memcmp(x, y, 81), 0);
    cr_assert_eq(s1.value, s2.value);
    /* Same as the greedy over the explicitly sorted order. */
    kp_cs_order(order, prio, 81, keys);
    cr_assert_eq(kp_capset_greedy(z, order, n, ws), (size_t)s1.num);
    cr_assert_eq(memcmp(x, z, 81), 0);
    cr_assert_eq(p->verify(x, n, ws, NULL), KP_PROBLEM_OK);
    free(ws);
    free(mem);
    kp_grammar_clear(&g);
}

static void run(kp_cs_result_t *r, int n, int method, int threads,
                int rounds, double target)
{
    const kp_problem_t *p = kp_problem_capset();
    kp_grammar_t g;
    load_capset_grammar(&g, n);
    kp_cs_params_t prm;
    kp_cs_params_default(&prm);
    prm.seed = kp_test_seed();
    prm.method = method;
    prm.threads = threads;
    prm.max_rounds = rounds;
    prm.target = target;
    prm.islands = 4;
    prm.population = 24;
    kp_error_t err;
    cr_assert_eq(kp_cs_result_init(r, p, n), KP_OK);
    cr_assert_eq(kp_cs_run(r, p, n, &g, &prm, &err), KP_OK, "%s", err.msg);
    kp_grammar_clear(&g);
    void *ws = calloc(1, p->ws_size(n));
    cr_assert_eq(p->verify(r->best, n, ws, NULL), KP_PROBLEM_OK);
    free(ws);
}

Test(csearch, program_search_finds_the_20_cap)
{
    kp_cs_result_t r;
    run(&r, 4, KP_CS_PROGRAM, 0, 200, 20);
    cr_assert(r.reached, "best %g after %d rounds", r.score.value, r.rounds);
    cr_assert_eq(r.score.num, 20);
    cr_assert(r.have_program);
    kp_cs_result_clear(&r);
}

Test(csearch, local_search_finds_the_45_cap)
{
    kp_cs_result_t r;
    run(&r, 5, KP_CS_LOCAL, 0, 400, 45);
    cr_assert(r.reached, "best %g after %d rounds", r.score.value, r.rounds);
    cr_assert_eq(r.score.num, 45);
    kp_cs_result_clear(&r);
}

Test(csearch, symmetric_search_finds_the_112_cap)
{
    kp_cs_result_t r;
    run(&r, 6, KP_CS_SYMMETRIC, 0, 100, 112);
    cr_assert(r.reached, "best %g after %d rounds", r.score.value, r.rounds);
    cr_assert_eq(r.score.num, 112);
    cr_assert(r.sym_group >= 0);
    cr_assert(!r.have_program);
    kp_cs_result_clear(&r);
}

Test(csearch, same_result_for_any_thread_count)
{
    for (int method = KP_CS_PROGRAM; method <= KP_CS_SYMMETRIC; method++) {
        kp_cs_result_t a, b;
        run(&a, 5, method, 1, 3, NAN);
        run(&b, 5, method, 2, 3, NAN);
        cr_assert_eq(a.evaluations, b.evaluations);
        cr_assert_eq(a.score.value, b.score.value);
        cr_assert_eq(memcmp(a.best, b.best, a.len), 0);
        if (method == KP_CS_PROGRAM)
            cr_assert(kp_expr_equal(&a.program, &b.program));
        kp_cs_result_clear(&a);
        kp_cs_result_clear(&b);
    }
}

Test(csearch, rejects_bad_requests)
{
    kp_problem_t p = *kp_problem_capset();
    kp_cs_params_t prm;
    kp_cs_params_default(&prm);
    prm.max_rounds = 1;
    kp_cs_result_t r;
    kp_error_t err;
    cr_assert_eq(kp_cs_result_init(&r, &p, 3), KP_OK);
    cr_assert_eq(kp_cs_run(&r, &p, 3, NULL, &prm, &err), KP_EINPUT,
                 "program search needs a grammar");
    cr_assert_eq(kp_cs_run(&r, &p, 99, NULL, &prm, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "out of range") != NULL);
    p.construct = NULL;
    prm.method = KP_CS_LOCAL;
    cr_assert_eq(kp_cs_run(&r, &p, 3, NULL, &prm, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "greedy") != NULL);
    kp_cs_result_clear(&r);
}
