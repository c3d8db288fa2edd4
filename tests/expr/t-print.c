/* t-print.c: the SymPy, LaTeX and C printers: known outputs, truncation,
   and print -> parse round trips on random expressions. */
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

static void out(const char *in, int simplify, int style, const char *want)
{
    kp_expr_t e;
    kp_error_t err;
    char got[1024];
    cr_assert_eq(kp_expr_parse(&e, in, names, 3, &err), KP_OK, "%s: %s", in,
                 err.msg);
    if (simplify)
        kp_expr_simplify(&e);
    size_t n = kp_expr_print(got, sizeof got, &e, style, names, 3);
    cr_assert_eq(n, strlen(got));
    cr_assert_str_eq(got, want, "print(%s%s)", simplify ? "simplify " : "",
                     in);
}

Test(print, sympy_known_outputs)
{
    out("x**2 + y", 0, KP_PRINT_SYMPY, "x**2 + y");
    out("1/3", 1, KP_PRINT_SYMPY, "1/3");
    out("3/2", 1, KP_PRINT_SYMPY, "3/2");
    out("-3/2", 1, KP_PRINT_SYMPY, "-3/2");
    out("x**(1/3)", 1, KP_PRINT_SYMPY, "x**(1/3)");
    out("x**-1", 0, KP_PRINT_SYMPY, "x**(-1)");
    out("(-2)**x", 0, KP_PRINT_SYMPY, "(-2)**x");
    out("-x**2", 0, KP_PRINT_SYMPY, "-x**2");
    out("(-x)**2", 0, KP_PRINT_SYMPY, "(-x)**2");
    out("(x**y)**z", 0, KP_PRINT_SYMPY, "(x**y)**z");
    out("x**y**z", 0, KP_PRINT_SYMPY, "x**y**z");
    out("x - (y - z)", 0, KP_PRINT_SYMPY, "x - (y - z)");
    out("(x - y) - z", 0, KP_PRINT_SYMPY, "x - y - z");
    out("x/(y*z)", 0, KP_PRINT_SYMPY, "x/(y*z)");
    out("x*(y*z)", 0, KP_PRINT_SYMPY, "x*(y*z)");
    out("-(x + y)", 0, KP_PRINT_SYMPY, "-(x + y)");
    out("-(-x)", 0, KP_PRINT_SYMPY, "-(-x)");
    out("x + -y", 0, KP_PRINT_SYMPY, "x + (-y)");
    out("x*-2", 0, KP_PRINT_SYMPY, "x*(-2)");
    out("2*pi*E", 0, KP_PRINT_SYMPY, "2*pi*E");
    out("Abs(x) + ln(y) + arcsin(z)", 0, KP_PRINT_SYMPY,
        "Abs(x) + log(y) + asin(z)");
    out("x**(1/2)", 0, KP_PRINT_SYMPY, "x**(1/2)");
    out("3*x/2", 1, KP_PRINT_SYMPY, "3*x/2");
    out("(x + 1)/2", 1, KP_PRINT_SYMPY, "(x + 1)/2");
    out("-x/2", 1, KP_PRINT_SYMPY, "-x/2");
}

Test(print, latex_known_outputs)
{
    out("x**2 + y", 0, KP_PRINT_LATEX, "x^{2} + y");
    out("3/2", 1, KP_PRINT_LATEX, "\\frac{3}{2}");
    out("-3/2", 1, KP_PRINT_LATEX, "-\\frac{3}{2}");
    out("sqrt(x)/sin(y)", 0, KP_PRINT_LATEX,
        "\\frac{\\sqrt{x}}{\\sin\\left(y\\right)}");
    out("2*pi*x", 0, KP_PRINT_LATEX, "2 \\, \\pi \\, x");
    out("x*2", 0, KP_PRINT_LATEX, "x \\cdot 2");
    out("(x + y)**2", 0, KP_PRINT_LATEX, "\\left(x + y\\right)^{2}");
    out("exp(-x)", 0, KP_PRINT_LATEX, "e^{-x}");
    out("Abs(x - y)", 0, KP_PRINT_LATEX, "\\left|x - y\\right|");
    out("(x + 1)*y", 0, KP_PRINT_LATEX, "\\left(x + 1\\right) \\, y");
}

Test(print, c_known_outputs)
{
    out("x**2 + y", 0, KP_PRINT_C, "pow(x, 2.0) + y");
    out("3/2", 1, KP_PRINT_C, "3.0/2.0");
    out("x/2", 1, KP_PRINT_C, "x/2.0");
    out("Abs(x) + pi*E", 0, KP_PRINT_C, "fabs(x) + M_PI*M_E");
    out("-x - -y", 0, KP_PRINT_C, "-x - (-y)");
    out("asin(x)**(y + 1)", 0, KP_PRINT_C, "pow(asin(x), y + 1.0)");

    kp_expr_t e;
    char buf[128];
    kp_expr_init(&e);
    kp_expr_push_op(&e, KP_OP_ADD);
    kp_expr_push_const(&e, 2.0);
    kp_expr_push_const(&e, NAN);
    kp_expr_finish(&e, NULL);
    kp_expr_print(buf, sizeof buf, &e, KP_PRINT_C, NULL, 0);
    cr_assert_str_eq(buf, "2.0 + NAN");
    kp_expr_print(buf, sizeof buf, &e, KP_PRINT_SYMPY, NULL, 0);
    cr_assert_str_eq(buf, "2 + nan");
}

