/* t-constopt.c: constant optimisation (LM, restarts) and snapping.

   Oracles: known generating constants on synthetic data; the built-in LM
   against GSL's; row subsets against gathered copies; integer weights
   against duplicated rows; the loss reported against kp_eval_mse_rows. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kp_constopt.h"
#include "kp_eval.h"
#include "kp_recognize.h"
#include "../kp_test.h"

#define NROW 200

static const char *const names[] = {"x"};

/* Parses text over the variable x and turns every non-integer constant
   into a free one with the same (nearest double) value: "1.1*x + 2" has
   one free constant, 1.1, and the exact 2. */
static kp_expr_t mk(const char *text)
{
    kp_expr_t e;
    kp_error_t err;
    kp_error_init(&err);
    int rc = kp_expr_parse(&e, text, names, 1, &err);
    cr_assert_eq(rc, KP_OK, "parse %s: %s", text, err.msg);
    for (int k = 0; k < e.nconst; k++)
        if (e.c[k].den != 1)
            e.c[k].den = e.c[k].num = 0;
    cr_assert_eq(kp_expr_check(&e, NULL), KP_OK);
    return e;
}

/* Free constant k (in pool order) of e. */
static double freec(const kp_expr_t *e, int k)
{
    for (int i = 0; i < e->nconst; i++)
        if (e->c[i].den == 0 && k-- == 0)
            return e->c[i].value;
    cr_assert_fail("no free constant");
    return NAN;
}

/* x uniform in [lo, hi] on a fixed grid (jittered deterministically) and
   y = f(x). */
static void mkdata(double *x, double *y, size_t n, double lo, double hi,
                   double (*f)(double))
{
    for (size_t i = 0; i < n; i++) {
        x[i] = lo + (hi - lo) * ((double)i + 0.25 * sin(7.0 * (double)i))
                        / (double)(n - 1);
        y[i] = f(x[i]);
    }
}

static double f_lin(double x) { return 2.5 * x + 1.25; }
static double f_exp(double x) { return 3 * exp(-0.5 * x); }
static double f_sin(double x) { return 2 * sin(1.3 * x); }
static double f_sq(double x) { return 1.5 * x * x; }
static double f_odd(double x) { return 1.2345678 * x * x; }
static double f_gauss(double x) { return x / sqrt(2 * M_PI); }
static double f_sqrt(double x) { return sqrt(x + 1); }
static double f_pi5(double x) { return 3.14159 * x * x; }
static double f_two(double x) { return 1.5 * x + sqrt(2.0) * x * x; }

static const int methods[2] = {KP_CONSTOPT_LM_FAST, KP_CONSTOPT_LM_GSL};

Test(constopt, recovers_linear)
{
    double x[NROW], y[NROW];
    const double *cols[1] = {x};
    mkdata(x, y, NROW, -2, 3, f_lin);
    for (int mi = 0; mi < 2; mi++) {
        kp_constopt_params_t p;
        kp_constopt_params_default(&p);
        p.method = methods[mi];
        kp_expr_t e = mk("1.1*x + 0.3");
        double loss = -1;
        kp_rng_t rng;
        kp_test_rng_init(&rng);
        cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, NROW, &p, &rng,
                                     &loss, NULL), KP_OK);
        cr_assert_float_eq(freec(&e, 0), 2.5, 1e-10, "method %d", mi);
        cr_assert_float_eq(freec(&e, 1), 1.25, 1e-10, "method %d", mi);
        cr_assert_lt(loss, 1e-20);
        cr_assert_eq(loss, kp_eval_mse(&e, cols, y, NROW));
    }
}

Test(constopt, recovers_exp_decay)
{
    double x[NROW], y[NROW];
    const double *cols[1] = {x};
    mkdata(x, y, NROW, 0, 5, f_exp);
    for (int mi = 0; mi < 2; mi++) {
        kp_constopt_params_t p;
        kp_constopt_params_default(&p);
        p.method = methods[mi];
        p.restarts = 0;
        p.max_iter = 100;
        kp_expr_t e = mk("1.1*exp(-1.7*x)");
        double loss;
        cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, NROW, &p, NULL,
                                     &loss, NULL), KP_OK);
        cr_assert_float_eq(freec(&e, 0), 3.0, 1e-8, "method %d", mi);
        cr_assert_float_eq(freec(&e, 1), -0.5, 1e-8, "method %d", mi);
        cr_assert_lt(loss, 1e-16);
    }
}

