/* kp_sr.c: the symbolic-regression driver (see kp_sr.h for the round
   structure and the determinism argument).

   Each island owns its population, its RNG stream, a fitness cache and a
   constant-optimisation workspace; an OpenMP loop over islands therefore
   shares nothing but read-only data. Policy samples are scored in an OpenMP
   loop where sample i uses its own RNG stream (round, i). Everything that
   combines islands (migration, archive merging, policy training, seeding)
   runs on one thread in index order. */
#define _GNU_SOURCE /* qsort_r */
#include "config.h"
#include "kp_sr.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "kp_ckpt.h"
#include "kp_constopt.h"
#include "kp_eval.h"
#include "kp_gp.h"
#include "kp_mpi.h"
#include "kp_policy.h"
#include "kp_propose.h"
#include "kp_units.h"

#define SR_CACHE_BITS 14
#define SR_CACHE_FREE 8 /* free constants a cache entry can hold */

/* Fitness cache entry: tuned free constants and loss of one shape. */
typedef struct {
    uint64_t hash;
    double loss;
    int nfree;
    double c[SR_CACHE_FREE];
} sr_cache_entry_t;

typedef struct {
    kp_indiv_t *pop;  /* population, then room for as many children */
    int n;
    kp_rng_t rng;
    sr_cache_entry_t *cache;
    kp_constopt_ws_t ws;
    kp_pareto_t archive;
    long evals;
    long rows;
} sr_island_t;

/* Read-only view of the data and the rows that fitness uses this round. */
typedef struct {
    const kp_grammar_t *g;
    const double *const *cols;
    const double *y;
    const size_t *idx; /* NULL: all rows */
    size_t n;
    double var_y;      /* variance of y on those rows (normaliser) */
    kp_constopt_params_t co;    /* for evolved children: they inherit tuned
                                   constants, so one LM start suffices */
    kp_constopt_params_t co_new; /* for fresh expressions (policy samples,
                                   random individuals): constants start at
                                   1.0, so LM gets random restarts */
    const kp_dim_t *unit_vars;   /* dimensions of the inputs, or NULL */
    const kp_dim_t *unit_target;
} sr_fitness_t;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void kp_sr_params_default(kp_sr_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->engine = KP_SR_HYBRID;
    p->islands = 4;
    p->population = 128;
    p->generations = 4;
    p->policy_batch = 256;
    p->policy_hidden = 32;
    p->policy_epsilon = 0.05;
    p->policy_elites = 16;
    p->migrants = 4;
    p->batch_rows = 2000;
    p->max_complexity = 40;
    p->exact_loss = 1e-20;
    p->propose = 1;
}

int kp_sr_result_init(kp_sr_result_t *r, int max_complexity)
{
    memset(r, 0, sizeof *r);
    return kp_pareto_init(&r->archive, max_complexity);
}

void kp_sr_result_clear(kp_sr_result_t *r)
{
    kp_pareto_clear(&r->archive);
}

static double variance(const double *y, const size_t *idx, size_t n)
{
    double mean = 0, ss = 0;
    for (size_t j = 0; j < n; j++)
        mean += y[idx ? idx[j] : j];
    mean /= (double)(n ? n : 1);
    for (size_t j = 0; j < n; j++) {
        double d = y[idx ? idx[j] : j] - mean;
        ss += d * d;
    }
    ss /= (double)(n ? n : 1);
    /* A constant target still needs a positive scale for relative losses. */
    return ss > 0 ? ss : (mean != 0 ? mean * mean : 1.0);
}

/* Writes the free constants of e into c (at most SR_CACHE_FREE). */
static int get_free(const kp_expr_t *e, double *c)
{
    int k = 0;
    for (int i = 0; i < e->nconst; i++)
        if (e->c[i].den == 0) {
            if (k == SR_CACHE_FREE)
                return -1;
            c[k++] = e->c[i].value;
        }
    return k;
}

static void set_free(kp_expr_t *e, const double *c)
{
    int k = 0;
    for (int i = 0; i < e->nconst; i++)
        if (e->c[i].den == 0)
            e->c[i].value = c[k++];
}

/* Scores ind in place: tunes its free constants (or takes them from the
   cache), sets loss (normalised MSE), complexity and hash. */
static void score(kp_indiv_t *ind, const sr_fitness_t *f, int fresh,
                  sr_cache_entry_t *cache, kp_constopt_ws_t *ws,
                  kp_rng_t *rng, long *evals, long *rows)
{
    ind->hash = kp_expr_hash(&ind->e);
    ind->complexity = kp_grammar_complexity(f->g, &ind->e);
    if (f->unit_vars != NULL &&
        !kp_units_consistent(&ind->e, f->unit_vars, f->unit_target)) {
        ind->loss = INFINITY; /* pruned: not worth a constant fit */
        return;
    }
    sr_cache_entry_t *ce = NULL;
    if (cache != NULL) {
        ce = &cache[ind->hash & ((1u << SR_CACHE_BITS) - 1)];
        if (ce->hash == ind->hash && ce->nfree == kp_expr_nfree(&ind->e)) {
            set_free(&ind->e, ce->c);
            ind->loss = ce->loss;
            return;
        }
    }
    double mse = INFINITY;
    long passes0 = ws->node_rows;
    if (kp_constopt_fit_ws(ws, &ind->e, f->cols, f->y, f->idx, f->n,
                           fresh ? &f->co_new : &f->co, rng, &mse,
                           NULL) != KP_OK)
        mse = INFINITY;
    ind->loss = isfinite(mse) ? mse / f->var_y : INFINITY;
    *evals += 1;
    /* node x row evaluations of every pass, LM iterations included */
    *rows += ws->node_rows > passes0 ? ws->node_rows - passes0
                                     : (long)f->n * ind->e.len;
    if (ce != NULL) {
        double c[SR_CACHE_FREE];
        int k = get_free(&ind->e, c);
        if (k >= 0) {
            ce->hash = ind->hash;
            ce->loss = ind->loss;
            ce->nfree = k;
            memcpy(ce->c, c, sizeof c);
        }
    }
}

static double select_score(const kp_indiv_t *a, double parsimony)
{
    return log(a->loss + 1e-30) + parsimony * a->complexity;
}

/* Orders individuals by selection score, then hash, for a deterministic
   (mu + lambda) truncation; ctx points at the parsimony coefficient. */
static int cmp_indiv(const void *pa, const void *pb, void *ctx)
{
    const kp_indiv_t *a = pa, *b = pb;
    double parsimony = *(const double *)ctx;
    double sa = isfinite(a->loss) ? select_score(a, parsimony) : INFINITY;
    double sb = isfinite(b->loss) ? select_score(b, parsimony) : INFINITY;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    return a->hash < b->hash ? -1 : a->hash > b->hash;
}

