/* kp_gp.c: variation operators of genetic programming on prefix arrays.
   Types come from the grammar: kp_grammar_expr_symbols gives the symbol of
   every node, and a node may only be replaced by something of its symbol's
   result type. Every child is simplified and checked against the grammar;
   a failed draw is retried a bounded number of times. */
#include "kp_gp.h"

#include <math.h>
#include <string.h>

#define GP_TRIES 12

void kp_gp_params_default(kp_gp_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->tournament = 5;
    p->parsimony = 0.1;
    p->p_crossover = 0.4;
    p->p_mutation[KP_GP_MUT_POINT] = 3;
    p->p_mutation[KP_GP_MUT_SUBTREE] = 2;
    p->p_mutation[KP_GP_MUT_HOIST] = 1;
    p->p_mutation[KP_GP_MUT_INSERT] = 2;
    p->p_mutation[KP_GP_MUT_DELETE] = 1;
    p->p_mutation[KP_GP_MUT_JITTER] = 2;
    p->subtree_max_len = 9;
}

static double sel_score(const kp_indiv_t *a, double parsimony)
{
    if (!isfinite(a->loss))
        return INFINITY;
    return log(a->loss + 1e-30) + parsimony * a->complexity;
}

int kp_gp_tournament(const kp_indiv_t *pop, int n, const kp_gp_params_t *p,
                     kp_rng_t *rng)
{
    int best = (int)kp_rng_below(rng, (uint64_t)n);
    double bs = sel_score(&pop[best], p->parsimony);
    for (int k = 1; k < p->tournament; k++) {
        int i = (int)kp_rng_below(rng, (uint64_t)n);
        double s = sel_score(&pop[i], p->parsimony);
        if (s < bs || (s == bs && i < best)) {
            best = i;
            bs = s;
        }
    }
    return best;
}

/* Result type of every node of e, or -1 where the node is not a symbol. */
static void node_types(int *type, int *sym, const kp_grammar_t *g,
                       const kp_expr_t *e)
{
    kp_grammar_expr_symbols(g, e, sym);
    for (int i = 0; i < e->len; i++)
        type[i] = sym[i] >= 0 ? kp_grammar_symbol(g, sym[i])->type : -1;
}

/* Accepts a candidate: simplified, within the grammar, different from a. */
static int accept(kp_expr_t *cand, const kp_expr_t *a, const kp_grammar_t *g)
{
    kp_expr_simplify(cand);
    if (kp_grammar_check_expr(g, cand, NULL) != KP_OK)
        return 0;
    return !kp_expr_equal(cand, a);
}

/* Appends the subtree of src at pos to the expression being built in e. */
static int push_subtree(kp_expr_t *e, const kp_expr_t *src, int pos)
{
    int k = kp_expr_const_index(src, pos);
    for (int i = pos; i < pos + src->size[pos]; i++) {
        kp_tok_t t = src->tok[i];
        int rc;
        if (t == KP_TOK_CONST) {
            const kp_const_t *c = &src->c[k++];
            rc = c->den ? kp_expr_push_rational(e, c->num, c->den)
                        : kp_expr_push_const(e, c->value);
        } else if (kp_tok_is_var(t)) {
            rc = kp_expr_push_var(e, kp_tok_var(t));
        } else {
            rc = kp_expr_push_op(e, t);
        }
        if (rc != KP_OK)
            return rc;
    }
    return KP_OK;
}

/* Appends a leaf for symbol s (free constants start at a random value). */
static int push_leaf(kp_expr_t *e, const kp_gsym_t *s, kp_rng_t *rng)
{
    switch (s->kind) {
    case KP_GSYM_VAR:
        return kp_expr_push_var(e, kp_tok_var(s->tok));
    case KP_GSYM_CONST:
        return kp_expr_push_const(e, 4.0 * kp_rng_uniform(rng) - 2.0);
    case KP_GSYM_LITERAL:
        return kp_expr_push_rational(e, s->num, s->den);
    default:
        return kp_expr_push_op(e, s->tok);
    }
}

/* A random symbol with the given arity (or any arity when arity < 0) and
   result type, or -1. */
static int random_symbol(const kp_grammar_t *g, int arity, int type,
                         kp_rng_t *rng)
{
    int n = kp_grammar_nsymbols(g), count = 0, pick = -1;
    for (int i = 0; i < n; i++) {
        const kp_gsym_t *s = kp_grammar_symbol(g, i);
        if (s->type != type || (arity >= 0 && s->arity != arity))
            continue;
        /* reservoir sampling: one pass, uniform choice */
        if (kp_rng_below(rng, (uint64_t)++count) == 0)
            pick = i;
    }
    return pick;
}

