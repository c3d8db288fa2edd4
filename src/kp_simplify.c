/* kp_simplify.c: canonical form of expressions (kp_expr_simplify).

   The prefix array is rebuilt bottom-up through one smart constructor, mk(),
   that assumes its operands are already canonical and returns a canonical
   node. Nodes live in a growable pool and are never modified, so subtrees
   may be shared. The canonical forms are:

   - sums: ADD/SUB/NEG are flattened into signed terms coef * rest, like
     terms are merged (x + x -> 2*x, x - x -> 0), the terms sorted by a fixed
     total order on subtrees, and rebuilt as a left-leaning chain
     t1 + t2 - t3 ... + constant; a leading negative term is -t1 or (-2)*t1.
     Exact coefficients keep their sign in the ADD/SUB choice; free ones are
     always added.
   - products: MUL/DIV/NEG and integer powers are flattened into a
     coefficient times factors base**k (k a nonzero integer); equal bases
     merge their exponents (x*x -> x**2, x/x -> 1), sqrt(y)**(2k) and
     Abs(y)**(2k) become y**k, and the result is
     [coef*] f1 * f2 ... / (g1 * g2 ...); a coefficient -1 becomes an outer
     NEG.
   - constants: exact rationals fold exactly in +, -, *, /, integer powers
     and Abs (int64 overflow, or division by an exact zero, abandons that
     rewrite and keeps the node as it is); functions of exact constants stay
     symbolic (sin(2), sqrt(2)) except where the result is rational (sqrt(9/4),
     exp(0), log(1), ...); a variable-free subtree holding a free constant
     becomes one free constant (when finite).
   - functions: exp(log(x)) -> x, log(exp(x)) -> x, sqrt(x**2) -> Abs(x),
     x**(1/2) -> sqrt(x), E**x -> exp(x), 1**x -> 1, odd functions pull a
     minus sign out, even ones drop it, Abs of non-negative forms goes away.

   Every rewrite keeps the value wherever the input is defined (up to
   rounding) and at worst extends the domain (x/x, x - x, 0*x,
   sqrt(x)**2). Since mk() reproduces its own output, one pass is normally a
   fixed point; the driver still repeats passes until nothing changes. */
#include "kp_expr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXT 512          /* terms or factors in one sum or product */
#define MAX_EXPONENT (1L << 30)
#define MAX_PASSES 6
#define SIZE_CAP 100000

typedef struct {
    int64_t n, d; /* d > 0, lowest terms */
} rat_t;

/* A coefficient: exact rational, or free (its double value). */
typedef struct {
    int free;
    double f;
    rat_t q;
} coef_t;

typedef struct {
    int tok;
    int a, b;
    kp_const_t c;
    int hasvar, hasfree;
    int size;   /* tokens, saturating at SIZE_CAP */
    int nconst; /* constants, saturating at SIZE_CAP */
} snode_t;

typedef struct {
    snode_t *node;
    int n, cap;
    int oom;
} ctx_t;

/* ---- exact rationals ---------------------------------------------------- */