/* Sorts pop[0..n-1] best first and removes duplicates (same hash), keeping
   at most keep; returns the number kept. qsort is not stable, but the
   comparison is a total order on distinct hashes, so the result is
   deterministic. */
static int truncate_population(kp_indiv_t *pop, int n, int keep,
                               double parsimony)
{
    qsort_r(pop, (size_t)n, sizeof *pop, cmp_indiv, &parsimony);
    int m = 0;
    for (int i = 0; i < n && m < keep; i++) {
        int dup = 0;
        for (int k = 0; k < m && !dup; k++)
            dup = pop[k].hash == pop[i].hash;
        if (dup)
            continue;
        if (m != i)
            pop[m] = pop[i];
        m++;
    }
    return m;
}

static void island_archive(sr_island_t *isl, const kp_indiv_t *ind)
{
    kp_pareto_insert(&isl->archive, &ind->e, ind->complexity, ind->loss);
}

/* One generation: population children by variation, scored, then the best
   distinct `population` of parents and children survive. */
static void island_generation(sr_island_t *isl, int population,
                              const sr_fitness_t *f, const kp_gp_params_t *gp)
{
    int made = 0;
    for (int k = 0; k < population; k++) {
        kp_indiv_t *child = &isl->pop[isl->n + made];
        if (kp_gp_offspring(&child->e, isl->pop, isl->n, f->g, gp, &isl->rng) !=
            KP_OK)
            continue;
        score(child, f, 0, isl->cache, &isl->ws, &isl->rng, &isl->evals,
              &isl->rows);
        island_archive(isl, child);
        made++;
    }
    isl->n = truncate_population(isl->pop, isl->n + made, population,
                                 gp->parsimony);
}

static void random_individual(kp_indiv_t *ind, const kp_grammar_t *g,
                              kp_rng_t *rng)
{
    int max_len = kp_grammar_max_length(g);
    int hi = max_len < 15 ? max_len : 15;
    if (kp_grammar_random_expr(&ind->e, g, 1, hi, rng, NULL) != KP_OK)
        kp_grammar_random_expr(&ind->e, g, 1, max_len, rng, NULL);
    kp_expr_simplify(&ind->e);
    if (kp_grammar_check_expr(g, &ind->e, NULL) != KP_OK)
        kp_grammar_random_expr(&ind->e, g, 1, hi, rng, NULL);
}

/* Draws the fitness rows of a round: all rows when they fit the batch. */
static void draw_batch(size_t *idx, size_t batch, size_t nrows, kp_rng_t *rng)
{
    /* Floyd's algorithm would avoid repeats; a sorted sample with repeats
       allowed is enough for a loss estimate and keeps memory access
       monotone. */
    for (size_t j = 0; j < batch; j++)
        idx[j] = (size_t)kp_rng_below(rng, nrows);
    for (size_t j = 1; j < batch; j++) { /* insertion sort is fine: batches */
        size_t v = idx[j], k = j;        /* are small and nearly random   */
        while (k > 0 && idx[k - 1] > v) {
            idx[k] = idx[k - 1];
            k--;
        }
        idx[k] = v;
    }
}

typedef struct {
    kp_policy_t pol;
    kp_policy_train_params_t tp;
    int maxlen;
    int nseq;     /* capacity in sequences (batch + elites) */
    int *syms;
    int *lens;
    double *rewards;
    kp_indiv_t *samples;
} sr_policy_t;

static int policy_init(sr_policy_t *sp, const kp_grammar_t *g,
                       const kp_sr_params_t *p, kp_rng_t *rng,
                       kp_error_t *err)
{
    kp_policy_params_t pp;
    memset(sp, 0, sizeof *sp);
    kp_policy_params_default(&pp);
    pp.hidden = p->policy_hidden;
    pp.min_len = 4; /* DSR's length prior: single-token formulas waste
                       samples (evolution covers the trivial ones) */
    int rc = kp_policy_init(&sp->pol, g, &pp, rng, err);
    if (rc != KP_OK)
        return rc;
    kp_policy_train_params_default(&sp->tp);
    sp->tp.epsilon = p->policy_epsilon;
    sp->maxlen = kp_policy_max_len(&sp->pol);
    sp->nseq = p->policy_batch + p->policy_elites;
    sp->syms = calloc((size_t)sp->nseq * (size_t)sp->maxlen, sizeof(int));
    sp->lens = malloc(sizeof(int) * (size_t)sp->nseq);
    sp->rewards = malloc(sizeof(double) * (size_t)sp->nseq);
    sp->samples = malloc(sizeof(kp_indiv_t) * (size_t)sp->nseq);
    if (!sp->syms || !sp->lens || !sp->rewards || !sp->samples)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    return KP_OK;
}

static void policy_clear(sr_policy_t *sp)
{
    kp_policy_clear(&sp->pol);
    free(sp->syms);
    free(sp->lens);
    free(sp->rewards);
    free(sp->samples);
}

/* DSR's reward: 1 / (1 + normalised RMSE); undefined expressions get 0. */
static double reward_of(double nmse)
{
    return isfinite(nmse) ? 1.0 / (1.0 + sqrt(nmse)) : 0.0;
}

/* ---- Ranks --------------------------------------------------------------

   The exchanges between ranks go through kp_mpi; with one rank (or no
   MPI) every one of them is the identity, and the driver does exactly
   what a single process does. */

typedef struct {
    int rank, size;
} sr_comm_t;

typedef struct {
    sr_island_t *isl;
    int nisl;
    sr_policy_t sp;
    int have_policy;
    kp_constopt_ws_t *tws; /* per-thread workspaces for policy samples */
    int nthreads;
    size_t *batch_idx;
} sr_state_t;

