/* kp_recognize.c: constant recognition (see kp_recognize.h for the families
   and the scoring). Candidates from every search are funnelled through
   pool_add, which applies the tolerance and significance tests, removes
   duplicates and keeps the best KP_RECOG_POOL of them. */
#include "kp_recognize.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flint/fmpz.h>
#include <flint/fmpz_lll.h>
#include <flint/fmpz_mat.h>

#define KP_RECOG_POOL 128

#define RC_PI 3.141592653589793238462643383279502884
#define RC_E 2.718281828459045235360287471352662498
#define RC_SQRT2 1.414213562373095048801688724209698079
#define RC_SQRT3 1.732050807568877293527446341505872367
#define RC_LN2 0.693147180559945309417232121458176568

static const int prod_prime[3] = {2, 3, 5};
static const char *const prod_name[KP_RECOG_NPROD] = {"2", "3", "5", "pi",
                                                      "E"};
static const double lin_val[KP_RECOG_NLIN] = {1.0,      RC_PI,  RC_SQRT2,
                                              RC_SQRT3, RC_LN2, RC_E};
static const char *const lin_name[KP_RECOG_NLIN] = {
    "1", "pi", "sqrt(2)", "sqrt(3)", "log(2)", "E"};

static int64_t gcd64(int64_t a, int64_t b)
{
    if (a < 0)
        a = -a;
    if (b < 0)
        b = -b;
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int64_t floor_div(int64_t a, int64_t b) /* b > 0 */
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static double base_value(int i)
{
    return i < 3 ? (double)prod_prime[i] : (i == 3 ? RC_PI : RC_E);
}

/* ---- complexity --------------------------------------------------------- */

static double bits_rat(int64_t p, int64_t q)
{
    return log2(1.0 + (double)p * (double)q);
}

static double bits_exp(int i, int k, int d)
{
    int64_t g = gcd64(k, d);
    double n = fabs((double)(k / g)), dd = (double)(d / g);
    return (i < 3 ? 1.0 : 2.0) + 2.0 * log2(n) + 2.0 * log2(dd);
}

static double complexity(const kp_recog_t *c)
{
    double bits = 0;
    switch (c->kind) {
    case KP_RECOG_RATIONAL:
        return bits_rat(c->p, c->q);
    case KP_RECOG_PRODUCT:
        /* Exponent denominators above 2 open d^5 times more exponent vectors
           than the half-integer scan (only LLL reaches them), so they pay for
           that on top of the per-factor cost. */
        bits = 1.0 + bits_rat(c->p, c->q) +
               (c->d > 2 ? KP_RECOG_NPROD * log2(c->d / 2.0) : 0.0);
        for (int i = 0; i < KP_RECOG_NPROD; i++)
            if (c->k[i])
                bits += bits_exp(i, c->k[i], c->d);
        return bits;
    default: {
        /* An integer relation found by LLL among k numbers at scale N has
           coefficients of size about N^(1/k) and error about 1/N whatever x
           is, so a relation is only worth k log2 of its size: charge every
           used coordinate (b and the nonzero a_i) the bits of the Euclidean
           norm, plus the choice of the used slots. */
        static const double choose6[KP_RECOG_NLIN + 1] = {1, 6, 15, 20, 15, 6, 1};
        int t = 0;
        double norm2 = (double)c->b * (double)c->b;
        for (int i = 0; i < KP_RECOG_NLIN; i++)
            if (c->a[i]) {
                t++;
                norm2 += (double)c->a[i] * (double)c->a[i];
            }
        return 1.0 + log2(choose6[t]) + (t + 1) * log2(2.0 * sqrt(norm2) + 1.0);
    }
    }
}

double kp_recognize_value(const kp_recog_t *c)
{
    double v;
    switch (c->kind) {
    case KP_RECOG_RATIONAL:
        return c->sign * ((double)c->p / (double)c->q);
    case KP_RECOG_PRODUCT:
        v = (double)c->p / (double)c->q;
        for (int i = 0; i < KP_RECOG_NPROD; i++)
            if (c->k[i])
                v *= pow(base_value(i), (double)c->k[i] / c->d);
        return c->sign * v;
    default:
        v = 0;
        /* Sum the irrational terms first, then the integer: keeps 1 + pi/2
           from losing the low bits of pi/2 when a0 dominates. */
        for (int i = KP_RECOG_NLIN - 1; i >= 0; i--)
            v += (double)c->a[i] * lin_val[i];
        return v / (double)c->b;
    }
}

/* ---- the candidate pool ------------------------------------------------- */

typedef struct {
    kp_recog_t c[KP_RECOG_POOL];
    int n;
    double x, tol;
    double min_bits; /* significance a candidate needs */
} pool_t;

static void pool_add(pool_t *pl, kp_recog_t *c)
{
    c->value = kp_recognize_value(c);
    if (!isfinite(c->value))
        return;
    c->rel_err = fabs(c->value - pl->x) / fabs(pl->x);
    if (!(c->rel_err <= pl->tol))
        return;
    c->complexity = complexity(c);
    c->score = -log2(fmax(c->rel_err, KP_RECOG_ERR_FLOOR)) - c->complexity;
    if (c->score < pl->min_bits)
        return;
    for (int i = 0; i < pl->n; i++) {
        kp_recog_t *o = &pl->c[i];
        if (fabs(o->value - c->value) <= 1e-13 * fabs(c->value)) {
            if (c->complexity < o->complexity ||
                (c->complexity == o->complexity && c->kind < o->kind))
                *o = *c;
            return;
        }
    }
    if (pl->n < KP_RECOG_POOL) {
        pl->c[pl->n++] = *c;
        return;
    }
    int worst = 0;
    for (int i = 1; i < pl->n; i++)
        if (pl->c[i].score < pl->c[worst].score)
            worst = i;
    if (c->score > pl->c[worst].score)
        pl->c[worst] = *c;
}

/* Brings a PRODUCT to the canonical form of kp_recog_t: integer parts of the
   prime exponents moved into p/q, everything reduced. Returns 0 if the result
   leaves the search bounds. May turn c into a RATIONAL. */
static int canonicalize_product(kp_recog_t *c)
{
    if (c->d < 1)
        return 0;
    for (int i = 0; i < 3; i++) {
        int64_t f = floor_div(c->k[i], c->d);
        c->k[i] -= (int)(f * c->d);
        int64_t *t = f > 0 ? &c->p : &c->q;
        for (int64_t j = 0; j < (f > 0 ? f : -f); j++) {
            if (*t > INT64_MAX / 8)
                return 0;
            *t *= prod_prime[i];
        }
    }
    int64_t g = gcd64(c->p, c->q);
    if (g == 0)
        return 0;
    c->p /= g;
    c->q /= g;
    g = c->d;
    for (int i = 0; i < KP_RECOG_NPROD; i++)
        g = gcd64(g, c->k[i]);
    c->d /= (int)g;
    int any = 0;
    for (int i = 0; i < KP_RECOG_NPROD; i++) {
        c->k[i] /= (int)g;
        any |= c->k[i] != 0;
    }
    if (c->p < 1 || c->p > KP_RECOG_MAX_NUM || c->q > KP_RECOG_MAX_DEN ||
        c->d > KP_RECOG_MAX_EXPDEN)
        return 0;
    for (int i = 3; i < KP_RECOG_NPROD; i++)
        if (abs(c->k[i]) > KP_RECOG_MAX_PIEXP * c->d)
            return 0;
    if (!any) {
        c->kind = KP_RECOG_RATIONAL;
        c->d = 1;
    }
    return 1;
}

/* ---- continued fractions ------------------------------------------------ */

/* Offers every convergent p/q of y > 0 (within the bounds) as the rational
   part of tmpl. base_bits is the complexity of tmpl beyond its rational part:
   most convergents fail the tolerance or significance test, so they are
   screened here before the costly canonicalisation and evaluation. */
static void cf_scan(pool_t *pl, double y, const kp_recog_t *tmpl,
                    double base_bits)
{
    double r = y;
    double h1 = 1, h0 = 0, k1 = 0, k0 = 1; /* h_{-1}, h_{-2}, k_{-1}, k_{-2} */
    for (int it = 0; it < 64; it++) {
        double a = floor(r);
        double h = a * h1 + h0, k = a * k1 + k0;
        if (h > KP_RECOG_MAX_NUM || k > KP_RECOG_MAX_DEN)
            break;
        double e = fabs(h / k - y) / y;
        if (h >= 1 && e <= pl->tol * 1.01 &&
            -log2(fmax(e, KP_RECOG_ERR_FLOOR)) - bits_rat((int64_t)h, (int64_t)k) -
                    base_bits >= pl->min_bits - 0.01) {
            kp_recog_t c = *tmpl;
            c.p = (int64_t)h;
            c.q = (int64_t)k;
            if (c.kind == KP_RECOG_RATIONAL || canonicalize_product(&c))
                pool_add(pl, &c);
        }
        double frac = r - a;
        if (frac < 1e-12)
            break;
        r = 1.0 / frac;
        h0 = h1;
        h1 = h;
        k0 = k1;
        k1 = k;
    }
}

/* Products with small half-integer exponents: pi^(-4..4 in steps of 1/2),
   e^(-2..2 in steps of 1/2), times the square root of a product of a subset
   of {2, 3, 5}, with a continued-fraction rational prefactor.
   Values and complexities of the factors are tabulated once per call (this
   loop visits about 1200 bases). */
static void scan_products(pool_t *pl, double ax, int sign)
{
    enum { NPI = 2 * KP_RECOG_MAX_PIEXP / 2 + 1, NE = 9 };
    double vpi[NPI], bpi[NPI], ve[NE], be[NE], vs[8], bs[8];
    for (int h = 0; h < NPI; h++) {
        int k = h - NPI / 2;
        vpi[h] = pow(RC_PI, k / 2.0);
        bpi[h] = k ? bits_exp(3, k, 2) : 0;
    }
    for (int h = 0; h < NE; h++) {
        int k = h - NE / 2;
        ve[h] = pow(RC_E, k / 2.0);
        be[h] = k ? bits_exp(4, k, 2) : 0;
    }
    for (int s = 0; s < 8; s++) {
        vs[s] = sqrt((s & 1 ? 2.0 : 1.0) * (s & 2 ? 3.0 : 1.0) *
                     (s & 4 ? 5.0 : 1.0));
        bs[s] = 0;
        for (int i = 0; i < 3; i++)
            if (s >> i & 1)
                bs[s] += bits_exp(i, 1, 2);
    }
    for (int hp = 0; hp < NPI; hp++)
        for (int he = 0; he < NE; he++)
            for (int s = 0; s < 8; s++) {
                kp_recog_t t;
                memset(&t, 0, sizeof t);
                t.sign = sign;
                t.p = t.q = 1;
                t.d = 2;
                t.k[0] = s & 1;
                t.k[1] = (s >> 1) & 1;
                t.k[2] = (s >> 2) & 1;
                t.k[3] = hp - NPI / 2;
                t.k[4] = he - NE / 2;
                t.kind = KP_RECOG_PRODUCT;
                double bits = 1.0 + bpi[hp] + be[he] + bs[s];
                if (!t.k[3] && !t.k[4] && !s) {
                    t.kind = KP_RECOG_RATIONAL;
                    t.d = 1;
                    bits = 0;
                }
                cf_scan(pl, ax / (vpi[hp] * ve[he] * vs[s]), &t, bits);
            }
}

/* ---- LLL integer relations ---------------------------------------------- */

/* Reduces the lattice spanned by the rows (e_i | round(scale * v_i)), i < n,
   and writes the first n coordinates of each reduced row (a relation
   sum m_j v_j ~ 0) to rel (n x n, row major); rows with a coefficient
   outside [-bound, bound] are marked by rel[i*n] = INT64_MIN. */
static void lll_relations(int64_t *rel, const double *v, int n, double scale,
                          int64_t bound)
{
    fmpz_mat_t B;
    fmpz_lll_t fl;
    fmpz_mat_init(B, n, n + 1);
    for (int i = 0; i < n; i++) {
        fmpz_one(fmpz_mat_entry(B, i, i));
        fmpz_set_d(fmpz_mat_entry(B, i, n), round(scale * v[i]));
    }
    fmpz_lll_context_init(fl, 0.99, 0.51, Z_BASIS, APPROX);
    fmpz_lll(B, NULL, fl);
    for (int i = 0; i < n; i++) {
        int ok = 1;
        for (int j = 0; j < n; j++) {
            const fmpz *e = fmpz_mat_entry(B, i, j);
            if (fmpz_cmp_si(e, -bound) < 0 || fmpz_cmp_si(e, bound) > 0) {
                ok = 0;
                break;
            }
            rel[i * n + j] = fmpz_get_si(e);
        }
        if (!ok)
            rel[i * n] = INT64_MIN;
    }
    fmpz_mat_clear(B);
}

static const double lll_scales[] = {1e6, 1e9, 1e12};

/* m0 log|x| + m1 log 2 + m2 log 3 + m3 log 5 + m4 log pi + m5 = 0. */
static void lll_products(pool_t *pl, double ax, int sign)
{
    enum { N = 6 };
    double v[N] = {log(ax), log(2.0), log(3.0), log(5.0), log(RC_PI), 1.0};
    int64_t rel[N * N];
    for (size_t s = 0; s < sizeof lll_scales / sizeof lll_scales[0]; s++) {
        lll_relations(rel, v, N, lll_scales[s], 64);
        for (int i = 0; i < N; i++) {
            int64_t *m = rel + i * N;
            if (m[0] == INT64_MIN || m[0] == 0)
                continue;
            int64_t sg = m[0] > 0 ? 1 : -1;
            kp_recog_t c;
            memset(&c, 0, sizeof c);
            c.kind = KP_RECOG_PRODUCT;
            c.sign = sign;
            c.p = c.q = 1;
            c.d = (int)(sg * m[0]);
            for (int j = 0; j < KP_RECOG_NPROD; j++)
                c.k[j] = (int)(-sg * m[j + 1]);
            if (c.d <= 4 * KP_RECOG_MAX_EXPDEN && canonicalize_product(&c))
                pool_add(pl, &c);
        }
    }
}

/* m0 x + m1 + m2 pi + m3 sqrt2 + m4 sqrt3 + m5 ln2 + m6 e = 0. */
static void lll_linear(pool_t *pl, double x)
{
    enum { N = 1 + KP_RECOG_NLIN };
    double v[N];
    int64_t rel[N * N];
    if (fabs(x) > 1e6)
        return;
    v[0] = x;
    for (int i = 0; i < KP_RECOG_NLIN; i++)
        v[i + 1] = lin_val[i];
    for (size_t s = 0; s < sizeof lll_scales / sizeof lll_scales[0]; s++) {
        lll_relations(rel, v, N, lll_scales[s], KP_RECOG_MAX_LINCOEF);
        for (int i = 0; i < N; i++) {
            int64_t *m = rel + i * N;
            if (m[0] == INT64_MIN || m[0] == 0)
                continue;
            int64_t sg = m[0] > 0 ? 1 : -1, g = m[0];
            int irr = 0;
            for (int j = 1; j < N; j++) {
                g = gcd64(g, m[j]);
                irr |= j > 1 && m[j] != 0;
            }
            if (!irr)
                continue; /* a plain rational: the rational family has it */
            kp_recog_t c;
            memset(&c, 0, sizeof c);
            c.kind = KP_RECOG_LINEAR;
            c.b = sg * m[0] / g;
            for (int j = 0; j < KP_RECOG_NLIN; j++)
                c.a[j] = -sg * m[j + 1] / g;
            c.sign = x > 0 ? 1 : -1;
            pool_add(pl, &c);
        }
    }
}

static int cmp_cand(const void *pa, const void *pb)
{
    const kp_recog_t *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->complexity != b->complexity)
        return a->complexity < b->complexity ? -1 : 1;
    return a->kind - b->kind;
}

