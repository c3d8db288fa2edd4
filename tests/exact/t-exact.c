/* t-exact.c: the exact evaluator against independent oracles: a recursive
   fmpq evaluator for rational-only expressions, a recursive 2000-bit MPFR
   evaluator and the double kp_op_apply evaluator for mixed ones, plus fixed
   cases for every domain rule, the predicates, printing and parsing.

   Expressions are built here from a prefix string ("sin / pi 6") straight
   into kp_expr_t, so these tests do not depend on the parser. */
#include <criterion/criterion.h>
#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kp_exact.h"
#include "kp_expr.h"
#include "../kp_test.h"

/* ---- building expressions ------------------------------------------- */

static void fix_sizes(kp_expr_t *e)
{
    int stack[KP_EXPR_MAX_LEN], sp = 0;
    for (int i = e->len - 1; i >= 0; i--) {
        int ar = kp_tok_arity(e->tok[i]), s = 1;
        for (int j = 0; j < ar; j++)
            s += stack[--sp];
        stack[sp++] = s;
        e->size[i] = (uint16_t)s;
    }
}

static void push_tok(kp_expr_t *e, int t)
{
    cr_assert(e->len < KP_EXPR_MAX_LEN);
    e->tok[e->len++] = (kp_tok_t)t;
}

static void push_exact(kp_expr_t *e, int64_t num, int64_t den)
{
    cr_assert(e->nconst < KP_EXPR_MAX_CONSTS);
    kp_const_t *c = &e->c[e->nconst++];
    c->num = num;
    c->den = den;
    c->value = (double)num / (double)den;
    push_tok(e, KP_TOK_CONST);
}

static void push_free(kp_expr_t *e, double v)
{
    cr_assert(e->nconst < KP_EXPR_MAX_CONSTS);
    kp_const_t *c = &e->c[e->nconst++];
    c->num = 0;
    c->den = 0;
    c->value = v;
    push_tok(e, KP_TOK_CONST);
}

/* Tokens separated by spaces: operator names ("+", "**", "neg", "sqrt",
   "pi"), integers and fractions ("-8", "1/3") as exact constants, "f0.1" a
   free constant, "x0" a variable. */
static void build(kp_expr_t *e, const char *text)
{
    memset(e, 0, sizeof *e);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *t = strtok(buf, " "); t != NULL; t = strtok(NULL, " ")) {
        if (t[0] == 'x' && t[1] >= '0' && t[1] <= '9') {
            push_tok(e, KP_TOK_VAR + atoi(t + 1));
        } else if (t[0] == 'f' && t[1] != '\0') {
            push_free(e, strtod(t + 1, NULL));
        } else if ((t[0] >= '0' && t[0] <= '9') ||
                   (t[0] == '-' && t[1] >= '0' && t[1] <= '9')) {
            char *end;
            long long p = strtoll(t, &end, 10), q = 1;
            if (*end == '/')
                q = strtoll(end + 1, NULL, 10);
            push_exact(e, p, q);
        } else {
            int op = kp_op_lookup(t, -1);
            cr_assert(op >= 0, "unknown token '%s'", t);
            push_tok(e, op);
        }
    }
    fix_sizes(e);
}

static int eval_str(kp_exact_t *r, const char *text, slong prec)
{
    kp_expr_t e;
    build(&e, text);
    return kp_exact_eval(r, &e, NULL, 0, prec, NULL);
}

static void assert_rational(const char *text, slong num, ulong den)
{
    kp_exact_t r;
    fmpq_t q;
    kp_exact_init(&r);
    fmpq_init(q);
    fmpq_set_si(q, num, den);
    cr_assert_eq(eval_str(&r, text, 128), KP_OK, "%s", text);
    char buf[256];
    kp_exact_print(buf, sizeof buf, &r, 20);
    cr_assert_eq(r.kind, KP_EXACT_RATIONAL, "%s gave %s", text, buf);
    cr_assert(fmpq_equal(r.q, q), "%s gave %s, want %ld/%lu", text, buf,
              (long)num, (unsigned long)den);
    kp_exact_clear(&r);
    fmpq_clear(q);
}

static void assert_kind(const char *text, slong prec, int kind)
{
    kp_exact_t r;
    kp_exact_init(&r);
    cr_assert_eq(eval_str(&r, text, prec), KP_OK, "%s", text);
    char buf[256];
    kp_exact_print(buf, sizeof buf, &r, 20);
    cr_assert_eq(r.kind, kind, "%s gave %s (kind %d), want kind %d", text,
                 buf, r.kind, kind);
    kp_exact_clear(&r);
}

/* Arb keeps per-thread caches (pi, e, ...) that only flint_cleanup frees;
   the library never calls it, the test process does, for LeakSanitizer. */
static void cleanup(void)
{
    flint_cleanup();
}

TestSuite(exact, .fini = cleanup);

/* ---- fixed cases ----------------------------------------------------- */

Test(exact, rational_arithmetic_is_exact)
{
    assert_rational("+ 1/3 1/6", 1, 2);
    assert_rational("- 1/3 1/2", -1, 6);
    assert_rational("/ * 2/3 9 neg 4", -3, 2);
    assert_rational("Abs - 1 7/2", 5, 2);
    /* 2**100 + 1 - 2**100 needs all 101 bits */
    assert_rational("- + ** 2 100 1 ** 2 100", 1, 1);
}

Test(exact, sin_pi_over_6_encloses_one_half)
{
    kp_exact_t r;
    fmpq_t h;
    kp_exact_init(&r);
    fmpq_init(h);
    fmpq_set_si(h, 1, 2);
    cr_assert_eq(eval_str(&r, "sin / pi 6", 128), KP_OK);
    cr_assert_eq(r.kind, KP_EXACT_BALL);
    cr_assert(arb_contains_fmpq(r.b, h));
    cr_assert(kp_exact_contains_fmpq(&r, h));
    cr_assert(mag_cmp_2exp_si(arb_radref(r.b), -100) < 0); /* < 7.9e-31 */
    fmpq_set_si(h, 1, 3);
    cr_assert(!kp_exact_contains_fmpq(&r, h));
    kp_exact_clear(&r);
    fmpq_clear(h);
}

