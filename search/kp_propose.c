/* kp_propose.c: sparse polynomial and rational fits of transformed targets
   (contract in kp_propose.h).

   Layout of the work: the rows are sampled once; the numerator library
   (Laurent monomials) and the denominator library (monomials with
   non-negative exponents, low degree) are evaluated once; then every job
   (base b, transform t, pivot) runs one forward orthogonal least squares
   (OLS) selection and leaves one candidate per number of terms. Jobs run
   in parallel and write only their own slots; candidates are ranked by an
   information criterion in job order, so the result is deterministic. */
#define _GNU_SOURCE /* qsort_r */
#include "kp_propose.h"

#include <flint/fmpq.h>
#include <flint/fmpq_mpoly.h>

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PP_MAX_TERMS 16
#define PP_MAX_DEG 6

enum {
    T_ID,
    T_INV,
    T_SQ,
    T_INVSQ,
    T_SQRT,
    T_LOG,
    T_EXP,
    T_LOG1P,    /* log(1 + y): y = C exp(P) prod x^a - 1, as the diode's
                   I0 (exp(q V / (k T)) - 1) once divided by I0 */
    T_LOG1PINV, /* log(1 + 1/y): y = 1 / (C exp(P) prod x^a - 1), the
                   Bose-Einstein and Planck form 1 / (exp(h w / (k T)) - 1) */
    T_LOGLOG,   /* log|log|y||: y = exp(+-C prod x_i^a_i), as n0 exp(-m g x /
                   (k T)) once divided by its prefactor n0 */
    T_COUNT
};

/* Transforms whose fits take log|x_i| columns (power-law factors). */
static int takes_logs(int tr)
{
    return tr == T_LOG || tr == T_LOGLOG || tr == T_LOG1P || tr == T_LOG1PINV;
}

void kp_propose_params_default(kp_propose_params_t *p)
{
    p->max_rows = 256;
    p->max_terms = 12;
    p->max_library = 260;
    p->max_pivots = 55;
    p->max_vars = 12;
    p->threads = 0;
    p->max_work = 3e8;
}

/* A library of monomials: exponents in halves (h = 2 * exponent), one row
   of nvars per monomial, and the column of its values on the rows. */
typedef struct {
    int n;       /* monomials */
    int8_t *h;   /* n * nvars */
    double *col; /* n * rows */
} pp_lib_t;

typedef struct {
    int nvars;
    size_t rows;
    double *x;         /* nvars * rows */
    double *y;         /* rows */
    pp_lib_t num[3];   /* numerators: [0] polynomials of low degree (a small
                          library where greedy selection rarely goes wrong),
                          [1] Laurent monomials of higher degree, [2]
                          products of many inputs to the power +-1 */
    pp_lib_t den;      /* denominator monomials (non-negative exponents) */
    int den_one;       /* index of the constant monomial in den */
    int piv_limit;     /* rational fits for pivots den[0..piv_limit-1] */
    int rat_laurent;   /* rational fits with the Laurent numerators too */
    int8_t pre[2][64]; /* power-law prefactors, exponents in halves */
    double *logx;      /* log|x_i| (nvars * rows) for the log transform */
    int logok[64];     /* x_i has no zero, so log|x_i| is finite */
    int npre;
} pp_ctx_t;

/* One fitted model: base (0: y, b > 0: y / prefactor b - 1), transform,
   numerator library, pivot (index in den; the constant monomial with no other
   denominator terms means a polynomial), selected columns (index in the
   numerator library, or its size + den index for a denominator term) and
   their coefficients. */
typedef struct {
    int base, tr, lib, pivot, k;
    int sel[PP_MAX_TERMS];
    double coef[PP_MAX_TERMS];
    double crit;
    int valid;
} pp_cand_t;

/* ---- libraries ----------------------------------------------------------- */

/* Number of exponent vectors on d variables with sum |e_i| <= D (Laurent)
   or sum e_i <= D, e_i >= 0; saturates at cap + 1. */
static long count_vectors(int d, int D, int laurent, long cap)
{
    /* c[s]: vectors on the variables seen so far with total s */
    long c[PP_MAX_DEG + 1] = {1};
    for (int v = 0; v < d; v++) {
        long nc[PP_MAX_DEG + 1] = {0};
        for (int s = 0; s <= D; s++)
            for (int e = 0; s + e <= D; e++) {
                long ways = e == 0 ? 1 : laurent ? 2 : 1;
                nc[s + e] += c[s] * ways;
                if (nc[s + e] > cap)
                    nc[s + e] = cap + 1;
            }
        memcpy(c, nc, sizeof c);
    }
    long t = 0;
    for (int s = 0; s <= D; s++)
        t += c[s];
    return t > cap ? cap + 1 : t;
}

static void enum_rec(pp_lib_t *L, int nvars, int v, int left, int laurent,
                     int8_t *cur)
{
    if (v == nvars) {
        memcpy(L->h + (size_t)L->n * nvars, cur, (size_t)nvars);
        L->n++;
        return;
    }
    for (int e = laurent ? -left : 0; e <= left; e++) {
        cur[v] = (int8_t)(2 * e);
        enum_rec(L, nvars, v + 1, left - abs(e), laurent, cur);
    }
    cur[v] = 0;
}

/* Multilinear Laurent monomials: every exponent -1, 0 or 1, at most s
   inputs involved, s the largest with at most cap monomials. They cover
   the long products of physics (m g x / (k T), p E cos / (k T)) that the
   degree-bounded libraries cannot reach. */
static int lib_build_multilinear(pp_lib_t *L, int nvars, long cap)
{
    long count[65] = {1}; /* monomials with support exactly k */
    long binom = 1, total = 1;
    int s = 0;
    for (int k = 1; k <= nvars; k++) {
        binom = binom * (nvars - k + 1) / k;
        count[k] = binom << k;
        if (total + count[k] > cap)
            break;
        total += count[k];
        s = k;
    }
    L->n = 0;
    L->h = malloc((size_t)total * (size_t)nvars);
    if (L->h == NULL)
        return -1;
    /* by support size, then in the order of the base-3 digits */
    for (int k = 0; k <= s; k++) {
        long all = 1;
        for (int i = 0; i < nvars; i++)
            all *= 3;
        for (long code = 0; code < all; code++) {
            int8_t h[64];
            long v = code;
            int sup = 0;
            for (int i = 0; i < nvars; i++, v /= 3) {
                h[i] = (int8_t)(2 * (int)(v % 3) - 2); /* -2, 0, 2 */
                sup += h[i] != 0;
            }
            if (sup == k)
                memcpy(L->h + (size_t)L->n++ * nvars, h, (size_t)nvars);
        }
    }
    return 0;
}

/* Builds the library of the largest degree D <= PP_MAX_DEG with at most cap
   monomials (at least degree 1). */
static int lib_build(pp_lib_t *L, int nvars, int laurent, long cap)
{
    /* Laurent monomials of high degree are nearly collinear on positive
       data (x^-3 y^3 against x^-2 y^2 ...), which ruins the fits, and laws
       rarely need them. */
    int D = 1, dmax = laurent ? 4 : PP_MAX_DEG;
    while (D < dmax && count_vectors(nvars, D + 1, laurent, cap) <= cap)
        D++;
    long n = count_vectors(nvars, D, laurent, 1L << 40);
    L->n = 0;
    L->h = malloc((size_t)n * (size_t)nvars);
    if (L->h == NULL)
        return -1;
    int8_t cur[64] = {0};
    enum_rec(L, nvars, 0, D, laurent, cur);
    /* By total degree, stably: the simplest monomials first. */
    int8_t *sorted = malloc((size_t)L->n * (size_t)nvars);
    if (sorted == NULL)
        return -1;
    int m = 0;
    for (int deg = 0; deg <= 2 * D; deg += 2)
        for (int k = 0; k < L->n; k++) {
            const int8_t *h = L->h + (size_t)k * nvars;
            int t = 0;
            for (int i = 0; i < nvars; i++)
                t += abs(h[i]);
            if (t == deg)
                memcpy(sorted + (size_t)m++ * nvars, h, (size_t)nvars);
        }
    free(L->h);
    L->h = sorted;
    return 0;
}

/* x**(h/2) for a row value x. */
static double half_pow(double x, int h)
{
    if (h == 0)
        return 1.0;
    if (h % 2 == 0) {
        int k = abs(h / 2);
        double r = 1.0;
        for (int i = 0; i < k; i++)
            r *= x;
        return h > 0 ? r : 1.0 / r;
    }
    return pow(x, 0.5 * h);
}

static double monomial_at(const int8_t *h, const double *x, int nvars,
                          size_t rows, size_t j)
{
    double v = 1.0;
    for (int i = 0; i < nvars; i++)
        if (h[i])
            v *= half_pow(x[(size_t)i * rows + j], h[i]);
    return v;
}

/* Evaluates L's columns; drops monomials that are not finite on every row
   or vanish there. */
static int lib_eval(pp_lib_t *L, const pp_ctx_t *c)
{
    if (L->n == 0)
        return 0;
    L->col = malloc(sizeof(double) * (size_t)L->n * c->rows);
    if (L->col == NULL)
        return -1;
    int m = 0;
    for (int k = 0; k < L->n; k++) {
        const int8_t *h = L->h + (size_t)k * c->nvars;
        double *col = L->col + (size_t)m * c->rows, ss = 0;
        int ok = 1;
        for (size_t j = 0; j < c->rows && ok; j++) {
            col[j] = monomial_at(h, c->x, c->nvars, c->rows, j);
            ok = isfinite(col[j]);
            ss += col[j] * col[j];
        }
        if (!ok || !(ss > 0) || !isfinite(ss))
            continue;
        memmove(L->h + (size_t)m * c->nvars, h, (size_t)c->nvars);
        m++;
    }
    L->n = m;
    return 0;
}

/* ---- transforms ------------------------------------------------------------
 */

/* Writes T(v) for every row into t; 0 when a value is not finite (then the
   transform does not apply). *sign receives the common sign of the base
   for the transforms that need one, and for T_LOGLOG twice that when
   log|v| is negative. */
static int transform(double *t, int tr, const double *v, size_t n, int *sign)
{
    int pos = 1, neg = 1, lpos = 1, lneg = 1;
    for (size_t j = 0; j < n; j++) {
        pos &= v[j] > 0;
        neg &= v[j] < 0;
        lpos &= fabs(v[j]) > 1;
        lneg &= fabs(v[j]) < 1;
    }
    *sign = neg ? -1 : 1;
    if ((tr == T_SQ || tr == T_INVSQ || tr == T_SQRT || tr == T_LOG ||
         tr == T_LOGLOG) &&
        !pos && !neg)
        return 0;
    if (tr == T_LOGLOG) {
        if (!lpos && !lneg)
            return 0;
        if (lneg)
            *sign *= 2;
    }
    for (size_t j = 0; j < n; j++) {
        double a = fabs(v[j]);
        switch (tr) {
        case T_ID:
            t[j] = v[j];
            break;
        case T_INV:
            t[j] = 1.0 / v[j];
            break;
        case T_SQ:
            t[j] = a * a;
            break;
        case T_INVSQ:
            t[j] = 1.0 / (a * a);
            break;
        case T_SQRT:
            t[j] = sqrt(a);
            break;
        case T_LOG:
            t[j] = log(a);
            break;
        case T_EXP: /* y = log(P) */
            t[j] = fabs(v[j]) <= 40 ? exp(v[j]) : NAN;
            break;
        case T_LOG1P:
            t[j] = v[j] > -1 ? log1p(v[j]) : NAN;
            break;
        case T_LOG1PINV:
            t[j] = 1 / v[j] > -1 ? log1p(1 / v[j]) : NAN;
            break;
        default:
            t[j] = log(fabs(log(a)));
            break;
        }
        if (!isfinite(t[j]))
            return 0;
    }
    return 1;
}

