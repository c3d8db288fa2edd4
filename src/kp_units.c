/* kp_units.c: unit parsing and dimensional consistency (kp_units.h). */
#include "kp_units.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SI derived units in kg, m, s, A. */
static const struct {
    const char *name;
    int kg, m, s, a;
} derived[] = {
    {"N", 1, 1, -2, 0},   {"J", 1, 2, -2, 0},   {"W", 1, 2, -3, 0},
    {"Pa", 1, -1, -2, 0}, {"Hz", 0, 0, -1, 0},  {"C", 0, 0, 1, 1},
    {"V", 1, 2, -3, -1},  {"F", -1, -2, 4, 2},  {"Ohm", 1, 2, -3, -2},
    {"T", 1, 0, -2, -1},  {"Wb", 1, 2, -2, -1}, {"H", 1, 2, -2, -2},
};

void kp_units_init(kp_units_t *u)
{
    memset(u, 0, sizeof *u);
}

void kp_units_clear(kp_units_t *u)
{
    free(u->dim);
    kp_units_init(u);
}

typedef struct {
    kp_units_t *u;
    const char *s; /* whole list */
    size_t pos;
    const char *what;
    kp_error_t *err;
    int bad;
} up_t;

static int up_fail(up_t *p, const char *msg)
{
    if (!p->bad)
        kp_error_set(p->err, KP_EINPUT, p->what, 1, (long)p->pos + 1, "%s",
                     msg);
    p->bad = 1;
    return -1;
}

static void up_space(up_t *p)
{
    while (p->s[p->pos] == ' ')
        p->pos++;
}

static int base_index(up_t *p, const char *name, size_t len)
{
    for (int i = 0; i < p->u->nbase; i++)
        if (strlen(p->u->base[i]) == len && !strncmp(p->u->base[i], name, len))
            return i;
    if (p->u->nbase == KP_UNITS_MAX_BASE || len >= sizeof p->u->base[0])
        return up_fail(p, "too many base dimensions, or a name too long");
    memcpy(p->u->base[p->u->nbase], name, len);
    p->u->base[p->u->nbase][len] = '\0';
    return p->u->nbase++;
}

static void dim_add(kp_dim_t *d, const kp_dim_t *a, int sign)
{
    for (int i = 0; i < KP_UNITS_MAX_BASE; i++)
        d->e[i] += sign * a->e[i];
}

static int up_unit(up_t *p, kp_dim_t *d);

static int up_int(up_t *p, long *v)
{
    up_space(p);
    int neg = 0;
    if (p->s[p->pos] == '-' || p->s[p->pos] == '+')
        neg = p->s[p->pos++] == '-';
    if (!isdigit((unsigned char)p->s[p->pos]))
        return up_fail(p, "expected an integer exponent");
    long x = 0;
    while (isdigit((unsigned char)p->s[p->pos]) && x < 1000)
        x = 10 * x + (p->s[p->pos++] - '0');
    if (x >= 1000)
        return up_fail(p, "exponent too large");
    *v = neg ? -x : x;
    return 0;
}

/* An exponent: k, -k, or (p/q) with q dividing 12; in twelfths. */
static int up_exponent(up_t *p, int *twelfths)
{
    up_space(p);
    long num, den = 1;
    if (p->s[p->pos] == '(') {
        p->pos++;
        if (up_int(p, &num))
            return -1;
        up_space(p);
        if (p->s[p->pos] == '/') {
            p->pos++;
            size_t at = p->pos;
            if (up_int(p, &den))
                return -1;
            if (den <= 0 || KP_UNITS_DEN % den != 0) {
                p->pos = at;
                return up_fail(p, "exponent denominators must divide 12");
            }
        }
        up_space(p);
        if (p->s[p->pos] != ')')
            return up_fail(p, "expected ')' after the exponent");
        p->pos++;
    } else if (up_int(p, &num)) {
        return -1;
    }
    if (den <= 0 || KP_UNITS_DEN % den != 0)
        return up_fail(p, "exponent denominators must divide 12");
    *twelfths = (int)(num * (KP_UNITS_DEN / den));
    return 0;
}

