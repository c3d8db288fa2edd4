/* kp_constopt.c: Levenberg-Marquardt over an expression's free constants
   (built-in and GSL), random restarts, and snapping to exact forms. See
   kp_constopt.h for the contract.

   Data flow of one fit: the rows of interest are gathered once into
   contiguous columns (unless they already are: idx NULL), with y and the
   square roots of the weights, so that kp_eval / kp_eval_jacobian run on
   plain arrays. Residuals are r_i = sqrt(w_i) (e(x_i) - y_i) and the LM cost
   is SSE = sum r_i^2; the reported loss is recomputed once at the end with
   kp_eval_mse_rows so that it matches the rest of Kepler bit for bit. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>

#include "kp_constopt.h"
#include "kp_eval.h"
#include "kp_recognize.h"

#define MAXC KP_EXPR_MAX_CONSTS

void kp_constopt_params_default(kp_constopt_params_t *p)
{
    p->method = KP_CONSTOPT_LM_FAST;
    p->max_iter = 40;
    p->restarts = 2;
    p->xtol = 1e-13;
    p->gtol = 1e-12;
    p->ftol = 1e-10;
    p->jitter = 0.5;
    p->log_lo = 1e-2;
    p->log_hi = 1e2;
    p->stop_rel = 1e-24;
    p->w = NULL;
    p->max_cands = 4;
    p->screen = 8;
    p->snap_aic = 0;
    p->snap_loose = 0;
    p->snap_penalty = 0;
    p->snap_min_bits = 0;
    p->snap_max_bits = 0;
}

/* ---------------------------------------------------------------------- */
/* Workspace                                                              */

int kp_constopt_ws_init(kp_constopt_ws_t *ws, size_t max_rows, int max_free,
                        kp_error_t *err)
{
    memset(ws, 0, sizeof *ws);
    if (max_free < 0)
        max_free = 0;
    if (max_free > MAXC)
        max_free = MAXC;
    if (max_rows > 0) {
        size_t m = (size_t)max_free;
        ws->buf = malloc(sizeof(double) * max_rows * (2 * m + 4));
        if (!ws->buf)
            return kp_error_set(err, KP_ENOMEM, NULL, 0, 0,
                                "constopt: cannot allocate workspace for "
                                "%zu rows", max_rows);
        ws->rows_cap = max_rows;
        ws->free_cap = max_free;
    }
    return KP_OK;
}

void kp_constopt_ws_clear(kp_constopt_ws_t *ws)
{
    free(ws->buf);
    free(ws->colbuf);
    free(ws->colp);
    for (int k = 0; k <= MAXC; k++)
        if (ws->gsl[k])
            gsl_multifit_nlinear_free(ws->gsl[k]);
    memset(ws, 0, sizeof *ws);
}

/* Makes room for n rows and m free constants in ws->buf. */
static int ws_reserve(kp_constopt_ws_t *ws, size_t n, int m, kp_error_t *err)
{
    if (n <= ws->rows_cap && m <= ws->free_cap)
        return KP_OK;
    size_t rows = n > ws->rows_cap ? n : ws->rows_cap;
    int fc = m > ws->free_cap ? m : ws->free_cap;
    double *b = malloc(sizeof(double) * rows * (2 * (size_t)fc + 4));
    if (!b)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0,
                            "constopt: cannot allocate workspace for %zu "
                            "rows", rows);
    free(ws->buf);
    ws->buf = b;
    ws->rows_cap = rows;
    ws->free_cap = fc;
    return KP_OK;
}

/* ---------------------------------------------------------------------- */
/* The least-squares problem                                              */

typedef struct {
    kp_expr_t e;              /* working copy; free constants overwritten */
    int m;                    /* number of free constants */
    int pool[MAXC];           /* pool index of free constant k */
    const double *const *cols; /* columns addressed by 0..n-1 */
    const double *y;          /* n targets */
    const double *sw;         /* n square-root weights, or NULL */
    size_t n;
    double *r, *J, *rt, *Jt;  /* residuals and Jacobian (J[k*n + i]):
                                 current and trial */
    double sumw;              /* sum of the weights (n when unweighted) */
    double ymean2;            /* weighted mean of y^2 */
    int status;               /* first KP_ENOMEM from the evaluator */
    long *node_rows;          /* the workspace's pass counter */
} prob_t;

