/* kp_recognize.h: constant recognition. Given a fitted floating-point
   constant x (from Levenberg-Marquardt or similar) and its relative accuracy,
   proposes "nice" exact closed forms, ranked, each of which can be turned into
   an expression subtree that kp_exact can verify.

   Three families are searched:
   - RATIONAL:  x = sign * p/q                       (continued fractions)
   - PRODUCT:   x = sign * p/q * 2^(k0/d) 3^(k1/d) 5^(k2/d) pi^(k3/d) e^(k4/d)
                (LLL on [log|x|, log 2, log 3, log 5, log pi, 1], plus a scan
                of small half-integer exponents of pi, e, sqrt(2), sqrt(3),
                sqrt(5) with a continued-fraction rational prefactor, which
                also finds prefactors with other primes such as 7*pi/4)
   - LINEAR:    x = (a0 + a1 pi + a2 sqrt(2) + a3 sqrt(3) + a4 log(2)
                     + a5 e) / b       (LLL on [x, 1, pi, sqrt2, sqrt3, ln2, e])

   Scoring (the anti-spurious heuristic). Each candidate gets a complexity C
   in bits, meant as log2 of the number of candidates "no bigger than it" per
   unit of relative distance near x, i.e. -log2 of the chance that one of them
   lands within relative distance 1 of a random x:
   - p/q:      log2(1 + p*q) (fractions with denominator <= q near x have
               relative spacing about 1/(0.6*p*q));
   - PRODUCT:  1 + C(p/q) + per factor base^(n/d') (n/d' in lowest terms):
               primes 1 + 2 log2 n + 2 log2 d', pi and e 2 + 2 log2|n|
               + 2 log2 d'; plus 5 log2(d/2) when d > 2 (only LLL reaches
               such exponents and it opens d^5 times more of them);
   - LINEAR:   1 + log2 choose(6, t) + (t + 1) log2(2 |(b, a)| + 1), t the
               number of nonzero a_i and |.| the Euclidean norm: LLL in
               dimension k at scale N returns relations of size N^(1/k) with
               error 1/N for ANY x, so each used coordinate is charged the
               bits of the whole vector.
   The significance is S = log2(1 / max(rel_err, KP_RECOG_ERR_FLOOR)) - C: the
   number of bits by which the match is better than its size warrants. A
   candidate is kept only if rel_err <= rel_tol and S >= KP_RECOG_MIN_BITS.
   Measured on log-uniform random |x| in [0.01, 100]: about 0.3-0.5% of them
   get a (spurious) candidate at rel_tol 1e-9, 0.8% at 1e-4, 0.05% at 1e-12.
   In exchange, recovering a form needs roughly C + 12 bits of accuracy:
   3/2 or pi at 1e-5, 1/sqrt(2 pi) at 1e-7, 1 + pi/2 at 1e-8, (3 + 2 pi)/4
   at 5e-9, three-term linear forms such as 3 - sqrt(3) + 2 log(2) at 1e-9.
   Candidates are ranked by S, best first (simpler wins among equally
   accurate ones), and duplicates (same value to 1e-13) keep the simplest
   form. Search bounds are below. Cost: about 0.3 ms per call (a scan of
   ~1200 bases with continued fractions and six small LLL reductions).

   kp_recog_t is a plain value type. All functions are reentrant; nothing here
   allocates memory that outlives a call. */
#ifndef KP_RECOGNIZE_H
#define KP_RECOGNIZE_H

#include <stddef.h>
#include <stdint.h>

#include "kp_error.h"
#include "kp_expr.h"