static __int128 gcd128(__int128 a, __int128 b)
{
    if (a < 0)
        a = -a;
    if (b < 0)
        b = -b;
    while (b != 0) {
        __int128 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Sets r to n/d in lowest terms; 0 when it does not fit int64 or d == 0. */
static int rat_make(rat_t *r, __int128 n, __int128 d)
{
    if (d == 0)
        return 0;
    if (d < 0) {
        n = -n;
        d = -d;
    }
    __int128 g = gcd128(n, d);
    if (g > 1) {
        n /= g;
        d /= g;
    }
    if (n == 0)
        d = 1;
    if (n > INT64_MAX || n <= INT64_MIN || d > INT64_MAX)
        return 0;
    r->n = (int64_t)n;
    r->d = (int64_t)d;
    return 1;
}

static int rat_add(rat_t *r, rat_t x, rat_t y)
{
    return rat_make(r, (__int128)x.n * y.d + (__int128)y.n * x.d,
                    (__int128)x.d * y.d);
}

static int rat_mul(rat_t *r, rat_t x, rat_t y)
{
    return rat_make(r, (__int128)x.n * y.n, (__int128)x.d * y.d);
}

static int rat_pow(rat_t *r, rat_t x, int64_t k)
{
    if (k < 0) {
        if (x.n == 0 || !rat_make(&x, x.d, x.n))
            return 0;
        k = -k;
    }
    rat_t acc = {1, 1};
    if (k > 0 && (x.n == 0 || (x.d == 1 && (x.n == 1 || x.n == -1)))) {
        acc.n = x.n == 0 ? 0 : (x.n == -1 && (k & 1) ? -1 : 1);
        *r = acc;
        return 1;
    }
    if (k > 64)
        return 0;
    for (int64_t i = 0; i < k; i++)
        if (!rat_mul(&acc, acc, x))
            return 0;
    *r = acc;
    return 1;
}

static int rat_cmp(rat_t x, rat_t y)
{
    __int128 l = (__int128)x.n * y.d, r = (__int128)y.n * x.d;
    return l < r ? -1 : l > r;
}

static double rat_value(rat_t x)
{
    return (double)x.n / (double)x.d;
}

static int rat_is(rat_t x, int64_t n)
{
    return x.d == 1 && x.n == n;
}

/* ---- coefficients ------------------------------------------------------- */

static coef_t coef_exact(int64_t n)
{
    coef_t c = {0, 0.0, {n, 1}};
    return c;
}

static double coef_value(coef_t c)
{
    return c.free ? c.f : rat_value(c.q);
}

static int coef_is_zero(coef_t c)
{
    return !c.free && c.q.n == 0;
}

static int coef_mul(coef_t *r, coef_t x, coef_t y)
{
    if (coef_is_zero(x) || coef_is_zero(y)) {
        *r = coef_exact(0);
        return 1;
    }
    if (x.free || y.free) {
        r->free = 1;
        r->f = coef_value(x) * coef_value(y);
        return 1;
    }
    r->free = 0;
    return rat_mul(&r->q, x.q, y.q);
}

static int coef_add(coef_t *r, coef_t x, coef_t y)
{
    if (x.free || y.free) {
        r->free = 1;
        r->f = coef_value(x) + coef_value(y);
        return 1;
    }
    r->free = 0;
    return rat_add(&r->q, x.q, y.q);
}

/* ---- node pool ---------------------------------------------------------- */

static int sat_add(int a, int b)
{
    return a + b > SIZE_CAP ? SIZE_CAP : a + b;
}

static int new_node(ctx_t *cx, int tok, int a, int b, const kp_const_t *c)
{
    if (cx->n == cx->cap) {
        int cap = cx->cap ? 2 * cx->cap : 1024;
        snode_t *nn = realloc(cx->node, sizeof *nn * (size_t)cap);
        if (nn == NULL) {
            cx->oom = 1;
            return 0;
        }
        cx->node = nn;
        cx->cap = cap;
    }
    snode_t *s = &cx->node[cx->n];
    memset(s, 0, sizeof *s);
    s->tok = tok;
    s->a = a;
    s->b = b;
    s->size = 1;
    if (tok == KP_TOK_CONST) {
        s->c = *c;
        s->hasfree = c->den == 0;
        s->nconst = 1;
    } else if (tok >= KP_TOK_VAR) {
        s->hasvar = 1;
    }
    int ar = tok < KP_OP_COUNT ? kp_op_table[tok].arity : 0;
    for (int k = 0; k < ar; k++) {
        const snode_t *ch = &cx->node[k == 0 ? a : b];
        s->hasvar |= ch->hasvar;
        s->hasfree |= ch->hasfree;
        s->size = sat_add(s->size, ch->size);
        s->nconst = sat_add(s->nconst, ch->nconst);
    }
    return cx->n++;
}

static int raw(ctx_t *cx, int tok, int a, int b)
{
    return new_node(cx, tok, a, b, NULL);
}

static int leaf_rat(ctx_t *cx, rat_t q)
{
    kp_const_t c = {rat_value(q), q.n, q.d};
    return new_node(cx, KP_TOK_CONST, -1, -1, &c);
}

static int leaf_int(ctx_t *cx, int64_t n)
{
    rat_t q = {n, 1};
    return leaf_rat(cx, q);
}

static int leaf_free(ctx_t *cx, double v)
{
    kp_const_t c = {v, 0, 0};
    return new_node(cx, KP_TOK_CONST, -1, -1, &c);
}

static int leaf_coef(ctx_t *cx, coef_t c)
{
    return c.free ? leaf_free(cx, c.f) : leaf_rat(cx, c.q);
}

static const snode_t *N(const ctx_t *cx, int i)
{
    return &cx->node[i];
}

static int is_exact(const ctx_t *cx, int i)
{
    return N(cx, i)->tok == KP_TOK_CONST && N(cx, i)->c.den > 0;
}

static rat_t exact_of(const ctx_t *cx, int i)
{
    rat_t q = {N(cx, i)->c.num, N(cx, i)->c.den};
    return q;
}

static int is_exact_int(const ctx_t *cx, int i)
{
    return is_exact(cx, i) && N(cx, i)->c.den == 1;
}

static int is_exact_val(const ctx_t *cx, int i, int64_t n)
{
    return is_exact(cx, i) && rat_is(exact_of(cx, i), n);
}

/* Fixed total order on subtrees: token, then constant (exact before free,
   by value), then children left to right. */
static int cmp(const ctx_t *cx, int x, int y)
{
    while (x != y) {
        const snode_t *a = N(cx, x), *b = N(cx, y);
        if (a->tok != b->tok)
            return a->tok < b->tok ? -1 : 1;
        if (a->tok == KP_TOK_CONST) {
            if ((a->c.den == 0) != (b->c.den == 0))
                return a->c.den == 0 ? 1 : -1;
            if (a->c.den > 0) {
                rat_t p = {a->c.num, a->c.den}, q = {b->c.num, b->c.den};
                return rat_cmp(p, q);
            }
            double u = a->c.value, v = b->c.value;
            if (u < v)
                return -1;
            if (u > v)
                return 1;
            return isnan(u) - isnan(v);
        }
        int ar = a->tok < KP_OP_COUNT ? kp_op_table[a->tok].arity : 0;
        if (ar == 0)
            return 0;
        if (ar == 2) {
            int r = cmp(cx, a->a, b->a);
            if (r != 0)
                return r;
            x = a->b;
            y = b->b;
        } else {
            x = a->a;
            y = b->a;
        }
    }
    return 0;
}

static double eval(const ctx_t *cx, int i)
{
    const snode_t *s = N(cx, i);
    if (s->tok == KP_TOK_CONST)
        return s->c.value;
    if (s->tok >= KP_TOK_VAR)
        return NAN;
    int ar = kp_op_table[s->tok].arity;
    double a = ar > 0 ? eval(cx, s->a) : 0, b = ar > 1 ? eval(cx, s->b) : 0;
    return kp_op_apply(s->tok, a, b);
}

static int mk(ctx_t *cx, int tok, int a, int b);

/* ---- products ----------------------------------------------------------- */

typedef struct {
    int base;
    int64_t k;
} factor_t;

typedef struct {
    coef_t coef;
    factor_t f[MAXT];
    int nf;
    int bail;
} prod_t;

static int sum_negative(ctx_t *cx, int n, int *neg);

static void prod_collect(ctx_t *cx, prod_t *p, int n, int64_t m)
{
    if (p->bail)
        return;
    /* A copy: the recursion below can add nodes, and a realloc of the pool
       would leave a pointer into it dangling. */
    const snode_t node = *N(cx, n), *s = &node;
    switch (s->tok) {
    case KP_OP_MUL:
        prod_collect(cx, p, s->a, m);
        prod_collect(cx, p, s->b, m);
        return;
    case KP_OP_DIV:
        prod_collect(cx, p, s->a, m);
        prod_collect(cx, p, s->b, -m);
        return;
    case KP_OP_NEG:
        if (m & 1)
            p->bail |= !coef_mul(&p->coef, p->coef, coef_exact(-1));
        prod_collect(cx, p, s->a, m);
        return;
    case KP_OP_POW:
        if (is_exact_int(cx, s->b)) {
            int64_t k = N(cx, s->b)->c.num;
            if (k > MAX_EXPONENT || k < -MAX_EXPONENT
                || (m > 0 ? m : -m) > MAX_EXPONENT / (k ? (k > 0 ? k : -k) : 1)) {
                p->bail = 1;
                return;
            }
            prod_collect(cx, p, s->a, m * k);
            return;
        }
        break;
    case KP_TOK_CONST: {
        coef_t c;
        if (s->c.den == 0) {
            c.free = 1;
            c.f = pow(s->c.value, (double)m);
        } else if (s->c.num == 0 && m < 0) {
            /* x/0: the zero stays as a factor (merged to 0**-1 below). */
            break;
        } else {
            c.free = 0;
            if (!rat_pow(&c.q, exact_of(cx, n), m)) {
                p->bail = 1;
                return;
            }
        }
        p->bail |= !coef_mul(&p->coef, p->coef, c);
        return;
    }
    case KP_OP_ADD:
    case KP_OP_SUB: {
        /* A sum factor is kept with its first term positive, so that
           -(a - b)*c and (b - a)*c agree. */
        int neg;
        if (sum_negative(cx, n, &neg)) {
            n = neg;
            if (m & 1)
                p->bail |= !coef_mul(&p->coef, p->coef, coef_exact(-1));
        }
        break;
    }
    default:
        break;
    }
    if (p->nf >= MAXT) {
        p->bail = 1;
        return;
    }
    p->f[p->nf].base = n;
    p->f[p->nf].k = m;
    p->nf++;
}

/* Sorts the factors, merges equal bases and drops zero exponents. */
static void prod_merge(ctx_t *cx, prod_t *p)
{
    for (int i = 1; i < p->nf; i++) {
        factor_t t = p->f[i];
        int j = i;
        while (j > 0 && cmp(cx, p->f[j - 1].base, t.base) > 0) {
            p->f[j] = p->f[j - 1];
            j--;
        }
        p->f[j] = t;
    }
    int w = 0;
    for (int i = 0; i < p->nf; i++) {
        if (w > 0 && cmp(cx, p->f[w - 1].base, p->f[i].base) == 0) {
            int64_t k = p->f[w - 1].k + p->f[i].k;
            if (k > MAX_EXPONENT || k < -MAX_EXPONENT)
                p->bail = 1;
            p->f[w - 1].k = k;
        } else {
            p->f[w++] = p->f[i];
        }
    }
    p->nf = 0;
    for (int i = 0; i < w; i++) {
        /* 1/0**k is 1/0 for every k > 0: keep one canonical form. */
        if (is_exact_val(cx, p->f[i].base, 0))
            p->f[i].k = -1;
        if (p->f[i].k != 0)
            p->f[p->nf++] = p->f[i];
    }
}

/* Flattens node n into p, normalising: merging, then unwrapping
   sqrt(y)**(2k) and Abs(y)**(2k) into y**k until none is left. */
static void prod_from(ctx_t *cx, prod_t *p, int n, int64_t m)
{
    p->coef = coef_exact(1);
    p->nf = 0;
    p->bail = 0;
    prod_collect(cx, p, n, m);
}

static void prod_normalise(ctx_t *cx, prod_t *p)
{
    for (int round = 0; !p->bail && round < 64; round++) {
        prod_merge(cx, p);
        int changed = 0;
        for (int i = 0; i < p->nf && !p->bail; i++) {
            const snode_t *s = N(cx, p->f[i].base);
            if ((s->tok == KP_OP_SQRT || s->tok == KP_OP_ABS)
                && p->f[i].k % 2 == 0) {
                int64_t k = s->tok == KP_OP_SQRT ? p->f[i].k / 2 : p->f[i].k;
                int inner = s->a;
                p->f[i] = p->f[--p->nf];
                prod_collect(cx, p, inner, k);
                changed = 1;
                break;
            }
        }
        if (!changed)
            return;
    }
}

static int pow_node(ctx_t *cx, factor_t f, int sign)
{
    int64_t k = f.k * sign;
    if (k == 1)
        return f.base;
    return raw(cx, KP_OP_POW, f.base, leaf_int(cx, k));
}

/* Builds coef * factors in canonical form (see the file comment). */
static int prod_build(ctx_t *cx, coef_t coef, const factor_t *f, int nf)
{
    if (coef_is_zero(coef))
        return leaf_int(cx, 0);
    int negate = !coef.free && rat_is(coef.q, -1);
    int unit = !coef.free && (rat_is(coef.q, 1) || negate);
    int num = -1, den = -1;
    if (!unit)
        num = leaf_coef(cx, coef);
    for (int i = 0; i < nf; i++)
        if (f[i].k > 0) {
            int t = pow_node(cx, f[i], 1);
            num = num < 0 ? t : raw(cx, KP_OP_MUL, num, t);
        }
    for (int i = 0; i < nf; i++)
        if (f[i].k < 0) {
            int t = pow_node(cx, f[i], -1);
            den = den < 0 ? t : raw(cx, KP_OP_MUL, den, t);
        }
    if (num < 0) {
        num = leaf_int(cx, negate ? -1 : 1);
        negate = 0;
    }
    int r = den < 0 ? num : raw(cx, KP_OP_DIV, num, den);
    return negate ? raw(cx, KP_OP_NEG, r, -1) : r;
}

static int prod_norm(ctx_t *cx, int tok, int a, int b)
{
    prod_t *p = malloc(sizeof *p);
    if (p == NULL) {
        cx->oom = 1;
        return raw(cx, tok, a, b);
    }
    p->coef = coef_exact(1);
    p->nf = 0;
    p->bail = 0;
    if (tok == KP_OP_POW) {
        prod_collect(cx, p, a, N(cx, b)->c.num);
    } else {
        prod_collect(cx, p, a, 1);
        prod_collect(cx, p, b, tok == KP_OP_DIV ? -1 : 1);
    }
    prod_normalise(cx, p);
    int r = p->bail ? raw(cx, tok, a, b) : prod_build(cx, p->coef, p->f, p->nf);
    free(p);
    return r;
}

/* Splits a canonical non-sum node into coef * rest, where rest has
   coefficient 1. */
static void split_coef(ctx_t *cx, int n, coef_t *coef, int *rest)
{
    const snode_t *s = N(cx, n);
    int lead = n;
    while (N(cx, lead)->tok == KP_OP_MUL || N(cx, lead)->tok == KP_OP_DIV)
        lead = N(cx, lead)->a;
    *coef = coef_exact(1);
    *rest = n;
    if (N(cx, lead)->tok != KP_TOK_CONST || lead == n
        || (s->tok != KP_OP_MUL && s->tok != KP_OP_DIV))
        return;
    prod_t *p = malloc(sizeof *p);
    if (p == NULL) {
        cx->oom = 1;
        return;
    }
    prod_from(cx, p, n, 1);
    prod_normalise(cx, p);
    if (!p->bail) {
        *coef = p->coef;
        *rest = prod_build(cx, coef_exact(1), p->f, p->nf);
    }
    free(p);
}

/* coef * rest, rest having coefficient 1. */
static int scale(ctx_t *cx, coef_t coef, int rest)
{
    if (!coef.free && rat_is(coef.q, 1))
        return rest;
    if (N(cx, rest)->tok == KP_TOK_CONST && N(cx, rest)->c.den > 0
        && rat_is(exact_of(cx, rest), 1))
        return leaf_coef(cx, coef);
    prod_t *p = malloc(sizeof *p);
    if (p == NULL) {
        cx->oom = 1;
        return rest;
    }
    prod_from(cx, p, rest, 1);
    prod_normalise(cx, p);
    int r;
    if (p->bail || !coef_mul(&p->coef, p->coef, coef))
        r = raw(cx, KP_OP_MUL, leaf_coef(cx, coef), rest);
    else
        r = prod_build(cx, p->coef, p->f, p->nf);
    free(p);
    return r;
}

/* ---- sums --------------------------------------------------------------- */

typedef struct {
    coef_t coef;
    int rest;
} term_t;

typedef struct {
    term_t t[MAXT];
    int nt;
    coef_t constant;
    int bail;
} sum_t;

static void sum_collect(ctx_t *cx, sum_t *s, int n, int sign)
{
    if (s->bail)
        return;
    const snode_t *x = N(cx, n);
    switch (x->tok) {
    case KP_OP_ADD:
    case KP_OP_SUB: {
        int a = x->a, b = x->b, tok = x->tok;
        sum_collect(cx, s, a, sign);
        sum_collect(cx, s, b, tok == KP_OP_SUB ? -sign : sign);
        return;
    }
    case KP_OP_NEG:
        sum_collect(cx, s, x->a, -sign);
        return;
    case KP_TOK_CONST: {
        coef_t c = x->c.den == 0 ? (coef_t){1, x->c.value, {0, 1}}
                                 : (coef_t){0, 0.0, {x->c.num, x->c.den}};
        s->bail |= !coef_mul(&c, c, coef_exact(sign))
                   || !coef_add(&s->constant, s->constant, c);
        return;
    }
    default:
        break;
    }
    if (s->nt >= MAXT) {
        s->bail = 1;
        return;
    }
    coef_t c;
    int rest;
    split_coef(cx, n, &c, &rest);
    s->bail |= !coef_mul(&c, c, coef_exact(sign));
    s->t[s->nt].coef = c;
    s->t[s->nt].rest = rest;
    s->nt++;
}

static int sum_norm(ctx_t *cx, int tok, int a, int b)
{
    sum_t *s = malloc(sizeof *s);
    if (s == NULL) {
        cx->oom = 1;
        return raw(cx, tok, a, b);
    }
    s->nt = 0;
    s->constant = coef_exact(0);
    s->bail = 0;
    sum_collect(cx, s, a, tok == KP_OP_NEG ? -1 : 1);
    if (tok != KP_OP_NEG)
        sum_collect(cx, s, b, tok == KP_OP_SUB ? -1 : 1);

    for (int i = 1; i < s->nt; i++) {
        term_t t = s->t[i];
        int j = i;
        while (j > 0 && cmp(cx, s->t[j - 1].rest, t.rest) > 0) {
            s->t[j] = s->t[j - 1];
            j--;
        }
        s->t[j] = t;
    }
    int w = 0;
    for (int i = 0; i < s->nt && !s->bail; i++) {
        if (w > 0 && cmp(cx, s->t[w - 1].rest, s->t[i].rest) == 0)
            s->bail |= !coef_add(&s->t[w - 1].coef, s->t[w - 1].coef,
                                 s->t[i].coef);
        else
            s->t[w++] = s->t[i];
    }
    if (s->bail) {
        free(s);
        return raw(cx, tok, a, b);
    }
    /* Head: the first term with a positive (or free) coefficient, else a
       positive constant, else the first (negative) term: y - x, 1 - x. */
    int head = -1;
    for (int i = 0; i < w && head < 0; i++)
        if (!coef_is_zero(s->t[i].coef)
            && (s->t[i].coef.free || s->t[i].coef.q.n > 0))
            head = i;
    coef_t k = s->constant;
    int acc = -1, const_done = 0;
    if (head >= 0) {
        acc = scale(cx, s->t[head].coef, s->t[head].rest);
    } else if (!coef_is_zero(k) && (k.free || k.q.n > 0)) {
        acc = leaf_coef(cx, k);
        const_done = 1;
    }
    for (int i = 0; i < w; i++) {
        coef_t c = s->t[i].coef;
        if (i == head || coef_is_zero(c))
            continue;
        int neg = !c.free && c.q.n < 0;
        if (acc < 0) {
            acc = scale(cx, c, s->t[i].rest);
            continue;
        }
        if (neg)
            c.q.n = -c.q.n;
        acc = raw(cx, neg ? KP_OP_SUB : KP_OP_ADD, acc,
                  scale(cx, c, s->t[i].rest));
    }
    free(s);
    if (acc < 0)
        return leaf_coef(cx, k);
    if (const_done || coef_is_zero(k))
        return acc;
    if (!k.free && k.q.n < 0) {
        k.q.n = -k.q.n;
        return raw(cx, KP_OP_SUB, acc, leaf_coef(cx, k));
    }
    return raw(cx, KP_OP_ADD, acc, leaf_coef(cx, k));
}

/* If n is a sum whose first term in the fixed order has a negative
   coefficient, sets *neg to -n (canonical) and returns 1. */
static int sum_negative(ctx_t *cx, int n, int *neg)
{
    if (N(cx, n)->tok != KP_OP_ADD && N(cx, n)->tok != KP_OP_SUB)
        return 0;
    sum_t *s = malloc(sizeof *s);
    if (s == NULL) {
        cx->oom = 1;
        return 0;
    }
    s->nt = 0;
    s->constant = coef_exact(0);
    s->bail = 0;
    sum_collect(cx, s, n, 1);
    int first = -1;
    for (int i = 0; i < s->nt && !s->bail; i++)
        if (first < 0 || cmp(cx, s->t[i].rest, s->t[first].rest) < 0)
            first = i;
    int r = first >= 0 && !s->bail && coef_value(s->t[first].coef) < 0;
    free(s);
    if (r)
        *neg = sum_norm(cx, KP_OP_NEG, n, -1);
    return r;
}

/* If n is a negative form (-y, a negative exact constant, or a product with
   a negative exact coefficient), sets *pos to its negation and returns 1. */
static int split_negative(ctx_t *cx, int n, int *pos)
{
    const snode_t *s = N(cx, n);
    if (s->tok == KP_OP_NEG) {
        *pos = s->a;
        return 1;
    }
    if (s->tok == KP_TOK_CONST) {
        if (s->c.den > 0 && s->c.num < 0) {
            rat_t q = {-s->c.num, s->c.den};
            *pos = leaf_rat(cx, q);
            return 1;
        }
        return 0;
    }
    if (s->tok == KP_OP_ADD || s->tok == KP_OP_SUB)
        return sum_negative(cx, n, pos);
    if (s->tok != KP_OP_MUL && s->tok != KP_OP_DIV)
        return 0;
    coef_t c;
    int rest;
    split_coef(cx, n, &c, &rest);
    if (c.free || c.q.n >= 0)
        return 0;
    c.q.n = -c.q.n;
    *pos = scale(cx, c, rest);
    return 1;
}

/* ---- functions and powers ----------------------------------------------- */

static int isqrt64(int64_t v, int64_t *r)
{
    if (v < 0)
        return 0;
    int64_t s = (int64_t)sqrt((double)v);
    while (s > 0 && (__int128)s * s > v)
        s--;
    while ((__int128)(s + 1) * (s + 1) <= v)
        s++;
    *r = s;
    return (__int128)s * s == v;
}

static int func(ctx_t *cx, int op, int a)
{
    /* A copy: the pool may move when nodes are added below. */
    const snode_t xv = *N(cx, a), *x = &xv;
    int zero = is_exact_val(cx, a, 0), one = is_exact_val(cx, a, 1);
    int pos;
    switch (op) {
    case KP_OP_SQRT: {
        int64_t rn, rd;
        if (is_exact(cx, a) && isqrt64(x->c.num, &rn)
            && isqrt64(x->c.den, &rd)) {
            rat_t q = {rn, rd};
            return leaf_rat(cx, q);
        }
        if (x->tok == KP_OP_POW && is_exact_val(cx, x->b, 2))
            return mk(cx, KP_OP_ABS, x->a, -1);
        break;
    }
    case KP_OP_EXP:
        if (x->tok == KP_OP_LOG)
            return x->a;
        if (zero)
            return leaf_int(cx, 1);
        break;
    case KP_OP_LOG:
        if (x->tok == KP_OP_EXP)
            return x->a;
        if (one)
            return leaf_int(cx, 0);
        if (x->tok == KP_OP_E)
            return leaf_int(cx, 1);
        break;
    case KP_OP_SIN:
    case KP_OP_TAN:
    case KP_OP_ASIN:
    case KP_OP_ATAN:
    case KP_OP_SINH:
    case KP_OP_TANH:
        if (zero)
            return a;
        if (split_negative(cx, a, &pos))
            return mk(cx, KP_OP_NEG, mk(cx, op, pos, -1), -1);
        break;
    case KP_OP_COS:
    case KP_OP_COSH:
        if (zero)
            return leaf_int(cx, 1);
        if (split_negative(cx, a, &pos))
            return mk(cx, op, pos, -1);
        break;
    case KP_OP_ACOS:
        if (one)
            return leaf_int(cx, 0);
        break;
    case KP_OP_ABS:
        if (split_negative(cx, a, &pos))
            return mk(cx, KP_OP_ABS, pos, -1);
        if (is_exact(cx, a) || x->tok == KP_OP_ABS || x->tok == KP_OP_SQRT
            || x->tok == KP_OP_EXP || x->tok == KP_OP_PI
            || x->tok == KP_OP_E || x->tok == KP_OP_COSH)
            return a;
        if (x->tok == KP_OP_POW && is_exact_int(cx, x->b)
            && N(cx, x->b)->c.num % 2 == 0)
            return a;
        break;
    default:
        break;
    }
    return raw(cx, op, a, -1);
}

static int power(ctx_t *cx, int a, int b)
{
    if (is_exact_int(cx, b))
        return prod_norm(cx, KP_OP_POW, a, b);
    if (is_exact_val(cx, a, 1))
        return a;
    if (is_exact(cx, b)) {
        rat_t q = exact_of(cx, b);
        if (q.n == 1 && q.d == 2)
            return mk(cx, KP_OP_SQRT, a, -1);
    }
    if (N(cx, a)->tok == KP_OP_E)
        return mk(cx, KP_OP_EXP, b, -1);
    return raw(cx, KP_OP_POW, a, b);
}

/* The smart constructor: a and b are canonical, the result is canonical. */
static int mk(ctx_t *cx, int tok, int a, int b)
{
    if (cx->oom)
        return 0;
    if (tok >= KP_OP_COUNT || kp_op_table[tok].arity == 0)
        return raw(cx, tok, a, b);
    int ar = kp_op_table[tok].arity;
    int hasvar = N(cx, a)->hasvar || (ar > 1 && N(cx, b)->hasvar);
    int hasfree = N(cx, a)->hasfree || (ar > 1 && N(cx, b)->hasfree);
    if (hasfree && !hasvar) {
        double va = eval(cx, a), vb = ar > 1 ? eval(cx, b) : 0;
        double v = kp_op_apply(tok, va, vb);
        if (isfinite(v))
            return leaf_free(cx, v);
    }
    switch (tok) {
    case KP_OP_ADD:
    case KP_OP_SUB:
    case KP_OP_NEG:
        return sum_norm(cx, tok, a, b);
    case KP_OP_MUL:
    case KP_OP_DIV:
        return prod_norm(cx, tok, a, b);
    case KP_OP_POW:
        return power(cx, a, b);
    default:
        return func(cx, tok, a);
    }
}

/* ---- driver ------------------------------------------------------------- */

static int from_prefix(ctx_t *cx, const kp_expr_t *e, const uint16_t *size,
                       int pos, int *ci)
{
    kp_tok_t t = e->tok[pos];
    if (t == KP_TOK_CONST) {
        const kp_const_t *c = &e->c[(*ci)++];
        return new_node(cx, KP_TOK_CONST, -1, -1, c);
    }
    if (kp_tok_is_var(t))
        return raw(cx, t, -1, -1);
    int ar = kp_tok_arity(t);
    int a = -1, b = -1;
    if (ar > 0)
        a = from_prefix(cx, e, size, pos + 1, ci);
    if (ar > 1)
        b = from_prefix(cx, e, size, pos + 1 + size[pos + 1], ci);
    if (cx->oom)
        return 0;
    return mk(cx, t, a, b);
}

static int emit(kp_expr_t *r, const ctx_t *cx, int i)
{
    const snode_t *s = N(cx, i);
    if (s->tok == KP_TOK_CONST)
        return s->c.den > 0 ? kp_expr_push_rational(r, s->c.num, s->c.den)
                            : kp_expr_push_const(r, s->c.value);
    if (s->tok >= KP_TOK_VAR)
        return kp_expr_push_var(r, s->tok - KP_TOK_VAR);
    int rc = kp_expr_push_op(r, s->tok);
    int ar = kp_op_table[s->tok].arity;
    if (rc == KP_OK && ar > 0)
        rc = emit(r, cx, s->a);
    if (rc == KP_OK && ar > 1)
        rc = emit(r, cx, s->b);
    return rc;
}

/* One bottom-up pass; returns KP_OK and sets *r, or leaves r untouched. */
static int pass(kp_expr_t *r, const kp_expr_t *e, ctx_t *cx)
{
    kp_expr_t t = *e;
    kp_expr_update_sizes(&t);
    cx->n = 0;
    cx->oom = 0;
    int ci = 0;
    int root = from_prefix(cx, &t, t.size, 0, &ci);
    if (cx->oom)
        return KP_ENOMEM;
    const snode_t *s = N(cx, root);
    if (s->size > KP_EXPR_MAX_LEN || s->nconst > KP_EXPR_MAX_CONSTS)
        return KP_EINPUT;
    kp_expr_init(&t);
    if (emit(&t, cx, root) != KP_OK || kp_expr_finish(&t, NULL) != KP_OK)
        return KP_EINTERNAL;
    *r = t;
    return KP_OK;
}

void kp_expr_simplify(kp_expr_t *e)
{
    if (e->len < 1 || kp_expr_check(e, NULL) != KP_OK)
        return;
    ctx_t cx = {NULL, 0, 0, 0};
    kp_expr_t cur = *e, next;
    for (int i = 0; i < MAX_PASSES; i++) {
        if (pass(&next, &cur, &cx) != KP_OK)
            break;
        int same = kp_expr_equal(&next, &cur);
        cur = next;
        if (same)
            break;
    }
    free(cx.node);
    *e = cur;
}