/* ---- forward orthogonal least squares
 * ---------------------------------------- */

/* Least squares for target t on the k columns cols[0..k-1] (rows each) by
   modified Gram-Schmidt on unit-scaled columns; coef receives the
   coefficients. Returns the relative residual, or INFINITY if singular. */
static double ls_solve(double *coef, const double *const *cols, int k,
                       const double *t, size_t rows, double *work)
{
    double *Q = work, R[PP_MAX_TERMS][PP_MAX_TERMS] = {{0}};
    double scale[PP_MAX_TERMS], qt[PP_MAX_TERMS];
    double tn = 0;
    for (size_t j = 0; j < rows; j++)
        tn += t[j] * t[j];
    for (int a = 0; a < k; a++) {
        double *q = Q + (size_t)a * rows, ss = 0;
        for (size_t j = 0; j < rows; j++)
            ss += cols[a][j] * cols[a][j];
        scale[a] = ss > 0 ? 1.0 / sqrt(ss) : 0;
        for (size_t j = 0; j < rows; j++)
            q[j] = cols[a][j] * scale[a];
        for (int b = 0; b < a; b++) {
            const double *qb = Q + (size_t)b * rows;
            double d = 0;
            for (size_t j = 0; j < rows; j++)
                d += qb[j] * q[j];
            R[b][a] = d;
            for (size_t j = 0; j < rows; j++)
                q[j] -= d * qb[j];
        }
        double nn = 0;
        for (size_t j = 0; j < rows; j++)
            nn += q[j] * q[j];
        if (!(nn > 1e-24))
            return INFINITY;
        nn = sqrt(nn);
        R[a][a] = nn;
        for (size_t j = 0; j < rows; j++)
            q[j] /= nn;
    }
    double rr = tn;
    for (int a = 0; a < k; a++) {
        const double *q = Q + (size_t)a * rows;
        double d = 0;
        for (size_t j = 0; j < rows; j++)
            d += q[j] * t[j];
        qt[a] = d;
        rr -= d * d;
    }
    for (int a = k - 1; a >= 0; a--) {
        double s = qt[a];
        for (int b = a + 1; b < k; b++)
            s -= R[a][b] * coef[b];
        coef[a] = s / R[a][a];
    }
    for (int a = 0; a < k; a++)
        coef[a] *= scale[a];
    /* The residual from the sums loses digits near 0: recompute it. */
    double res = 0;
    for (size_t j = 0; j < rows; j++) {
        double f = 0;
        for (int a = 0; a < k; a++)
            f += coef[a] * cols[a][j];
        double d = t[j] - f;
        res += d * d;
    }
    (void)rr;
    return tn > 0 ? sqrt(res / tn) : INFINITY;
}

/* Bayesian information criterion of a fit with n terms on the relative
   residual, floored so that fits exact to rounding tie and the simpler one
   wins. */
static double fit_crit(size_t rows, double rel, int n)
{
    return (double)rows * log(rel * rel + 1e-24) +
           (double)n * log((double)rows) * 2;
}

/* One job: greedy selection of up to kmax of the ncols columns (cols[i],
   skipping excluded ones) for target t; out[k - 1] gets the model with k
   terms. work holds rows * (ncols + 2 * kmax + 1) doubles. */
static void ols_job(pp_cand_t *out, int kmax, const double *const *cols,
                    int ncols, const unsigned char *excluded, const double *t,
                    size_t rows, double *work)
{
    double *perp = work;                     /* ncols * rows */
    double *r = perp + (size_t)ncols * rows; /* rows */
    double *lsw = r + rows;                  /* kmax * rows */
    double *nrm = malloc(sizeof(double) * (size_t)ncols * 2);
    unsigned char *used = calloc((size_t)ncols, 1);
    for (int k = 0; k < kmax; k++)
        out[k].valid = 0;
    if (nrm == NULL || used == NULL) {
        free(nrm);
        free(used);
        return;
    }
    double *nrm0 = nrm + ncols;
    for (int i = 0; i < ncols; i++) {
        double *p = perp + (size_t)i * rows, ss = 0;
        for (size_t j = 0; j < rows; j++) {
            p[j] = cols[i][j];
            ss += p[j] * p[j];
        }
        nrm[i] = nrm0[i] = ss;
        used[i] = excluded && excluded[i];
    }
    memcpy(r, t, sizeof(double) * rows);
    int sel[PP_MAX_TERMS];
    const double *sc[PP_MAX_TERMS];
    for (int k = 0; k < kmax; k++) {
        int best = -1;
        double bs = -1;
        for (int i = 0; i < ncols; i++) {
            if (used[i] || !(nrm[i] > 1e-20 * nrm0[i]))
                continue;
            const double *p = perp + (size_t)i * rows;
            double d = 0;
            for (size_t j = 0; j < rows; j++)
                d += p[j] * r[j];
            double s = d * d / nrm[i];
            if (s > bs) {
                bs = s;
                best = i;
            }
        }
        if (best < 0)
            break;
        used[best] = 1;
        sel[k] = best;
        sc[k] = cols[best];
        double *q = perp + (size_t)best * rows, qn = sqrt(nrm[best]);
        for (size_t j = 0; j < rows; j++)
            q[j] /= qn;
        double d = 0;
        for (size_t j = 0; j < rows; j++)
            d += q[j] * r[j];
        for (size_t j = 0; j < rows; j++)
            r[j] -= d * q[j];
        for (int i = 0; i < ncols; i++) {
            if (used[i])
                continue;
            double *p = perp + (size_t)i * rows, e = 0, ss = 0;
            for (size_t j = 0; j < rows; j++)
                e += q[j] * p[j];
            for (size_t j = 0; j < rows; j++) {
                p[j] -= e * q[j];
                ss += p[j] * p[j];
            }
            nrm[i] = ss;
        }
        pp_cand_t *c = &out[k];
        double rel = ls_solve(c->coef, sc, k + 1, t, rows, lsw);
        if (!isfinite(rel))
            break;
        c->k = k + 1;
        memcpy(c->sel, sel, sizeof(int) * (size_t)(k + 1));
        c->crit = fit_crit(rows, rel, k + 1);
        for (int a = 0; a <= k; a++)
            if (!isfinite(c->coef[a]))
                c->crit = INFINITY;
        c->valid = isfinite(c->crit);
        if (rel < 1e-13)
            break;
    }
    free(nrm);
    free(used);
}

/* ---- expressions
 * ------------------------------------------------------------- */

static int ex_cat(kp_expr_t *out, int op, const kp_expr_t *a,
                  const kp_expr_t *b)
{
    int la = a->len, lb = b ? b->len : 0;
    int ca = a->nconst, cb = b ? b->nconst : 0;
    if (1 + la + lb > KP_EXPR_MAX_LEN || ca + cb > KP_EXPR_MAX_CONSTS)
        return -1;
    kp_expr_t r;
    kp_expr_init(&r);
    r.tok[0] = (kp_tok_t)op;
    memcpy(r.tok + 1, a->tok, sizeof(kp_tok_t) * (size_t)la);
    memcpy(r.c, a->c, sizeof(kp_const_t) * (size_t)ca);
    if (b) {
        memcpy(r.tok + 1 + la, b->tok, sizeof(kp_tok_t) * (size_t)lb);
        memcpy(r.c + ca, b->c, sizeof(kp_const_t) * (size_t)cb);
    }
    r.len = 1 + la + lb;
    r.nconst = ca + cb;
    kp_expr_update_sizes(&r);
    *out = r;
    return 0;
}

static void ex_leaf_var(kp_expr_t *e, int v)
{
    kp_expr_init(e);
    kp_expr_push_var(e, v);
    kp_expr_update_sizes(e);
}

static void ex_leaf_const(kp_expr_t *e, double value)
{
    kp_expr_init(e);
    kp_expr_push_const(e, value);
    kp_expr_update_sizes(e);
}

static void ex_leaf_rational(kp_expr_t *e, int64_t num, int64_t den)
{
    kp_expr_init(e);
    kp_expr_push_rational(e, num, den);
    kp_expr_update_sizes(e);
}

/* x_v ** (h / 2), h > 0: with `**` and a rational exponent (use_pow), or
   with products and sqrt only. */
static int ex_power(kp_expr_t *out, int v, int h, int use_pow)
{
    kp_expr_t x, t;
    ex_leaf_var(&x, v);
    if (h == 2) {
        *out = x;
        return 0;
    }
    if (h == 1)
        return ex_cat(out, KP_OP_SQRT, &x, NULL);
    if (use_pow) {
        kp_expr_t k;
        if (h % 2 == 0)
            ex_leaf_rational(&k, h / 2, 1);
        else
            ex_leaf_rational(&k, h, 2);
        return ex_cat(out, KP_OP_POW, &x, &k);
    }
    if (h % 2) {
        if (ex_cat(&t, KP_OP_SQRT, &x, NULL) || ex_power(out, v, h - 1, 0))
            return -1;
        return h == 1 ? 0 : ex_cat(out, KP_OP_MUL, out, &t);
    }
    *out = x;
    for (int i = 2; i < h; i += 2)
        if (ex_cat(out, KP_OP_MUL, out, &x))
            return -1;
    return 0;
}

/* The product of x_i ** (|h_i| / 2) over the i with sign(h_i) == sgn; empty
   products return 1 in *have = 0. */
static int ex_product(kp_expr_t *out, int *have, const int8_t *h, int nvars,
                      int sgn, int use_pow)
{
    *have = 0;
    for (int i = 0; i < nvars; i++) {
        if (h[i] == 0 || (h[i] > 0) != (sgn > 0))
            continue;
        kp_expr_t f;
        if (ex_power(&f, i, abs(h[i]), use_pow))
            return -1;
        if (!*have)
            *out = f;
        else if (ex_cat(out, KP_OP_MUL, out, &f))
            return -1;
        *have = 1;
    }
    return 0;
}

static int is_one(const int8_t *h, int nvars)
{
    for (int i = 0; i < nvars; i++)
        if (h[i])
            return 0;
    return 1;
}

/* A coefficient as the expression will hold it: a free constant (signed
   value), or, when snapping, the exact |p/q| nearest to it with its sign
   kept apart (the grammar's literals are usually small positive integers,
   so signs go into subtraction and denominators into division). */
