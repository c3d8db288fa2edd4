/* t-build.c: building, checking, slicing, equality and hashing of
   expressions. Also defines the random-expression helpers the other
   tests/expr files share (they are linked into one binary). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "kp_expr.h"
#include "../kp_test.h"

/* ---- shared helpers (declared again in t-simplify.c and t-print.c) ---- */

/* Appends a random subtree of at most budget tokens. kinds: bit 0 exact
   constants, bit 1 free constants, bit 2 pi and E. */
static int gen(kp_expr_t *e, kp_rng_t *rng, int budget, int depth, int nvars,
               int kinds)
{
    int r = (int)kp_rng_below(rng, 100);
    if (budget >= 3 && depth < 8 && r < 48) {
        static const int bin[] = {KP_OP_ADD, KP_OP_SUB, KP_OP_MUL, KP_OP_DIV,
                                  KP_OP_POW};
        kp_expr_push_op(e, bin[kp_rng_below(rng, 5)]);
        int used = 1 + gen(e, rng, (budget - 1) / 2, depth + 1, nvars, kinds);
        return used + gen(e, rng, budget - used, depth + 1, nvars, kinds);
    }
    if (budget >= 2 && depth < 8 && r < 62) {
        kp_expr_push_op(e, KP_OP_NEG + (int)kp_rng_below(rng, 14));
        return 1 + gen(e, rng, budget - 1, depth + 1, nvars, kinds);
    }
    r = (int)kp_rng_below(rng, 10);
    if (r < 3 && (kinds & 1) && e->nconst < KP_EXPR_MAX_CONSTS) {
        kp_expr_push_rational(e, (int64_t)kp_rng_below(rng, 9) - 4,
                              1 + (int64_t)kp_rng_below(rng, 3));
    } else if (r < 5 && (kinds & 2) && e->nconst < KP_EXPR_MAX_CONSTS) {
        double v = 0.25 + 4 * kp_rng_uniform(rng);
        kp_expr_push_const(e, kp_rng_below(rng, 2) ? v : -v);
    } else if (r < 6 && (kinds & 4)) {
        kp_expr_push_op(e, kp_rng_below(rng, 2) ? KP_OP_PI : KP_OP_E);
    } else {
        kp_expr_push_var(e, (int)kp_rng_below(rng, (uint64_t)nvars));
    }
    return 1;
}

void kpt_random_expr(kp_expr_t *e, kp_rng_t *rng, int maxlen, int nvars,
                     int kinds)
{
    kp_expr_init(e);
    gen(e, rng, maxlen, 0, nvars, kinds);
    cr_assert_eq(kp_expr_finish(e, NULL), KP_OK);
}

static double ev(const kp_expr_t *e, int *pos, int *ci, const double *x,
                 double *scale)
{
    kp_tok_t t = e->tok[(*pos)++];
    double v;
    if (t == KP_TOK_CONST) {
        v = e->c[(*ci)++].value;
    } else if (kp_tok_is_var(t)) {
        v = x[kp_tok_var(t)];
    } else {
        int ar = kp_op_table[t].arity;
        double a = ar > 0 ? ev(e, pos, ci, x, scale) : 0;
        double b = ar > 1 ? ev(e, pos, ci, x, scale) : 0;
        v = kp_op_apply(t, a, b);
    }
    if (scale != NULL && fabs(v) > *scale)
        *scale = fabs(v);
    return v;
}

/* Value at x with kp_op_apply; *scale (if not NULL) gets the largest
   magnitude of any intermediate value, a bound on rounding errors. */
double kpt_eval(const kp_expr_t *e, const double *x, double *scale)
{
    int pos = 0, ci = 0;
    if (scale != NULL)
        *scale = 0;
    return ev(e, &pos, &ci, x, scale);
}

/* ---- tests ---------------------------------------------------------- */

/* x0 + 2 * x1 built by hand. */
static void build_sample(kp_expr_t *e)
{
    kp_expr_init(e);
    cr_assert_eq(kp_expr_push_op(e, KP_OP_ADD), KP_OK);
    cr_assert_eq(kp_expr_push_var(e, 0), KP_OK);
    cr_assert_eq(kp_expr_push_op(e, KP_OP_MUL), KP_OK);
    cr_assert_eq(kp_expr_push_rational(e, 4, 2), KP_OK);
    cr_assert_eq(kp_expr_push_var(e, 1), KP_OK);
    cr_assert_eq(kp_expr_finish(e, NULL), KP_OK);
}

