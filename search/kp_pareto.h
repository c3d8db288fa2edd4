/* kp_pareto.h: the Pareto archive ("hall of fame") of complexity against
   loss that symbolic-regression users read.

   The archive keeps, for every complexity 1..max_complexity, the best
   expression seen at that complexity (lowest loss; ties broken by the
   smaller structural hash, then by the smaller expression, so the archive is
   independent of insertion order). The front is the subsequence of those
   whose loss is strictly below the loss of every simpler entry. Non-finite
   losses are never stored. An exact small formula is never displaced by a
   more complex one: entries compete only within their own complexity.

   Ownership: kp_pareto_init/kp_pareto_clear. Not thread-safe: merge
   per-thread archives in a fixed order (kp_pareto_merge). */
#ifndef KP_PARETO_H
#define KP_PARETO_H

#include <stdint.h>

#include "kp_expr.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    kp_expr_t e;
    int complexity;
    double loss;   /* the search loss (mean squared error) */
    uint64_t hash; /* kp_expr_hash(&e) */
} kp_pareto_entry_t;

typedef struct {
    int max_complexity;
    kp_pareto_entry_t *slot; /* slot[c] for c in 1..max_complexity */
    uint8_t *used;
} kp_pareto_t;

/* max_complexity >= 1. Returns KP_OK or KP_ENOMEM. */
int kp_pareto_init(kp_pareto_t *a, int max_complexity);
void kp_pareto_clear(kp_pareto_t *a);

/* Offers e with the given complexity and loss. Returns 1 if it took the
   slot of its complexity, 0 otherwise (also when loss is not finite or the
   complexity is out of range). */
int kp_pareto_insert(kp_pareto_t *a, const kp_expr_t *e, int complexity,
                     double loss);

/* Offers every entry of src to a, in complexity order. */
void kp_pareto_merge(kp_pareto_t *a, const kp_pareto_t *src);

/* Writes pointers to the front's entries, simplest first, into front
   (room for max_complexity entries); returns their number. Pointers are
   borrowed until a next changes. */
int kp_pareto_front(const kp_pareto_t *a, const kp_pareto_entry_t **front);

/* The entry with the lowest loss (the most complex on ties), or NULL. */
const kp_pareto_entry_t *kp_pareto_best(const kp_pareto_t *a);

#ifdef __cplusplus
}
#endif
#endif
