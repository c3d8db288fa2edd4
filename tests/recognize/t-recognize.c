/* t-recognize.c: constant recognition. Known constants are recovered with
   the expected SymPy text; random rationals and random products are
   recovered after perturbation; random doubles rarely match at a tight
   tolerance; to_expr trees evaluate (via kp_op_apply) to the candidate's
   value and use only the allowed operators. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kp_expr.h"
#include "kp_op.h"
#include "kp_recognize.h"
#include "../kp_test.h"

#define MAXC 16

/* Tiny reference evaluator over the prefix array (the project evaluators are
   tested elsewhere). *pos and *ci walk tokens and constants. */
static double eval_at(const kp_expr_t *e, int *pos, int *ci)
{
    kp_tok_t t = e->tok[(*pos)++];
    if (t == KP_TOK_CONST)
        return e->c[(*ci)++].value;
    cr_assert(t < KP_OP_COUNT, "variable in a recognized constant");
    int ar = kp_tok_arity(t);
    double a = ar > 0 ? eval_at(e, pos, ci) : 0;
    double b = ar > 1 ? eval_at(e, pos, ci) : 0;
    return kp_op_apply(t, a, b);
}

static double eval_expr(const kp_expr_t *e)
{
    int pos = 0, ci = 0;
    double v = eval_at(e, &pos, &ci);
    cr_assert_eq(pos, e->len);
    return v;
}

/* Builds the tree of c and checks it: valid, exact constants only, allowed
   operators only, value equal to the candidate's value. */
static void check_expr(const kp_recog_t *c)
{
    kp_expr_t e;
    kp_error_t err;
    char txt[256];
    kp_recognize_print(txt, sizeof txt, c);
    cr_assert_eq(kp_recognize_to_expr(&e, c, &err), KP_OK, "%s: %s", txt,
                 err.msg);
    cr_assert_eq(kp_expr_check(&e, &err), KP_OK, "%s: %s", txt, err.msg);
    for (int i = 0; i < e.nconst; i++)
        cr_assert(e.c[i].den > 0, "%s: free constant", txt);
    for (int i = 0; i < e.len; i++) {
        int t = e.tok[i];
        cr_assert(t == KP_TOK_CONST || t == KP_OP_ADD || t == KP_OP_SUB ||
                      t == KP_OP_MUL || t == KP_OP_DIV || t == KP_OP_POW ||
                      t == KP_OP_NEG || t == KP_OP_SQRT || t == KP_OP_LOG ||
                      t == KP_OP_PI || t == KP_OP_E,
                  "%s: token %d not allowed", txt, t);
    }
    double v = eval_expr(&e), w = kp_recognize_value(c), scale = fabs(w);
    /* A linear form may cancel: rounding is relative to its largest term. */
    static const double lin[6] = {1, M_PI, M_SQRT2, 1.7320508075688772,
                                  M_LN2, M_E};
    if (c->kind == KP_RECOG_LINEAR)
        for (int i = 0; i < 6; i++)
            scale = fmax(scale, fabs((double)c->a[i]) * lin[i] / (double)c->b);
    cr_assert(fabs(v - w) <= 1e-14 * fmax(scale, 1e-300), "%s: %.17g vs %.17g",
              txt, v, w);
}

/* Recognizes x and requires the best candidate to print as want. */
static void expect_best(double x, double tol, const char *want)
{
    kp_recog_t c[MAXC];
    kp_error_t err;
    char txt[256];
    int n = kp_recognize(c, MAXC, x, tol, &err);
    cr_assert(n > 0, "%.17g: no candidate (want %s)", x, want);
    kp_recognize_print(txt, sizeof txt, &c[0]);
    cr_assert_str_eq(txt, want, "%.17g: got %s (score %.1f) want %s", x, txt,
                     c[0].score, want);
    cr_assert(c[0].rel_err <= tol);
    cr_assert(fabs(c[0].value - x) <= tol * fabs(x) + 1e-300);
    for (int i = 0; i < n; i++) {
        cr_assert(i == 0 || c[i].score <= c[i - 1].score, "not ranked");
        cr_assert(c[i].score >= KP_RECOG_MIN_BITS);
        check_expr(&c[i]);
    }
}