static int state_init(sr_state_t *st, const kp_grammar_t *g,
                      const kp_sr_params_t *p, int nthreads, int rank,
                      kp_rng_t *master,
                      kp_error_t *err)
{
    memset(st, 0, sizeof *st);
    st->nisl = p->engine == KP_SR_POLICY ? 0 : p->islands;
    st->nthreads = nthreads;
    st->isl = calloc((size_t)(st->nisl ? st->nisl : 1), sizeof *st->isl);
    st->tws = calloc((size_t)nthreads, sizeof *st->tws);
    if (st->isl == NULL || st->tws == NULL)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    for (int t = 0; t < nthreads; t++)
        if (kp_constopt_ws_init(&st->tws[t], 0, 0, err) != KP_OK)
            return KP_ENOMEM;
    for (int i = 0; i < st->nisl; i++) {
        sr_island_t *isl = &st->isl[i];
        isl->pop = calloc(2 * (size_t)p->population + (size_t)p->policy_batch,
                          sizeof *isl->pop);
        isl->cache = calloc((size_t)1 << SR_CACHE_BITS, sizeof *isl->cache);
        if (isl->pop == NULL || isl->cache == NULL ||
            kp_pareto_init(&isl->archive, p->max_complexity) != KP_OK ||
            kp_constopt_ws_init(&isl->ws, 0, 0, err) != KP_OK)
            return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        /* Keyed by the global island index, so rank 0 of any run and a
           run without ranks start alike. */
        kp_rng_split(&isl->rng, master,
                     1000 + (uint64_t)rank * (uint64_t)st->nisl + (uint64_t)i);
    }
    if (p->engine != KP_SR_EVOLVE) {
        kp_rng_t prng;
        kp_rng_split(&prng, master, 7);
        int rc = policy_init(&st->sp, g, p, &prng, err);
        if (rc != KP_OK)
            return rc;
        st->have_policy = 1;
    }
    return KP_OK;
}

static void state_clear(sr_state_t *st)
{
    for (int i = 0; i < st->nisl && st->isl; i++) {
        free(st->isl[i].pop);
        free(st->isl[i].cache);
        kp_pareto_clear(&st->isl[i].archive);
        kp_constopt_ws_clear(&st->isl[i].ws);
    }
    free(st->isl);
    for (int t = 0; t < st->nthreads && st->tws; t++)
        kp_constopt_ws_clear(&st->tws[t]);
    free(st->tws);
    if (st->have_policy)
        policy_clear(&st->sp);
    free(st->batch_idx);
}

/* Samples the policy, scores the samples in parallel (sample i draws its LM
   restarts from stream (round, i)), and returns how many were made. */
static int policy_round(sr_state_t *st, const sr_fitness_t *f,
                        const kp_sr_params_t *p, int round, int rank,
                        const kp_rng_t *master, long *evals, long *rows)
{
    sr_policy_t *sp = &st->sp;
    kp_rng_t srng;
    kp_rng_split(&srng, master, 0x5000000ULL + (uint64_t)round);
    if (rank > 0) /* other ranks draw other samples from the same policy */
        kp_rng_split(&srng, &srng, (uint64_t)rank);
    int n = p->policy_batch;
    kp_expr_t *ex = malloc(sizeof *ex * (size_t)n);
    if (ex == NULL)
        return 0;
    if (kp_policy_sample(&sp->pol, f->g, ex, sp->syms, sp->lens, n, &srng,
                         NULL) != KP_OK) {
        free(ex);
        return 0;
    }
    long ev = 0, rw = 0;
#pragma omp parallel for schedule(dynamic, 4) reduction(+ : ev, rw) \
    num_threads(st->nthreads)
    for (int i = 0; i < n; i++) {
        kp_rng_t r;
        kp_rng_split(&r, master, ((uint64_t)round << 20) + (uint64_t)i);
        if (rank > 0)
            kp_rng_split(&r, &r, 0x70000000ULL + (uint64_t)rank);
        kp_indiv_t *s = &sp->samples[i];
        s->e = ex[i];
        kp_expr_simplify(&s->e);
        if (kp_grammar_check_expr(f->g, &s->e, NULL) != KP_OK)
            s->e = ex[i]; /* simplification left the grammar: score as is */
        score(s, f, 1, NULL, &st->tws[omp_get_thread_num()], &r, &ev, &rw);
    }
    *evals += ev;
    *rows += rw;
    free(ex);
    return n;
}

/* Trains the policy on its samples plus the elites of the islands; with
   several ranks, on those of every rank, in rank order, so the policies of
   all ranks take the same step and stay identical. */
static void policy_train(sr_state_t *st, const kp_grammar_t *g,
                         const kp_sr_params_t *p, int nsamples,
                         const sr_comm_t *comm, long *bytes)
{
    sr_policy_t *sp = &st->sp;
    int n = nsamples;
    for (int i = 0; i < nsamples; i++)
        sp->rewards[i] = reward_of(sp->samples[i].loss);
    /* Elites: the best of each island in turn, round robin. */
    for (int k = 0; k < p->policy_elites && st->nisl > 0; k++) {
        sr_island_t *isl = &st->isl[k % st->nisl];
        int rank = k / st->nisl;
        if (rank >= isl->n || !isfinite(isl->pop[rank].loss))
            continue;
        const kp_expr_t *e = &isl->pop[rank].e;
        if (e->len > sp->maxlen)
            continue;
        int sym[KP_EXPR_MAX_LEN];
        if (kp_grammar_expr_symbols(g, e, sym) != 0)
            continue;
        memcpy(sp->syms + (size_t)n * (size_t)sp->maxlen, sym,
               sizeof(int) * (size_t)e->len);
        sp->lens[n] = e->len;
        sp->rewards[n] = reward_of(isl->pop[rank].loss);
        n++;
    }
    if (comm->size > 1) {
        /* One record per sequence: maxlen symbols, the length, the reward
           (raw bytes: ranks are homogeneous). */
        int L = sp->maxlen;
        size_t rec = sizeof(int) * (size_t)(L + 1) + sizeof(double);
        unsigned char *mine = malloc(rec * (size_t)n + 1), *all = NULL;
        for (int i = 0; mine != NULL && i < n; i++) {
            unsigned char *q = mine + rec * (size_t)i;
            memcpy(q, sp->syms + (size_t)i * (size_t)L, sizeof(int) * (size_t)L);
            memcpy(q + sizeof(int) * (size_t)L, &sp->lens[i], sizeof(int));
            memcpy(q + sizeof(int) * (size_t)(L + 1), &sp->rewards[i],
                   sizeof(double));
        }
        size_t total = 0;
        /* A rank short of memory contributes nothing; if the gather itself
           fails, every rank trains on its own batch and the policies drift
           apart, which costs quality, not correctness. */
        int got = kp_mpi_allgather(mine, mine ? rec * (size_t)n : 0, &all,
                                   &total, NULL);
        *bytes += (long)(rec * (size_t)n) * (comm->size - 1);
        int m = (int)(total / rec);
        int *asyms = got == 0 ? malloc(sizeof(int) * ((size_t)m * L + 1)) : NULL;
        int *alens = got == 0 ? malloc(sizeof(int) * ((size_t)m + 1)) : NULL;
        double *arew = got == 0 ? malloc(sizeof(double) * ((size_t)m + 1)) : NULL;
        if (asyms && alens && arew) {
            for (int i = 0; i < m; i++) {
                const unsigned char *q = all + rec * (size_t)i;
                memcpy(asyms + (size_t)i * L, q, sizeof(int) * (size_t)L);
                memcpy(&alens[i], q + sizeof(int) * (size_t)L, sizeof(int));
                memcpy(&arew[i], q + sizeof(int) * (size_t)(L + 1),
                       sizeof(double));
            }
            kp_policy_train(&sp->pol, g, asyms, alens, arew, m, &sp->tp, NULL);
        } else {
            kp_policy_train(&sp->pol, g, sp->syms, sp->lens, sp->rewards, n,
                            &sp->tp, NULL);
        }
        free(asyms);
        free(alens);
        free(arew);
        free(all);
        free(mine);
        return;
    }
    kp_policy_train(&sp->pol, g, sp->syms, sp->lens, sp->rewards, n, &sp->tp,
                    NULL);
}