static int up_atom(up_t *p, kp_dim_t *d)
{
    up_space(p);
    memset(d, 0, sizeof *d);
    char c = p->s[p->pos];
    if (c == '(') {
        p->pos++;
        if (up_unit(p, d))
            return -1;
        up_space(p);
        if (p->s[p->pos] != ')')
            return up_fail(p, "expected ')'");
        p->pos++;
        return 0;
    }
    if (c == '1') {
        p->pos++;
        return 0;
    }
    if (!isalpha((unsigned char)c) && c != '_')
        return up_fail(p, "expected a unit name, '1' or '('");
    size_t start = p->pos;
    while (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '_')
        p->pos++;
    size_t len = p->pos - start;
    const char *name = p->s + start;
    for (size_t k = 0; k < sizeof derived / sizeof derived[0]; k++) {
        if (strlen(derived[k].name) != len ||
            strncmp(derived[k].name, name, len))
            continue;
        static const char *si[4] = {"kg", "m", "s", "A"};
        const int pw[4] = {derived[k].kg, derived[k].m, derived[k].s,
                           derived[k].a};
        for (int i = 0; i < 4; i++) {
            if (pw[i] == 0)
                continue;
            int b = base_index(p, si[i], strlen(si[i]));
            if (b < 0)
                return -1;
            d->e[b] += pw[i] * KP_UNITS_DEN;
        }
        return 0;
    }
    int b = base_index(p, name, len);
    if (b < 0)
        return -1;
    d->e[b] = KP_UNITS_DEN;
    return 0;
}

static int up_term(up_t *p, kp_dim_t *d)
{
    if (up_atom(p, d))
        return -1;
    up_space(p);
    int pw = 0;
    if (p->s[p->pos] == '^')
        pw = 1, p->pos += 1;
    else if (p->s[p->pos] == '*' && p->s[p->pos + 1] == '*')
        pw = 1, p->pos += 2;
    if (!pw)
        return 0;
    int k;
    if (up_exponent(p, &k))
        return -1;
    for (int i = 0; i < KP_UNITS_MAX_BASE; i++) {
        long v = (long)d->e[i] * k;
        if (v % KP_UNITS_DEN)
            return up_fail(p, "exponent leaves a denominator that does not "
                              "divide 12");
        d->e[i] = (int)(v / KP_UNITS_DEN);
    }
    return 0;
}

static int up_unit(up_t *p, kp_dim_t *d)
{
    if (up_term(p, d))
        return -1;
    for (;;) {
        up_space(p);
        char c = p->s[p->pos];
        if (c != '*' && c != '/')
            return 0;
        p->pos++;
        kp_dim_t t;
        if (up_term(p, &t))
            return -1;
        dim_add(d, &t, c == '*' ? 1 : -1);
    }
}

int kp_units_parse_list(kp_units_t *u, const char *list, int ncols,
                        const char *what, kp_error_t *err)
{
    kp_units_clear(u);
    if (ncols < 1)
        return kp_error_set(err, KP_EINPUT, what, 0, 0, "no columns");
    u->dim = calloc((size_t)ncols, sizeof *u->dim);
    if (u->dim == NULL)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    u->ncols = ncols;
    up_t p = {u, list, 0, what, err, 0};
    for (int j = 0; j < ncols; j++) {
        if (up_unit(&p, &u->dim[j]))
            return KP_EINPUT;
        up_space(&p);
        char c = list[p.pos];
        if (j + 1 < ncols) {
            if (c != ',') {
                up_fail(&p, c ? "expected ',' before the next column's unit"
                              : "fewer units than columns");
                return KP_EINPUT;
            }
            p.pos++;
        } else if (c != '\0') {
            up_fail(&p, c == ',' ? "more units than columns"
                                 : "unexpected character");
            return KP_EINPUT;
        }
    }
    return KP_OK;
}

void kp_units_format(char *buf, size_t n, const kp_units_t *u,
                     const kp_dim_t *d)
{
    size_t k = 0;
    int any = 0;
    if (n == 0)
        return;
    buf[0] = '\0';
    for (int sign = 1; sign >= -1; sign -= 2)
        for (int i = 0; i < u->nbase; i++) {
            int e = d->e[i] * sign;
            if (e <= 0)
                continue;
            const char *op = !any       ? (sign < 0 ? "1/" : "")
                             : sign < 0 ? "/"
                                        : "*";
            int w;
            if (e == KP_UNITS_DEN)
                w = snprintf(buf + k, n - k, "%s%s", op, u->base[i]);
            else if (e % KP_UNITS_DEN == 0)
                w = snprintf(buf + k, n - k, "%s%s^%d", op, u->base[i],
                             e / KP_UNITS_DEN);
            else {
                int g = e, h = KP_UNITS_DEN;
                while (h) {
                    int t = g % h;
                    g = h;
                    h = t;
                }
                w = snprintf(buf + k, n - k, "%s%s^(%d/%d)", op, u->base[i],
                             e / g, KP_UNITS_DEN / g);
            }
            any = 1;
            if (w < 0 || (size_t)w >= n - k)
                return;
            k += (size_t)w;
        }
    if (!any)
        snprintf(buf, n, "1");
}

/* ---- consistency ------------------------------------------------------- */

enum { D_BAD, D_DIM, D_ANY };

static int is_zero(const kp_dim_t *d)
{
    for (int i = 0; i < KP_UNITS_MAX_BASE; i++)
        if (d->e[i])
            return 0;
    return 1;
}