Test(constopt, recovers_sine_from_good_start)
{
    double x[NROW], y[NROW];
    const double *cols[1] = {x};
    mkdata(x, y, NROW, -4, 4, f_sin);
    for (int mi = 0; mi < 2; mi++) {
        kp_constopt_params_t p;
        kp_constopt_params_default(&p);
        p.method = methods[mi];
        p.restarts = 0;
        p.max_iter = 100;
        kp_expr_t e = mk("1.7*sin(1.2*x)");
        double loss;
        cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, NROW, &p, NULL,
                                     &loss, NULL), KP_OK);
        cr_assert_float_eq(freec(&e, 0), 2.0, 1e-8, "method %d", mi);
        cr_assert_float_eq(freec(&e, 1), 1.3, 1e-8, "method %d", mi);
        cr_assert_lt(loss, 1e-16);
    }
}

/* From c1 = 6.5 the sine fit sits in a local minimum; restarts (log-uniform
   and jittered) find the global one, and the same seed gives bitwise the
   same result. */
Test(constopt, restarts_escape_bad_start_deterministically)
{
    double x[NROW], y[NROW];
    const double *cols[1] = {x};
    mkdata(x, y, NROW, -4, 4, f_sin);
    kp_constopt_params_t p;
    kp_constopt_params_default(&p);
    p.restarts = 0;
    kp_expr_t e0 = mk("1.7*sin(6.5*x)"), e = e0;
    double loss0;
    cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, NROW, &p, NULL, &loss0,
                                 NULL), KP_OK);
    cr_assert_gt(loss0, 0.1, "the bad start should not converge alone");
    p.restarts = 40;
    p.log_lo = 0.1;
    p.log_hi = 10;
    double loss[2];
    kp_expr_t out[2];
    for (int rep = 0; rep < 2; rep++) {
        kp_rng_t rng;
        kp_rng_init(&rng, 12345);
        out[rep] = e0;
        cr_assert_eq(kp_constopt_fit(&out[rep], cols, y, NULL, NROW, &p,
                                     &rng, &loss[rep], NULL), KP_OK);
    }
    cr_assert_lt(loss[0], 1e-16);
    cr_assert_float_eq(fabs(freec(&out[0], 1)), 1.3, 1e-8);
    cr_assert_eq(memcmp(&loss[0], &loss[1], sizeof loss[0]), 0);
    cr_assert(kp_expr_equal(&out[0], &out[1]));
    /* The workspace form with a reused workspace gives the same bits. */
    kp_constopt_ws_t ws;
    cr_assert_eq(kp_constopt_ws_init(&ws, 10, 1, NULL), KP_OK);
    for (int rep = 0; rep < 2; rep++) {
        kp_rng_t rng;
        kp_rng_init(&rng, 12345);
        kp_expr_t t = e0;
        double l;
        cr_assert_eq(kp_constopt_fit_ws(&ws, &t, cols, y, NULL, NROW, &p,
                                        &rng, &l, NULL), KP_OK);
        cr_assert(kp_expr_equal(&t, &out[0]));
        cr_assert_eq(memcmp(&l, &loss[0], sizeof l), 0);
    }
    kp_constopt_ws_clear(&ws);
}