Test(exact, sqrt2_squared_contains_2)
{
    kp_exact_t r;
    fmpq_t two;
    kp_exact_init(&r);
    fmpq_init(two);
    fmpq_set_si(two, 2, 1);
    cr_assert_eq(eval_str(&r, "** sqrt 2 2", 128), KP_OK);
    cr_assert_eq(r.kind, KP_EXACT_BALL);
    cr_assert(arb_contains_fmpq(r.b, two));
    cr_assert_eq(eval_str(&r, "* sqrt 2 sqrt 2", 128), KP_OK);
    cr_assert(arb_contains_fmpq(r.b, two));
    /* 2**(1/2) also stays a ball whose square contains 2 */
    cr_assert_eq(eval_str(&r, "** 2 1/2", 128), KP_OK);
    cr_assert_eq(r.kind, KP_EXACT_BALL);
    arb_sqr(r.b, r.b, 128);
    cr_assert(arb_contains_fmpq(r.b, two));
    kp_exact_clear(&r);
    fmpq_clear(two);
}

Test(exact, domain_errors_are_undefined)
{
    static const char *undef[] = {
        "log -1", "/ 1 0", "sqrt -4", "asin 3/2", "acos -2", "** -8 1/2",
        "** -8 1/3", "** 0 -1", "** 0 -1/2", "log 0", "/ 0 0",
        "log neg pi", "sqrt neg E", "asin pi", "acos - 0 pi",
        "log - 1 E", "/ pi 0", "** neg pi 1/2", "** -2 + 1/2 / pi 100",
        "+ 1 log -1", "** log -1 0", "* 0 / 1 0", "sin sqrt -1",
        "** 0 neg pi",
    };
    for (size_t i = 0; i < sizeof undef / sizeof undef[0]; i++)
        assert_kind(undef[i], 128, KP_EXACT_UNDEFINED);
}

Test(exact, straddling_balls_are_unknown)
{
    static const char *unk[] = {
        "/ 1 - pi pi", "log - pi pi", "sqrt - pi pi", "asin sin / pi 2",
        "** - pi pi -1", "** -2 sin pi", "** 0 sin pi",
        "+ 1 / 1 - pi pi", "log - * sqrt 2 sqrt 2 2",
    };
    for (size_t i = 0; i < sizeof unk / sizeof unk[0]; i++)
        assert_kind(unk[i], 128, KP_EXACT_UNKNOWN);
    /* undefined wins over unknown: the undefined part is proved */
    assert_kind("+ log -1 / 1 - pi pi", 128, KP_EXACT_UNDEFINED);
}

Test(exact, powers_and_roots)
{
    assert_rational("** -8 3", -512, 1);
    assert_rational("** 8 1/3", 2, 1);
    assert_rational("** 9/4 1/2", 3, 2);
    assert_rational("sqrt 9/4", 3, 2);
    assert_rational("** 4/9 -3/2", 27, 8);
    assert_rational("** 2 -2", 1, 4);
    assert_rational("** -2 -3", -1, 8);
    assert_rational("** 0 0", 1, 1);
    assert_rational("** pi 0", 1, 1);
    assert_rational("** 1 pi", 1, 1);
    assert_rational("** 0 pi", 0, 1);
    assert_rational("** 0 5/3", 0, 1);
    assert_rational("** -1 1000000001", -1, 1);
    assert_rational("** 1/1024 1/10", 1, 2);
    assert_rational("** 27/64 2/3", 9, 16);
    assert_kind("** 2 1/3", 128, KP_EXACT_BALL);
    assert_kind("** 3/4 1/2", 128, KP_EXACT_BALL);
    assert_kind("** pi -2", 128, KP_EXACT_BALL);
    assert_kind("** neg pi 3", 128, KP_EXACT_BALL);
    assert_kind("** 2 pi", 128, KP_EXACT_BALL);
    assert_kind("** neg pi 2/3", 128, KP_EXACT_UNDEFINED);
    assert_kind("** -3 / pi 7", 128, KP_EXACT_UNDEFINED);

    /* (-pi)**3 < 0 rigorously */
    kp_exact_t r;
    kp_exact_init(&r);
    eval_str(&r, "** neg pi 3", 128);
    cr_assert_eq(kp_exact_sign(&r), -1);
    kp_exact_clear(&r);
}

Test(exact, huge_powers_become_balls_containing_the_value)
{
    kp_exact_t r;
    fmpz_t z;
    kp_exact_init(&r);
    fmpz_init(z);
    cr_assert_eq(eval_str(&r, "** 3 200000", 128), KP_OK);
    cr_assert_eq(r.kind, KP_EXACT_BALL);
    fmpz_set_ui(z, 3);
    fmpz_pow_ui(z, z, 200000);
    cr_assert(arb_contains_fmpz(r.b, z));
    cr_assert(arb_rel_accuracy_bits(r.b) > 100);
    /* 3**2000 is well below the cap and exact */
    cr_assert_eq(eval_str(&r, "** 3 2000", 128), KP_OK);
    cr_assert_eq(r.kind, KP_EXACT_RATIONAL);
    fmpz_set_ui(z, 3);
    fmpz_pow_ui(z, z, 2000);
    cr_assert(fmpz_equal(fmpq_numref(r.q), z));
    /* a power tower that would need 2**(10**18) bits */
    cr_assert_eq(eval_str(&r, "** 2 1000000000000000000", 64), KP_OK);
    cr_assert(r.kind == KP_EXACT_BALL || r.kind == KP_EXACT_UNKNOWN);
    kp_exact_clear(&r);
    fmpz_clear(z);
}