Test(recognize, known_constants)
{
    expect_best(1.49999999, 1e-8, "3/2");
    expect_best(0.333333333, 1e-8, "1/3");
    expect_best(-2.0000001, 1e-6, "-2");
    expect_best(0.3989422804, 1e-8, "sqrt(2)/(2*sqrt(pi))");
    expect_best(6.283185307, 1e-8, "2*pi");
    expect_best(1.414213562, 1e-8, "sqrt(2)");
    expect_best(0.7071067812, 1e-8, "sqrt(2)/2");
    expect_best(-0.7071067812, 1e-8, "-sqrt(2)/2");
    expect_best(9.8696044, 1e-8, "pi**2");
    expect_best(2.718281828, 1e-8, "E");
    expect_best(1 / 2.718281828459045, 1e-12, "1/E");
    expect_best(1 + M_PI / 2, 1e-12, "1 + pi/2");
}

Test(recognize, lll_and_scan_extras)
{
    /* Cube root: only the LLL search on logarithms has exponent
       denominator 3. */
    expect_best(cbrt(2.0) * M_PI, 1e-12, "2**(1/3)*pi");
    /* pi^5 is beyond the half-integer scan. */
    expect_best(pow(M_PI, 5) / 3, 1e-12, "pi**5/3");
    /* A prime 7 in the prefactor: only the scan with continued fractions. */
    expect_best(7 * M_PI / 4, 1e-12, "7*pi/4");
    expect_best(4 * M_PI * M_PI * M_PI / 3, 1e-12, "4*pi**3/3");
    expect_best(sqrt(M_PI), 1e-12, "sqrt(pi)");
    expect_best(sqrt(3.0) / 2, 1e-12, "sqrt(3)/2");
    expect_best(3 * sqrt(2.0) / 4 - log(2.0), 1e-12, "3*sqrt(2)/4 - log(2)");
    expect_best((M_E + sqrt(3.0)) / 2, 1e-12, "sqrt(3)/2 + E/2");
    expect_best(2 - M_PI, 1e-12, "2 - pi");
    /* Only a loose tolerance: the simplest form still comes out. */
    expect_best(1.5 * (1 + 3e-5), 1e-4, "3/2");
    expect_best(M_PI * (1 - 2e-6), 1e-5, "pi");
}

Test(recognize, random_rationals)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    long iters = 200 * kp_test_multiplier();
    for (long it = 0; it < iters; it++) {
        int64_t q = 1 + (int64_t)kp_rng_below(&rng, 60);
        int64_t p = (int64_t)kp_rng_below(&rng, 1000) - 500;
        if (p == 0)
            continue;
        int64_t a = p < 0 ? -p : p, b = q;
        while (b) {
            int64_t t = a % b;
            a = b;
            b = t;
        }
        p /= a;
        q /= a;
        double x = (double)p / (double)q *
                   (1 + 1e-9 * (2 * kp_rng_uniform(&rng) - 1));
        kp_recog_t c[MAXC];
        int n = kp_recognize(c, MAXC, x, 1e-8, NULL);
        cr_assert(n > 0, "seed %llu iter %ld: %lld/%lld not found",
                  (unsigned long long)kp_test_seed(), it, (long long)p,
                  (long long)q);
        char txt[64];
        kp_recognize_print(txt, sizeof txt, &c[0]);
        cr_assert(c[0].kind == KP_RECOG_RATIONAL && c[0].sign * c[0].p == p &&
                      c[0].q == q,
                  "seed %llu iter %ld: %lld/%lld gave %s",
                  (unsigned long long)kp_test_seed(), it, (long long)p,
                  (long long)q, txt);
        /* The plain snap agrees. */
        kp_recog_t r;
        cr_assert_eq(kp_recognize_rational(&r, x, 1e-8, 10000, NULL), KP_OK);
        cr_assert(r.sign * r.p == p && r.q == q);
    }
}