/* Checks the data and parameters, fills P (copying e), and gathers the rows
   into ws when idx or weights are given. */
static int prob_setup(prob_t *P, kp_constopt_ws_t *ws, const kp_expr_t *e,
                      const double *const *cols, const double *y,
                      const size_t *idx, size_t n, const double *w,
                      kp_error_t *err)
{
    kp_error_t ce;
    kp_error_init(&ce);
    int rc = kp_expr_check(e, &ce);
    if (rc != KP_OK)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "constopt: malformed expression: %s", ce.msg);
    if (n > 0 && !y)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "constopt: no target values");
    P->e = *e;
    P->m = 0;
    for (int k = 0; k < e->nconst; k++)
        if (e->c[k].den == 0)
            P->pool[P->m++] = k;
    P->n = n;
    P->status = KP_OK;
    P->node_rows = &ws->node_rows;
    rc = ws_reserve(ws, n, P->m, err);
    if (rc != KP_OK)
        return rc;
    size_t nm = n * (size_t)P->m;
    P->r = ws->buf;
    P->J = P->r + n;
    P->rt = P->J + nm;
    P->Jt = P->rt + n;
    double *yg = P->Jt + nm;
    double *sw = yg + n;

    double sumw = 0, sumy2 = 0;
    for (size_t j = 0; j < n; j++) {
        size_t row = idx ? idx[j] : j;
        double yi = y[row];
        double wi = w ? w[row] : 1.0;
        if (!isfinite(yi))
            return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                "constopt: target value of row %zu is not "
                                "finite", row);
        if (!(wi >= 0) || !isfinite(wi))
            return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                "constopt: weight of row %zu is negative or "
                                "not finite", row);
        yg[j] = yi;
        sw[j] = sqrt(wi);
        sumw += wi;
        sumy2 += wi * yi * yi;
    }
    if (n > 0 && !(sumw > 0))
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "constopt: the weights sum to zero");
    P->sumw = n > 0 ? sumw : 1;
    P->ymean2 = n > 0 ? sumy2 / sumw : 0;
    P->y = yg;
    P->sw = w ? sw : NULL;

    if (!idx) {
        P->cols = cols;
        return KP_OK;
    }
    int nv = kp_expr_nvars(e);
    if (nv > ws->colp_cap) {
        const double **cp = realloc(ws->colp, sizeof *cp * (size_t)nv);
        if (!cp)
            return kp_error_set(err, KP_ENOMEM, NULL, 0, 0,
                                "constopt: out of memory");
        ws->colp = cp;
        ws->colp_cap = nv;
    }
    /* Only the variables e uses are gathered (cols may hold NULL for the
       others); unused slots keep the caller's pointer, never read. */
    unsigned char used[KP_MAX_VARS];
    memset(used, 0, (size_t)nv);
    int nused = 0;
    for (int i = 0; i < e->len; i++)
        if (kp_tok_is_var(e->tok[i]) && !used[kp_tok_var(e->tok[i])]) {
            used[kp_tok_var(e->tok[i])] = 1;
            nused++;
        }
    size_t need = (size_t)nused * n;
    if (need > ws->colbuf_cap) {
        double *cb = malloc(sizeof(double) * need);
        if (!cb)
            return kp_error_set(err, KP_ENOMEM, NULL, 0, 0,
                                "constopt: out of memory");
        free(ws->colbuf);
        ws->colbuf = cb;
        ws->colbuf_cap = need;
    }
    double *dst = ws->colbuf;
    for (int v = 0; v < nv; v++) {
        if (!used[v]) {
            ws->colp[v] = cols ? cols[v] : NULL;
            continue;
        }
        const double *src = cols[v];
        for (size_t j = 0; j < n; j++)
            dst[j] = src[idx[j]];
        ws->colp[v] = dst;
        dst += n;
    }
    P->cols = ws->colp;
    return KP_OK;
}