Test(exact, exact_points_of_functions)
{
    assert_rational("exp 0", 1, 1);
    assert_rational("log 1", 0, 1);
    assert_rational("sin 0", 0, 1);
    assert_rational("cos 0", 1, 1);
    assert_rational("tan 0", 0, 1);
    assert_rational("asin 0", 0, 1);
    assert_rational("acos 1", 0, 1);
    assert_rational("atan 0", 0, 1);
    assert_rational("sinh 0", 0, 1);
    assert_rational("cosh 0", 1, 1);
    assert_rational("tanh 0", 0, 1);
    assert_rational("neg Abs -7/3", -7, 3);
    assert_rational("sqrt 0", 0, 1);
    /* in-domain boundaries give balls, not unknowns */
    assert_kind("asin 1", 128, KP_EXACT_BALL);
    assert_kind("acos -1", 128, KP_EXACT_BALL);
    assert_kind("log 1/1000", 128, KP_EXACT_BALL);
}

Test(exact, free_constants_enter_as_their_double)
{
    kp_exact_t r;
    fmpq_t q;
    kp_exact_init(&r);
    fmpq_init(q);
    cr_assert_eq(eval_str(&r, "f0.1", 64), KP_OK);
    cr_assert_eq(r.kind, KP_EXACT_RATIONAL);
    fmpq_set_si(q, 1, 10);
    cr_assert(!fmpq_equal(r.q, q), "0.1 as a double is not 1/10");
    fmpz_set_ui(fmpq_numref(q), 3602879701896397ULL);
    fmpz_one(fmpq_denref(q));
    fmpq_div_2exp(q, q, 55);
    cr_assert(fmpq_equal(r.q, q));
    /* 0.1 + 0.2 - 0.3 is not 0 over doubles entered exactly, but it is
       for the exact constants */
    cr_assert_eq(eval_str(&r, "- + f0.1 f0.2 f0.3", 64), KP_OK);
    cr_assert_eq(r.kind, KP_EXACT_RATIONAL);
    kp_exact_fmpq_from_double(q, 0.1);
    fmpq_t s;
    fmpq_init(s);
    kp_exact_fmpq_from_double(s, 0.2);
    fmpq_add(q, q, s);
    kp_exact_fmpq_from_double(s, 0.3);
    fmpq_sub(q, q, s);
    cr_assert(fmpq_equal(r.q, q));
    cr_assert(!fmpq_is_zero(r.q));
    assert_rational("- + 1/10 2/10 3/10", 0, 1);

    /* from_double agrees with Arb's exact conversion on random doubles */
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    arf_t a;
    arf_init(a);
    for (long i = 0; i < 2000 * kp_test_multiplier(); i++) {
        uint64_t bits = kp_rng_next(&rng);
        double x;
        memcpy(&x, &bits, sizeof x);
        if (!isfinite(x))
            continue;
        cr_assert_eq(kp_exact_fmpq_from_double(q, x), KP_OK);
        arf_set_d(a, x);
        arf_get_fmpq(s, a);
        cr_assert(fmpq_equal(q, s), "iter %ld x=%a", i, x);
        r.kind = KP_EXACT_RATIONAL;
        fmpq_set(r.q, q);
        cr_assert_eq(kp_exact_get_d(&r), x, "iter %ld x=%a", i, x);
    }
    cr_assert_eq(kp_exact_fmpq_from_double(q, NAN), KP_EINPUT);
    cr_assert_eq(kp_exact_fmpq_from_double(q, -INFINITY), KP_EINPUT);
    cr_assert_eq(kp_exact_fmpq_from_double(q, -0.0), KP_OK);
    cr_assert(fmpq_is_zero(q));
    arf_clear(a);
    fmpq_clear(s);
    kp_exact_clear(&r);
    fmpq_clear(q);
}

Test(exact, variables_and_input_errors)
{
    kp_expr_t e;
    kp_exact_t r;
    kp_error_t err;
    fmpq vars[2];
    kp_exact_init(&r);
    fmpq_init(vars + 0);
    fmpq_init(vars + 1);
    fmpq_set_si(vars + 0, 1, 3);
    fmpq_set_si(vars + 1, 2, 3);
    build(&e, "* + x0 x1 x1");
    cr_assert_eq(kp_exact_eval(&r, &e, vars, 2, 64, NULL), KP_OK);
    cr_assert_eq(r.kind, KP_EXACT_RATIONAL);
    cr_assert(fmpq_equal(r.q, vars + 1));

    kp_error_init(&err);
    cr_assert_eq(kp_exact_eval(&r, &e, vars, 1, 64, &err), KP_EINPUT);
    cr_assert_eq(err.code, KP_EINPUT);
    cr_assert(strstr(err.msg, "x1") != NULL, "%s", err.msg);
    cr_assert_eq(r.kind, KP_EXACT_UNKNOWN);

    build(&e, "+ 1 2");
    e.len = 2; /* incomplete */
    cr_assert_eq(kp_exact_eval(&r, &e, NULL, 0, 64, &err), KP_EINPUT);
    build(&e, "+ 1 2");
    e.tok[0] = 200; /* not an operator */
    cr_assert_eq(kp_exact_eval(&r, &e, NULL, 0, 64, &err), KP_EINPUT);
    build(&e, "+ 1 2");
    e.nconst = 1;
    cr_assert_eq(kp_exact_eval(&r, &e, NULL, 0, 64, &err), KP_EINPUT);
    build(&e, "sin f1");
    e.c[0].value = NAN;
    cr_assert_eq(kp_exact_eval(&r, &e, NULL, 0, 64, &err), KP_EINPUT);
    build(&e, "sin 1");
    cr_assert_eq(kp_exact_eval(&r, &e, NULL, 0, 1, &err), KP_EINPUT);
    memset(&e, 0, sizeof e);
    cr_assert_eq(kp_exact_eval(&r, &e, NULL, 0, 64, &err), KP_EINPUT);

    kp_exact_clear(&r);
    fmpq_clear(vars + 0);
    fmpq_clear(vars + 1);
}

