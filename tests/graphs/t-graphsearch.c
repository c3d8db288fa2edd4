/* t-graphsearch.c: the graph problems (problems/graphs.c) and the
   cross-entropy search with tabu polishing (search/kp_cem.h). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kp_cem.h"
#include "kp_graph.h"
#include "kp_problems.h"
#include "../kp_test.h"

/* Wagner's double broom on 19 vertices: bridge 0 joined to centres 1 and
   2, each with 8 leaves; lambda_1 = sqrt(10), mu = 2. */
static void broom(uint8_t *x, int n)
{
    memset(x, 0, (size_t)n * (n - 1) / 2);
    x[kp_edge_index(0, 1, n)] = x[kp_edge_index(0, 2, n)] = 1;
    for (int v = 3; v < n; v++)
        x[kp_edge_index(v < 11 ? 1 : 2, v, n)] = 1;
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
    kp_problem_msg_t m;
    cr_assert_eq(p->cert_read(y, n, root, &m), KP_PROBLEM_OK, "%s", m.msg);
    cr_assert_eq(memcmp(x, y, sizeof x), 0);
    /* Mutations are caught. */
    json_t *bad = json_deep_copy(root);
    json_object_set_new(bad, "mu", json_integer(1));
    cr_assert_eq(p->cert_read(y, n, bad, &m), KP_PROBLEM_BAD);
    cr_assert_str_eq(m.where, "mu");
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
                           "[[0,-1]]", "[[0]]", "{}"};
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
