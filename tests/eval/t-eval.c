/* t-eval.c: the fast evaluator against kp_op_apply and a naive recursive
   evaluator, on every available instruction set.

   ULP bounds (vs kp_op_apply, i.e. glibc): + - * / neg abs sqrt are exact
   (0 ulp); SLEEF u10 functions and pow within 2 ulp (1 ulp each side);
   x**k expanded to products within about 1.3|k| + 1 ulp (|k| <= 8; glibc's
   pow is itself not always correctly rounded, so even x**2 = x*x may
   differ by 1 ulp); x**(1/2) within 1 ulp and x**(-1/2) within 2; x**(m/2), m odd, as
   x**(1/2) raised to m, within about 1.5|m| + 2 ulp. NaN-ness and infinities must agree exactly on every input. */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kp_eval.h"
#include "kp_expr.h"
#include "../kp_test.h"

/* ---------- helpers ---------- */

/* Builds an expression from a prefix string: operator names of kp_op_table
   (and aliases), xN for variable N, q:P/Q or q:P for an exact rational,
   c:V for a free constant. */
static kp_expr_t mk(const char *s)
{
    kp_expr_t e;
    kp_expr_init(&e);
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
        int rc;
        if (t[0] == 'x' && t[1] >= '0' && t[1] <= '9') {
            rc = kp_expr_push_var(&e, atoi(t + 1));
        } else if (!strncmp(t, "q:", 2)) {
            long long p = 0, q = 1;
            if (sscanf(t + 2, "%lld/%lld", &p, &q) < 1)
                cr_assert_fail("bad rational %s", t);
            rc = kp_expr_push_rational(&e, p, q);
        } else if (!strncmp(t, "c:", 2)) {
            rc = kp_expr_push_const(&e, strtod(t + 2, NULL));
        } else {
            int op = kp_op_lookup(t, -1);
            cr_assert(op >= 0, "unknown token %s", t);
            rc = kp_expr_push_op(&e, op);
        }
        cr_assert_eq(rc, KP_OK, "push %s", t);
    }
    cr_assert_eq(kp_expr_finish(&e, NULL), KP_OK, "finish %s", s);
    return e;
}

static const char *show(const kp_expr_t *e)
{
    static char buf[4096];
    kp_expr_print(buf, sizeof buf, e, KP_PRINT_SYMPY, NULL, 0);
    return buf;
}

/* The reference: kp_op_apply on one row, recursively. */
static double naive_rec(const kp_expr_t *e, int *pos, int *ci,
                        const double *const *cols, size_t row)
{
    int t = e->tok[(*pos)++];
    if (t == KP_TOK_CONST)
        return e->c[(*ci)++].value;
    if (kp_tok_is_var((kp_tok_t)t))
        return cols[kp_tok_var((kp_tok_t)t)][row];
    int ar = kp_op_table[t].arity;
    double a = ar > 0 ? naive_rec(e, pos, ci, cols, row) : 0.0;
    double b = ar > 1 ? naive_rec(e, pos, ci, cols, row) : 0.0;
    return kp_op_apply(t, a, b);
}

static double naive(const kp_expr_t *e, const double *const *cols, size_t row)
{
    int pos = 0, ci = 0;
    return naive_rec(e, &pos, &ci, cols, row);
}

static int64_t ordered(double x)
{
    int64_t i;
    memcpy(&i, &x, sizeof i);
    return i < 0 ? INT64_MIN - i : i;
}

/* Distance in units in the last place; NaN vs NaN is 0, NaN vs number or
   inf vs a different value is "infinite". */
static double ulps(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b) ? 0 : INFINITY;
    if (isinf(a) || isinf(b))
        return a == b ? 0 : INFINITY;
    int64_t oa = ordered(a), ob = ordered(b);
    if ((oa < 0) != (ob < 0)) /* opposite signs: no overflow as doubles */
        return fabs((double)oa) + fabs((double)ob);
    return (double)(oa > ob ? oa - ob : ob - oa);
}

static const int isas[] = {KP_EVAL_ISA_GENERIC, KP_EVAL_ISA_AVX2,
                           KP_EVAL_ISA_AVX512};

/* Interesting inputs: edges, then random values over many scales. */
static double edge_values[] = {
    0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, 1e-300, -1e-300,
    4.9e-324, -4.9e-324, DBL_MIN, DBL_MAX, -DBL_MAX, INFINITY, -INFINITY,
    NAN, 709.78, 709.79, -745.1, -708.0, 710.0, 1e10, -1e10, 1e22, 1e300,
    M_PI, M_PI / 2, -M_PI / 2, 1.0 - DBL_EPSILON, 1.0 + DBL_EPSILON, 0.9999,
    100.0, 1e-8, -1e-8, 20.0, 30.0, 1e5, 0.1, 3.5, 7.0};
#define NEDGE (sizeof edge_values / sizeof edge_values[0])

static double rand_input(kp_rng_t *rng)
{
    switch (kp_rng_below(rng, 5)) {
    case 0:
        return 2 * kp_rng_uniform(rng) - 1;
    case 1:
        return 20 * kp_rng_uniform(rng) - 10;
    case 2: {
        double m = pow(10.0, 40 * kp_rng_uniform(rng) - 20);
        return kp_rng_below(rng, 2) ? m : -m;
    }
    case 3: {
        double m = pow(10.0, 600 * kp_rng_uniform(rng) - 300);
        return kp_rng_below(rng, 2) ? m : -m;
    }
    default:
        return kp_rng_normal(rng);
    }
}

/* A column of n inputs: all edge values first, then random ones. */
static void fill_inputs(double *x, size_t n, kp_rng_t *rng, int edge_shift)
{
    for (size_t i = 0; i < n; i++)
        x[i] = i < NEDGE ? edge_values[(i + (size_t)edge_shift) % NEDGE]
                         : rand_input(rng);
}

/* Evaluates e on all rows with every ISA and checks each value against the
   naive evaluator within maxulp. Returns the worst distance seen. */