/* A random expression of the given type: a whole random expression for the
   grammar's start type, a random leaf otherwise. */
static int random_of_type(kp_expr_t *r, const kp_grammar_t *g, int type,
                          int max_len, kp_rng_t *rng)
{
    if (type == g->start)
        return kp_grammar_random_expr(r, g, 1, max_len, rng, NULL);
    int s = random_symbol(g, 0, type, rng);
    if (s < 0)
        return KP_ENOTFOUND;
    kp_expr_init(r);
    push_leaf(r, kp_grammar_symbol(g, s), rng);
    return kp_expr_finish(r, NULL);
}

static int try_crossover(kp_expr_t *c, const kp_expr_t *a, const kp_expr_t *b,
                         const kp_grammar_t *g, kp_rng_t *rng)
{
    int ta[KP_EXPR_MAX_LEN], tb[KP_EXPR_MAX_LEN], sym[KP_EXPR_MAX_LEN];
    node_types(ta, sym, g, a);
    node_types(tb, sym, g, b);
    int i = (int)kp_rng_below(rng, (uint64_t)a->len);
    int count = 0, j = -1;
    for (int k = 0; k < b->len; k++)
        if (tb[k] == ta[i] && kp_rng_below(rng, (uint64_t)++count) == 0)
            j = k;
    if (j < 0)
        return 0;
    return kp_expr_replace_subtree(c, a, i, b, j) == KP_OK;
}

int kp_gp_crossover(kp_expr_t *child, const kp_expr_t *a, const kp_expr_t *b,
                    const kp_grammar_t *g, kp_rng_t *rng)
{
    kp_expr_t cand;
    for (int t = 0; t < GP_TRIES; t++) {
        if (try_crossover(&cand, a, b, g, rng) && accept(&cand, a, g)) {
            *child = cand;
            return KP_OK;
        }
    }
    if (child != a)
        *child = *a;
    return KP_ENOTFOUND;
}

static int mutate_point(kp_expr_t *c, const kp_expr_t *a, const int *type,
                        const int *sym, const kp_grammar_t *g, kp_rng_t *rng)
{
    int i = (int)kp_rng_below(rng, (uint64_t)a->len);
    if (sym[i] < 0)
        return 0;
    const kp_gsym_t *old = kp_grammar_symbol(g, sym[i]);
    int s = random_symbol(g, old->arity, type[i], rng);
    if (s < 0 || s == sym[i])
        return 0;
    const kp_gsym_t *ns = kp_grammar_symbol(g, s);
    if (ns->arity > 0) {
        for (int k = 0; k < ns->arity; k++)
            if (ns->arg_type[k] != old->arg_type[k])
                return 0;
        *c = *a;
        c->tok[i] = ns->tok;
        return 1;
    }
    kp_expr_t leaf;
    kp_expr_init(&leaf);
    push_leaf(&leaf, ns, rng);
    if (ns->kind == KP_GSYM_CONST && old->kind == KP_GSYM_LITERAL)
        leaf.c[0].value = (double)old->num / (double)old->den;
    if (kp_expr_finish(&leaf, NULL) != KP_OK)
        return 0;
    return kp_expr_replace_subtree(c, a, i, &leaf, 0) == KP_OK;
}

static int mutate_subtree(kp_expr_t *c, const kp_expr_t *a, const int *type,
                          const kp_grammar_t *g, const kp_gp_params_t *p,
                          kp_rng_t *rng)
{
    int i = (int)kp_rng_below(rng, (uint64_t)a->len);
    if (type[i] < 0)
        return 0;
    kp_expr_t sub;
    if (random_of_type(&sub, g, type[i], p->subtree_max_len, rng) != KP_OK)
        return 0;
    return kp_expr_replace_subtree(c, a, i, &sub, 0) == KP_OK;
}

/* Hoist (any descendant) or delete (a direct child) of the same type. */
static int mutate_hoist(kp_expr_t *c, const kp_expr_t *a, const int *type,
                        int direct_child, kp_rng_t *rng)
{
    int i = (int)kp_rng_below(rng, (uint64_t)a->len);
    if (a->size[i] == 1 || type[i] < 0)
        return 0;
    int count = 0, j = -1;
    for (int k = i + 1; k < i + a->size[i];) {
        if (type[k] == type[i] && kp_rng_below(rng, (uint64_t)++count) == 0)
            j = k;
        k += direct_child ? a->size[k] : 1;
    }
    if (j < 0)
        return 0;
    return kp_expr_replace_subtree(c, a, i, a, j) == KP_OK;
}

