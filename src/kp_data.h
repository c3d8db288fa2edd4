/* kp_data.h: loading a CSV file into a column-major table of doubles.

   Format (CONTRACT.md, `kepler fit DATA`): a header row of column names,
   then data rows of numbers. Fields are comma separated and may be wrapped in
   double quotes ("" inside quotes is a literal quote; quoted fields may span
   lines). libcsv (strict mode) tokenizes each record. Lines whose first
   character is '#' are comments and blank lines (only spaces, tabs, CR) are
   ignored, both before and after the header, but never inside a quoted
   field. CRLF line ends and a leading UTF-8 byte-order mark are accepted.
   Spaces and tabs around a field are ignored. Numbers are read in the C
   locale whatever the process locale: [+-] digits [. digits] [(e|E) [+-]
   digits], also ".5" and "5."; no hex, no nan/inf, no empty cells. Each
   value is the correctly rounded double of the decimal (identical to glibc
   strtod). A table may have a single column (eval use); callers decide how
   many columns they need.

   Errors are KP_EINPUT with the source name, the 1-based line and the
   1-based character column (UTF-8 code points, after the BOM) where the bad
   field starts, or KP_ENOMEM. For a row with too few fields the column is
   the one just after the row's last character.

   Decimal information: for each column the loader records the largest
   number of significant decimal digits of any cell, the smallest decimal
   exponent of a cell's last written digit, and whether every cell's value
   is an integer, so an exact verifier can recover the decimals the user
   wrote (with <= 15 digits, shortest round-trip printing of the double gives
   the decimal back).

   Ownership: kp_data_t owns its names and columns; pointers into it are
   borrowed until the next load or clear. Functions are reentrant; a
   kp_data_t is not shared between threads while being loaded. */
#ifndef KP_DATA_H
#define KP_DATA_H

#include <stddef.h>

#include "kp_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Decimal shape of one cell, or the summary over a column.
   digits: significant digits written, from the first non-zero digit to the
   last written digit, so trailing zeros count ("1200" -> 4, "1.250" -> 4,
   "1.2e3" -> 2); a zero value counts as 1 digit.
   exp10: decimal exponent of the last written digit ("1.25" -> -2, "1200"
   -> 0, "1.2e3" -> 2, "0.00" -> -2). The cell is an integer multiple of
   10^exp10.
   is_integer: the value is an integer ("3", "1.0", "1.5e1", "-0"). For a
   column: the maximum of digits, the minimum of exp10, the AND of
   is_integer. */
typedef struct {
    int digits;
    int exp10;
    int is_integer;
} kp_data_decimal_t;

/* A loaded table: nrows >= 1 rows, ncols >= 1 columns named names[j]
   (non-empty, distinct, NUL-terminated), values cols[j][i] (row i), finite.
   dec[j] summarises column j. An initialised empty table has all zeros. */
typedef struct {
    size_t nrows;
    int ncols;
    char **names;
    double **cols;
    kp_data_decimal_t *dec;
} kp_data_t;

/* Results of kp_data_parse_number. */
enum {
    KP_DATA_NUM_OK = 0,
    KP_DATA_NUM_EMPTY,     /* nothing but spaces */
    KP_DATA_NUM_NONFINITE, /* nan, inf, infinity (any case, signed) */
    KP_DATA_NUM_SYNTAX,    /* not a decimal number */
    KP_DATA_NUM_RANGE      /* overflows, or non-zero but rounds to zero */
};

/* Sets d to the empty table. */
void kp_data_init(kp_data_t *d);

/* Frees everything d owns and leaves it empty (as after kp_data_init). */
void kp_data_clear(kp_data_t *d);

/* Replaces the contents of d with the table in the CSV file at path (read
   through mmap when it is a regular file). On failure d is left empty and
   err holds the file, line, column and reason: KP_EINPUT for unreadable
   files and every format error listed above, KP_ENOMEM. */
int kp_data_load_csv(kp_data_t *d, const char *path, kp_error_t *err);

/* As kp_data_load_csv, but reads the len bytes at buf (not necessarily
   NUL-terminated); source_name (may be NULL) names the input in err. */
int kp_data_load_buffer(kp_data_t *d, const char *buf, size_t len,
                        const char *source_name, kp_error_t *err);

/* Index of the column called name, or -1 if there is none. */
int kp_data_column(const kp_data_t *d, const char *name);

/* Column summaries of kp_data_decimal_t; 0 <= j < d->ncols. */
int kp_data_col_digits(const kp_data_t *d, int j);
int kp_data_col_exp10(const kp_data_t *d, int j);
int kp_data_col_is_integer(const kp_data_t *d, int j);

/* Reads the n bytes at s (no NUL needed; surrounding spaces and tabs are
   skipped) as a C-locale decimal number. On KP_DATA_NUM_OK sets *x to the
   correctly rounded double (the value strtod gives) and, if dec is not
   NULL, *dec to the cell's decimal shape; otherwise returns one of the
   KP_DATA_NUM_* codes and leaves *x unspecified. Fast exact paths cover
   mantissas of up to 19 digits with small exponents; the rest falls back to
   strtod. */
int kp_data_parse_number(double *x, kp_data_decimal_t *dec, const char *s,
                         size_t n);

#ifdef __cplusplus
}
#endif
#endif