Test(exact, decimal_parsing)
{
    static const struct {
        const char *s;
        long num;
        unsigned long den;
    } ok[] = {
        {"1.25e-3", 1, 800}, {"-0.1", -1, 10}, {".5", 1, 2},
        {"5.", 5, 1},        {"3/4", 3, 4},    {" 2E+2 ", 200, 1},
        {"-6/4", -3, 2},     {"+0", 0, 1},     {"007", 7, 1},
        {"1e0", 1, 1},       {"12.5E-1", 5, 4}, {"-0.000", 0, 1},
    };
    fmpq_t q, w;
    fmpq_init(q);
    fmpq_init(w);
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_assert_eq(kp_exact_fmpq_from_decimal(q, ok[i].s, NULL), KP_OK,
                     "%s", ok[i].s);
        fmpq_set_si(w, ok[i].num, ok[i].den);
        cr_assert(fmpq_equal(q, w), "%s", ok[i].s);
    }
    /* long mantissas and large exponents stay exact */
    cr_assert_eq(kp_exact_fmpq_from_decimal(
                     q, "0.1000000000000000055511151231257827021181583404541015625",
                     NULL),
                 KP_OK);
    kp_exact_fmpq_from_double(w, 0.1);
    cr_assert(fmpq_equal(q, w));
    cr_assert_eq(kp_exact_fmpq_from_decimal(q, "1e400", NULL), KP_OK);
    fmpz_set_ui(fmpq_numref(w), 10);
    fmpz_pow_ui(fmpq_numref(w), fmpq_numref(w), 400);
    fmpz_one(fmpq_denref(w));
    cr_assert(fmpq_equal(q, w));

    static const struct {
        const char *s;
        long col;
    } bad[] = {
        {"1.2x", 4}, {"", 1},    {"e5", 1},      {"1e", 3},  {"1/0", 3},
        {"1.5/2", 4}, {"-", 2},  {"1e999999", 2}, {"3/", 3}, {"1 2", 3},
        {"nan", 1},  {"0x10", 2},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kp_error_t err;
        kp_error_init(&err);
        cr_assert_eq(kp_exact_fmpq_from_decimal(q, bad[i].s, &err), KP_EINPUT,
                     "'%s'", bad[i].s);
        cr_assert_eq(err.col, bad[i].col, "'%s': col %ld, want %ld",
                     bad[i].s, err.col, bad[i].col);
        cr_assert_eq(err.line, 0);
        cr_assert(fmpq_is_zero(q));
    }
    fmpq_clear(q);
    fmpq_clear(w);
}

Test(exact, sign_cmp_and_tolerance_predicates)
{
    kp_exact_t r;
    fmpq_t q, tol;
    int c = 99;
    kp_exact_init(&r);
    fmpq_init(q);
    fmpq_init(tol);

    eval_str(&r, "1/2", 64);
    cr_assert_eq(kp_exact_sign(&r), 1);
    fmpq_set_si(q, 1, 2);
    cr_assert(kp_exact_cmp_fmpq(&r, q, &c) && c == 0);
    eval_str(&r, "neg pi", 64);
    cr_assert_eq(kp_exact_sign(&r), -1);
    eval_str(&r, "- 1 1", 64);
    cr_assert_eq(kp_exact_sign(&r), 0);
    eval_str(&r, "- pi pi", 64);
    cr_assert_eq(kp_exact_sign(&r), KP_EXACT_SIGN_UNKNOWN);
    fmpq_zero(q);
    c = 99;
    cr_assert(!kp_exact_cmp_fmpq(&r, q, &c));
    cr_assert_eq(c, 99);
    eval_str(&r, "log -1", 64);
    cr_assert_eq(kp_exact_sign(&r), KP_EXACT_SIGN_UNKNOWN);
    cr_assert(!kp_exact_cmp_fmpq(&r, q, &c));
    cr_assert(!kp_exact_contains_fmpq(&r, q));

    /* pi < 355/113 by 2.7e-7, and pi > 3 */
    eval_str(&r, "pi", 64);
    fmpq_set_si(q, 355, 113);
    cr_assert(kp_exact_cmp_fmpq(&r, q, &c) && c == -1);
    fmpq_set_si(q, 3, 1);
    cr_assert(kp_exact_cmp_fmpq(&r, q, &c) && c == 1);
    /* at 8 bits pi cannot be told from 355/113 */
    eval_str(&r, "pi", 8);
    fmpq_set_si(q, 355, 113);
    cr_assert(!kp_exact_cmp_fmpq(&r, q, &c));

    /* |pi - 3.14159| = 2.65e-6 */
    eval_str(&r, "pi", 128);
    kp_exact_fmpq_from_decimal(q, "3.14159", NULL);
    kp_exact_fmpq_from_decimal(tol, "5e-6", NULL);
    cr_assert_eq(kp_exact_abs_diff_le(&r, q, tol), KP_EXACT_YES);
    kp_exact_fmpq_from_decimal(tol, "2.6e-6", NULL);
    cr_assert_eq(kp_exact_abs_diff_le(&r, q, tol), KP_EXACT_NO);
    kp_exact_fmpq_from_decimal(tol, "2.65358979e-6", NULL);
    cr_assert_eq(kp_exact_abs_diff_le(&r, q, tol), KP_EXACT_NO);
    kp_exact_fmpq_from_decimal(tol, "2.65358980e-6", NULL);
    cr_assert_eq(kp_exact_abs_diff_le(&r, q, tol), KP_EXACT_YES);
    eval_str(&r, "pi", 10); /* the ball straddles the boundary */
    cr_assert_eq(kp_exact_abs_diff_le(&r, q, tol), KP_EXACT_MAYBE);
    fmpq_set_si(tol, -1, 1000);
    cr_assert_eq(kp_exact_abs_diff_le(&r, q, tol), KP_EXACT_NO);

    /* rationals: the boundary is inclusive */
    eval_str(&r, "1/3", 64);
    kp_exact_fmpq_from_decimal(q, "0.333", NULL);
    fmpq_set_si(tol, 1, 3000);
    cr_assert_eq(kp_exact_abs_diff_le(&r, q, tol), KP_EXACT_YES);
    fmpq_set_si(tol, 1, 3001);
    cr_assert_eq(kp_exact_abs_diff_le(&r, q, tol), KP_EXACT_NO);
    eval_str(&r, "/ 1 0", 64);
    cr_assert_eq(kp_exact_abs_diff_le(&r, q, tol), KP_EXACT_NO);
    eval_str(&r, "/ 1 - pi pi", 64);
    cr_assert_eq(kp_exact_abs_diff_le(&r, q, tol), KP_EXACT_MAYBE);

    kp_exact_clear(&r);
    fmpq_clear(q);
    fmpq_clear(tol);
}