static double check_expr(const kp_expr_t *e, const double *const *cols,
                         size_t n, double maxulp)
{
    double *out = malloc((n ? n : 1) * sizeof *out);
    double worst = 0;
    for (size_t s = 0; s < sizeof isas / sizeof isas[0]; s++) {
        if (!kp_eval_isa_available(isas[s]))
            continue;
        cr_assert_eq(kp_eval_with_isa(out, e, cols, n, isas[s]), KP_OK);
        for (size_t i = 0; i < n; i++) {
            double r = naive(e, cols, i), u = ulps(out[i], r);
            if (u > worst)
                worst = u;
            if (!(u <= maxulp))
                cr_assert_fail("seed %llu isa %s: %s at row %zu (x0=%.17g "
                               "x1=%.17g): got %.17g want %.17g (%g ulp > %g)",
                               (unsigned long long)kp_test_seed(),
                               kp_eval_isa_name(isas[s]), show(e), i,
                               cols[0][i], cols[1][i], out[i], r, u, maxulp);
        }
    }
    free(out);
    return worst;
}

/* ---------- per operator ---------- */

#define NOP 2000

Test(eval, every_operator_within_ulp_bound)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    long mult = kp_test_multiplier();
    size_t n = NOP * (size_t)mult;
    double *x0 = malloc(n * sizeof *x0), *x1 = malloc(n * sizeof *x1);
    fill_inputs(x0, n, &rng, 0);
    fill_inputs(x1, n, &rng, 7);
    const double *cols[2] = {x0, x1};
    static const struct {
        const char *expr;
        double ulp;
    } cases[] = {
        {"+ x0 x1", 0},      {"- x0 x1", 0},       {"* x0 x1", 0},
        {"/ x0 x1", 0},      {"neg x0", 0},        {"Abs x0", 0},
        {"sqrt x0", 0},      {"exp x0", 2},        {"log x0", 2},
        {"sin x0", 2},       {"cos x0", 2},        {"tan x0", 2},
        {"asin x0", 2},      {"acos x0", 2},       {"atan x0", 2},
        {"sinh x0", 2},      {"cosh x0", 2},       {"tanh x0", 2},
        {"** x0 x1", 2},     {"+ x0 c:1.25", 0},   {"+ c:-3.5 x0", 0},
        {"- x0 c:0.75", 0},  {"- q:2 x0", 0},      {"* x0 q:1/3", 0},
        {"* c:7.5 x0", 0},   {"/ x0 c:3.1", 0},    {"/ q:1 x0", 0},
        {"/ c:-2.5 x0", 0},  {"** x0 c:2.5", 2},   {"** x0 c:-1.7", 2},
        {"** q:2 x0", 2},    {"** c:-2 x0", 2},    {"** c:0.5 x0", 2},
        {"** x0 c:3", 2},    /* a free constant: stays a pow call */
        {"** x0 q:0", 0},    {"** x0 q:1", 0},     {"** x0 q:2", 1},
        {"** x0 q:3", 3},    {"** x0 q:4", 5},     {"** x0 q:5", 7},
        {"** x0 q:7", 11},   {"** x0 q:8", 11},    {"** x0 q:-1", 1},
        {"** x0 q:-2", 5},   {"** x0 q:-3", 7},    {"** x0 q:-8", 17},
        {"** x0 q:1/2", 1},  {"** x0 q:-1/2", 2},  {"** x0 / q:1 q:2", 1},
        {"** x0 q:3/2", 4},  {"** x0 q:-3/2", 6},  {"** x0 q:5/2", 5},
        {"** x0 q:-15/2", 25},
        {"pi", 0},           {"E", 0},             {"x1", 0},
        {"c:2.5", 0},        {"sin pi", 0},        {"* x0 x0", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        kp_expr_t e = mk(cases[k].expr);
        double w = check_expr(&e, cols, n, cases[k].ulp);
        cr_log_info("%-14s worst %g ulp", cases[k].expr, w);
    }
    free(x0);
    free(x1);
}

/* Domain errors give NaN and poles give infinities, never a protected value. */
Test(eval, domain_errors_are_nan_not_protected)
{
    double x[] = {-1.0, 0.0, -0.0, 2.0, -INFINITY, INFINITY, NAN, -2.0};
    const double *cols[] = {x, x};
    double out[8];
    kp_expr_t e = mk("log x0");
    kp_eval(out, &e, cols, 8);
    cr_expect(isnan(out[0]) && out[1] == -INFINITY && out[2] == -INFINITY);
    e = mk("sqrt x0");
    kp_eval(out, &e, cols, 8);
    cr_expect(isnan(out[0]) && out[3] == sqrt(2.0) && isnan(out[4]));
    e = mk("asin x0");
    kp_eval(out, &e, cols, 8);
    cr_expect(isnan(out[3]) && isnan(out[0]) == 0);
    e = mk("/ q:1 x0");
    kp_eval(out, &e, cols, 8);
    cr_expect(out[1] == INFINITY && out[2] == -INFINITY && out[0] == -1.0);
    e = mk("/ x0 x0");
    kp_eval(out, &e, cols, 8);
    cr_expect(isnan(out[1]) && isnan(out[4]) && out[3] == 1.0);
    e = mk("** x0 q:1/2");
    kp_eval(out, &e, cols, 8);
    cr_expect(out[4] == INFINITY && out[2] == 0.0 && !signbit(out[2]));
    cr_expect(isnan(out[0]));
    e = mk("** x0 c:0.3");
    kp_eval(out, &e, cols, 8);
    cr_expect(isnan(out[0]) && isnan(out[7]));
    e = mk("** x0 q:3");
    kp_eval(out, &e, cols, 8);
    cr_expect(out[7] == -8.0 && out[4] == -INFINITY);
    e = mk("** x0 q:0");
    kp_eval(out, &e, cols, 8);
    for (int i = 0; i < 8; i++)
        cr_expect(out[i] == 1.0, "pow(x, 0) = 1 at %g", x[i]);
}

/* ---------- random expressions ---------- */

enum { SET_ARITH, SET_PHYS, SET_ALL };

