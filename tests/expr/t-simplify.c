/* t-simplify.c: canonical form: rules, exact folding, free-constant
   folding, idempotence, and value preservation on random expressions. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kp_expr.h"
#include "../kp_test.h"

/* From t-build.c. */
void kpt_random_expr(kp_expr_t *e, kp_rng_t *rng, int maxlen, int nvars,
                     int kinds);
double kpt_eval(const kp_expr_t *e, const double *x, double *scale);

static const char *const names[] = {"x", "y", "z"};

static kp_expr_t simp(const char *text)
{
    kp_expr_t e;
    kp_error_t err;
    cr_assert_eq(kp_expr_parse(&e, text, names, 3, &err), KP_OK, "%s: %s",
                 text, err.msg);
    kp_expr_simplify(&e);
    cr_assert_eq(kp_expr_check(&e, NULL), KP_OK, "%s", text);
    return e;
}

static void rule(const char *in, const char *want)
{
    kp_expr_t e = simp(in);
    char got[1024];
    kp_expr_print(got, sizeof got, &e, KP_PRINT_SYMPY, names, 3);
    cr_assert_str_eq(got, want, "simplify(%s)", in);
}

Test(simplify, identities)
{
    rule("x*1", "x");
    rule("1*x", "x");
    rule("x + 0", "x");
    rule("0 + x", "x");
    rule("x - 0", "x");
    rule("0 - x", "-x");
    rule("x - x", "0");
    rule("x/x", "1");
    rule("x/1", "x");
    rule("x**1", "x");
    rule("x**0", "1");
    rule("-(-x)", "x");
    rule("exp(log(x))", "x");
    rule("log(exp(x))", "x");
    rule("sqrt(x)**2", "x");
    rule("sqrt(x)*sqrt(x)", "x");
    rule("0*x", "0");
    rule("x*(-1)", "-x");
    rule("1**x", "1");
    rule("E**x", "exp(x)");
    rule("x**(1/2)", "sqrt(x)");
    rule("sqrt(x**2)", "Abs(x)");
    rule("Abs(-x)", "Abs(x)");
    rule("Abs(Abs(x))", "Abs(x)");
    rule("Abs(x)**2", "x**2");
    rule("sin(-x)", "-sin(x)");
    rule("cos(-2*x)", "cos(2*x)");
    rule("tanh(-(x - y))", "-tanh(x - y)");
    rule("log(1)", "0");
    rule("exp(0)", "1");
    rule("log(E)", "1");
}

Test(simplify, sums_and_products)
{
    rule("y + x", "x + y");
    rule("x + y**2", "y**2 + x");
    rule("2*x + 3*x", "5*x");
    rule("x + x", "2*x");
    rule("x - y", "x - y");
    rule("x + (-y)", "x - y");
    rule("-(x - y)", "y - x");
    rule("1 - x", "1 - x");
    rule("x - 1", "x - 1");
    rule("-x - 1", "-x - 1");
    rule("(x + 1) + (2 - x)", "3");
    rule("x*2", "2*x");
    rule("x/2", "x/2");
    rule("x/(-2)", "-x/2");
    rule("-(2*x)", "-2*x");
    rule("x*x*x/x", "x**2");
    rule("x*y/x", "y");
    rule("(x/y)/(z/x)", "x**2/(y*z)");
    rule("(2*x)**2", "4*x**2");
    rule("(x*y)**3", "x**3*y**3");
    rule("x**-1", "1/x");
    rule("1/(-x)", "-1/x");
    rule("-x/y", "-x/y");
    rule("x**2 * x**-3", "1/x");
    rule("(x**2)**3", "x**6");
    rule("3*(x - x)", "0");
}

