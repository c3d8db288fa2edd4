/* t-graphsearch.c: the graph problems (problems/graphs.c) and the
   cross-entropy search with tabu polishing (search/kp_cem.h). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kp_test.h"
#include "kp_cem.h"
#include "kp_graph.h"
#include "kp_problems.h"

/* Wagner's double broom on 19 vertices: bridge 0 joined to centres 1 and
   2, each with 8 leaves; lambda_1 = sqrt(10), mu = 2. */
static void broom(uint8_t *x, int n)
{
    memset(x, 0, (size_t)n * (n - 1) / 2);
    x[kp_edge_index(0, 1, n)] = x[kp_edge_index(0, 2, n)] = 1;
    for (int v = 3; v < n; v++)
        x[kp_edge_index(v < 11 ? 1 : 2, v, n)] = 1;
}

/* The bridged double broom B(a,b) on a + b + 3 vertices: middle 0 joined
   to centres 1 and 2, with a and b leaves. lambda_1^2 =
   (a+b+2 + sqrt((a-b)^2 + 4))/2, mu = 2 (t-graph.c). */
static void bridged(uint8_t *x, int a, int b)
{
    int n = a + b + 3;
    memset(x, 0, (size_t)n * (n - 1) / 2);
    x[kp_edge_index(0, 1, n)] = x[kp_edge_index(0, 2, n)] = 1;
    for (int v = 3; v < n; v++)
        x[kp_edge_index(v < 3 + a ? 1 : 2, v, n)] = 1;
}

static void *ws_for(const kp_problem_t *p, int n)
{
    return aligned_alloc(64, (p->ws_size(n) + 63) / 64 * 64);
}

Test(graphsearch, wagner21_verify_exact)
{
    const kp_problem_t *p = kp_problem_builtin("wagner21");
    cr_assert_not_null(p);
    int n = 19;
    uint8_t x[171];
    void *ws = ws_for(p, n);
    kp_problem_msg_t m;
    broom(x, n);
    cr_assert_eq(p->verify(x, n, ws, &m), KP_PROBLEM_OK);
    kp_score_t s;
    p->score(&s, x, n, ws);
    cr_assert(fabs(s.value - (sqrt(18) + 1 - sqrt(10) - 2)) < 1e-9);
    /* The star is the equality case: not a counterexample. */
    memset(x, 0, sizeof x);
    for (int v = 1; v < n; v++)
        x[kp_edge_index(0, v, n)] = 1;
    cr_assert_eq(p->verify(x, n, ws, &m), KP_PROBLEM_REFUTED);
    cr_assert(strstr(m.msg, "="), "%s", m.msg);
    /* Disconnected: refuted whatever the spectrum. */
    broom(x, n);
    x[kp_edge_index(0, 1, n)] = 0;
    cr_assert_eq(p->verify(x, n, ws, &m), KP_PROBLEM_REFUTED);
    cr_assert(strstr(m.msg, "connected"));
    free(ws);
    /* By the closed form, lambda_1 + 2 < sqrt(a+b+2) + 1 iff
       sqrt((a-b)^2 + 4) < N - 4 sqrt(N) + 2 with N = a + b + 2: B(7,7) on
       17 vertices is an equality case (lambda_1 = 3), B(8,7) on 18
       vertices a counterexample (lambda_1 = 3.1013 < sqrt(17) - 1). */
    uint8_t y[171];
    ws = ws_for(p, 18);
    bridged(y, 7, 7);
    cr_assert_eq(p->verify(y, 17, ws, &m), KP_PROBLEM_REFUTED);
    cr_assert(strstr(m.msg, "= sqrt(16) + 1"), "%s", m.msg);
    bridged(y, 8, 7);
    cr_assert_eq(p->verify(y, 18, ws, &m), KP_PROBLEM_OK, "%s", m.msg);
    bridged(y, 9, 6);
    cr_assert_eq(p->verify(y, 18, ws, &m), KP_PROBLEM_REFUTED);
    free(ws);
}

