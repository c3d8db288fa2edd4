/* kp_lean.h: Lean 4 export of verified findings (CONTRACT.md, `kepler lean`).

   Each generator re-checks its object with exact arithmetic (its own
   checks, independent of the search that produced the object) and refuses,
   with KP_EINPUT and a reason, to write a file whose theorem would be false
   or could not be proved. What it writes is one self-contained Lean 4 file
   that needs only Lean's core library (no Mathlib, no Lake) and states the
   finding as theorems proved by kernel-checked `decide` (or `native_decide`
   with KP_LEAN_NATIVE, which trusts the compiler and needs a Lean newer than
   the July-2021 pre-release). The files use the conservative subset of
   Lean 4 listed in docs/lean.md, which that pre-release and current Lean 4
   both accept.

   - Cap sets: points of F_3^n as base-3 natural numbers, and
     `theorem capset_N_size : IsCap N pts ∧ pts.length = K := by decide`,
     where IsCap counts the pairs whose third point is in the set by one
     product of big natural numbers (every pair tested at once).
   - wagner21 counterexamples: the graph, a Collatz–Wielandt bound b on the
     largest adjacency eigenvalue, a Tutte–Berge (or vertex cover) bound m
     on the matching number, connectivity, and (b + m - 1)^2 < n - 1 with
     b + m >= 1. The certificates are computed here from the graph alone.
   - Formula fits: for rational functions, exact reproduction of every row
     (or a proved bound on the error); for other formulas, the error bounds
     from rigorous Arb enclosures as checked rational inequalities.

   Functions taking a FILE * write the whole text or nothing useful (on an
   error part of a file may have been written; the _write_ forms render in
   memory first and create `path` only on success). Reentrant; no globals. */
#ifndef KP_LEAN_H
#define KP_LEAN_H

#include <stddef.h>
#include <stdio.h>

#include "kp_data.h"
#include "kp_error.h"
#include "kp_expr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flags. */
#define KP_LEAN_NATIVE 1 /* prove by native_decide (trusts the compiler) */

/* Largest dimension of a cap set export: Lean's check multiplies numbers of
   about 2 log2(k^2 + 1) 5^n bits (56 MB for n = 10 and the record k = 2474;
   300 MB per number for n = 11). */
#define KP_LEAN_CAPSET_MAX_N 10
/* Largest graph exported (vertices). */
#define KP_LEAN_GRAPH_MAX_N 256
/* Most data rows in a fit export (each row is a kernel computation). */
#define KP_LEAN_FIT_MAX_ROWS 20000

/* Base-3 code of a point: sum of coords[i] * 3^i (coordinate 0 is the least
   significant digit). coords has n entries in {0,1,2}; n <= 12. */
unsigned long kp_lean_capset_code(const unsigned char *coords, int n);

/* Writes the Lean file for the cap set whose k points are coords[j*n+i]
   (point j, coordinate i, each in {0,1,2}) in F_3^n, 1 <= n <=
   KP_LEAN_CAPSET_MAX_N, k >= 1. Checks that the points are distinct and
   that no three are collinear; KP_EINPUT naming the offending points
   otherwise (nothing written). The point list in the file is sorted. */
int kp_lean_capset(FILE *out, int n, const unsigned char *coords, size_t k,
                   int flags, kp_error_t *err);
int kp_lean_write_capset(const char *path, int n, const unsigned char *coords,
                         size_t k, int flags, kp_error_t *err);

/* As kp_lean_write_capset, for points given by their base-3 codes (the
   encoding of kp_lean_capset_code and kp_capset_encode); a code >= 3^n is
   KP_EINPUT. */
int kp_lean_write_capset_codes(const char *path, int n,
                               const unsigned long *codes, size_t k,
                               int flags, kp_error_t *err);

/* Writes the Lean file proving that the simple graph on vertices 0..n-1
   with the m edges {edges[2e], edges[2e+1]} refutes Wagner's conjecture 2.1
   (lambda_1 + mu >= sqrt(n - 1) + 1 for connected graphs). problem names the
   conjecture in the file ("wagner21"). Checks: 2 <= n <= KP_LEAN_GRAPH_MAX_N,
   endpoints in range, no loops, no repeated edge, connected; then computes a
   Collatz–Wielandt bound b (a positive integer vector x with (Ax)_i <= b
   x_i, b rational) and a Tutte–Berge set U bounding mu, and checks exactly
   that (b + m - 1)^2 < n - 1 with b + m >= 1. KP_EINPUT when the graph is
   invalid, not a counterexample, or too close to the bound to certify. */
int kp_lean_graph(FILE *out, const char *problem, int n, const int *edges,
                  size_t m, int flags, kp_error_t *err);
int kp_lean_write_graph(const char *path, const char *problem, int n,
                        const int *edges, size_t m, int flags,
                        kp_error_t *err);

/* Writes the Lean file for the formula e fitted to column `target` of d,
   the inputs being every other column in table order (variable i of e is
   the i-th of them, as in `kepler fit`). Cells are read as the decimals the
   user wrote (kp_decimal_cell). A formula built from + - * /, negation,
   abs, integer powers, variables and exact constants is evaluated in Lean
   exactly on (numerator, denominator) integer pairs: the theorem is that it
   reproduces every row exactly when it does, else that |f(x) - y| <= E on
   every row for the stated rational E. Any other formula gets a Float
   definition (documentation) and per-row rational inequalities that bound
   |f(x) - y| by E given Arb's enclosures of f(x) (the enclosures
   themselves are Arb's, not Lean's). KP_EINPUT when e has free
   (floating-point) constants, uses a variable past the inputs, is
   undefined or undecided on some row, or d has more than
   KP_LEAN_FIT_MAX_ROWS rows. */
int kp_lean_fit(FILE *out, const kp_expr_t *e, const kp_data_t *d,
                int target, int flags, kp_error_t *err);
int kp_lean_write_fit(const char *path, const kp_expr_t *e,
                      const kp_data_t *d, int target, int flags,
                      kp_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
