/* t-graph.c: exact graph invariants (verify/kp_graph.h): spectra against
   closed forms, matchings against brute force, certificates. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include <acb.h>

#include "../kp_test.h"
#include "kp_graph.h"

static void mk(kp_graph_t *g, int n)
{
    cr_assert_eq(kp_graph_init(g, n, NULL), KP_OK);
}

static void complete(kp_graph_t *g, int n)
{
    mk(g, n);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            kp_graph_set(g, i, j, 1);
}

static void cycle(kp_graph_t *g, int n)
{
    mk(g, n);
    for (int i = 0; i < n; i++)
        kp_graph_set(g, i, (i + 1) % n, 1);
}

static void path(kp_graph_t *g, int n)
{
    mk(g, n);
    for (int i = 0; i + 1 < n; i++)
        kp_graph_set(g, i, i + 1, 1);
}

static void star(kp_graph_t *g, int n)
{
    mk(g, n);
    for (int i = 1; i < n; i++)
        kp_graph_set(g, 0, i, 1);
}

static void petersen(kp_graph_t *g)
{
    mk(g, 10);
    for (int i = 0; i < 5; i++) {
        kp_graph_set(g, i, (i + 1) % 5, 1);
        kp_graph_set(g, i, i + 5, 1);
        kp_graph_set(g, 5 + i, 5 + (i + 2) % 5, 1);
    }
}

static void random_graph(kp_graph_t *g, int n, double p, kp_rng_t *rng)
{
    mk(g, n);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (kp_rng_uniform(rng) < p)
                kp_graph_set(g, i, j, 1);
}

/* lambda_1 of g is in a ball containing the exact value `exact` (Arb). */
static void check_lambda(const kp_graph_t *g, const arb_t exact,
                         const char *what)
{
    arb_t lam;
    arb_init(lam);
    cr_assert_eq(kp_graph_lambda1(lam, g, 128, NULL), KP_OK, "%s", what);
    cr_assert(arb_overlaps(lam, exact), "%s: %s", what,
              arb_get_str(lam, 20, 0));
    cr_assert(arb_rel_accuracy_bits(lam) > 100, "%s: accuracy", what);
    double d = kp_graph_lambda1_d(g, NULL);
    cr_assert(fabs(d - arf_get_d(arb_midref(lam), ARF_RND_NEAR)) < 1e-9,
              "%s: double %g", what, d);
    arb_clear(lam);
}

Test(graph, lambda1_closed_forms)
{
    arb_t e;
    arb_init(e);
    for (int n = 2; n <= 12; n++) {
        kp_graph_t g;
        complete(&g, n); /* eigenvalues n-1, -1 (n-1 times) */
        arb_set_si(e, n - 1);
        check_lambda(&g, e, "K_n");
        kp_graph_clear(&g);
        star(&g, n); /* sqrt(n-1), 0 (n-2 times) */
        arb_sqrt_ui(e, (ulong)n - 1, 200);
        check_lambda(&g, e, "star");
        cr_assert_eq(kp_graph_lambda1_cmp(&g, 0, n - 1), KP_GRAPH_EQUAL);
        cr_assert_eq(kp_graph_lambda1_cmp(&g, 1, n - 1), KP_GRAPH_LESS);
        cr_assert_eq(kp_graph_lambda1_cmp(&g, -1, n - 1), KP_GRAPH_GREATER);
        kp_graph_clear(&g);
        path(&g, n); /* 2 cos(pi/(n+1)) */
        arb_const_pi(e, 200);
        arb_div_ui(e, e, (ulong)n + 1, 200);
        arb_cos(e, e, 200);
        arb_mul_2exp_si(e, e, 1);
        check_lambda(&g, e, "P_n");
        kp_graph_clear(&g);
        if (n >= 3) {
            cycle(&g, n); /* 2, with repeated eigenvalues 2cos(2pi k/n) */
            arb_set_si(e, 2);
            check_lambda(&g, e, "C_n");
            cr_assert_eq(kp_graph_lambda1_cmp(&g, 2, 0), KP_GRAPH_EQUAL);
            cr_assert_eq(kp_graph_lambda1_cmp(&g, 1, 1), KP_GRAPH_EQUAL);
            kp_graph_clear(&g);
        }
    }
    kp_graph_t g;
    petersen(&g); /* 3, 1^5, (-2)^4 */
    arb_set_si(e, 3);
    check_lambda(&g, e, "Petersen");
    kp_graph_clear(&g);
    /* Empty graph on 7 vertices: charpoly x^7, a single repeated root. */
    mk(&g, 7);
    arb_zero(e);
    check_lambda(&g, e, "empty");
    kp_graph_clear(&g);
    /* Disjoint union of two Petersen graphs: every eigenvalue repeated. */
    mk(&g, 20);
    for (int i = 0; i < 5; i++)
        for (int o = 0; o <= 10; o += 10) {
            kp_graph_set(&g, o + i, o + (i + 1) % 5, 1);
            kp_graph_set(&g, o + i, o + i + 5, 1);
            kp_graph_set(&g, o + 5 + i, o + 5 + (i + 2) % 5, 1);
        }
    arb_set_si(e, 3);
    check_lambda(&g, e, "2 Petersen");
    cr_assert_not(kp_graph_connected(&g));
    cr_assert_eq(kp_graph_ncomponents(&g), 2);
    kp_graph_clear(&g);
    arb_clear(e);
}