Test(exact, print_format_and_get_d)
{
    kp_exact_t r;
    char buf[256];
    kp_exact_init(&r);
    eval_str(&r, "+ 1/3 1/6", 64);
    cr_assert_eq(kp_exact_print(buf, sizeof buf, &r, 10), 3);
    cr_assert_str_eq(buf, "1/2");
    eval_str(&r, "** -8 3", 64);
    kp_exact_print(buf, sizeof buf, &r, 10);
    cr_assert_str_eq(buf, "-512");
    eval_str(&r, "log -1", 64);
    kp_exact_print(buf, sizeof buf, &r, 10);
    cr_assert_str_eq(buf, "undefined");
    cr_assert(isnan(kp_exact_get_d(&r)));
    cr_assert_eq(kp_exact_print(buf, 4, &r, 10), 9);
    cr_assert_str_eq(buf, "und");
    eval_str(&r, "/ 1 - pi pi", 64);
    kp_exact_print(buf, sizeof buf, &r, 10);
    cr_assert_str_eq(buf, "unknown");
    cr_assert(isnan(kp_exact_get_d(&r)));

    eval_str(&r, "sin / pi 6", 128);
    size_t len = kp_exact_print(buf, sizeof buf, &r, 32);
    cr_assert_eq(len, strlen(buf));
    cr_assert(strncmp(buf, "[0.5000000000000000000000000000000", 34) == 0,
              "%s", buf);
    cr_assert(strstr(buf, " +/- ") != NULL && buf[len - 1] == ']', "%s", buf);
    /* the printed text is an enclosure of the ball (so of the value) */
    arb_t p;
    arb_init(p);
    cr_assert_eq(arb_set_str(p, buf, 256), 0, "%s", buf);
    cr_assert(arb_contains(p, r.b), "%s", buf);
    cr_assert_eq(kp_exact_get_d(&r), 0.5);
    arb_clear(p);

    eval_str(&r, "pi", 128);
    cr_assert_eq(kp_exact_get_d(&r), M_PI);
    eval_str(&r, "1/3", 64);
    cr_assert_eq(kp_exact_get_d(&r), 1.0 / 3);
    eval_str(&r, "** 10 400", 64);
    cr_assert(isinf(kp_exact_get_d(&r)));
    kp_exact_clear(&r);
}

Test(exact, adaptive_precision_narrows)
{
    kp_expr_t e;
    kp_exact_t r, s;
    slong used = 0;
    kp_exact_init(&r);
    kp_exact_init(&s);

    build(&e, "pi");
    cr_assert_eq(kp_exact_eval_adaptive(&r, &e, NULL, 0, 100, 4096, &used,
                                        NULL), KP_OK);
    cr_assert_eq(kp_exact_eval_adaptive(&s, &e, NULL, 0, 300, 4096, &used,
                                        NULL), KP_OK);
    cr_assert_eq(s.kind, KP_EXACT_BALL);
    cr_assert(mag_cmp(arb_radref(s.b), arb_radref(r.b)) < 0);
    cr_assert(mag_cmp_2exp_si(arb_radref(s.b), -298) <= 0);
    cr_assert(arb_contains(r.b, s.b));

    /* 64 bits cannot see 1e-40 next to e; more precision decides the log */
    build(&e, "log - + E / 1 ** 10 40 E");
    cr_assert_eq(kp_exact_eval(&r, &e, NULL, 0, 64, NULL), KP_OK);
    cr_assert_eq(r.kind, KP_EXACT_UNKNOWN);
    cr_assert_eq(kp_exact_eval_adaptive(&r, &e, NULL, 0, 50, 4096, &used,
                                        NULL), KP_OK);
    cr_assert_eq(r.kind, KP_EXACT_BALL);
    cr_assert(used > 64);
    arb_t want;
    arb_init(want);
    arb_set_ui(want, 10);
    arb_log(want, want, 256);
    arb_mul_si(want, want, -40, 256);
    cr_assert(arb_overlaps(r.b, want));
    cr_assert(mag_cmp_2exp_si(arb_radref(r.b), -50 + 7) <= 0);
    arb_clear(want);

    /* a true zero under sqrt stays unknown up to max_prec */
    build(&e, "sqrt - ** sqrt 2 2 2");
    cr_assert_eq(kp_exact_eval_adaptive(&r, &e, NULL, 0, 50, 1024, &used,
                                        NULL), KP_OK);
    cr_assert_eq(r.kind, KP_EXACT_UNKNOWN);
    cr_assert_eq(used, 1024);

    /* rational and undefined results stop at once */
    build(&e, "+ 1/3 1/6");
    kp_exact_eval_adaptive(&r, &e, NULL, 0, 1000, 100000, &used, NULL);
    cr_assert_eq(r.kind, KP_EXACT_RATIONAL);
    cr_assert_eq(used, 1032);
    build(&e, "log -1");
    kp_exact_eval_adaptive(&r, &e, NULL, 0, 10, 100000, &used, NULL);
    cr_assert_eq(r.kind, KP_EXACT_UNDEFINED);
    cr_assert_eq(used, 64);
    /* near 0 the radius is judged in absolute terms */
    build(&e, "sin pi");
    kp_exact_eval_adaptive(&r, &e, NULL, 0, 80, 100000, &used, NULL);
    cr_assert_eq(r.kind, KP_EXACT_BALL);
    cr_assert(mag_cmp_2exp_si(arb_radref(r.b), -80) <= 0);
    kp_exact_clear(&r);
    kp_exact_clear(&s);
}