/* Pushes a random subtree of exactly n tokens (n >= 1). */
static void rand_tree(kp_expr_t *e, kp_rng_t *rng, int n, int set, int nvars,
                      int free_consts)
{
    static const int un_phys[] = {KP_OP_SQRT, KP_OP_EXP, KP_OP_LOG,
                                  KP_OP_SIN,  KP_OP_COS, KP_OP_TAN,
                                  KP_OP_ASIN, KP_OP_ACOS, KP_OP_ATAN};
    static const int un_all[] = {KP_OP_NEG,  KP_OP_SQRT, KP_OP_EXP,
                                 KP_OP_LOG,  KP_OP_SIN,  KP_OP_COS,
                                 KP_OP_TAN,  KP_OP_ASIN, KP_OP_ACOS,
                                 KP_OP_ATAN, KP_OP_SINH, KP_OP_COSH,
                                 KP_OP_TANH, KP_OP_ABS};
    int have_un = set != SET_ARITH;
    if (n == 1 || (n == 2 && !have_un)) {
        uint64_t r = kp_rng_below(rng, 10);
        if (e->nconst >= KP_EXPR_MAX_CONSTS - 1)
            r = 0; /* the pool is full: a variable */
        if (r < 5)
            kp_expr_push_var(e, (int)kp_rng_below(rng, (uint64_t)nvars));
        else if (r < 7 && free_consts)
            kp_expr_push_const(e, 4 * kp_rng_uniform(rng) - 2);
        else if (r < 9 || set == SET_ARITH)
            kp_expr_push_rational(e, (int64_t)kp_rng_below(rng, 9) - 4,
                                  (int64_t)kp_rng_below(rng, 3) + 1);
        else
            kp_expr_push_op(e, KP_OP_PI);
        return;
    }
    if (have_un && (n == 2 || kp_rng_below(rng, 4) == 0)) {
        const int *un = set == SET_PHYS ? un_phys : un_all;
        int nun = set == SET_PHYS ? 9 : 14;
        kp_expr_push_op(e, un[kp_rng_below(rng, (uint64_t)nun)]);
        rand_tree(e, rng, n - 1, set, nvars, free_consts);
        return;
    }
    int m = n - 1; /* tokens for the two children */
    if (!have_un && m % 2)
        m--; /* binary-only trees have odd sizes */
    int op = (int)kp_rng_below(rng, set == SET_ARITH ? 4 : 5);
    if (op == KP_OP_POW) {
        /* integer exponents, as in the physics set; SET_ALL also gets
           free real exponents */
        kp_expr_push_op(e, op);
        rand_tree(e, rng, m - 1, set, nvars, free_consts);
        if (e->nconst >= KP_EXPR_MAX_CONSTS)
            kp_expr_push_var(e, 0);
        else if (set == SET_ALL && kp_rng_below(rng, 2))
            kp_expr_push_const(e, 3 * kp_rng_uniform(rng) - 1);
        else
            kp_expr_push_rational(e, (int64_t)kp_rng_below(rng, 9) - 3, 1);
        return;
    }
    kp_expr_push_op(e, op);
    int l = 1 + (int)kp_rng_below(rng, (uint64_t)(m - 1));
    if (!have_un && l % 2 == 0)
        l = l > 1 ? l - 1 : l;
    rand_tree(e, rng, l, set, nvars, free_consts);
    rand_tree(e, rng, m - l, set, nvars, free_consts);
}

static kp_expr_t rand_expr(kp_rng_t *rng, int lo, int hi, int set, int nvars,
                           int free_consts)
{
    kp_expr_t e;
    kp_expr_init(&e);
    int n = lo + (int)kp_rng_below(rng, (uint64_t)(hi - lo + 1));
    rand_tree(&e, rng, n, set, nvars, free_consts);
    cr_assert_eq(kp_expr_finish(&e, NULL), KP_OK);
    return e;
}

/* + - * / with x**k expanded only when k is exact: everything else is the
   same IEEE operation as kp_op_apply, so results must be bitwise equal
   (NaN for NaN). Integer powers are excluded by construction (SET_ARITH has
   no pow). */
Test(eval, arithmetic_expressions_bitwise_equal_naive)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    size_t n = 300;
    double *x[3];
    for (int v = 0; v < 3; v++) {
        x[v] = malloc(n * sizeof(double));
        fill_inputs(x[v], n, &rng, 5 * v);
    }
    const double *cols[3] = {x[0], x[1], x[2]};
    long iters = 300 * kp_test_multiplier();
    for (long it = 0; it < iters; it++) {
        kp_expr_t e = rand_expr(&rng, 1, 60, SET_ARITH, 3, 1);
        check_expr(&e, cols, n, 0);
    }
    for (int v = 0; v < 3; v++)
        free(x[v]);
}

/* All operators: values within a relative tolerance of the naive
   evaluator, and NaN-ness/infinities agreeing, except on a tiny fraction of
   rows where a 1-ulp difference is amplified (cancellation, a pole, a
   domain edge). */
Test(eval, random_expressions_match_naive)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    size_t n = 257;
    double *x[3];
    for (int v = 0; v < 3; v++) {
        x[v] = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            x[v][i] = i < NEDGE && v == 0 ? edge_values[i]
                                          : 6 * kp_rng_uniform(&rng) - 3;
    }
    const double *cols[3] = {x[0], x[1], x[2]};
    double *out = malloc(n * sizeof *out);
    long iters = 400 * kp_test_multiplier();
    long total = 0, bad = 0, nanbad = 0;
    for (long it = 0; it < iters; it++) {
        kp_expr_t e = rand_expr(&rng, 1, 40, SET_ALL, 3, 1);
        for (size_t s = 0; s < sizeof isas / sizeof isas[0]; s++) {
            if (!kp_eval_isa_available(isas[s]))
                continue;
            kp_eval_with_isa(out, &e, cols, n, isas[s]);
            for (size_t i = 0; i < n; i++) {
                double r = naive(&e, cols, i);
                total++;
                if (isnan(r) != isnan(out[i]) ||
                    (isinf(r) && r != out[i]) || (isinf(out[i]) && r != out[i])) {
                    if (nanbad++ < 3)
                        cr_log_info("NaN/inf differs: %s row %zu: %.17g vs %.17g",
                                    show(&e), i, out[i], r);
                    continue;
                }
                if (isnan(r) || isinf(r))
                    continue;
                if (fabs(out[i] - r) > 1e-9 * fmax(1.0, fabs(r)) && bad++ < 3)
                    cr_log_info("value differs: %s row %zu: %.17g vs %.17g",
                                show(&e), i, out[i], r);
            }
        }
    }
    cr_log_info("random: %ld values, %ld beyond 1e-9, %ld NaN/inf mismatches",
                total, bad, nanbad);
    cr_expect(bad <= total / 1000, "%ld of %ld beyond tolerance", bad, total);
    cr_expect(nanbad <= total / 2000, "%ld of %ld NaN/inf mismatches", nanbad,
              total);
    for (int v = 0; v < 3; v++)
        free(x[v]);
    free(out);
}

/* Physics-style trees with integer exponents and deep chains that need
   many buffers in naive order; also long (255-token) expressions. */