Test(graph, sorted_roots_multiplicities)
{
    kp_graph_t g;
    petersen(&g);
    fmpz_poly_t p;
    fmpz_poly_init(p);
    kp_graph_charpoly(p, &g);
    arb_ptr ev = _arb_vec_init(10);
    cr_assert_eq(kp_graph_sorted_roots(ev, p, 64, NULL), KP_OK);
    const int want[10] = {3, 1, 1, 1, 1, 1, -2, -2, -2, -2};
    for (int i = 0; i < 10; i++) {
        arb_t w;
        arb_init(w);
        arb_set_si(w, want[i]);
        cr_assert(arb_overlaps(ev + i, w), "eigenvalue %d", i);
        arb_clear(w);
    }
    /* Distance spectrum of K_4 is the adjacency spectrum: 3, -1, -1, -1. */
    kp_graph_t k;
    complete(&k, 4);
    cr_assert_eq(kp_graph_distance_charpoly(p, &k, NULL), KP_OK);
    cr_assert_eq(kp_graph_sorted_roots(ev, p, 64, NULL), KP_OK);
    cr_assert(arb_contains_si(ev + 0, 3) && arb_contains_si(ev + 3, -1));
    kp_graph_clear(&k);
    kp_graph_t d;
    mk(&d, 3);
    cr_assert_eq(kp_graph_distance_charpoly(p, &d, NULL), KP_EINPUT);
    kp_graph_clear(&d);
    _arb_vec_clear(ev, 10);
    fmpz_poly_clear(p);
    kp_graph_clear(&g);
}

/* Maximum matching by trying every subset of edges, for small graphs. */
static int brute_matching(const kp_graph_t *g)
{
    int n = g->n, m = 0, eu[64], ev[64];
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (kp_graph_edge(g, i, j) && m < 64) {
                eu[m] = i;
                ev[m] = j;
                m++;
            }
    /* recursion over vertices: best matching on vertices >= v */
    int best = 0;
    unsigned used = 0;
    int stack_v[32], stack_e[32], depth = 0, cur = 0;
    (void)stack_v;
    (void)stack_e;
    (void)depth;
    /* simple exhaustive search over edge subsets in order */
    struct {
        int e;
        unsigned used;
        int size;
    } st[65];
    int sp = 0;
    st[sp].e = 0;
    st[sp].used = 0;
    st[sp].size = 0;
    sp = 1;
    while (sp > 0) {
        sp--;
        int e = st[sp].e;
        used = st[sp].used;
        cur = st[sp].size;
        if (cur > best)
            best = cur;
        if (e >= m || cur + (n - __builtin_popcount(used)) / 2 <= best)
            continue;
        st[sp].e = e + 1;
        st[sp].used = used;
        st[sp].size = cur;
        sp++;
        if (!(used >> eu[e] & 1) && !(used >> ev[e] & 1)) {
            st[sp].e = e + 1;
            st[sp].used = used | 1u << eu[e] | 1u << ev[e];
            st[sp].size = cur + 1;
            sp++;
        }
    }
    return best;
}