typedef struct {
    int exact, neg;
    double value;
    int64_t p, q;
} pp_coef_t;

/* Snaps v to p/q (q <= 6, p <= 60) when within 1e-9 relative. */
static pp_coef_t coef_make(double v, int snap)
{
    pp_coef_t c = {0, 0, v, 0, 1};
    if (!snap)
        return c;
    for (int64_t q = 1; q <= 6; q++) {
        double pv = rint(fabs(v) * (double)q);
        if (pv >= 1 && pv <= 60 &&
            fabs(fabs(v) * (double)q - pv) <= 1e-9 * fabs(v) * (double)q) {
            c.exact = 1;
            c.neg = v < 0;
            c.p = (int64_t)pv;
            c.q = q;
            return c;
        }
    }
    return c;
}

/* c * monomial; *neg tells whether the term is to be subtracted. A NULL c
   means coefficient 1. */
static int ex_term(kp_expr_t *out, int *neg, const pp_coef_t *c,
                   const int8_t *h, int nvars, int use_pow)
{
    kp_expr_t num, den, k;
    int hn, hd;
    *neg = 0;
    if (ex_product(&num, &hn, h, nvars, 1, use_pow) ||
        ex_product(&den, &hd, h, nvars, -1, use_pow))
        return -1;
    if (c != NULL && !c->exact) {
        ex_leaf_const(&k, c->value);
        if (hn && ex_cat(&num, KP_OP_MUL, &k, &num))
            return -1;
        if (!hn)
            num = k;
        hn = 1;
    } else if (c != NULL) {
        *neg = c->neg;
        if (c->p != 1) {
            ex_leaf_rational(&k, c->p, 1);
            if (hn && ex_cat(&num, KP_OP_MUL, &k, &num))
                return -1;
            if (!hn)
                num = k;
            hn = 1;
        }
        if (c->q != 1) {
            ex_leaf_rational(&k, c->q, 1);
            if (hd && ex_cat(&den, KP_OP_MUL, &k, &den))
                return -1;
            if (!hd)
                den = k;
            hd = 1;
        }
    }
    if (!hn)
        ex_leaf_rational(&num, 1, 1);
    if (hd)
        return ex_cat(out, KP_OP_DIV, &num, &den);
    *out = num;
    return 0;
}

/* Balanced sum of terms[lo..hi-1] (keeps the depth logarithmic). */
static int ex_sum(kp_expr_t *out, const kp_expr_t *terms, int lo, int hi)
{
    if (hi - lo == 1) {
        *out = terms[lo];
        return 0;
    }
    int mid = lo + (hi - lo) / 2;
    kp_expr_t a, b;
    if (ex_sum(&a, terms, lo, mid) || ex_sum(&b, terms, mid, hi))
        return -1;
    return ex_cat(out, KP_OP_ADD, &a, &b);
}

/* Sum of n terms with signs: (positive ones) - (negative ones); -1 when
   every term is negative (no unary minus is assumed in the grammar). */
static int ex_signed_sum(kp_expr_t *out, const kp_expr_t *t, const int *neg,
                         int n)
{
    kp_expr_t pos[PP_MAX_TERMS + 1], ng[PP_MAX_TERMS + 1], a, b;
    int np = 0, nn = 0;
    for (int i = 0; i < n; i++) {
        if (neg[i])
            ng[nn++] = t[i];
        else
            pos[np++] = t[i];
    }
    if (np == 0)
        return -1;
    if (ex_sum(&a, pos, 0, np))
        return -1;
    if (nn == 0) {
        *out = a;
        return 0;
    }
    if (ex_sum(&b, ng, 0, nn))
        return -1;
    return ex_cat(out, KP_OP_SUB, &a, &b);
}

/* A term of P or Q: monomial exponents (halves) and coefficient. */
typedef struct {
    int8_t h[64];
    pp_coef_t c;
} pp_term_t;

#define PP_MAX_RED 24 /* terms of P or Q after cancelling a common factor */

/* Cancels the greatest common divisor of P and Q (exact rational
   coefficients, integer exponents; negative exponents are cleared by a
   common monomial first) with FLINT, so that P/Q = (x^5 - x)/(x - 1)
   becomes x^4 + x^3 + x^2 + x: the same values, without the removable
   singularity at x = 1 that the linearised fit cannot see. Returns 0 and
   rewrites the lists, or -1 when they cannot be handled (then they stand
   as they are), -2 when the reduced form has too many terms. */
static int cancel_gcd(pp_term_t *pt, int *np, pp_term_t *qt, int *nq, int nvars)
{
    int shift[64] = {0};
    for (int side = 0; side < 2; side++)
        for (int a = 0; a < (side ? *nq : *np); a++) {
            const pp_term_t *t = side ? &qt[a] : &pt[a];
            if (!t->c.exact)
                return -1;
            for (int v = 0; v < nvars; v++) {
                if (t->h[v] % 2)
                    return -1;
                if (-t->h[v] / 2 > shift[v])
                    shift[v] = -t->h[v] / 2;
            }
        }
    fmpq_mpoly_ctx_t ctx;
    fmpq_mpoly_ctx_init(ctx, nvars, ORD_LEX);
    fmpq_mpoly_t P, Q, G;
    fmpq_mpoly_init(P, ctx);
    fmpq_mpoly_init(Q, ctx);
    fmpq_mpoly_init(G, ctx);
    ulong e[64];
    fmpq_t q;
    fmpq_init(q);
    for (int side = 0; side < 2; side++)
        for (int a = 0; a < (side ? *nq : *np); a++) {
            const pp_term_t *t = side ? &qt[a] : &pt[a];
            for (int v = 0; v < nvars; v++)
                e[v] = (ulong)(t->h[v] / 2 + shift[v]);
            fmpq_set_si(q, t->c.neg ? -t->c.p : t->c.p, (ulong)t->c.q);
            fmpq_mpoly_t m;
            fmpq_mpoly_init(m, ctx);
            fmpq_mpoly_set_coeff_fmpq_ui(m, q, e, ctx);
            fmpq_mpoly_add(side ? Q : P, side ? Q : P, m, ctx);
            fmpq_mpoly_clear(m, ctx);
        }
    int rc = -1;
    if (fmpq_mpoly_gcd(G, P, Q, ctx) &&
        fmpq_mpoly_total_degree_si(G, ctx) > 0 &&
        fmpq_mpoly_divides(P, P, G, ctx) && fmpq_mpoly_divides(Q, Q, G, ctx)) {
        rc = 0;
        /* The common scale goes to Q's leading term, as the pivot's 1 did. */
        fmpq_mpoly_get_term_coeff_fmpq(q, Q, 0, ctx);
        if (!fmpq_is_zero(q)) {
            fmpq_mpoly_scalar_div_fmpq(P, P, q, ctx);
            fmpq_mpoly_scalar_div_fmpq(Q, Q, q, ctx);
        }
        slong lp = fmpq_mpoly_length(P, ctx), lq = fmpq_mpoly_length(Q, ctx);
        if (lp > PP_MAX_RED || lq > PP_MAX_RED)
            rc = -2;
        for (int side = 0; side < 2 && rc == 0; side++) {
            fmpq_mpoly_struct *A = side ? Q : P;
            slong len = side ? lq : lp;
            for (slong k = 0; k < len && rc == 0; k++) {
                pp_term_t *t = side ? &qt[k] : &pt[k];
                fmpq_mpoly_get_term_coeff_fmpq(q, A, k, ctx);
                fmpq_mpoly_get_term_exp_ui(e, A, k, ctx);
                memset(t->h, 0, sizeof t->h);
                for (int v = 0; v < nvars && rc == 0; v++) {
                    long h = 2 * ((long)e[v] - shift[v]);
                    if (h > 24 || h < -24)
                        rc = -2;
                    t->h[v] = (int8_t)h;
                }
                if (fmpz_bits(fmpq_numref(q)) > 20 ||
                    fmpz_bits(fmpq_denref(q)) > 20) {
                    rc = -2;
                    break;
                }
                long pn = fmpz_get_si(fmpq_numref(q));
                t->c.exact = 1;
                t->c.neg = pn < 0;
                t->c.p = pn < 0 ? -pn : pn;
                t->c.q = fmpz_get_si(fmpq_denref(q));
                t->c.value = (double)pn / (double)t->c.q;
            }
        }
        if (rc == 0) {
            *np = (int)lp;
            *nq = (int)lq;
        }
    }
    fmpq_clear(q);
    fmpq_mpoly_clear(P, ctx);
    fmpq_mpoly_clear(Q, ctx);
    fmpq_mpoly_clear(G, ctx);
    fmpq_mpoly_ctx_clear(ctx);
    return rc;
}

/* r times the scale C (if not NULL; must be positive) and the power-law
   factor prod x_i^(lg_i / 2) (if not NULL). */
static int factors(kp_expr_t *r, const pp_coef_t *scale, const int8_t *lg,
                   int nv, int use_pow)
{
    static const int8_t none[64] = {0};
    kp_expr_t t;
    int neg;
    if (scale != NULL && (ex_term(&t, &neg, scale, none, nv, use_pow) || neg ||
                          ex_cat(r, KP_OP_MUL, &t, r)))
        return -1;
    if (lg != NULL && (ex_term(&t, &neg, NULL, lg, nv, use_pow) ||
                       ex_cat(r, KP_OP_MUL, &t, r)))
        return -1;
    return 0;
}

/* The expression of candidate c (see pp_cand_t), with coefficients free or
   snapped to small rationals. */