int kp_recognize(kp_recog_t *out, int max_out, double x, double rel_tol,
                 kp_error_t *err)
{
    return kp_recognize_bits(out, max_out, x, rel_tol, KP_RECOG_MIN_BITS,
                             err);
}

int kp_recognize_bits(kp_recog_t *out, int max_out, double x, double rel_tol,
                      double min_bits, kp_error_t *err)
{
    if (!isfinite(x))
        return -kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                             "recognize: value is not finite");
    if (!(rel_tol > 0 && rel_tol < 1))
        return -kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                             "recognize: relative tolerance %g not in (0, 1)",
                             rel_tol);
    if (max_out < 0 || (max_out > 0 && !out))
        return -kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                             "recognize: bad output buffer");
    if (x == 0) {
        if (max_out == 0)
            return 0;
        memset(out, 0, sizeof *out);
        out->kind = KP_RECOG_RATIONAL;
        out->q = 1;
        out->d = 1;
        out->b = 1;
        out->score = -log2(KP_RECOG_ERR_FLOOR);
        return 1;
    }
    pool_t *pl = malloc(sizeof *pl);
    if (!pl)
        return -kp_error_set(err, KP_ENOMEM, NULL, 0, 0,
                             "recognize: out of memory");
    pl->n = 0;
    pl->x = x;
    pl->tol = fmax(rel_tol, 4 * DBL_EPSILON);
    pl->min_bits = min_bits;
    int sign = x > 0 ? 1 : -1;
    double ax = fabs(x);
    scan_products(pl, ax, sign);
    lll_products(pl, ax, sign);
    lll_linear(pl, x);
    qsort(pl->c, (size_t)pl->n, sizeof pl->c[0], cmp_cand);
    int n = pl->n < max_out ? pl->n : max_out;
    for (int i = 0; i < n; i++) {
        out[i] = pl->c[i];
        if (out[i].kind != KP_RECOG_PRODUCT)
            out[i].d = 1;
        if (out[i].kind != KP_RECOG_LINEAR)
            out[i].b = 1;
    }
    free(pl);
    return n;
}

