/* kp_exact.c: exact rational / rigorous ball evaluation of expressions, and
   the rigorous predicates later verdicts are built on (see kp_exact.h).

   Evaluation walks the prefix array backwards with a value stack, so it
   needs neither size[] nor recursion: a leaf pushes, an operator pops its
   operands (the left operand is on top, since it comes first in prefix
   order) and pushes its result. Every operator first settles the domain on
   exact data when it can (rationals), then on balls with Arb's all-points
   comparisons: "entirely outside the domain" is UNDEFINED, "entirely inside"
   is evaluated, anything else is UNKNOWN. */
#include "kp_exact.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flint/fmpz.h>

void kp_exact_init(kp_exact_t *r)
{
    r->kind = KP_EXACT_RATIONAL;
    fmpq_init(r->q);
    arb_init(r->b);
}

void kp_exact_clear(kp_exact_t *r)
{
    fmpq_clear(r->q);
    arb_clear(r->b);
}

void kp_exact_set(kp_exact_t *r, const kp_exact_t *a)
{
    if (r == a)
        return;
    r->kind = a->kind;
    fmpq_set(r->q, a->q);
    arb_set(r->b, a->b);
}

void kp_exact_swap(kp_exact_t *a, kp_exact_t *b)
{
    int k = a->kind;
    a->kind = b->kind;
    b->kind = k;
    fmpq_swap(a->q, b->q);
    arb_swap(a->b, b->b);
}

void kp_exact_set_fmpq(kp_exact_t *r, const fmpq_t q)
{
    r->kind = KP_EXACT_RATIONAL;
    fmpq_set(r->q, q);
}

void kp_exact_set_arb(kp_exact_t *r, const arb_t b)
{
    r->kind = KP_EXACT_BALL;
    arb_set(r->b, b);
}

void kp_exact_set_kind(kp_exact_t *r, int kind)
{
    r->kind = kind;
}

static void set_si(kp_exact_t *r, slong v)
{
    r->kind = KP_EXACT_RATIONAL;
    fmpq_set_si(r->q, v, 1);
}

static flint_bitcnt_t rat_bits(const fmpq_t q)
{
    return fmpz_bits(fmpq_numref(q)) + fmpz_bits(fmpq_denref(q));
}

/* Applies the size cap to a fresh rational result. */
static void rat_done(kp_exact_t *r, slong prec)
{
    if (rat_bits(r->q) > KP_EXACT_MAX_BITS) {
        arb_set_fmpq(r->b, r->q, prec);
        r->kind = KP_EXACT_BALL;
    }
}

/* Settles a fresh ball result: a non-finite ball says nothing (overflow or
   an indeterminate Arb result near a pole or boundary), and a zero-radius
   ball proves its midpoint is the value, which is then kept exactly. */
static void ball_done(kp_exact_t *r)
{
    if (!arb_is_finite(r->b)) {
        r->kind = KP_EXACT_UNKNOWN;
        return;
    }
    r->kind = KP_EXACT_BALL;
    if (arb_is_exact(r->b)) {
        fmpz_t man, exp;
        fmpz_init(man);
        fmpz_init(exp);
        arf_get_fmpz_2exp(man, exp, arb_midref(r->b));
        if (fmpz_bits(exp) < 20 &&
            fmpz_bits(man) + (flint_bitcnt_t)labs(fmpz_get_si(exp)) <=
                KP_EXACT_MAX_BITS) {
            slong e = fmpz_get_si(exp);
            fmpz_one(exp);
            fmpq_set_fmpz_frac(r->q, man, exp);
            if (e >= 0)
                fmpq_mul_2exp(r->q, r->q, (flint_bitcnt_t)e);
            else
                fmpq_div_2exp(r->q, r->q, (flint_bitcnt_t)-e);
            r->kind = KP_EXACT_RATIONAL;
        }
        fmpz_clear(man);
        fmpz_clear(exp);
    }
}

/* An enclosure of a defined operand (RATIONAL or BALL). */
static void get_arb(arb_t out, const kp_exact_t *x, slong prec)
{
    if (x->kind == KP_EXACT_RATIONAL)
        arb_set_fmpq(out, x->q, prec);
    else
        arb_set(out, x->b);
}

/* Exact comparison of a finite arf with a rational. */
static int arf_cmp_fmpq(const arf_t x, const fmpq_t q)
{
    arf_t t, u;
    arf_init(t);
    arf_init(u);
    arf_mul_fmpz(t, x, fmpq_denref(q), ARF_PREC_EXACT, ARF_RND_DOWN);
    arf_set_fmpz(u, fmpq_numref(q));
    int c = arf_cmp(t, u);
    arf_clear(t);
    arf_clear(u);
    return c;
}