#ifdef __cplusplus
extern "C" {
#endif

enum kp_recog_kind {
    KP_RECOG_RATIONAL, /* sign * p/q (sign 0, p 0, q 1 for x == 0) */
    KP_RECOG_PRODUCT,  /* sign * p/q * prod base_i^(k[i]/d) */
    KP_RECOG_LINEAR    /* (sum a[i] * lin_i) / b */
};

#define KP_RECOG_NPROD 5 /* product bases: 2, 3, 5, pi, e */
#define KP_RECOG_NLIN 6  /* linear basis: 1, pi, sqrt(2), sqrt(3), log(2), e */

/* Search bounds. */
#define KP_RECOG_MAX_DEN 10000   /* q of rational parts */
#define KP_RECOG_MAX_NUM 1000000 /* p of rational parts */
#define KP_RECOG_MAX_EXPDEN 6    /* d of product exponents */
#define KP_RECOG_MAX_PIEXP 8     /* |k[3]/d|, |k[4]/d| <= this */
#define KP_RECOG_MAX_LINCOEF 1000 /* |a[i]| and b of LINEAR */

/* Acceptance: bits of significance required, and the error floor that stands
   for "exact in double precision". */
#define KP_RECOG_MIN_BITS 12.0
#define KP_RECOG_ERR_FLOOR 8.8817841970012523e-16 /* 2^-50 */

typedef struct {
    int kind;      /* enum kp_recog_kind */
    int sign;      /* sign of the value: -1, 0 (only x == 0) or +1 */
    int64_t p, q;  /* RATIONAL, PRODUCT: p >= 0, q >= 1, coprime */
    int d;         /* PRODUCT: exponent denominator, >= 1, and
                      gcd(d, k[0..4]) == 1 */
    int k[KP_RECOG_NPROD]; /* PRODUCT: exponents k[i]/d of 2, 3, 5, pi, e;
                              0 <= k[i] < d for the primes 2, 3, 5 (integer
                              powers of primes live in p/q) */
    int64_t a[KP_RECOG_NLIN]; /* LINEAR: coefficients of 1, pi, sqrt(2),
                                 sqrt(3), log(2), e (gcd with b is 1) */
    int64_t b;                /* LINEAR: denominator >= 1 */
    double value;      /* the candidate's value, rounded to double */
    double rel_err;    /* |value - x| / |x| (0 when x == 0) */
    double complexity; /* C in bits, see above */
    double score;      /* significance S in bits, see above */
} kp_recog_t;

/* Finds closed forms for x within relative tolerance rel_tol (values below
   4 DBL_EPSILON are raised to it) and writes up to max_out of them, best
   first, to out (out may be NULL when max_out is 0). x == 0 gives exactly one
   candidate, the rational 0 (deciding that a tiny fitted value "is zero" needs
   an absolute threshold, which is the caller's business). Returns the number
   of candidates written (0 when nothing is significant), or -KP_EINPUT (with
   err set) when x is not finite, rel_tol is not in (0, 1) or max_out < 0. */
int kp_recognize(kp_recog_t *out, int max_out, double x, double rel_tol,
                 kp_error_t *err);

/* kp_recognize with another significance threshold than
   KP_RECOG_MIN_BITS: lower it only when something else decides between the
   candidates (a model-selection test on the data, or the exact verifier),
   since below it spurious matches are common. */
int kp_recognize_bits(kp_recog_t *out, int max_out, double x, double rel_tol,
                      double min_bits, kp_error_t *err);

/* Sets *out to the rational p/q with the smallest denominator q <= max_den
   (and |p| <= 2^53) such that |p/q - x| <= rel_tol * |x|; x == 0 gives 0/1.
   No significance test: this is the plain "snap to a simple fraction".
   Returns KP_OK, KP_ENOTFOUND (out unchanged) or KP_EINPUT when x is not
   finite, rel_tol is not in [0, 1) or max_den is not in [1, 10^9]. */
int kp_recognize_rational(kp_recog_t *out, double x, double rel_tol,
                          int64_t max_den, kp_error_t *err);

/* The value of cand computed in double precision from its fields (kind,
   sign, p, q, d, k, a, b); value/rel_err/complexity/score are not read. */
double kp_recognize_value(const kp_recog_t *cand);

/* Sets out to a complete expression (no variables) denoting cand exactly,
   built from exact rational constants, pi, E, +, -, *, /, **, neg, sqrt and
   log only, shaped like kp_recognize_print's text. Use kp_expr_replace_subtree
   to graft it into a model. Returns KP_OK, or KP_EINPUT for a malformed cand. */
int kp_recognize_to_expr(kp_expr_t *out, const kp_recog_t *cand,
                         kp_error_t *err);

/* Writes cand in SymPy syntax ("3/2", "-2", "sqrt(2)/(2*sqrt(pi))",
   "2*pi", "pi**2", "E", "2**(1/3)*pi", "1 + pi/2", "3*sqrt(2)/4 - log(2)")
   into buf of size n (NUL-terminated when n > 0). Returns the length the
   full text needs, like snprintf. */
size_t kp_recognize_print(char *buf, size_t n, const kp_recog_t *cand);

#ifdef __cplusplus
}
#endif
#endif