static int ex_model(kp_expr_t *out, const pp_cand_t *c, const pp_ctx_t *x,
                    int sign, int use_pow, int snap)
{
    pp_term_t pl[PP_MAX_RED], ql[PP_MAX_RED];
    kp_expr_t pt[PP_MAX_RED], qt[PP_MAX_RED], P, Q, r;
    int pn[PP_MAX_RED], qn[PP_MAX_RED];
    int np = 0, nq = 0, nv = x->nvars, nlg = 0, have_scale = 0;
    pp_coef_t scale = {0, 0, 1.0, 1, 1}, one = {1, 0, 1.0, 1, 1};
    const pp_lib_t *num = &x->num[c->lib];
    int8_t lg[64] = {0};
    if (c->pivot != x->den_one || c->pivot < 0) {
        /* The pivot's coefficient is 1 by construction. */
        memcpy(ql[nq].h, x->den.h + (size_t)c->pivot * nv, (size_t)nv);
        ql[nq++].c = one;
    }
    for (int a = 0; a < c->k; a++) {
        int s = c->sel[a];
        pp_coef_t cf = coef_make(c->coef[a], snap);
        if (s >= num->n && takes_logs(c->tr)) {
            /* exponent of a power-law factor outside exp(P) */
            double h = rint(2 * c->coef[a]);
            if (fabs(2 * c->coef[a] - h) > 0.1 || h == 0 || fabs(h) > 12)
                return -1;
            lg[s - num->n] = (int8_t)h;
            nlg++;
            continue;
        }
        if (s < num->n && takes_logs(c->tr) &&
            is_one(num->h + (size_t)s * nv, nv)) {
            /* exp(c + P) as C exp(P): C is what recognition can name
               (1/sqrt(2 pi)), c = log C rarely is */
            scale = coef_make(exp(c->coef[a]), snap);
            have_scale = 1;
            continue;
        }
        pp_term_t *t = s < num->n ? &pl[np++] : &ql[nq++];
        memset(t->h, 0, sizeof t->h);
        memcpy(t->h,
               s < num->n ? num->h + (size_t)s * nv
                          : x->den.h + (size_t)(s - num->n) * nv,
               (size_t)nv);
        t->c = cf;
    }
    if (c->pivot == x->den_one && nq > 0) { /* Q = 1 + ... */
        memset(ql[nq].h, 0, sizeof ql[nq].h);
        ql[nq++].c = one;
    }
    if (snap && nq > 0 && np > 0 && cancel_gcd(pl, &np, ql, &nq, nv) == -2)
        return -1;
    for (int a = 0; a < np; a++)
        if (ex_term(&pt[a], &pn[a], &pl[a].c, pl[a].h, nv, use_pow))
            return -1;
    for (int a = 0; a < nq; a++)
        if (ex_term(&qt[a], &qn[a], &ql[a].c, ql[a].h, nv, use_pow))
            return -1;
    if (np == 0) { /* a pure power law: exp(0) */
        ex_leaf_rational(&pt[0], 0, 1);
        pn[np++] = 0;
    }
    /* Q reduced to the constant 1 by the cancellation: a polynomial. */
    if (nq == 1 && is_one(ql[0].h, nv) && ql[0].c.exact && ql[0].c.p == 1 &&
        ql[0].c.q == 1 && !ql[0].c.neg)
        nq = 0;
    /* Every numerator term subtracted: P/Q = (-P)/(-Q), and
       exp(P) = 1/exp(-P), so that no unary minus is needed. */
    int all_neg = 1, recip = 0;
    for (int a = 0; a < np; a++)
        all_neg &= pn[a];
    if (all_neg && nq > 0) {
        for (int a = 0; a < np; a++)
            pn[a] = 0;
        for (int a = 0; a < nq; a++)
            qn[a] = !qn[a];
    } else if (all_neg && takes_logs(c->tr)) {
        for (int a = 0; a < np; a++)
            pn[a] = 0;
        recip = 1;
    }
    if (ex_signed_sum(&P, pt, pn, np))
        return -1;
    if (nq > 0) {
        if (ex_signed_sum(&Q, qt, qn, nq) || ex_cat(&r, KP_OP_DIV, &P, &Q))
            return -1;
    } else {
        r = P;
    }
    kp_expr_t k;
    switch (c->tr) {
    case T_ID:
        break;
    case T_INV:
        ex_leaf_rational(&k, 1, 1);
        if (ex_cat(&r, KP_OP_DIV, &k, &r))
            return -1;
        break;
    case T_SQ:
        if (ex_cat(&r, KP_OP_SQRT, &r, NULL))
            return -1;
        break;
    case T_INVSQ:
        ex_leaf_rational(&k, 1, 1);
        if (ex_cat(&r, KP_OP_SQRT, &r, NULL) || ex_cat(&r, KP_OP_DIV, &k, &r))
            return -1;
        break;
    case T_SQRT:
        if (use_pow) {
            ex_leaf_rational(&k, 2, 1);
            if (ex_cat(&r, KP_OP_POW, &r, &k))
                return -1;
        } else if (ex_cat(&r, KP_OP_MUL, &r, &r)) {
            return -1;
        }
        break;
    case T_EXP:
        if (ex_cat(&r, KP_OP_LOG, &r, NULL))
            return -1;
        break;
    default:
        if (ex_cat(&r, KP_OP_EXP, &r, NULL))
            return -1;
        if (recip) {
            ex_leaf_rational(&k, 1, 1);
            if (ex_cat(&r, KP_OP_DIV, &k, &r))
                return -1;
        }
        break;
    }
    if (c->tr == T_LOGLOG) {
        /* |log|y|| = C exp(P) prod x^a, then y = exp(+-that) */
        if (factors(&r, have_scale ? &scale : NULL, nlg ? lg : NULL, nv,
                    use_pow) ||
            ex_cat(&r, KP_OP_EXP, &r, NULL))
            return -1;
        if (abs(sign) == 2) {
            ex_leaf_rational(&k, 1, 1);
            if (ex_cat(&r, KP_OP_DIV, &k, &r))
                return -1;
        }
        have_scale = nlg = 0;
    }
    if (c->tr == T_LOG1P || c->tr == T_LOG1PINV) {
        /* 1 + y (or 1 + 1/y) = C exp(P) prod x^a */
        ex_leaf_rational(&k, 1, 1);
        if (factors(&r, have_scale ? &scale : NULL, nlg ? lg : NULL, nv,
                    use_pow) ||
            ex_cat(&r, KP_OP_SUB, &r, &k))
            return -1;
        if (c->tr == T_LOG1PINV && ex_cat(&r, KP_OP_DIV, &k, &r))
            return -1;
        have_scale = nlg = 0;
    }
    if (sign < 0 && c->tr != T_ID && c->tr != T_INV && c->tr != T_EXP &&
        c->tr != T_LOG1P && c->tr != T_LOG1PINV) {
        ex_leaf_rational(&k, -1, 1);
        if (ex_cat(&r, KP_OP_MUL, &k, &r))
            return -1;
    }
    if (factors(&r, have_scale ? &scale : NULL, nlg ? lg : NULL, nv, use_pow))
        return -1;
    if (c->base > 0) {
        kp_expr_t pre;
        int pneg;
        if (ex_term(&pre, &pneg, NULL, x->pre[c->base - 1], nv, use_pow) ||
            ex_cat(&r, KP_OP_MUL, &pre, &r))
            return -1;
    }
    *out = r;
    return 0;
}

/* ---- function bases --------------------------------------------------------
   FFX-style models y = c0 + sum_k c_k B_k(x), each basis B_k a unary
   function of the grammar applied to a low-degree argument (sin(x^2),
   cos(x - y), log(x)), or the product of two such factors or of one with a
   monomial (x sin(y), sin(x^2) cos(x)). Laws of this shape defeat the
   monomial libraries above and are hard for evolution to assemble from
   parts whose values alone fit badly. Models of up to three bases are
   searched exhaustively on the Gram matrix when the library is small
   (greedy selection picks the wrong first basis too often when bases are
   as alike as sin(x^2) cos(x) and x^2), larger ones by forward selection
   and backward elimination as for the monomials. */

static void ols_backward(pp_cand_t *out, int kmax, const double *const *cols,
                         const double *t, size_t rows, double *work);
static void ols_prune(pp_cand_t *out, int kmax, const double *const *cols,
                      int ncols, const unsigned char *excluded, const double *t,
                      size_t rows, double *work);

#define PF_MAX_LIB 1200  /* bases kept, simplest first */
#define PF_MAX_GEN 60000 /* bases enumerated before the cut */
#define PF_MAX_VARS 8
#define PF_TOP 24 /* best subsets of each size refitted exactly */

/* Unary functions tried as factors; sqrt is a monomial's half exponent and
   already in the monomial libraries. */
static const int pf_ops[] = {KP_OP_SIN, KP_OP_COS, KP_OP_TAN, KP_OP_EXP,
                             KP_OP_LOG};

/* A factor: op (-1: the argument itself) of the argument M[a] + s M[b]
   (b < 0: M[a] alone). */
typedef struct {
    int op, a, b, s, cost;
} pf_factor_t;

typedef struct {
    int f1, f2, cost; /* f2 < 0: one factor */
} pf_basis_t;

typedef struct {
    int k, icpt; /* bases, and whether a constant term comes first */
    int sel[PP_MAX_TERMS];
    double coef[PP_MAX_TERMS]; /* icpt first, then the bases */
    double crit;
} pf_cand_t;

typedef struct {
    int nm;    /* monomials of degree 1 and 2 */
    int8_t *m; /* nm * nvars, exponents in halves */
    int nf;
    pf_factor_t *f;
    int nb;
    pf_basis_t *b;
    double *col; /* nb * rows */
    int ncand;
    pf_cand_t *cand; /* sorted by crit */
} pf_ctx_t;

static void pf_clear(pf_ctx_t *p)
{
    free(p->m);
    free(p->f);
    free(p->b);
    free(p->col);
    free(p->cand);
    memset(p, 0, sizeof *p);
}

static int grammar_has_op(const kp_grammar_t *g, int op)
{
    for (int t = 0; t < g->ntypes; t++)
        if (g->op_sym[op][t] >= 0)
            return 1;
    return 0;
}

static int mono_deg(const int8_t *h, int nvars)
{
    int d = 0;
    for (int i = 0; i < nvars; i++)
        d += abs(h[i]) / 2;
    return d;
}

static int cmp_basis_cost(const void *pa, const void *pb)
{
    const pf_basis_t *a = pa, *b = pb;
    if (a->cost != b->cost)
        return a->cost < b->cost ? -1 : 1;
    if (a->f1 != b->f1)
        return a->f1 < b->f1 ? -1 : 1;
    return (a->f2 > b->f2) - (a->f2 < b->f2);
}

/* Values of factor f on every row into v; 0 when one is not finite. */
static int pf_factor_eval(double *v, const pf_ctx_t *p, const pf_factor_t *f,
                          const pp_ctx_t *c)
{
    int nv = c->nvars;
    for (size_t j = 0; j < c->rows; j++) {
        double a = monomial_at(p->m + (size_t)f->a * nv, c->x, nv, c->rows, j);
        if (f->b >= 0)
            a += f->s *
                 monomial_at(p->m + (size_t)f->b * nv, c->x, nv, c->rows, j);
        double r = a;
        switch (f->op) {
        case KP_OP_SIN:
            r = sin(a);
            break;
        case KP_OP_COS:
            r = cos(a);
            break;
        case KP_OP_TAN:
            r = tan(a);
            break;
        case KP_OP_EXP:
            r = exp(a);
            break;
        case KP_OP_LOG:
            r = a > 0 ? log(a) : NAN;
            break;
        default:
            break;
        }
        if (!isfinite(r) || fabs(r) > 1e150)
            return 0;
        v[j] = r;
    }
    return 1;
}

/* Whether column v (rows values) varies: constants are the intercept's. */
static int varies(const double *v, size_t rows)
{
    double lo = v[0], hi = v[0];
    for (size_t j = 1; j < rows; j++) {
        lo = fmin(lo, v[j]);
        hi = fmax(hi, v[j]);
    }
    return hi - lo > 1e-12 * fmax(fabs(lo), fabs(hi));
}

/* The library: monomials, factors, bases sorted by cost and evaluated,
   simplest first, up to PF_MAX_LIB that are finite and vary. */