/* 0 only when the finite ball y provably contains no integer; used to decide
   (negative base) ** (ball exponent). Conservative for huge or wide balls. */
static int ball_may_contain_int(const arb_t y)
{
    if (!arb_is_finite(y) || arf_cmpabs_2exp_si(arb_midref(y), 62) > 0 ||
        mag_cmp_2exp_si(arb_radref(y), 0) >= 0)
        return 1;
    arf_t lo, hi, c;
    fmpz_t z;
    arf_init(lo);
    arf_init(hi);
    arf_init(c);
    fmpz_init(z);
    slong p = arb_bits(y) + 64;
    arb_get_lbound_arf(lo, y, p);
    arb_get_ubound_arf(hi, y, p);
    arf_get_fmpz(z, lo, ARF_RND_CEIL);
    arf_set_fmpz(c, z);
    int may = arf_cmp(c, hi) <= 0;
    arf_clear(lo);
    arf_clear(hi);
    arf_clear(c);
    fmpz_clear(z);
    return may;
}

/* x ** n for rational x and integer n, exact unless the cap forces a ball. */
static void pow_rat_int(kp_exact_t *r, const fmpq_t x, const fmpz_t n,
                        slong prec)
{
    if (fmpz_is_zero(n) || fmpq_is_one(x)) {
        set_si(r, 1);
        return;
    }
    if (fmpq_is_zero(x)) {
        if (fmpz_sgn(n) < 0)
            r->kind = KP_EXACT_UNDEFINED;
        else
            set_si(r, 0);
        return;
    }
    if (fmpz_is_pm1(fmpq_numref(x)) && fmpz_is_one(fmpq_denref(x))) {
        set_si(r, fmpz_is_odd(n) ? -1 : 1); /* x == -1 */
        return;
    }
    if (fmpz_bits(n) < 40) {
        slong e = fmpz_get_si(n);
        ulong ae = (ulong)(e < 0 ? -e : e);
        /* |e| * (bits - 2) underestimates the result's size by a factor
           of at most 3 (x != 0, +-1), and rat_done applies the exact cap */
        if (ae <= KP_EXACT_MAX_BITS &&
            ae * (rat_bits(x) - 2) <= KP_EXACT_MAX_BITS) {
            fmpq_pow_si(r->q, x, e);
            r->kind = KP_EXACT_RATIONAL;
            rat_done(r, prec);
            return;
        }
    }
    /* The relative error of x is multiplied by about |n|: widen the input
       (within reason: beyond 2**128 the value is astronomically large or
       small anyway, and the ball just gets wider). */
    arb_t t;
    arb_init(t);
    arb_set_fmpq(t, x, prec + FLINT_MIN((slong)fmpz_bits(n), 128) + 8);
    arb_pow_fmpz(r->b, t, n, prec);
    arb_clear(t);
    ball_done(r);
}

/* x ** y for rationals x and y != 0 with y not an integer. */
static void pow_rat_frac(kp_exact_t *r, const fmpq_t x, const fmpq_t y,
                         slong prec)
{
    int s = fmpq_sgn(x);
    if (s < 0) {
        r->kind = KP_EXACT_UNDEFINED;
        return;
    }
    if (s == 0) {
        if (fmpq_sgn(y) > 0)
            set_si(r, 0);
        else
            r->kind = KP_EXACT_UNDEFINED;
        return;
    }
    if (fmpq_is_one(x)) {
        set_si(r, 1);
        return;
    }
    /* x**(p/q) is rational iff num and den of x are perfect q-th powers,
       impossible when q exceeds their bit lengths (x != 1). */
    const fmpz *q = fmpq_denref(y);
    flint_bitcnt_t maxbits = FLINT_MAX(fmpz_bits(fmpq_numref(x)),
                                       fmpz_bits(fmpq_denref(x)));
    if (fmpz_bits(q) < 40 && (flint_bitcnt_t)fmpz_get_si(q) <= maxbits) {
        slong qq = fmpz_get_si(q);
        fmpz_t a, b, t;
        fmpz_init(a);
        fmpz_init(b);
        fmpz_init(t);
        fmpz_root(a, fmpq_numref(x), qq);
        fmpz_root(b, fmpq_denref(x), qq);
        fmpz_pow_ui(t, a, (ulong)qq);
        int exact = fmpz_equal(t, fmpq_numref(x));
        if (exact) {
            fmpz_pow_ui(t, b, (ulong)qq);
            exact = fmpz_equal(t, fmpq_denref(x));
        }
        if (exact) {
            fmpq_t root;
            fmpq_init(root);
            fmpq_set_fmpz_frac(root, a, b);
            pow_rat_int(r, root, fmpq_numref(y), prec);
            fmpq_clear(root);
        }
        fmpz_clear(a);
        fmpz_clear(b);
        fmpz_clear(t);
        if (exact)
            return;
    }
    arb_t t;
    arb_init(t);
    slong extra = FLINT_MIN((slong)fmpz_bits(fmpq_numref(y)), 128);
    arb_set_fmpq(t, x, prec + extra + 8);
    arb_pow_fmpq(r->b, t, y, prec);
    arb_clear(t);
    ball_done(r);
}