Test(recognize, random_products)
{
    static const int sq[] = {1, 2, 3, 5, 6, 10};
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    long iters = 150 * kp_test_multiplier();
    for (long it = 0; it < iters; it++) {
        int p = 1 + (int)kp_rng_below(&rng, 6), q = 1 + (int)kp_rng_below(&rng, 6);
        int a = (int)kp_rng_below(&rng, 7) - 3; /* pi^(a/2) */
        int b = (int)kp_rng_below(&rng, 3) - 1; /* e^b */
        int s = sq[kp_rng_below(&rng, 6)];
        double sign = kp_rng_below(&rng, 2) ? 1 : -1;
        double v = sign * p / q * pow(M_PI, a / 2.0) * exp(b) * sqrt(s);
        double x = v * (1 + 1e-10 * (2 * kp_rng_uniform(&rng) - 1));
        kp_recog_t c[MAXC];
        int n = kp_recognize(c, MAXC, x, 1e-9, NULL);
        cr_assert(n > 0, "iter %ld: %.17g not recognized", it, v);
        char txt[256];
        kp_recognize_print(txt, sizeof txt, &c[0]);
        cr_assert(fabs(c[0].value - v) <= 1e-13 * fabs(v),
                  "seed %llu iter %ld: %d/%d pi^(%d/2) e^%d sqrt(%d) = %.17g "
                  "gave %s",
                  (unsigned long long)kp_test_seed(), it, (int)sign * p, q, a,
                  b, s, v, txt);
        check_expr(&c[0]);
    }
}

/* (a0 + a_i c_i + a_j c_j)/b with small coefficients: recovered (as some
   form of the same value) once x is accurate to about 1e-12. Three-term
   relations at 1e-8 are deliberately not significant enough. */
Test(recognize, random_linear)
{
    static const double lin[6] = {1, M_PI, M_SQRT2, 1.7320508075688772,
                                  M_LN2, M_E};
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    long iters = 150 * kp_test_multiplier();
    for (long it = 0; it < iters; it++) {
        int64_t a[6] = {0};
        int b = 1 + (int)kp_rng_below(&rng, 4);
        int nt = 1 + (int)kp_rng_below(&rng, 2);
        a[0] = (int)kp_rng_below(&rng, 7) - 3;
        for (int j = 0; j < nt; j++)
            a[1 + kp_rng_below(&rng, 5)] = (int)kp_rng_below(&rng, 7) - 3;
        double v = 0;
        for (int i = 5; i >= 0; i--)
            v += (double)a[i] * lin[i];
        v /= b;
        if (fabs(v) < 1e-3)
            continue;
        double x = v * (1 + 1e-12 * (2 * kp_rng_uniform(&rng) - 1));
        kp_recog_t c[MAXC];
        int n = kp_recognize(c, MAXC, x, 1e-11, NULL);
        char txt[256] = "(none)";
        if (n > 0)
            kp_recognize_print(txt, sizeof txt, &c[0]);
        cr_assert(n > 0 && fabs(c[0].value - v) <= 1e-13 * fabs(v),
                  "seed %llu iter %ld: (%lld + %lld pi + %lld sqrt2 + %lld "
                  "sqrt3 + %lld log2 + %lld e)/%d = %.17g gave %s",
                  (unsigned long long)kp_test_seed(), it, (long long)a[0],
                  (long long)a[1], (long long)a[2], (long long)a[3],
                  (long long)a[4], (long long)a[5], b, v, txt);
        check_expr(&c[0]);
    }
}

/* The false-positive rate on random doubles: the anti-spurious heuristic. */
Test(recognize, random_values_rarely_match)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    long iters = 1000 * kp_test_multiplier(), hits = 0;
    for (long it = 0; it < iters; it++) {
        /* log-uniform over [0.01, 100], random sign */
        double x = exp(log(100.0) * (2 * kp_rng_uniform(&rng) - 1));
        if (kp_rng_below(&rng, 2))
            x = -x;
        kp_recog_t c[1];
        int n = kp_recognize(c, 1, x, 1e-9, NULL);
        cr_assert(n >= 0);
        hits += n > 0;
    }
    cr_log_info("recognize: %ld spurious matches in %ld random doubles", hits,
                iters);
    cr_assert(hits <= iters / 100, "%ld spurious matches in %ld", hits, iters);
}

