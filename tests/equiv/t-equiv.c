/* t-equiv.c: the symbolic-recovery checker on pairs whose relation is known
   by construction: equal up to rewriting, constant offsets and ratios,
   genuinely different laws, fitted constants near the true ones, and
   domains where the truth or the model is undefined. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kp_equiv.h"
#include "kp_expr.h"
#include "../kp_test.h"

static const char *const names[] = {"x", "y", "z"};

static kp_expr_t parse(const char *text)
{
    kp_expr_t e;
    kp_error_t err;
    int rc = kp_expr_parse(&e, text, names, 3, &err);
    cr_assert_eq(rc, KP_OK, "parse '%s': %s", text, err.msg);
    return e;
}

/* Verdict of model against truth on the box [lo, hi]^nvars. */
static int verdict_of(const char *truth, const char *model, double lo,
                      double hi, int nvars, kp_equiv_info_t *info)
{
    kp_expr_t t = parse(truth), m = parse(model);
    double l[3] = {lo, lo, lo}, h[3] = {hi, hi, hi};
    kp_rng_t rng;
    kp_error_t err;
    int v = -1;
    kp_equiv_info_t dummy;

    kp_test_rng_init(&rng);
    int rc = kp_equiv_check_opts(&v, info ? info : &dummy, &t, &m, l, h,
                                 nvars, NULL, &rng, &err);
    cr_assert_eq(rc, KP_OK, "%s vs %s: %s", truth, model, err.msg);
    return v;
}

#define EXPECT(truth, model, lo, hi, nvars, want)                            \
    do {                                                                     \
        kp_equiv_info_t in_;                                                 \
        int v_ = verdict_of(truth, model, lo, hi, nvars, &in_);              \
        cr_expect_eq(v_, want,                                               \
                     "%s vs %s: got %s, want %s (dev_offset %g, "            \
                     "dev_ratio %g, seed %llu)", truth, model,               \
                     kp_equiv_name(v_), kp_equiv_name(want), in_.dev_offset, \
                     in_.dev_ratio, (unsigned long long)kp_test_seed());     \
    } while (0)

Test(equiv, rewritings_are_same)
{
    EXPECT("x*y", "y*x", 1, 5, 2, KP_EQUIV_SAME);
    EXPECT("(x+y)**2", "x**2 + 2*x*y + y**2", -3, 3, 2, KP_EQUIV_SAME);
    EXPECT("exp(-x**2/2)/sqrt(2*pi)", "exp(-x*x/2)/sqrt(2)/sqrt(pi)", 1, 3,
           1, KP_EQUIV_SAME);
    EXPECT("log(x*y)", "log(x) + log(y)", 1, 5, 2, KP_EQUIV_SAME);
    EXPECT("sin(x)**2", "1 - cos(x)**2", -5, 5, 1, KP_EQUIV_SAME);
    EXPECT("x", "x", 1, 5, 3, KP_EQUIV_SAME);
}

Test(equiv, constant_offset)
{
    kp_equiv_info_t info;
    int v = verdict_of("x+y", "x+y+3", 1, 5, 2, &info);
    cr_assert_eq(v, KP_EQUIV_OFFSET, "got %s", kp_equiv_name(v));
    cr_expect_float_eq(info.offset, 3.0, 1e-12);
    cr_expect_eq(info.used, KP_EQUIV_DEFAULT_POINTS);
    cr_expect_eq(info.skipped, 0);
    EXPECT("x*y", "x*y - 1/7", 1, 5, 2, KP_EQUIV_OFFSET);
    EXPECT("cos(2*x)", "-2*sin(x)**2", 0, 3, 1, KP_EQUIV_OFFSET);
}

Test(equiv, constant_ratio)
{
    kp_equiv_info_t info;
    int v = verdict_of("2*x", "x", 1, 5, 1, &info);
    cr_assert_eq(v, KP_EQUIV_SCALE, "got %s", kp_equiv_name(v));
    cr_expect_float_eq(info.ratio, 0.5, 1e-12);
    EXPECT("x*y", "-x*y", 1, 5, 2, KP_EQUIV_SCALE);
    EXPECT("x/(4*pi*y)", "x/y", 1, 5, 2, KP_EQUIV_SCALE);
    EXPECT("x/(4*pi*y)", "0.0795774715459477*x/y", 1, 5, 2, KP_EQUIV_SAME);
    /* A ratio on a truth that changes sign (least squares, not pointwise
       division, so zeros of the truth do no harm). */
    EXPECT("x - y", "3*(x - y)", -2, 2, 2, KP_EQUIV_SCALE);
}