Test(graph, matching_vs_brute_force)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    long iters = 300 * kp_test_multiplier();
    for (long it = 0; it < iters; it++) {
        int n = 1 + (int)kp_rng_below(&rng, 11);
        double p = kp_rng_uniform(&rng) * 0.6;
        kp_graph_t g;
        random_graph(&g, n, p, &rng);
        if (kp_graph_nedges(&g) > 40) {
            kp_graph_clear(&g);
            continue;
        }
        int mate[16];
        int mu = kp_graph_matching(&g, mate);
        int want = brute_matching(&g);
        cr_assert_eq(mu, want, "seed %llu iter %ld n %d: %d vs %d",
                     (unsigned long long)kp_test_seed(), it, n, mu, want);
        int k = 0;
        for (int v = 0; v < n; v++)
            if (mate[v] >= 0) {
                cr_assert_eq(mate[mate[v]], v);
                cr_assert(kp_graph_edge(&g, v, mate[v]));
                k++;
            }
        cr_assert_eq(k, 2 * mu);
        unsigned char ins[16];
        cr_assert_eq(kp_graph_tutte_berge_set(ins, &g), mu, "iter %ld", it);
        cr_assert_eq(kp_graph_tutte_berge_bound(&g, ins), mu);
        kp_graph_clear(&g);
    }
    /* Larger graphs: Tutte–Berge bound equals the blossom result, and odd
       cycles (blossoms) are handled. */
    for (long it = 0; it < 40 * kp_test_multiplier(); it++) {
        int n = 20 + (int)kp_rng_below(&rng, 40);
        kp_graph_t g;
        random_graph(&g, n, 2.5 / n, &rng);
        int mu = kp_graph_matching(&g, NULL);
        unsigned char ins[64];
        cr_assert_eq(kp_graph_tutte_berge_set(ins, &g), mu);
        kp_graph_clear(&g);
    }
    kp_graph_t c;
    cycle(&c, 9);
    cr_assert_eq(kp_graph_matching(&c, NULL), 4);
    kp_graph_clear(&c);
    petersen(&c);
    cr_assert_eq(kp_graph_matching(&c, NULL), 5);
    kp_graph_clear(&c);
}

Test(graph, collatz_wielandt)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (long it = 0; it < 30 * kp_test_multiplier(); it++) {
        int n = 2 + (int)kp_rng_below(&rng, 25);
        kp_graph_t g;
        random_graph(&g, n, kp_rng_uniform(&rng), &rng);
        fmpz *x = _fmpz_vec_init(n);
        fmpq_t b, r;
        fmpq_init(b);
        fmpq_init(r);
        arb_t lam, bb;
        arb_init(lam);
        arb_init(bb);
        cr_assert_eq(kp_graph_cw_bound(x, b, &g, 30, NULL), KP_OK);
        cr_assert(kp_graph_cw_check(&g, x, b));
        cr_assert_eq(kp_graph_lambda1(lam, &g, 128, NULL), KP_OK);
        arb_set_fmpq(bb, b, 128);
        cr_assert(!arb_lt(bb, lam), "bound below lambda_1");
        if (kp_graph_connected(&g)) {
            /* tight on connected graphs */
            arb_sub(bb, bb, lam, 128);
            cr_assert(arf_cmpabs_2exp_si(arb_midref(bb), -15) < 0,
                      "loose CW bound");
        }
        cr_assert_eq(kp_graph_rayleigh(r, &g, x, NULL), KP_OK);
        arb_set_fmpq(bb, r, 128);
        cr_assert(!arb_gt(bb, lam), "Rayleigh above lambda_1");
        /* A bound a little too small, or a broken vector, is rejected. */
        if (kp_graph_nedges(&g) > 0) {
            fmpq_t s;
            fmpq_init(s);
            fmpq_set_si(s, 999, 1000);
            fmpq_mul(s, s, b);
            cr_assert_not(kp_graph_cw_check(&g, x, s));
            fmpq_clear(s);
        }
        fmpz_zero(x + 0);
        cr_assert_not(kp_graph_cw_check(&g, x, b));
        _fmpz_vec_clear(x, n);
        fmpq_clear(b);
        fmpq_clear(r);
        arb_clear(lam);
        arb_clear(bb);
        kp_graph_clear(&g);
    }
    fmpq_t q;
    fmpq_init(q);
    fmpq_set_si(q, 9, 2); /* 4.5 vs 1 + sqrt(12) = 4.46 */
    cr_assert_eq(kp_graph_fmpq_cmp_sqrt(q, 1, 12), 1);
    fmpq_set_si(q, 4, 1); /* 4 = 1 + sqrt 9 */
    cr_assert_eq(kp_graph_fmpq_cmp_sqrt(q, 1, 9), 0);
    fmpq_set_si(q, -3, 1);
    cr_assert_eq(kp_graph_fmpq_cmp_sqrt(q, 0, 2), -1);
    fmpq_clear(q);
}