/* Puts the best policy samples into the islands in place of their worst
   members (the populations are sorted best first). */
static void seed_islands(sr_state_t *st, int nsamples, const kp_sr_params_t *p)
{
    if (st->nisl == 0)
        return;
    int per = p->population / 4;
    int *order = malloc(sizeof(int) * (size_t)nsamples);
    if (order == NULL)
        return;
    int m = 0;
    for (int i = 0; i < nsamples; i++)
        if (isfinite(st->sp.samples[i].loss))
            order[m++] = i;
    /* Best samples first (selection sort over a few hundred is cheap and
       keeps ties in sample order). */
    for (int a = 0; a < m && a < per * st->nisl; a++) {
        int best = a;
        for (int b = a + 1; b < m; b++)
            if (st->sp.samples[order[b]].loss < st->sp.samples[order[best]].loss)
                best = b;
        int t = order[a];
        order[a] = order[best];
        order[best] = t;
    }
    for (int a = 0; a < m && a < per * st->nisl; a++) {
        sr_island_t *isl = &st->isl[a % st->nisl];
        int slot = isl->n - 1 - a / st->nisl;
        if (slot < 0)
            continue;
        isl->pop[slot] = st->sp.samples[order[a]];
    }
    free(order);
}

/* Migration: the best `migrants` of every island replace the worst of
   its successor in the round's topology (kp_mpi.h), computed from a
   snapshot so the order does not matter. Islands are numbered globally
   over the ranks, so with several ranks the ring (or the random cycle)
   runs through all of them. */
static void migrate(sr_state_t *st, const kp_sr_params_t *p, int round,
                    const sr_comm_t *comm, long *bytes)
{
    int migrants = p->migrants;
    if (st->nisl < 1 || st->nisl * comm->size < 2 || migrants <= 0)
        return;
    size_t block = sizeof(kp_indiv_t) * (size_t)migrants;
    kp_indiv_t *snap = malloc(2 * block * (size_t)st->nisl);
    int bad = snap == NULL;
    if (kp_mpi_any(bad)) {
        free(snap);
        return;
    }
    kp_indiv_t *in = snap + (size_t)st->nisl * migrants;
    for (int i = 0; i < st->nisl; i++)
        for (int k = 0; k < migrants; k++)
            snap[i * migrants + k] = st->isl[i].pop[k < st->isl[i].n ? k : 0];
    if (kp_mpi_migrate(in, snap, block, st->nisl, p->topology, p->seed,
                       (uint64_t)round, bytes) != 0) {
        free(snap);
        return;
    }
    for (int j = 0; j < st->nisl; j++) {
        sr_island_t *dst = &st->isl[j];
        const kp_indiv_t *src = in + (size_t)j * migrants;
        for (int k = 0; k < migrants && k < dst->n; k++)
            dst->pop[dst->n - 1 - k] = src[k];
    }
    free(snap);
}

/* Mini-batch confirmation: a candidate found on the batch (loss
   batch_loss, normalised by the batch variance, hence the factor scale to
   the all-rows normaliser) is worth scoring on all rows unless the archive
   already holds it at its complexity, or holds a formula there whose
   all-rows loss is clearly below its batch estimate (batch losses scatter
   by a few percent on a 2000-row batch; 1.5x leaves room for that). The
   test reads only the archive as it was before the round's inserts, so the
   result does not depend on the order of evaluation. */
static int worth_confirming(const kp_pareto_t *a, const kp_expr_t *e, int c,
                            double batch_loss, double scale)
{
    if (!isfinite(batch_loss) || c < 1 || c > a->max_complexity)
        return 0;
    if (!a->used[c])
        return 1;
    if (kp_expr_equal(&a->slot[c].e, e))
        return 0;
    return batch_loss * scale <= 1.5 * a->slot[c].loss;
}

typedef struct {
    const kp_expr_t *e;
    int complexity;
    double loss; /* all rows, normalised */
} sr_confirm_t;

/* Scores the candidates of the round (island archives, then policy
   samples) that pass worth_confirming on all rows, in parallel, and
   inserts them into the global archive in index order. */