Test(constopt, undefined_expression_gets_inf_and_keeps_constants)
{
    double x[NROW], y[NROW];
    const double *cols[1] = {x};
    mkdata(x, y, NROW, 0, 1, f_sqrt);
    for (int mi = 0; mi < 2; mi++) {
        kp_constopt_params_t p;
        kp_constopt_params_default(&p);
        p.method = methods[mi];
        p.restarts = 5;
        kp_rng_t rng;
        kp_test_rng_init(&rng);
        /* Undefined for every value of the constant. */
        kp_expr_t e = mk("log(-x*x - 1.5**2 - 1)"), e0 = e;
        double loss = 0;
        cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, NROW, &p, &rng,
                                     &loss, NULL), KP_OK);
        cr_assert(isinf(loss) && loss > 0);
        cr_assert(kp_expr_equal(&e, &e0));

        /* Undefined at the start (x - 5 < 0); a restart finds c = -1. */
        e = mk("sqrt(x - 5.5)");
        p.restarts = 10;
        cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, NROW, &p, &rng,
                                     &loss, NULL), KP_OK);
        cr_assert_lt(loss, 1e-20, "method %d loss %g", mi, loss);
        cr_assert_float_eq(freec(&e, 0), -1.0, 1e-9);

        /* Defined at the start, with undefined points nearby: LM must
           reject steps into the undefined region and still converge. */
        e = mk("sqrt(x + 0.05)");
        p.restarts = 0;
        cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, NROW, &p, NULL,
                                     &loss, NULL), KP_OK);
        cr_assert(isfinite(loss));
        cr_assert_lt(loss, 1e-20, "method %d loss %g", mi, loss);
    }
}

/* Random shapes, data and starts, few iterations: the loss handed back is
   never worse than the starting one and always equals kp_eval_mse. */
Test(constopt, never_worse_than_start)
{
    static const char *shapes[] = {
        "1.1*x + 0.5", "0.7*exp(0.3*x) - 0.2", "1.3*sin(0.8*x + 0.1)",
        "0.5*x**2/(0.9 + x*x)", "log(0.6*x + 2.1)*1.1", "x**0.7 + 0.4",
    };
    double x[64], y[64];
    const double *cols[1] = {x};
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    long iters = 60 * kp_test_multiplier();
    for (long it = 0; it < iters; it++) {
        kp_expr_t e = mk(shapes[it % 6]);
        for (int k = 0; k < e.nconst; k++)
            if (e.c[k].den == 0)
                e.c[k].value = 3 * kp_rng_normal(&rng);
        for (int i = 0; i < 64; i++) {
            x[i] = 4 * kp_rng_uniform(&rng) - 1;
            y[i] = kp_rng_normal(&rng) + x[i];
        }
        kp_constopt_params_t p;
        kp_constopt_params_default(&p);
        p.method = methods[it % 2];
        p.max_iter = 1 + (int)(it % 5);
        p.restarts = (int)(it % 3);
        double L0 = kp_eval_mse(&e, cols, y, 64), L;
        cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, 64, &p, &rng, &L,
                                     NULL), KP_OK);
        cr_assert(L <= L0 || (isinf(L0) && isinf(L)),
                  "seed %llu iter %ld: %g > %g",
                  (unsigned long long)kp_test_seed(), it, L, L0);
        double Le = kp_eval_mse(&e, cols, y, 64);
        cr_assert(Le == L || (isinf(Le) && isinf(L)));
    }
}

/* A row list equals the gathered copy; integer weights equal duplicated
   rows (same minimiser, same loss up to rounding). */