Test(graph, edges_and_bits)
{
    for (int n = 2; n < 9; n++)
        for (long k = 0; k < kp_graph_npairs(n); k++) {
            int i, j;
            kp_graph_pair_of_index(n, k, &i, &j);
            cr_assert(i < j && j < n);
            cr_assert_eq(kp_graph_pair_index(n, i, j), k);
            cr_assert_eq(kp_graph_pair_index(n, j, i), k);
        }
    kp_graph_t g;
    mk(&g, 4);
    kp_error_t err;
    long ok[] = {0, 1, 1, 2, 2, 3};
    cr_assert_eq(kp_graph_add_edges(&g, ok, 3, &err), KP_OK);
    cr_assert(kp_graph_connected(&g));
    long e1[] = {3, 0};
    cr_assert_eq(kp_graph_add_edges(&g, e1, 1, &err), KP_OK);
    long rep[] = {1, 0};
    cr_assert_eq(kp_graph_add_edges(&g, rep, 1, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "repeated"), "%s", err.msg);
    long loop[] = {2, 2};
    cr_assert_eq(kp_graph_add_edges(&g, loop, 1, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "self-loop"));
    long out[] = {0, 4};
    cr_assert_eq(kp_graph_add_edges(&g, out, 1, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "outside"));
    int d[16];
    cr_assert_eq(kp_graph_distances(d, &g), 2);
    unsigned char bits[6];
    kp_graph_to_bits(bits, &g);
    kp_graph_t h;
    mk(&h, 4);
    kp_graph_from_bits(&h, bits);
    cr_assert_eq(memcmp(g.a, h.a, 16), 0);
    kp_graph_clear(&g);
    kp_graph_clear(&h);
    cr_assert_eq(kp_graph_init(&g, -1, &err), KP_EINPUT);
}

Test(graph, cliques)
{
    kp_graph_t g;
    complete(&g, 6);
    cr_assert_eq(kp_graph_count_cliques(&g, 3, 0), 20);
    cr_assert_eq(kp_graph_count_cliques(&g, 2, 1), 0);
    kp_graph_clear(&g);
    /* Wagner graph C_8(1,4): triangle-free, independence number 3. */
    mk(&g, 8);
    for (int i = 0; i < 8; i++) {
        kp_graph_set(&g, i, (i + 1) % 8, 1);
        kp_graph_set(&g, i, (i + 4) % 8, 1);
    }
    cr_assert_eq(kp_graph_count_cliques(&g, 3, 0), 0);
    cr_assert_eq(kp_graph_count_cliques(&g, 4, 1), 0);
    cr_assert(kp_graph_count_cliques(&g, 3, 1) > 0);
    kp_graph_clear(&g);
    petersen(&g); /* alpha = 4: 5 independent 4-sets */
    cr_assert_eq(kp_graph_count_cliques(&g, 4, 1), 5);
    cr_assert_eq(kp_graph_count_cliques(&g, 5, 1), 0);
    kp_graph_clear(&g);
}

/* The search's double-precision lambda_1 (tridiagonalisation + Laguerre in
   a Sturm bracket) against Arb on random graphs of every density,
   including disconnected ones, disjoint copies (a multiple top eigenvalue,
   where Laguerre is only linear) and sizes past the stack buffer. */
Test(graph, lambda1_double_vs_exact)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    arb_t lam;
    arb_init(lam);
    for (long it = 0; it < 200 * kp_test_multiplier(); it++) {
        int n = 1 + (int)kp_rng_below(&rng, it % 20 == 0 ? 90 : 25);
        double p = kp_rng_uniform(&rng);
        p = p * p;
        int copies = it % 7 == 0 && n >= 4 ? 2 + (int)kp_rng_below(&rng, 3) : 1;
        int m = n / copies;
        kp_graph_t g;
        mk(&g, n);
        for (int i = 0; i < m; i++)
            for (int j = i + 1; j < m; j++)
                if (kp_rng_uniform(&rng) < p)
                    for (int c = 0; c < copies; c++)
                        kp_graph_set(&g, c * m + i, c * m + j, 1);
        cr_assert_eq(kp_graph_lambda1(lam, &g, 128, NULL), KP_OK);
        double want = arf_get_d(arb_midref(lam), ARF_RND_NEAR);
        double got = kp_graph_lambda1_d(&g, NULL);
        cr_assert(fabs(got - want) <= 1e-10 * fmax(1, want),
                  "seed %llu iter %ld n %d copies %d: %.17g vs %.17g",
                  (unsigned long long)kp_test_seed(), it, n, copies, got, want);
        kp_graph_clear(&g);
    }
    arb_clear(lam);
}