Test(eval, long_and_deep_expressions)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    size_t n = 100;
    double *x[2];
    for (int v = 0; v < 2; v++) {
        x[v] = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            x[v][i] = 2 * kp_rng_uniform(&rng) - 1;
    }
    const double *cols[2] = {x[0], x[1]};
    /* (((sin x0 + sin x1) + sin x0) + ...) written so that prefix order
       evaluates the right operands first: needs ~85 buffers without
       Sethi-Ullman ordering. */
    kp_expr_t e;
    kp_expr_init(&e);
    int k = 84;
    for (int i = 0; i < k; i++)
        kp_expr_push_op(&e, KP_OP_ADD);
    kp_expr_push_op(&e, KP_OP_SIN);
    kp_expr_push_var(&e, 0);
    for (int i = 0; i < k; i++) {
        kp_expr_push_op(&e, KP_OP_SIN);
        kp_expr_push_var(&e, i % 2);
    }
    cr_assert_eq(kp_expr_finish(&e, NULL), KP_OK);
    double out[100];
    cr_assert_eq(kp_eval(out, &e, cols, n), KP_OK);
    for (size_t i = 0; i < n; i++) {
        double r = naive(&e, cols, i);
        cr_assert(fabs(out[i] - r) <= 1e-12, "row %zu: %.17g vs %.17g", i,
                  out[i], r);
    }
    /* the same with exact comparison through arithmetic only */
    kp_expr_init(&e);
    for (int i = 0; i < 127; i++)
        kp_expr_push_op(&e, KP_OP_MUL);
    for (int i = 0; i < 128; i++)
        kp_expr_push_var(&e, i % 2);
    cr_assert_eq(kp_expr_finish(&e, NULL), KP_OK);
    check_expr(&e, cols, n, 0);
    long iters = 100 * kp_test_multiplier();
    for (long it = 0; it < iters; it++) {
        e = rand_expr(&rng, 200, 255, SET_ARITH, 2, 1);
        check_expr(&e, cols, n, 0);
    }
    for (int v = 0; v < 2; v++)
        free(x[v]);
}

/* Row counts around the block size; a row's value does not depend on
   where it sits in a block (shifting the columns gives the same bits). */
Test(eval, row_counts_and_block_independence)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    size_t N = 1100;
    double *x[2];
    for (int v = 0; v < 2; v++) {
        x[v] = malloc(N * sizeof(double));
        for (size_t i = 0; i < N; i++)
            x[v][i] = 4 * kp_rng_uniform(&rng) - 2;
    }
    double *ref = malloc(N * sizeof *ref), *out = malloc((N + 1) * sizeof *out);
    static const size_t counts[] = {0, 1, 7, 8, 9, 255, 256, 257, 1000};
    for (int it = 0; it < 40; it++) {
        kp_expr_t e = rand_expr(&rng, 5, 40, SET_ALL, 2, 1);
        const double *cols[2] = {x[0], x[1]};
        kp_eval(ref, &e, cols, N);
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            for (size_t off = 0; off < 20; off += 13) {
                size_t n = counts[c];
                const double *sc[2] = {x[0] + off, x[1] + off};
                out[n] = 12345.0; /* sentinel: nothing written past n */
                cr_assert_eq(kp_eval(out, &e, sc, n), KP_OK);
                cr_assert_eq(out[n], 12345.0, "wrote past %zu rows", n);
                for (size_t i = 0; i < n; i++)
                    cr_assert(memcmp(&out[i], &ref[off + i], 8) == 0,
                              "%s: rows %zu+%zu: %.17g vs %.17g", show(&e),
                              off, i, out[i], ref[off + i]);
            }
        }
    }
    for (int v = 0; v < 2; v++)
        free(x[v]);
    free(ref);
    free(out);
}

Test(eval, malformed_expressions_rejected)
{
    kp_expr_t e = mk("+ x0 x1");
    double x[4] = {1, 2, 3, 4}, out[4] = {7, 7, 7, 7};
    const double *cols[2] = {x, x};
    kp_expr_t bad = e;
    bad.len = 2; /* incomplete */
    cr_expect_eq(kp_eval(out, &bad, cols, 4), KP_EINPUT);
    cr_expect_eq(out[0], 7.0);
    cr_expect(isnan(kp_eval_mse(&bad, cols, x, 4)));
    bad = e;
    bad.tok[1] = 200; /* unknown token id */
    cr_expect_eq(kp_eval(out, &bad, cols, 4), KP_EINPUT);
    bad = e;
    bad.len = 0;
    cr_expect_eq(kp_eval(out, &bad, cols, 4), KP_EINPUT);
    bad = mk("+ x0 c:1");
    bad.nconst = 0; /* constant without a pool entry */
    cr_expect_eq(kp_eval(out, &bad, cols, 4), KP_EINPUT);
    double j[4];
    cr_expect_eq(kp_eval_jacobian(out, j, &bad, cols, 4), KP_EINPUT);
    cr_expect_eq(kp_eval_with_isa(out, &e, cols, 4, 99), KP_EINPUT);
}

/* ---------- losses ---------- */

static double naive_mse(const kp_expr_t *e, const double *const *cols,
                        const double *y, const double *w, const size_t *idx,
                        size_t n)
{
    long double s = 0, sw = 0;
    for (size_t j = 0; j < n; j++) {
        size_t r = idx ? idx[j] : j;
        double p = naive(e, cols, r);
        if (!isfinite(p))
            return INFINITY;
        double wr = w ? w[r] : 1.0;
        s += (long double)wr * ((long double)p - y[r]) * ((long double)p - y[r]);
        sw += wr;
    }
    return n ? (double)(s / sw) : 0.0;
}