/* ---- random expressions against oracles ----------------------------- */

static void gen_rational(kp_expr_t *e, kp_rng_t *rng, int depth)
{
    int leaf = depth <= 0 || kp_rng_below(rng, 4) == 0;
    if (leaf) {
        if (kp_rng_below(rng, 3) == 0) {
            push_tok(e, KP_TOK_VAR + (int)kp_rng_below(rng, 2));
        } else {
            int64_t p = (int64_t)kp_rng_below(rng, 13) - 6;
            int64_t q = 1 + (int64_t)kp_rng_below(rng, 6);
            fmpz_t g, a, b;
            fmpz_init_set_si(a, p);
            fmpz_init_set_si(b, q);
            fmpz_init(g);
            fmpz_gcd(g, a, b);
            push_exact(e, p / fmpz_get_si(g), q / fmpz_get_si(g));
            fmpz_clear(g);
            fmpz_clear(a);
            fmpz_clear(b);
        }
        return;
    }
    static const int ops[] = {KP_OP_ADD, KP_OP_SUB, KP_OP_MUL, KP_OP_DIV,
                              KP_OP_POW, KP_OP_NEG, KP_OP_ABS};
    int op = ops[kp_rng_below(rng, 7)];
    push_tok(e, op);
    if (op == KP_OP_POW) {
        gen_rational(e, rng, depth - 1);
        push_exact(e, (int64_t)kp_rng_below(rng, 7) - 3, 1);
    } else {
        for (int j = 0; j < kp_op_table[op].arity; j++)
            gen_rational(e, rng, depth - 1);
    }
}

/* Recursive fmpq oracle; returns 0 when undefined. */
static int q_eval(fmpq_t out, const kp_expr_t *e, int *pos, int *kc,
                  const fmpq *vars)
{
    kp_tok_t t = e->tok[(*pos)++];
    if (kp_tok_is_var(t)) {
        fmpq_set(out, vars + kp_tok_var(t));
        return 1;
    }
    if (t == KP_TOK_CONST) {
        const kp_const_t *c = &e->c[(*kc)++];
        fmpq_set_si(out, c->num, (ulong)c->den);
        return 1;
    }
    fmpq_t a, b;
    fmpq_init(a);
    fmpq_init(b);
    int ok = q_eval(a, e, pos, kc, vars);
    if (kp_op_table[t].arity == 2)
        ok &= q_eval(b, e, pos, kc, vars);
    if (ok) {
        switch (t) {
        case KP_OP_ADD: fmpq_add(out, a, b); break;
        case KP_OP_SUB: fmpq_sub(out, a, b); break;
        case KP_OP_MUL: fmpq_mul(out, a, b); break;
        case KP_OP_DIV:
            if ((ok = !fmpq_is_zero(b)))
                fmpq_div(out, a, b);
            break;
        case KP_OP_POW:
            if ((ok = !(fmpq_is_zero(a) && fmpq_sgn(b) < 0)))
                fmpq_pow_si(out, a, fmpz_get_si(fmpq_numref(b)));
            break;
        case KP_OP_NEG: fmpq_neg(out, a); break;
        case KP_OP_ABS: fmpq_abs(out, a); break;
        default: cr_assert_fail("op %d", t);
        }
    }
    fmpq_clear(a);
    fmpq_clear(b);
    return ok;
}

Test(exact, random_rational_expressions_match_fmpq_oracle)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    kp_exact_t r;
    fmpq vars[2];
    fmpq_t w;
    kp_exact_init(&r);
    fmpq_init(w);
    fmpq_init(vars + 0);
    fmpq_init(vars + 1);
    long undefined = 0, n = 2000 * kp_test_multiplier();
    for (long it = 0; it < n; it++) {
        kp_expr_t e;
        memset(&e, 0, sizeof e);
        gen_rational(&e, &rng, 1 + (int)kp_rng_below(&rng, 6));
        fix_sizes(&e);
        fmpq_set_si(vars + 0, (slong)kp_rng_below(&rng, 41) - 20,
                    1 + kp_rng_below(&rng, 9));
        fmpq_set_si(vars + 1, (slong)kp_rng_below(&rng, 41) - 20,
                    1 + kp_rng_below(&rng, 9));
        cr_assert_eq(kp_exact_eval(&r, &e, vars, 2, 64, NULL), KP_OK);
        int pos = 0, kc = 0;
        int ok = q_eval(w, &e, &pos, &kc, vars);
        cr_assert_eq(pos, e.len);
        char buf[512];
        kp_exact_print(buf, sizeof buf, &r, 10);
        if (!ok) {
            undefined++;
            cr_assert_eq(r.kind, KP_EXACT_UNDEFINED,
                         "seed %llu iter %ld: got %s, want undefined",
                         (unsigned long long)kp_test_seed(), it, buf);
        } else {
            cr_assert_eq(r.kind, KP_EXACT_RATIONAL,
                         "seed %llu iter %ld: got %s",
                         (unsigned long long)kp_test_seed(), it, buf);
            cr_assert(fmpq_equal(r.q, w), "seed %llu iter %ld: got %s",
                      (unsigned long long)kp_test_seed(), it, buf);
        }
    }
    cr_assert(undefined > 0 && undefined < n / 2, "%ld undefined", undefined);
    kp_exact_clear(&r);
    fmpq_clear(w);
    fmpq_clear(vars + 0);
    fmpq_clear(vars + 1);
}