int kp_recognize_rational(kp_recog_t *out, double x, double rel_tol,
                          int64_t max_den, kp_error_t *err)
{
    if (!isfinite(x) || !(rel_tol >= 0 && rel_tol < 1))
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "recognize: bad value or tolerance");
    if (max_den < 1 || max_den > 1000000000)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "recognize: max_den %lld not in [1, 1e9]",
                            (long long)max_den);
    kp_recog_t c;
    memset(&c, 0, sizeof c);
    c.kind = KP_RECOG_RATIONAL;
    c.d = 1;
    c.b = 1;
    c.q = 1;
    double ax = fabs(x);
    if (x != 0) {
        /* The first q that works is the smallest denominator; p/q is then
           automatically in lowest terms. */
        int64_t q;
        for (q = 1; q <= max_den; q++) {
            double pq = round(ax * (double)q);
            if (pq > 9007199254740992.0)
                return KP_ENOTFOUND;
            if (pq >= 1 && fabs(pq / (double)q - ax) <= rel_tol * ax) {
                c.p = (int64_t)pq;
                break;
            }
        }
        if (q > max_den)
            return KP_ENOTFOUND;
        c.q = q;
        c.sign = x > 0 ? 1 : -1;
        c.value = kp_recognize_value(&c);
        c.rel_err = fabs(c.value - x) / ax;
        c.complexity = complexity(&c);
        c.score = -log2(fmax(c.rel_err, KP_RECOG_ERR_FLOOR)) - c.complexity;
    } else {
        c.score = -log2(KP_RECOG_ERR_FLOOR);
    }
    *out = c;
    return KP_OK;
}