Test(eval, mse_matches_naive_and_row_lists)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    size_t N = 1003;
    double *x[2], *y = malloc(N * sizeof *y), *w = malloc(N * sizeof *w);
    size_t *idx = malloc(N * sizeof *idx), *ident = malloc(N * sizeof *ident);
    for (int v = 0; v < 2; v++) {
        x[v] = malloc(N * sizeof(double));
        for (size_t i = 0; i < N; i++)
            x[v][i] = 4 * kp_rng_uniform(&rng) - 2;
    }
    for (size_t i = 0; i < N; i++) {
        y[i] = kp_rng_normal(&rng);
        w[i] = kp_rng_uniform(&rng);
        idx[i] = kp_rng_below(&rng, N); /* with repeats */
        ident[i] = i;
    }
    const double *cols[2] = {x[0], x[1]};
    int nfinite = 0, ninf = 0;
    for (int it = 0; it < 200; it++) {
        kp_expr_t e = it == 0 ? mk("x1") : it == 1 ? mk("c:0.5")
                                                   : rand_expr(&rng, 1, 30, SET_ALL, 2, 1);
        size_t n = it < 10 ? (size_t)it * 37 % N : N - (size_t)it % 9;
        double a = kp_eval_mse(&e, cols, y, n);
        double b = naive_mse(&e, cols, y, NULL, NULL, n);
        if (isinf(b)) {
            cr_expect(a == INFINITY, "%s: %g vs inf", show(&e), a);
            ninf++;
        } else if (b < 1e200) {
            cr_expect(fabs(a - b) <= 1e-9 * b + 1e-300, "%s: mse %.17g vs %.17g",
                      show(&e), a, b);
            nfinite++;
        }
        /* identity row list: the same bits */
        double c = kp_eval_mse_rows(&e, cols, y, NULL, ident, n);
        cr_expect(memcmp(&a, &c, 8) == 0, "%s: %.17g vs %.17g", show(&e), a, c);
        /* subset with repeats, weighted and not */
        size_t m = n / 2 + 1 < N ? n / 2 + 1 : N;
        double d = kp_eval_mse_rows(&e, cols, y, NULL, idx, m);
        double dn = naive_mse(&e, cols, y, NULL, idx, m);
        double f = kp_eval_mse_rows(&e, cols, y, w, idx, m);
        double fn = naive_mse(&e, cols, y, w, idx, m);
        if (isinf(dn))
            cr_expect(d == INFINITY && f == INFINITY);
        else if (dn < 1e200) {
            cr_expect(fabs(d - dn) <= 1e-9 * dn + 1e-300, "%s: %g vs %g",
                      show(&e), d, dn);
            cr_expect(fabs(f - fn) <= 1e-9 * fn + 1e-300, "%s: %g vs %g",
                      show(&e), f, fn);
        }
        /* weighted contiguous */
        double g = kp_eval_mse_rows(&e, cols, y, w, NULL, n);
        double gn = naive_mse(&e, cols, y, w, NULL, n);
        if (isinf(gn))
            cr_expect(g == INFINITY);
        else if (gn < 1e200 && n)
            cr_expect(fabs(g - gn) <= 1e-9 * gn + 1e-300);
    }
    cr_expect(nfinite > 50 && ninf > 5, "finite %d inf %d", nfinite, ninf);
    kp_expr_t e = mk("log x0");
    cr_expect_eq(kp_eval_mse(&e, cols, y, N), INFINITY); /* log of negatives */
    cr_expect_eq(kp_eval_mse(&e, cols, y, 0), 0.0);
    for (int v = 0; v < 2; v++)
        free(x[v]);
    free(y);
    free(w);
    free(idx);
    free(ident);
}

Test(eval, mse_many_deterministic_across_threads)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    size_t N = 2000, n = 64;
    double *x[2], *y = malloc(N * sizeof *y);
    for (int v = 0; v < 2; v++) {
        x[v] = malloc(N * sizeof(double));
        for (size_t i = 0; i < N; i++)
            x[v][i] = 4 * kp_rng_uniform(&rng) - 2;
    }
    for (size_t i = 0; i < N; i++)
        y[i] = sin(x[0][i]) * x[1][i];
    const double *cols[2] = {x[0], x[1]};
    kp_expr_t *ex = malloc(n * sizeof *ex);
    for (size_t j = 0; j < n; j++)
        ex[j] = rand_expr(&rng, 1, 40, SET_ALL, 2, 1);
    double l1[64], l2[64], l0[64];
    kp_eval_mse_many(l1, ex, n, cols, y, N, 1);
    kp_eval_mse_many(l2, ex, n, cols, y, N, 2);
    kp_eval_mse_many(l0, ex, n, cols, y, N, 0);
    for (size_t j = 0; j < n; j++) {
        double s = kp_eval_mse(&ex[j], cols, y, N);
        cr_expect(memcmp(&l1[j], &s, 8) == 0 && memcmp(&l2[j], &s, 8) == 0 &&
                      memcmp(&l0[j], &s, 8) == 0,
                  "expr %zu: %.17g %.17g %.17g %.17g", j, s, l1[j], l2[j], l0[j]);
    }
    free(ex);
    free(y);
    for (int v = 0; v < 2; v++)
        free(x[v]);
}

/* ---------- Jacobian ---------- */

/* Checks values (bitwise vs kp_eval) and derivatives against central
   differences on rows where the expression is smooth. */