/* r = a ** b for defined a, b (r must not alias them). */
static void op_pow(kp_exact_t *r, const kp_exact_t *a, const kp_exact_t *b,
                   slong prec)
{
    if (b->kind == KP_EXACT_RATIONAL) {
        const fmpq *y = b->q;
        if (fmpq_is_zero(y)) {
            set_si(r, 1); /* x**0 = 1 for every defined x, 0**0 included */
            return;
        }
        int integer = fmpz_is_one(fmpq_denref(y));
        if (a->kind == KP_EXACT_RATIONAL) {
            if (integer)
                pow_rat_int(r, a->q, fmpq_numref(y), prec);
            else
                pow_rat_frac(r, a->q, y, prec);
            return;
        }
        if (integer) {
            if (fmpz_sgn(fmpq_numref(y)) < 0 && arb_contains_zero(a->b)) {
                r->kind = KP_EXACT_UNKNOWN;
                return;
            }
            arb_pow_fmpz(r->b, a->b, fmpq_numref(y), prec);
        } else if (arb_is_positive(a->b) ||
                   (fmpq_sgn(y) > 0 && arb_is_nonnegative(a->b))) {
            arb_pow_fmpq(r->b, a->b, y, prec);
        } else {
            r->kind = arb_is_negative(a->b) ? KP_EXACT_UNDEFINED
                                            : KP_EXACT_UNKNOWN;
            return;
        }
        ball_done(r);
        return;
    }

    /* b is a ball: its value may or may not be an integer or zero. */
    if (a->kind == KP_EXACT_RATIONAL) {
        if (fmpq_is_one(a->q)) {
            set_si(r, 1);
            return;
        }
        if (fmpq_is_zero(a->q)) {
            if (arb_is_positive(b->b))
                set_si(r, 0);
            else
                r->kind = arb_is_negative(b->b) ? KP_EXACT_UNDEFINED
                                                : KP_EXACT_UNKNOWN;
            return;
        }
    }
    int sa = a->kind == KP_EXACT_RATIONAL ? fmpq_sgn(a->q)
             : arb_is_positive(a->b)      ? 1
             : arb_is_negative(a->b)      ? -1
                                          : 0;
    if (sa < 0) {
        r->kind = ball_may_contain_int(b->b) ? KP_EXACT_UNKNOWN
                                             : KP_EXACT_UNDEFINED;
        return;
    }
    if (sa == 0 && !(arb_is_nonnegative(a->b) && arb_is_positive(b->b))) {
        r->kind = KP_EXACT_UNKNOWN;
        return;
    }
    arb_t t;
    arb_init(t);
    get_arb(t, a, prec);
    arb_pow(r->b, t, b->b, prec);
    arb_clear(t);
    ball_done(r);
}

