/* kp_exact.h: the exact evaluator, the oracle every verdict of Kepler rests
   on (kp_eval and kp_op_apply are checked against it).

   An expression (kp_expr.h) is evaluated bottom-up on exact rationals (FLINT
   fmpq) for as long as the result is rational: + - * /, neg, abs, integer
   powers, rational powers of perfect powers (8**(1/3) = 2), and the trivial
   exact points of the functions (exp(0) = 1, log(1) = 0, sin(0) = 0, ...).
   Everything else (sqrt(2), pi, E, exp, log, trig, hyperbolic) becomes a
   rigorous Arb ball at the requested working precision, and once a subtree
   is a ball its parents operate on balls (exact operands are converted with
   a rigorous enclosure). A ball whose radius is exactly 0 is turned back into
   a rational, since the value is then proved to be its midpoint.

   Semantics are real-valued, matching kp_op_apply: a ** b with a < 0 is
   defined only when b is an integer, 0 ** b needs b >= 0 (0**0 = 1), log and
   sqrt need x > 0 and x >= 0, asin and acos need |x| <= 1, division needs a
   nonzero divisor. Undefinedness propagates: an expression with an undefined
   subexpression is undefined (unlike IEEE pow(NaN, 0) = 1).

   Results (kp_exact_t) have a kind:
   - KP_EXACT_RATIONAL: the value is exactly q;
   - KP_EXACT_BALL: the value is proved to lie in the ball b;
   - KP_EXACT_UNDEFINED: some subexpression is proved outside its domain;
   - KP_EXACT_UNKNOWN: some ball straddles a domain boundary or a pole (or a
     ball overflowed) at this precision; more precision may decide it.

   Free constants (den == 0) enter as the exact dyadic rational their double
   is (0.1 is 3602879701896397/2**55, not 1/10); exact constants as num/den;
   variables as the given fmpq values.

   Size cap: a rational whose numerator and denominator together would exceed
   KP_EXACT_MAX_BITS bits is replaced by a ball (still rigorous, no longer
   exact), so 2**(10**9) costs a ball, not gigabytes.

   Ownership: whoever calls kp_exact_init calls kp_exact_clear. Outputs may
   alias inputs unless noted. Reentrant; a kp_exact_t (and the GMP/FLINT/Arb
   objects in it) must not be shared between threads. Nothing here calls
   flint_cleanup. */
#ifndef KP_EXACT_H
#define KP_EXACT_H

#include <stddef.h>

#include <arb.h>
#include <flint/fmpq.h>

#include "kp_error.h"
#include "kp_expr.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KP_EXACT_MAX_BITS 100000

enum kp_exact_kind {
    KP_EXACT_RATIONAL,
    KP_EXACT_BALL,
    KP_EXACT_UNDEFINED,
    KP_EXACT_UNKNOWN
};

/* Three-valued answers of the rigorous predicates. KP_EXACT_MAYBE is truthy
   in C: always compare with KP_EXACT_YES explicitly. */
enum kp_exact_truth {
    KP_EXACT_NO = 0,
    KP_EXACT_YES = 1,
    KP_EXACT_MAYBE = 2
};

/* Returned by kp_exact_sign when the sign is not decided. */
#define KP_EXACT_SIGN_UNKNOWN 2

typedef struct {
    int kind;  /* enum kp_exact_kind */
    fmpq_t q;  /* the value when kind == KP_EXACT_RATIONAL */
    arb_t b;   /* the enclosure when kind == KP_EXACT_BALL */
} kp_exact_t;

/* Initialises r to the rational 0. */
void kp_exact_init(kp_exact_t *r);
void kp_exact_clear(kp_exact_t *r);

/* Sets r to a copy of a. */
void kp_exact_set(kp_exact_t *r, const kp_exact_t *a);
void kp_exact_swap(kp_exact_t *a, kp_exact_t *b);

/* Sets r to the rational q; to a ball (copied exactly); to a kind without
   value (UNDEFINED or UNKNOWN). */
void kp_exact_set_fmpq(kp_exact_t *r, const fmpq_t q);
void kp_exact_set_arb(kp_exact_t *r, const arb_t b);
void kp_exact_set_kind(kp_exact_t *r, int kind);