Test(equiv, different_laws)
{
    EXPECT("x**2", "x**3", 1, 5, 1, KP_EQUIV_NO);
    EXPECT("sin(x)", "x", 1, 3, 1, KP_EQUIV_NO);
    EXPECT("x*y", "x + y", 1, 5, 2, KP_EQUIV_NO);
    EXPECT("x*y", "x*z", 1, 5, 3, KP_EQUIV_NO);
    EXPECT("x", "0", 1, 5, 1, KP_EQUIV_NO);
    /* Offset and ratio at once is neither (SRBench's rule). */
    EXPECT("x", "2*x + 1", 1, 5, 1, KP_EQUIV_NO);
    /* Close, but a 1e-4 relative error is a different law at 1e-6. */
    EXPECT("x**2", "x**2.0001", 1, 5, 1, KP_EQUIV_NO);
}

Test(equiv, fitted_constants_within_tolerance)
{
    EXPECT("3/2*x", "1.4999999999*x", 1, 5, 1, KP_EQUIV_SAME);
    EXPECT("exp(-3/2*x)", "exp(-1.4999999999*x)", 0, 2, 1, KP_EQUIV_SAME);
    EXPECT("exp(-3/2*x)", "exp(-1.49*x)", 0, 2, 1, KP_EQUIV_NO);
    EXPECT("x + 1", "x + 1.0000000001", 1, 5, 1, KP_EQUIV_SAME);
    EXPECT("exp(-x**2/2)/sqrt(2*pi)", "0.398942280401433*exp(-0.5*x**2)", 1,
           3, 1, KP_EQUIV_SAME);

    /* The same with a free (floating-point) constant, as a fit gives. */
    kp_expr_t t = parse("exp(-3/2*x)*y"), m;
    kp_expr_init(&m);
    cr_assert_eq(kp_expr_push_op(&m, KP_OP_MUL), KP_OK);
    cr_assert_eq(kp_expr_push_op(&m, KP_OP_EXP), KP_OK);
    cr_assert_eq(kp_expr_push_op(&m, KP_OP_MUL), KP_OK);
    cr_assert_eq(kp_expr_push_const(&m, -1.4999999999), KP_OK);
    cr_assert_eq(kp_expr_push_var(&m, 0), KP_OK);
    cr_assert_eq(kp_expr_push_var(&m, 1), KP_OK);
    cr_assert_eq(kp_expr_finish(&m, NULL), KP_OK);
    double lo[2] = {0, 1}, hi[2] = {2, 5};
    kp_rng_t rng;
    int v = -1;
    kp_test_rng_init(&rng);
    cr_assert_eq(kp_equiv_check(&v, &t, &m, lo, hi, 2, 24, &rng, NULL),
                 KP_OK);
    cr_expect_eq(v, KP_EQUIV_SAME, "got %s", kp_equiv_name(v));

    /* A looser tolerance accepts a rougher fit, a tighter one refuses. */
    kp_equiv_opts_t o;
    kp_equiv_opts_default(&o);
    kp_expr_t m2 = parse("exp(-1.4999*x)*y");
    o.rtol = 1e-3;
    cr_assert_eq(kp_equiv_check_opts(&v, NULL, &t, &m2, lo, hi, 2, &o, &rng,
                                     NULL), KP_OK);
    cr_expect_eq(v, KP_EQUIV_SAME, "got %s", kp_equiv_name(v));
    o.rtol = 1e-12; /* the fit is off by about 1e-10 */
    cr_assert_eq(kp_equiv_check_opts(&v, NULL, &t, &m, lo, hi, 2, &o, &rng,
                                     NULL), KP_OK);
    cr_expect_eq(v, KP_EQUIV_NO, "got %s", kp_equiv_name(v));
}