/* r = a op b for defined a, b (r must not alias them). */
static void op_binary(kp_exact_t *r, int op, const kp_exact_t *a,
                      const kp_exact_t *b, slong prec)
{
    if (op == KP_OP_POW) {
        op_pow(r, a, b, prec);
        return;
    }
    if (op == KP_OP_DIV) {
        if (b->kind == KP_EXACT_RATIONAL && fmpq_is_zero(b->q)) {
            r->kind = KP_EXACT_UNDEFINED;
            return;
        }
        if (b->kind == KP_EXACT_BALL && arb_contains_zero(b->b)) {
            r->kind = KP_EXACT_UNKNOWN;
            return;
        }
    }
    if (a->kind == KP_EXACT_RATIONAL && b->kind == KP_EXACT_RATIONAL) {
        switch (op) {
        case KP_OP_ADD:
            fmpq_add(r->q, a->q, b->q);
            break;
        case KP_OP_SUB:
            fmpq_sub(r->q, a->q, b->q);
            break;
        case KP_OP_MUL:
            fmpq_mul(r->q, a->q, b->q);
            break;
        default:
            fmpq_div(r->q, a->q, b->q);
            break;
        }
        r->kind = KP_EXACT_RATIONAL;
        rat_done(r, prec);
        return;
    }
    arb_t x, y;
    arb_init(x);
    arb_init(y);
    get_arb(x, a, prec);
    get_arb(y, b, prec);
    switch (op) {
    case KP_OP_ADD:
        arb_add(r->b, x, y, prec);
        break;
    case KP_OP_SUB:
        arb_sub(r->b, x, y, prec);
        break;
    case KP_OP_MUL:
        arb_mul(r->b, x, y, prec);
        break;
    default:
        arb_div(r->b, x, y, prec);
        break;
    }
    arb_clear(x);
    arb_clear(y);
    ball_done(r);
}

/* Exact value of a unary function at the rational x when it is rational or
   proved undefined: returns 1 with r set, or 0 when a ball is needed. */
static int unary_rat(kp_exact_t *r, int op, const fmpq_t x)
{
    int z = fmpq_is_zero(x);
    int cmp1 = fmpq_cmp_si(x, 1), cmpm1 = fmpq_cmp_si(x, -1);
    switch (op) {
    case KP_OP_NEG:
        fmpq_neg(r->q, x);
        r->kind = KP_EXACT_RATIONAL;
        return 1;
    case KP_OP_ABS:
        fmpq_abs(r->q, x);
        r->kind = KP_EXACT_RATIONAL;
        return 1;
    case KP_OP_SQRT:
        if (fmpq_sgn(x) < 0) {
            r->kind = KP_EXACT_UNDEFINED;
            return 1;
        }
        if (fmpz_is_square(fmpq_numref(x)) && fmpz_is_square(fmpq_denref(x))) {
            fmpz_sqrt(fmpq_numref(r->q), fmpq_numref(x));
            fmpz_sqrt(fmpq_denref(r->q), fmpq_denref(x));
            r->kind = KP_EXACT_RATIONAL;
            return 1;
        }
        return 0;
    case KP_OP_LOG:
        if (fmpq_sgn(x) <= 0) {
            r->kind = KP_EXACT_UNDEFINED;
            return 1;
        }
        if (cmp1 == 0) {
            set_si(r, 0);
            return 1;
        }
        return 0;
    case KP_OP_ASIN:
    case KP_OP_ACOS:
        if (cmp1 > 0 || cmpm1 < 0) {
            r->kind = KP_EXACT_UNDEFINED;
            return 1;
        }
        if (op == KP_OP_ASIN && z) {
            set_si(r, 0);
            return 1;
        }
        if (op == KP_OP_ACOS && cmp1 == 0) {
            set_si(r, 0);
            return 1;
        }
        return 0;
    case KP_OP_EXP:
    case KP_OP_COS:
    case KP_OP_COSH:
        if (z) {
            set_si(r, 1);
            return 1;
        }
        return 0;
    case KP_OP_SIN:
    case KP_OP_TAN:
    case KP_OP_ATAN:
    case KP_OP_SINH:
    case KP_OP_TANH:
        if (z) {
            set_si(r, 0);
            return 1;
        }
        return 0;
    default:
        return 0;
    }
}