static void check_jacobian(const kp_expr_t *e, const double *const *cols,
                           size_t n, int *nchecked)
{
    int nf = kp_expr_nfree(e);
    double *out = malloc((n + 1) * sizeof *out), *ref = malloc((n + 1) * sizeof *ref);
    double *jac = malloc(((size_t)nf * n + 1) * sizeof *jac);
    double *fp = malloc((n + 1) * sizeof *fp), *fm = malloc((n + 1) * sizeof *fm);
    cr_assert_eq(kp_eval_jacobian(out, jac, e, cols, n), KP_OK);
    kp_eval(ref, e, cols, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(memcmp(&out[i], &ref[i], 8) == 0, "%s row %zu: %.17g vs %.17g",
                  show(e), i, out[i], ref[i]);
    int k = 0;
    for (int j = 0; j < e->nconst; j++) {
        if (e->c[j].den != 0)
            continue;
        kp_expr_t ep = *e, em = *e;
        double c = e->c[j].value, h = 1e-6 * fmax(1.0, fabs(c));
        ep.c[j].value = c + h;
        em.c[j].value = c - h;
        kp_eval(fp, &ep, cols, n);
        kp_eval(fm, &em, cols, n);
        for (size_t i = 0; i < n; i++) {
            double fd = (fp[i] - fm[i]) / (2 * h), J = jac[(size_t)k * n + i];
            if (!isfinite(fd) || !isfinite(out[i]) || fabs(fd) > 1e6 ||
                fabs(out[i]) > 1e6)
                continue;
            /* second differences estimate the curvature to skip kinks */
            double fc = out[i], curv = fabs(fp[i] - 2 * fc + fm[i]) / (h * h);
            if (curv > 1e4)
                continue;
            /* plus the rounding error of the differences of values */
            cr_assert(fabs(J - fd) <= 1e-5 * fmax(1.0, fabs(fd)) +
                                          1e-14 * fabs(fc) / h,
                      "seed %llu %s: d/dc%d row %zu (x0=%.17g): jac %.17g fd "
                      "%.17g",
                      (unsigned long long)kp_test_seed(), show(e), k, i,
                      cols[0][i], J, fd);
            (*nchecked)++;
        }
        k++;
    }
    free(out);
    free(ref);
    free(jac);
    free(fp);
    free(fm);
}

Test(eval, jacobian_matches_finite_differences)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    size_t n = 261;
    double *x[2];
    for (int v = 0; v < 2; v++) {
        x[v] = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            x[v][i] = 0.1 + 1.8 * kp_rng_uniform(&rng); /* positive: pow, log */
    }
    const double *cols[2] = {x[0], x[1]};
    static const char *fixed[] = {
        "+ * c:1.5 x0 c:-0.5",
        "exp * c:0.7 x0",
        "log + c:0.3 * x0 x0",
        "sqrt + c:1.2 * x0 x1",
        "sin * c:2.1 x0",
        "cos - x0 c:0.4",
        "tan * c:0.5 x0",
        "asin * c:0.3 x0",
        "acos * c:0.3 x1",
        "atan / x0 c:0.8",
        "sinh * c:0.9 x0",
        "cosh * c:0.9 x0",
        "tanh * c:1.9 x0",
        "Abs - x0 c:1",
        "neg * c:3 x1",
        "** x0 c:1.7",
        "** c:1.3 x0",
        "** * c:0.8 x0 q:3",
        "** * c:0.8 x0 q:-2",
        "** + c:0.8 x0 q:1/2",
        "** + c:0.8 x0 q:-1/2",
        "** x0 * c:0.3 x1",
        "/ c:2 + x0 c:0.5",
        "* exp * c:0.3 c:2 x0",           /* folded constant subtree */
        "+ * sin c:0.4 x0 ** c:1.1 c:2.0", /* folded pow of constants */
        "c:2.5",
        "* c:2 c:3",
        "+ x0 q:1",
        "* q:2 x1",
    };
    int checked = 0;
    for (size_t f = 0; f < sizeof fixed / sizeof fixed[0]; f++) {
        kp_expr_t e = mk(fixed[f]);
        check_jacobian(&e, cols, n, &checked);
    }
    long iters = 60 * kp_test_multiplier();
    for (long it = 0; it < iters; it++) {
        kp_expr_t e = rand_expr(&rng, 3, 25, SET_PHYS, 2, 1);
        check_jacobian(&e, cols, n, &checked);
    }
    cr_log_info("jacobian: %d derivative values checked", checked);
    cr_expect(checked > 10000, "only %d checked", checked);
    /* a constant root: d c0 / d c0 = 1 */
    kp_expr_t e = mk("c:2.5");
    double out[3], jac[3];
    kp_eval_jacobian(out, jac, &e, cols, 3);
    cr_expect(out[0] == 2.5 && jac[0] == 1.0 && jac[2] == 1.0);
    /* c0 * c1: derivatives are the other constant */
    e = mk("* c:2 c:3");
    double jac2[6];
    kp_eval_jacobian(out, jac2, &e, cols, 3);
    cr_expect(out[1] == 6.0 && jac2[0] == 3.0 && jac2[3] == 2.0);
    /* no free constants: jac may be NULL */
    e = mk("sin x0");
    cr_expect_eq(kp_eval_jacobian(out, NULL, &e, cols, 3), KP_OK);
    cr_expect(out[2] == sin(x[0][2]) || fabs(out[2] - sin(x[0][2])) < 1e-15);
    for (int v = 0; v < 2; v++)
        free(x[v]);
}

/* ---------- Jacobian against dual numbers ---------- */

/* A dual number with a bound on the magnitude of the terms summed into the
   tangent (sum of |partial| * bound of the operand), which scales the
   rounding error allowed when the tangent cancels. */
typedef struct {
    double v, t, m;
} dual_t;

/* The oracle: one row, recursively, values by kp_op_apply and derivatives
   w.r.t. free constant k by the rules documented in kp_eval.h (a zero
   tangent contributes nothing even against an infinite partial; x**b is
   flat in x where b == 0 and in b where the value is 0; d|x| = 0 at 0). */
static dual_t dual_rec(const kp_expr_t *e, int *pos, int *ci, int *fi, int k,
                       const double *const *cols, size_t row, double noise)
{
    int t = e->tok[(*pos)++];
    noise = -noise; /* alternates along the prefix array */
    if (t == KP_TOK_CONST) {
        const kp_const_t *c = &e->c[(*ci)++];
        int mine = c->den == 0 && (*fi)++ == k;
        return (dual_t){c->value, mine ? 1.0 : 0.0, mine ? 1.0 : 0.0};
    }
    if (kp_tok_is_var((kp_tok_t)t))
        return (dual_t){cols[kp_tok_var((kp_tok_t)t)][row], 0, 0};
    int ar = kp_op_table[t].arity;
    dual_t a = {0, 0, 0}, b = {0, 0, 0}, r;
    if (ar > 0)
        a = dual_rec(e, pos, ci, fi, k, cols, row, noise);
    if (ar > 1)
        b = dual_rec(e, pos, ci, fi, k, cols, row, -noise);
    r.v = kp_op_apply(t, a.v, b.v) * (1 + noise);
    r.t = r.m = 0;
    /* pa, pb: partials; a term counts only where its tangent is non-zero */
    double pa = 0, pb = 0, x = a.v;
    int ua = a.t != 0, ub = b.t != 0;
    switch (t) {
    case KP_OP_ADD: pa = 1; pb = 1; break;
    case KP_OP_SUB: pa = 1; pb = -1; break;
    case KP_OP_MUL: pa = b.v; pb = a.v; break;
    case KP_OP_DIV: pa = 1 / b.v; pb = -r.v / b.v; break;
    case KP_OP_POW:
        ua = ua && b.v != 0;
        ub = ub && r.v != 0;
        pa = ua ? b.v * pow(a.v, b.v - 1) : 0;
        pb = ub ? r.v * log(a.v) : 0;
        break;
    case KP_OP_NEG: pa = -1; break;
    case KP_OP_ABS:
        pa = x > 0 ? 1 : x < 0 ? -1 : 0;
        ua = ua && pa != 0;
        break;
    case KP_OP_SQRT: pa = 0.5 / r.v; break;
    case KP_OP_EXP: pa = r.v; break;
    case KP_OP_LOG: pa = 1 / x; break;
    case KP_OP_SIN: pa = cos(x); break;
    case KP_OP_COS: pa = -sin(x); break;
    case KP_OP_TAN: pa = 1 + r.v * r.v; break;
    case KP_OP_ASIN: pa = 1 / sqrt((1 - x) * (1 + x)); break;
    case KP_OP_ACOS: pa = -1 / sqrt((1 - x) * (1 + x)); break;
    case KP_OP_ATAN: pa = 1 / (1 + x * x); break;
    case KP_OP_SINH: pa = cosh(x); break;
    case KP_OP_COSH: pa = sinh(x); break;
    case KP_OP_TANH: pa = 1 / (cosh(x) * cosh(x)); break;
    default: ua = ub = 0; break; /* nullary */
    }
    if (ua) {
        r.t += pa * a.t;
        r.m += fabs(pa) * a.m;
    }
    if (ub) {
        r.t += pb * b.t;
        r.m += fabs(pb) * b.m;
    }
    return r;
}

