/* kp_equiv.c: constant-offset / constant-ratio test of a model against a
   known truth, on rigorous values (see kp_equiv.h for the criterion). */
#include <math.h>
#include <stdlib.h>

#include <arb.h>
#include <flint/fmpq.h>

#include "kp_equiv.h"
#include "kp_exact.h"

/* Working precision of the comparisons: the values are accurate to about
   goal_bits, and the tolerance is far coarser than either. */
#define EQUIV_PREC 256

void kp_equiv_opts_default(kp_equiv_opts_t *o)
{
    o->npoints = KP_EQUIV_DEFAULT_POINTS;
    o->max_skipped = KP_EQUIV_DEFAULT_POINTS;
    o->rtol = KP_EQUIV_DEFAULT_RTOL;
    o->goal_bits = 64;
    o->max_prec = 4096;
}

const char *kp_equiv_name(int verdict)
{
    switch (verdict) {
    case KP_EQUIV_NO: return "no";
    case KP_EQUIV_SAME: return "same";
    case KP_EQUIV_OFFSET: return "offset";
    case KP_EQUIV_SCALE: return "scale";
    case KP_EQUIV_UNDECIDED: return "undecided";
    default: return "?";
    }
}

int kp_equiv_is_match(int verdict)
{
    return verdict == KP_EQUIV_SAME || verdict == KP_EQUIV_OFFSET
        || verdict == KP_EQUIV_SCALE;
}

/* Ball of an evaluation result that has a value (RATIONAL or BALL). The
   rational is enclosed at prec bits, far below the tolerance. */
static void exact_to_arb(arb_t b, const kp_exact_t *r, slong prec)
{
    if (r->kind == KP_EXACT_RATIONAL)
        arb_set_fmpq(b, r->q, prec);
    else
        arb_set(b, r->b);
}

/* Upper bound of |mid(b) - c| + rad(b) in double: a ball's distance to a
   double, rounded outward well below any tolerance we use. */
static double ball_dev(const arb_t b, double c)
{
    double m = arf_get_d(arb_midref(b), ARF_RND_NEAR);
    double r = mag_get_d(arb_radref(b));
    return fabs(m - c) + r;
}

static int check_args(const kp_expr_t *truth, const kp_expr_t *model,
                      const double *lo, const double *hi, int nvars,
                      const kp_equiv_opts_t *o, kp_rng_t *rng,
                      kp_error_t *err)
{
    if (truth == NULL || model == NULL || rng == NULL)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "equiv: NULL expression or rng");
    if (nvars < 0 || nvars > KP_MAX_VARS)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "equiv: %d variables is out of range", nvars);
    if (nvars > 0 && (lo == NULL || hi == NULL))
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "equiv: NULL sampling range");
    for (int v = 0; v < nvars; v++)
        if (!isfinite(lo[v]) || !isfinite(hi[v]) || lo[v] > hi[v])
            return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                "equiv: bad range [%g, %g] for variable %d",
                                lo[v], hi[v], v);
    if (o->npoints < 2 || o->max_skipped < 0 || !(o->rtol > 0)
        || !isfinite(o->rtol) || o->goal_bits < 2
        || o->max_prec < o->goal_bits)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "equiv: bad options (npoints %d, max_skipped %d, "
                            "rtol %g)", o->npoints, o->max_skipped, o->rtol);
    return KP_OK;
}

/* Evaluates truth and model at one random point. Returns KP_OK with
   *status 0 (both values in T and M), 1 (skip the point) or 2 (the truth
   is defined and the model is not), or an error from kp_exact. */
static int eval_point(int *status, arb_t T, arb_t M, const kp_expr_t *truth,
                      const kp_expr_t *model, const double *lo,
                      const double *hi, int nvars, fmpq *pt,
                      const kp_equiv_opts_t *o, kp_rng_t *rng,
                      kp_error_t *err)
{
    kp_exact_t rt, rm;
    int rc;

    for (int v = 0; v < nvars; v++) {
        double x = lo[v] + (hi[v] - lo[v]) * kp_rng_uniform(rng);
        if (x > hi[v]) /* rounding of lo + (hi - lo) u */
            x = hi[v];
        kp_exact_fmpq_from_double(pt + v, x);
    }
    kp_exact_init(&rt);
    kp_exact_init(&rm);
    *status = 1;
    rc = kp_exact_eval_adaptive(&rt, truth, pt, nvars, o->goal_bits,
                                o->max_prec, NULL, err);
    if (rc == KP_OK)
        rc = kp_exact_eval_adaptive(&rm, model, pt, nvars, o->goal_bits,
                                    o->max_prec, NULL, err);
    if (rc == KP_OK) {
        int th = rt.kind == KP_EXACT_RATIONAL
            || (rt.kind == KP_EXACT_BALL && arb_is_finite(rt.b));
        int mh = rm.kind == KP_EXACT_RATIONAL
            || (rm.kind == KP_EXACT_BALL && arb_is_finite(rm.b));
        if (th && rm.kind == KP_EXACT_UNDEFINED)
            *status = 2;
        else if (th && mh) {
            exact_to_arb(T, &rt, EQUIV_PREC);
            exact_to_arb(M, &rm, EQUIV_PREC);
            double t = arf_get_d(arb_midref(T), ARF_RND_NEAR);
            double m = arf_get_d(arb_midref(M), ARF_RND_NEAR);
            /* Values beyond the double range cannot be weighed in double
               arithmetic below: treat them like unknown ones. */
            if (isfinite(t) && isfinite(m) && isfinite(t * t)
                && isfinite(m * t))
                *status = 0;
        }
    }
    kp_exact_clear(&rt);
    kp_exact_clear(&rm);
    return rc;
}

