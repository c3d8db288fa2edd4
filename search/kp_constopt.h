/* kp_constopt.h: constant optimisation for symbolic regression.

   Tunes the free constants (den == 0) of an expression by nonlinear least
   squares (Levenberg-Marquardt) and then tries to replace each tuned
   constant by an exact closed form (kp_recognize.h), keeping a replacement
   only when the loss does not get worse.

   Loss. On the rows r_j = idx[j] (j < n; rows 0..n-1 when idx is NULL) with
   optional row weights w[r] (kp_constopt_params_t.w, indexed by row number
   like kp_eval_mse_rows), the loss is the weighted MSE
       L = sum_j w[r_j] (e(r_j) - y[r_j])^2 / sum_j w[r_j],
   computed by kp_eval_mse_rows, so it is bitwise the value the rest of
   Kepler computes for the same expression. An expression that is not finite
   on some row has L = +inf. LM minimises the same sum with residuals
   sqrt(w) (e - y) and Jacobians from kp_eval_jacobian (forward-mode AD, no
   finite differences).

   Guarantees. A fit never returns constants whose loss is worse than the
   loss of the constants it started from (it compares with kp_eval_mse_rows
   and falls back), and when no start gives a finite loss the constants are
   left as they were and the loss is +inf. A snap never makes the loss worse
   than (1 + KP_CONSTOPT_SNAP_RTOL) times the input loss plus
   KP_CONSTOPT_SNAP_ATOL times the weighted mean of y^2 (the absolute part
   only matters for fits that are exact up to rounding).

   Determinism. Results depend only on the inputs, the parameters and the
   rng state (restarts draw from rng); not on the workspace's history, the
   thread, or the number of threads elsewhere.

   Two LM implementations are provided: KP_CONSTOPT_LM_GSL, GSL's
   trust-region LM (gsl_multifit_nlinear, the reference), and
   KP_CONSTOPT_LM_FAST, a built-in Marquardt-Nielsen LM on the normal
   equations that evaluates value and Jacobian in one pass per trial step
   and avoids GSL's per-iteration overheads (faster for the few constants
   that symbolic regression produces; see tests/constopt for the
   comparison). Both give the same minimiser up to the tolerances.

   Ownership and threads: a kp_constopt_ws_t is owned by whoever called
   kp_constopt_ws_init and must be cleared with kp_constopt_ws_clear; it
   holds scratch space only and is used by one thread at a time. The
   functions without a workspace argument create a temporary one. Every
   function is reentrant; e is modified in place and must not alias the
   data arrays. */
#ifndef KP_CONSTOPT_H
#define KP_CONSTOPT_H

#include <stddef.h>

#include "kp_error.h"
#include "kp_expr.h"
#include "kp_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

enum kp_constopt_method {
    KP_CONSTOPT_LM_FAST = 0, /* built-in LM (default) */
    KP_CONSTOPT_LM_GSL = 1   /* gsl_multifit_nlinear, trust region + LM */
};

/* Relative and absolute loss tolerances of kp_constopt_snap. */
#define KP_CONSTOPT_SNAP_RTOL 1e-9
#define KP_CONSTOPT_SNAP_ATOL 1e-26

typedef struct {
    int method;        /* enum kp_constopt_method */
    int max_iter;      /* LM iterations per start (FAST: trial steps) */
    int restarts;      /* extra starts after the one from e's constants */
    double xtol;       /* stop when the step is below xtol (|x| + xtol) */
    double gtol;       /* stop when the scaled gradient is below gtol */
    double ftol;       /* stop when the relative decrease is below ftol */
    double jitter;     /* relative spread of jittered restarts */
    double log_lo;     /* random restarts: |c| log-uniform in [log_lo, */
    double log_hi;     /*   log_hi] with a random sign */
    double stop_rel;   /* no more restarts once L <= stop_rel * mean(w y^2) */
    const double *w;   /* row weights (NULL: all 1), indexed by row number */
    int max_cands;     /* snap: candidates tried per constant */
    int snap_aic;      /* snap: 0 keeps a snap only if the loss stays within
                          the strict tolerances below; 1 also accepts a
                          loss that Akaike's criterion prefers, i.e.
                          n log(L_snap / L) <= 2 per constant removed (the
                          snapped formula has fewer parameters; on noisy or
                          rounded data its loss cannot match a fit's) */
    double snap_penalty; /* snap_aic: the criterion's penalty per constant
                            (0: Akaike's 2; log n gives Schwarz's BIC,
                            which selects the true model consistently) */
    double snap_min_bits; /* snap: significance a recognised form needs
                             (kp_recognize_bits); 0: KP_RECOG_MIN_BITS */
    double snap_max_bits; /* snap: > 0 tries only forms of at most this
                             complexity (kp_recog_t.complexity, bits) */
    double snap_loose; /* snap: > 0 also accepts a loss up to snap_loose
                          times the input loss (for proposing exact forms
                          to a verifier, which decides; 0: off) */
    int screen;        /* restart points drawn per restart; LM starts from
                          the one with the lowest loss (0 or 1: no screen) */
} kp_constopt_params_t;