Test(expr, build_sizes_depth_and_counts)
{
    kp_expr_t e;
    build_sample(&e);
    static const uint16_t size[] = {5, 1, 3, 1, 1};
    cr_assert_eq(e.len, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(e.size[i], size[i], "size[%d]", i);
    cr_assert_eq(e.nconst, 1);
    cr_assert_eq(e.c[0].num, 2);
    cr_assert_eq(e.c[0].den, 1);
    cr_assert_eq(e.c[0].value, 2.0);
    cr_assert_eq(kp_expr_depth(&e), 3);
    cr_assert_eq(kp_expr_nvars(&e), 2);
    cr_assert_eq(kp_expr_nfree(&e), 0);
    cr_assert_eq(kp_expr_const_index(&e, 3), 0);
    cr_assert_eq(kp_expr_const_index(&e, 5), 1);
    cr_assert_eq(kp_expr_check(&e, NULL), KP_OK);

    kp_expr_init(&e);
    kp_expr_push_const(&e, 1.5);
    cr_assert_eq(kp_expr_finish(&e, NULL), KP_OK);
    cr_assert_eq(kp_expr_nfree(&e), 1);
    cr_assert_eq(kp_expr_nvars(&e), 0);
    cr_assert_eq(kp_expr_depth(&e), 1);
}

Test(expr, finish_and_check_reject_bad_arrays)
{
    kp_expr_t e;
    kp_error_t err;

    kp_expr_init(&e);
    cr_assert_eq(kp_expr_finish(&e, NULL), KP_EINPUT, "empty");
    kp_expr_push_op(&e, KP_OP_ADD);
    kp_expr_push_var(&e, 0);
    kp_error_init(&err);
    cr_assert_eq(kp_expr_finish(&e, &err), KP_EINPUT, "incomplete");
    cr_assert(strstr(err.msg, "incomplete") != NULL, "%s", err.msg);
    kp_expr_push_var(&e, 0);
    kp_expr_push_var(&e, 1);
    cr_assert_eq(kp_expr_finish(&e, NULL), KP_EINPUT, "trailing token");

    build_sample(&e);
    kp_expr_t bad = e;
    bad.size[2] = 2;
    cr_assert_eq(kp_expr_check(&bad, NULL), KP_EINTERNAL);
    bad = e;
    bad.nconst = 2;
    cr_assert_eq(kp_expr_check(&bad, NULL), KP_EINTERNAL);
    bad = e;
    bad.c[0].num = 4;
    bad.c[0].den = 2;
    cr_assert_eq(kp_expr_check(&bad, &err), KP_EINTERNAL);
    cr_assert(strstr(err.msg, "lowest") != NULL, "%s", err.msg);
    bad = e;
    bad.tok[1] = KP_TOK_CONST - 1;
    cr_assert_eq(kp_expr_check(&bad, NULL), KP_EINTERNAL);
}

Test(expr, push_limits_and_rational_normalisation)
{
    kp_expr_t e;
    kp_expr_init(&e);
    for (int i = 0; i < KP_EXPR_MAX_LEN; i++)
        cr_assert_eq(kp_expr_push_var(&e, 0), KP_OK);
    cr_assert_eq(kp_expr_push_var(&e, 0), KP_EINPUT);
    cr_assert_eq(kp_expr_push_op(&e, KP_OP_ADD), KP_EINPUT);

    kp_expr_init(&e);
    for (int i = 0; i < KP_EXPR_MAX_CONSTS; i++)
        cr_assert_eq(kp_expr_push_const(&e, i), KP_OK);
    cr_assert_eq(kp_expr_push_rational(&e, 1, 2), KP_EINPUT);
    cr_assert_eq(e.len, KP_EXPR_MAX_CONSTS);

    kp_expr_init(&e);
    cr_assert_eq(kp_expr_push_op(&e, KP_OP_COUNT), KP_EINPUT);
    cr_assert_eq(kp_expr_push_op(&e, -1), KP_EINPUT);
    cr_assert_eq(kp_expr_push_var(&e, KP_MAX_VARS), KP_EINPUT);
    cr_assert_eq(kp_expr_push_rational(&e, 1, 0), KP_EINPUT);
    cr_assert_eq(kp_expr_push_rational(&e, INT64_MIN, -1), KP_EINPUT);
    cr_assert_eq(e.len, 0);

    cr_assert_eq(kp_expr_push_rational(&e, 6, -4), KP_OK);
    cr_assert_eq(e.c[0].num, -3);
    cr_assert_eq(e.c[0].den, 2);
    cr_assert_eq(e.c[0].value, -1.5);
    cr_assert_eq(kp_expr_push_rational(&e, 0, -7), KP_OK);
    cr_assert_eq(e.c[1].num, 0);
    cr_assert_eq(e.c[1].den, 1);
    /* Above 2^53 the value must still be the nearest double: 2^62 + 1 over
       3 is 1537228672809129301.67, whose nearest double is
       1537228672809129216 (ulp 256). */
    cr_assert_eq(kp_expr_push_rational(&e, ((int64_t)1 << 62) + 1, 3), KP_OK);
    cr_assert_eq(e.c[2].value, 1537228672809129216.0, "%.17g", e.c[2].value);
    /* 2^53 + 1 is a tie: round to even. */
    cr_assert_eq(kp_expr_push_rational(&e, ((int64_t)1 << 53) + 1, 1), KP_OK);
    cr_assert_eq(e.c[3].value, 9007199254740992.0);
}

static void check_replace(const kp_expr_t *a, int pos, const kp_expr_t *src,
                          int sp, const kp_expr_t *r)
{
    int al = a->size[pos], sl = src->size[sp];
    cr_assert_eq(r->len, a->len - al + sl);
    cr_assert_eq(kp_expr_check(r, NULL), KP_OK);
    cr_assert(memcmp(r->tok, a->tok, pos * sizeof(kp_tok_t)) == 0);
    cr_assert(memcmp(r->tok + pos, src->tok + sp, sl * sizeof(kp_tok_t)) == 0);
    cr_assert(memcmp(r->tok + pos + sl, a->tok + pos + al,
                     (a->len - pos - al) * sizeof(kp_tok_t)) == 0);
    int ca = kp_expr_const_index(a, pos), cs = kp_expr_const_index(src, sp);
    int ns = kp_expr_const_index(src, sp + sl) - cs;
    int na = kp_expr_const_index(a, pos + al) - ca;
    cr_assert_eq(r->nconst, a->nconst - na + ns);
    for (int k = 0; k < r->nconst; k++) {
        const kp_const_t *want =
            k < ca ? &a->c[k] : k < ca + ns ? &src->c[cs + k - ca]
                                            : &a->c[k - ns + na];
        cr_assert(memcmp(&r->c[k], want, sizeof *want) == 0, "const %d", k);
    }
}

Test(expr, replace_subtree_and_subtree_with_aliasing)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    long iters = 300 * kp_test_multiplier();
    for (long it = 0; it < iters; it++) {
        kp_expr_t a, src, r, r2;
        kpt_random_expr(&a, &rng, 1 + (int)kp_rng_below(&rng, 60), 3, 7);
        kpt_random_expr(&src, &rng, 1 + (int)kp_rng_below(&rng, 60), 3, 7);
        int pos = (int)kp_rng_below(&rng, (uint64_t)a.len);
        int sp = (int)kp_rng_below(&rng, (uint64_t)src.len);

        cr_assert_eq(kp_expr_replace_subtree(&r, &a, pos, &src, sp), KP_OK);
        check_replace(&a, pos, &src, sp, &r);
        r2 = a;
        cr_assert_eq(kp_expr_replace_subtree(&r2, &r2, pos, &src, sp), KP_OK);
        cr_assert(kp_expr_equal(&r2, &r), "alias r = a, iter %ld", it);
        r2 = src;
        cr_assert_eq(kp_expr_replace_subtree(&r2, &a, pos, &r2, sp), KP_OK);
        cr_assert(kp_expr_equal(&r2, &r), "alias r = src, iter %ld", it);
        r2 = a;
        cr_assert_eq(kp_expr_replace_subtree(&r2, &r2, pos, &r2, 0), KP_OK);
        cr_assert_eq(kp_expr_check(&r2, NULL), KP_OK);

        cr_assert_eq(kp_expr_subtree(&r, &a, pos), KP_OK);
        cr_assert_eq(r.len, a.size[pos]);
        cr_assert_eq(kp_expr_check(&r, NULL), KP_OK);
        cr_assert(memcmp(r.tok, a.tok + pos, r.len * sizeof(kp_tok_t)) == 0);
        int c0 = kp_expr_const_index(&a, pos);
        cr_assert(memcmp(r.c, a.c + c0, r.nconst * sizeof(kp_const_t)) == 0);
        r2 = a;
        cr_assert_eq(kp_expr_subtree(&r2, &r2, pos), KP_OK);
        cr_assert(kp_expr_equal(&r2, &r), "subtree alias, iter %ld", it);
        cr_assert_leq(kp_expr_depth(&r), kp_expr_depth(&a));
    }
}