static void prob_set_x(prob_t *P, const double *x)
{
    for (int k = 0; k < P->m; k++)
        P->e.c[P->pool[k]].value = x[k];
}

/* Evaluates residuals at x into r (and the Jacobian into J unless NULL).
   Returns the SSE, or +inf when a residual is not finite. Jacobian entries
   that are not finite (derivatives undefined at an isolated point, such as
   d/dc x**c at x = 0) are set to 0: such a row then carries no gradient
   information for that constant instead of poisoning the whole step. */
static double prob_eval(prob_t *P, const double *x, double *r, double *J)
{
    size_t n = P->n;
    prob_set_x(P, x);
    *P->node_rows += (long)P->e.len * (long)n;
    int rc = J ? kp_eval_jacobian(r, J, &P->e, P->cols, n)
               : kp_eval(r, &P->e, P->cols, n);
    if (rc != KP_OK) {
        if (P->status == KP_OK)
            P->status = rc;
        return INFINITY;
    }
    const double *y = P->y, *sw = P->sw;
    double sse = 0;
    if (sw) {
        for (size_t i = 0; i < n; i++) {
            double v = sw[i] * (r[i] - y[i]);
            r[i] = v;
            sse += v * v;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            double v = r[i] - y[i];
            r[i] = v;
            sse += v * v;
        }
    }
    if (!isfinite(sse))
        return INFINITY;
    if (J) {
        for (int k = 0; k < P->m; k++) {
            double *Jk = J + (size_t)k * n;
            for (size_t i = 0; i < n; i++) {
                double d = sw ? sw[i] * Jk[i] : Jk[i];
                Jk[i] = isfinite(d) ? d : 0.0;
            }
        }
    }
    return sse;
}

/* ---------------------------------------------------------------------- */
/* Built-in LM                                                            */

/* Cholesky factorisation of the m x m matrix M (row-major, in place, lower
   triangle) and solution of M h = b. Returns 0 if M is not positive
   definite. */
static int chol_solve(double *M, int m, const double *b, double *h)
{
    for (int j = 0; j < m; j++) {
        double d = M[j * m + j];
        for (int k = 0; k < j; k++)
            d -= M[j * m + k] * M[j * m + k];
        if (!(d > 0) || !isfinite(d))
            return 0;
        d = sqrt(d);
        M[j * m + j] = d;
        for (int i = j + 1; i < m; i++) {
            double s = M[i * m + j];
            for (int k = 0; k < j; k++)
                s -= M[i * m + k] * M[j * m + k];
            M[i * m + j] = s / d;
        }
    }
    for (int i = 0; i < m; i++) {
        double s = b[i];
        for (int k = 0; k < i; k++)
            s -= M[i * m + k] * h[k];
        h[i] = s / M[i * m + i];
    }
    for (int i = m - 1; i >= 0; i--) {
        double s = h[i];
        for (int k = i + 1; k < m; k++)
            s -= M[k * m + i] * h[k];
        h[i] = s / M[i * m + i];
    }
    return 1;
}

/* Marquardt's LM with Nielsen's damping update (Madsen, Nielsen, Tingleff,
   "Methods for non-linear least squares problems", 2004, alg. 3.16), with
   the diagonal of J^T J as scaling (Marquardt) so the step is invariant to
   the constants' units. A trial point is evaluated without derivatives and
   the Jacobian is computed only once a step is accepted: kp_eval_jacobian
   costs far more than kp_eval, and rejected steps then cost little. Stops
   early once SSE <= Fstop (an exact fit up to rounding, where the relative
   tests would only burn rejected steps at the rounding floor). x is the
   start on entry and the best point on return; returns its SSE (+inf if x
   is not a point where e is finite). */