/* The verdict from the values at n points (see kp_equiv.h). */
static int judge(kp_equiv_info_t *info, const arb_struct *T,
                 const arb_struct *M, int n, double rtol, slong prec)
{
    double st2 = 0, stm = 0, sd = 0;
    arb_t d, kb;

    arb_init(d);
    arb_init(kb);
    for (int i = 0; i < n; i++) {
        double t = arf_get_d(arb_midref(T + i), ARF_RND_NEAR);
        double m = arf_get_d(arb_midref(M + i), ARF_RND_NEAR);
        st2 += t * t;
        stm += t * m;
        arb_sub(d, M + i, T + i, prec); /* no cancellation loss */
        sd += arf_get_d(arb_midref(d), ARF_RND_NEAR);
    }
    double S = st2 > 0 ? sqrt(st2 / n) : 1.0;
    double off = sd / n;
    double k = st2 > 0 ? stm / st2 : 0.0;
    double dev_off = 0, dev_k = 0;
    arb_set_d(kb, k);
    for (int i = 0; i < n; i++) {
        arb_sub(d, M + i, T + i, prec);
        double e = ball_dev(d, off);
        if (!(e <= dev_off))
            dev_off = e;
        arb_mul(d, kb, T + i, prec);
        arb_sub(d, M + i, d, prec);
        e = ball_dev(d, 0.0);
        if (!(e <= dev_k))
            dev_k = e;
    }
    arb_clear(d);
    arb_clear(kb);
    dev_off /= S;
    dev_k = k != 0 ? dev_k / (fabs(k) * S) : INFINITY;
    info->scale = S;
    info->offset = off;
    info->ratio = k;
    info->dev_offset = dev_off;
    info->dev_ratio = dev_k;

    int is_off = dev_off <= rtol, is_scale = dev_k <= rtol;
    if ((is_off && fabs(off) <= rtol * S)
        || (is_scale && fabs(k - 1) <= rtol))
        return KP_EQUIV_SAME;
    if (is_off)
        return KP_EQUIV_OFFSET;
    if (is_scale)
        return KP_EQUIV_SCALE;
    return KP_EQUIV_NO;
}

int kp_equiv_check_opts(int *verdict, kp_equiv_info_t *info,
                        const kp_expr_t *truth, const kp_expr_t *model,
                        const double *lo, const double *hi, int nvars,
                        const kp_equiv_opts_t *opts, kp_rng_t *rng,
                        kp_error_t *err)
{
    kp_equiv_opts_t o;
    kp_equiv_info_t dummy;
    int rc;

    if (opts == NULL)
        kp_equiv_opts_default(&o);
    else
        o = *opts;
    if (info == NULL)
        info = &dummy;
    *info = (kp_equiv_info_t){0};
    *verdict = KP_EQUIV_UNDECIDED;
    rc = check_args(truth, model, lo, hi, nvars, &o, rng, err);
    if (rc != KP_OK)
        return rc;

    fmpq *pt = _fmpq_vec_init(nvars > 0 ? nvars : 1);
    arb_ptr T = _arb_vec_init(o.npoints);
    arb_ptr M = _arb_vec_init(o.npoints);
    int used = 0, skipped = 0, status = 0;
    while (used < o.npoints && skipped <= o.max_skipped) {
        rc = eval_point(&status, T + used, M + used, truth, model, lo, hi,
                        nvars, pt, &o, rng, err);
        if (rc != KP_OK || status == 2)
            break;
        if (status == 0)
            used++;
        else
            skipped++;
    }
    info->used = used;
    info->skipped = skipped;
    if (rc == KP_OK) {
        if (status == 2)
            *verdict = KP_EQUIV_NO;
        else if (used == o.npoints)
            *verdict = judge(info, T, M, used, o.rtol, EQUIV_PREC);
    }
    _arb_vec_clear(T, o.npoints);
    _arb_vec_clear(M, o.npoints);
    _fmpq_vec_clear(pt, nvars > 0 ? nvars : 1);
    return rc;
}

int kp_equiv_check(int *verdict, const kp_expr_t *truth,
                   const kp_expr_t *model, const double *lo,
                   const double *hi, int nvars, int npoints, kp_rng_t *rng,
                   kp_error_t *err)
{
    kp_equiv_opts_t o;

    kp_equiv_opts_default(&o);
    o.npoints = npoints;
    o.max_skipped = npoints;
    return kp_equiv_check_opts(verdict, NULL, truth, model, lo, hi, nvars,
                               &o, rng, err);
}