/* ---- printing ----------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t n, len;
} sbuf_t;

static void sb_printf(sbuf_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = s->len < s->n ? s->n - s->len : 0;
    int k = vsnprintf(room ? s->buf + s->len : NULL, room, fmt, ap);
    va_end(ap);
    if (k > 0)
        s->len += (size_t)k;
}

/* base^(n/d) for n/d > 0 in lowest terms. */
static void print_power(sbuf_t *s, const char *base, int64_t n, int64_t d)
{
    if (n == 1 && d == 1)
        sb_printf(s, "%s", base);
    else if (n == 1 && d == 2)
        sb_printf(s, "sqrt(%s)", base);
    else if (d == 1)
        sb_printf(s, "%s**%lld", base, (long long)n);
    else
        sb_printf(s, "%s**(%lld/%lld)", base, (long long)n, (long long)d);
}

/* The factors of a PRODUCT on one side of the fraction bar: the integer
   (p or q) and the bases whose exponent has sign side. Returns the count. */
static int product_side(sbuf_t *s, const kp_recog_t *c, int side)
{
    int count = 0;
    int64_t r = side > 0 ? c->p : c->q;
    if (r != 1) {
        if (s)
            sb_printf(s, "%lld", (long long)r);
        count++;
    }
    for (int i = 0; i < KP_RECOG_NPROD; i++) {
        if (c->k[i] == 0 || (c->k[i] > 0) != (side > 0))
            continue;
        if (s) {
            int64_t g = gcd64(c->k[i], c->d);
            if (count)
                sb_printf(s, "*");
            print_power(s, prod_name[i], llabs(c->k[i] / g), c->d / g);
        }
        count++;
    }
    return count;
}