/* r = op(a) for a defined a (r must not alias a). */
static void op_unary(kp_exact_t *r, int op, const kp_exact_t *a, slong prec)
{
    if (a->kind == KP_EXACT_RATIONAL && unary_rat(r, op, a->q))
        return;
    arb_t x;
    arb_init(x);
    get_arb(x, a, prec);
    /* Domain checks on the ball: all-points comparisons are rigorous. */
    int dom = 1; /* 1 inside, 0 undefined, -1 unknown */
    switch (op) {
    case KP_OP_SQRT:
        dom = arb_is_nonnegative(x) ? 1 : arb_is_negative(x) ? 0 : -1;
        break;
    case KP_OP_LOG:
        dom = arb_is_positive(x) ? 1 : arb_is_nonpositive(x) ? 0 : -1;
        break;
    case KP_OP_ASIN:
    case KP_OP_ACOS: {
        arb_t one, mone;
        arb_init(one);
        arb_init(mone);
        arb_one(one);
        arb_neg(mone, one);
        if (arb_le(x, one) && arb_ge(x, mone))
            dom = 1;
        else if (arb_gt(x, one) || arb_lt(x, mone))
            dom = 0;
        else
            dom = -1;
        arb_clear(one);
        arb_clear(mone);
        break;
    }
    default:
        break;
    }
    if (dom <= 0) {
        r->kind = dom == 0 ? KP_EXACT_UNDEFINED : KP_EXACT_UNKNOWN;
        arb_clear(x);
        return;
    }
    switch (op) {
    case KP_OP_NEG:
        arb_neg(r->b, x);
        break;
    case KP_OP_ABS:
        arb_abs(r->b, x);
        break;
    case KP_OP_SQRT:
        arb_sqrt(r->b, x, prec);
        break;
    case KP_OP_EXP:
        arb_exp(r->b, x, prec);
        break;
    case KP_OP_LOG:
        arb_log(r->b, x, prec);
        break;
    case KP_OP_SIN:
        arb_sin(r->b, x, prec);
        break;
    case KP_OP_COS:
        arb_cos(r->b, x, prec);
        break;
    case KP_OP_TAN:
        arb_tan(r->b, x, prec);
        break;
    case KP_OP_ASIN:
        arb_asin(r->b, x, prec);
        break;
    case KP_OP_ACOS:
        arb_acos(r->b, x, prec);
        break;
    case KP_OP_ATAN:
        arb_atan(r->b, x, prec);
        break;
    case KP_OP_SINH:
        arb_sinh(r->b, x, prec);
        break;
    case KP_OP_COSH:
        arb_cosh(r->b, x, prec);
        break;
    case KP_OP_TANH:
        arb_tanh(r->b, x, prec);
        break;
    default:
        arb_indeterminate(r->b);
        break;
    }
    arb_clear(x);
    ball_done(r);
}

/* Checks the token stream of e before any arithmetic: lengths, token ids,
   variable indices, constant count and prefix arity discipline. */
static int check_expr(const kp_expr_t *e, int nvars, kp_error_t *err)
{
    if (e->len < 1 || e->len > KP_EXPR_MAX_LEN)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "exact: bad expression length %d", e->len);
    if (e->nconst < 0 || e->nconst > KP_EXPR_MAX_CONSTS)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "exact: bad constant count %d", e->nconst);
    int depth = 0, nconst = 0;
    for (int i = e->len - 1; i >= 0; i--) {
        kp_tok_t t = e->tok[i];
        if (kp_tok_is_var(t)) {
            if (kp_tok_var(t) >= nvars)
                return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                    "exact: variable x%d has no value "
                                    "(%d given)", kp_tok_var(t), nvars);
            depth++;
        } else if (t == KP_TOK_CONST) {
            nconst++;
            depth++;
        } else if (t < KP_OP_COUNT) {
            int ar = kp_op_table[t].arity;
            if (depth < ar)
                return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                    "exact: operator '%s' at %d lacks "
                                    "operands", kp_op_table[t].name, i);
            depth += 1 - ar;
        } else {
            return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                "exact: bad token %u at %d", (unsigned)t, i);
        }
    }
    if (depth != 1)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "exact: expression is not a single tree");
    if (nconst > e->nconst)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "exact: %d constant tokens but nconst = %d",
                            nconst, e->nconst);
    for (int k = 0; k < nconst; k++) {
        const kp_const_t *c = &e->c[k];
        if (c->den < 0 || (c->den == 0 && !isfinite(c->value)))
            return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                "exact: constant %d is invalid", k);
    }
    return KP_OK;
}

static void set_const(kp_exact_t *r, const kp_const_t *c)
{
    r->kind = KP_EXACT_RATIONAL;
    if (c->den == 0) {
        kp_exact_fmpq_from_double(r->q, c->value);
    } else {
        fmpq_set_si(r->q, c->num, (ulong)c->den);
    }
}