/* noise: every computed value is scaled by 1 +- noise, to measure how much
   ulp-level differences of the values move the derivative. */
static dual_t dual(const kp_expr_t *e, int k, const double *const *cols,
                   size_t row, double noise)
{
    int pos = 0, ci = 0, fi = 0;
    return dual_rec(e, &pos, &ci, &fi, k, cols, row, noise);
}

/* Checks kp_eval_jacobian_with_isa on e: values bitwise equal to kp_eval on
   the same ISA, derivatives within 1e-10 of the magnitude bound of the
   oracle, and NaN/inf agreeing wherever the oracle is well conditioned.
   Returns the number of derivative values compared. */
static long check_dual(const kp_expr_t *e, const double *const *cols, size_t n,
                       int isa)
{
    int nf = kp_expr_nfree(e);
    double *out = malloc((n + 1) * sizeof *out), *ref = malloc((n + 1) * sizeof *ref);
    double *jac = malloc(((size_t)nf * n + 1) * sizeof *jac);
    long cmp = 0;
    cr_assert_eq(kp_eval_jacobian_with_isa(out, jac, e, cols, n, isa), KP_OK);
    cr_assert_eq(kp_eval_with_isa(ref, e, cols, n, isa), KP_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert(memcmp(&out[i], &ref[i], 8) == 0,
                  "%s %s row %zu: %.17g vs %.17g", kp_eval_isa_name(isa),
                  show(e), i, out[i], ref[i]);
    for (int k = 0; k < nf; k++)
        for (size_t i = 0; i < n; i++) {
            dual_t d = dual(e, k, cols, i, 0.0);
            double J = jac[(size_t)k * n + i];
            /* rows where ulp differences in the values are amplified
               (poles, domain edges, overflow) are not compared */
            if (!isfinite(d.v) || fabs(d.v) > 1e8 || !(d.m < 1e8) ||
                !isfinite(d.t) || !(fabs(out[i] - d.v) <= 1e-12 * fabs(d.v)))
                continue;
            /* conditioning: the oracle's own change when the inputs and
               every value move by a few ulps (SLEEF and glibc differ by
               about that much) */
            double sens = 0;
            for (int sgn = -1; sgn <= 1; sgn += 2) {
                double xp[2] = {cols[0][i] * (1 + sgn * 8e-16),
                                cols[1][i] * (1 - sgn * 8e-16)};
                const double *pc[2] = {&xp[0], &xp[1]};
                dual_t dp = dual(e, k, pc, 0, sgn * 8e-16);
                sens = fmax(sens, fabs(dp.t - d.t));
            }
            if (!(sens < 1e-4 * (d.m + 1e-300)))
                continue;
            double tol = 1e-10 * (d.m + 1e-300) + 1e3 * sens + 1e-300;
            cr_assert(fabs(J - d.t) <= tol,
                      "seed %llu %s %s: d/dc%d row %zu (x0=%.17g x1=%.17g): "
                      "jac %.17g dual %.17g (bound %g)",
                      (unsigned long long)kp_test_seed(),
                      kp_eval_isa_name(isa), show(e), k, i, cols[0][i],
                      cols[1][i], J, d.t, d.m);
            cmp++;
        }
    free(out);
    free(ref);
    free(jac);
    return cmp;
}

Test(eval, jacobian_matches_dual_numbers_on_every_isa)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    size_t n = 203;
    double *x[2];
    for (int v = 0; v < 2; v++) {
        x[v] = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            x[v][i] = i < 40 ? 6 * kp_rng_uniform(&rng) - 3
                             : 0.1 + 1.8 * kp_rng_uniform(&rng);
    }
    x[0][0] = 0.0;
    x[0][1] = -0.0;
    x[0][2] = 1.0;
    x[0][3] = -1.0;
    const double *cols[2] = {x[0], x[1]};
    long cmp = 0, iters = 120 * kp_test_multiplier();
    for (long it = 0; it < iters; it++) {
        kp_expr_t e = rand_expr(&rng, 3, 40, it % 2 ? SET_ALL : SET_PHYS, 2, 1);
        for (size_t s = 0; s < sizeof isas / sizeof isas[0]; s++)
            if (kp_eval_isa_available(isas[s]))
                cmp += check_dual(&e, cols, n, isas[s]);
    }
    cr_log_info("jacobian vs dual numbers: %ld values compared", cmp);
    cr_expect(cmp > 20000, "only %ld compared", cmp);
    double out[2], jac[2];
    kp_expr_t e = mk("sin x0");
    cr_expect_eq(kp_eval_jacobian_with_isa(out, jac, &e, cols, 2, 99),
                 KP_EINPUT);
    for (int v = 0; v < 2; v++)
        free(x[v]);
}

/* Long expressions (hundreds of tape instructions, many constants) take
   the heap path; shifting the rows and cutting the row count anywhere
   gives the same bits for values and derivatives; nothing is written past
   the n rows of each output. */