static double lm_fast(prob_t *P, double *x, const kp_constopt_params_t *p,
                      double Fstop)
{
    int m = P->m;
    size_t n = P->n;
    /* Sized by m (>= 1) rather than MAXC: 64 KB less stack per call. */
    double A[m * m], M[m * m], g[m], D[m], h[m], xt[m], b[m];
    double F = prob_eval(P, x, P->r, P->J);
    if (!isfinite(F))
        return INFINITY;
    double mu = 1e-6, nu = 2;
    int need_normal = 1;
    for (int it = 0; it < p->max_iter && F > Fstop;) {
        if (need_normal) {
            const double *J = P->J, *r = P->r;
            for (int a = 0; a < m; a++) {
                const double *Ja = J + (size_t)a * n;
                for (int c = 0; c <= a; c++) {
                    const double *Jc = J + (size_t)c * n;
                    double s = 0;
                    for (size_t i = 0; i < n; i++)
                        s += Ja[i] * Jc[i];
                    A[a * m + c] = A[c * m + a] = s;
                }
                double s = 0;
                for (size_t i = 0; i < n; i++)
                    s += Ja[i] * r[i];
                g[a] = s;
            }
            double dmax = 0, gs = 0;
            for (int a = 0; a < m; a++) {
                if (A[a * m + a] > dmax)
                    dmax = A[a * m + a];
                double t = fabs(g[a]) * fmax(fabs(x[a]), 1.0);
                if (t > gs)
                    gs = t;
            }
            /* Scale-free gradient test: g is d(SSE/2)/dx, so g*x/SSE is the
               relative change of the cost per relative change of x. */
            if (dmax == 0 || gs <= p->gtol * F)
                break;
            for (int a = 0; a < m; a++)
                D[a] = fmax(A[a * m + a], 1e-12 * dmax);
            need_normal = 0;
        }
        for (int a = 0; a < m; a++) {
            for (int c = 0; c < m; c++)
                M[a * m + c] = A[a * m + c];
            M[a * m + a] += mu * D[a];
            b[a] = -g[a];
        }
        if (!chol_solve(M, m, b, h)) {
            mu *= nu;
            nu *= 2;
            it++;
            if (!(mu < 1e300))
                break;
            continue;
        }
        double hn = 0, xn = 0;
        for (int a = 0; a < m; a++) {
            hn += h[a] * h[a];
            xn += x[a] * x[a];
            xt[a] = x[a] + h[a];
        }
        if (sqrt(hn) <= p->xtol * (sqrt(xn) + p->xtol))
            break;
        double Ft = prob_eval(P, xt, P->rt, NULL);
        it++;
        double pred = 0;
        for (int a = 0; a < m; a++)
            pred += h[a] * (mu * D[a] * h[a] - g[a]);
        pred *= 0.5; /* predicted decrease of SSE/2 */
        if (Ft < F && pred > 0) {
            double rho = 0.5 * (F - Ft) / pred;
            double dec = F - Ft;
            double Fold = F;
            memcpy(x, xt, sizeof(double) * (size_t)m);
            F = Ft;
            double q = 2 * rho - 1;
            mu *= fmax(1.0 / 3.0, 1 - q * q * q);
            nu = 2;
            if (dec <= p->ftol * Fold || F <= Fstop || it >= p->max_iter)
                break;
            /* Same values bit for bit as the trial, plus derivatives. */
            if (!isfinite(prob_eval(P, x, P->r, P->J)))
                break;
            need_normal = 1;
        } else {
            mu *= nu;
            nu *= 2;
            if (!(mu < 1e300))
                break;
        }
    }
    return F;
}

/* ---------------------------------------------------------------------- */
/* GSL LM (reference)                                                     */

/* Callbacks report a non-finite residual as GSL_EDOM, which makes GSL's
   trust-region iteration reject the step and shrink the region. */
static int gsl_f(const gsl_vector *xv, void *params, gsl_vector *f)
{
    prob_t *P = params;
    double x[MAXC];
    for (int k = 0; k < P->m; k++)
        x[k] = gsl_vector_get(xv, (size_t)k);
    double sse = prob_eval(P, x, P->rt, NULL);
    if (!isfinite(sse))
        return GSL_EDOM;
    for (size_t i = 0; i < P->n; i++)
        gsl_vector_set(f, i, P->rt[i]);
    return GSL_SUCCESS;
}