Test(simplify, exact_constant_folding)
{
    rule("1/3 + 1/6", "1/2");
    rule("2**10", "1024");
    rule("2**-2", "1/4");
    rule("(-3)**3", "-27");
    rule("0.1 + 0.2", "3/10");
    rule("sqrt(9/4)", "3/2");
    rule("Abs(-5/7)", "5/7");
    rule("2 - 3", "-1");
    /* Non-rational results stay exact and symbolic. */
    rule("sqrt(2)", "sqrt(2)");
    rule("sin(2)", "sin(2)");
    rule("2*pi", "2*pi");
    rule("log(3)", "log(3)");
    /* Overflow keeps the subtree instead of rounding. */
    rule("9223372036854775807 + 1", "9223372036854775807 + 1");
    rule("2**70", "2**70");
    /* Division by an exact zero is not folded away. */
    kp_expr_t e = simp("1/0");
    cr_assert(e.len > 1);
    cr_assert(!isfinite(kpt_eval(&e, NULL, NULL)));
    e = simp("sqrt(2)*3/4");
    cr_assert_eq(kp_expr_nfree(&e), 0);
}

Test(simplify, free_constants_fold)
{
    kp_expr_t e;
    /* c0 + c1 * c2 -> one free constant. */
    kp_expr_init(&e);
    kp_expr_push_op(&e, KP_OP_ADD);
    kp_expr_push_const(&e, 1.5);
    kp_expr_push_op(&e, KP_OP_MUL);
    kp_expr_push_const(&e, 2.0);
    kp_expr_push_const(&e, -0.25);
    kp_expr_finish(&e, NULL);
    kp_expr_simplify(&e);
    cr_assert_eq(e.len, 1);
    cr_assert_eq(e.c[0].den, 0);
    cr_assert_eq(e.c[0].value, 1.0);

    /* x + c + 2 (exact): the exact constant joins the free one. */
    kp_expr_init(&e);
    kp_expr_push_op(&e, KP_OP_ADD);
    kp_expr_push_op(&e, KP_OP_ADD);
    kp_expr_push_var(&e, 0);
    kp_expr_push_const(&e, 0.5);
    kp_expr_push_rational(&e, 2, 1);
    kp_expr_finish(&e, NULL);
    kp_expr_simplify(&e);
    cr_assert_eq(e.len, 3);
    cr_assert_eq(e.nconst, 1);
    cr_assert_eq(e.c[0].den, 0);
    cr_assert_eq(e.c[0].value, 2.5);

    /* sin(c) * pi folds; sin(2) * pi does not. */
    kp_expr_init(&e);
    kp_expr_push_op(&e, KP_OP_MUL);
    kp_expr_push_op(&e, KP_OP_SIN);
    kp_expr_push_const(&e, 2.0);
    kp_expr_push_op(&e, KP_OP_PI);
    kp_expr_finish(&e, NULL);
    kp_expr_simplify(&e);
    cr_assert_eq(e.len, 1);
    cr_assert_eq(e.c[0].den, 0);
    cr_assert_float_eq(e.c[0].value, sin(2.0) * M_PI, 1e-15);

    /* Free coefficients of like terms merge, free constants stay free. */
    kp_expr_init(&e);
    kp_expr_push_op(&e, KP_OP_SUB);
    kp_expr_push_op(&e, KP_OP_MUL);
    kp_expr_push_const(&e, 3.0);
    kp_expr_push_var(&e, 0);
    kp_expr_push_op(&e, KP_OP_DIV);
    kp_expr_push_var(&e, 0);
    kp_expr_push_const(&e, 4.0);
    kp_expr_finish(&e, NULL);
    kp_expr_simplify(&e);
    cr_assert_eq(e.len, 3);
    cr_assert_eq(e.tok[0], KP_OP_MUL);
    cr_assert_eq(e.c[0].den, 0);
    cr_assert_eq(e.c[0].value, 2.75);
}

Test(simplify, algebraic_variants_hash_alike)
{
    static const char *const groups[][4] = {
        {"x - y", "x + (-y)", "-(y - x)", "-y + x"},
        {"x*y", "y*x", "(-x)*(-y)", "x/(1/y)"},
        {"(x + y) + z", "x + (y + z)", "z + (y + x)", "x - (-y - z)"},
        {"2*x", "x + x", "x*2", "4*x/2"},
        {"x/y", "x*y**-1", "1/(y/x)", "(-x)/(-y)"},
    };
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        kp_expr_t first = simp(groups[g][0]);
        for (int k = 1; k < 4; k++) {
            kp_expr_t e = simp(groups[g][k]);
            cr_assert(kp_expr_equal(&e, &first), "'%s' vs '%s'",
                      groups[g][0], groups[g][k]);
            cr_assert_eq(kp_expr_hash(&e), kp_expr_hash(&first));
        }
    }
}