static int pf_build(pf_ctx_t *p, const pp_ctx_t *c, const kp_grammar_t *g)
{
    int nv = c->nvars, ops[8], nops = 0;
    for (size_t i = 0; i < sizeof pf_ops / sizeof pf_ops[0]; i++)
        if (grammar_has_op(g, pf_ops[i]))
            ops[nops++] = pf_ops[i];
    if (nops == 0 || nv > PF_MAX_VARS)
        return 0;
    int cap_m = nv + nv * (nv + 1) / 2;
    p->m = calloc((size_t)cap_m, (size_t)nv);
    if (p->m == NULL)
        return -1;
    for (int i = 0; i < nv; i++)
        p->m[(size_t)p->nm++ * nv + i] = 2;
    for (int i = 0; i < nv; i++)
        for (int k = i; k < nv; k++) {
            int8_t *h = p->m + (size_t)p->nm++ * nv;
            h[i] += 2;
            h[k] += 2;
        }
    /* Sums of two monomials as arguments only for few inputs (sin(x + x^2),
       cos(x - y)): their number grows as the fourth power. */
    int sums = nv <= 3;
    int cap_f = (p->nm + (sums ? p->nm * (p->nm - 1) : 0)) * (nops + 1);
    p->f = malloc(sizeof *p->f * (size_t)cap_f);
    if (p->f == NULL)
        return -1;
    for (int o = -1; o < nops; o++)
        for (int a = 0; a < p->nm; a++)
            for (int b = -1; b < (sums && o >= 0 ? p->nm : 0); b++)
                for (int s = 1; s >= (b >= 0 ? -1 : 1); s -= 2) {
                    if (b >= 0 && b <= a)
                        continue;
                    pf_factor_t *f = &p->f[p->nf++];
                    f->op = o < 0 ? -1 : ops[o];
                    f->a = a;
                    f->b = b;
                    f->s = s;
                    f->cost =
                        (o >= 0 ? 2 : 0) + mono_deg(p->m + (size_t)a * nv, nv) +
                        (b >= 0 ? 1 + mono_deg(p->m + (size_t)b * nv, nv) : 0);
                }
    /* Bases: each function alone, each monomial alone, and products of a
       function with a function or a monomial. */
    p->b = malloc(sizeof *p->b * PF_MAX_GEN);
    if (p->b == NULL)
        return -1;
    for (int i = 0; i < p->nf && p->nb < PF_MAX_GEN; i++) {
        p->b[p->nb++] = (pf_basis_t){i, -1, p->f[i].cost};
        if (p->f[i].op < 0)
            continue;
        for (int k = 0; k < p->nf && p->nb < PF_MAX_GEN; k++) {
            /* f*g once; exp(u) exp(v) is exp(u + v); no two sums, as
               cos(x - y) sin(x + z), which are rare and would be most of
               the products (the enumeration cap then cut products of the
               later, simpler factors such as log(x) y) */
            if ((k <= i && p->f[k].op >= 0) ||
                (p->f[k].op == KP_OP_EXP && p->f[i].op == KP_OP_EXP) ||
                (p->f[k].b >= 0 && p->f[i].b >= 0))
                continue;
            p->b[p->nb++] = (pf_basis_t){i, k, p->f[i].cost + p->f[k].cost};
        }
    }
    qsort(p->b, (size_t)p->nb, sizeof *p->b, cmp_basis_cost);
    double *fv = malloc(sizeof(double) * c->rows * (size_t)p->nf);
    unsigned char *fok = malloc((size_t)p->nf);
    int nkeep = p->nb < PF_MAX_LIB ? p->nb : PF_MAX_LIB;
    p->col = malloc(sizeof(double) * c->rows * (size_t)nkeep);
    if (fv == NULL || fok == NULL || p->col == NULL) {
        free(fv);
        free(fok);
        return -1;
    }
    for (int i = 0; i < p->nf; i++)
        fok[i] = (unsigned char)pf_factor_eval(fv + c->rows * (size_t)i, p,
                                               &p->f[i], c);
    int m = 0;
    for (int i = 0; i < p->nb && m < nkeep; i++) {
        const pf_basis_t *b = &p->b[i];
        if (!fok[b->f1] || (b->f2 >= 0 && !fok[b->f2]))
            continue;
        double *v = p->col + c->rows * (size_t)m;
        const double *u = fv + c->rows * (size_t)b->f1;
        const double *w = b->f2 >= 0 ? fv + c->rows * (size_t)b->f2 : NULL;
        int ok = 1;
        for (size_t j = 0; j < c->rows && ok; j++) {
            v[j] = w ? u[j] * w[j] : u[j];
            ok = isfinite(v[j]);
        }
        if (ok && varies(v, c->rows))
            p->b[m++] = *b;
    }
    p->nb = m;
    free(fv);
    free(fok);
    return 0;
}

/* Exact refit of the subset sel[0..k-1] with and without a constant term;
   the better by the criterion goes into *out. work: (k + 1) * rows. */
static void pf_refit(pf_cand_t *out, const pf_ctx_t *p, const int *sel, int k,
                     const pp_ctx_t *c, const double *ones, double *work)
{
    const double *cols[PP_MAX_TERMS];
    out->crit = INFINITY;
    for (int icpt = 1; icpt >= 0; icpt--) {
        int n = 0;
        double coef[PP_MAX_TERMS];
        if (icpt)
            cols[n++] = ones;
        for (int a = 0; a < k; a++)
            cols[n++] = p->col + c->rows * (size_t)sel[a];
        double rel = ls_solve(coef, cols, n, c->y, c->rows, work);
        if (!isfinite(rel))
            continue;
        double crit = fit_crit(c->rows, rel, n);
        int fin = 1;
        for (int a = 0; a < n; a++)
            fin &= isfinite(coef[a]);
        /* A loose fit is no place to start from that the monomial
           proposals and the search do not give already. */
        if (!fin || rel > 0.05 || !(crit < out->crit))
            continue;
        out->k = k;
        out->icpt = icpt;
        memcpy(out->sel, sel, sizeof(int) * (size_t)k);
        memcpy(out->coef, coef, sizeof(double) * (size_t)n);
        out->crit = crit;
    }
}

/* Keeps the PF_TOP smallest residuals seen: (rss, subset) pairs, sorted. */
typedef struct {
    int n, k;
    double rss[PF_TOP];
    int sel[PF_TOP][3];
} pf_top_t;

static void top_add(pf_top_t *t, double rss, const int *sel)
{
    if (isnan(rss))
        return;
    if (t->n == PF_TOP && !(rss < t->rss[PF_TOP - 1]))
        return;
    int i = t->n < PF_TOP ? t->n++ : PF_TOP - 1;
    for (; i > 0 && rss < t->rss[i - 1]; i--) {
        t->rss[i] = t->rss[i - 1];
        memcpy(t->sel[i], t->sel[i - 1], sizeof t->sel[i]);
    }
    t->rss[i] = rss;
    memcpy(t->sel[i], sel, sizeof(int) * (size_t)t->k);
}

/* Solves the k x k system G z = b (k <= 3) by Gaussian elimination with
   partial pivoting; returns 0 when it is (numerically) singular. */
static int small_solve(const double G[3][3], const double *bv, double *z, int k)
{
    double A[3][4];
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < k; j++)
            A[i][j] = G[i][j];
        A[i][k] = bv[i];
    }
    for (int col = 0; col < k; col++) {
        int piv = col;
        for (int r = col + 1; r < k; r++)
            if (fabs(A[r][col]) > fabs(A[piv][col]))
                piv = r;
        if (!(fabs(A[piv][col]) > 1e-13 * fabs(G[col][col])))
            return 0;
        for (int j = 0; j <= k; j++) {
            double t = A[col][j];
            A[col][j] = A[piv][j];
            A[piv][j] = t;
        }
        for (int r = col + 1; r < k; r++) {
            double f = A[r][col] / A[col][col];
            for (int j = col; j <= k; j++)
                A[r][j] -= f * A[col][j];
        }
    }
    for (int i = k - 1; i >= 0; i--) {
        double s = A[i][k];
        for (int j = i + 1; j < k; j++)
            s -= A[i][j] * z[j];
        z[i] = s / A[i][i];
    }
    return 1;
}

/* Exhaustive subsets of 1, 2 (and 3 when the library is small) bases with
   a constant term, ranked on the centred Gram matrix; the best of each size
   are refitted exactly. Then forward selection and backward elimination
   over the whole library for larger models. Candidates sorted by crit. */