static int gsl_df(const gsl_vector *xv, void *params, gsl_matrix *Jm)
{
    prob_t *P = params;
    double x[MAXC];
    for (int k = 0; k < P->m; k++)
        x[k] = gsl_vector_get(xv, (size_t)k);
    double sse = prob_eval(P, x, P->rt, P->Jt);
    if (!isfinite(sse))
        return GSL_EDOM;
    for (size_t i = 0; i < P->n; i++)
        for (int k = 0; k < P->m; k++)
            gsl_matrix_set(Jm, i, (size_t)k, P->Jt[(size_t)k * P->n + i]);
    return GSL_SUCCESS;
}

static double lm_gsl(kp_constopt_ws_t *ws, prob_t *P, double *x,
                     const kp_constopt_params_t *p)
{
    int m = P->m;
    size_t n = P->n;
    /* GSL refuses n < p (through its error handler, which aborts by
       default); the damped normal equations of lm_fast are fine there. */
    if (n < (size_t)m)
        return lm_fast(P, x, p, 0);
    double F0 = prob_eval(P, x, P->r, NULL);
    if (!isfinite(F0))
        return INFINITY;
    gsl_multifit_nlinear_workspace *w = ws->gsl[m];
    if (w && ws->gsl_n[m] != n) {
        gsl_multifit_nlinear_free(w);
        ws->gsl[m] = w = NULL;
    }
    if (!w) {
        gsl_multifit_nlinear_parameters gp =
            gsl_multifit_nlinear_default_parameters();
        gp.trs = gsl_multifit_nlinear_trs_lm;
        w = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &gp, n,
                                       (size_t)m);
        if (!w) {
            P->status = KP_ENOMEM;
            return INFINITY;
        }
        ws->gsl[m] = w;
        ws->gsl_n[m] = n;
    }
    gsl_multifit_nlinear_fdf fdf;
    fdf.f = gsl_f;
    fdf.df = gsl_df;
    fdf.fvv = NULL;
    fdf.n = n;
    fdf.p = (size_t)m;
    fdf.params = P;
    gsl_vector_view xv = gsl_vector_view_array(x, (size_t)m);
    if (gsl_multifit_nlinear_init(&xv.vector, &fdf, w) != GSL_SUCCESS)
        return F0;
    int info = 0;
    gsl_multifit_nlinear_driver((size_t)p->max_iter, p->xtol, p->gtol,
                                p->ftol, NULL, NULL, &info, w);
    /* Whatever the driver's status, its position is the best accepted
       point (GSL only moves on a decrease); evaluate it ourselves. */
    gsl_vector *pos = gsl_multifit_nlinear_position(w);
    double xb[MAXC];
    for (int k = 0; k < m; k++)
        xb[k] = gsl_vector_get(pos, (size_t)k);
    double F = prob_eval(P, xb, P->r, NULL);
    if (F < F0) {
        memcpy(x, xb, sizeof(double) * (size_t)m);
        return F;
    }
    return F0;
}

/* ---------------------------------------------------------------------- */
/* Fitting with restarts                                                  */

static int check_params(const kp_constopt_params_t *p, kp_error_t *err)
{
    if ((p->method != KP_CONSTOPT_LM_FAST && p->method != KP_CONSTOPT_LM_GSL)
        || p->max_iter < 0 || p->restarts < 0 || !(p->xtol >= 0)
        || !(p->gtol >= 0) || !(p->ftol >= 0) || !(p->jitter >= 0)
        || !(p->log_lo > 0) || !(p->log_hi >= p->log_lo)
        || !isfinite(p->log_hi) || !(p->stop_rel >= 0) || p->max_cands < 0 || p->screen < 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "constopt: invalid parameters");
    return KP_OK;
}

/* One start point for restart s >= 1: odd restarts jitter the best point
   so far (refining a basin), even ones draw log-uniform magnitudes with
   random signs (exploring scales the start did not cover). */