static void gen_mixed(kp_expr_t *e, kp_rng_t *rng, int depth)
{
    int leaf = depth <= 0 || kp_rng_below(rng, 4) == 0;
    if (leaf) {
        switch (kp_rng_below(rng, 5)) {
        case 0:
            push_tok(e, KP_TOK_VAR + (int)kp_rng_below(rng, 2));
            break;
        case 1:
            push_free(e, 6 * kp_rng_uniform(rng) - 3);
            break;
        case 2:
            push_tok(e, kp_rng_below(rng, 2) ? KP_OP_PI : KP_OP_E);
            break;
        default: {
            int64_t p = (int64_t)kp_rng_below(rng, 13) - 6;
            int64_t q = 1 + (int64_t)kp_rng_below(rng, 4);
            int64_t g = 1;
            for (int64_t d = 2; d <= q; d++)
                if (p % d == 0 && q % d == 0)
                    g = d;
            push_exact(e, p / g, q / g);
        }
        }
        return;
    }
    int op;
    do
        op = (int)kp_rng_below(rng, KP_OP_PI);
    while (op == KP_OP_EXP && kp_rng_below(rng, 2)); /* fewer towers */
    push_tok(e, op);
    for (int j = 0; j < kp_op_table[op].arity; j++)
        gen_mixed(e, rng, depth - 1);
}

/* Recursive 2000-bit MPFR oracle; returns 0 when some step is outside its
   domain (NaN or an infinity from a pole), propagating like kp_exact. */
static int mp_eval(mpfr_t out, const kp_expr_t *e, int *pos, int *kc,
                   const fmpq *vars)
{
    kp_tok_t t = e->tok[(*pos)++];
    mpq_t m;
    if (kp_tok_is_var(t) || t == KP_TOK_CONST) {
        fmpq_t v;
        fmpq_init(v);
        if (kp_tok_is_var(t))
            fmpq_set(v, vars + kp_tok_var(t));
        else if (e->c[*kc].den == 0)
            kp_exact_fmpq_from_double(v, e->c[(*kc)++].value);
        else {
            fmpq_set_si(v, e->c[*kc].num, (ulong)e->c[*kc].den);
            (*kc)++;
        }
        mpq_init(m);
        fmpq_get_mpq(m, v);
        mpfr_set_q(out, m, MPFR_RNDN);
        mpq_clear(m);
        fmpq_clear(v);
        return 1;
    }
    if (t == KP_OP_PI) {
        mpfr_const_pi(out, MPFR_RNDN);
        return 1;
    }
    if (t == KP_OP_E) {
        mpfr_set_ui(out, 1, MPFR_RNDN);
        mpfr_exp(out, out, MPFR_RNDN);
        return 1;
    }
    mpfr_t a, b;
    mpfr_init2(a, mpfr_get_prec(out));
    mpfr_init2(b, mpfr_get_prec(out));
    int ok = mp_eval(a, e, pos, kc, vars);
    if (kp_op_table[t].arity == 2)
        ok &= mp_eval(b, e, pos, kc, vars);
    if (ok) {
        switch (t) {
        case KP_OP_ADD: mpfr_add(out, a, b, MPFR_RNDN); break;
        case KP_OP_SUB: mpfr_sub(out, a, b, MPFR_RNDN); break;
        case KP_OP_MUL: mpfr_mul(out, a, b, MPFR_RNDN); break;
        case KP_OP_DIV: mpfr_div(out, a, b, MPFR_RNDN); break;
        case KP_OP_POW: mpfr_pow(out, a, b, MPFR_RNDN); break;
        case KP_OP_NEG: mpfr_neg(out, a, MPFR_RNDN); break;
        case KP_OP_SQRT: mpfr_sqrt(out, a, MPFR_RNDN); break;
        case KP_OP_EXP: mpfr_exp(out, a, MPFR_RNDN); break;
        case KP_OP_LOG: mpfr_log(out, a, MPFR_RNDN); break;
        case KP_OP_SIN: mpfr_sin(out, a, MPFR_RNDN); break;
        case KP_OP_COS: mpfr_cos(out, a, MPFR_RNDN); break;
        case KP_OP_TAN: mpfr_tan(out, a, MPFR_RNDN); break;
        case KP_OP_ASIN: mpfr_asin(out, a, MPFR_RNDN); break;
        case KP_OP_ACOS: mpfr_acos(out, a, MPFR_RNDN); break;
        case KP_OP_ATAN: mpfr_atan(out, a, MPFR_RNDN); break;
        case KP_OP_SINH: mpfr_sinh(out, a, MPFR_RNDN); break;
        case KP_OP_COSH: mpfr_cosh(out, a, MPFR_RNDN); break;
        case KP_OP_TANH: mpfr_tanh(out, a, MPFR_RNDN); break;
        case KP_OP_ABS: mpfr_abs(out, a, MPFR_RNDN); break;
        default: cr_assert_fail("op %d", t);
        }
        ok = mpfr_number_p(out);
    }
    mpfr_clear(a);
    mpfr_clear(b);
    return ok;
}

/* Double evaluation with kp_op_apply; with pert > 0 every intermediate is
   also scaled by 1 +- pert, to estimate the conditioning. */
static double d_eval(const kp_expr_t *e, int *pos, int *kc, const double *x,
                     double pert, kp_rng_t *rng)
{
    kp_tok_t t = e->tok[(*pos)++];
    double v;
    if (kp_tok_is_var(t))
        v = x[kp_tok_var(t)];
    else if (t == KP_TOK_CONST)
        v = e->c[(*kc)++].value;
    else {
        double a = 0, b = 0;
        if (kp_op_table[t].arity >= 1)
            a = d_eval(e, pos, kc, x, pert, rng);
        if (kp_op_table[t].arity == 2)
            b = d_eval(e, pos, kc, x, pert, rng);
        v = kp_op_apply(t, a, b);
        if (pert > 0)
            v *= 1 + (kp_rng_below(rng, 2) ? pert : -pert);
    }
    return v;
}