static int pf_select(pf_ctx_t *p, const pp_ctx_t *c, int kmax, int nth)
{
    int L = p->nb;
    size_t R = c->rows;
    if (L == 0)
        return 0;
    double *G = malloc(sizeof(double) * (size_t)L * (size_t)L);
    double *xc = malloc(sizeof(double) * (size_t)L * R);
    double *bv = malloc(sizeof(double) * (size_t)L);
    double *ones = malloc(sizeof(double) * R);
    size_t nwork = R * (size_t)(L + 2 * kmax + 4) +
                   2 * (size_t)(L + 1) * (size_t)(L + 1) + 4 * (size_t)(L + 1);
    double *work = malloc(sizeof(double) * nwork);
    int triples = L <= 300;
    int maxc = 3 * PF_TOP + 2 * kmax;
    p->cand = calloc((size_t)maxc, sizeof *p->cand);
    if (!G || !xc || !bv || !ones || !work || !p->cand) {
        free(G), free(xc), free(bv), free(ones), free(work);
        return -1;
    }
    double ym = 0, yy = 0;
    for (size_t j = 0; j < R; j++)
        ym += c->y[j];
    ym /= (double)R;
    for (size_t j = 0; j < R; j++) {
        ones[j] = 1.0;
        yy += (c->y[j] - ym) * (c->y[j] - ym);
    }
    for (int i = 0; i < L; i++) {
        const double *v = p->col + R * (size_t)i;
        double mu = 0, d = 0;
        for (size_t j = 0; j < R; j++)
            mu += v[j];
        mu /= (double)R;
        for (size_t j = 0; j < R; j++) {
            xc[R * (size_t)i + j] = v[j] - mu;
            d += (v[j] - mu) * (c->y[j] - ym);
        }
        bv[i] = d;
    }
#pragma omp parallel for schedule(dynamic, 8) num_threads(nth)
    for (int i = 0; i < L; i++)
        for (int k = i; k < L; k++) {
            double d = 0;
            const double *u = xc + R * (size_t)i, *w = xc + R * (size_t)k;
            for (size_t j = 0; j < R; j++)
                d += u[j] * w[j];
            G[(size_t)i * L + k] = G[(size_t)k * L + i] = d;
        }
    pf_top_t top[3] = {
        {0, 1, {0}, {{0}}}, {0, 2, {0}, {{0}}}, {0, 3, {0}, {{0}}}};
    for (int i = 0; i < L; i++) {
        double gi = G[(size_t)i * L + i];
        int s[3] = {i};
        if (gi > 0)
            top_add(&top[0], yy - bv[i] * bv[i] / gi, s);
        for (int k = i + 1; k < L; k++) {
            double M[3][3], z[3], b2[3] = {bv[i], bv[k]};
            M[0][0] = gi;
            M[0][1] = M[1][0] = G[(size_t)i * L + k];
            M[1][1] = G[(size_t)k * L + k];
            if (small_solve(M, b2, z, 2)) {
                s[1] = k;
                top_add(&top[1], yy - z[0] * b2[0] - z[1] * b2[1], s);
            }
            if (!triples)
                continue;
            for (int l = k + 1; l < L; l++) {
                double b3[3] = {bv[i], bv[k], bv[l]};
                M[0][2] = M[2][0] = G[(size_t)i * L + l];
                M[1][2] = M[2][1] = G[(size_t)k * L + l];
                M[2][2] = G[(size_t)l * L + l];
                if (small_solve(M, b3, z, 3)) {
                    s[1] = k;
                    s[2] = l;
                    top_add(&top[2],
                            yy - z[0] * b3[0] - z[1] * b3[1] - z[2] * b3[2], s);
                }
            }
        }
    }
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < top[t].n; i++) {
            pf_cand_t *cd = &p->cand[p->ncand];
            pf_refit(cd, p, top[t].sel[i], top[t].k, c, ones, work);
            if (isfinite(cd->crit))
                p->ncand++;
        }
    /* Forward selection over [1, bases], then backward elimination. */
    const double **cp = malloc(sizeof(double *) * (size_t)(L + 1));
    pp_cand_t *fw = calloc((size_t)kmax, sizeof *fw);
    if (cp != NULL && fw != NULL) {
        cp[0] = ones;
        for (int i = 0; i < L; i++)
            cp[i + 1] = p->col + R * (size_t)i;
        ols_job(fw, kmax, cp, L + 1, NULL, c->y, R, work);
        if ((size_t)(L + 1) * 2 <= R)
            ols_prune(fw, kmax, cp, L + 1, NULL, c->y, R, work);
        ols_backward(fw, kmax, cp, c->y, R, work);
        for (int k = 0; k < kmax && p->ncand < maxc; k++) {
            if (!fw[k].valid)
                continue;
            int sel[PP_MAX_TERMS], n = 0;
            for (int a = 0; a < fw[k].k; a++)
                if (fw[k].sel[a] > 0)
                    sel[n++] = fw[k].sel[a] - 1;
            pf_cand_t *cd = &p->cand[p->ncand];
            if (n == 0)
                continue;
            pf_refit(cd, p, sel, n, c, ones, work);
            if (isfinite(cd->crit))
                p->ncand++;
        }
    }
    free(cp);
    free(fw);
    free(G), free(xc), free(bv), free(ones), free(work);
    /* Sorted by crit, stably (insertion sort: few candidates). */
    for (int i = 1; i < p->ncand; i++) {
        pf_cand_t t = p->cand[i];
        int j = i;
        for (; j > 0 && p->cand[j - 1].crit > t.crit; j--)
            p->cand[j] = p->cand[j - 1];
        p->cand[j] = t;
    }
    return 0;
}

/* c * base (base NULL: c alone); *neg tells whether the term is to be
   subtracted (exact coefficients keep their sign apart). */
static int ex_scaled(kp_expr_t *out, int *neg, const pp_coef_t *c,
                     const kp_expr_t *base)
{
    kp_expr_t k, num;
    *neg = 0;
    if (!c->exact) {
        ex_leaf_const(&k, c->value);
        return base ? ex_cat(out, KP_OP_MUL, &k, base) : (*out = k, 0);
    }
    *neg = c->neg;
    if (c->p != 1 || base == NULL) {
        ex_leaf_rational(&k, c->p, 1);
        if (base ? ex_cat(&num, KP_OP_MUL, &k, base) : (num = k, 0))
            return -1;
    } else {
        num = *base;
    }
    if (c->q == 1) {
        *out = num;
        return 0;
    }
    ex_leaf_rational(&k, c->q, 1);
    return ex_cat(out, KP_OP_DIV, &num, &k);
}

static int pf_factor_expr(kp_expr_t *out, const pf_ctx_t *p, int fi, int nv,
                          int use_pow)
{
    const pf_factor_t *f = &p->f[fi];
    int neg;
    if (ex_term(out, &neg, NULL, p->m + (size_t)f->a * nv, nv, use_pow))
        return -1;
    if (f->b >= 0) {
        kp_expr_t t;
        if (ex_term(&t, &neg, NULL, p->m + (size_t)f->b * nv, nv, use_pow) ||
            ex_cat(out, f->s > 0 ? KP_OP_ADD : KP_OP_SUB, out, &t))
            return -1;
    }
    return f->op >= 0 ? ex_cat(out, f->op, out, NULL) : 0;
}

/* The expression of function-basis candidate cd. */
static int pf_model(kp_expr_t *out, const pf_cand_t *cd, const pf_ctx_t *p,
                    int nv, int use_pow, int snap)
{
    kp_expr_t t[PP_MAX_TERMS + 1];
    int neg[PP_MAX_TERMS + 1], n = 0;
    /* a constant term that snapping finds negligible is left out */
    if (cd->icpt && !(snap && fabs(cd->coef[0]) < 1e-11)) {
        pp_coef_t k = coef_make(cd->coef[0], snap);
        if ((snap && !k.exact) || ex_scaled(&t[n], &neg[n], &k, NULL))
            return -1;
        n++;
    }
    for (int a = 0; a < cd->k; a++) {
        const pf_basis_t *b = &p->b[cd->sel[a]];
        kp_expr_t base, f2;
        if (pf_factor_expr(&base, p, b->f1, nv, use_pow))
            return -1;
        if (b->f2 >= 0 && (pf_factor_expr(&f2, p, b->f2, nv, use_pow) ||
                           ex_cat(&base, KP_OP_MUL, &base, &f2)))
            return -1;
        pp_coef_t k = coef_make(cd->coef[a + cd->icpt], snap);
        if (snap && !k.exact)
            return -1; /* the free version follows */
        if (ex_scaled(&t[n], &neg[n], &k, &base))
            return -1;
        n++;
    }
    if (n == 0)
        return -1;
    if (ex_signed_sum(out, t, neg, n) == 0)
        return 0;
    /* every term subtracted: -(sum) as (-1) * sum */
    for (int a = 0; a < n; a++)
        neg[a] = 0;
    kp_expr_t s, m1;
    if (ex_signed_sum(&s, t, neg, n))
        return -1;
    ex_leaf_rational(&m1, -1, 1);
    return ex_cat(out, KP_OP_MUL, &m1, &s);
}

/* ---- driver
 * ------------------------------------------------------------------- */

/* Power-law prefactors: least squares of log|y| on 1 and log|x_i| (the
   inputs without zeros), exponents rounded (1) to halves where within 0.15
   of one, and (2) to integers where within 0.05 of one: a factor such as
   G m1 m2 of G m1 m2 / r^2 shows as exponents near 1 whatever the rest
   does, while the inputs inside the rest get exponents that only the
   looser rounding may catch. Distinct, non-empty prefactors are kept. */
static void find_prefactors(pp_ctx_t *c)
{
    int nv = c->nvars, use[PP_MAX_TERMS], nu = 0;
    size_t n = c->rows;
    const double *cols[PP_MAX_TERMS];
    double *lx = malloc(sizeof(double) * n * (size_t)(nv + 2));
    double *work = malloc(sizeof(double) * n * (size_t)(nv + 2));
    c->npre = 0;
    if (!lx || !work || nv + 1 > PP_MAX_TERMS)
        goto done;
    double *ly = lx + n * (size_t)(nv + 1);
    for (size_t j = 0; j < n; j++) {
        lx[j] = 1.0;
        ly[j] = log(fabs(c->y[j]));
        if (!isfinite(ly[j]))
            goto done;
    }
    cols[0] = lx;
    for (int i = 0; i < nv; i++) {
        double *l = lx + n * (size_t)(nu + 1);
        int ok = 1;
        for (size_t j = 0; j < n && ok; j++) {
            l[j] = log(fabs(c->x[(size_t)i * n + j]));
            ok = isfinite(l[j]);
        }
        if (ok) {
            cols[nu + 1] = l;
            use[nu++] = i;
        }
    }
    double coef[PP_MAX_TERMS];
    if (nu == 0 || !isfinite(ls_solve(coef, cols, nu + 1, ly, n, work)))
        goto done;
    static const double tol[2] = {0.3, 0.1}; /* in halves */
    for (int v = 0; v < 2; v++) {
        int8_t *pre = c->pre[c->npre];
        int any = 0;
        memset(pre, 0, sizeof c->pre[0]);
        for (int u = 0; u < nu; u++) {
            double a = 2 * coef[u + 1];
            double h = v == 0 ? rint(a) : 2 * rint(a / 2);
            if (fabs(a - h) < tol[v] && fabs(h) <= 8 && h != 0) {
                pre[use[u]] = (int8_t)h;
                any = 1;
            }
        }
        if (any &&
            (c->npre == 0 || memcmp(pre, c->pre[0], sizeof c->pre[0]) != 0))
            c->npre++;
    }
done:
    free(lx);
    free(work);
}

static int cmp_cand(const void *pa, const void *pb)
{
    const pp_cand_t *a = *(pp_cand_t *const *)pa, *b = *(pp_cand_t *const *)pb;
    if (a->crit != b->crit)
        return a->crit < b->crit ? -1 : 1;
    return a < b ? -1 : a > b; /* job order */
}

static int emit(kp_expr_t *out, int cap, int *nout, uint64_t *hashes,
                const kp_grammar_t *g, const kp_expr_t *e)
{
    kp_expr_t s = *e;
    kp_expr_simplify(&s);
    const kp_expr_t *pick = NULL;
    if (kp_grammar_check_expr(g, &s, NULL) == KP_OK)
        pick = &s;
    else if (kp_grammar_check_expr(g, e, NULL) == KP_OK)
        pick = e;
    if (pick == NULL || *nout >= cap)
        return 0;
    uint64_t h = kp_expr_hash(pick);
    for (int i = 0; i < *nout; i++)
        if (hashes[i] == h)
            return 0;
    hashes[*nout] = h;
    out[(*nout)++] = *pick;
    return 1;
}

/* Job numbering: (target ti, numerator library, pivot), pivot -1 for the
   polynomial fit. */
typedef struct {
    int ti, tr, lib, piv;
} pp_job_t;

static pp_job_t job_decode(const pp_ctx_t *c, int job)
{
    int per_lib = 1 + c->den.n, per = 3 * per_lib;
    pp_job_t j;
    j.ti = job / per;
    j.tr = j.ti % T_COUNT;
    j.lib = job % per / per_lib;
    j.piv = job % per_lib - 1;
    return j;
}

/* Whether job j is run: rational fits only for the transforms whose
   inverse keeps a rational function simple. */