Test(print, free_constants_and_default_names)
{
    kp_expr_t e;
    char buf[128];
    kp_expr_init(&e);
    kp_expr_push_op(&e, KP_OP_MUL);
    kp_expr_push_const(&e, -0.1);
    kp_expr_push_var(&e, 7);
    kp_expr_finish(&e, NULL);
    kp_expr_print(buf, sizeof buf, &e, KP_PRINT_SYMPY, NULL, 0);
    cr_assert_str_eq(buf, "-0.10000000000000001*x7");
    kp_expr_print(buf, sizeof buf, &e, KP_PRINT_SYMPY, names, 3);
    cr_assert_str_eq(buf, "-0.10000000000000001*x7");
    kp_expr_t r;
    cr_assert_eq(kp_expr_parse(&r, "x - 0.5", names, 3, NULL), KP_OK);
    kp_expr_replace_subtree(&r, &r, 2, &e, 0);
    kp_expr_print(buf, sizeof buf, &r, KP_PRINT_SYMPY, NULL, 0);
    cr_assert_str_eq(buf, "x0 - (-0.10000000000000001*x7)");
    kp_expr_print(buf, sizeof buf, &r, KP_PRINT_LATEX, NULL, 0);
    cr_assert_str_eq(buf, "x0 - \\left(-0.10000000000000001 \\, x7\\right)");
}

Test(print, truncation_like_snprintf)
{
    kp_expr_t e;
    char buf[8];
    cr_assert_eq(kp_expr_parse(&e, "sin(x) + cos(y)", names, 3, NULL), KP_OK);
    memset(buf, 'Z', sizeof buf);
    size_t n = kp_expr_print(buf, 5, &e, KP_PRINT_SYMPY, names, 3);
    cr_assert_eq(n, strlen("sin(x) + cos(y)"));
    cr_assert_str_eq(buf, "sin(");
    cr_assert_eq(buf[5], 'Z');
    cr_assert_eq(kp_expr_print(NULL, 0, &e, KP_PRINT_LATEX, names, 3),
                 strlen("\\sin\\left(x\\right) + \\cos\\left(y\\right)"));
    n = kp_expr_print(buf, 1, &e, KP_PRINT_C, names, 3);
    cr_assert_eq(buf[0], '\0');
    cr_assert_eq(n, strlen("sin(x) + cos(y)"));
}

/* Printing then parsing gives back the same canonical form. */
Test(print, sympy_round_trip_random)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    long iters = 2000 * kp_test_multiplier();
    static char s1[8192], s2[8192];
    for (long it = 0; it < iters; it++) {
        kp_expr_t e, p, se;
        kp_error_t err;
        /* Exact constants, pi and E only: they re-parse exactly. */
        kpt_random_expr(&e, &rng, 1 + (int)kp_rng_below(&rng, 100), 3, 5);
        for (int simplified = 0; simplified < 2; simplified++) {
            if (simplified)
                kp_expr_simplify(&e);
            kp_expr_print(s1, sizeof s1, &e, KP_PRINT_SYMPY, names, 3);
            int rc = kp_expr_parse(&p, s1, names, 3, &err);
            cr_assert_eq(rc, KP_OK, "iter %ld: '%s' does not parse: %s (col "
                         "%ld)", it, s1, err.msg, err.col);
            se = e;
            kp_expr_simplify(&se);
            kp_expr_simplify(&p);
            kp_expr_print(s2, sizeof s2, &p, KP_PRINT_SYMPY, names, 3);
            cr_assert(kp_expr_equal(&p, &se), "iter %ld: '%s' re-parses as "
                      "'%s'", it, s1, s2);
            if (simplified) {
                /* Canonical text is a fixed point. */
                cr_assert_str_eq(s1, s2, "iter %ld", it);
            }
        }
    }
}

/* Free constants print with 17 digits, so the text keeps the value. */
Test(print, free_constants_round_trip_values)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    static char s[8192];
    for (long it = 0; it < 1000; it++) {
        kp_expr_t e, p;
        kp_error_t err;
        kpt_random_expr(&e, &rng, 1 + (int)kp_rng_below(&rng, 40), 3, 7);
        kp_expr_print(s, sizeof s, &e, KP_PRINT_SYMPY, names, 3);
        cr_assert_eq(kp_expr_parse(&p, s, names, 3, &err), KP_OK,
                     "'%s': %s", s, err.msg);
        double x[3] = {0.7, -1.3, 1.9};
        double a = kpt_eval(&e, x, NULL), b = kpt_eval(&p, x, NULL);
        /* p*R/q re-parses as (p*R)/q: equal up to rounding. */
        cr_assert(fabs(a - b) <= 1e-12 * (1 + fabs(a)) || (isnan(a) && isnan(b))
                      || a == b,
                  "iter %ld: '%s' %.17g vs "
                  "%.17g", it, s, a, b);
    }
}