Test(constopt, rows_and_weights_two_ways)
{
    double x[NROW], y[NROW];
    const double *cols[1] = {x};
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (int i = 0; i < NROW; i++) {
        x[i] = 3 * kp_rng_uniform(&rng);
        y[i] = 2 * exp(-0.7 * x[i]) + 0.05 * kp_rng_normal(&rng);
    }
    size_t idx[60];
    double xs[60], ys[60];
    for (int j = 0; j < 60; j++) {
        idx[j] = (size_t)(3 * j + 1);
        xs[j] = x[idx[j]];
        ys[j] = y[idx[j]];
    }
    const double *cols_s[1] = {xs};
    kp_constopt_params_t p;
    kp_constopt_params_default(&p);
    p.restarts = 0;
    kp_expr_t a = mk("1.1*exp(-1.1*x)"), b = a;
    double la, lb;
    cr_assert_eq(kp_constopt_fit(&a, cols, y, idx, 60, &p, NULL, &la, NULL),
                 KP_OK);
    cr_assert_eq(kp_constopt_fit(&b, cols_s, ys, NULL, 60, &p, NULL, &lb,
                                 NULL), KP_OK);
    cr_assert(kp_expr_equal(&a, &b));
    cr_assert_float_eq(la, lb, 1e-15 * lb);

    /* Weights 0..2 on the first 50 rows against rows repeated w times. */
    double w[NROW];
    double xd[150], yd[150];
    int nd = 0;
    for (int i = 0; i < 50; i++) {
        w[i] = (double)(i % 3);
        for (int k = 0; k < (int)w[i]; k++) {
            xd[nd] = x[i];
            yd[nd++] = y[i];
        }
    }
    const double *cols_d[1] = {xd};
    for (int mi = 0; mi < 2; mi++) {
        p.method = methods[mi];
        p.w = w;
        a = mk("1.1*exp(-1.1*x)");
        b = a;
        cr_assert_eq(kp_constopt_fit(&a, cols, y, NULL, 50, &p, NULL, &la,
                                     NULL), KP_OK);
        p.w = NULL;
        cr_assert_eq(kp_constopt_fit(&b, cols_d, yd, NULL, (size_t)nd, &p,
                                     NULL, &lb, NULL), KP_OK);
        cr_assert_float_eq(freec(&a, 0), freec(&b, 0), 1e-7);
        cr_assert_float_eq(freec(&a, 1), freec(&b, 1), 1e-7);
        cr_assert_float_eq(la, lb, 1e-9 * lb);
    }
}

Test(constopt, fast_and_gsl_agree)
{
    double x[NROW], y[NROW];
    const double *cols[1] = {x};
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (int i = 0; i < NROW; i++) {
        x[i] = 4 * kp_rng_uniform(&rng) - 2;
        y[i] = 0.8 * x[i] * x[i] - 1.7 * cos(0.9 * x[i])
               + 0.1 * kp_rng_normal(&rng);
    }
    kp_constopt_params_t p;
    kp_constopt_params_default(&p);
    p.restarts = 0;
    p.max_iter = 200;
    kp_expr_t a = mk("0.5*x*x - 1.1*cos(1.1*x)"), b = a;
    double la, lb;
    cr_assert_eq(kp_constopt_fit(&a, cols, y, NULL, NROW, &p, NULL, &la,
                                 NULL), KP_OK);
    p.method = KP_CONSTOPT_LM_GSL;
    cr_assert_eq(kp_constopt_fit(&b, cols, y, NULL, NROW, &p, NULL, &lb,
                                 NULL), KP_OK);
    for (int k = 0; k < 3; k++)
        cr_assert_float_eq(freec(&a, k), freec(&b, k), 1e-6, "k %d", k);
    cr_assert_float_eq(la, lb, 1e-10 * lb);
    /* The frequency is poorly identified (cos(0.9x) ~ 1 - 0.4x^2 competes
       with the x^2 term), so check the fit reaches the noise level. */
    cr_assert_lt(la, 0.0125, "%g", la);
}

/* One workspace reused across sizes, shapes and methods gives bitwise the
   results of fresh temporary workspaces. */
Test(constopt, workspace_history_does_not_matter)
{
    static const char *shapes[] = {"1.1*x + 0.5", "0.7*exp(0.3*x) - 0.2",
                                   "1.3*sin(0.8*x + 0.1)*x"};
    static const size_t sizes[] = {5, 120, 2, 40, 300};
    double x[300], y[300];
    const double *cols[1] = {x};
    kp_rng_t r0;
    kp_test_rng_init(&r0);
    for (int i = 0; i < 300; i++) {
        x[i] = 3 * kp_rng_uniform(&r0) - 1;
        y[i] = x[i] * x[i] + 0.1 * kp_rng_normal(&r0);
    }
    kp_constopt_ws_t ws;
    cr_assert_eq(kp_constopt_ws_init(&ws, 0, 0, NULL), KP_OK);
    for (int it = 0; it < 30; it++) {
        kp_constopt_params_t p;
        kp_constopt_params_default(&p);
        p.method = methods[(it / 3) % 2];
        size_t n = sizes[it % 5];
        kp_expr_t a = mk(shapes[it % 3]), b = a;
        kp_rng_t ra, rb;
        kp_rng_init(&ra, (uint64_t)it);
        rb = ra;
        double la, lb;
        cr_assert_eq(kp_constopt_fit_ws(&ws, &a, cols, y, NULL, n, &p, &ra,
                                        &la, NULL), KP_OK);
        cr_assert_eq(kp_constopt_fit(&b, cols, y, NULL, n, &p, &rb, &lb,
                                     NULL), KP_OK);
        cr_assert(kp_expr_equal(&a, &b), "iter %d", it);
        cr_assert_eq(memcmp(&la, &lb, sizeof la), 0, "iter %d", it);
    }
    kp_constopt_ws_clear(&ws);
}