size_t kp_recognize_print(char *buf, size_t n, const kp_recog_t *c)
{
    sbuf_t s = {buf, n, 0};
    if (n > 0)
        buf[0] = '\0';
    if (c->kind == KP_RECOG_RATIONAL) {
        sb_printf(&s, "%s%lld", c->sign < 0 ? "-" : "", (long long)c->p);
        if (c->q != 1)
            sb_printf(&s, "/%lld", (long long)c->q);
    } else if (c->kind == KP_RECOG_PRODUCT) {
        int nnum = product_side(NULL, c, 1), nden = product_side(NULL, c, -1);
        if (c->sign < 0)
            sb_printf(&s, "-");
        if (nnum)
            product_side(&s, c, 1);
        else
            sb_printf(&s, "1");
        if (nden) {
            sb_printf(&s, nden > 1 ? "/(" : "/");
            product_side(&s, c, -1);
            if (nden > 1)
                sb_printf(&s, ")");
        }
    } else {
        int first = 1;
        for (int i = 0; i < KP_RECOG_NLIN; i++) {
            if (c->a[i] == 0)
                continue;
            int64_t g = gcd64(c->a[i], c->b);
            int64_t num = c->a[i] / g, den = c->b / g;
            if (first)
                sb_printf(&s, num < 0 ? "-" : "");
            else
                sb_printf(&s, num < 0 ? " - " : " + ");
            first = 0;
            num = llabs(num);
            if (i == 0)
                sb_printf(&s, "%lld", (long long)num);
            else if (num == 1)
                sb_printf(&s, "%s", lin_name[i]);
            else
                sb_printf(&s, "%lld*%s", (long long)num, lin_name[i]);
            if (den != 1)
                sb_printf(&s, "/%lld", (long long)den);
        }
        if (first)
            sb_printf(&s, "0");
    }
    return s.len;
}