static void restart_point(double *xs, const double *best, int m, int s,
                          const kp_constopt_params_t *p, kp_rng_t *rng)
{
    double llo = log(p->log_lo), lhi = log(p->log_hi);
    for (int k = 0; k < m; k++) {
        if (s % 2 == 1) {
            double b = best[k];
            double z = kp_rng_normal(rng);
            xs[k] = b != 0 ? b * (1 + p->jitter * z) : p->jitter * z;
        } else {
            double u = kp_rng_uniform(rng);
            double mag = exp(llo + (lhi - llo) * u);
            xs[k] = (kp_rng_next(rng) >> 63) ? -mag : mag;
        }
    }
}

/* Draws p->screen candidate points for restart s and leaves in xs the one
   with the lowest SSE (plain evaluations only, each a small fraction of one
   LM step), or the first one if none is finite. */
static void screened_restart(prob_t *P, double *xs, const double *best,
                             int s, const kp_constopt_params_t *p,
                             kp_rng_t *rng)
{
    double cand[MAXC], Fb = INFINITY;
    int m = P->m;
    for (int j = 0; j < (p->screen > 0 ? p->screen : 1); j++) {
        restart_point(cand, best, m, s, p, rng);
        double F = p->screen > 1 ? prob_eval(P, cand, P->rt, NULL) : 0;
        if (j == 0 || F < Fb) {
            Fb = F;
            memcpy(xs, cand, sizeof(double) * (size_t)m);
        }
    }
}

int kp_constopt_fit_ws(kp_constopt_ws_t *ws, kp_expr_t *e,
                       const double *const *cols, const double *y,
                       const size_t *idx, size_t n,
                       const kp_constopt_params_t *p, kp_rng_t *rng,
                       double *loss_out, kp_error_t *err)
{
    kp_constopt_params_t def;
    if (!p) {
        kp_constopt_params_default(&def);
        p = &def;
    }
    int rc = check_params(p, err);
    if (rc != KP_OK)
        return rc;
    prob_t P;
    rc = prob_setup(&P, ws, e, cols, y, idx, n, p->w, err);
    if (rc != KP_OK)
        return rc;
    double L0 = kp_eval_mse_rows(e, cols, y, p->w, idx, n);
    ws->node_rows += (long)e->len * (long)n;
    if (isnan(L0))
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "constopt: the evaluator rejected the "
                            "expression");
    int m = P.m;
    if (m == 0 || n == 0) {
        if (loss_out)
            *loss_out = L0;
        return KP_OK;
    }

    double x0[MAXC], best[MAXC], xs[MAXC];
    for (int k = 0; k < m; k++)
        x0[k] = e->c[P.pool[k]].value;
    memcpy(best, x0, sizeof(double) * (size_t)m);
    double Fbest = INFINITY;
    double Fstop = p->stop_rel * P.ymean2 * P.sumw;
    for (int s = 0; s <= p->restarts; s++) {
        if (s == 0)
            memcpy(xs, x0, sizeof(double) * (size_t)m);
        else if (!rng)
            break;
        else
            screened_restart(&P, xs, best, s, p, rng);
        double F = p->method == KP_CONSTOPT_LM_GSL
                       ? lm_gsl(ws, &P, xs, p)
                       : lm_fast(&P, xs, p, Fstop);
        if (P.status != KP_OK)
            return kp_error_set(err, P.status, NULL, 0, 0,
                                "constopt: out of memory in the evaluator");
        if (F < Fbest) {
            Fbest = F;
            memcpy(best, xs, sizeof(double) * (size_t)m);
        }
        if (Fbest <= Fstop)
            break;
    }

    double L = L0;
    if (isfinite(Fbest)) {
        kp_expr_t t = *e;
        for (int k = 0; k < m; k++)
            t.c[P.pool[k]].value = best[k];
        double Lb = kp_eval_mse_rows(&t, cols, y, p->w, idx, n);
        ws->node_rows += (long)t.len * (long)n;
        /* Never hand back worse constants than we were given (LM compares
           its own sums; this is the authoritative loss). */
        if (Lb <= L0) {
            *e = t;
            L = Lb;
        }
    }
    if (loss_out)
        *loss_out = L;
    return KP_OK;
}

