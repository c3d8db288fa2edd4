/* kp_expr.c: building, checking and slicing prefix-array expressions, and
   their structural equality and hash (see kp_expr.h for the invariants). */
#include "kp_expr.h"

#include <math.h>
#include <string.h>

#include <gmp.h>
#include <mpfr.h>
#include <xxhash.h>

void kp_expr_init(kp_expr_t *e)
{
    e->len = 0;
    e->nconst = 0;
}

int kp_expr_push_op(kp_expr_t *e, int op)
{
    if (op < 0 || op >= KP_OP_COUNT || e->len >= KP_EXPR_MAX_LEN)
        return KP_EINPUT;
    e->tok[e->len] = (kp_tok_t)op;
    e->size[e->len] = 1;
    e->len++;
    return KP_OK;
}

int kp_expr_push_var(kp_expr_t *e, int var)
{
    if (var < 0 || var >= KP_MAX_VARS || e->len >= KP_EXPR_MAX_LEN)
        return KP_EINPUT;
    e->tok[e->len] = (kp_tok_t)(KP_TOK_VAR + var);
    e->size[e->len] = 1;
    e->len++;
    return KP_OK;
}

static int push_const_rec(kp_expr_t *e, const kp_const_t *c)
{
    if (e->len >= KP_EXPR_MAX_LEN || e->nconst >= KP_EXPR_MAX_CONSTS)
        return KP_EINPUT;
    e->tok[e->len] = KP_TOK_CONST;
    e->size[e->len] = 1;
    e->len++;
    e->c[e->nconst++] = *c;
    return KP_OK;
}