Test(recognize, rational_snap_smallest_denominator)
{
    kp_recog_t r;
    cr_assert_eq(kp_recognize_rational(&r, 0.33, 0.02, 100, NULL), KP_OK);
    cr_assert(r.p == 1 && r.q == 3 && r.sign == 1);
    cr_assert_eq(kp_recognize_rational(&r, -3.14159, 1e-3, 1000, NULL), KP_OK);
    cr_assert(r.p == 22 && r.q == 7 && r.sign == -1);
    cr_assert_eq(kp_recognize_rational(&r, 3.14159265, 1e-7, 1000, NULL), KP_OK);
    cr_assert(r.p == 355 && r.q == 113);
    cr_assert_eq(kp_recognize_rational(&r, M_PI, 1e-12, 1000, NULL),
                 KP_ENOTFOUND);
    cr_assert_eq(kp_recognize_rational(&r, 0.0, 1e-9, 10, NULL), KP_OK);
    cr_assert(r.p == 0 && r.q == 1 && r.sign == 0);
    /* Against brute force: no smaller denominator fits. */
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (long it = 0; it < 200 * kp_test_multiplier(); it++) {
        double x = 10 * kp_rng_uniform(&rng), tol = 1e-4;
        if (kp_recognize_rational(&r, x, tol, 300, NULL) != KP_OK)
            continue;
        cr_assert(fabs((double)r.p / r.q - x) <= tol * x);
        for (int64_t q = 1; q < r.q; q++)
            for (int64_t p = (int64_t)floor(x * q); p <= (int64_t)ceil(x * q); p++)
                cr_assert(fabs((double)p / q - x) > tol * x, "x=%.17g %lld/%lld",
                          x, (long long)p, (long long)q);
    }
}

Test(recognize, zero_negative_and_errors)
{
    kp_recog_t c[MAXC];
    kp_error_t err;
    char txt[64];
    cr_assert_eq(kp_recognize(c, MAXC, 0.0, 1e-9, NULL), 1);
    kp_recognize_print(txt, sizeof txt, &c[0]);
    cr_assert_str_eq(txt, "0");
    cr_assert_eq(c[0].value, 0.0);
    check_expr(&c[0]);
    cr_assert_eq(kp_recognize(c, 0, 0.0, 1e-9, NULL), 0);
    cr_assert_eq(kp_recognize(NULL, 0, M_PI, 1e-9, NULL), 0);

    int n = kp_recognize(c, MAXC, -M_PI * M_PI / 6, 1e-12, NULL);
    cr_assert(n > 0);
    kp_recognize_print(txt, sizeof txt, &c[0]);
    cr_assert_str_eq(txt, "-pi**2/6");
    check_expr(&c[0]);

    kp_error_init(&err);
    cr_assert_eq(kp_recognize(c, MAXC, NAN, 1e-9, &err), -KP_EINPUT);
    cr_assert_eq(err.code, KP_EINPUT);
    cr_assert_eq(kp_recognize(c, MAXC, INFINITY, 1e-9, NULL), -KP_EINPUT);
    cr_assert_eq(kp_recognize(c, MAXC, 1.0, 0.0, NULL), -KP_EINPUT);
    cr_assert_eq(kp_recognize(c, MAXC, 1.0, 1.5, NULL), -KP_EINPUT);
    cr_assert_eq(kp_recognize(c, -1, 1.0, 1e-9, NULL), -KP_EINPUT);
    cr_assert_eq(kp_recognize_rational(c, 1.0, 1e-9, 0, &err), KP_EINPUT);
    cr_assert_eq(kp_recognize_rational(c, NAN, 1e-9, 10, NULL), KP_EINPUT);

    /* Malformed candidates are refused. */
    kp_recog_t bad;
    memset(&bad, 0, sizeof bad);
    bad.kind = KP_RECOG_PRODUCT;
    bad.sign = 1;
    bad.p = 1;
    bad.q = 0;
    kp_expr_t e;
    cr_assert_eq(kp_recognize_to_expr(&e, &bad, &err), KP_EINPUT);
    bad.kind = 7;
    cr_assert_eq(kp_recognize_to_expr(&e, &bad, NULL), KP_EINPUT);

    /* A huge or tiny value simply has no significant form. */
    cr_assert_eq(kp_recognize(c, MAXC, 1.2345678912345e200, 1e-12, NULL), 0);
}

Test(recognize, print_truncation)
{
    kp_recog_t c[1];
    cr_assert_eq(kp_recognize(c, 1, 0.3989422804014327, 1e-12, NULL), 1);
    char full[128], small[8];
    size_t len = kp_recognize_print(full, sizeof full, &c[0]);
    cr_assert_eq(len, strlen(full));
    cr_assert_eq(kp_recognize_print(small, sizeof small, &c[0]), len);
    cr_assert_eq(strlen(small), sizeof small - 1);
    cr_assert(strncmp(small, full, sizeof small - 1) == 0);
    cr_assert_eq(kp_recognize_print(NULL, 0, &c[0]), len);
}
