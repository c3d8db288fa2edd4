/* t-propose.c: kp_propose reads sparse polynomial and rational laws, after
   target transforms and power-law prefactors, off exact data; every
   proposal obeys the grammar; the output does not depend on the thread
   count; bad arguments are refused. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "../kp_test.h"
#include "kp_eval.h"
#include "kp_propose.h"

#define N 300
#define MAXV 4
#define CAP 128

static kp_grammar_t g;
static double xs[MAXV][N], ys[N];
static const double *cols[MAXV] = {xs[0], xs[1], xs[2], xs[3]};
static kp_expr_t out[CAP];

static void load(const char *grammar, int nvars)
{
    static const char *names[MAXV] = {"a", "b", "c", "d"};
    kp_grammar_init(&g);
    char path[512];
    snprintf(path, sizeof path, KP_SRCDIR "/grammars/%s.grammar", grammar);
    cr_assert_eq(kp_grammar_load(&g, path, NULL), KP_OK);
    cr_assert_eq(kp_grammar_bind(&g, nvars, names, NULL), KP_OK);
}

static void teardown(void)
{
    kp_grammar_clear(&g);
}

/* Inputs uniform in [lo, hi] from a fixed stream. */
static void inputs(int nvars, double lo, double hi)
{
    kp_rng_t rng;
    kp_rng_init(&rng, kp_test_seed() + 11);
    for (int v = 0; v < nvars; v++)
        for (int i = 0; i < N; i++)
            xs[v][i] = lo + (hi - lo) * kp_rng_uniform(&rng);
}

/* Index of the first proposal whose values match y to relative 1e-9 on
   every row (as they stand, before any constant is tuned), or -1. */
static int exact_index(int n)
{
    double *v = malloc(sizeof(double) * N);
    int found = -1;
    for (int k = 0; k < n && found < 0; k++) {
        cr_assert_eq(kp_eval(v, &out[k], cols, N), KP_OK);
        int ok = 1;
        for (int i = 0; i < N && ok; i++)
            ok = fabs(v[i] - ys[i]) <= 1e-9 * fabs(ys[i]);
        if (ok)
            found = k;
    }
    free(v);
    return found;
}

static int propose(int nvars, int threads)
{
    kp_propose_params_t p;
    kp_propose_params_default(&p);
    p.threads = threads;
    int n = -1;
    cr_assert_eq(kp_propose(out, CAP, &n, &g, cols, nvars, ys, N, &p, NULL),
                 KP_OK);
    cr_assert(n >= 0 && n <= CAP);
    return n;
}

static void all_valid_and_distinct(int n)
{
    for (int k = 0; k < n; k++) {
        kp_error_t err;
        cr_assert_eq(kp_grammar_check_expr(&g, &out[k], &err), KP_OK,
                     "proposal %d breaks the grammar: %s", k, err.msg);
        for (int j = 0; j < k; j++)
            cr_assert(!kp_expr_equal(&out[j], &out[k]),
                      "proposals %d and %d are equal", j, k);
    }
}

/* A sum whose terms are each weakly correlated with the target: greedy
   selection alone misses it, pruning the full fit does not. */
Test(propose, square_root_of_a_sum_of_squares, .fini = teardown)
{
    load("physics", 4);
    inputs(4, 1, 5);
    for (int i = 0; i < N; i++) {
        double dx = xs[1][i] - xs[0][i], dy = xs[3][i] - xs[2][i];
        ys[i] = sqrt(dx * dx + dy * dy);
    }
    int n = propose(4, 0);
    all_valid_and_distinct(n);
    cr_assert_geq(exact_index(n), 0, "sqrt((b-a)^2 + (d-c)^2) not proposed");
}

Test(propose, rational_function_through_its_linearisation, .fini = teardown)
{
    load("physics", 3);
    inputs(3, 1, 5);
    for (int i = 0; i < N; i++) /* relativistic velocity addition */
        ys[i] = (xs[0][i] + xs[1][i]) /
                (1 + xs[0][i] * xs[1][i] / (xs[2][i] * xs[2][i]));
    int n = propose(3, 0);
    all_valid_and_distinct(n);
    cr_assert_geq(exact_index(n), 0, "(a+b)/(1+ab/c^2) not proposed");
}