Test(graphsearch, wagner21_certificate_roundtrip)
{
    const kp_problem_t *p = kp_problem_builtin("wagner21");
    int n = 19;
    uint8_t x[171], y[171];
    broom(x, n);
    json_t *root = json_object();
    cr_assert_eq(p->cert_write(root, x, n), KP_PROBLEM_OK);
    cr_assert(json_is_true(json_object_get(root, "cw_proves")));
    cr_assert_eq(json_integer_value(json_object_get(root, "mu")), 2);
    cr_assert(strstr(json_string_value(json_object_get(root, "value")),
                     "5.16227766"));
    cr_assert_str_eq(json_string_value(json_object_get(root, "bound")),
                     "sqrt(18) + 1");
    kp_problem_msg_t m;
    cr_assert_eq(p->cert_read(y, n, root, &m), KP_PROBLEM_OK, "%s", m.msg);
    cr_assert_eq(memcmp(x, y, sizeof x), 0);
    /* Mutations are caught. */
    json_t *bad = json_deep_copy(root);
    json_object_set_new(bad, "mu", json_integer(1));
    cr_assert_eq(p->cert_read(y, n, bad, &m), KP_PROBLEM_BAD);
    cr_assert_str_eq(m.where, "mu");
    json_decref(bad);
    /* "value" is lambda_1 + mu = sqrt(10) + 2 = 5.16227766016837...:
       rounded to nearest or down to the digits shown, or a ball. */
    const char *good_v[] = {"5.16227766016837933199889354443",
                            "5.1622776602",
                            "5.1622776601",
                            "5.2",
                            "5.1",
                            "5",
                            "51.6e-1",
                            "[5.1622 +/- 1e-4]"};
    for (int i = 0; i < 8; i++) {
        bad = json_deep_copy(root);
        json_object_set_new(bad, "value", json_string(good_v[i]));
        cr_assert_eq(p->cert_read(y, n, bad, &m), KP_PROBLEM_OK, "%s: %s",
                     good_v[i], m.msg);
        json_decref(bad);
    }
    const char *bad_v[] = {
        "5.1622776603",      "5.17",   "6",      "-5.16", "", "?",
        "[5.1622 +/- 1e-6]", "5.16.2", "1e99999"};
    for (int i = 0; i < 9; i++) {
        bad = json_deep_copy(root);
        json_object_set_new(bad, "value", json_string(bad_v[i]));
        cr_assert_eq(p->cert_read(y, n, bad, &m), KP_PROBLEM_BAD, "%s",
                     bad_v[i]);
        cr_assert_str_eq(m.where, "value");
        json_decref(bad);
    }
    bad = json_deep_copy(root);
    json_object_set_new(bad, "value", json_real(5.16227766));
    cr_assert_eq(p->cert_read(y, n, bad, &m), KP_PROBLEM_BAD);
    json_decref(bad);
    bad = json_deep_copy(root);
    json_object_set_new(bad, "bound", json_string("sqrt(17) + 1"));
    cr_assert_eq(p->cert_read(y, n, bad, &m), KP_PROBLEM_BAD);
    cr_assert_str_eq(m.where, "bound");
    json_object_set_new(bad, "bound", json_string("sqrt(18)+1"));
    cr_assert_eq(p->cert_read(y, n, bad, &m), KP_PROBLEM_OK);
    json_decref(bad);
    bad = json_deep_copy(root);
    json_object_set_new(bad, "cw_bound", json_string("3/1"));
    cr_assert_eq(p->cert_read(y, n, bad, &m), KP_PROBLEM_BAD);
    json_decref(bad);
    bad = json_deep_copy(root);
    json_array_append_new(json_object_get(bad, "tutte_berge_set"),
                          json_integer(0));
    cr_assert_eq(p->cert_read(y, n, bad, &m), KP_PROBLEM_BAD);
    json_decref(bad);
    const char *edges[] = {"[[0,1],[1,0]]", "[[0,19]]", "[[3,3]]",
                           "[[0,-1]]",      "[[0]]",    "{}"};
    for (int i = 0; i < 6; i++) {
        bad = json_object();
        json_object_set_new(bad, "edges", json_loads(edges[i], 0, NULL));
        cr_assert_eq(p->cert_read(y, n, bad, &m), KP_PROBLEM_BAD, "%s",
                     edges[i]);
        json_decref(bad);
    }
    json_decref(root);
}

