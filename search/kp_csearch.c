/* kp_csearch.c: program search and ruin-and-recreate local search over
   greedy constructions (kp_csearch.h for the methods and the determinism
   argument).

   Each island owns its programs, RNG stream, fitness cache, scratch
   buffers, the problem workspace and a local-search state; the OpenMP loop
   over islands shares only the feature columns, the grammar and the
   problem, all read-only. Islands' bests are merged in index order. */
#define _GNU_SOURCE /* qsort_r */
#include "kp_csearch.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "kp_csearch_impl.h"
#include "kp_eval.h"
#include "kp_gp.h"
#include "kp_symsearch.h"
#include "kp_mpi.h"

#define CS_MIGRANTS 2
#define CS_RESTART 4000 /* local moves without a new island best before
                           the local search returns to the island best */
#define CS_SYM_SWITCH 40000 /* symmetric steps without a new best under
                               one group before the island moves on */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void kp_cs_params_default(kp_cs_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->method = KP_CS_PROGRAM;
    p->target = NAN;
    p->islands = 8;
    p->population = 48;
    p->generations = 2;
    p->tournament = 4;
    p->local_moves = 150;
    p->sym_moves = 300;
}

int kp_cs_result_init(kp_cs_result_t *r, const kp_problem_t *p, int n)
{
    memset(r, 0, sizeof *r);
    r->len = p->length(n);
    r->best = calloc(r->len ? r->len : 1, 1);
    r->score.value = -INFINITY;
    r->program_score = -INFINITY;
    r->sym_group = -1;
    return r->best ? KP_OK : KP_ENOMEM;
}

void kp_cs_result_clear(kp_cs_result_t *r)
{
    free(r->best);
    r->best = NULL;
}

int kp_cs_bind_grammar(kp_grammar_t *g, const kp_problem_t *p, int n,
                       kp_error_t *err)
{
    if (p->nfeatures == NULL)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "problem '%s' has no features for programs",
                            p->name);
    int nf = p->nfeatures(n);
    if (nf < 1 || nf > KP_MAX_VARS)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "problem '%s' has %d features", p->name, nf);
    char(*buf)[KP_GRAMMAR_NAME_MAX] = calloc((size_t)nf, sizeof *buf);
    const char **names = calloc((size_t)nf, sizeof *names);
    if (buf == NULL || names == NULL) {
        free(buf);
        free(names);
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    }
    for (int f = 0; f < nf; f++) {
        p->feature_name(buf[f], sizeof buf[f], f, n);
        names[f] = buf[f];
    }
    int rc = kp_grammar_bind(g, nf, names, err);
    free(buf);
    free(names);
    return rc;
}