Test(propose, inverse_square_root_transform, .fini = teardown)
{
    load("physics", 3);
    inputs(3, 1, 5);
    for (int i = 0; i < N; i++) {
        xs[2][i] += 5; /* c > b keeps the root real */
        ys[i] =
            xs[0][i] / sqrt(1 - xs[1][i] * xs[1][i] / (xs[2][i] * xs[2][i]));
    }
    int n = propose(3, 0);
    all_valid_and_distinct(n);
    cr_assert_geq(exact_index(n), 0, "a/sqrt(1-b^2/c^2) not proposed");
}

Test(propose, logarithm_transform_with_prefactor, .fini = teardown)
{
    load("physics", 2);
    inputs(2, 1, 3);
    for (int i = 0; i < N; i++) /* a Gaussian in a of width b */
        ys[i] =
            exp(-xs[0][i] * xs[0][i] / (2 * xs[1][i] * xs[1][i])) / xs[1][i];
    int n = propose(2, 0);
    all_valid_and_distinct(n);
    cr_assert_geq(exact_index(n), 0, "exp(-a^2/(2b^2))/b not proposed");
}

/* A rational fit of x + x^2 + x^3 + x^4 finds (x^5 - x)/(x - 1) as easily
   as the polynomial; the common factor is cancelled, so no exact proposal
   is undefined at x = 1 where the law is not. */
Test(propose, common_factors_are_cancelled, .fini = teardown)
{
    load("koza", 1);
    inputs(1, -0.9, 0.9);
    for (int i = 0; i < N; i++) {
        double x = xs[0][i];
        ys[i] = x + x * x + x * x * x + x * x * x * x;
    }
    int n = propose(1, 0);
    all_valid_and_distinct(n);
    cr_assert_geq(exact_index(n), 0, "the polynomial not proposed");
    double one = 1.0, v;
    const double *c1[1] = {&one};
    double *vals = malloc(sizeof(double) * N);
    for (int k = 0; k < n; k++) {
        cr_assert_eq(kp_eval(vals, &out[k], cols, N), KP_OK);
        int exact = 1;
        for (int i = 0; i < N && exact; i++)
            exact = fabs(vals[i] - ys[i]) <= 1e-9 * fabs(ys[i]) + 1e-12;
        if (!exact)
            continue;
        cr_assert_eq(kp_eval(&v, &out[k], c1, 1), KP_OK);
        cr_assert(isfinite(v) && fabs(v - 4) < 1e-9,
                  "exact proposal %d is %g at x = 1", k, v);
    }
    free(vals);
}

Test(propose, exponential_of_a_power_law, .fini = teardown)
{
    load("physics", 3);
    inputs(3, 1, 3);
    for (int i = 0; i < N; i++) /* a Boltzmann factor */
        ys[i] = exp(-xs[0][i] * xs[1][i] / xs[2][i]);
    int n = propose(3, 0);
    all_valid_and_distinct(n);
    cr_assert_geq(exact_index(n), 0, "exp(-a b / c) not proposed");
}

Test(propose, long_products_and_planck_forms, .fini = teardown)
{
    load("physics", 4);
    inputs(4, 1, 3);
    for (int i = 0; i < N; i++) /* 1 / (exp(a b / (c d)) - 1) */
        ys[i] = 1 / (exp(xs[0][i] * xs[1][i] / (xs[2][i] * xs[3][i])) - 1);
    int n = propose(4, 0);
    all_valid_and_distinct(n);
    cr_assert_geq(exact_index(n), 0, "1/(exp(ab/(cd)) - 1) not proposed");
}

Test(propose, same_output_for_any_thread_count, .fini = teardown)
{
    load("physics", 3);
    inputs(3, 0.5, 2);
    for (int i = 0; i < N; i++)
        ys[i] = xs[0][i] * xs[1][i] / (xs[2][i] + 1) + sin(xs[0][i]);
    int n1 = propose(3, 1);
    kp_expr_t *first = malloc(sizeof *first * (size_t)n1);
    memcpy(first, out, sizeof *first * (size_t)n1);
    int n2 = propose(3, 2);
    cr_assert_eq(n1, n2);
    for (int k = 0; k < n1; k++)
        cr_assert(kp_expr_equal(&first[k], &out[k]), "proposal %d differs", k);
    free(first);
}