int kp_exact_eval(kp_exact_t *r, const kp_expr_t *e, const fmpq *vars,
                  int nvars, slong prec, kp_error_t *err)
{
    r->kind = KP_EXACT_UNKNOWN;
    if (prec < 2)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "exact: precision %ld < 2", (long)prec);
    int rc = check_expr(e, nvars, err);
    if (rc != KP_OK)
        return rc;

    int nleaf = 0;
    for (int i = 0; i < e->len; i++)
        nleaf += kp_tok_arity(e->tok[i]) == 0;
    kp_exact_t *st = malloc((size_t)nleaf * sizeof *st);
    if (st == NULL)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "exact: no memory");
    for (int i = 0; i < nleaf; i++)
        kp_exact_init(&st[i]);
    kp_exact_t tmp;
    kp_exact_init(&tmp);

    int sp = 0, k = 0;
    for (int i = 0; i < e->len; i++)
        k += e->tok[i] == KP_TOK_CONST;
    for (int i = e->len - 1; i >= 0; i--) {
        kp_tok_t t = e->tok[i];
        if (kp_tok_is_var(t)) {
            kp_exact_set_fmpq(&st[sp++], vars + kp_tok_var(t));
        } else if (t == KP_TOK_CONST) {
            set_const(&st[sp++], &e->c[--k]);
        } else if (kp_op_table[t].arity == 0) {
            kp_exact_t *x = &st[sp++];
            if (t == KP_OP_PI)
                arb_const_pi(x->b, prec);
            else
                arb_const_e(x->b, prec);
            ball_done(x);
        } else if (kp_op_table[t].arity == 1) {
            kp_exact_t *x = &st[sp - 1];
            if (x->kind == KP_EXACT_RATIONAL || x->kind == KP_EXACT_BALL) {
                op_unary(&tmp, t, x, prec);
                kp_exact_swap(&tmp, x);
            }
        } else {
            kp_exact_t *a = &st[sp - 1], *b = &st[sp - 2];
            if (a->kind == KP_EXACT_UNDEFINED || b->kind == KP_EXACT_UNDEFINED)
                tmp.kind = KP_EXACT_UNDEFINED;
            else if (a->kind == KP_EXACT_UNKNOWN ||
                     b->kind == KP_EXACT_UNKNOWN)
                tmp.kind = KP_EXACT_UNKNOWN;
            else
                op_binary(&tmp, t, a, b, prec);
            kp_exact_swap(&tmp, b);
            sp--;
        }
    }
    kp_exact_swap(r, &st[0]);
    for (int i = 0; i < nleaf; i++)
        kp_exact_clear(&st[i]);
    free(st);
    kp_exact_clear(&tmp);
    return KP_OK;
}

/* radius <= 2^-goal * max(1, |mid|) */
static int ball_accurate(const arb_t b, slong goal)
{
    if (mag_cmp_2exp_si(arb_radref(b), -goal) <= 0)
        return 1;
    mag_t m;
    mag_init(m);
    arf_get_mag_lower(m, arb_midref(b));
    mag_mul_2exp_si(m, m, -goal);
    int ok = mag_cmp(arb_radref(b), m) <= 0;
    mag_clear(m);
    return ok;
}

int kp_exact_eval_adaptive(kp_exact_t *r, const kp_expr_t *e,
                           const fmpq *vars, int nvars, slong goal_bits,
                           slong max_prec, slong *prec_used, kp_error_t *err)
{
    if (max_prec < 2)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "exact: max precision %ld < 2", (long)max_prec);
    slong prec = FLINT_MAX(64, goal_bits + 32);
    prec = FLINT_MIN(prec, max_prec);
    for (;;) {
        int rc = kp_exact_eval(r, e, vars, nvars, prec, err);
        if (prec_used != NULL)
            *prec_used = prec;
        if (rc != KP_OK)
            return rc;
        if (r->kind == KP_EXACT_RATIONAL || r->kind == KP_EXACT_UNDEFINED ||
            (r->kind == KP_EXACT_BALL && ball_accurate(r->b, goal_bits)))
            return KP_OK;
        if (prec >= max_prec)
            return KP_OK;
        prec = prec > max_prec / 2 ? max_prec : 2 * prec;
    }
}

int kp_exact_sign(const kp_exact_t *r)
{
    if (r->kind == KP_EXACT_RATIONAL)
        return fmpq_sgn(r->q);
    if (r->kind != KP_EXACT_BALL)
        return KP_EXACT_SIGN_UNKNOWN;
    if (arb_is_positive(r->b))
        return 1;
    if (arb_is_negative(r->b))
        return -1;
    if (arb_is_zero(r->b))
        return 0;
    return KP_EXACT_SIGN_UNKNOWN;
}

int kp_exact_contains_fmpq(const kp_exact_t *r, const fmpq_t q)
{
    if (r->kind == KP_EXACT_RATIONAL)
        return fmpq_equal(r->q, q);
    if (r->kind == KP_EXACT_BALL)
        return arb_contains_fmpq(r->b, q);
    return 0;
}