Test(exact, random_mixed_expressions_match_mpfr_and_double)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    kp_rng_split(&rng, &rng, 2);
    kp_exact_t lo, hi;
    fmpq vars[2];
    fmpq_t dq, tol;
    mpfr_t mp, d;
    kp_exact_init(&lo);
    kp_exact_init(&hi);
    fmpq_init(vars + 0);
    fmpq_init(vars + 1);
    fmpq_init(dq);
    fmpq_init(tol);
    mpfr_init2(mp, 2000);
    mpfr_init2(d, 2000);
    long n = 1000 * kp_test_multiplier();
    long balls = 0, unknown = 0, undefined = 0, dchecked = 0;
    for (long it = 0; it < n; it++) {
        kp_expr_t e;
        memset(&e, 0, sizeof e);
        gen_mixed(&e, &rng, 1 + (int)kp_rng_below(&rng, 4));
        fix_sizes(&e);
        double x[2];
        for (int j = 0; j < 2; j++) {
            x[j] = 8 * kp_rng_uniform(&rng) - 4;
            kp_exact_fmpq_from_double(vars + j, x[j]);
        }
        cr_assert_eq(kp_exact_eval(&lo, &e, vars, 2, 128, NULL), KP_OK);
        cr_assert_eq(kp_exact_eval(&hi, &e, vars, 2, 1024, NULL), KP_OK);
        char buf[512], ebuf[1024] = "";
        for (int i = 0; i < e.len; i++) {
            char tb[40];
            kp_tok_t t = e.tok[i];
            if (kp_tok_is_var(t))
                snprintf(tb, sizeof tb, " x%d", kp_tok_var(t));
            else if (t == KP_TOK_CONST)
                snprintf(tb, sizeof tb, " c");
            else
                snprintf(tb, sizeof tb, " %s", kp_op_table[t].name);
            strncat(ebuf, tb, sizeof ebuf - strlen(ebuf) - 1);
        }
        kp_exact_print(buf, sizeof buf, &lo, 20);
#define WHERE "seed %llu iter %ld: %s gave %s", \
              (unsigned long long)kp_test_seed(), it, ebuf, buf

        /* the two precisions agree wherever both decide */
        int dl = lo.kind != KP_EXACT_UNKNOWN, dh = hi.kind != KP_EXACT_UNKNOWN;
        if (dl && dh) {
            cr_assert_eq(lo.kind == KP_EXACT_UNDEFINED,
                         hi.kind == KP_EXACT_UNDEFINED, WHERE);
            if (lo.kind == KP_EXACT_BALL && hi.kind == KP_EXACT_BALL)
                cr_assert(arb_contains(lo.b, hi.b), WHERE);
            else if (lo.kind == KP_EXACT_BALL && hi.kind == KP_EXACT_RATIONAL)
                cr_assert(arb_contains_fmpq(lo.b, hi.q), WHERE);
            else if (lo.kind == KP_EXACT_RATIONAL)
                cr_assert(kp_exact_contains_fmpq(&hi, lo.q), WHERE);
        }

        /* MPFR oracle, skipped when MPFR over- or underflows */
        mpfr_clear_flags();
        int pos = 0, kc = 0;
        int ok = mp_eval(mp, &e, &pos, &kc, vars);
        if (mpfr_overflow_p() || mpfr_underflow_p())
            continue;
        if (lo.kind == KP_EXACT_UNDEFINED) {
            undefined++;
            cr_assert(!ok, WHERE);
        } else if (lo.kind == KP_EXACT_UNKNOWN) {
            unknown++;
        } else {
            cr_assert(ok, WHERE);
            if (lo.kind == KP_EXACT_BALL) {
                balls++;
                cr_assert(arb_contains_mpfr(lo.b, mp), WHERE);
            } else {
                mpq_t m;
                mpq_init(m);
                fmpq_get_mpq(m, lo.q);
                mpfr_sub_q(d, mp, m, MPFR_RNDN);
                mpq_clear(m);
                mpfr_abs(d, d, MPFR_RNDN);
                double mag = fmax(1, fabs(fmpq_get_d(lo.q)));
                cr_assert(mpfr_cmp_d(d, ldexp(mag, -1000)) <= 0, WHERE);
            }
        }

        /* double evaluation within its float error, if well-conditioned */
        if (lo.kind != KP_EXACT_BALL && lo.kind != KP_EXACT_RATIONAL)
            continue;
        pos = kc = 0;
        double v = d_eval(&e, &pos, &kc, x, 0, NULL);
        if (!isfinite(v) || fabs(v) > 1e300)
            continue;
        int conditioned = 1;
        for (int k = 0; k < 3 && conditioned; k++) {
            pos = kc = 0;
            double w = d_eval(&e, &pos, &kc, x, 1e-11, &rng);
            conditioned = fabs(w - v) <= 1e-8 * fmax(1, fabs(v));
        }
        if (!conditioned)
            continue;
        dchecked++;
        kp_exact_fmpq_from_double(dq, v);
        kp_exact_fmpq_from_double(tol, 1e-7 * fmax(1, fabs(v)));
        cr_assert_eq(kp_exact_abs_diff_le(&lo, dq, tol), KP_EXACT_YES,
                     WHERE);
#undef WHERE
    }
    if (getenv("KP_EXACT_STATS"))
        fprintf(stderr, "balls %ld unknown %ld undefined %ld dchecked %ld of %ld\n",
                balls, unknown, undefined, dchecked, n);
    cr_assert(balls > n / 4, "%ld balls of %ld", balls, n);
    cr_assert(dchecked > n / 4, "%ld double checks of %ld", dchecked, n);
    cr_assert(undefined > 0);
    cr_assert(unknown < n / 10, "%ld unknown of %ld", unknown, n);
    kp_exact_clear(&lo);
    kp_exact_clear(&hi);
    fmpq_clear(vars + 0);
    fmpq_clear(vars + 1);
    fmpq_clear(dq);
    fmpq_clear(tol);
    mpfr_clear(mp);
    mpfr_clear(d);
}