/* Hand-computed spectra and matching numbers: complete bipartite K_{a,b}
   (lambda_1 = sqrt(ab), mu = min(a,b)), the double star S(a,b) (centres
   adjacent, a and b leaves: lambda_1^2 = (a+b+1 + sqrt((a+b+1)^2 - 4ab))/2,
   mu = 2), the cube Q_3 (3, mu = 4) and the "bridged" double broom B(a,b)
   (centres with a and b leaves joined through a middle vertex:
   lambda_1^2 = (a+b+2 + sqrt((a-b)^2 + 4))/2, mu = 2). */
Test(graph, lambda1_and_mu_hand_computed)
{
    arb_t e, t;
    arb_init(e);
    arb_init(t);
    for (int a = 1; a <= 6; a++)
        for (int b = a; b <= 7; b++) {
            kp_graph_t g;
            mk(&g, a + b);
            for (int i = 0; i < a; i++)
                for (int j = 0; j < b; j++)
                    kp_graph_set(&g, i, a + j, 1);
            arb_sqrt_ui(e, (ulong)(a * b), 200);
            check_lambda(&g, e, "K_{a,b}");
            cr_assert_eq(kp_graph_lambda1_cmp(&g, 0, a * b), KP_GRAPH_EQUAL);
            cr_assert_eq(kp_graph_matching(&g, NULL), a);
            kp_graph_clear(&g);

            mk(&g, a + b + 2); /* S(a,b): centres 0, 1 */
            kp_graph_set(&g, 0, 1, 1);
            for (int i = 0; i < a; i++)
                kp_graph_set(&g, 0, 2 + i, 1);
            for (int j = 0; j < b; j++)
                kp_graph_set(&g, 1, 2 + a + j, 1);
            int s = a + b + 1;
            arb_sqrt_ui(t, (ulong)(s * s - 4 * a * b), 200);
            arb_add_ui(t, t, (ulong)s, 200);
            arb_mul_2exp_si(t, t, -1);
            arb_sqrt(e, t, 200);
            check_lambda(&g, e, "S(a,b)");
            cr_assert_eq(kp_graph_matching(&g, NULL), 2);
            kp_graph_clear(&g);

            mk(&g, a + b + 3); /* B(a,b): middle 0, centres 1, 2 */
            kp_graph_set(&g, 0, 1, 1);
            kp_graph_set(&g, 0, 2, 1);
            for (int i = 0; i < a; i++)
                kp_graph_set(&g, 1, 3 + i, 1);
            for (int j = 0; j < b; j++)
                kp_graph_set(&g, 2, 3 + a + j, 1);
            arb_sqrt_ui(t, (ulong)((a - b) * (a - b) + 4), 200);
            arb_add_ui(t, t, (ulong)(a + b + 2), 200);
            arb_mul_2exp_si(t, t, -1);
            arb_sqrt(e, t, 200);
            check_lambda(&g, e, "B(a,b)");
            cr_assert_eq(kp_graph_matching(&g, NULL), 2);
            unsigned char ins[16];
            cr_assert_eq(kp_graph_tutte_berge_set(ins, &g), 2);
            kp_graph_clear(&g);
        }
    kp_graph_t q;
    mk(&q, 8);
    for (int v = 0; v < 8; v++)
        for (int bit = 1; bit < 8; bit <<= 1)
            if ((v ^ bit) > v)
                kp_graph_set(&q, v, v ^ bit, 1);
    arb_set_si(e, 3);
    check_lambda(&q, e, "Q_3");
    cr_assert_eq(kp_graph_matching(&q, NULL), 4);
    kp_graph_clear(&q);
    arb_clear(e);
    arb_clear(t);
}