int kp_exact_cmp_fmpq(const kp_exact_t *r, const fmpq_t q, int *cmp)
{
    if (r->kind == KP_EXACT_RATIONAL) {
        int c = fmpq_cmp(r->q, q);
        *cmp = (c > 0) - (c < 0);
        return 1;
    }
    if (r->kind != KP_EXACT_BALL || !arb_is_finite(r->b) ||
        arb_contains_fmpq(r->b, q))
        return 0;
    /* q lies outside the ball, so the midpoint is on the value's side. */
    int c = arf_cmp_fmpq(arb_midref(r->b), q);
    *cmp = (c > 0) - (c < 0);
    return 1;
}

int kp_exact_abs_diff_le(const kp_exact_t *r, const fmpq_t q,
                         const fmpq_t tol)
{
    if (fmpq_sgn(tol) < 0 || r->kind == KP_EXACT_UNDEFINED)
        return KP_EXACT_NO;
    if (r->kind == KP_EXACT_UNKNOWN)
        return KP_EXACT_MAYBE;
    fmpq_t d;
    fmpq_init(d);
    int ans;
    if (r->kind == KP_EXACT_RATIONAL) {
        fmpq_sub(d, r->q, q);
        fmpq_abs(d, d);
        ans = fmpq_cmp(d, tol) <= 0 ? KP_EXACT_YES : KP_EXACT_NO;
    } else if (!arb_is_finite(r->b)) {
        ans = KP_EXACT_MAYBE;
    } else {
        /* Outward-rounded endpoints: a superset of the ball, so both a
           proof (inside) and a refutation (disjoint) stay sound. */
        fmpq_t lo_q, hi_q;
        arf_t lo, hi;
        fmpq_init(lo_q);
        fmpq_init(hi_q);
        arf_init(lo);
        arf_init(hi);
        fmpq_sub(lo_q, q, tol);
        fmpq_add(hi_q, q, tol);
        slong p = arb_bits(r->b) + 64;
        arb_get_lbound_arf(lo, r->b, p);
        arb_get_ubound_arf(hi, r->b, p);
        if (arf_cmp_fmpq(lo, lo_q) >= 0 && arf_cmp_fmpq(hi, hi_q) <= 0)
            ans = KP_EXACT_YES;
        else if (arf_cmp_fmpq(hi, lo_q) < 0 || arf_cmp_fmpq(lo, hi_q) > 0)
            ans = KP_EXACT_NO;
        else
            ans = KP_EXACT_MAYBE;
        fmpq_clear(lo_q);
        fmpq_clear(hi_q);
        arf_clear(lo);
        arf_clear(hi);
    }
    fmpq_clear(d);
    return ans;
}

size_t kp_exact_print(char *buf, size_t n, const kp_exact_t *r, slong digits)
{
    char *s = NULL;
    const char *text;
    if (r->kind == KP_EXACT_RATIONAL)
        text = s = fmpq_get_str(NULL, 10, r->q);
    else if (r->kind == KP_EXACT_BALL)
        text = s = arb_get_str(r->b, digits < 1 ? 1 : digits, ARB_STR_MORE);
    else if (r->kind == KP_EXACT_UNDEFINED)
        text = "undefined";
    else
        text = "unknown";
    size_t len = strlen(text);
    if (n > 0) {
        size_t m = len < n - 1 ? len : n - 1;
        memcpy(buf, text, m);
        buf[m] = '\0';
    }
    if (s != NULL)
        flint_free(s);
    return len;
}

double kp_exact_get_d(const kp_exact_t *r)
{
    if (r->kind == KP_EXACT_RATIONAL) {
        arf_t t;
        arf_init(t);
        arf_fmpz_div_fmpz(t, fmpq_numref(r->q), fmpq_denref(r->q), 53,
                          ARF_RND_NEAR);
        double d = arf_get_d(t, ARF_RND_NEAR);
        arf_clear(t);
        return d;
    }
    if (r->kind == KP_EXACT_BALL)
        return arf_get_d(arb_midref(r->b), ARF_RND_NEAR);
    return NAN;
}

int kp_exact_fmpq_from_double(fmpq_t q, double x)
{
    fmpq_zero(q);
    if (!isfinite(x))
        return KP_EINPUT;
    if (x == 0)
        return KP_OK;
    int e;
    double f = frexp(x, &e); /* x = f * 2^e, 0.5 <= |f| < 1 */
    int64_t m = (int64_t)ldexp(f, 53); /* exact: 53-bit significand */
    e -= 53;
    fmpq_set_si(q, m, 1);
    if (e >= 0)
        fmpq_mul_2exp(q, q, (flint_bitcnt_t)e);
    else
        fmpq_div_2exp(q, q, (flint_bitcnt_t)-e);
    return KP_OK;
}