Test(constopt, no_free_constants_just_evaluates)
{
    double x[NROW], y[NROW];
    const double *cols[1] = {x};
    mkdata(x, y, NROW, -1, 1, f_lin);
    kp_expr_t e = mk("2*x + 1"), e0 = e;
    double loss;
    cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, NROW, NULL, NULL, &loss,
                                 NULL), KP_OK);
    cr_assert(kp_expr_equal(&e, &e0));
    cr_assert_eq(loss, kp_eval_mse(&e, cols, y, NROW));
    cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, 0, NULL, NULL, &loss,
                                 NULL), KP_OK);
    cr_assert_eq(loss, 0.0);
}

Test(constopt, error_paths)
{
    double x[8] = {0, 1, 2, 3, 4, 5, 6, 7}, y[8] = {0};
    const double *cols[1] = {x};
    kp_expr_t e = mk("1.5*x"), e0 = e;
    kp_error_t err;
    kp_constopt_params_t p;
    kp_constopt_params_default(&p);
    p.max_iter = -1;
    kp_error_init(&err);
    cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, 8, &p, NULL, NULL, &err),
                 KP_EINPUT);
    cr_assert_eq(err.code, KP_EINPUT);
    kp_constopt_params_default(&p);
    y[3] = NAN;
    kp_error_init(&err);
    cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, 8, &p, NULL, NULL, &err),
                 KP_EINPUT);
    cr_assert(strstr(err.msg, "row 3"), "%s", err.msg);
    y[3] = 0;
    double w[8] = {1, 1, 1, -1, 1, 1, 1, 1};
    p.w = w;
    cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, 8, &p, NULL, NULL, NULL),
                 KP_EINPUT);
    memset(w, 0, sizeof w);
    cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, 8, &p, NULL, NULL, NULL),
                 KP_EINPUT);
    p.w = NULL;
    cr_assert(kp_expr_equal(&e, &e0));
    kp_expr_t bad = e;
    bad.len = 2; /* no longer a complete expression */
    cr_assert_eq(kp_constopt_fit(&bad, cols, y, NULL, 8, &p, NULL, NULL,
                                 NULL), KP_EINPUT);
    double loss = -1;
    cr_assert_eq(kp_constopt_snap(&e, cols, y, NULL, 8, 0.0, &p, &loss,
                                  NULL), KP_EINPUT);
    cr_assert_eq(kp_constopt_snap(&e, cols, y, NULL, 8, 1.0, &p, &loss,
                                  NULL), KP_EINPUT);
    cr_assert(kp_expr_equal(&e, &e0));
}

/* Number of exact constants of e equal to num/den. */
static int has_rational(const kp_expr_t *e, int64_t num, int64_t den)
{
    int c = 0;
    for (int k = 0; k < e->nconst; k++)
        c += e->c[k].den == den && e->c[k].num == num;
    return c;
}

static int has_op(const kp_expr_t *e, int op)
{
    for (int i = 0; i < e->len; i++)
        if (e->tok[i] == op)
            return 1;
    return 0;
}

