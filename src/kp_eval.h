/* kp_eval.h: the fast floating-point evaluator.

   Evaluates expressions (kp_expr.h) over a column-major dataset: cols[v]
   points at nrows doubles holding input variable v, for every variable the
   expression uses. Each call first compiles the prefix array into a short
   instruction list (constant subtrees folded with kp_op_apply, variables and
   constants turned into operands, x**k for exact integer |k| <= 8 turned into
   multiplications, x**(1/2) and x**(-1/2) into square roots), then runs it
   over blocks of rows whose buffers stay in L1, with SIMD kernels (SLEEF for
   transcendental functions) chosen at run time: AVX-512F, AVX2+FMA, or a
   generic SSE2 build that runs on any x86-64.

   Semantics are those of kp_op_apply: invalid domains give NaN, division by
   zero gives +-inf or NaN, never a "protected" value. Results agree with
   kp_op_apply to a few ULPs per operator (tests/eval/t-eval.c states the
   bounds).

   Determinism: the value for a row depends only on that row and on the
   instruction set in use (fixed for a machine): not on the block size, the
   row's position in a block, the row subset, or the number of threads. Loss
   sums are accumulated in 8 lanes keyed by position in the row list and
   combined in a fixed order, so they too are independent of thread count.

   Preconditions common to every function: e is a complete expression (the
   compiler checks arities, token ids and the constant pool, and rejects a
   malformed one), cols has an entry for every variable e uses, and the
   output arrays do not overlap the inputs.

   Reentrant and thread-safe: all scratch space lives on the caller's stack
   (about 100 KB per call; kp_eval_jacobian about 170 KB, and it allocates
   only for expressions too large for that, a few hundred tokens). */
#ifndef KP_EVAL_H
#define KP_EVAL_H

#include <stddef.h>

#include "kp_expr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Kernel instruction sets; AUTO picks the best one the CPU supports. */
enum kp_eval_isa {
    KP_EVAL_ISA_AUTO = 0,
    KP_EVAL_ISA_GENERIC = 1, /* baseline x86-64 (SSE2), or plain C elsewhere */
    KP_EVAL_ISA_AVX2 = 2,    /* AVX2 + FMA */
    KP_EVAL_ISA_AVX512 = 3   /* AVX-512F */
};

/* 1 if kernels for isa were built and the CPU and OS support them. */
int kp_eval_isa_available(int isa);

/* The instruction set KP_EVAL_ISA_AUTO resolves to on this machine. */
int kp_eval_isa_best(void);

/* "generic", "avx2", "avx512f" (or "auto"/"?"). */
const char *kp_eval_isa_name(int isa);

/* Sets out[i] to the value of e on row i, for i < nrows. out must not
   overlap any column. Returns KP_OK, or KP_EINPUT (out untouched) if e is
   malformed. */
int kp_eval(double *out, const kp_expr_t *e, const double *const *cols,
            size_t nrows);

/* As kp_eval with the given instruction set; KP_EINPUT also when isa is not
   available. For tests and benchmarks. */
int kp_eval_with_isa(double *out, const kp_expr_t *e,
                     const double *const *cols, size_t nrows, int isa);

/* Mean squared error (1/n) sum_i (e(row i) - y[i])^2 without storing the
   predictions. Returns +INFINITY if any prediction is non-finite (or the sum
   overflows), 0 when nrows is 0, NaN if e is malformed. y must be finite. */
double kp_eval_mse(const kp_expr_t *e, const double *const *cols,
                   const double *y, size_t nrows);

/* General form over a row list: the rows are idx[0..n-1] (each < the
   column length) or 0..n-1 when idx is NULL, and the loss is
   sum_j w[r_j] (e(r_j) - y[r_j])^2 / sum_j w[r_j], with w NULL meaning unit
   weights. Weights must be finite and >= 0 with a positive sum. Same
   special values as kp_eval_mse. */
double kp_eval_mse_rows(const kp_expr_t *e, const double *const *cols,
                        const double *y, const double *w, const size_t *idx,
                        size_t n);

/* loss[j] = kp_eval_mse(&exprs[j], cols, y, nrows) for j < n, computed by
   nthreads OpenMP threads (<= 0: the OpenMP default). Each result depends
   only on its own expression, so the output is identical for every thread
   count. */
void kp_eval_mse_many(double *loss, const kp_expr_t *exprs, size_t n,
                      const double *const *cols, const double *y,
                      size_t nrows, int nthreads);

/* Values and derivatives with respect to the free constants (den == 0) by
   forward-mode automatic differentiation through the block evaluator.
   Writes out[i] (bitwise equal to what kp_eval gives) and
   jac[k*nrows + i] = d out[i] / d c_k, where k numbers the free constants
   in constant-pool (= prefix) order, 0 <= k < kp_expr_nfree(e); jac may be
   NULL when there is no free constant. Derivatives of x**c at points where
   they are undefined are NaN; d|x|/dx is taken as 0 at 0. Returns KP_OK,
   KP_EINPUT (e malformed), or KP_ENOMEM. */
int kp_eval_jacobian(double *out, double *jac, const kp_expr_t *e,
                     const double *const *cols, size_t nrows);

/* As kp_eval_jacobian with the given instruction set; KP_EINPUT also when
   isa is not available. For tests and benchmarks. */
int kp_eval_jacobian_with_isa(double *out, double *jac, const kp_expr_t *e,
                              const double *const *cols, size_t nrows,
                              int isa);

#ifdef __cplusplus
}
#endif
#endif
