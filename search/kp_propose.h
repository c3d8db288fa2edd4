/* kp_propose.h: formulas read off the data by linear algebra, proposed to
   the search as starting points.

   Many laws are, after a simple transform T of the target, a sparse
   polynomial or rational function of the inputs: T(y) = P(x) / Q(x) with
   few monomials, T one of y, 1/y, y^2, 1/y^2, sqrt(y), log(y), exp(y). Given
   rows (x, y), kp_propose fits such models by forward orthogonal least squares
   (greedy term selection, as FFX and uDSR's linear models do) over a
   library of Laurent monomials: P directly when Q = 1, and rational P / Q
   through the linearised equation T(y) n0(x) = P(x) - T(y) (Q(x) - n0(x)),
   one run per pivot monomial n0 of Q. It repeats the fits on y divided by
   power-law prefactors estimated by least squares on log|y| against the
   log|x_i| (exponents rounded), which split off the product part of laws
   such as G m1 m2 f(r1, r2). Greedy selection is followed by backward
   elimination, and small libraries are pruned from the full fit.
   Besides, for up to 8 inputs, it fits y = c0 + sum c_k B_k over FFX-style
   bases: the grammar's sin, cos, tan, exp and log of monomials of degree 1
   and 2 (and of sums and differences of two, for up to 3 inputs), alone,
   times a monomial, or times each other; models of up to three bases are
   searched exhaustively when the library is small, larger ones greedily.

   Each model becomes an expression with its coefficients as free constants
   (their fitted values), in canonical form and valid in the grammar (a
   model the grammar cannot express is dropped). The search then tunes the
   constants, snaps them to exact forms and lets the verifier decide: a
   proposal is never a verdict, only a place to start.

   Deterministic (no random numbers; rows taken evenly strided); reentrant.
   The work is bounded by the parameters, not by time. */
#ifndef KP_PROPOSE_H
#define KP_PROPOSE_H

#include <stddef.h>

#include "kp_error.h"
#include "kp_expr.h"
#include "kp_grammar.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int max_rows;    /* rows used for the fits; default 256 */
    int max_terms;   /* monomials per numerator; default 12 */
    int max_library; /* numerator library size; default 260 */
    int max_pivots;  /* denominators tried per transform; default 55 */
    int max_vars;    /* no proposals above this many inputs; default 12 */
    int threads;     /* OpenMP threads; <= 0: all */
    double max_work; /* multiply-adds of forward selection, about; the
                        rational fits are cut to fit; default 3e8 */
} kp_propose_params_t;

void kp_propose_params_default(kp_propose_params_t *p);

/* Fills out[0..*nout-1] (at most cap) with proposals for y from
   cols[0..nvars-1] (nrows rows, all finite), best fit first, each valid in
   g (bound to the nvars inputs) and distinct. KP_OK (possibly with
   *nout == 0), KP_EINPUT for bad arguments, KP_ENOMEM. */
int kp_propose(kp_expr_t *out, int cap, int *nout, const kp_grammar_t *g,
               const double *const *cols, int nvars, const double *y,
               size_t nrows, const kp_propose_params_t *p, kp_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