static int job_wanted(const pp_ctx_t *c, const pp_job_t *j, const int *okt)
{
    if (!okt[j->ti])
        return 0;
    if (j->lib == 2) /* products: polynomial fits of a few transforms */
        return j->piv < 0 && c->num[2].n > 0 &&
               (j->tr == T_ID || j->tr == T_INV || takes_logs(j->tr));
    if (j->piv < 0)
        return 1;
    if (j->piv >= c->piv_limit || (j->lib == 1 && !c->rat_laurent))
        return 0;
    return j->tr == T_ID || j->tr == T_INV || j->tr == T_SQ ||
           j->tr == T_INVSQ || j->tr == T_EXP;
}

/* Fits the rational jobs to the work budget (in multiply-adds of forward
   selection): denominators of low degree first (den is sorted by degree),
   Laurent numerators only when everything else fits. */
static void plan_work(pp_ctx_t *c, const int *okt, int ntg, int K,
                      double budget)
{
    double rows = (double)c->rows, n0 = c->num[0].n, n1 = c->num[1].n;
    double nd = c->den.n, poly = 0, rat0 = 0, rat1 = 0;
    for (int ti = 0; ti < ntg; ti++) {
        if (!okt[ti])
            continue;
        int tr = ti % T_COUNT;
        poly += K * rows * (n0 + n1);
        if (tr == T_ID || tr == T_INV || tr == T_SQ || tr == T_INVSQ ||
            tr == T_EXP) {
            rat0 += K * rows * (n0 + nd);
            rat1 += K * rows * (n1 + nd);
        }
    }
    double left = budget - poly;
    c->rat_laurent = left >= (rat0 + rat1) * nd;
    double per = c->rat_laurent ? rat0 + rat1 : rat0;
    c->piv_limit = per > 0 ? (int)fmin(nd, fmax(0.0, left / per)) : 0;
}

/* The columns and target of job j: cp[0..return-1], ex marks the excluded
   column (the pivot's own), *target the left-hand side; tcol holds
   rows * (den.n + 1) doubles of scratch. */
static int job_columns(const pp_ctx_t *c, const pp_job_t *j, const double *tg,
                       const double **cp, unsigned char *ex, double *tcol,
                       const double **target)
{
    const pp_lib_t *num = &c->num[j->lib];
    const double *t = tg + c->rows * (size_t)j->ti;
    for (int i = 0; i < num->n; i++) {
        cp[i] = num->col + c->rows * (size_t)i;
        ex[i] = 0;
    }
    *target = t;
    int nc = num->n;
    if (j->piv < 0 && takes_logs(j->tr)) {
        /* log|y| = P(x) + sum a_i log|x_i|: power laws times exp(P) */
        for (int v = 0; v < c->nvars; v++) {
            cp[nc + v] = c->logx + c->rows * (size_t)v;
            ex[nc + v] = !c->logok[v];
        }
        return nc + c->nvars;
    }
    if (j->piv < 0)
        return nc;
    /* t * n_pivot = P - t * sum q_k n_k */
    double *tp = tcol + c->rows * (size_t)c->den.n;
    const double *np = c->den.col + c->rows * (size_t)j->piv;
    for (size_t r = 0; r < c->rows; r++)
        tp[r] = t[r] * np[r];
    *target = tp;
    for (int k = 0; k < c->den.n; k++) {
        double *q = tcol + c->rows * (size_t)k;
        const double *nk = c->den.col + c->rows * (size_t)k;
        for (size_t r = 0; r < c->rows; r++)
            q[r] = -t[r] * nk[r];
        cp[nc + k] = q;
        ex[nc + k] = k == j->piv;
    }
    return nc + c->den.n;
}

/* Backward elimination from the largest model of out[0..kmax-1]: drops,
   one at a time, the term whose removal hurts the fit least, and keeps each
   smaller model that beats the forward path's model of its size (greedy
   forward selection often takes a wrong term early on; pruning the full
   model recovers the sparse one). */
static void ols_backward(pp_cand_t *out, int kmax, const double *const *cols,
                         const double *t, size_t rows, double *work)
{
    int last = -1;
    for (int k = 0; k < kmax; k++)
        if (out[k].valid)
            last = k;
    if (last < 1)
        return;
    int S[PP_MAX_TERMS], k = out[last].k;
    memcpy(S, out[last].sel, sizeof(int) * (size_t)k);
    while (k > 1) {
        int drop = -1;
        double best = INFINITY, coef[PP_MAX_TERMS], bc[PP_MAX_TERMS];
        const double *sc[PP_MAX_TERMS];
        for (int d = 0; d < k; d++) {
            int m = 0;
            for (int a = 0; a < k; a++)
                if (a != d)
                    sc[m++] = cols[S[a]];
            double rel = ls_solve(coef, sc, m, t, rows, work);
            if (rel < best) {
                best = rel;
                drop = d;
                memcpy(bc, coef, sizeof(double) * (size_t)m);
            }
        }
        if (drop < 0)
            return;
        for (int a = drop; a < k - 1; a++)
            S[a] = S[a + 1];
        k--;
        double crit = (double)rows * log(best * best + 1e-24) +
                      (double)k * log((double)rows) * 2;
        pp_cand_t *c = &out[k - 1];
        if (!c->valid || crit < c->crit) {
            c->k = k;
            memcpy(c->sel, S, sizeof(int) * (size_t)k);
            memcpy(c->coef, bc, sizeof(double) * (size_t)k);
            c->crit = crit;
            c->valid = 1;
        }
    }
}

/* Backward elimination from the full least-squares model over every
   usable column, for libraries small enough for one (at most rows / 2
   columns): each step drops the column whose removal raises the residual
   least, read off the inverse of the triangular factor, and every model of
   at most kmax terms that beats out[] of its size replaces it. Greedy
   forward selection cannot find a sum like x1^2 - 2 x1 x2 + x2^2 + ... when
   each true term alone explains less than some correlated wrong one; the
   full fit contains the true terms, and pruning keeps them. work holds
   rows * ncols + 2 ncols^2 + 4 ncols doubles. */
static void ols_prune(pp_cand_t *out, int kmax, const double *const *cols,
                      int ncols, const unsigned char *excluded, const double *t,
                      size_t rows, double *work)
{
    int *S = malloc(sizeof(int) * (size_t)ncols), k = 0;
    if (S == NULL)
        return;
    for (int i = 0; i < ncols; i++)
        if (!excluded || !excluded[i])
            S[k++] = i;
    if ((size_t)k * 2 > rows) {
        free(S);
        return;
    }
    size_t nc = (size_t)ncols;
    double *Q = work, *R = Q + rows * nc, *Ri = R + nc * nc;
    double *qt = Ri + nc * nc, *cf = qt + nc, *sc = cf + nc, *dg = sc + nc;
    double tn = 0;
    for (size_t j = 0; j < rows; j++)
        tn += t[j] * t[j];
    while (k >= 1 && tn > 0) {
        /* QR of the scaled columns S; a column dependent on the earlier
           ones is dropped on the spot. */
        int m = 0;
        for (int a = 0; a < k; a++) {
            double *q = Q + (size_t)m * rows, ss = 0;
            const double *col = cols[S[a]];
            for (size_t j = 0; j < rows; j++)
                ss += col[j] * col[j];
            double s1 = 1.0 / sqrt(ss);
            for (size_t j = 0; j < rows; j++)
                q[j] = col[j] * s1;
            for (int b = 0; b < m; b++) {
                const double *qb = Q + (size_t)b * rows;
                double d = 0;
                for (size_t j = 0; j < rows; j++)
                    d += qb[j] * q[j];
                R[(size_t)b * nc + (size_t)m] = d;
                for (size_t j = 0; j < rows; j++)
                    q[j] -= d * qb[j];
            }
            double nn = 0;
            for (size_t j = 0; j < rows; j++)
                nn += q[j] * q[j];
            if (!(nn > 1e-20))
                continue;
            nn = sqrt(nn);
            R[(size_t)m * nc + (size_t)m] = nn;
            for (size_t j = 0; j < rows; j++)
                q[j] /= nn;
            sc[m] = s1;
            S[m++] = S[a];
        }
        k = m;
        if (k == 0)
            break;
        for (int a = 0; a < k; a++) {
            const double *q = Q + (size_t)a * rows;
            double d = 0;
            for (size_t j = 0; j < rows; j++)
                d += q[j] * t[j];
            qt[a] = d;
        }
        for (int a = k - 1; a >= 0; a--) {
            double v = qt[a];
            for (int b = a + 1; b < k; b++)
                v -= R[(size_t)a * nc + (size_t)b] * cf[b];
            cf[a] = v / R[(size_t)a * nc + (size_t)a];
        }
        if (k <= kmax) {
            double res = 0;
            for (size_t j = 0; j < rows; j++) {
                double f = 0;
                for (int a = 0; a < k; a++)
                    f += cf[a] * sc[a] * cols[S[a]][j];
                res += (t[j] - f) * (t[j] - f);
            }
            double rel = sqrt(res / tn);
            double crit = fit_crit(rows, rel, k);
            pp_cand_t *c = &out[k - 1];
            if (isfinite(crit) && (!c->valid || crit < c->crit)) {
                c->k = k;
                for (int a = 0; a < k; a++) {
                    c->sel[a] = S[a];
                    c->coef[a] = cf[a] * sc[a];
                }
                c->crit = crit;
                c->valid = 1;
            }
        }
        if (k == 1)
            break;
        /* diag((R^T R)^-1) from the rows of R^-1: the residual grows by
           cf_i^2 / dg_i when column i goes. */
        for (int i = k - 1; i >= 0; i--) {
            Ri[(size_t)i * nc + (size_t)i] =
                1.0 / R[(size_t)i * nc + (size_t)i];
            for (int j = i + 1; j < k; j++) {
                double v = 0;
                for (int l = i + 1; l <= j; l++)
                    v += R[(size_t)i * nc + (size_t)l] *
                         Ri[(size_t)l * nc + (size_t)j];
                Ri[(size_t)i * nc + (size_t)j] =
                    -v / R[(size_t)i * nc + (size_t)i];
            }
        }
        int drop = 0;
        double best = INFINITY;
        for (int i = 0; i < k; i++) {
            double d = 0;
            for (int j = i; j < k; j++)
                d += Ri[(size_t)i * nc + (size_t)j] *
                     Ri[(size_t)i * nc + (size_t)j];
            dg[i] = cf[i] * cf[i] / d;
            if (dg[i] < best) {
                best = dg[i];
                drop = i;
            }
        }
        for (int a = drop; a < k - 1; a++)
            S[a] = S[a + 1];
        k--;
    }
    free(S);
}

static int cmp_job_crit(const void *pa, const void *pb, void *ctx)
{
    const double *best = ctx;
    int a = *(const int *)pa, b = *(const int *)pb;
    if (best[a] != best[b])
        return best[a] < best[b] ? -1 : 1;
    return (a > b) - (a < b);
}