/* Evaluates e with variable i set to vars[i] (0 <= i < nvars) at a working
   precision of prec bits (prec >= 2; Arb's own precision, the radius of a
   result may be much larger after cancellation). vars may be NULL when
   nvars == 0. Returns KP_OK (r set; domain problems are results, not
   errors), or KP_EINPUT when e is malformed (bad token, bad length,
   constant index past nconst, a non-finite free constant) or uses a
   variable >= nvars; r is then UNKNOWN. */
int kp_exact_eval(kp_exact_t *r, const kp_expr_t *e, const fmpq *vars,
                  int nvars, slong prec, kp_error_t *err);

/* Like kp_exact_eval, starting at max(64, goal_bits + 32) bits and doubling
   the precision until the result is RATIONAL, UNDEFINED, or a BALL whose
   radius is at most 2**-goal_bits * max(1, |midpoint|) (relative accuracy,
   or absolute accuracy near 0), but never beyond max_prec bits; at max_prec
   it returns whatever it has (a wider BALL or UNKNOWN). If prec_used is not
   NULL it receives the last precision tried. Errors as kp_exact_eval. */
int kp_exact_eval_adaptive(kp_exact_t *r, const kp_expr_t *e,
                           const fmpq *vars, int nvars, slong goal_bits,
                           slong max_prec, slong *prec_used, kp_error_t *err);

/* Rigorous sign of the value: -1, 0 or +1 when proved, KP_EXACT_SIGN_UNKNOWN
   otherwise (always for UNDEFINED and UNKNOWN results). */
int kp_exact_sign(const kp_exact_t *r);

/* 1 if the value may equal q: RATIONAL r equal to q, or a BALL containing q.
   0 otherwise (including UNDEFINED and UNKNOWN). For a RATIONAL this is a
   proof of equality; for a BALL only a proof of inequality when 0. */
int kp_exact_contains_fmpq(const kp_exact_t *r, const fmpq_t q);

/* Compares the value with q: returns 1 and sets *cmp to -1, 0 or +1 (the
   sign of value - q) when that is proved, else returns 0 and leaves *cmp
   alone. UNDEFINED and UNKNOWN results are never decided. */
int kp_exact_cmp_fmpq(const kp_exact_t *r, const fmpq_t q, int *cmp);

/* Decides |value - q| <= tol: KP_EXACT_YES when proved (a BALL lies inside
   [q - tol, q + tol]), KP_EXACT_NO when refuted (a BALL lies outside, or the
   value is UNDEFINED, or tol < 0), KP_EXACT_MAYBE otherwise (a BALL meets
   the boundary, or UNKNOWN). This is the test "the formula reproduces this
   data value within its rounding". */
int kp_exact_abs_diff_le(const kp_exact_t *r, const fmpq_t q,
                         const fmpq_t tol);

/* Writes r into buf of size n (always NUL-terminated when n > 0): "1/2" or
   "-3" for rationals; for balls an enclosure of the value in Arb's format,
   "[0.50000000000000000000000000000000 +/- 3.2e-40]" with about `digits`
   significant digits (digits >= 1; an exactly printable value appears
   without brackets); "undefined"; "unknown". Returns the length the full
   text needs, like snprintf. */
size_t kp_exact_print(char *buf, size_t n, const kp_exact_t *r, slong digits);

/* The double nearest the rational or the ball's midpoint (may be +-inf on
   overflow); NaN for UNDEFINED and UNKNOWN. */
double kp_exact_get_d(const kp_exact_t *r);

/* Sets q to the exact value of the finite double x (a dyadic rational).
   Returns KP_EINPUT for NaN and infinities (q set to 0). */
int kp_exact_fmpq_from_double(fmpq_t q, double x);

/* Parses s exactly: optional spaces, an optional sign, digits with an
   optional '.' and fraction, an optional exponent e/E[+-]digits (|exponent|
   <= 100000), or a fraction of integers "p/q" (q != 0), then optional
   spaces. "1.25e-3" gives 1/800 exactly. On error returns KP_EINPUT with
   err->col the 1-based column of the offending character (err->line 0); q
   is then 0. */
int kp_exact_fmpq_from_decimal(fmpq_t q, const char *s, kp_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