/* ---- expressions -------------------------------------------------------- */

static int push_base(kp_expr_t *e, int i)
{
    if (i < 3)
        return kp_expr_push_rational(e, prod_prime[i], 1);
    return kp_expr_push_op(e, i == 3 ? KP_OP_PI : KP_OP_E);
}

/* One side of a PRODUCT (see product_side) as a left-nested product. */
static int push_product_side(kp_expr_t *e, const kp_recog_t *c, int side)
{
    int count = product_side(NULL, c, side), rc = KP_OK;
    int64_t r = side > 0 ? c->p : c->q;
    if (count == 0)
        return kp_expr_push_rational(e, 1, 1);
    for (int j = 1; j < count && rc == KP_OK; j++)
        rc = kp_expr_push_op(e, KP_OP_MUL);
    if (r != 1 && rc == KP_OK)
        rc = kp_expr_push_rational(e, r, 1);
    for (int i = 0; i < KP_RECOG_NPROD && rc == KP_OK; i++) {
        if (c->k[i] == 0 || (c->k[i] > 0) != (side > 0))
            continue;
        int64_t g = gcd64(c->k[i], c->d);
        int64_t num = llabs(c->k[i] / g), den = c->d / g;
        if (num == 1 && den == 1) {
            rc = push_base(e, i);
        } else if (num == 1 && den == 2) {
            rc = kp_expr_push_op(e, KP_OP_SQRT);
            if (rc == KP_OK)
                rc = push_base(e, i);
        } else {
            rc = kp_expr_push_op(e, KP_OP_POW);
            if (rc == KP_OK)
                rc = push_base(e, i);
            if (rc == KP_OK)
                rc = kp_expr_push_rational(e, num, den);
        }
    }
    return rc;
}

