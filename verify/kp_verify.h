/* kp_verify.h: the verdict on a fitted formula, from the data alone.

   The verifier never trusts the search: it recomputes the mean squared
   error and R^2 of a formula on every row, and decides `exact` with exact
   arithmetic only (kp_exact). A formula is exact when
   - every constant in it is exact (no free floating-point constant), and
   - every input cell is a decimal with at most KP_DECIMAL_MAX_DIGITS
     significant digits (so its written value is known exactly), and
   - on every row the exact value f(x) of the formula at the written inputs
     is proved (rationals, or rigorous Arb enclosures) to be within the
     target cell's own rounding of the written target: |f(x) - y| <= tol,
     where tol is one unit in the last digit the cell can have been written
     with: half a unit for correct rounding of the true value, and as much
     again for the floating-point error of whatever computed the value before
     it was rounded (a generator that computes y in double precision and
     prints it rounded lands on the other side of a rounding boundary in a
     fraction of rows; half a unit would reject the true law there). The
     loader knows, per column, the most significant digits of any cell (D)
     and the smallest exponent of a last written digit (E); a cell of leading
     exponent m was written with its last digit at exponent at least
     max(E, m - D + 1), and that is the unit used: never coarser than the
     cell's own. A formula that matches a cell exactly passes whatever the
     tolerance.
   An undecidable row (an enclosure straddling the tolerance at the highest
   precision tried) makes the verdict false: exact means proved.

   Rows are checked in parallel (OpenMP, FLINT objects per thread); the
   verdict and the reported row do not depend on the thread count (the
   first failing row in row order is reported). Reentrant. */
#ifndef KP_VERIFY_H
#define KP_VERIFY_H

#include <stddef.h>

#include "kp_error.h"
#include "kp_expr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The data a verdict is about: inputs cols[0..nvars-1] and target y, each
   nrows finite doubles, with the decimal summaries of their columns
   (kp_data_col_digits / kp_data_col_exp10). */
typedef struct {
    const double *const *cols;
    int nvars;
    const double *y;
    size_t nrows;
    const int *digits; /* per input column */
    const int *exp10;  /* per input column */
    int y_digits;
    int y_exp10;
} kp_verify_data_t;

typedef struct {
    double mse;       /* mean squared error on all rows (double arithmetic) */
    double r2;        /* 1 - SS_res / SS_tot (1 when both are 0) */
    int exact;        /* proved per the rules above */
    long failed_row;  /* first row (0-based) that failed the exact check,
                         -1 if none or if the check did not get to rows */
    char reason[160]; /* why exact is false (empty when exact) */
} kp_verify_result_t;

/* Computes mse, r2 and the exact verdict of e on d, using up to nthreads
   threads (<= 0: the OpenMP default). KP_OK (whatever the verdict),
   KP_EINPUT if e uses a variable >= d->nvars or d has no rows, KP_ENOMEM. */
int kp_verify_fit(kp_verify_result_t *res, const kp_expr_t *e,
                  const kp_verify_data_t *d, int nthreads, kp_error_t *err);

/* R^2 and MSE only (no exact check). */
void kp_verify_scores(double *mse, double *r2, const kp_expr_t *e,
                      const kp_verify_data_t *d);

#ifdef __cplusplus
}
#endif
#endif
