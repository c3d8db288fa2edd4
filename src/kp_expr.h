/* kp_expr.h: expressions as flat prefix arrays.

   An expression is a value type (copy it with `=` or memcpy): a prefix array
   of token ids, the length of the subtree rooted at each position, and a
   constant pool. Tokens below KP_TOK_CONST are operators (enum kp_op in
   kp_op.h); KP_TOK_CONST is a numeric constant; KP_TOK_VAR + i is input
   variable i.

   Invariants (kp_expr_check verifies them):
   - 1 <= len <= KP_EXPR_MAX_LEN; arities sum to len - 1 and no proper
     prefix is a complete expression;
   - size[i] is the number of tokens of the subtree rooted at i;
   - the k-th KP_TOK_CONST in prefix order uses c[k], and nconst is the
     number of KP_TOK_CONST tokens.

   A constant is exact when den > 0: its value is the rational num/den in
   lowest terms (value holds the nearest double). When den == 0 it is a free
   real constant: its value is the double `value` itself (an exact dyadic
   rational), which optimisers tune. Printers write exact constants as
   integers or p/q and free ones with 17 significant digits.

   Functions that change an expression keep the invariants; they return
   KP_EINPUT without changing the output when a result would exceed
   KP_EXPR_MAX_LEN or KP_EXPR_MAX_CONSTS. Outputs may alias inputs unless
   noted. Reentrant. */
#ifndef KP_EXPR_H
#define KP_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "kp_error.h"
#include "kp_op.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KP_EXPR_MAX_LEN 256
#define KP_EXPR_MAX_CONSTS 64
#define KP_MAX_VARS 4096

#define KP_TOK_CONST 255
#define KP_TOK_VAR 256

typedef uint16_t kp_tok_t;

typedef struct {
    double value; /* value used by floating-point evaluation */
    int64_t num;  /* exact constants: numerator */
    int64_t den;  /* > 0: exact num/den in lowest terms; 0: free constant */
} kp_const_t;

typedef struct {
    int len;
    int nconst;
    kp_tok_t tok[KP_EXPR_MAX_LEN];
    uint16_t size[KP_EXPR_MAX_LEN];
    kp_const_t c[KP_EXPR_MAX_CONSTS];
} kp_expr_t;

/* Token helpers. */
static inline int kp_tok_is_var(kp_tok_t t)
{
    return t >= KP_TOK_VAR;
}
static inline int kp_tok_var(kp_tok_t t)
{
    return (int)t - KP_TOK_VAR;
}
static inline int kp_tok_arity(kp_tok_t t)
{
    return t < KP_OP_COUNT ? kp_op_table[t].arity : 0;
}

/* Sets e to the empty expression (len 0, which is not yet valid). */
void kp_expr_init(kp_expr_t *e);

/* Building in prefix order: append an operator, a variable or a constant.
   After the last token call kp_expr_finish. Return KP_EINPUT on overflow. */
int kp_expr_push_op(kp_expr_t *e, int op);
int kp_expr_push_var(kp_expr_t *e, int var);
int kp_expr_push_const(kp_expr_t *e, double value);   /* free constant */
int kp_expr_push_rational(kp_expr_t *e, int64_t num, int64_t den);
/* Computes size[] and checks the invariants; KP_EINPUT if incomplete. */
int kp_expr_finish(kp_expr_t *e, kp_error_t *err);

/* KP_OK if every invariant above holds, else KP_EINTERNAL with a message. */
int kp_expr_check(const kp_expr_t *e, kp_error_t *err);

/* Recomputes size[] from tok[]; tok must form a complete expression. */
void kp_expr_update_sizes(kp_expr_t *e);

/* Depth of the tree (a single leaf has depth 1). */
int kp_expr_depth(const kp_expr_t *e);

/* Number of KP_TOK_CONST tokens before position pos, i.e. the pool index
   of the constant at pos when tok[pos] is KP_TOK_CONST. */
int kp_expr_const_index(const kp_expr_t *e, int pos);

/* 1 + the largest variable index used, or 0 if no variable is used. */
int kp_expr_nvars(const kp_expr_t *e);

/* Number of free (den == 0) constants. */
int kp_expr_nfree(const kp_expr_t *e);

/* Sets r to a with the subtree at position pos replaced by the subtree of
   src rooted at srcpos (constants carried along). r may alias a or src. */
int kp_expr_replace_subtree(kp_expr_t *r, const kp_expr_t *a, int pos,
                            const kp_expr_t *src, int srcpos);

/* Sets r to the subtree of a rooted at pos. r may alias a. */
int kp_expr_subtree(kp_expr_t *r, const kp_expr_t *a, int pos);

/* 1 if a and b have the same tokens and the same constants (exact
   constants equal as rationals, free constants equal as doubles). */
int kp_expr_equal(const kp_expr_t *a, const kp_expr_t *b);

/* 64-bit structural hash (XXH3) of tokens and exact constants; all free
   constants hash alike, so expressions that differ only in the values of
   their free constants collide on purpose (one fitness-cache entry per
   shape). */
uint64_t kp_expr_hash(const kp_expr_t *e);

/* Puts e in canonical form, in place: constant subtrees folded (exactly
   for exact constants, with overflow falling back to leaving them), operands
   of commutative operators ordered by a fixed total order on subtrees,
   identities applied (x*1, x+0, x-x, x/x, x**1, x**0, --x, exp(log(x)),
   log(exp(x)), sqrt(x)**2, ...). The value on every point where the input
   is defined is unchanged up to rounding; simplification never turns a
   defined value into an undefined one. Idempotent. */
void kp_expr_simplify(kp_expr_t *e);

/* Parses SymPy syntax (CONTRACT.md): numbers (integers, decimals, exponents:
   all kept exact as rationals), names from names[0..nnames-1] (variables),
   pi, E, + - * / ** with Python precedence and associativity (** is right
   associative and binds tighter than unary minus), parentheses, and the
   functions of kp_op_table plus the aliases of kp_op_lookup. On error
   returns KP_EINPUT with err->col set to the 1-based column of the offending
   character and err->line 0. */
int kp_expr_parse(kp_expr_t *e, const char *text, const char *const *names,
                  int nnames, kp_error_t *err);

/* Flags of kp_expr_parse_flags. */
enum {
    /* A decimal literal whose exact value does not fit a 64-bit numerator
       and denominator becomes a free constant holding the double nearest to
       it, instead of an error. For reading back formulas that Kepler printed
       (free constants print with 17 significant digits); never for exact
       input. */
    KP_PARSE_FREE_LONG = 1
};

/* kp_expr_parse with flags (0 gives kp_expr_parse). */
int kp_expr_parse_flags(kp_expr_t *e, const char *text,
                        const char *const *names, int nnames, int flags,
                        kp_error_t *err);

enum kp_print_style {
    KP_PRINT_SYMPY, /* sympy.sympify-able; exact rationals as p/q */
    KP_PRINT_LATEX,
    KP_PRINT_C      /* a C99 expression using <math.h> */
};

/* Writes e in the given style into buf of size n (always NUL-terminated
   when n > 0), naming variable i names[i] (or x<i> when names is NULL or
   i >= nnames). Returns the length the full text needs, like snprintf. */
size_t kp_expr_print(char *buf, size_t n, const kp_expr_t *e, int style,
                     const char *const *names, int nnames);

#ifdef __cplusplus
}
#endif
#endif