static void print_fail(const char *what, long it, const kp_expr_t *a,
                       const kp_expr_t *b)
{
    char sa[2048], sb[2048];
    kp_expr_print(sa, sizeof sa, a, KP_PRINT_SYMPY, names, 3);
    kp_expr_print(sb, sizeof sb, b, KP_PRINT_SYMPY, names, 3);
    cr_assert_fail("%s (seed %llu, iter %ld):\n  in:  %s\n  out: %s", what,
                   (unsigned long long)kp_test_seed(), it, sa, sb);
}

Test(simplify, idempotent_and_valid)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    long iters = 3000 * kp_test_multiplier();
    for (long it = 0; it < iters; it++) {
        kp_expr_t e, s1, s2;
        kpt_random_expr(&e, &rng, 1 + (int)kp_rng_below(&rng, 80), 3, 7);
        s1 = e;
        kp_expr_simplify(&s1);
        if (kp_expr_check(&s1, NULL) != KP_OK)
            print_fail("invalid result", it, &e, &s1);
        s2 = s1;
        kp_expr_simplify(&s2);
        if (!kp_expr_equal(&s1, &s2))
            print_fail("not idempotent", it, &s1, &s2);
        if (kp_expr_nvars(&s1) > kp_expr_nvars(&e))
            print_fail("new variables", it, &e, &s1);
    }
}

Test(simplify, preserves_values)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    long iters = 3000 * kp_test_multiplier();
    long compared = 0;
    for (long it = 0; it < iters; it++) {
        kp_expr_t e, s;
        kpt_random_expr(&e, &rng, 1 + (int)kp_rng_below(&rng, 40), 3, 7);
        s = e;
        kp_expr_simplify(&s);
        for (int pt = 0; pt < 4; pt++) {
            double x[3], scale;
            for (int k = 0; k < 3; k++)
                x[k] = 4 * kp_rng_uniform(&rng) - 2;
            double a = kpt_eval(&e, x, &scale);
            if (!isfinite(a) || scale > 1e8)
                continue;
            double b = kpt_eval(&s, x, NULL);
            compared++;
            if (!isfinite(b) || fabs(a - b) > 1e-9 * (1 + scale)) {
                char msg[256];
                snprintf(msg, sizeof msg,
                         "value changed at (%g, %g, %g): %.17g -> %.17g", x[0],
                         x[1], x[2], a, b);
                print_fail(msg, it, &e, &s);
            }
        }
    }
    cr_assert_gt(compared, iters);
}

Test(simplify, never_grows_past_limits)
{
    /* (x0*x1*...*x63)**3 would distribute into more tokens than fit:
       simplify must leave a valid expression. */
    kp_expr_t e;
    kp_expr_init(&e);
    kp_expr_push_op(&e, KP_OP_POW);
    for (int i = 0; i < 63; i++)
        kp_expr_push_op(&e, KP_OP_MUL);
    for (int i = 0; i < 64; i++)
        kp_expr_push_var(&e, i);
    kp_expr_push_rational(&e, 3, 1);
    cr_assert_eq(kp_expr_finish(&e, NULL), KP_OK);
    kp_expr_t s = e;
    kp_expr_simplify(&s);
    cr_assert_eq(kp_expr_check(&s, NULL), KP_OK);
    cr_assert_leq(s.len, KP_EXPR_MAX_LEN);
    double x[64];
    for (int i = 0; i < 64; i++)
        x[i] = 1 + i / 128.0;
    double a = kpt_eval(&e, x, NULL), b = kpt_eval(&s, x, NULL);
    cr_assert_float_eq(a, b, 1e-9 * fabs(a));
}