static void confirm_batch(kp_sr_result_t *r, sr_state_t *st, int nsamples,
                          const double *const *cols, const double *y,
                          size_t nrows, double var_all, double scale,
                          int nthreads)
{
    int cap = 0, n = 0;
    for (int i = 0; i < st->nisl; i++)
        cap += st->isl[i].archive.max_complexity;
    cap += nsamples;
    sr_confirm_t *cd = malloc(sizeof *cd * (size_t)(cap > 0 ? cap : 1));
    if (cd == NULL)
        return;
    for (int i = 0; i < st->nisl; i++) {
        const kp_pareto_t *src = &st->isl[i].archive;
        for (int c = 1; c <= src->max_complexity; c++)
            if (src->used[c] &&
                worth_confirming(&r->archive, &src->slot[c].e, c,
                                 src->slot[c].loss, scale))
                cd[n++] = (sr_confirm_t){&src->slot[c].e, c, INFINITY};
    }
    for (int i = 0; i < nsamples; i++) {
        const kp_indiv_t *smp = &st->sp.samples[i];
        if (worth_confirming(&r->archive, &smp->e, smp->complexity,
                             smp->loss, scale))
            cd[n++] = (sr_confirm_t){&smp->e, smp->complexity, INFINITY};
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (int k = 0; k < n; k++) {
        double mse = kp_eval_mse(cd[k].e, cols, y, nrows);
        cd[k].loss = isfinite(mse) ? mse / var_all : INFINITY;
    }
    for (int k = 0; k < n; k++)
        kp_pareto_insert(&r->archive, cd[k].e, cd[k].complexity, cd[k].loss);
    free(cd);
}

/* Asks the caller's verifier about archive entries whose loss is below
   exact_loss, simplest first, after snapping their constants; shapes
   already asked about (checked[0..*nchecked-1], by hash) are skipped.
   Returns 1 when one is proved exact (it is then in the archive). */
#define SR_MAX_CHECKED 256
static int try_exact(kp_sr_result_t *r, const kp_grammar_t *g,
                     const double *const *cols, const double *y, size_t nrows,
                     double var_all, const kp_sr_params_t *p,
                     uint64_t *checked, int *nchecked)
{
    for (int c = 1; c <= r->archive.max_complexity; c++) {
        const kp_pareto_entry_t *en = &r->archive.slot[c];
        if (!r->archive.used[c] || !(en->loss <= p->exact_loss))
            continue;
        int seen = 0;
        for (int k = 0; k < *nchecked && !seen; k++)
            seen = checked[k] == en->hash;
        if (seen)
            continue;
        if (*nchecked < SR_MAX_CHECKED)
            checked[(*nchecked)++] = en->hash;
        kp_expr_t cand = en->e;
        double mse = en->loss * var_all;
        kp_constopt_params_t sp;
        kp_constopt_params_default(&sp);
        sp.snap_aic = 1;
        kp_expr_t loose = cand;
        double lmse = mse;
        kp_constopt_snap(&cand, cols, y, NULL, nrows, 1e-6, &sp, &mse, NULL);
        if (p->is_exact(&cand, p->is_exact_ctx)) {
            kp_pareto_insert(&r->archive, &cand,
                             kp_grammar_complexity(g, &cand), mse / var_all);
            return 1;
        }
        /* Rounded data can make a fitted constant beat its exact value by
           more than any information criterion forgives; the verifier,
           not the loss, has the last word on exactness. */
        sp.snap_loose = 1e4;
        kp_constopt_snap(&loose, cols, y, NULL, nrows, 1e-6, &sp, &lmse, NULL);
        if (!kp_expr_equal(&loose, &cand) &&
            p->is_exact(&loose, p->is_exact_ctx)) {
            kp_pareto_insert(&r->archive, &loose,
                             kp_grammar_complexity(g, &loose), lmse / var_all);
            return 1;
        }
    }
    return 0;
}

/* ---- Checkpoints (format in kp_sr.h) ------------------------------------

   Payload, all integers little-endian, doubles as their IEEE bits:
     data and grammar fingerprints; the shaping parameters; rank, ranks;
     rounds, evaluations, rows, seconds, exact_found; the master stream;
     the verifier's checked hashes; the global archive; per island its
     stream, population, archive and used cache entries; the policy blob.
   The fixed header in front holds the magic, the version, the payload
   length and the XXH3 of the payload. */

#define SR_CK_VERSION 2u /* 2: the topology is a shaping parameter */

static void ck_put_pareto(kp_ck_wbuf_t *b, const kp_pareto_t *a)
{
    kp_ck_put_i32(b, a->max_complexity);
    for (int c = 1; c <= a->max_complexity; c++) {
        kp_ck_put_i32(b, a->used[c]);
        if (!a->used[c])
            continue;
        kp_ck_put_expr(b, &a->slot[c].e);
        kp_ck_put_i32(b, a->slot[c].complexity);
        kp_ck_put_f64(b, a->slot[c].loss);
        kp_ck_put_u64(b, a->slot[c].hash);
    }
}

/* Restores the archive slot by slot (not by insertion), so it is the saved
   one exactly; a must be initialised with the same max_complexity. */
static void ck_get_pareto(kp_ck_rbuf_t *r, kp_pareto_t *a)
{
    if (kp_ck_get_i32(r) != a->max_complexity) {
        r->bad = 1;
        return;
    }
    for (int c = 1; c <= a->max_complexity && !r->bad; c++) {
        a->used[c] = (uint8_t)kp_ck_get_range(r, 0, 1);
        if (!a->used[c])
            continue;
        kp_ck_get_expr(r, &a->slot[c].e);
        a->slot[c].complexity = kp_ck_get_i32(r);
        a->slot[c].loss = kp_ck_get_f64(r);
        a->slot[c].hash = kp_ck_get_u64(r);
    }
}

/* Fingerprint of the data: sizes and every bit of every column. */
static uint64_t data_fingerprint(const double *const *cols, int nvars,
                                 const double *y, size_t nrows)
{
    XXH3_state_t *s = XXH3_createState();
    if (s == NULL)
        return 0;
    XXH3_64bits_reset(s);
    uint64_t sz[2] = {(uint64_t)nvars, (uint64_t)nrows};
    XXH3_64bits_update(s, sz, sizeof sz);
    for (int j = 0; j < nvars; j++)
        XXH3_64bits_update(s, cols[j], sizeof(double) * nrows);
    XXH3_64bits_update(s, y, sizeof(double) * nrows);
    uint64_t h = XXH3_64bits_digest(s);
    XXH3_freeState(s);
    return h;
}

/* The parameters that shape the trajectory, as doubles for the messages;
   budgets, threads and callbacks may change between runs. */
#define SR_CK_NPARAM 14
static void shaping_params(const kp_sr_params_t *p, double *v)
{
    double w[SR_CK_NPARAM] = {
        (double)p->seed, p->engine, p->islands, p->population,
        p->generations, p->policy_batch, p->policy_hidden, p->policy_epsilon,
        p->policy_elites, p->migrants, (double)p->batch_rows,
        p->max_complexity, p->exact_loss, p->topology};
    memcpy(v, w, sizeof w);
}

static const char *const shaping_names[SR_CK_NPARAM] = {
    "seed", "engine", "islands", "population", "generations",
    "policy batch", "policy hidden size", "policy epsilon", "policy elites",
    "migrants", "batch rows", "maximum complexity", "exact loss",
    "topology (0 ring, 1 random)"};

/* What the driver loop carries between rounds besides st and r. */
typedef struct {
    uint64_t data_fp, grammar_fp;
    int rank, nranks;
    kp_rng_t master;
    uint64_t *checked;
    int *nchecked;
} sr_ck_ctx_t;

static int ck_serialise(kp_ck_wbuf_t *b, const sr_state_t *st,
                        const kp_sr_result_t *r, const kp_sr_params_t *p,
                        const sr_ck_ctx_t *cx)
{
    kp_ck_begin(b, KP_CK_MAGIC_SR, SR_CK_VERSION);
    kp_ck_put_u64(b, cx->data_fp);
    kp_ck_put_u64(b, cx->grammar_fp);
    double v[SR_CK_NPARAM];
    shaping_params(p, v);
    kp_ck_put_u64(b, p->seed); /* exact: a double cannot hold every seed */
    for (int k = 0; k < SR_CK_NPARAM; k++)
        kp_ck_put_f64(b, v[k]);
    kp_ck_put_i32(b, cx->rank);
    kp_ck_put_i32(b, cx->nranks);
    kp_ck_put_i32(b, r->rounds);
    kp_ck_put_i64(b, r->evaluations);
    kp_ck_put_i64(b, r->rows_evaluated);
    kp_ck_put_f64(b, r->seconds);
    kp_ck_put_i32(b, r->exact_found);
    kp_ck_put_rng(b, &cx->master);
    kp_ck_put_i32(b, *cx->nchecked);
    for (int k = 0; k < *cx->nchecked; k++)
        kp_ck_put_u64(b, cx->checked[k]);
    ck_put_pareto(b, &r->archive);
    kp_ck_put_i32(b, st->nisl);
    for (int i = 0; i < st->nisl; i++) {
        const sr_island_t *isl = &st->isl[i];
        kp_ck_put_rng(b, &isl->rng);
        kp_ck_put_i32(b, isl->n);
        for (int k = 0; k < isl->n; k++)
            kp_ck_put_indiv(b, &isl->pop[k]);
        ck_put_pareto(b, &isl->archive);
        /* Only used cache entries: a cache hit skips a fit (and its draws
           from the island stream), so the cache is part of the state. */
        int used = 0;
        for (size_t k = 0; k < (size_t)1 << SR_CACHE_BITS; k++)
            used += isl->cache[k].hash != 0 || isl->cache[k].nfree != 0;
        kp_ck_put_i32(b, used);
        for (size_t k = 0; k < (size_t)1 << SR_CACHE_BITS; k++) {
            const sr_cache_entry_t *ce = &isl->cache[k];
            if (ce->hash == 0 && ce->nfree == 0)
                continue;
            kp_ck_put_u32(b, (uint32_t)k);
            kp_ck_put_u64(b, ce->hash);
            kp_ck_put_f64(b, ce->loss);
            kp_ck_put_i32(b, ce->nfree);
            for (int c = 0; c < SR_CACHE_FREE; c++)
                kp_ck_put_f64(b, ce->c[c]);
        }
    }
    kp_ck_put_i32(b, st->have_policy);
    if (st->have_policy) {
        size_t n = kp_policy_size(&st->sp.pol);
        kp_ck_put_u64(b, n);
        unsigned char *tmp = malloc(n);
        if (tmp == NULL)
            return KP_ENOMEM;
        int rc = kp_policy_save(&st->sp.pol, tmp, n, NULL);
        kp_ck_put_bytes(b, tmp, n);
        free(tmp);
        if (rc != KP_OK)
            return rc;
    }
    return kp_ck_end(b);
}

static int ck_save(const char *path, const sr_state_t *st,
                   const kp_sr_result_t *r, const kp_sr_params_t *p,
                   const sr_ck_ctx_t *cx, kp_error_t *err)
{
    kp_ck_wbuf_t b = {0};
    int rc = ck_serialise(&b, st, r, p, cx);
    if (rc != KP_OK) {
        free(b.p);
        return kp_error_set(err, rc, NULL, 0, 0, "out of memory");
    }
    char *file = kp_ck_rank_path(path, cx->rank, cx->nranks, NULL);
    if (file == NULL) {
        free(b.p);
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    }
    rc = kp_ck_write(file, b.p, b.n, cx->nranks > 1, err);
    free(file);
    free(b.p);
    return rc;
}

/* What a loader needs (kp_ck_load_ranks hands it back). */
typedef struct {
    sr_state_t *st;
    kp_sr_result_t *r;
    const kp_sr_params_t *p;
    const kp_grammar_t *g;
    sr_ck_ctx_t *cx;
} sr_load_t;

/* Loads the checkpoint file into st, r and cx (all initialised for p as
   for a fresh run) and sets *round to its round count. Checks everything
   before the first byte of state is trusted; any failure leaves a
   one-line message naming the file. */
static int ck_load(const char *file, void *ctx, int *round, kp_error_t *err)
{
    sr_load_t *ld = ctx;
    sr_state_t *st = ld->st;
    kp_sr_result_t *r = ld->r;
    const kp_sr_params_t *p = ld->p;
    sr_ck_ctx_t *cx = ld->cx;
    size_t n = 0;
    int e = 0;
    unsigned char *buf = kp_ck_read(file, &n, &e);
    kp_ck_rbuf_t rb;
    int rc = KP_OK;
#define CK_FAIL(...)                                                      \
    do {                                                                  \
        rc = kp_error_set(err, KP_EINPUT, file, 0, 0, __VA_ARGS__);       \
        goto done;                                                        \
    } while (0)
    if (buf == NULL)
        CK_FAIL("cannot read checkpoint: %s", strerror(e));
    if ((rc = kp_ck_open(&rb, buf, n, KP_CK_MAGIC_SR, SR_CK_VERSION, file,
                         err)) != KP_OK)
        goto done;
    if (kp_ck_get_u64(&rb) != cx->data_fp)
        CK_FAIL("checkpoint was made for other data");
    if (kp_ck_get_u64(&rb) != cx->grammar_fp)
        CK_FAIL("checkpoint was made with another grammar or other inputs");
    double v[SR_CK_NPARAM];
    shaping_params(p, v);
    if (kp_ck_get_u64(&rb) != p->seed)
        CK_FAIL("checkpoint was made with another seed");
    for (int k = 0; k < SR_CK_NPARAM; k++) {
        double s = kp_ck_get_f64(&rb);
        if (!(s == v[k]) && !rb.bad)
            CK_FAIL("checkpoint was made with %s %.17g, this run has %.17g",
                    shaping_names[k], s, v[k]);
    }
    int rank = kp_ck_get_i32(&rb), nranks = kp_ck_get_i32(&rb);
    if (!rb.bad && (rank != cx->rank || nranks != cx->nranks))
        CK_FAIL("checkpoint was made by rank %d of %d, this is rank %d of %d",
                rank, nranks, cx->rank, cx->nranks);
    r->rounds = kp_ck_get_range(&rb, 0, 1 << 30);
    r->evaluations = (long)kp_ck_get_i64(&rb);
    r->rows_evaluated = (long)kp_ck_get_i64(&rb);
    r->seconds = kp_ck_get_f64(&rb);
    r->exact_found = kp_ck_get_range(&rb, 0, 1);
    kp_ck_get_rng(&rb, &cx->master);
    *cx->nchecked = kp_ck_get_range(&rb, 0, SR_MAX_CHECKED);
    for (int k = 0; k < *cx->nchecked; k++)
        cx->checked[k] = kp_ck_get_u64(&rb);
    ck_get_pareto(&rb, &r->archive);
    if (kp_ck_get_i32(&rb) != st->nisl)
        rb.bad = 1;
    for (int i = 0; i < st->nisl && !rb.bad; i++) {
        sr_island_t *isl = &st->isl[i];
        kp_ck_get_rng(&rb, &isl->rng);
        isl->n = kp_ck_get_range(&rb, 0, p->population);
        for (int k = 0; k < isl->n && !rb.bad; k++)
            kp_ck_get_indiv(&rb, &isl->pop[k]);
        ck_get_pareto(&rb, &isl->archive);
        int used = kp_ck_get_range(&rb, 0, 1 << SR_CACHE_BITS);
        memset(isl->cache, 0, sizeof(sr_cache_entry_t) << SR_CACHE_BITS);
        for (int k = 0; k < used && !rb.bad; k++) {
            uint32_t at = kp_ck_get_u32(&rb);
            if (at >= (1u << SR_CACHE_BITS)) {
                rb.bad = 1;
                break;
            }
            sr_cache_entry_t *ce = &isl->cache[at];
            ce->hash = kp_ck_get_u64(&rb);
            ce->loss = kp_ck_get_f64(&rb);
            ce->nfree = kp_ck_get_range(&rb, 0, SR_CACHE_FREE);
            for (int c = 0; c < SR_CACHE_FREE; c++)
                ce->c[c] = kp_ck_get_f64(&rb);
        }
    }
    if (kp_ck_get_range(&rb, 0, 1) != st->have_policy)
        rb.bad = 1;
    if (st->have_policy && !rb.bad) {
        uint64_t plen = kp_ck_get_u64(&rb);
        const unsigned char *pb =
            plen <= n ? kp_ck_take(&rb, (size_t)plen) : (rb.bad = 1, NULL);
        if (pb != NULL) {
            kp_policy_clear(&st->sp.pol);
            if (kp_policy_load(&st->sp.pol, ld->g, pb, (size_t)plen, NULL) !=
                    KP_OK ||
                kp_policy_max_len(&st->sp.pol) != st->sp.maxlen)
                rb.bad = 1;
        }
    }
    if (rb.bad || rb.pos != rb.n)
        CK_FAIL("corrupt checkpoint (inconsistent contents)");
    *round = r->rounds;
done:
#undef CK_FAIL
    free(buf);
    return rc;
}

static int check_params(const kp_sr_params_t *p, size_t nrows, int nvars,
                        kp_error_t *err)
{
    if (p->islands < 1 || p->population < 4 || p->generations < 0 ||
        p->policy_batch < 1 || p->policy_elites < 0 || p->migrants < 0 ||
        p->max_complexity < 1 || p->engine < KP_SR_HYBRID ||
        p->engine > KP_SR_POLICY || nrows == 0 || nvars < 0 ||
        p->policy_epsilon <= 0 || p->policy_epsilon > 1)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "invalid search parameters");
    return KP_OK;
}

