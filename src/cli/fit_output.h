/* fit_output.h: the verified result of `kepler fit` and its outputs (JSON
   and CSV per CONTRACT.md, an SVG figure, a summary on stdout). */
#ifndef KP_FIT_OUTPUT_H
#define KP_FIT_OUTPUT_H

#include "kp_data.h"
#include "kp_grammar.h"
#include "kp_sr.h"
#include "kp_verify.h"

/* The regression problem cut out of a table: inputs are every column but
   the target, in table order. Borrows the table's columns and names. */
typedef struct {
    const char *target;
    int nvars;
    const char **names;
    const double **cols;
    int *digits;
    int *exp10;
    kp_verify_data_t vd;
} fit_problem_t;

void fit_problem_from_data(fit_problem_t *fp, const kp_data_t *d, int target);
void fit_problem_clear(fit_problem_t *fp);

/* One formula of the final front, as the verifier scored it. */
typedef struct {
    kp_expr_t e;
    int complexity;
    kp_verify_result_t v;
} fit_entry_t;

typedef struct {
    int n;
    fit_entry_t *entry; /* simplest first */
    int best;           /* index of the "best" formula, -1 if none */
    long evaluations;
    long rows_evaluated;
    double seconds;
    int rounds;
    int interrupted;
} fit_report_t;

/* Re-fits (on all rows), snaps constants, verifies and re-ranks the
   archive of res, plus the formula `proven` if not NULL, into the final
   front. A formula proved exact dominates every formula at least as
   complex, so the front ends at the simplest exact formula. */
void fit_report_build(fit_report_t *rep, const kp_sr_result_t *res,
                      const kp_expr_t *proven, const kp_grammar_t *g,
                      const fit_problem_t *fp, const kp_sr_params_t *sr);
void fit_report_clear(fit_report_t *rep);

/* Writes the requested files (NULL: skip) and, unless quiet, a summary on
   stdout. Returns the exit status: 0, 1 when no formula was found, 2 or 3
   when a file could not be written. */
int fit_report_write(const fit_report_t *rep, const fit_problem_t *fp,
                     const kp_sr_params_t *sr, const char *json,
                     const char *csv, const char *plot, int quiet,
                     const char *data_path);

#endif