Test(propose, grammar_without_constants_gets_only_valid_proposals,
     .fini = teardown)
{
    load("koza", 2);
    inputs(2, -1, 1);
    for (int i = 0; i < N; i++)
        ys[i] = xs[0][i] * xs[0][i] * xs[0][i] + xs[0][i] * xs[1][i];
    int n = propose(2, 0);
    all_valid_and_distinct(n);
    cr_assert_geq(exact_index(n), 0, "a^3 + a b not proposed with koza");
}

/* Sums and products of functions of low-degree arguments (FFX bases):
   sin(a^2) cos(a) - 1 and sin(a) + sin(b^2) are Nguyen-5 and -9, whose
   terms look alike (sin(a^2) cos(a) against a^2), so greedy selection
   alone picks the wrong first term. */
Test(propose, functions_of_monomials, .fini = teardown)
{
    load("koza", 2);
    inputs(2, -1, 1);
    for (int i = 0; i < N; i++)
        ys[i] = sin(xs[0][i] * xs[0][i]) * cos(xs[0][i]) - 1;
    int n = propose(2, 0);
    all_valid_and_distinct(n);
    cr_assert_geq(exact_index(n), 0, "sin(a^2) cos(a) - 1 not proposed");
    for (int i = 0; i < N; i++)
        ys[i] = sin(xs[0][i]) + sin(xs[1][i] * xs[1][i]);
    n = propose(2, 0);
    all_valid_and_distinct(n);
    cr_assert_geq(exact_index(n), 0, "sin(a) + sin(b^2) not proposed");
}

Test(propose, function_times_monomial_and_difference_arguments,
     .fini = teardown)
{
    load("physics", 3);
    inputs(3, 0.5, 2);
    for (int i = 0; i < N; i++) /* q (E + B v sin(theta)) with q = 1 */
        ys[i] = xs[0][i] + xs[1][i] * sin(xs[2][i]) / 2;
    int n = propose(3, 0);
    all_valid_and_distinct(n);
    cr_assert_geq(exact_index(n), 0, "a + b sin(c)/2 not proposed");
    for (int i = 0; i < N; i++)
        ys[i] = 3 * cos(xs[0][i] - xs[1][i]);
    n = propose(3, 0);
    all_valid_and_distinct(n);
    cr_assert_geq(exact_index(n), 0, "3 cos(a - b) not proposed");
}

/* Three inputs: the library with x +- y arguments is large, and products
   of the factors listed last (log) must still be in it. */
Test(propose, late_factors_with_three_inputs, .fini = teardown)
{
    load("physics", 3);
    inputs(3, 0.5, 2);
    for (int i = 0; i < N; i++)
        ys[i] = xs[1][i] * log(xs[0][i]) + 2 * xs[2][i];
    int n = propose(3, 0);
    all_valid_and_distinct(n);
    cr_assert_geq(exact_index(n), 0, "b log(a) + 2c not proposed");
}

/* A function outside the grammar's set is not matched by accident: no
   proposal reproduces atan(3a) on the data. */
Test(propose, no_exact_proposal_for_a_law_outside_the_bases, .fini = teardown)
{
    load("koza", 1);
    inputs(1, -1, 1);
    for (int i = 0; i < N; i++)
        ys[i] = atan(3 * xs[0][i]);
    int n = propose(1, 0);
    all_valid_and_distinct(n);
    cr_assert_eq(exact_index(n), -1);
}

Test(propose, nothing_to_propose_and_bad_arguments, .fini = teardown)
{
    load("physics", 1);
    inputs(1, 1, 2);
    for (int i = 0; i < N; i++)
        ys[i] = xs[0][i];
    kp_propose_params_t p;
    kp_propose_params_default(&p);
    int n = -1;
    cr_assert_eq(kp_propose(out, CAP, &n, &g, cols, 1, ys, 5, &p, NULL), KP_OK);
    cr_assert_eq(n, 0, "5 rows are too few to fit anything");
    cr_assert_eq(kp_propose(out, 0, &n, &g, cols, 1, ys, N, &p, NULL), KP_OK);
    cr_assert_eq(n, 0);
    p.max_terms = 0;
    kp_error_t err;
    cr_assert_eq(kp_propose(out, CAP, &n, &g, cols, 1, ys, N, &p, &err),
                 KP_EINPUT);
    cr_assert_eq(n, 0);
}