int kp_expr_push_const(kp_expr_t *e, double value)
{
    kp_const_t c = {value, 0, 0};
    return push_const_rec(e, &c);
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Nearest double to num/den (den > 0). Below 2^53 both operands are exact
   doubles and IEEE division rounds once; above, MPFR rounds correctly. */
static double rational_to_double(int64_t num, int64_t den)
{
    const int64_t lim = (int64_t)1 << 53;
    if (num > -lim && num < lim && den < lim)
        return (double)num / (double)den;
    mpq_t q;
    mpfr_t f;
    mpq_init(q);
    mpz_set_si(mpq_numref(q), (long)num);
    mpz_set_si(mpq_denref(q), (long)den);
    mpfr_init2(f, 53);
    mpfr_set_q(f, q, MPFR_RNDN);
    double d = mpfr_get_d(f, MPFR_RNDN);
    mpfr_clear(f);
    mpq_clear(q);
    return d;
}

int kp_expr_push_rational(kp_expr_t *e, int64_t num, int64_t den)
{
    if (den == 0)
        return KP_EINPUT;
    if (den < 0) {
        if (num == INT64_MIN || den == INT64_MIN)
            return KP_EINPUT;
        num = -num;
        den = -den;
    }
    uint64_t an = num < 0 ? (uint64_t)0 - (uint64_t)num : (uint64_t)num;
    uint64_t g = gcd_u64(an, (uint64_t)den);
    if (g > 1) {
        num /= (int64_t)g;
        den /= (int64_t)g;
    }
    if (num == 0)
        den = 1;
    kp_const_t c = {rational_to_double(num, den), num, den};
    return push_const_rec(e, &c);
}

static int tok_valid(kp_tok_t t)
{
    return t < KP_OP_COUNT || t == KP_TOK_CONST
           || (t >= KP_TOK_VAR && t < KP_TOK_VAR + KP_MAX_VARS);
}

/* Validates the token sequence alone: known tokens, arities summing to
   len - 1, no complete proper prefix. Returns the position of the first
   offence or -1. */
static int structure_error(const kp_expr_t *e, const char **why)
{
    if (e->len < 1 || e->len > KP_EXPR_MAX_LEN) {
        *why = "length out of range";
        return 0;
    }
    int need = 1;
    for (int i = 0; i < e->len; i++) {
        if (!tok_valid(e->tok[i])) {
            *why = "unknown token";
            return i;
        }
        if (need == 0) {
            *why = "tokens after a complete expression";
            return i;
        }
        need += kp_tok_arity(e->tok[i]) - 1;
    }
    if (need != 0) {
        *why = "incomplete expression";
        return e->len;
    }
    return -1;
}

void kp_expr_update_sizes(kp_expr_t *e)
{
    /* Right-to-left: children's roots are already on the stack. */
    int stack[KP_EXPR_MAX_LEN];
    int sp = 0;
    for (int i = e->len - 1; i >= 0; i--) {
        int ar = kp_tok_arity(e->tok[i]);
        int s = 1;
        for (int k = 0; k < ar; k++)
            s += e->size[stack[--sp]];
        e->size[i] = (uint16_t)s;
        stack[sp++] = i;
    }
}

int kp_expr_finish(kp_expr_t *e, kp_error_t *err)
{
    const char *why = NULL;
    int pos = structure_error(e, &why);
    if (pos >= 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "invalid expression: %s at token %d", why, pos);
    kp_expr_update_sizes(e);
    return kp_expr_check(e, err);
}

int kp_expr_check(const kp_expr_t *e, kp_error_t *err)
{
    const char *why = NULL;
    int pos = structure_error(e, &why);
    if (pos >= 0)
        return kp_error_set(err, KP_EINTERNAL, NULL, 0, 0,
                            "invalid expression: %s at token %d", why, pos);
    int stack[KP_EXPR_MAX_LEN];
    int sp = 0, nc = 0;
    for (int i = e->len - 1; i >= 0; i--) {
        int ar = kp_tok_arity(e->tok[i]);
        int s = 1;
        for (int k = 0; k < ar; k++)
            s += e->size[stack[--sp]];
        if (e->size[i] != s)
            return kp_error_set(err, KP_EINTERNAL, NULL, 0, 0,
                                "size[%d] is %d, expected %d", i, e->size[i],
                                s);
        stack[sp++] = i;
        nc += e->tok[i] == KP_TOK_CONST;
    }
    if (nc != e->nconst || e->nconst > KP_EXPR_MAX_CONSTS)
        return kp_error_set(err, KP_EINTERNAL, NULL, 0, 0,
                            "nconst is %d but there are %d constants",
                            e->nconst, nc);
    for (int k = 0; k < e->nconst; k++) {
        const kp_const_t *c = &e->c[k];
        if (c->den < 0)
            return kp_error_set(err, KP_EINTERNAL, NULL, 0, 0,
                                "constant %d has a negative denominator", k);
        if (c->den > 0) {
            uint64_t an = c->num < 0 ? (uint64_t)0 - (uint64_t)c->num
                                     : (uint64_t)c->num;
            if (gcd_u64(an, (uint64_t)c->den) != 1)
                return kp_error_set(err, KP_EINTERNAL, NULL, 0, 0,
                                    "constant %d (%lld/%lld) is not in "
                                    "lowest terms",
                                    k, (long long)c->num, (long long)c->den);
        }
    }
    return KP_OK;
}

int kp_expr_depth(const kp_expr_t *e)
{
    int d[KP_EXPR_MAX_LEN];
    int stack[KP_EXPR_MAX_LEN];
    int sp = 0;
    if (e->len <= 0)
        return 0;
    for (int i = e->len - 1; i >= 0; i--) {
        int ar = kp_tok_arity(e->tok[i]);
        int m = 0;
        for (int k = 0; k < ar; k++) {
            int c = d[stack[--sp]];
            if (c > m)
                m = c;
        }
        d[i] = m + 1;
        stack[sp++] = i;
    }
    return d[0];
}

int kp_expr_const_index(const kp_expr_t *e, int pos)
{
    int n = 0;
    for (int i = 0; i < pos && i < e->len; i++)
        n += e->tok[i] == KP_TOK_CONST;
    return n;
}

int kp_expr_nvars(const kp_expr_t *e)
{
    int n = 0;
    for (int i = 0; i < e->len; i++)
        if (kp_tok_is_var(e->tok[i]) && kp_tok_var(e->tok[i]) + 1 > n)
            n = kp_tok_var(e->tok[i]) + 1;
    return n;
}

int kp_expr_nfree(const kp_expr_t *e)
{
    int n = 0;
    for (int k = 0; k < e->nconst; k++)
        n += e->c[k].den == 0;
    return n;
}

int kp_expr_replace_subtree(kp_expr_t *r, const kp_expr_t *a, int pos,
                            const kp_expr_t *src, int srcpos)
{
    if (pos < 0 || pos >= a->len || srcpos < 0 || srcpos >= src->len)
        return KP_EINPUT;
    int alen = a->size[pos], slen = src->size[srcpos];
    int len = a->len - alen + slen;
    int ca0 = kp_expr_const_index(a, pos);
    int ca1 = kp_expr_const_index(a, pos + alen);
    int cs0 = kp_expr_const_index(src, srcpos);
    int cs1 = kp_expr_const_index(src, srcpos + slen);
    int nconst = a->nconst - (ca1 - ca0) + (cs1 - cs0);
    if (len > KP_EXPR_MAX_LEN || nconst > KP_EXPR_MAX_CONSTS)
        return KP_EINPUT;

    /* Built in a scratch copy because r may alias a or src. */
    kp_expr_t t;
    memcpy(t.tok, a->tok, sizeof(kp_tok_t) * (size_t)pos);
    memcpy(t.tok + pos, src->tok + srcpos, sizeof(kp_tok_t) * (size_t)slen);
    memcpy(t.tok + pos + slen, a->tok + pos + alen,
           sizeof(kp_tok_t) * (size_t)(a->len - pos - alen));
    memcpy(t.c, a->c, sizeof(kp_const_t) * (size_t)ca0);
    memcpy(t.c + ca0, src->c + cs0, sizeof(kp_const_t) * (size_t)(cs1 - cs0));
    memcpy(t.c + ca0 + (cs1 - cs0), a->c + ca1,
           sizeof(kp_const_t) * (size_t)(a->nconst - ca1));
    t.len = len;
    t.nconst = nconst;
    kp_expr_update_sizes(&t);

    r->len = t.len;
    r->nconst = t.nconst;
    memcpy(r->tok, t.tok, sizeof(kp_tok_t) * (size_t)len);
    memcpy(r->size, t.size, sizeof(uint16_t) * (size_t)len);
    memcpy(r->c, t.c, sizeof(kp_const_t) * (size_t)nconst);
    return KP_OK;
}

int kp_expr_subtree(kp_expr_t *r, const kp_expr_t *a, int pos)
{
    if (pos < 0 || pos >= a->len)
        return KP_EINPUT;
    int len = a->size[pos];
    int c0 = kp_expr_const_index(a, pos);
    int c1 = kp_expr_const_index(a, pos + len);
    /* memmove: r may alias a, and the slice moves towards the front. */
    memmove(r->tok, a->tok + pos, sizeof(kp_tok_t) * (size_t)len);
    memmove(r->size, a->size + pos, sizeof(uint16_t) * (size_t)len);
    memmove(r->c, a->c + c0, sizeof(kp_const_t) * (size_t)(c1 - c0));
    r->len = len;
    r->nconst = c1 - c0;
    return KP_OK;
}

static int const_equal(const kp_const_t *x, const kp_const_t *y)
{
    if (x->den != 0 || y->den != 0)
        return x->den == y->den && x->num == y->num;
    return x->value == y->value || (isnan(x->value) && isnan(y->value));
}

int kp_expr_equal(const kp_expr_t *a, const kp_expr_t *b)
{
    if (a->len != b->len || a->nconst != b->nconst)
        return 0;
    if (memcmp(a->tok, b->tok, sizeof(kp_tok_t) * (size_t)a->len) != 0)
        return 0;
    for (int k = 0; k < a->nconst; k++)
        if (!const_equal(&a->c[k], &b->c[k]))
            return 0;
    return 1;
}

uint64_t kp_expr_hash(const kp_expr_t *e)
{
    /* Tokens, then one 17-byte record per constant: a tag byte (0 free,
       1 exact) and num/den for exact ones (zeros for free ones). */
    unsigned char buf[sizeof(kp_tok_t) * KP_EXPR_MAX_LEN
                      + 17 * KP_EXPR_MAX_CONSTS];
    size_t n = 0;
    for (int i = 0; i < e->len; i++) {
        buf[n++] = (unsigned char)(e->tok[i] & 0xff);
        buf[n++] = (unsigned char)(e->tok[i] >> 8);
    }
    for (int k = 0; k < e->nconst; k++) {
        const kp_const_t *c = &e->c[k];
        uint64_t num = 0, den = 0;
        buf[n++] = c->den != 0;
        if (c->den != 0) {
            num = (uint64_t)c->num;
            den = (uint64_t)c->den;
        }
        for (int b = 0; b < 8; b++)
            buf[n++] = (unsigned char)(num >> (8 * b));
        for (int b = 0; b < 8; b++)
            buf[n++] = (unsigned char)(den >> (8 * b));
    }
    return XXH3_64bits(buf, n);
}