/* Sets *p to the defaults: FAST, 40 iterations, 2 restarts, xtol 1e-13,
   gtol 1e-12, ftol 1e-10, jitter 0.5, log-uniform [1e-2, 1e2],
   stop_rel 1e-24, no weights, 4 candidates per constant, screen 8. */
void kp_constopt_params_default(kp_constopt_params_t *p);

/* Scratch space for fits: gathered rows, residuals, Jacobians and GSL
   workspaces (one per number of constants, made on first use). Grows on
   demand beyond the sizes given to init. */
typedef struct {
    size_t rows_cap;    /* rows the buffers below hold */
    int free_cap;       /* free constants the Jacobian buffers hold */
    double *buf;        /* r, J, trial r, trial J, y, sqrt(w): one block */
    double *colbuf;     /* gathered input columns */
    size_t colbuf_cap;  /* doubles in colbuf */
    const double **colp; /* column pointers handed to kp_eval */
    int colp_cap;
    void *gsl[KP_EXPR_MAX_CONSTS + 1];  /* gsl_multifit_nlinear_workspace */
    size_t gsl_n[KP_EXPR_MAX_CONSTS + 1]; /* rows each was made for */
    long node_rows;     /* nodes x rows of every evaluation pass run with
                           this workspace (a Jacobian pass counts once) */
} kp_constopt_ws_t;

/* Initialises ws for fits on up to max_rows rows with up to max_free free
   constants (both may be 0: buffers then grow on first use). Returns KP_OK
   or KP_ENOMEM (ws is then still safe to clear). */
int kp_constopt_ws_init(kp_constopt_ws_t *ws, size_t max_rows, int max_free,
                        kp_error_t *err);

/* Frees everything ws holds; ws may then be initialised again. */
void kp_constopt_ws_clear(kp_constopt_ws_t *ws);

/* Fits e's free constants to y on the given rows, in place, and writes the
   final loss (see above) to *loss_out (if not NULL). cols[v] holds the
   column of input variable v for every v that e uses, long enough for every
   row index; y and the weights must be finite, weights >= 0 with a positive
   sum on the rows. p NULL means the defaults. Starts: e's own constants,
   then p->restarts more (alternately the best so far jittered by a relative
   normal of spread p->jitter, and log-uniform random values; each the best
   of p->screen such draws by plain evaluation), all drawn from rng (NULL:
   no restarts); the best start wins, ties to the earliest. Restarts stop
   early once the loss is at most p->stop_rel times the weighted mean of
   y^2 (an exact fit).
   With no free constant this only evaluates the loss. n == 0 gives loss 0.
   Returns KP_OK (also when the loss is +inf: that is a property of the
   expression, not an error), KP_EINPUT (malformed e, bad parameters,
   non-finite y or bad weights; e unchanged) or KP_ENOMEM. */
int kp_constopt_fit_ws(kp_constopt_ws_t *ws, kp_expr_t *e,
                       const double *const *cols, const double *y,
                       const size_t *idx, size_t n,
                       const kp_constopt_params_t *p, kp_rng_t *rng,
                       double *loss_out, kp_error_t *err);

/* As kp_constopt_fit_ws with a temporary workspace. */
int kp_constopt_fit(kp_expr_t *e, const double *const *cols, const double *y,
                    const size_t *idx, size_t n,
                    const kp_constopt_params_t *p, kp_rng_t *rng,
                    double *loss_out, kp_error_t *err);

/* Snapping. For each free constant in prefix order (greedily: an accepted
   snap is kept while later constants are tried), asks kp_recognize for
   closed forms within relative tolerance rel_tol (and 0 when |c| < rel_tol)
   and tries up to p->max_cands of them, simplest (lowest complexity) first:
   the constant becomes an exact rational in the pool, or a subtree from
   kp_recognize_to_expr (pi, sqrt(2), ...) spliced in its place; the other
   free constants are re-fitted by LM from their current values (no
   restarts), and the first candidate whose loss is within the tolerance
   above of the input loss is kept (the tolerance is measured against the
   loss on entry, so accepted snaps cannot drift). Finally e is simplified
   (kp_expr_simplify) unless that worsens the loss beyond the same
   tolerance. *loss_inout holds e's loss on entry (NaN or a negative value:
   computed here) and the final loss on return. Snapping is deterministic
   (no restarts, no rng). rel_tol must be in (0, 1); p NULL means the
   defaults. Errors as for kp_constopt_fit_ws; on error e is unchanged. */
int kp_constopt_snap_ws(kp_constopt_ws_t *ws, kp_expr_t *e,
                        const double *const *cols, const double *y,
                        const size_t *idx, size_t n, double rel_tol,
                        const kp_constopt_params_t *p, double *loss_inout,
                        kp_error_t *err);

/* As kp_constopt_snap_ws with a temporary workspace. */
int kp_constopt_snap(kp_expr_t *e, const double *const *cols,
                     const double *y, const size_t *idx, size_t n,
                     double rel_tol, const kp_constopt_params_t *p,
                     double *loss_inout, kp_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