int kp_propose(kp_expr_t *out, int cap, int *nout, const kp_grammar_t *g,
               const double *const *cols, int nvars, const double *y,
               size_t nrows, const kp_propose_params_t *prm, kp_error_t *err)
{
    kp_propose_params_t def;
    if (prm == NULL) {
        kp_propose_params_default(&def);
        prm = &def;
    }
    *nout = 0;
    if (cap < 0 || nvars < 0 || prm->max_rows < 4 || prm->max_terms < 1 ||
        prm->max_terms > PP_MAX_TERMS || prm->max_library < 1 ||
        prm->max_pivots < 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "propose: bad parameters");
    if (cap == 0 || nvars == 0 || nvars > prm->max_vars || nvars > 64 ||
        nrows < 8)
        return KP_OK;

    pp_ctx_t c;
    pf_ctx_t pf;
    memset(&c, 0, sizeof c);
    memset(&pf, 0, sizeof pf);
    c.nvars = nvars;
    c.rows = nrows < (size_t)prm->max_rows ? nrows : (size_t)prm->max_rows;
    int rc = KP_ENOMEM, njobs = 0, K = prm->max_terms;
    pp_cand_t *cand = NULL;
    pp_cand_t **order = NULL;
    uint64_t *hashes = NULL;
    double *tv = NULL, *tg = NULL, *jbest = NULL;
    int *jorder = NULL;
    c.x = malloc(sizeof(double) * c.rows * (size_t)nvars);
    c.y = malloc(sizeof(double) * c.rows);
    if (!c.x || !c.y)
        goto done;
    for (size_t j = 0; j < c.rows; j++) {
        size_t r = (size_t)((double)j * (double)nrows / (double)c.rows);
        for (int i = 0; i < nvars; i++)
            c.x[(size_t)i * c.rows + j] = cols[i][r];
        c.y[j] = y[r];
    }
    long small = prm->max_library / 4 > 10 ? prm->max_library / 4 : 10;
    if (lib_build(&c.num[0], nvars, 0, small) ||
        lib_build(&c.num[1], nvars, 1, prm->max_library) ||
        lib_build(&c.den, nvars, 0, prm->max_pivots + 1) ||
        (nvars <= 9 && lib_build_multilinear(&c.num[2], nvars, 700)) ||
        lib_eval(&c.num[0], &c) || lib_eval(&c.num[1], &c) ||
        lib_eval(&c.num[2], &c) || lib_eval(&c.den, &c))
        goto done;
    c.den_one = -1;
    for (int k = 0; k < c.den.n && c.den_one < 0; k++) {
        int zero = 1;
        for (int i = 0; i < nvars; i++)
            zero &= c.den.h[(size_t)k * nvars + i] == 0;
        if (zero)
            c.den_one = k;
    }
    if (c.den_one < 0)
        goto done;
    find_prefactors(&c);
    c.logx = malloc(sizeof(double) * c.rows * (size_t)nvars);
    if (c.logx == NULL)
        goto done;
    for (int v = 0; v < nvars; v++) {
        c.logok[v] = 1;
        for (size_t j = 0; j < c.rows; j++) {
            double l = log(fabs(c.x[(size_t)v * c.rows + j]));
            c.logok[v] &= isfinite(l);
            c.logx[(size_t)v * c.rows + j] = isfinite(l) ? l : 0;
        }
    }

    /* Targets T(base) per (base, transform). */
    int nbase = 1 + c.npre, ntg = nbase * T_COUNT;
    int signs[3 * T_COUNT], okt[3 * T_COUNT];
    tg = malloc(sizeof(double) * c.rows * (size_t)ntg);
    tv = malloc(sizeof(double) * c.rows);
    if (!tg || !tv)
        goto done;
    for (int b = 0; b < nbase; b++) {
        for (size_t j = 0; j < c.rows; j++)
            tv[j] =
                b ? c.y[j] / monomial_at(c.pre[b - 1], c.x, nvars, c.rows, j)
                  : c.y[j];
        for (int t = 0; t < T_COUNT; t++)
            okt[b * T_COUNT + t] =
                transform(tg + c.rows * (size_t)(b * T_COUNT + t), t, tv,
                          c.rows, &signs[b * T_COUNT + t]);
    }
    plan_work(&c, okt, ntg, K, prm->max_work);
    njobs = ntg * 3 * (1 + c.den.n);
    cand = calloc((size_t)njobs * (size_t)K, sizeof *cand);
    jbest = malloc(sizeof(double) * (size_t)njobs);
    jorder = malloc(sizeof(int) * (size_t)njobs);
    if (!cand || !jbest || !jorder)
        goto done;
    int nmax = c.num[0].n > c.num[1].n ? c.num[0].n : c.num[1].n;
    if (c.num[2].n > nmax)
        nmax = c.num[2].n;
    int ncols = nmax + (c.den.n > nvars ? c.den.n : nvars);
    /* cppcheck-suppress unreadVariable ; read by the pragma below */
    int nth = prm->threads > 0 ? prm->threads : omp_get_max_threads();
    int nback = njobs < 48 ? njobs : 48, fail = 0, nprune = 0, prune[6];
#pragma omp parallel num_threads(nth) reduction(| : fail)
    {
        const double **cp = malloc(sizeof(double *) * (size_t)ncols);
        unsigned char *ex = malloc((size_t)ncols);
        double *tcol = malloc(sizeof(double) * c.rows * (size_t)(c.den.n + 1));
        double *work =
            malloc(sizeof(double) *
                   (c.rows * (size_t)(ncols + 2 * K + 2) +
                    2 * (size_t)ncols * (size_t)ncols + 4 * (size_t)ncols));
        if (!cp || !ex || !tcol || !work)
            fail = 1;
            /* Forward selection for every job. */
#pragma omp for schedule(dynamic, 1)
        for (int job = 0; job < njobs; job++) {
            pp_job_t j = job_decode(&c, job);
            pp_cand_t *o = cand + (size_t)job * (size_t)K;
            jbest[job] = INFINITY;
            if (fail || !job_wanted(&c, &j, okt))
                continue;
            const double *target;
            int nc = job_columns(&c, &j, tg, cp, ex, tcol, &target);
            ols_job(o, K, cp, nc, ex, target, c.rows, work);
            if (j.lib == 0 && j.piv < 0)
                ols_prune(o, K, cp, nc, ex, target, c.rows, work);
            for (int k = 0; k < K; k++) {
                o[k].base = j.ti / T_COUNT;
                o[k].tr = j.tr;
                o[k].lib = j.lib;
                o[k].pivot = j.piv >= 0 ? j.piv : c.den_one;
                if (o[k].valid && o[k].crit < jbest[job])
                    jbest[job] = o[k].crit;
            }
        }
#pragma omp single
        {
            for (int i = 0; i < njobs; i++)
                jorder[i] = i;
            qsort_r(jorder, (size_t)njobs, sizeof(int), cmp_job_crit, jbest);
            /* The best few polynomial fits over the large library are
               pruned from their full fit too, when it is small enough. */
            nprune = 0;
            for (int r = 0; r < njobs && nprune < 6; r++) {
                pp_job_t j = job_decode(&c, jorder[r]);
                if (j.lib == 1 && j.piv < 0 && isfinite(jbest[jorder[r]]) &&
                    c.num[1].n + (takes_logs(j.tr) ? nvars : 0) <= 100 &&
                    (size_t)(c.num[1].n + nvars) * 2 <= c.rows)
                    prune[nprune++] = jorder[r];
            }
        }
#pragma omp for schedule(dynamic, 1)
        for (int r = 0; r < nprune; r++) {
            pp_job_t j = job_decode(&c, prune[r]);
            const double *target;
            int nc = job_columns(&c, &j, tg, cp, ex, tcol, &target);
            if (!fail)
                ols_prune(cand + (size_t)prune[r] * (size_t)K, K, cp, nc, ex,
                          target, c.rows, work);
        }
        /* Backward elimination for the most promising jobs. */
#pragma omp for schedule(dynamic, 1)
        for (int r = 0; r < nback; r++) {
            int job = jorder[r];
            pp_job_t j = job_decode(&c, job);
            if (fail || !isfinite(jbest[job]))
                continue;
            const double *target;
            job_columns(&c, &j, tg, cp, ex, tcol, &target);
            if (j.lib == 0 && j.piv >= 0 && r < 16 &&
                c.num[0].n + c.den.n <= 72) {
                int nc = job_columns(&c, &j, tg, cp, ex, tcol, &target);
                ols_prune(cand + (size_t)job * (size_t)K, K, cp, nc, ex, target,
                          c.rows, work);
            }
            ols_backward(cand + (size_t)job * (size_t)K, K, cp, target, c.rows,
                         work);
        }
        free(cp);
        free(ex);
        free(tcol);
        free(work);
    }
    if (fail)
        goto done;

    int ncand = 0;
    order = malloc(sizeof *order * (size_t)njobs * (size_t)K);
    hashes = malloc(sizeof(uint64_t) * (size_t)cap);
    if (!order || !hashes)
        goto done;
    for (int i = 0; i < njobs * K; i++)
        if (cand[i].valid)
            order[ncand++] = &cand[i];
    qsort(order, (size_t)ncand, sizeof *order, cmp_cand);
    if (pf_build(&pf, &c, g) || pf_select(&pf, &c, K < 8 ? K : 8, nth))
        goto done;
    /* The two kinds of candidates merged by the criterion. */
    for (int i = 0, ipf = 0; (i < ncand || ipf < pf.ncand) && *nout < cap;) {
        if (ipf < pf.ncand &&
            (i >= ncand || pf.cand[ipf].crit < order[i]->crit)) {
            for (int snap = 1; snap >= 0; snap--) {
                kp_expr_t e;
                if (pf_model(&e, &pf.cand[ipf], &pf, nvars, 1, snap) == 0 &&
                    emit(out, cap, nout, hashes, g, &e))
                    continue;
                if (pf_model(&e, &pf.cand[ipf], &pf, nvars, 0, snap) == 0)
                    emit(out, cap, nout, hashes, g, &e);
            }
            ipf++;
            continue;
        }
        const pp_cand_t *cd = order[i++];
        int ti = cd->base * T_COUNT + cd->tr;
        /* Exact small coefficients first (short, and exact as they
           stand when the data are), then free ones for the optimiser;
           each with powers, else with products only. */
        for (int snap = 1; snap >= 0; snap--) {
            kp_expr_t e;
            if (ex_model(&e, cd, &c, signs[ti], 1, snap) == 0 &&
                emit(out, cap, nout, hashes, g, &e))
                continue;
            if (ex_model(&e, cd, &c, signs[ti], 0, snap) == 0)
                emit(out, cap, nout, hashes, g, &e);
        }
    }
    rc = KP_OK;
done:
    pf_clear(&pf);
    free(c.x);
    free(c.y);
    for (int l = 0; l < 3; l++) {
        free(c.num[l].h);
        free(c.num[l].col);
    }
    free(c.den.h);
    free(c.den.col);
    free(c.logx);
    free(cand);
    free(order);
    free(hashes);
    free(tv);
    free(tg);
    free(jbest);
    free(jorder);
    if (rc != KP_OK)
        return kp_error_set(err, rc, NULL, 0, 0, "propose: out of memory");
    return KP_OK;
}