int kp_constopt_fit(kp_expr_t *e, const double *const *cols, const double *y,
                    const size_t *idx, size_t n,
                    const kp_constopt_params_t *p, kp_rng_t *rng,
                    double *loss_out, kp_error_t *err)
{
    kp_constopt_ws_t ws;
    int rc = kp_constopt_ws_init(&ws, n, kp_expr_nfree(e), err);
    if (rc == KP_OK)
        rc = kp_constopt_fit_ws(&ws, e, cols, y, idx, n, p, rng, loss_out,
                                err);
    kp_constopt_ws_clear(&ws);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Snapping                                                               */

#define SNAP_MAX_RECOG 16

/* Position in prefix order of the t-th free constant of e, or -1. */
static int free_const_pos(const kp_expr_t *e, int t, int *pool)
{
    int k = 0;
    for (int i = 0; i < e->len; i++) {
        if (e->tok[i] != KP_TOK_CONST)
            continue;
        if (e->c[k].den == 0 && t-- == 0) {
            *pool = k;
            return i;
        }
        k++;
    }
    return -1;
}

static int cmp_complexity(const void *a, const void *b)
{
    const kp_recog_t *x = a, *y = b;
    if (x->complexity != y->complexity)
        return x->complexity < y->complexity ? -1 : 1;
    /* Stable on kp_recognize's ranking: score descending. */
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return 0;
}

/* Candidates for constant x: 0 first when x is negligible, then
   kp_recognize's forms, simplest first. */
static int snap_candidates(kp_recog_t *out, double x, double rel_tol,
                           double min_bits, double max_bits)
{
    int nc = 0;
    if (x == 0)
        return 0;
    if (fabs(x) < rel_tol) {
        memset(&out[0], 0, sizeof out[0]);
        out[0].kind = KP_RECOG_RATIONAL;
        out[0].sign = 0;
        out[0].p = 0;
        out[0].q = 1;
        nc = 1;
    }
    int r = kp_recognize_bits(out + nc, SNAP_MAX_RECOG, x, rel_tol, min_bits,
                              NULL);
    if (r > 0 && max_bits > 0) { /* only simple forms */
        int m = 0;
        for (int i = 0; i < r; i++)
            if (out[nc + i].complexity <= max_bits)
                out[nc + m++] = out[nc + i];
        r = m;
    }
    if (r > 0) {
        qsort(out + nc, (size_t)r, sizeof *out, cmp_complexity);
        nc += r;
    }
    return nc;
}

int kp_constopt_snap_ws(kp_constopt_ws_t *ws, kp_expr_t *e,
                        const double *const *cols, const double *y,
                        const size_t *idx, size_t n, double rel_tol,
                        const kp_constopt_params_t *p, double *loss_inout,
                        kp_error_t *err)
{
    kp_constopt_params_t q;
    if (p)
        q = *p;
    else
        kp_constopt_params_default(&q);
    int rc = check_params(&q, err);
    if (rc != KP_OK)
        return rc;
    if (!(rel_tol > 0 && rel_tol < 1))
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "constopt: snap tolerance %g is not in (0, 1)",
                            rel_tol);
    /* Validates e and the data, and gives the scale of y for the absolute
       tolerance. */
    prob_t P;
    rc = prob_setup(&P, ws, e, cols, y, idx, n, q.w, err);
    if (rc != KP_OK)
        return rc;
    double ymean2 = P.ymean2;
    double L = *loss_inout;
    if (isnan(L) || L < 0)
        L = kp_eval_mse_rows(e, cols, y, q.w, idx, n);
    if (!(L < INFINITY)) {
        /* Nothing to preserve on data where e is undefined. */
        *loss_inout = L;
        return KP_OK;
    }
    /* Compared against the input loss, so a chain of accepted snaps cannot
       drift further than one tolerance. */
    double thr = L * (1 + KP_CONSTOPT_SNAP_RTOL)
                 + KP_CONSTOPT_SNAP_ATOL * ymean2;
    double L0 = L;
    int removed = 0; /* free constants snapped so far */
    /* per constant removed: Akaike's 2, or the caller's (log n: Schwarz) */
    double pen = q.snap_penalty > 0 ? q.snap_penalty : 2.0;
    q.restarts = 0;

    kp_expr_t cur = *e, trial, sub;
    kp_recog_t cand[SNAP_MAX_RECOG + 1];
    int t = 0, pool;
    for (int pos; (pos = free_const_pos(&cur, t, &pool)) >= 0;) {
        double x = cur.c[pool].value;
        int nc = snap_candidates(cand, x, rel_tol,
                                 q.snap_min_bits > 0 ? q.snap_min_bits
                                                     : KP_RECOG_MIN_BITS,
                                 q.snap_max_bits);
        if (nc > q.max_cands)
            nc = q.max_cands;
        int accepted = 0;
        for (int j = 0; j < nc && !accepted; j++) {
            const kp_recog_t *cd = &cand[j];
            if (cd->kind == KP_RECOG_RATIONAL) {
                trial = cur;
                trial.c[pool].num = cd->sign < 0 ? -cd->p : cd->p;
                trial.c[pool].den = cd->q;
                trial.c[pool].value = (double)trial.c[pool].num
                                      / (double)cd->q;
            } else {
                if (kp_recognize_to_expr(&sub, cd, NULL) != KP_OK
                    || kp_expr_replace_subtree(&trial, &cur, pos, &sub, 0)
                           != KP_OK)
                    continue;
            }
            double Lt;
            if (kp_expr_nfree(&trial) > 0) {
                rc = kp_constopt_fit_ws(ws, &trial, cols, y, idx, n, &q,
                                        NULL, &Lt, err);
                if (rc != KP_OK)
                    return rc;
            } else {
                Lt = kp_eval_mse_rows(&trial, cols, y, q.w, idx, n);
            }
            double lim = thr;
            if (q.snap_loose > 0)
                lim = fmax(lim, L0 * q.snap_loose +
                                    KP_CONSTOPT_SNAP_ATOL * ymean2);
            if (q.snap_aic && n > 0) {
                int k = kp_expr_nfree(&cur) - kp_expr_nfree(&trial) + removed;
                double aic = L0 * exp(pen * k / (double)n)
                             + KP_CONSTOPT_SNAP_ATOL * ymean2;
                if (aic > lim)
                    lim = aic;
            }
            if (Lt <= lim) {
                removed += kp_expr_nfree(&cur) - kp_expr_nfree(&trial);
                cur = trial;
                L = Lt;
                thr = L0 * (1 + KP_CONSTOPT_SNAP_RTOL)
                      + KP_CONSTOPT_SNAP_ATOL * ymean2;
                if (q.snap_aic && n > 0)
                    thr = fmax(thr, L0 * exp(pen * removed / (double)n)
                                        + KP_CONSTOPT_SNAP_ATOL * ymean2);
                if (q.snap_loose > 0)
                    thr = fmax(thr, L0 * q.snap_loose +
                                        KP_CONSTOPT_SNAP_ATOL * ymean2);
                accepted = 1;
            }
        }
        /* An accepted snap removes a free constant, so the next one now has
           ordinal t; a rejected one stays free and is skipped. */
        if (!accepted)
            t++;
    }

    trial = cur;
    kp_expr_simplify(&trial);
    double Ls = kp_eval_mse_rows(&trial, cols, y, q.w, idx, n);
    if (Ls <= thr) {
        cur = trial;
        L = Ls;
    }
    *e = cur;
    *loss_inout = L;
    return KP_OK;
}

int kp_constopt_snap(kp_expr_t *e, const double *const *cols,
                     const double *y, const size_t *idx, size_t n,
                     double rel_tol, const kp_constopt_params_t *p,
                     double *loss_inout, kp_error_t *err)
{
    kp_constopt_ws_t ws;
    int rc = kp_constopt_ws_init(&ws, n, kp_expr_nfree(e), err);
    if (rc == KP_OK)
        rc = kp_constopt_snap_ws(&ws, e, cols, y, idx, n, rel_tol, p,
                                 loss_inout, err);
    kp_constopt_ws_clear(&ws);
    return rc;
}