static int mutate_insert(kp_expr_t *c, const kp_expr_t *a, const int *type,
                         const kp_grammar_t *g, kp_rng_t *rng)
{
    int i = (int)kp_rng_below(rng, (uint64_t)a->len);
    if (type[i] < 0)
        return 0;
    int s = random_symbol(g, -1, type[i], rng);
    if (s < 0)
        return 0;
    const kp_gsym_t *op = kp_grammar_symbol(g, s);
    if (op->arity == 0)
        return 0;
    int slot = (int)kp_rng_below(rng, (uint64_t)op->arity);
    if (op->arg_type[slot] != type[i])
        return 0;
    kp_expr_t node;
    kp_expr_init(&node);
    if (kp_expr_push_op(&node, op->tok) != KP_OK)
        return 0;
    for (int k = 0; k < op->arity; k++) {
        int rc;
        if (k == slot) {
            rc = push_subtree(&node, a, i);
        } else {
            int leaf = random_symbol(g, 0, op->arg_type[k], rng);
            rc = leaf < 0 ? KP_ENOTFOUND
                          : push_leaf(&node, kp_grammar_symbol(g, leaf), rng);
        }
        if (rc != KP_OK)
            return 0;
    }
    if (kp_expr_finish(&node, NULL) != KP_OK)
        return 0;
    return kp_expr_replace_subtree(c, a, i, &node, 0) == KP_OK;
}

static int mutate_jitter(kp_expr_t *c, const kp_expr_t *a, kp_rng_t *rng)
{
    if (kp_expr_nfree(a) == 0)
        return 0;
    *c = *a;
    for (int k = 0; k < c->nconst; k++) {
        if (c->c[k].den != 0)
            continue;
        double f = exp(0.3 * kp_rng_normal(rng));
        c->c[k].value *= kp_rng_below(rng, 10) == 0 ? -f : f;
    }
    return 1;
}

static int draw_mutation(const kp_gp_params_t *p, kp_rng_t *rng)
{
    double total = 0;
    for (int k = 0; k < KP_GP_MUT_COUNT; k++)
        total += p->p_mutation[k];
    double u = kp_rng_uniform(rng) * total;
    for (int k = 0; k < KP_GP_MUT_COUNT; k++) {
        if (u < p->p_mutation[k])
            return k;
        u -= p->p_mutation[k];
    }
    return KP_GP_MUT_POINT;
}

int kp_gp_mutate(kp_expr_t *child, const kp_expr_t *a, int kind,
                 const kp_grammar_t *g, const kp_gp_params_t *p,
                 kp_rng_t *rng)
{
    int type[KP_EXPR_MAX_LEN], sym[KP_EXPR_MAX_LEN];
    node_types(type, sym, g, a);
    kp_expr_t cand;
    for (int t = 0; t < GP_TRIES; t++) {
        int k = kind >= 0 ? kind : draw_mutation(p, rng);
        int made = 0;
        switch (k) {
        case KP_GP_MUT_POINT:
            made = mutate_point(&cand, a, type, sym, g, rng);
            break;
        case KP_GP_MUT_SUBTREE:
            made = mutate_subtree(&cand, a, type, g, p, rng);
            break;
        case KP_GP_MUT_HOIST:
            made = mutate_hoist(&cand, a, type, 0, rng);
            break;
        case KP_GP_MUT_INSERT:
            made = mutate_insert(&cand, a, type, g, rng);
            break;
        case KP_GP_MUT_DELETE:
            made = mutate_hoist(&cand, a, type, 1, rng);
            break;
        case KP_GP_MUT_JITTER:
            made = mutate_jitter(&cand, a, rng);
            break;
        }
        if (made && accept(&cand, a, g)) {
            *child = cand;
            return KP_OK;
        }
    }
    if (child != a)
        *child = *a;
    return KP_ENOTFOUND;
}

int kp_gp_offspring(kp_expr_t *child, const kp_indiv_t *pop, int n,
                    const kp_grammar_t *g, const kp_gp_params_t *p,
                    kp_rng_t *rng)
{
    int a = kp_gp_tournament(pop, n, p, rng);
    if (kp_rng_uniform(rng) < p->p_crossover) {
        int b = kp_gp_tournament(pop, n, p, rng);
        return kp_gp_crossover(child, &pop[a].e, &pop[b].e, g, rng);
    }
    return kp_gp_mutate(child, &pop[a].e, -1, g, p, rng);
}