Test(graphsearch, ramsey_witnesses)
{
    const kp_problem_t *p = kp_problem_builtin("ramsey34");
    cr_assert_not_null(p);
    int n = 8;
    uint8_t x[28];
    void *ws = ws_for(p, n);
    kp_problem_msg_t m;
    memset(x, 0, sizeof x);
    for (int i = 0; i < 8; i++) {
        x[kp_edge_index(i, (i + 1) % 8, n)] = 1;
        x[kp_edge_index(i, (i + 4) % 8, n)] = 1;
    }
    cr_assert_eq(p->verify(x, n, ws, &m), KP_PROBLEM_OK);
    x[kp_edge_index(0, 2, n)] = 1; /* triangle 0-1-2 */
    cr_assert_eq(p->verify(x, n, ws, &m), KP_PROBLEM_REFUTED);
    free(ws);
    /* Paley(17): quadratic residues mod 17 witness R(4,4) > 17. */
    p = kp_problem_builtin("ramsey44");
    n = 17;
    uint8_t y[136];
    ws = ws_for(p, n);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            int d = j - i, qr = 0;
            for (int t = 1; t < n; t++)
                qr |= (t * t) % n == d;
            y[kp_edge_index(i, j, n)] = (uint8_t)qr;
        }
    cr_assert_eq(p->verify(y, n, ws, &m), KP_PROBLEM_OK);
    /* Certificates: value = number of red K_4 + blue K_4 = 0, bound 0. */
    json_t *root = json_object();
    cr_assert_eq(p->cert_write(root, y, n), KP_PROBLEM_OK);
    cr_assert_str_eq(json_string_value(json_object_get(root, "value")), "0");
    uint8_t z[136];
    cr_assert_eq(p->cert_read(z, n, root, &m), KP_PROBLEM_OK, "%s", m.msg);
    cr_assert_eq(memcmp(y, z, sizeof y), 0);
    json_object_set_new(root, "value", json_string("1"));
    cr_assert_eq(p->cert_read(z, n, root, &m), KP_PROBLEM_BAD);
    cr_assert_str_eq(m.where, "value");
    json_object_set_new(root, "value", json_integer(0));
    json_object_set_new(root, "bound", json_string("1"));
    cr_assert_eq(p->cert_read(z, n, root, &m), KP_PROBLEM_BAD);
    cr_assert_str_eq(m.where, "bound");
    json_decref(root);
    free(ws);
}

Test(graphsearch, cem_finds_ramsey_and_is_deterministic)
{
    const kp_problem_t *p = kp_problem_builtin("ramsey34");
    kp_cem_params_t cp;
    kp_cem_params_default(&cp);
    cp.batch = 64;
    cp.has_target = 1;
    cp.target = 0;
    cp.max_gens = 50;
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    kp_cem_result_t r1, r2;
    cp.threads = 1;
    cr_assert_eq(kp_cem_run(&r1, p, 8, &cp, &rng, NULL), KP_OK);
    cr_assert(r1.reached && r1.verified);
    cp.threads = 2;
    cr_assert_eq(kp_cem_run(&r2, p, 8, &cp, &rng, NULL), KP_OK);
    cr_assert_eq(r1.gens, r2.gens);
    cr_assert_eq(memcmp(r1.best, r2.best, r1.len), 0);
    kp_cem_result_clear(&r1);
    kp_cem_result_clear(&r2);
    /* Bad parameters. */
    cp.batch = 1;
    cr_assert_eq(kp_cem_run(&r1, p, 8, &cp, &rng, NULL), KP_EINPUT);
    kp_cem_result_clear(&r1);
}

Test(graphsearch, tabu_reaches_broom_from_star_like_tree)
{
    /* A smaller analogue of the n = 19 run: from an unbalanced double
       broom (centres with 13 and 3 leaves, mu = 2), rotations migrate the
       leaves to the second centre until the graph is a counterexample. */
    const kp_problem_t *p = kp_problem_builtin("wagner21");
    int n = 19;
    uint8_t x[171];
    memset(x, 0, sizeof x);
    x[kp_edge_index(0, 1, n)] = x[kp_edge_index(0, 2, n)] = 1;
    for (int v = 3; v < n; v++)
        x[kp_edge_index(v < 16 ? 1 : 2, v, n)] = 1;
    void *ws = ws_for(p, n);
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    double s = kp_cem_tabu(x, p, n, 30, ws, &rng, NULL);
    kp_problem_msg_t m;
    cr_assert(s > 1e-3, "tabu best %g", s);
    cr_assert_eq(p->verify(x, n, ws, &m), KP_PROBLEM_OK, "%s", m.msg);
    free(ws);
}

