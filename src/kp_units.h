/* kp_units.h: physical dimensions of the data columns, and the dimensional
   consistency of formulas over them (`kepler fit --units`).

   A unit is written as a product of powers of names, e.g. `m`, `m/s^2`,
   `kg*m**2/s^2`, `s^(-1/2)`, or `1` for a dimensionless quantity. Names are
   base dimensions, except the SI derived units N, J, W, Pa, Hz, C, V, F,
   Ohm, T, Wb, H, which are expanded into kg, m, s, A. Exponents are
   rational with denominators dividing 12. Prefixes are not understood
   (`km` is a base dimension of its own): scale factors do not change a
   dimension, so write `m`.

   Consistency follows PySR's convention: a free constant may carry any
   dimension (it is a wildcard, so c*x fits whatever x is), while exact
   numbers, pi and E are dimensionless; + and - need equal dimensions;
   * and / add and subtract them; x**k with an exact k scales them;
   sqrt halves them; exp, log, the trigonometric and hyperbolic functions
   need a dimensionless argument and give a dimensionless value; a formula
   is consistent when its dimension is the target's (or a wildcard).

   Ownership: kp_units_init/kp_units_clear. Reentrant; a parsed kp_units_t
   is read-only afterwards. */
#ifndef KP_UNITS_H
#define KP_UNITS_H

#include "kp_error.h"
#include "kp_expr.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KP_UNITS_MAX_BASE 12
#define KP_UNITS_DEN 12 /* exponents are stored as multiples of 1/12 */

typedef struct {
    int e[KP_UNITS_MAX_BASE]; /* exponent of base i, times KP_UNITS_DEN */
} kp_dim_t;

typedef struct {
    int ncols;     /* columns described */
    kp_dim_t *dim; /* dim[j]: dimension of column j */
    int nbase;
    char base[KP_UNITS_MAX_BASE][16]; /* names of the base dimensions */
} kp_units_t;

void kp_units_init(kp_units_t *u);
void kp_units_clear(kp_units_t *u);

/* Parses a comma-separated list of ncols units, one per column in order
   (e.g. "m,s,kg,m/s^2"). On error returns KP_EINPUT with err->col the
   1-based position in list (err->file set to what, e.g. "--units"). */
int kp_units_parse_list(kp_units_t *u, const char *list, int ncols,
                        const char *what, kp_error_t *err);

/* Writes dimension d as a unit ("kg*m/s^2", "1") into buf of size n. */
void kp_units_format(char *buf, size_t n, const kp_units_t *u,
                     const kp_dim_t *d);

/* 1 if e is dimensionally consistent (see above) when variable i has
   dimension vars[i] and the result must have dimension target, else 0. */
int kp_units_consistent(const kp_expr_t *e, const kp_dim_t *vars,
                        const kp_dim_t *target);

#ifdef __cplusplus
}
#endif
#endif
