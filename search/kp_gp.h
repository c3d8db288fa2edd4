/* kp_gp.h: genetic-programming operators on expressions: tournament
   selection, subtree crossover, mutations (point, subtree, hoist, insert
   node, delete node, constant jitter). Every child obeys the grammar it was
   made under (kp_grammar_check_expr) and is in canonical form
   (kp_expr_simplify) — simplification runs after every variation, and a
   child whose simplified form breaks the grammar is re-drawn.

   Operators take the RNG as an argument and use nothing else that varies,
   so a fixed seed gives a fixed child. Reentrant; the grammar is shared
   read-only. */
#ifndef KP_GP_H
#define KP_GP_H

#include <stdint.h>

#include "kp_expr.h"
#include "kp_grammar.h"
#include "kp_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One member of a population. loss is +INFINITY when not yet evaluated or
   undefined on the data. */
typedef struct {
    kp_expr_t e;
    double loss;    /* search loss (normalised MSE on the fitness rows) */
    int complexity; /* kp_grammar_complexity */
    uint64_t hash;  /* kp_expr_hash(&e) */
} kp_indiv_t;

enum kp_gp_mutation {
    KP_GP_MUT_POINT,    /* replace one node by another symbol of the same
                           arity and types */
    KP_GP_MUT_SUBTREE,  /* replace a subtree by a random one */
    KP_GP_MUT_HOIST,    /* replace a subtree by one of its own subtrees */
    KP_GP_MUT_INSERT,   /* wrap a subtree in a new operator */
    KP_GP_MUT_DELETE,   /* replace an operator node by one of its children */
    KP_GP_MUT_JITTER,   /* multiply free constants by random factors */
    KP_GP_MUT_COUNT
};

typedef struct {
    int tournament;      /* tournament size, >= 1 */
    double parsimony;    /* selection score = log(loss + 1e-30) +
                            parsimony * complexity; 0 disables */
    double p_crossover;  /* probability a child comes from crossover */
    double p_mutation[KP_GP_MUT_COUNT]; /* relative weights of mutations */
    int subtree_max_len; /* largest random subtree a mutation inserts */
} kp_gp_params_t;

/* Fills p with defaults that work for symbolic regression. */
void kp_gp_params_default(kp_gp_params_t *p);

/* Index of the winner of a tournament among pop[0..n-1] (n >= 1) on the
   selection score. */
int kp_gp_tournament(const kp_indiv_t *pop, int n, const kp_gp_params_t *p,
                     kp_rng_t *rng);

/* Sets child to a with a random subtree replaced by a random subtree of b
   (type-compatible). KP_OK, or KP_ENOTFOUND if no valid child was found in
   a bounded number of tries (child then equals a). child may alias a or b. */
int kp_gp_crossover(kp_expr_t *child, const kp_expr_t *a, const kp_expr_t *b,
                    const kp_grammar_t *g, kp_rng_t *rng);

/* Sets child to a mutation of a of the given kind (or, with kind < 0, one
   drawn from p->p_mutation). Same return values as kp_gp_crossover. */
int kp_gp_mutate(kp_expr_t *child, const kp_expr_t *a, int kind,
                 const kp_grammar_t *g, const kp_gp_params_t *p,
                 kp_rng_t *rng);

/* Makes one child from pop: crossover of two tournament winners with
   probability p_crossover, else a mutation of one winner. */
int kp_gp_offspring(kp_expr_t *child, const kp_indiv_t *pop, int n,
                    const kp_grammar_t *g, const kp_gp_params_t *p,
                    kp_rng_t *rng);

#ifdef __cplusplus
}
#endif
#endif