Test(equiv, undefined_regions)
{
    kp_equiv_info_t info;
    /* Truth undefined on x < 0: those points are skipped. */
    int v = verdict_of("log(x)", "2*log(sqrt(x))", -0.25, 1, 1, &info);
    cr_expect_eq(v, KP_EQUIV_SAME, "got %s", kp_equiv_name(v));
    cr_expect_eq(info.used, KP_EQUIV_DEFAULT_POINTS);
    cr_expect_gt(info.skipped, 0, "some of ~6 expected skips");

    /* Model undefined where the truth is defined: not the same law. */
    EXPECT("x", "sqrt(x)**2", -1, 1, 1, KP_EQUIV_NO);
    EXPECT("x", "log(exp(x))", -1, 1, 1, KP_EQUIV_SAME);

    /* Truth undefined everywhere: nothing to compare. */
    v = verdict_of("sqrt(-1 - x**2)", "x", -1, 1, 1, &info);
    cr_expect_eq(v, KP_EQUIV_UNDECIDED, "got %s", kp_equiv_name(v));
    cr_expect_eq(info.used, 0);
    cr_expect_eq(info.skipped, KP_EQUIV_DEFAULT_POINTS + 1);

    /* With no skips allowed, the first undefined point decides. */
    kp_expr_t t = parse("log(x)");
    double lo = -1, hi = 1;
    kp_equiv_opts_t o;
    kp_rng_t rng;
    kp_equiv_opts_default(&o);
    o.max_skipped = 0;
    kp_test_rng_init(&rng);
    cr_assert_eq(kp_equiv_check_opts(&v, &info, &t, &t, &lo, &hi, 1, &o,
                                     &rng, NULL), KP_OK);
    cr_expect_eq(v, KP_EQUIV_UNDECIDED, "got %s", kp_equiv_name(v));
    cr_expect_eq(info.skipped, 1);
}

Test(equiv, deterministic_for_a_seed)
{
    kp_expr_t t = parse("sin(x)*y"), m = parse("sin(x)*y + 1/3");
    double lo[2] = {0, 1}, hi[2] = {3, 2};
    kp_equiv_info_t a, b;
    kp_rng_t r1, r2;
    int v1, v2;
    kp_rng_init(&r1, 42);
    kp_rng_init(&r2, 42);
    cr_assert_eq(kp_equiv_check_opts(&v1, &a, &t, &m, lo, hi, 2, NULL, &r1,
                                     NULL), KP_OK);
    cr_assert_eq(kp_equiv_check_opts(&v2, &b, &t, &m, lo, hi, 2, NULL, &r2,
                                     NULL), KP_OK);
    cr_expect_eq(v1, KP_EQUIV_OFFSET);
    cr_expect_eq(v1, v2);
    cr_expect_eq(a.offset, b.offset);
    cr_expect_eq(a.dev_offset, b.dev_offset);
    cr_expect_eq(a.scale, b.scale);
}

Test(equiv, bad_arguments)
{
    kp_expr_t t = parse("x"), m = parse("y");
    double lo[2] = {1, 1}, hi[2] = {5, 5}, bad[2] = {5, 0};
    kp_rng_t rng;
    kp_error_t err;
    int v = -1;
    kp_test_rng_init(&rng);

    /* The model uses y but only x is declared. */
    cr_expect_eq(kp_equiv_check(&v, &t, &m, lo, hi, 1, 24, &rng, &err),
                 KP_EINPUT);
    cr_expect_eq(v, KP_EQUIV_UNDECIDED);
    cr_expect_eq(kp_equiv_check(&v, &t, &t, lo, bad, 2, 24, &rng, &err),
                 KP_EINPUT);
    cr_expect(strstr(err.msg, "range") != NULL, "message: %s", err.msg);
    cr_expect_eq(kp_equiv_check(&v, &t, &t, lo, hi, 2, 1, &rng, &err),
                 KP_EINPUT);
    cr_expect_eq(kp_equiv_check(&v, &t, &t, lo, hi, -1, 24, &rng, &err),
                 KP_EINPUT);
    cr_expect_eq(kp_equiv_check(&v, NULL, &t, lo, hi, 1, 24, &rng, NULL),
                 KP_EINPUT);
    kp_equiv_opts_t o;
    kp_equiv_opts_default(&o);
    o.rtol = NAN;
    cr_expect_eq(kp_equiv_check_opts(&v, NULL, &t, &t, lo, hi, 1, &o, &rng,
                                     &err), KP_EINPUT);
}

Test(equiv, names)
{
    cr_expect_str_eq(kp_equiv_name(KP_EQUIV_SAME), "same");
    cr_expect_str_eq(kp_equiv_name(KP_EQUIV_UNDECIDED), "undecided");
    cr_expect(kp_equiv_is_match(KP_EQUIV_SCALE));
    cr_expect(kp_equiv_is_match(KP_EQUIV_OFFSET));
    cr_expect(!kp_equiv_is_match(KP_EQUIV_NO));
    cr_expect(!kp_equiv_is_match(KP_EQUIV_UNDECIDED));
}