/* 1 when a budget is spent (or an exact solution ends the run). */
static int budget_spent(const kp_sr_result_t *r, const kp_sr_params_t *p)
{
    return r->exact_found ||
           (p->max_rounds > 0 && r->rounds >= p->max_rounds) ||
           (p->max_evals > 0 && r->evaluations >= p->max_evals) ||
           (p->time_limit > 0 && r->seconds >= p->time_limit);
}

/* Rank 0 receives every rank's archive (serialised as in checkpoints) and
   merges them in rank order; the other ranks keep their own. */
static void gather_archives(kp_sr_result_t *r, const sr_comm_t *comm)
{
    if (comm->size < 2)
        return;
    kp_ck_wbuf_t b = {0};
    ck_put_pareto(&b, &r->archive);
    unsigned char *all = NULL;
    size_t total = 0;
    size_t *cnt = malloc(sizeof *cnt * (size_t)comm->size);
    /* An archive that could not be serialised travels as nothing. */
    if (kp_mpi_gather0(b.p, b.oom ? 0 : b.n, &all, &total, cnt) == 0 &&
        comm->rank == 0 && all != NULL && cnt != NULL) {
        size_t off = cnt[0];
        for (int k = 1; k < comm->size; k++) {
            kp_pareto_t a;
            if (kp_pareto_init(&a, r->archive.max_complexity) != KP_OK)
                break;
            kp_ck_rbuf_t rb = {all + off, cnt[k], 0, 0};
            ck_get_pareto(&rb, &a);
            if (!rb.bad)
                kp_pareto_merge(&r->archive, &a);
            kp_pareto_clear(&a);
            off += cnt[k];
        }
    }
    free(all);
    free(cnt);
    free(b.p);
}