Test(expr, replace_subtree_refuses_overflow_without_change)
{
    kp_expr_t a, big, r;
    kp_expr_init(&big);
    for (int i = 0; i < 100; i++)
        kp_expr_push_op(&big, KP_OP_NEG);
    kp_expr_push_const(&big, 1.0);
    cr_assert_eq(kp_expr_finish(&big, NULL), KP_OK);
    kp_expr_init(&a);
    for (int i = 0; i < 200; i++)
        kp_expr_push_op(&a, KP_OP_SIN);
    kp_expr_push_var(&a, 0);
    cr_assert_eq(kp_expr_finish(&a, NULL), KP_OK);
    r = a;
    cr_assert_eq(kp_expr_replace_subtree(&r, &a, 200, &big, 0), KP_EINPUT);
    cr_assert(kp_expr_equal(&r, &a));
    cr_assert_eq(kp_expr_replace_subtree(&r, &a, 200, &big, 90), KP_OK);
    cr_assert_eq(r.len, 211);
    cr_assert_eq(kp_expr_replace_subtree(&r, &a, a.len, &big, 0), KP_EINPUT);
    cr_assert_eq(kp_expr_subtree(&r, &a, -1), KP_EINPUT);
}

Test(expr, equal_and_hash)
{
    kp_expr_t a, b;
    build_sample(&a);
    b = a;
    cr_assert(kp_expr_equal(&a, &b));
    cr_assert_eq(kp_expr_hash(&a), kp_expr_hash(&b));

    /* Exact constants: part of the hash. */
    b.c[0].num = 3;
    b.c[0].value = 3;
    cr_assert(!kp_expr_equal(&a, &b));
    cr_assert_neq(kp_expr_hash(&a), kp_expr_hash(&b));

    /* Free constants: all hash alike, but are compared by value. */
    b = a;
    b.c[0] = (kp_const_t){2.0, 0, 0};
    cr_assert(!kp_expr_equal(&a, &b), "exact 2 vs free 2");
    cr_assert_neq(kp_expr_hash(&a), kp_expr_hash(&b));
    kp_expr_t f = b;
    f.c[0].value = -17.25;
    cr_assert(!kp_expr_equal(&f, &b));
    cr_assert_eq(kp_expr_hash(&f), kp_expr_hash(&b));
    f.c[0].value = NAN;
    b.c[0].value = NAN;
    cr_assert(kp_expr_equal(&f, &b));

    b = a;
    b.tok[1] = KP_TOK_VAR + 1;
    cr_assert(!kp_expr_equal(&a, &b));
    cr_assert_neq(kp_expr_hash(&a), kp_expr_hash(&b));

    /* Random distinct shapes do not collide. */
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (int it = 0; it < 500; it++) {
        kpt_random_expr(&a, &rng, 1 + (int)kp_rng_below(&rng, 30), 2, 5);
        kpt_random_expr(&b, &rng, 1 + (int)kp_rng_below(&rng, 30), 2, 5);
        if (!kp_expr_equal(&a, &b))
            cr_assert_neq(kp_expr_hash(&a), kp_expr_hash(&b), "iter %d", it);
        else
            cr_assert_eq(kp_expr_hash(&a), kp_expr_hash(&b));
    }
}

Test(expr, random_expressions_pass_check)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (int it = 0; it < 500; it++) {
        kp_expr_t e;
        kpt_random_expr(&e, &rng, 1 + (int)kp_rng_below(&rng, 200), 4, 7);
        cr_assert_eq(kp_expr_check(&e, NULL), KP_OK);
        cr_assert_leq(kp_expr_depth(&e), e.len);
        cr_assert_leq(kp_expr_nvars(&e), 4);
        cr_assert_leq(kp_expr_nfree(&e), e.nconst);
        kp_expr_t t = e;
        memset(t.size, 0, sizeof t.size);
        kp_expr_update_sizes(&t);
        cr_assert(memcmp(t.size, e.size, e.len * sizeof(uint16_t)) == 0);
    }
}