static int dim_eq(const kp_dim_t *a, const kp_dim_t *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* The exact rational value of the subtree at pos when it is a literal, or
   -, / of literals (as the parser writes (1/2) and -3/2); 0 otherwise. */
static int exact_value(const kp_expr_t *e, int pos, long long *num,
                       long long *den)
{
    kp_tok_t t = e->tok[pos];
    if (t == KP_TOK_CONST) {
        const kp_const_t *c = &e->c[kp_expr_const_index(e, pos)];
        *num = c->num;
        *den = c->den;
        return c->den > 0;
    }
    long long an, ad, bn, bd;
    if (t == KP_OP_NEG && exact_value(e, pos + 1, &an, &ad)) {
        *num = -an;
        *den = ad;
        return 1;
    }
    if (t == KP_OP_DIV && exact_value(e, pos + 1, &an, &ad) &&
        exact_value(e, pos + 1 + e->size[pos + 1], &bn, &bd) && bn != 0 &&
        llabs(an) < (1LL << 31) && llabs(ad) < (1LL << 31) &&
        llabs(bn) < (1LL << 31) && llabs(bd) < (1LL << 31)) {
        *num = an * bd * (bn < 0 ? -1 : 1);
        *den = ad * llabs(bn);
        return 1;
    }
    return 0;
}

/* Dimension of the subtree at *pos (advanced past it). */
static int dim_of(const kp_expr_t *e, int *pos, const kp_dim_t *vars,
                  kp_dim_t *out)
{
    int at = (*pos)++;
    kp_tok_t t = e->tok[at];
    memset(out, 0, sizeof *out);
    if (kp_tok_is_var(t)) {
        *out = vars[kp_tok_var(t)];
        return D_DIM;
    }
    if (t == KP_TOK_CONST)
        return e->c[kp_expr_const_index(e, at)].den == 0 ? D_ANY : D_DIM;
    if (t == KP_OP_PI || t == KP_OP_E)
        return D_DIM;
    kp_dim_t a, b;
    if (t == KP_OP_POW) {
        int ea = at + 1, eb = ea + e->size[ea];
        int ka = dim_of(e, pos, vars, &a);
        int kb = dim_of(e, pos, vars, &b);
        if (ka == D_BAD || kb == D_BAD || (kb == D_DIM && !is_zero(&b)))
            return D_BAD;
        if (ka == D_ANY)
            return D_ANY;
        if (is_zero(&a))
            return D_DIM;
        long long kn, kd;
        if (!exact_value(e, eb, &kn, &kd))
            return D_BAD; /* a dimensioned base needs an exact exponent */
        for (int i = 0; i < KP_UNITS_MAX_BASE; i++) {
            long long v = (long long)a.e[i] * kn;
            if (v % kd || llabs(v / kd) > (1 << 20))
                return D_BAD;
            out->e[i] = (int)(v / kd);
        }
        return D_DIM;
    }
    int ar = kp_tok_arity(t);
    int ka = dim_of(e, pos, vars, &a);
    int kb = ar == 2 ? dim_of(e, pos, vars, &b) : D_DIM;
    if (ka == D_BAD || kb == D_BAD)
        return D_BAD;
    switch (t) {
    case KP_OP_ADD:
    case KP_OP_SUB:
        if (ka == D_ANY && kb == D_ANY)
            return D_ANY;
        if (ka == D_DIM && kb == D_DIM && !dim_eq(&a, &b))
            return D_BAD;
        *out = ka == D_DIM ? a : b;
        return D_DIM;
    case KP_OP_MUL:
    case KP_OP_DIV:
        if (ka == D_ANY || kb == D_ANY)
            return D_ANY;
        *out = a;
        dim_add(out, &b, t == KP_OP_MUL ? 1 : -1);
        return D_DIM;
    case KP_OP_NEG:
    case KP_OP_ABS:
        *out = a;
        return ka;
    case KP_OP_SQRT:
        if (ka == D_ANY)
            return D_ANY;
        for (int i = 0; i < KP_UNITS_MAX_BASE; i++) {
            if (a.e[i] % 2)
                return D_BAD;
            out->e[i] = a.e[i] / 2;
        }
        return D_DIM;
    default: /* exp, log, trigonometric, hyperbolic */
        return ka == D_DIM && !is_zero(&a) ? D_BAD : D_DIM;
    }
}

int kp_units_consistent(const kp_expr_t *e, const kp_dim_t *vars,
                        const kp_dim_t *target)
{
    if (e->len < 1)
        return 0;
    int pos = 0;
    kp_dim_t d;
    int k = dim_of(e, &pos, vars, &d);
    return k == D_ANY || (k == D_DIM && dim_eq(&d, target));
}