static int push_lin_const(kp_expr_t *e, int i)
{
    int rc;
    switch (i) {
    case 1:
        return kp_expr_push_op(e, KP_OP_PI);
    case 2:
    case 3:
        rc = kp_expr_push_op(e, KP_OP_SQRT);
        return rc ? rc : kp_expr_push_rational(e, i == 2 ? 2 : 3, 1);
    case 4:
        rc = kp_expr_push_op(e, KP_OP_LOG);
        return rc ? rc : kp_expr_push_rational(e, 2, 1);
    default:
        return kp_expr_push_op(e, KP_OP_E);
    }
}

static int valid_cand(const kp_recog_t *c)
{
    if (c->kind == KP_RECOG_RATIONAL)
        return c->q >= 1 && c->p >= 0 && (c->p == 0) == (c->sign == 0) &&
               c->sign >= -1 && c->sign <= 1;
    if (c->kind == KP_RECOG_PRODUCT) {
        if (c->q < 1 || c->p < 1 || c->d < 1 || (c->sign != 1 && c->sign != -1))
            return 0;
        for (int i = 0; i < KP_RECOG_NPROD; i++)
            if (abs(c->k[i]) > 1000000)
                return 0;
        return 1;
    }
    if (c->kind == KP_RECOG_LINEAR) {
        if (c->b < 1)
            return 0;
        for (int i = 0; i < KP_RECOG_NLIN; i++)
            if (c->a[i] == INT64_MIN)
                return 0;
        return 1;
    }
    return 0;
}

int kp_recognize_to_expr(kp_expr_t *out, const kp_recog_t *c, kp_error_t *err)
{
    kp_expr_t e;
    int rc = KP_OK;
    if (!valid_cand(c))
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "recognize: malformed candidate");
    kp_expr_init(&e);
    if (c->kind == KP_RECOG_RATIONAL) {
        rc = kp_expr_push_rational(&e, c->sign * c->p, c->q);
    } else if (c->kind == KP_RECOG_PRODUCT) {
        int nden = product_side(NULL, c, -1);
        if (c->sign < 0)
            rc = kp_expr_push_op(&e, KP_OP_NEG);
        if (nden && rc == KP_OK)
            rc = kp_expr_push_op(&e, KP_OP_DIV);
        if (rc == KP_OK)
            rc = push_product_side(&e, c, 1);
        if (nden && rc == KP_OK)
            rc = push_product_side(&e, c, -1);
    } else {
        /* Left-nested chain ((t1 op t2) op t3)...: operators come first in
           prefix order, the last one outermost. */
        int idx[KP_RECOG_NLIN], nt = 0;
        for (int i = 0; i < KP_RECOG_NLIN; i++)
            if (c->a[i])
                idx[nt++] = i;
        if (nt == 0)
            rc = kp_expr_push_rational(&e, 0, 1);
        for (int j = nt - 1; j >= 1 && rc == KP_OK; j--)
            rc = kp_expr_push_op(&e, c->a[idx[j]] < 0 ? KP_OP_SUB : KP_OP_ADD);
        for (int j = 0; j < nt && rc == KP_OK; j++) {
            int i = idx[j];
            int64_t g = gcd64(c->a[i], c->b);
            int64_t num = c->a[i] / g, den = c->b / g;
            if (j > 0)
                num = llabs(num); /* the sign is in the SUB */
            if (i == 0) {
                rc = kp_expr_push_rational(&e, num, den);
            } else if (num == 1 && den == 1) {
                rc = push_lin_const(&e, i);
            } else if (num == -1 && den == 1) {
                rc = kp_expr_push_op(&e, KP_OP_NEG);
                if (rc == KP_OK)
                    rc = push_lin_const(&e, i);
            } else {
                rc = kp_expr_push_op(&e, KP_OP_MUL);
                if (rc == KP_OK)
                    rc = kp_expr_push_rational(&e, num, den);
                if (rc == KP_OK)
                    rc = push_lin_const(&e, i);
            }
        }
    }
    if (rc != KP_OK)
        return kp_error_set(err, rc, NULL, 0, 0,
                            "recognize: expression too long");
    rc = kp_expr_finish(&e, err);
    if (rc == KP_OK)
        *out = e;
    return rc;
}