Test(eval, jacobian_block_independence_and_large_expressions)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    size_t N = 1100;
    double *x[2];
    for (int v = 0; v < 2; v++) {
        x[v] = malloc(N * sizeof(double));
        for (size_t i = 0; i < N; i++)
            x[v][i] = 0.1 + 1.8 * kp_rng_uniform(&rng);
    }
    kp_expr_t ex[6];
    for (int i = 0; i < 4; i++)
        ex[i] = rand_expr(&rng, 5, 40, SET_ALL, 2, 1);
    /* sum of 60 terms c_i * x: 60 constants, ~1900 tangent operations */
    kp_expr_init(&ex[4]);
    for (int i = 0; i < 59; i++)
        kp_expr_push_op(&ex[4], KP_OP_ADD);
    for (int i = 0; i < 60; i++) {
        kp_expr_push_op(&ex[4], KP_OP_MUL);
        kp_expr_push_const(&ex[4], 0.01 * (i + 1));
        kp_expr_push_var(&ex[4], i % 2);
    }
    cr_assert_eq(kp_expr_finish(&ex[4], NULL), KP_OK);
    /* tanh(c0 x0 + tanh(c1 x1 + ...)), 50 levels: 200 instructions, too
       many for the stack buffers */
    kp_expr_init(&ex[5]);
    for (int i = 0; i < 50; i++) {
        kp_expr_push_op(&ex[5], KP_OP_TANH);
        kp_expr_push_op(&ex[5], KP_OP_ADD);
        kp_expr_push_op(&ex[5], KP_OP_MUL);
        kp_expr_push_const(&ex[5], 0.5 + 0.01 * i);
        kp_expr_push_var(&ex[5], i % 2);
    }
    kp_expr_push_var(&ex[5], 0);
    cr_assert_eq(kp_expr_finish(&ex[5], NULL), KP_OK);

    const double *cols[2] = {x[0], x[1]};
    static const size_t counts[] = {0, 1, 7, 8, 9, 255, 256, 257, 1000};
    for (int it = 0; it < 6; it++) {
        const kp_expr_t *e = &ex[it];
        int nf = kp_expr_nfree(e);
        size_t nj = (size_t)(nf ? nf : 1);
        double *out0 = malloc(N * sizeof *out0), *j0 = malloc(nj * N * sizeof *j0);
        double *out = malloc((N + 1) * sizeof *out);
        double *jac = malloc((nj * N + 1) * sizeof *jac);
        cr_assert_eq(kp_eval_jacobian(out0, j0, e, cols, N), KP_OK);
        if (it >= 4)
            cr_assert(check_dual(e, cols, 300, KP_EVAL_ISA_AUTO) > 100);
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
            for (size_t off = 0; off < 20; off += 13) {
                size_t n = counts[c];
                const double *sc[2] = {x[0] + off, x[1] + off};
                out[n] = 12345.0;
                jac[(size_t)nf * n] = 12345.0;
                cr_assert_eq(kp_eval_jacobian(out, jac, e, sc, n), KP_OK);
                cr_assert_eq(out[n], 12345.0, "wrote past %zu rows", n);
                cr_assert_eq(jac[(size_t)nf * n], 12345.0, "jac past %zu", n);
                for (size_t i = 0; i < n; i++) {
                    cr_assert(memcmp(&out[i], &out0[off + i], 8) == 0);
                    for (int k = 0; k < nf; k++)
                        cr_assert(memcmp(&jac[(size_t)k * n + i],
                                         &j0[(size_t)k * N + off + i], 8) == 0,
                                  "%s: d/dc%d rows %zu+%zu: %.17g vs %.17g",
                                  show(e), k, off, i, jac[(size_t)k * n + i],
                                  j0[(size_t)k * N + off + i]);
                }
            }
        free(out0);
        free(j0);
        free(out);
        free(jac);
    }
    for (int v = 0; v < 2; v++)
        free(x[v]);
}

/* The special values the contract names. */
Test(eval, jacobian_special_values)
{
    double x0[] = {-1.0, 0.0, 1.0, 2.0, INFINITY, NAN, 4.0, 0.5, 3.0};
    const double *cols[1] = {x0};
    double out[9], jac[18];
    for (size_t s = 0; s < sizeof isas / sizeof isas[0]; s++) {
        int isa = isas[s];
        if (!kp_eval_isa_available(isa))
            continue;
        /* d/dc x**c: NaN where x < 0, 0 at x = 0 (flat for c > 0) */
        kp_expr_t e = mk("** x0 c:1.5");
        cr_assert_eq(kp_eval_jacobian_with_isa(out, jac, &e, cols, 9, isa), KP_OK);
        cr_expect(isnan(jac[0]) && jac[1] == 0.0 && jac[2] == 0.0);
        cr_expect(fabs(jac[3] - pow(2, 1.5) * log(2)) < 1e-14);
        /* d/dc |x - c| is 0 at the kink, -sign(x - c) elsewhere */
        e = mk("Abs - x0 c:1");
        kp_eval_jacobian_with_isa(out, jac, &e, cols, 9, isa);
        cr_expect(jac[0] == 1.0 && jac[2] == 0.0 && jac[3] == -1.0 &&
                  jac[4] == -1.0 && jac[5] == 0.0);
        /* c * x: the tangent is x itself, inf and NaN included */
        e = mk("* c:2 x0");
        kp_eval_jacobian_with_isa(out, jac, &e, cols, 9, isa);
        for (int i = 0; i < 9; i++)
            cr_expect(memcmp(&jac[i], &x0[i], 8) == 0 || (isnan(jac[i]) &&
                      isnan(x0[i])), "row %d: %g", i, jac[i]);
        /* x * c0 + c1: a zero partial (x = 0) against the tangent of c0, and
           constant-free rows of c1 */
        e = mk("+ * x0 c:3 c:1");
        kp_eval_jacobian_with_isa(out, jac, &e, cols, 9, isa);
        cr_expect(jac[1] == 0.0 && jac[9 + 1] == 1.0 && jac[9 + 4] == 1.0);
        /* exp(c) * x folds the constant: d/dc = exp(c) x */
        e = mk("* exp c:0.5 x0");
        kp_eval_jacobian_with_isa(out, jac, &e, cols, 9, isa);
        cr_expect(fabs(jac[3] - 2 * exp(0.5)) < 1e-15 && jac[1] == 0.0);
        /* sinh past SLEEF's overflow point: cosh(709.5) is finite */
        double big[8] = {709.5, -709.5, 1, 2, 3, 4, 5, 6};
        const double *bc[1] = {big};
        e = mk("sinh + x0 c:0");
        kp_eval_jacobian_with_isa(out, jac, &e, bc, 8, isa);
        cr_expect(isfinite(jac[0]) && jac[0] == jac[1] &&
                  fabs(jac[0] / cosh(709.5) - 1) < 1e-13);
    }
}