/* The memetic CEM on wagner21: a counterexample at n = 19 within a few
   generations (the tabu walks with merges finish the policy's sparse
   samples), and at n = 12, where there is none, every budget ends with a
   refuted best; the same seed gives the same strings for 1 and 2 threads
   with a generation or evaluation budget. */
Test(graphsearch, cem_wagner21)
{
    const kp_problem_t *p = kp_problem_builtin("wagner21");
    kp_cem_params_t cp;
    kp_cem_params_default(&cp);
    cp.has_target = 1;
    cp.target = -HUGE_VAL; /* any verified string */
    cp.max_gens = 5;
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    kp_cem_result_t r1, r2;
    cr_assert_eq(kp_cem_run(&r1, p, 19, &cp, &rng, NULL), KP_OK);
    cr_assert(r1.reached && r1.verified && r1.best_score > 0,
              "seed %llu: best %g after %ld generations",
              (unsigned long long)kp_test_seed(), r1.best_score, r1.gens);
    void *ws = ws_for(p, 19);
    kp_problem_msg_t m;
    cr_assert_eq(p->verify(r1.best, 19, ws, &m), KP_PROBLEM_OK);
    free(ws);
    kp_cem_result_clear(&r1);

    cp.max_gens = 2;
    cp.threads = 1;
    cr_assert_eq(kp_cem_run(&r1, p, 12, &cp, &rng, NULL), KP_OK);
    cr_assert(!r1.reached && r1.gens == 2);
    cp.threads = 2;
    cr_assert_eq(kp_cem_run(&r2, p, 12, &cp, &rng, NULL), KP_OK);
    cr_assert_eq(r1.evals, r2.evals);
    cr_assert_eq(memcmp(r1.best, r2.best, r1.len), 0);
    kp_cem_result_clear(&r2);
    /* An evaluation budget stops after the generation that reaches it. */
    cp.max_gens = 0;
    cp.max_evals = 1;
    cr_assert_eq(kp_cem_run(&r2, p, 12, &cp, &rng, NULL), KP_OK);
    cr_assert_eq(r2.gens, 1);
    cr_assert(r2.evals >= 1 && r2.evals < r1.evals);
    kp_cem_result_clear(&r1);
    kp_cem_result_clear(&r2);
}

/* A trap for single rotations: three stars (5 leaves each) on 19
   vertices, mu = 3, gap -0.48. Making it a counterexample needs mu = 2,
   i.e. emptying one star through ever worse graphs; a merge does it in
   one move, and the walk then rebalances the double broom. */
Test(graphsearch, tabu_merges_escape_triple_star)
{
    const kp_problem_t *p = kp_problem_builtin("wagner21");
    int n = 19;
    static const int e[18][2] = {{0, 8},  {0, 11}, {0, 12}, {0, 13}, {0, 14},
                                 {0, 17}, {1, 2},  {1, 3},  {1, 7},  {1, 10},
                                 {1, 14}, {1, 18}, {2, 15}, {4, 15}, {5, 15},
                                 {6, 15}, {9, 15}, {15, 16}};
    uint8_t x[171];
    memset(x, 0, sizeof x);
    for (int i = 0; i < 18; i++)
        x[kp_edge_index(e[i][0], e[i][1], n)] = 1;
    void *ws = ws_for(p, n);
    kp_score_t s0;
    p->score(&s0, x, n, ws);
    cr_assert(s0.value < -0.4);
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    long ev = 0;
    double s = kp_cem_tabu(x, p, n, 40, ws, &rng, &ev);
    kp_problem_msg_t m;
    cr_assert(s > 0.08, "tabu best %g", s);
    cr_assert_eq(p->verify(x, n, ws, &m), KP_PROBLEM_OK, "%s", m.msg);
    cr_assert(ev > 40);
    free(ws);
}