void kp_cs_order(uint32_t *order, const double *prio, size_t len,
                 uint64_t *keys)
{
    uint64_t *a = keys, *b = keys + len;
    for (size_t i = 0; i < len; i++) {
        float f = (float)prio[i];
        uint32_t u;
        if (isnan(f)) {
            u = 0xffffffffu;
        } else {
            f += 0.0f; /* -0 == +0 */
            memcpy(&u, &f, sizeof u);
            u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
            u = ~u; /* ascending key = descending priority */
            if (u == 0xffffffffu)
                u--; /* keep NaN strictly last */
        }
        a[i] = (uint64_t)u << 32 | (uint64_t)i;
    }
    /* LSD radix on the priority half; stable, so ties keep index order. */
    for (int shift = 32; shift < 64; shift += 8) {
        size_t cnt[257] = {0};
        for (size_t i = 0; i < len; i++)
            cnt[(a[i] >> shift & 0xff) + 1]++;
        if (cnt[(a[0] >> shift & 0xff) + 1] == len)
            continue; /* one bucket: the pass would not move anything */
        for (int d = 0; d < 256; d++)
            cnt[d + 1] += cnt[d];
        for (size_t i = 0; i < len; i++)
            b[cnt[a[i] >> shift & 0xff]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < len; i++)
        order[i] = (uint32_t)a[i];
}

int kp_cs_build(uint8_t *x, kp_score_t *s, const kp_expr_t *e,
                const kp_problem_t *p, int n, const double *const *cols,
                double *prio, uint32_t *order, uint64_t *keys, void *ws)
{
    size_t len = p->length(n);
    if (kp_eval(prio, e, cols, len) != KP_OK)
        return KP_EINPUT;
    kp_cs_order(order, prio, len, keys);
    p->construct(x, order, n, ws);
    p->score(s, x, n, ws);
    return KP_OK;
}

/* Hash of structure and free-constant values (kp_expr_hash alone treats
   all free constants alike). */
static uint64_t prog_hash(const kp_expr_t *e)
{
    uint64_t h = kp_expr_hash(e);
    double c[KP_EXPR_MAX_CONSTS];
    int k = 0;
    for (int i = 0; i < e->nconst; i++)
        if (e->c[i].den == 0)
            c[k++] = e->c[i].value;
    if (k > 0)
        h ^= XXH3_64bits(c, sizeof(double) * (size_t)k) * 0x9e3779b97f4a7c15ULL;
    return h;
}

static void island_offer(cs_island_t *isl, const uint8_t *x, double score,
                         size_t len)
{
    if (!isl->have_best || score > isl->best_score) {
        memcpy(isl->best, x, len);
        isl->best_score = score;
        isl->have_best = 1;
        isl->best_sym = -1;
    }
}

static int uses_sym(const kp_problem_t *p, const kp_cs_params_t *prm)
{
    return (prm->method == KP_CS_PROGRAM || prm->method == KP_CS_SYMMETRIC) &&
           prm->sym_moves > 0 && p->line_thirds && p->nsymmetries &&
           p->symmetry_orbits;
}

/* The group of the island's turn-th symmetric search: island i of N
   starts with group i and moves on by N, so the islands share out the
   groups. */
static int cs_sym_group(const cs_island_t *isl, const cs_ctx_t *c, int turn)
{
    int ng = c->p->nsymmetries(c->n);
    if (ng < 1)
        return -1;
    return (int)(((long)isl->index + (long)turn * isl->nglobal) % ng);
}

/* (Re)starts the island's symmetric search with its next group. */
static void sym_start(cs_island_t *isl, const cs_ctx_t *c)
{
    if (isl->have_sym)
        kp_sym_clear(&isl->sym);
    isl->have_sym = 0;
    int g = cs_sym_group(isl, c, isl->sym_turn);
    isl->sym_turn++;
    isl->sym_idle = 0;
    if (g >= 0)
        isl->have_sym =
            kp_sym_init(&isl->sym, c->p, c->n, g, isl->ws, NULL) == KP_OK;
}

static void sym_round(cs_island_t *isl, const cs_ctx_t *c)
{
    if (!isl->have_sym)
        return;
    long steps = c->prm->sym_moves;
    isl->evals += steps; /* a step weighs every admissible orbit */
    if (kp_sym_run(&isl->sym, steps, &isl->rng)) {
        kp_sym_best(isl->x, &isl->sym);
        kp_score_t sc;
        c->p->score(&sc, isl->x, c->n, isl->ws);
        double v = isnan(sc.value) ? -INFINITY : sc.value;
        if (!isl->have_best || v > isl->best_score) {
            island_offer(isl, isl->x, v, c->len);
            isl->best_sym = isl->sym.group;
        }
        isl->sym_idle = 0;
    } else if ((isl->sym_idle += steps) >= CS_SYM_SWITCH) {
        sym_start(isl, c);
    }
}

/* Scores program pr (cache, then build), offering its object to the
   island's best. */
static void score_prog(cs_prog_t *pr, cs_island_t *isl, const cs_ctx_t *c)
{
    pr->ind.hash = prog_hash(&pr->ind.e);
    pr->ind.complexity = kp_grammar_complexity(c->g, &pr->ind.e);
    cs_cache_t *ce = &isl->cache[pr->ind.hash & ((1u << CS_CACHE_BITS) - 1)];
    if (ce->key == pr->ind.hash && ce->key != 0) {
        pr->score = ce->score;
        pr->phash = ce->phash;
        pr->ind.loss = -pr->score;
        return;
    }
    kp_score_t s;
    if (kp_cs_build(isl->x, &s, &pr->ind.e, c->p, c->n, c->cols, isl->prio,
                    isl->order, isl->keys, isl->ws) != KP_OK) {
        s.value = -INFINITY;
        pr->phash = 0;
    } else {
        pr->phash = XXH3_64bits(isl->x, c->len);
        island_offer(isl, isl->x, s.value, c->len);
    }
    isl->evals++;
    pr->score = isnan(s.value) ? -INFINITY : s.value;
    pr->ind.loss = -pr->score;
    ce->key = pr->ind.hash;
    ce->score = pr->score;
    ce->phash = pr->phash;
}

/* Better program first: higher score, then lower complexity, then hash. */
static int cmp_prog(const void *pa, const void *pb)
{
    const cs_prog_t *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    if (a->ind.complexity != b->ind.complexity)
        return a->ind.complexity < b->ind.complexity ? -1 : 1;
    return a->ind.hash < b->ind.hash ? -1 : a->ind.hash > b->ind.hash;
}

/* Keeps the best `keep` of pop[0..n-1], preferring distinct objects: one
   program per object first, then the best of the rest. Programs with the
   same hash are dropped. Deterministic: cmp_prog is a total order on
   distinct hashes. */
static int truncate_pop(cs_prog_t *pop, cs_prog_t *tmp, int n, int keep)
{
    qsort(pop, (size_t)n, sizeof *pop, cmp_prog);
    int m = 0;
    for (int pass = 0; pass < 2 && m < keep; pass++)
        for (int i = 0; i < n && m < keep; i++) {
            if (pop[i].ind.hash == 0)
                continue; /* taken */
            int dup = 0;
            for (int k = 0; k < m && !dup; k++)
                dup = pass == 0 ? tmp[k].phash == pop[i].phash
                                : tmp[k].ind.hash == pop[i].ind.hash;
            if (dup)
                continue;
            tmp[m++] = pop[i];
            pop[i].ind.hash = 0;
        }
    memcpy(pop, tmp, sizeof *pop * (size_t)m);
    return m;
}

static int tournament(const cs_prog_t *pop, int n, int t, kp_rng_t *rng)
{
    int best = (int)kp_rng_below(rng, (uint64_t)n);
    for (int k = 1; k < t; k++) {
        int i = (int)kp_rng_below(rng, (uint64_t)n);
        if (cmp_prog(&pop[i], &pop[best]) < 0)
            best = i;
    }
    return best;
}

static void random_prog(cs_prog_t *pr, const kp_grammar_t *g, kp_rng_t *rng)
{
    int max_len = kp_grammar_max_length(g);
    int hi = max_len < 12 ? max_len : 12;
    if (kp_grammar_random_expr(&pr->ind.e, g, 1, hi, rng, NULL) != KP_OK)
        kp_grammar_random_expr(&pr->ind.e, g, 1, max_len, rng, NULL);
    kp_expr_t raw = pr->ind.e;
    kp_expr_simplify(&pr->ind.e);
    if (kp_grammar_check_expr(g, &pr->ind.e, NULL) != KP_OK)
        pr->ind.e = raw;
}

static void generation(cs_island_t *isl, const cs_ctx_t *c)
{
    int P = c->prm->population, made = 0;
    for (int k = 0; k < P; k++) {
        cs_prog_t *child = &isl->pop[isl->n + made];
        int a = tournament(isl->pop, isl->n, c->prm->tournament, &isl->rng);
        int rc;
        if (kp_rng_uniform(&isl->rng) < c->gp.p_crossover) {
            int b = tournament(isl->pop, isl->n, c->prm->tournament,
                               &isl->rng);
            rc = kp_gp_crossover(&child->ind.e, &isl->pop[a].ind.e,
                                 &isl->pop[b].ind.e, c->g, &isl->rng);
        } else {
            rc = kp_gp_mutate(&child->ind.e, &isl->pop[a].ind.e, -1, c->g,
                              &c->gp, &isl->rng);
        }
        if (rc != KP_OK)
            continue;
        score_prog(child, isl, c);
        made++;
    }
    isl->n = truncate_pop(isl->pop, isl->tmp, isl->n + made, P);
}

/* Fisher-Yates shuffle of a[0..n-1]. */
static void shuffle(uint32_t *a, size_t n, kp_rng_t *rng)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)kp_rng_below(rng, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* One ruin-and-recreate move on ls (a state of island isl). */
static void local_move(cs_island_t *isl, cs_local_t *ls, const cs_ctx_t *c)
{
    size_t len = c->len, k = 0, m = 0;
    uint32_t *mem = isl->list, *rest = isl->order;
    for (size_t e = 0; e < len; e++) {
        if (ls->cur[e])
            mem[k++] = (uint32_t)e;
        else
            rest[m++] = (uint32_t)e;
    }
    size_t r = 1 + (size_t)kp_rng_below(&isl->rng, 3);
    if (r > k)
        r = k;
    /* Move r random members to the end of mem (partial shuffle). */
    for (size_t i = 0; i < r; i++) {
        size_t j = (size_t)kp_rng_below(&isl->rng, k - i);
        uint32_t t = mem[k - 1 - i];
        mem[k - 1 - i] = mem[j];
        mem[j] = t;
    }
    shuffle(rest, m, &isl->rng);
    /* Order: kept members, the other elements at random, the removed ones
       last (they come back only if nothing else took their place). */
    memcpy(mem + k, rest, sizeof *rest * m);
    uint32_t *removed = isl->order;
    memcpy(removed, mem + k - r, sizeof *mem * r);
    memmove(mem + k - r, mem + k, sizeof *mem * m);
    memcpy(mem + k - r + m, removed, sizeof *mem * r);
    c->p->construct(isl->x, mem, c->n, isl->ws);
    kp_score_t s;
    c->p->score(&s, isl->x, c->n, isl->ws);
    isl->evals++;
    double v = isnan(s.value) ? -INFINITY : s.value;
    int accept = v >= ls->cur_score ||
                 (v >= ls->cur_score - 1 &&
                  kp_rng_uniform(&isl->rng) < 0.02);
    if (accept) {
        memcpy(ls->cur, isl->x, len);
        ls->cur_score = v;
    }
    island_offer(isl, isl->x, v, len);
    if (v > ls->best_score) {
        memcpy(ls->best, isl->x, len);
        ls->best_score = v;
        ls->stagnant = 0;
    } else if (++ls->stagnant > CS_RESTART) {
        memcpy(ls->cur, ls->best, len);
        ls->cur_score = ls->best_score;
        ls->stagnant = 0;
    }
}

/* (Re)starts ls at ls->cur, whose score is v. */
static void local_reset(cs_local_t *ls, double v, size_t len)
{
    ls->cur_score = isnan(v) ? -INFINITY : v;
    ls->have_cur = 1;
    ls->stagnant = 0;
    memcpy(ls->best, ls->cur, len);
    ls->best_score = ls->cur_score;
}

/* Starts ls from the greedy object of a random order. */
static void local_start_random(cs_island_t *isl, cs_local_t *ls,
                               const cs_ctx_t *c)
{
    for (size_t e = 0; e < c->len; e++)
        isl->list[e] = (uint32_t)e;
    shuffle(isl->list, c->len, &isl->rng);
    c->p->construct(ls->cur, isl->list, c->n, isl->ws);
    kp_score_t s;
    c->p->score(&s, ls->cur, c->n, isl->ws);
    isl->evals++;
    local_reset(ls, s.value, c->len);
    island_offer(isl, ls->cur, ls->cur_score, c->len);
}

static void island_round(cs_island_t *isl, const cs_ctx_t *c, int round)
{
    const kp_cs_params_t *prm = c->prm;
    if (uses_sym(c->p, prm)) {
        if (isl->sym_turn == 0)
            sym_start(isl, c);
        sym_round(isl, c);
        if (prm->method == KP_CS_SYMMETRIC)
            return;
    }
    if (prm->method == KP_CS_PROGRAM) {
        if (round == 0) {
            for (int k = 0; k < prm->population; k++) {
                random_prog(&isl->pop[k], c->g, &isl->rng);
                score_prog(&isl->pop[k], isl, c);
            }
            isl->n = truncate_pop(isl->pop, isl->tmp, prm->population,
                                  prm->population);
        }
        for (int gen = 0; gen < prm->generations; gen++)
            generation(isl, c);
        /* Polish: a second trajectory restarts from the best program's
           object whenever programs improve, and runs for a while. It is
           kept apart from the island's own local search, which starts from
           random greedy objects: a program's object is often a deep local
           optimum, a poor place for a long search. */
        if (prm->local_moves > 0 && isl->n > 0 &&
            isl->pop[0].score > isl->polished) {
            kp_score_t s;
            if (kp_cs_build(isl->ps.cur, &s, &isl->pop[0].ind.e, c->p, c->n,
                            c->cols, isl->prio, isl->order, isl->keys,
                            isl->ws) == KP_OK) {
                local_reset(&isl->ps, s.value, c->len);
                isl->polished = isl->pop[0].score;
                isl->ps_left = 20L * prm->local_moves;
            }
        }
        for (int k = 0; k < prm->local_moves / 2 && isl->ps_left > 0; k++) {
            local_move(isl, &isl->ps, c);
            isl->ps_left--;
        }
    }
    if (prm->local_moves > 0 && !isl->ls.have_cur)
        local_start_random(isl, &isl->ls, c);
    for (int k = 0; k < prm->local_moves; k++)
        local_move(isl, &isl->ls, c);
}

static void island_free(cs_island_t *isl)
{
    free(isl->pop);
    free(isl->tmp);
    free(isl->cache);
    free(isl->prio);
    free(isl->order);
    free(isl->keys);
    free(isl->list);
    free(isl->ws);
    free(isl->x);
    free(isl->ls.cur);
    free(isl->ls.best);
    free(isl->ps.cur);
    free(isl->ps.best);
    free(isl->best);
    if (isl->have_sym)
        kp_sym_clear(&isl->sym);
}

static int island_alloc(cs_island_t *isl, const cs_ctx_t *c)
{
    size_t len = c->len, P = (size_t)c->prm->population;
    size_t wsz = c->p->ws_size ? c->p->ws_size(c->n) : 0;
    wsz = (wsz + 63) / 64 * 64 + 64;
    isl->ws = aligned_alloc(64, wsz);
    if (isl->ws)
        memset(isl->ws, 0, wsz);
    if (c->prm->method == KP_CS_PROGRAM) {
        isl->pop = calloc(2 * P, sizeof *isl->pop);
        isl->tmp = calloc(2 * P, sizeof *isl->tmp);
        isl->cache = calloc((size_t)1 << CS_CACHE_BITS, sizeof *isl->cache);
        if (!isl->pop || !isl->tmp || !isl->cache)
            return KP_ENOMEM;
    }
    isl->prio = malloc(sizeof(double) * len);
    isl->order = malloc(sizeof(uint32_t) * len);
    isl->keys = malloc(sizeof(uint64_t) * 2 * len);
    isl->list = malloc(sizeof(uint32_t) * len);
    isl->x = calloc(len, 1);
    isl->ls.cur = calloc(len, 1);
    isl->ls.best = calloc(len, 1);
    isl->ps.cur = calloc(len, 1);
    isl->ps.best = calloc(len, 1);
    isl->best = calloc(len, 1);
    isl->best_score = -INFINITY;
    isl->best_sym = -1;
    isl->ls.best_score = isl->ls.cur_score = -INFINITY;
    isl->ps.best_score = isl->ps.cur_score = -INFINITY;
    isl->polished = -INFINITY;
    if (!isl->ws || !isl->prio || !isl->order || !isl->keys || !isl->list ||
        !isl->x || !isl->ls.cur || !isl->ls.best || !isl->ps.cur ||
        !isl->ps.best || !isl->best)
        return KP_ENOMEM;
    return KP_OK;
}

/* Migration of the best programs: every island's best CS_MIGRANTS replace
   the worst of its successor in the round's topology, over the islands
   of all ranks (kp_mpi_migrate), from a snapshot. */
static void migrate(cs_island_t *isl, const kp_cs_params_t *prm, int round,
                    int nranks, long *bytes)
{
    int nisl = prm->islands;
    if (nisl * nranks < 2)
        return;
    size_t block = sizeof(cs_prog_t) * CS_MIGRANTS;
    cs_prog_t *snap = malloc(2 * block * (size_t)nisl);
    if (kp_mpi_any(snap == NULL)) {
        free(snap);
        return;
    }
    cs_prog_t *in = snap + (size_t)nisl * CS_MIGRANTS;
    for (int i = 0; i < nisl; i++)
        for (int k = 0; k < CS_MIGRANTS; k++)
            snap[i * CS_MIGRANTS + k] = isl[i].pop[k < isl[i].n ? k : 0];
    if (kp_mpi_migrate(in, snap, block, nisl, prm->topology, prm->seed,
                       (uint64_t)round, bytes) == 0)
        for (int j = 0; j < nisl; j++) {
            cs_island_t *dst = &isl[j];
            for (int k = 0; k < CS_MIGRANTS && k < dst->n; k++)
                dst->pop[dst->n - 1 - k] = in[j * CS_MIGRANTS + k];
            qsort(dst->pop, (size_t)dst->n, sizeof *dst->pop, cmp_prog);
        }
    free(snap);
}

/* 1 when the run is over: target reached or a budget spent. */
static int cs_budget_spent(const kp_cs_result_t *r, const kp_cs_params_t *prm)
{
    return r->reached || (prm->max_rounds > 0 && r->rounds >= prm->max_rounds) ||
           (prm->max_evals > 0 && r->evaluations >= prm->max_evals) ||
           (prm->time_limit > 0 && r->seconds >= prm->time_limit);
}

static int check_params(const kp_problem_t *p, int n, const kp_grammar_t *g,
                        const kp_cs_params_t *prm, kp_error_t *err)
{
    if (n < p->n_min || n > p->n_max)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "--n %d is out of range %d..%d for '%s'", n,
                            p->n_min, p->n_max, p->name);
    if (p->construct == NULL)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "problem '%s' has no greedy construction: "
                            "methods program and local need one", p->name);
    if (prm->method == KP_CS_PROGRAM && (p->features == NULL || g == NULL))
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "problem '%s' has no features: method program "
                            "needs them", p->name);
    if (prm->method == KP_CS_SYMMETRIC && !uses_sym(p, prm))
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "problem '%s' has no symmetries: method "
                            "symmetric needs them", p->name);
    if (prm->islands < 1 || prm->population < 4 || prm->generations < 1 ||
        prm->tournament < 1 || prm->local_moves < 0 || prm->sym_moves < 0 ||
        prm->method < KP_CS_PROGRAM || prm->method > KP_CS_SYMMETRIC ||
        (prm->method == KP_CS_LOCAL && prm->local_moves < 1))
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "invalid search parameters");
    return KP_OK;
}

