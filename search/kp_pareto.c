/* kp_pareto.c: per-complexity best entries and the front derived from them. */
#include "kp_pareto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int kp_pareto_init(kp_pareto_t *a, int max_complexity)
{
    a->max_complexity = max_complexity < 1 ? 1 : max_complexity;
    a->slot = calloc((size_t)a->max_complexity + 1, sizeof *a->slot);
    a->used = calloc((size_t)a->max_complexity + 1, 1);
    if (a->slot == NULL || a->used == NULL) {
        kp_pareto_clear(a);
        return KP_ENOMEM;
    }
    return KP_OK;
}

void kp_pareto_clear(kp_pareto_t *a)
{
    free(a->slot);
    free(a->used);
    a->slot = NULL;
    a->used = NULL;
    a->max_complexity = 0;
}

/* Total order on candidates of one complexity: loss, then hash, then
   tokens, so the winner does not depend on the order of offers. */
static int better(const kp_expr_t *e, double loss, uint64_t hash,
                  const kp_pareto_entry_t *cur)
{
    if (loss != cur->loss)
        return loss < cur->loss;
    if (hash != cur->hash)
        return hash < cur->hash;
    if (e->len != cur->e.len)
        return e->len < cur->e.len;
    return memcmp(e->tok, cur->e.tok, sizeof e->tok[0] * (size_t)e->len) < 0;
}

int kp_pareto_insert(kp_pareto_t *a, const kp_expr_t *e, int complexity,
                     double loss)
{
    if (!isfinite(loss) || complexity < 1 || complexity > a->max_complexity)
        return 0;
    uint64_t hash = kp_expr_hash(e);
    kp_pareto_entry_t *s = &a->slot[complexity];
    if (a->used[complexity] && !better(e, loss, hash, s))
        return 0;
    if (a->used[complexity] && kp_expr_equal(e, &s->e))
        return 0;
    s->e = *e;
    s->complexity = complexity;
    s->loss = loss;
    s->hash = hash;
    a->used[complexity] = 1;
    return 1;
}

void kp_pareto_merge(kp_pareto_t *a, const kp_pareto_t *src)
{
    for (int c = 1; c <= src->max_complexity; c++)
        if (src->used[c])
            kp_pareto_insert(a, &src->slot[c].e, c, src->slot[c].loss);
}

int kp_pareto_front(const kp_pareto_t *a, const kp_pareto_entry_t **front)
{
    int n = 0;
    double best = INFINITY;
    for (int c = 1; c <= a->max_complexity; c++) {
        if (a->used[c] && a->slot[c].loss < best) {
            best = a->slot[c].loss;
            front[n++] = &a->slot[c];
        }
    }
    return n;
}

const kp_pareto_entry_t *kp_pareto_best(const kp_pareto_t *a)
{
    const kp_pareto_entry_t *best = NULL;
    for (int c = 1; c <= a->max_complexity; c++)
        if (a->used[c] && (best == NULL || a->slot[c].loss <= best->loss))
            best = &a->slot[c];
    return best;
}
