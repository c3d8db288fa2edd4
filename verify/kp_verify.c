/* kp_verify.c: exact verdicts on fitted formulas (see kp_verify.h). */
#include "kp_verify.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flint/fmpq.h>

#include "kp_decimal.h"
#include "kp_eval.h"
#include "kp_exact.h"

/* Enclosures are refined up to this precision before a row is declared
   undecidable. */
#define VERIFY_GOAL_BITS 96
#define VERIFY_MAX_PREC 2048

void kp_verify_scores(double *mse, double *r2, const kp_expr_t *e,
                      const kp_verify_data_t *d)
{
    double m = kp_eval_mse(e, d->cols, d->y, d->nrows);
    double mean = 0, sst = 0;
    for (size_t i = 0; i < d->nrows; i++)
        mean += d->y[i];
    mean /= (double)d->nrows;
    for (size_t i = 0; i < d->nrows; i++)
        sst += (d->y[i] - mean) * (d->y[i] - mean);
    sst /= (double)d->nrows;
    *mse = m;
    if (!isfinite(m))
        *r2 = -INFINITY;
    else if (sst == 0)
        *r2 = m == 0 ? 1.0 : 0.0;
    else
        *r2 = 1.0 - m / sst;
}

/* Sets tol to one unit at the smallest exponent the target cell y can
   have been written with (see the header): the cell has at most `digits`
   significant digits and its last one is at exponent >= exp10. y's decimal
   is recovered exactly (the caller checked digits), so its leading
   exponent m is read off the decimal itself rather than from log10. */
static void cell_tolerance(fmpq_t tol, double y, int digits, int exp10)
{
    int e = exp10;
    if (y != 0) {
        char buf[48];
        int d = kp_decimal_shortest(buf, y);
        snprintf(buf, sizeof buf, "%.*e", d - 1, y);
        int m = atoi(strchr(buf, 'e') + 1);
        if (m - digits + 1 > e)
            e = m - digits + 1;
    }
    fmpz_t p;
    fmpz_init(p);
    fmpz_set_ui(p, 10);
    fmpz_pow_ui(p, p, (ulong)(e >= 0 ? e : -e));
    fmpq_one(tol);
    if (e >= 0)
        fmpq_mul_fmpz(tol, tol, p);
    else
        fmpq_div_fmpz(tol, tol, p);
    fmpz_clear(p);
}

/* 1 if row i passes, 0 if it fails; fills reason on failure. */
static int check_row(const kp_expr_t *e, const kp_verify_data_t *d, size_t i,
                     fmpq *vars, char *reason, size_t rn)
{
    for (int j = 0; j < d->nvars; j++)
        kp_decimal_cell(vars + j, d->cols[j][i], d->digits[j]);
    fmpq_t y, tol;
    fmpq_init(y);
    fmpq_init(tol);
    kp_decimal_cell(y, d->y[i], d->y_digits);
    cell_tolerance(tol, d->y[i], d->y_digits, d->y_exp10);
    kp_exact_t r;
    kp_exact_init(&r);
    int ok = 0;
    if (kp_exact_eval_adaptive(&r, e, vars, d->nvars, VERIFY_GOAL_BITS,
                               VERIFY_MAX_PREC, NULL, NULL) == KP_OK) {
        if (r.kind == KP_EXACT_RATIONAL && fmpq_equal(r.q, y))
            ok = 1;
        else
            ok = kp_exact_abs_diff_le(&r, y, tol) == KP_EXACT_YES;
        if (!ok)
            snprintf(reason, rn, "%s at row %zu",
                     r.kind == KP_EXACT_UNDEFINED ? "undefined"
                     : r.kind == KP_EXACT_UNKNOWN ? "undecidable"
                                                  : "differs from the data",
                     i + 1);
    } else {
        snprintf(reason, rn, "cannot evaluate exactly at row %zu", i + 1);
    }
    kp_exact_clear(&r);
    fmpq_clear(y);
    fmpq_clear(tol);
    return ok;
}

int kp_verify_fit(kp_verify_result_t *res, const kp_expr_t *e,
                  const kp_verify_data_t *d, int nthreads, kp_error_t *err)
{
    memset(res, 0, sizeof *res);
    res->failed_row = -1;
    if (d->nrows == 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0, "no data rows");
    if (kp_expr_nvars(e) > d->nvars)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "formula uses a variable the data lacks");
    kp_verify_scores(&res->mse, &res->r2, e, d);
    if (kp_expr_nfree(e) > 0) {
        snprintf(res->reason, sizeof res->reason,
                 "has floating-point constants");
        return KP_OK;
    }
    for (int j = 0; j < d->nvars; j++)
        if (d->digits[j] > KP_DECIMAL_MAX_DIGITS) {
            snprintf(res->reason, sizeof res->reason,
                     "input column %d has more than %d significant digits",
                     j + 1, KP_DECIMAL_MAX_DIGITS);
            return KP_OK;
        }
    if (d->y_digits > KP_DECIMAL_MAX_DIGITS) {
        snprintf(res->reason, sizeof res->reason,
                 "target has more than %d significant digits",
                 KP_DECIMAL_MAX_DIGITS);
        return KP_OK;
    }
    if (!isfinite(res->mse)) {
        snprintf(res->reason, sizeof res->reason, "not finite on the data");
        return KP_OK;
    }
    /* Rows in parallel; the first failing row in row order wins. Later rows
       are skipped once a failure at an earlier row is known. */
    long first_fail = (long)d->nrows;
    char reason[160] = "";
    if (nthreads <= 0)
        nthreads = omp_get_max_threads();
#pragma omp parallel num_threads(nthreads)
    {
        fmpq *vars = _fmpq_vec_init(d->nvars > 0 ? d->nvars : 1);
        char why[160];
#pragma omp for schedule(dynamic, 64)
        for (long i = 0; i < (long)d->nrows; i++) {
            long ff;
#pragma omp atomic read
            ff = first_fail;
            if (i > ff)
                continue;
            if (!check_row(e, d, (size_t)i, vars, why, sizeof why)) {
#pragma omp critical(kp_verify_fail)
                if (i < first_fail) {
                    first_fail = i;
                    memcpy(reason, why, sizeof reason);
                }
            }
        }
        _fmpq_vec_clear(vars, d->nvars > 0 ? d->nvars : 1);
    }
    if (first_fail < (long)d->nrows) {
        res->failed_row = first_fail;
        memcpy(res->reason, reason, sizeof res->reason);
    } else {
        res->exact = 1;
    }
    return KP_OK;
}