static int decimal_error(fmpq_t q, kp_error_t *err, long col, const char *what)
{
    fmpq_zero(q);
    return kp_error_set(err, KP_EINPUT, NULL, 0, col, "%s", what);
}

/* Sets z to the integer spelled by the n digits at s. */
static void digits_to_fmpz(fmpz_t z, const char *s, size_t n)
{
    char small[64];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (buf == NULL) { /* fall back to the slow loop rather than fail */
        fmpz_zero(z);
        for (size_t i = 0; i < n; i++) {
            fmpz_mul_ui(z, z, 10);
            fmpz_add_ui(z, z, (ulong)(s[i] - '0'));
        }
        return;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    fmpz_set_str(z, buf, 10);
    if (buf != small)
        free(buf);
}

int kp_exact_fmpq_from_decimal(fmpq_t q, const char *s, kp_error_t *err)
{
    size_t i = 0;
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    int neg = 0;
    if (s[i] == '+' || s[i] == '-')
        neg = s[i++] == '-';
    size_t int0 = i;
    while (isdigit((unsigned char)s[i]))
        i++;
    size_t nint = i - int0, frac0 = i, nfrac = 0;
    int dot = 0;
    if (s[i] == '.') {
        dot = 1;
        frac0 = ++i;
        while (isdigit((unsigned char)s[i]))
            i++;
        nfrac = i - frac0;
    }
    if (nint + nfrac == 0)
        return decimal_error(q, err, (long)i + 1, "expected a number");

    fmpz_t mant, t;
    fmpz_init(mant);
    fmpz_init(t);
    digits_to_fmpz(mant, s + int0, nint);
    if (nfrac > 0) {
        fmpz_set_ui(t, 10);
        fmpz_pow_ui(t, t, (ulong)nfrac);
        fmpz_mul(mant, mant, t);
        digits_to_fmpz(t, s + frac0, nfrac);
        fmpz_add(mant, mant, t);
    }
    long exp10 = -(long)nfrac;
    int rc = KP_OK;
    fmpz_one(t); /* the denominator of a p/q form */
    if (s[i] == 'e' || s[i] == 'E') {
        size_t e0 = i++;
        int eneg = 0;
        if (s[i] == '+' || s[i] == '-')
            eneg = s[i++] == '-';
        if (!isdigit((unsigned char)s[i])) {
            rc = decimal_error(q, err, (long)i + 1, "expected exponent digits");
            goto done;
        }
        long ev = 0;
        while (isdigit((unsigned char)s[i])) {
            if (ev <= 100000)
                ev = ev * 10 + (s[i] - '0');
            i++;
        }
        if (ev > 100000) {
            rc = decimal_error(q, err, (long)e0 + 1, "exponent too large");
            goto done;
        }
        exp10 += eneg ? -ev : ev;
    } else if (s[i] == '/' && !dot) {
        size_t d0 = ++i;
        while (isdigit((unsigned char)s[i]))
            i++;
        if (i == d0) {
            rc = decimal_error(q, err, (long)i + 1, "expected a denominator");
            goto done;
        }
        digits_to_fmpz(t, s + d0, i - d0);
        if (fmpz_is_zero(t)) {
            rc = decimal_error(q, err, (long)d0 + 1, "zero denominator");
            goto done;
        }
    }
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    if (s[i] != '\0') {
        rc = decimal_error(q, err, (long)i + 1, "unexpected character");
        goto done;
    }
    /* value = mant * 10^exp10 / t, where t != 1 only for p/q */
    if (exp10 >= 0) {
        fmpz_set_ui(fmpq_numref(q), 10);
        fmpz_pow_ui(fmpq_numref(q), fmpq_numref(q), (ulong)exp10);
        fmpz_mul(fmpq_numref(q), fmpq_numref(q), mant);
        fmpz_set(fmpq_denref(q), t);
    } else {
        fmpz_set(fmpq_numref(q), mant);
        fmpz_set_ui(fmpq_denref(q), 10);
        fmpz_pow_ui(fmpq_denref(q), fmpq_denref(q), (ulong)-exp10);
    }
    if (neg)
        fmpz_neg(fmpq_numref(q), fmpq_numref(q));
    fmpq_canonicalise(q);
done:
    fmpz_clear(mant);
    fmpz_clear(t);
    return rc;
}