int kp_cs_run(kp_cs_result_t *r, const kp_problem_t *p, int n,
              const kp_grammar_t *g, const kp_cs_params_t *prm,
              kp_error_t *err)
{
    int rc = check_params(p, n, g, prm, err);
    if (rc != KP_OK)
        return rc;
    double t0 = now_seconds();
    int nthreads = prm->threads > 0 ? prm->threads : omp_get_max_threads();
    cs_ctx_t c = {p, n, p->length(n), g, NULL, {0}, prm};
    kp_gp_params_default(&c.gp);
    int nf = prm->method == KP_CS_PROGRAM ? p->nfeatures(n) : 0;
    double *colmem = NULL;
    double **cols = calloc((size_t)(nf ? nf : 1), sizeof *cols);
    cs_island_t *isl = calloc((size_t)prm->islands, sizeof *isl);
    if (nf > 0)
        colmem = malloc(sizeof(double) * (size_t)nf * c.len);
    /* Agreed, so that no rank is left waiting in a collective. */
    if (kp_mpi_any(cols == NULL || isl == NULL ||
                   (nf > 0 && colmem == NULL))) {
        rc = kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    for (int f = 0; f < nf; f++)
        cols[f] = colmem + (size_t)f * c.len;
    if (nf > 0)
        p->features(cols, n);
    c.cols = (const double *const *)cols;
    kp_rng_t master;
    kp_rng_init(&master, prm->seed);
    /* Islands are numbered over all ranks and keyed by that number, so K
       ranks of I islands run the islands of one process with K x I. */
    kpi_cs_run_t run = {&c, isl, r, kp_mpi_rank(), kp_mpi_size(), nf, 0, 0};
    r->rank = run.rank;
    r->nranks = run.nranks;
    for (int i = 0; i < prm->islands && rc == KP_OK; i++) {
        if (island_alloc(&isl[i], &c) != KP_OK)
            rc = kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        uint64_t gi = (uint64_t)run.rank * (uint64_t)prm->islands + (uint64_t)i;
        kp_rng_split(&isl[i].rng, &master, 1000 + gi);
        isl[i].index = (int)gi;
        isl[i].nglobal = prm->islands * run.nranks;
    }
    if ((rc = kp_mpi_agree(rc, err)) != KP_OK)
        goto done;
    if (prm->checkpoint != NULL || prm->resume != NULL)
        kpi_cs_fingerprints(&run);
    if (prm->resume != NULL) {
        if ((rc = kpi_cs_load(&run, prm->resume, err)) != KP_OK) {
            r->rounds = 0; /* nothing of a refused checkpoint is a result */
            r->have = r->have_program = 0;
            goto done;
        }
        r->resumed_rounds = r->rounds;
        r->reached = !isnan(prm->target) && r->have &&
                     r->score.value >= prm->target;
        t0 -= r->seconds;
    }
    double last_ck = -INFINITY;
    int done = prm->resume != NULL && cs_budget_spent(r, prm);

    for (int round = r->rounds; !done; round++) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
        for (int i = 0; i < prm->islands; i++)
            island_round(&isl[i], &c, round);

        kpi_cs_prev_t prev = {r->have, r->have_program, r->score.value,
                              r->program_score, r->sym_group};
        long ev = 0;
        for (int i = 0; i < prm->islands; i++) {
            ev += isl[i].evals;
            isl[i].evals = 0;
            if (isl[i].have_best &&
                (!r->have || isl[i].best_score > r->score.value)) {
                memcpy(r->best, isl[i].best, c.len);
                r->score.value = isl[i].best_score;
                r->sym_group = isl[i].best_sym;
                r->have = 1;
            }
            if (prm->method == KP_CS_PROGRAM && isl[i].n > 0 &&
                (!r->have_program ||
                 isl[i].pop[0].score > r->program_score)) {
                r->program = isl[i].pop[0].ind.e;
                r->program_score = isl[i].pop[0].score;
                r->have_program = 1;
            }
        }
        kpi_cs_combine(&run, &prev, ev);
        if (prm->method == KP_CS_PROGRAM)
            migrate(isl, prm, round, run.nranks, &r->migrated_bytes);
        r->rounds = round + 1;
        double seconds = now_seconds() - t0;
        /* Stopping and checkpointing are decided by all ranks together;
           the checkpoint clock is rank 0's. */
        int flags[2] = {prm->stop && *prm->stop,
                        run.rank == 0 && prm->checkpoint != NULL &&
                            (prm->checkpoint_every <= 0 ||
                             seconds - last_ck >= prm->checkpoint_every)};
        kp_mpi_max_double(&seconds, 1);
        kp_mpi_max_int(flags, 2);
        r->seconds = seconds;
        if (prm->progress) {
            kp_cs_progress_t pr = {round + 1, r->seconds, r->evaluations,
                                   r->seconds > 0
                                       ? r->evaluations / r->seconds
                                       : 0,
                                   r->score.value};
            prm->progress(&pr, prm->progress_ctx);
        }
        r->reached = !isnan(prm->target) && r->have &&
                     r->score.value >= prm->target;
        if (flags[0] && !r->reached)
            r->interrupted = 1;
        done = flags[0] || cs_budget_spent(r, prm);
        if (prm->checkpoint != NULL && (done || flags[1])) {
            if ((rc = kpi_cs_save(&run, prm->checkpoint, err)) != KP_OK)
                break;
            r->checkpoints++;
            last_ck = seconds;
        }
    }
    if (r->have) { /* the exact score, from the problem */
        void *ws = NULL;
        size_t wsz = p->ws_size ? p->ws_size(n) : 0;
        wsz = (wsz + 63) / 64 * 64 + 64;
        ws = aligned_alloc(64, wsz);
        if (ws == NULL) {
            rc = kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
            goto done;
        }
        memset(ws, 0, wsz);
        p->score(&r->score, r->best, n, ws);
        free(ws);
    }
    r->seconds = now_seconds() - t0;
done:
    for (int i = 0; isl && i < prm->islands; i++)
        island_free(&isl[i]);
    free(isl);
    free(cols);
    free(colmem);
    return rc;
}
