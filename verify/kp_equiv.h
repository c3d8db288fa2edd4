/* kp_equiv.h: symbolic-recovery check for benchmarks. Decides whether a
   fitted model is "the same law" as a known truth in the sense used by
   SRBench (La Cava et al. 2021): truth - model is a constant, or
   model / truth is a nonzero constant, on the sampling box.

   Method: both expressions are evaluated rigorously (kp_exact_eval_adaptive,
   exact rationals or Arb balls) at random points of the box [lo, hi]. Let
   T_i, M_i be the values and S the root mean square of the T_i (1 if they
   are all 0). With the offset d = mean(M_i - T_i) and the least-squares
   ratio k = sum M_i T_i / sum T_i^2, the model is
   - an OFFSET of the truth when max_i |M_i - T_i - d| <= rtol * S,
   - a SCALE of the truth when k != 0 and max_i |M_i - k T_i| <= rtol |k| S,
   - the SAME as the truth when it is an offset with |d| <= rtol * S, or a
     scale with |k - 1| <= rtol.
   Deviations are measured on the balls (midpoint distance plus radii), so
   the evaluation error never hides a mismatch. The tolerance exists because
   the model's constants are floating-point fits: 1e-6 (the default) accepts
   a constant 1.4999999999 for 3/2 and rejects any genuinely different
   formula whose values differ by more than one part in a million of the
   truth's typical size somewhere among the points. This is a numerical
   test, not a proof: a model that agrees with the truth to 1e-6 at every
   sampled point is accepted, and so is, say, a series truncation that
   happens to be that accurate on the whole box.

   Domain: points where the truth is undefined lie outside the law's domain
   and are skipped; points where either value is UNKNOWN at the maximum
   precision (or not finite) are skipped too. At most max_skipped points may
   be skipped; beyond that the verdict is UNDECIDED. A point where the truth
   is defined but the model is proved undefined means the model does not
   describe the law on its box: verdict NO.

   Reentrant; all state is on the caller's side (the rng is advanced). */
#ifndef KP_EQUIV_H
#define KP_EQUIV_H

#include <flint/flint.h>

#include "kp_error.h"
#include "kp_expr.h"
#include "kp_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

enum kp_equiv_verdict {
    KP_EQUIV_NO = 0,       /* neither constant offset nor constant ratio */
    KP_EQUIV_SAME = 1,     /* model = truth (within the tolerance) */
    KP_EQUIV_OFFSET = 2,   /* model = truth + c, c != 0 */
    KP_EQUIV_SCALE = 3,    /* model = c * truth, c != 0, 1 */
    KP_EQUIV_UNDECIDED = 4 /* too many points could not be evaluated */
};

#define KP_EQUIV_DEFAULT_POINTS 24
#define KP_EQUIV_DEFAULT_RTOL 1e-6

typedef struct {
    int npoints;      /* points that must be evaluated (>= 2) */
    int max_skipped;  /* points that may be skipped (>= 0) */
    double rtol;      /* relative tolerance (> 0, finite) */
    slong goal_bits;  /* kp_exact_eval_adaptive accuracy goal */
    slong max_prec;   /* and its precision cap */
} kp_equiv_opts_t;

/* What a check measured (all zero when it stopped early). */
typedef struct {
    int used;          /* points evaluated */
    int skipped;       /* points skipped (undefined truth, unknown values) */
    double scale;      /* S, the RMS of the truth's values */
    double offset;     /* d */
    double ratio;      /* k (0 when the truth is 0 at every point) */
    double dev_offset; /* max_i |M_i - T_i - d| / S */
    double dev_ratio;  /* max_i |M_i - k T_i| / (|k| S), inf when k == 0 */
} kp_equiv_info_t;

/* Sets o to the defaults: 24 points, 24 skips, rtol 1e-6, 64 goal bits,
   4096 bits maximum precision. */
void kp_equiv_opts_default(kp_equiv_opts_t *o);

/* "no", "same", "offset", "scale", "undecided" ("?" otherwise). */
const char *kp_equiv_name(int verdict);

/* 1 for SAME, OFFSET and SCALE: the verdicts that count as recovery. */
int kp_equiv_is_match(int verdict);

/* Compares model with truth as described above, both over variables
   0..nvars-1, variable v sampled uniformly in [lo[v], hi[v]] (the sampled
   doubles are used exactly). Sets *verdict (and *info when not NULL).
   opts NULL means the defaults. Returns KP_OK, or KP_EINPUT when an
   argument is invalid (lo > hi or non-finite, nvars out of range, bad
   options) or an expression is malformed or uses a variable >= nvars;
   *verdict is then KP_EQUIV_UNDECIDED. */
int kp_equiv_check_opts(int *verdict, kp_equiv_info_t *info,
                        const kp_expr_t *truth, const kp_expr_t *model,
                        const double *lo, const double *hi, int nvars,
                        const kp_equiv_opts_t *opts, kp_rng_t *rng,
                        kp_error_t *err);

/* kp_equiv_check_opts with the default options but npoints points (and as
   many allowed skips). */
int kp_equiv_check(int *verdict, const kp_expr_t *truth,
                   const kp_expr_t *model, const double *lo,
                   const double *hi, int nvars, int npoints, kp_rng_t *rng,
                   kp_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