int kp_sr_run(kp_sr_result_t *r, const kp_grammar_t *g,
              const double *const *cols, int nvars, const double *y,
              size_t nrows, const kp_sr_params_t *p, kp_error_t *err)
{
    int rc = check_params(p, nrows, nvars, err);
    if (rc != KP_OK)
        return rc;
    double t0 = now_seconds();
    int nthreads = p->threads > 0 ? p->threads : omp_get_max_threads();
    sr_comm_t comm = {kp_mpi_rank(), kp_mpi_size()};
    r->rank = comm.rank;
    r->nranks = comm.size;
    kp_rng_t master;
    kp_rng_init(&master, p->seed);
    sr_state_t st;
    rc = state_init(&st, g, p, nthreads, comm.rank, &master, err);
    int batching = p->batch_rows > 0 && nrows > p->batch_rows;
    size_t nb = batching ? p->batch_rows : nrows;
    if (rc == KP_OK && batching &&
        (st.batch_idx = malloc(sizeof(size_t) * nb)) == NULL)
        rc = kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    if ((rc = kp_mpi_agree(rc, err)) != KP_OK) {
        state_clear(&st);
        return rc;
    }
    double var_all = variance(y, NULL, nrows);
    sr_fitness_t f = {g,  cols, y, NULL, nrows, var_all, {0}, {0},
                      p->unit_vars, p->unit_target};
    kp_constopt_params_default(&f.co_new);
    f.co = f.co_new;
    f.co.restarts = 0;
    f.co.max_iter = 20;
    kp_gp_params_t gp;
    kp_gp_params_default(&gp);
    uint64_t checked[SR_MAX_CHECKED];
    int nchecked = 0;

    sr_ck_ctx_t cx = {0, 0, comm.rank, comm.size, master, checked, &nchecked};
    if (p->checkpoint != NULL || p->resume != NULL) {
        cx.data_fp = data_fingerprint(cols, nvars, y, nrows);
        cx.grammar_fp = kp_ck_grammar_fingerprint(g);
    }
    int start = 0;
    if (p->resume != NULL) {
        sr_load_t ld = {&st, r, p, g, &cx};
        rc = kp_ck_load_ranks(p->resume, comm.rank, comm.size, ck_load, &ld,
                              err);
        if (rc != KP_OK) {
            r->rounds = 0; /* nothing of a refused checkpoint is a result */
            state_clear(&st);
            return rc;
        }
        master = cx.master;
        start = r->resumed_rounds = r->rounds;
        t0 -= r->seconds;
    }
    double last_ck = -INFINITY;
    int done = p->resume != NULL && budget_spent(r, p);
    /* Round 0's proposals (a resumed run is past round 0). */
    kp_expr_t *prop = NULL;
    int nprop = 0;
    if (p->propose && start == 0 && !done) {
        int cap = p->islands * comm.size * (p->population / 4);
        prop = malloc(sizeof *prop * (size_t)(cap > 0 ? cap : 1));
        kp_propose_params_t pp;
        kp_propose_params_default(&pp);
        pp.threads = nthreads;
        if (prop == NULL ||
            kp_propose(prop, cap, &nprop, g, cols, nvars, y, nrows, &pp,
                       NULL) != KP_OK)
            nprop = 0;
    }

    for (int round = start; !done; round++) {
        if (batching) {
            kp_rng_t brng;
            kp_rng_split(&brng, &master, 0x8000000ULL + (uint64_t)round);
            draw_batch(st.batch_idx, nb, nrows, &brng);
            f.idx = st.batch_idx;
            f.n = nb;
            f.var_y = variance(y, f.idx, f.n);
            for (int i = 0; i < st.nisl; i++) /* losses were on another batch */
                memset(st.isl[i].cache, 0,
                       sizeof(sr_cache_entry_t) << SR_CACHE_BITS);
        }
        long evals = 0, rows = 0;
        int nsamples = 0;
        if (st.have_policy)
            nsamples = policy_round(&st, &f, p, round, comm.rank, &master,
                                    &evals, &rows);

#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
        for (int i = 0; i < st.nisl; i++) {
            sr_island_t *isl = &st.isl[i];
            if (round == 0) {
                int gi = comm.rank * p->islands + i;
                int gn = comm.size * p->islands;
                for (int k = 0; k < p->population; k++) {
                    long j = (long)k * gn + gi; /* proposal dealt here */
                    if (j < nprop)
                        isl->pop[k].e = prop[j];
                    else
                        random_individual(&isl->pop[k], g, &isl->rng);
                    score(&isl->pop[k], &f, j >= nprop, isl->cache, &isl->ws,
                          &isl->rng, &isl->evals, &isl->rows);
                    island_archive(isl, &isl->pop[k]);
                }
                isl->n = truncate_population(isl->pop, p->population,
                                             p->population, gp.parsimony);
            } else if (batching) {
                /* New batch: re-score the survivors before they compete. */
                for (int k = 0; k < isl->n; k++)
                    score(&isl->pop[k], &f, 0, isl->cache, &isl->ws,
                          &isl->rng, &isl->evals, &isl->rows);
                isl->n = truncate_population(isl->pop, isl->n, p->population,
                                             gp.parsimony);
            }
            for (int gen = 0; gen < p->generations; gen++)
                island_generation(isl, p->population, &f, &gp);
        }

        /* Combine in index order: archive, policy, seeding, migration. */
        for (int i = 0; i < st.nisl; i++) {
            evals += st.isl[i].evals;
            rows += st.isl[i].rows;
            st.isl[i].evals = st.isl[i].rows = 0;
            if (!batching)
                kp_pareto_merge(&r->archive, &st.isl[i].archive);
        }
        if (batching) {
            confirm_batch(r, &st, nsamples, cols, y, nrows, var_all,
                          f.var_y / var_all, nthreads);
            for (int i = 0; i < st.nisl; i++) {
                kp_pareto_clear(&st.isl[i].archive);
                kp_pareto_init(&st.isl[i].archive, p->max_complexity);
            }
        } else {
            for (int i = 0; i < nsamples; i++) {
                const kp_indiv_t *s = &st.sp.samples[i];
                if (isfinite(s->loss))
                    kp_pareto_insert(&r->archive, &s->e, s->complexity,
                                     s->loss);
            }
        }
        if (st.have_policy) {
            policy_train(&st, g, p, nsamples, &comm, &r->migrated_bytes);
            seed_islands(&st, nsamples, p);
        }
        migrate(&st, p, round, &comm, &r->migrated_bytes);
        r->rounds = round + 1;
        double seconds = now_seconds() - t0;

        if (p->is_exact != NULL && !r->exact_found)
            r->exact_found = try_exact(r, g, cols, y, nrows, var_all, p,
                                       checked, &nchecked);
        /* Everything that ends the run or triggers a checkpoint is agreed
           by all ranks; the checkpoint clock is rank 0's. */
        int flags[3] = {r->exact_found, p->stop && *p->stop,
                        comm.rank == 0 && p->checkpoint != NULL &&
                            (p->checkpoint_every <= 0 ||
                             seconds - last_ck >= p->checkpoint_every)};
        long counts[2] = {evals, rows};
        kp_mpi_sum_long(counts, 2);
        kp_mpi_max_double(&seconds, 1);
        kp_mpi_max_int(flags, 3);
        evals = counts[0];
        rows = counts[1];
        r->evaluations += evals;
        r->rows_evaluated += rows;
        r->seconds = seconds;
        r->exact_found = flags[0];
        const kp_pareto_entry_t *best = kp_pareto_best(&r->archive);
        if (p->progress && best != NULL) {
            kp_sr_progress_t pr = {round + 1, r->seconds, r->evaluations,
                                   r->seconds > 0 ? r->evaluations / r->seconds
                                                  : 0,
                                   best->loss, &best->e};
            p->progress(&pr, p->progress_ctx);
        }
        if (flags[1] && !r->exact_found)
            r->interrupted = 1;
        done = r->exact_found || flags[1] || budget_spent(r, p);
        if (p->checkpoint != NULL && (done || flags[2])) {
            cx.master = master;
            rc = kp_mpi_agree(ck_save(p->checkpoint, &st, r, p, &cx, err),
                              err);
            if (rc != KP_OK)
                break;
            r->checkpoints++;
            last_ck = seconds;
        }
    }
    gather_archives(r, &comm);
    /* Report MSE on all rows (the archive holds normalised losses). */
    for (int c = 1; c <= r->archive.max_complexity; c++)
        if (r->archive.used[c])
            r->archive.slot[c].loss *= var_all;
    free(prop);
    state_clear(&st);
    r->seconds = now_seconds() - t0;
    return rc;
}