Test(constopt, snap_to_rational)
{
    double x[NROW], y[NROW];
    const double *cols[1] = {x};
    mkdata(x, y, NROW, -3, 3, f_sq);
    kp_expr_t e = mk("1.4999999*x**2");
    double loss = kp_eval_mse(&e, cols, y, NROW);
    cr_assert_gt(loss, 0);
    cr_assert_eq(kp_constopt_snap(&e, cols, y, NULL, NROW, 1e-6, NULL, &loss,
                                  NULL), KP_OK);
    cr_assert_eq(kp_expr_nfree(&e), 0);
    cr_assert_eq(has_rational(&e, 3, 2), 1);
    cr_assert_lt(loss, 1e-28);
    cr_assert_eq(loss, kp_eval_mse(&e, cols, y, NROW));
    char buf[128];
    kp_expr_print(buf, sizeof buf, &e, KP_PRINT_SYMPY, names, 1);
    cr_log_info("snapped: %s", buf);
}

Test(constopt, snap_to_pi_form)
{
    double x[NROW], y[NROW];
    const double *cols[1] = {x};
    mkdata(x, y, NROW, -3, 3, f_gauss);
    kp_expr_t e = mk("0.4*x");
    double loss;
    cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, NROW, NULL, NULL, &loss,
                                 NULL), KP_OK);
    cr_assert_float_eq(freec(&e, 0), 1 / sqrt(2 * M_PI), 1e-12);
    cr_assert_eq(kp_constopt_snap(&e, cols, y, NULL, NROW, 1e-9, NULL,
                                  &loss, NULL), KP_OK);
    char buf[128];
    kp_expr_print(buf, sizeof buf, &e, KP_PRINT_SYMPY, names, 1);
    cr_log_info("snapped: %s (loss %g)", buf, loss);
    cr_assert_eq(kp_expr_nfree(&e), 0, "%s", buf);
    cr_assert(has_op(&e, KP_OP_PI), "%s", buf);
    cr_assert_lt(loss, 1e-28, "%s: %g", buf, loss);
}

/* Two constants: the first snaps to 3/2, the second to sqrt(2) (after the
   re-fit), greedily. */
Test(constopt, snap_two_constants_greedily)
{
    double x[NROW], y[NROW];
    const double *cols[1] = {x};
    mkdata(x, y, NROW, -2, 2, f_two);
    kp_expr_t e = mk("1.1*x + 1.3*x**2");
    double loss;
    cr_assert_eq(kp_constopt_fit(&e, cols, y, NULL, NROW, NULL, NULL, &loss,
                                 NULL), KP_OK);
    cr_assert_eq(kp_constopt_snap(&e, cols, y, NULL, NROW, 1e-8, NULL,
                                  &loss, NULL), KP_OK);
    char buf[128];
    kp_expr_print(buf, sizeof buf, &e, KP_PRINT_SYMPY, names, 1);
    cr_log_info("snapped: %s (loss %g)", buf, loss);
    cr_assert_eq(kp_expr_nfree(&e), 0, "%s", buf);
    cr_assert_eq(has_rational(&e, 3, 2), 1, "%s", buf);
    cr_assert_lt(loss, 1e-26, "%s: %g", buf, loss);
}

/* Constants that are close to, but not exactly, nice forms: 3.14159 is
   within 1e-4 of pi (kp_recognize proposes it) and 1.2345678 is not nice at
   all; snapping either would worsen an exact fit, so both stay free. */
Test(constopt, no_snap_when_loss_worse)
{
    static double (*const fs[2])(double) = {f_odd, f_pi5};
    static const char *const texts[2] = {"1.2345678*x**2", "3.14159*x**2"};
    static const double vals[2] = {1.2345678, 3.14159};
    double x[NROW], y[NROW];
    const double *cols[1] = {x};
    for (int t = 0; t < 2; t++) {
        mkdata(x, y, NROW, -3, 3, fs[t]);
        kp_expr_t e = mk(texts[t]);
        double loss = NAN;
        cr_assert_eq(kp_constopt_snap(&e, cols, y, NULL, NROW, 1e-4, NULL,
                                      &loss, NULL), KP_OK);
        cr_assert_eq(kp_expr_nfree(&e), 1, "%s", texts[t]);
        cr_assert_eq(freec(&e, 0), vals[t]);
        cr_assert_eq(loss, kp_eval_mse(&e, cols, y, NROW));
    }
    kp_recog_t c[4];
    cr_assert_gt(kp_recognize(c, 4, 3.14159, 1e-4, NULL), 0,
                 "the pi case must have a candidate to reject");
}
