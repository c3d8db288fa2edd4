/* kp_decimal.h: the exact values of data cells. A CSV cell is a decimal
   written by the user; the loader keeps only its correctly rounded double.
   When the decimal had at most 15 significant digits the double determines
   it: the shortest decimal that rounds to the double is the one written
   (up to trailing zeros, which do not change the value). Reentrant. */
#ifndef KP_DECIMAL_H
#define KP_DECIMAL_H

#include <flint/fmpq.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest number of significant digits for which a decimal is recovered. */
#define KP_DECIMAL_MAX_DIGITS 15

/* Writes into buf (size >= 32) the shortest decimal string (at most 17
   significant digits, C locale, e.g. "0.1", "1.5e-07") that strtod reads
   back as x; x must be finite. Returns its number of significant digits. */
int kp_decimal_shortest(char *buf, double x);

/* Sets q to the value of the decimal that the user wrote for the cell whose
   double is x, given that the cell had at most max_digits significant
   digits (from kp_data_col_digits). Returns 1 when the decimal is recovered
   exactly (max_digits <= KP_DECIMAL_MAX_DIGITS), else sets q to the exact
   dyadic value of x and returns 0: the caller then knows only that the
   written value rounds to x. x must be finite. */
int kp_decimal_cell(fmpq_t q, double x, int max_digits);

#ifdef __cplusplus
}
#endif
#endif
