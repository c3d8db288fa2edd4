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
#ifdef KP_HAVE_MPI
#include <mpi.h>
#endif

#include "kp_constopt.h"
#include "kp_eval.h"
#include "kp_gp.h"
#include "kp_policy.h"

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
    if (kp_constopt_fit_ws(ws, &ind->e, f->cols, f->y, f->idx, f->n,
                           fresh ? &f->co_new : &f->co, rng, &mse,
                           NULL) != KP_OK)
        mse = INFINITY;
    ind->loss = isfinite(mse) ? mse / f->var_y : INFINITY;
    *evals += 1;
    *rows += (long)f->n * ind->e.len; /* node x row evaluations of one pass */
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

/* ---- Ranks (MPI) ----------------------------------------------------------

   Without MPI, or with one rank, these are the identity and the driver
   does exactly what it did before ranks existed. */

typedef struct {
    int rank, size;
} sr_comm_t;

static void comm_init(sr_comm_t *c)
{
    c->rank = 0;
    c->size = 1;
#ifdef KP_HAVE_MPI
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin) {
        MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
        MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    }
#endif
}

/* Agrees on one round: evaluations and rows summed over ranks, seconds the
   largest, flags[] or-ed (flags set on any rank hold on every rank). */
static void comm_round(const sr_comm_t *c, long *evals, long *rows,
                       double *seconds, int *flags, int nflags)
{
#ifdef KP_HAVE_MPI
    if (c->size > 1) {
        long v[2] = {*evals, *rows}, s[2];
        MPI_Allreduce(v, s, 2, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
        *evals = s[0];
        *rows = s[1];
        double t;
        MPI_Allreduce(seconds, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        *seconds = t;
        int f[8];
        MPI_Allreduce(flags, f, nflags, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        memcpy(flags, f, sizeof(int) * (size_t)nflags);
    }
#else
    (void)c, (void)evals, (void)rows, (void)seconds, (void)flags, (void)nflags;
#endif
}

/* 1 when any rank has bad != 0 (collective). */
static int comm_any(const sr_comm_t *c, int bad)
{
#ifdef KP_HAVE_MPI
    if (c->size > 1) {
        int any = 0;
        MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        return any != 0;
    }
#else
    (void)c;
#endif
    return bad != 0;
}

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
#ifdef KP_HAVE_MPI
    if (comm->size > 1) {
        int K = comm->size, L = sp->maxlen;
        int *cnt = malloc(sizeof(int) * 6 * (size_t)K);
        if (cnt == NULL)
            return;
        int *dsp = cnt + K, *cs = cnt + 2 * K, *ds = cnt + 3 * K;
        MPI_Allgather(&n, 1, MPI_INT, cnt, 1, MPI_INT, MPI_COMM_WORLD);
        int total = 0;
        for (int k = 0; k < K; k++) {
            dsp[k] = total;
            cs[k] = cnt[k] * L;
            ds[k] = total * L;
            total += cnt[k];
        }
        int *asyms = malloc(sizeof(int) * ((size_t)total * (size_t)L + 1));
        int *alens = malloc(sizeof(int) * ((size_t)total + 1));
        double *arew = malloc(sizeof(double) * ((size_t)total + 1));
        /* Every rank must join the collectives even when short of memory;
           it then trains on nothing and the policies drift apart, which
           costs quality, not correctness. */
        int ok = asyms && alens && arew;
        MPI_Allgatherv(sp->syms, n * L, MPI_INT, ok ? asyms : sp->syms, cs,
                       ds, MPI_INT, MPI_COMM_WORLD);
        MPI_Allgatherv(sp->lens, n, MPI_INT, ok ? alens : sp->lens, cnt, dsp,
                       MPI_INT, MPI_COMM_WORLD);
        MPI_Allgatherv(sp->rewards, n, MPI_DOUBLE, ok ? arew : sp->rewards,
                       cnt, dsp, MPI_DOUBLE, MPI_COMM_WORLD);
        *bytes += (long)n * (long)(sizeof(int) * (size_t)(L + 1) +
                                   sizeof(double)) * (K - 1);
        if (ok)
            kp_policy_train(&sp->pol, g, asyms, alens, arew, total, &sp->tp,
                            NULL);
        free(asyms);
        free(alens);
        free(arew);
        free(cnt);
        return;
    }
#else
    (void)comm, (void)bytes;
#endif
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

/* Ring migration: the best `migrants` of island i replace the worst of
   island i+1, computed from a snapshot so the order does not matter. With
   several ranks the ring runs through all of them: the last island of rank
   r feeds the first island of rank r+1 (one MPI_Sendrecv per round). */
static void migrate(sr_state_t *st, int migrants, const sr_comm_t *comm,
                    long *bytes)
{
    int ring = comm->size > 1 && st->nisl > 0;
    if ((st->nisl < 2 && !ring) || migrants <= 0)
        return;
    /* One more row for the migrants that arrive from the previous rank. */
    kp_indiv_t *snap =
        malloc(sizeof *snap * (size_t)(st->nisl + 1) * (size_t)migrants);
    if (snap == NULL)
        return;
    for (int i = 0; i < st->nisl; i++)
        for (int k = 0; k < migrants; k++)
            snap[i * migrants + k] = st->isl[i].pop[k < st->isl[i].n ? k : 0];
    const kp_indiv_t *into0 = snap + (size_t)(st->nisl - 1) * migrants;
#ifdef KP_HAVE_MPI
    if (ring) {
        /* Homogeneous ranks assumed (same binary): individuals travel as
           raw bytes. */
        int cnt = (int)(sizeof *snap * (size_t)migrants);
        kp_indiv_t *in = snap + (size_t)st->nisl * migrants;
        MPI_Sendrecv(into0, cnt, MPI_BYTE, (comm->rank + 1) % comm->size, 17,
                     in, cnt, MPI_BYTE,
                     (comm->rank + comm->size - 1) % comm->size, 17,
                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        *bytes += cnt;
        into0 = in;
    }
#else
    (void)bytes;
#endif
    for (int i = 0; i < st->nisl; i++) {
        sr_island_t *dst = &st->isl[(i + 1) % st->nisl];
        const kp_indiv_t *src = i + 1 == st->nisl ? into0 : snap + i * migrants;
        for (int k = 0; k < migrants && k < dst->n; k++)
            dst->pop[dst->n - 1 - k] = src[k];
    }
    free(snap);
}

/* Re-scores every archive entry of src on all rows with its own tuned
   constants and offers it to dst with the full-data MSE. */
static void merge_full(kp_pareto_t *dst, const kp_pareto_t *src,
                       const double *const *cols, const double *y,
                       size_t nrows, double var_y)
{
    for (int c = 1; c <= src->max_complexity; c++) {
        if (!src->used[c])
            continue;
        double mse = kp_eval_mse(&src->slot[c].e, cols, y, nrows);
        kp_pareto_insert(dst, &src->slot[c].e, c,
                         isfinite(mse) ? mse / var_y : INFINITY);
    }
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
        kp_constopt_snap(&cand, cols, y, NULL, nrows, 1e-6, &sp, &mse, NULL);
        if (p->is_exact(&cand, p->is_exact_ctx)) {
            kp_pareto_insert(&r->archive, &cand,
                             kp_grammar_complexity(g, &cand), mse / var_all);
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

#define SR_CK_MAGIC "KEPLERSR"
#define SR_CK_VERSION 1u
#define SR_CK_HEADER 32

typedef struct {
    unsigned char *p;
    size_t n, cap;
    int oom;
} ck_wbuf_t;

static void wb_bytes(ck_wbuf_t *b, const void *v, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (q == NULL) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
}

static void wb_u64(ck_wbuf_t *b, uint64_t v)
{
    unsigned char c[8];
    for (int k = 0; k < 8; k++)
        c[k] = (unsigned char)(v >> (8 * k));
    wb_bytes(b, c, 8);
}

static void wb_u32(ck_wbuf_t *b, uint32_t v)
{
    unsigned char c[4];
    for (int k = 0; k < 4; k++)
        c[k] = (unsigned char)(v >> (8 * k));
    wb_bytes(b, c, 4);
}

static void wb_i32(ck_wbuf_t *b, int v) { wb_u32(b, (uint32_t)v); }
static void wb_i64(ck_wbuf_t *b, int64_t v) { wb_u64(b, (uint64_t)v); }

static void wb_f64(ck_wbuf_t *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    wb_u64(b, u);
}

typedef struct {
    const unsigned char *p;
    size_t n, pos;
    int bad; /* read past the end or an invalid value */
} ck_rbuf_t;

static const unsigned char *rb_take(ck_rbuf_t *r, size_t n)
{
    if (r->bad || n > r->n - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *q = r->p + r->pos;
    r->pos += n;
    return q;
}

static uint64_t rb_u64(ck_rbuf_t *r)
{
    const unsigned char *c = rb_take(r, 8);
    uint64_t v = 0;
    for (int k = 0; c && k < 8; k++)
        v |= (uint64_t)c[k] << (8 * k);
    return v;
}

static uint32_t rb_u32(ck_rbuf_t *r)
{
    const unsigned char *c = rb_take(r, 4);
    uint32_t v = 0;
    for (int k = 0; c && k < 4; k++)
        v |= (uint32_t)c[k] << (8 * k);
    return v;
}

static int rb_i32(ck_rbuf_t *r) { return (int)(int32_t)rb_u32(r); }
static int64_t rb_i64(ck_rbuf_t *r) { return (int64_t)rb_u64(r); }

static double rb_f64(ck_rbuf_t *r)
{
    uint64_t u = rb_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

/* Reads an int in [lo, hi]; out of range marks the buffer bad. */
static int rb_range(ck_rbuf_t *r, int lo, int hi)
{
    int v = rb_i32(r);
    if (v < lo || v > hi) {
        r->bad = 1;
        return lo;
    }
    return v;
}

static void wb_rng(ck_wbuf_t *b, const kp_rng_t *rng)
{
    for (int k = 0; k < 4; k++)
        wb_u64(b, rng->s[k]);
}

static void rb_rng(ck_rbuf_t *r, kp_rng_t *rng)
{
    for (int k = 0; k < 4; k++)
        rng->s[k] = rb_u64(r);
}

static void wb_expr(ck_wbuf_t *b, const kp_expr_t *e)
{
    wb_i32(b, e->len);
    wb_i32(b, e->nconst);
    for (int i = 0; i < e->len; i++)
        wb_u32(b, e->tok[i]);
    for (int k = 0; k < e->nconst; k++) {
        wb_f64(b, e->c[k].value);
        wb_i64(b, e->c[k].num);
        wb_i64(b, e->c[k].den);
    }
}

/* Reads an expression and checks its invariants, so a corrupt file cannot
   hand the evaluator an ill-formed tree. */
static void rb_expr(ck_rbuf_t *r, kp_expr_t *e)
{
    memset(e, 0, sizeof *e);
    e->len = rb_range(r, 1, KP_EXPR_MAX_LEN);
    e->nconst = rb_range(r, 0, KP_EXPR_MAX_CONSTS);
    int need = 1;
    for (int i = 0; i < e->len && !r->bad; i++) {
        uint32_t t = rb_u32(r);
        if (t > 0xffffu || (t >= KP_OP_COUNT && t < KP_TOK_CONST) ||
            need <= 0) {
            r->bad = 1;
            break;
        }
        e->tok[i] = (kp_tok_t)t;
        need += kp_tok_arity(e->tok[i]) - 1;
    }
    for (int k = 0; k < e->nconst && !r->bad; k++) {
        e->c[k].value = rb_f64(r);
        e->c[k].num = rb_i64(r);
        e->c[k].den = rb_i64(r);
    }
    if (r->bad || need != 0) {
        r->bad = 1;
        kp_expr_init(e);
        e->len = 1;
        e->tok[0] = KP_TOK_CONST; /* a harmless placeholder */
        e->nconst = 1;
        e->size[0] = 1;
        return;
    }
    kp_expr_update_sizes(e);
    if (kp_expr_check(e, NULL) != KP_OK)
        r->bad = 1;
}

static void wb_pareto(ck_wbuf_t *b, const kp_pareto_t *a)
{
    wb_i32(b, a->max_complexity);
    for (int c = 1; c <= a->max_complexity; c++) {
        wb_i32(b, a->used[c]);
        if (!a->used[c])
            continue;
        wb_expr(b, &a->slot[c].e);
        wb_i32(b, a->slot[c].complexity);
        wb_f64(b, a->slot[c].loss);
        wb_u64(b, a->slot[c].hash);
    }
}

/* Restores the archive slot by slot (not by insertion), so it is the saved
   one exactly; a must be initialised with the same max_complexity. */
static void rb_pareto(ck_rbuf_t *r, kp_pareto_t *a)
{
    if (rb_i32(r) != a->max_complexity) {
        r->bad = 1;
        return;
    }
    for (int c = 1; c <= a->max_complexity && !r->bad; c++) {
        a->used[c] = (uint8_t)rb_range(r, 0, 1);
        if (!a->used[c])
            continue;
        rb_expr(r, &a->slot[c].e);
        a->slot[c].complexity = rb_i32(r);
        a->slot[c].loss = rb_f64(r);
        a->slot[c].hash = rb_u64(r);
    }
}

static void wb_indiv(ck_wbuf_t *b, const kp_indiv_t *ind)
{
    wb_expr(b, &ind->e);
    wb_f64(b, ind->loss);
    wb_i32(b, ind->complexity);
    wb_u64(b, ind->hash);
}

static void rb_indiv(ck_rbuf_t *r, kp_indiv_t *ind)
{
    rb_expr(r, &ind->e);
    ind->loss = rb_f64(r);
    ind->complexity = rb_i32(r);
    ind->hash = rb_u64(r);
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

/* Fingerprint of the bound grammar: limits, rules and every symbol. */
static uint64_t grammar_fingerprint(const kp_grammar_t *g)
{
    ck_wbuf_t b = {0};
    wb_i32(&b, g->max_len);
    wb_i32(&b, g->max_depth);
    wb_i32(&b, g->start);
    wb_i32(&b, g->ntypes);
    for (int c = 0; c <= KP_GCLASS_COUNT; c++) {
        wb_u32(&b, g->forbid_child[c]);
        wb_u32(&b, g->forbid_desc[c]);
    }
    wb_i32(&b, g->nsym);
    for (int i = 0; i < g->nsym; i++) {
        const kp_gsym_t *s = &g->sym[i];
        wb_bytes(&b, s->name, strnlen(s->name, KP_GRAMMAR_NAME_MAX));
        wb_i32(&b, s->kind);
        wb_i32(&b, s->cls);
        wb_u32(&b, s->tok);
        wb_i32(&b, s->arity);
        wb_i32(&b, s->arg_type[0]);
        wb_i32(&b, s->arg_type[1]);
        wb_i32(&b, s->type);
        wb_i32(&b, s->cost);
        wb_i64(&b, s->num);
        wb_i64(&b, s->den);
    }
    uint64_t h = b.oom ? 0 : XXH3_64bits(b.p, b.n);
    free(b.p);
    return h;
}

/* The parameters that shape the trajectory, as doubles for the messages;
   budgets, threads and callbacks may change between runs. */
#define SR_CK_NPARAM 13
static void shaping_params(const kp_sr_params_t *p, double *v)
{
    double w[SR_CK_NPARAM] = {
        (double)p->seed, p->engine, p->islands, p->population,
        p->generations, p->policy_batch, p->policy_hidden, p->policy_epsilon,
        p->policy_elites, p->migrants, (double)p->batch_rows,
        p->max_complexity, p->exact_loss};
    memcpy(v, w, sizeof w);
}

static const char *const shaping_names[SR_CK_NPARAM] = {
    "seed", "engine", "islands", "population", "generations",
    "policy batch", "policy hidden size", "policy epsilon", "policy elites",
    "migrants", "batch rows", "maximum complexity", "exact loss"};

/* What the driver loop carries between rounds besides st and r. */
typedef struct {
    uint64_t data_fp, grammar_fp;
    int rank, nranks;
    kp_rng_t master;
    uint64_t *checked;
    int *nchecked;
} sr_ck_ctx_t;

static int ck_serialise(ck_wbuf_t *b, const sr_state_t *st,
                        const kp_sr_result_t *r, const kp_sr_params_t *p,
                        const sr_ck_ctx_t *cx)
{
    /* Header first; its length and checksum are filled in at the end. */
    wb_bytes(b, SR_CK_MAGIC, 8);
    wb_u32(b, SR_CK_VERSION);
    wb_u32(b, 0);
    wb_u64(b, 0);
    wb_u64(b, 0);
    wb_u64(b, cx->data_fp);
    wb_u64(b, cx->grammar_fp);
    double v[SR_CK_NPARAM];
    shaping_params(p, v);
    wb_u64(b, p->seed); /* exact: a double cannot hold every seed */
    for (int k = 0; k < SR_CK_NPARAM; k++)
        wb_f64(b, v[k]);
    wb_i32(b, cx->rank);
    wb_i32(b, cx->nranks);
    wb_i32(b, r->rounds);
    wb_i64(b, r->evaluations);
    wb_i64(b, r->rows_evaluated);
    wb_f64(b, r->seconds);
    wb_i32(b, r->exact_found);
    wb_rng(b, &cx->master);
    wb_i32(b, *cx->nchecked);
    for (int k = 0; k < *cx->nchecked; k++)
        wb_u64(b, cx->checked[k]);
    wb_pareto(b, &r->archive);
    wb_i32(b, st->nisl);
    for (int i = 0; i < st->nisl; i++) {
        const sr_island_t *isl = &st->isl[i];
        wb_rng(b, &isl->rng);
        wb_i32(b, isl->n);
        for (int k = 0; k < isl->n; k++)
            wb_indiv(b, &isl->pop[k]);
        wb_pareto(b, &isl->archive);
        /* Only used cache entries: a cache hit skips a fit (and its draws
           from the island stream), so the cache is part of the state. */
        int used = 0;
        for (size_t k = 0; k < (size_t)1 << SR_CACHE_BITS; k++)
            used += isl->cache[k].hash != 0 || isl->cache[k].nfree != 0;
        wb_i32(b, used);
        for (size_t k = 0; k < (size_t)1 << SR_CACHE_BITS; k++) {
            const sr_cache_entry_t *ce = &isl->cache[k];
            if (ce->hash == 0 && ce->nfree == 0)
                continue;
            wb_u32(b, (uint32_t)k);
            wb_u64(b, ce->hash);
            wb_f64(b, ce->loss);
            wb_i32(b, ce->nfree);
            for (int c = 0; c < SR_CACHE_FREE; c++)
                wb_f64(b, ce->c[c]);
        }
    }
    wb_i32(b, st->have_policy);
    if (st->have_policy) {
        size_t n = kp_policy_size(&st->sp.pol);
        wb_u64(b, n);
        unsigned char *tmp = malloc(n);
        if (tmp == NULL)
            return KP_ENOMEM;
        int rc = kp_policy_save(&st->sp.pol, tmp, n, NULL);
        wb_bytes(b, tmp, n);
        free(tmp);
        if (rc != KP_OK)
            return rc;
    }
    if (b->oom)
        return KP_ENOMEM;
    uint64_t len = b->n - SR_CK_HEADER;
    uint64_t sum = XXH3_64bits(b->p + SR_CK_HEADER, len);
    for (int k = 0; k < 8; k++) {
        b->p[16 + k] = (unsigned char)(len >> (8 * k));
        b->p[24 + k] = (unsigned char)(sum >> (8 * k));
    }
    return KP_OK;
}

/* Writes buf to path atomically: a temporary file in the same directory,
   fsync, rename over path, fsync of the directory. The temporary name is
   fixed (path.tmp), so a writer killed mid-write leaves at most one stale
   file, which the next write replaces. */
static int write_atomic(const char *path, const unsigned char *buf, size_t n,
                        kp_error_t *err)
{
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 16);
    if (tmp == NULL)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", 5);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return kp_error_set(err, KP_EINPUT, path, 0, 0,
                            "cannot write checkpoint: %s", strerror(e));
    }
    size_t done = 0;
    int e = 0;
    while (done < n) {
        ssize_t w = write(fd, buf + done, n - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            e = errno;
            break;
        }
        done += (size_t)w;
    }
    if (e == 0 && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0 && rename(tmp, path) != 0)
        e = errno;
    if (e != 0) {
        unlink(tmp);
        free(tmp);
        return kp_error_set(err, KP_EINPUT, path, 0, 0,
                            "cannot write checkpoint: %s", strerror(e));
    }
    free(tmp);
    /* Make the rename itself durable. */
    char *dir = strdup(path);
    if (dir != NULL) {
        char *slash = strrchr(dir, '/');
        const char *d = ".";
        if (slash == dir)
            d = "/";
        else if (slash != NULL) {
            *slash = '\0';
            d = dir;
        }
        int dfd = open(d, O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
    return KP_OK;
}

/* The checkpoint file of this rank: path itself with one rank. */
static char *rank_path(const char *path, int rank, int nranks)
{
    size_t n = strlen(path) + 32;
    char *s = malloc(n);
    if (s == NULL)
        return NULL;
    if (nranks > 1)
        snprintf(s, n, "%s.rank%d", path, rank);
    else
        snprintf(s, n, "%s", path);
    return s;
}

static int ck_save(const char *path, const sr_state_t *st,
                   const kp_sr_result_t *r, const kp_sr_params_t *p,
                   const sr_ck_ctx_t *cx, kp_error_t *err)
{
    ck_wbuf_t b = {0};
    int rc = ck_serialise(&b, st, r, p, cx);
    if (rc != KP_OK) {
        free(b.p);
        return kp_error_set(err, rc, NULL, 0, 0, "out of memory");
    }
    char *file = rank_path(path, cx->rank, cx->nranks);
    if (file == NULL) {
        free(b.p);
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    }
    rc = write_atomic(file, b.p, b.n, err);
    free(file);
    free(b.p);
    return rc;
}

static unsigned char *read_all(const char *path, size_t *n, int *e)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *e = errno;
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    while (buf != NULL) {
        if (len == cap) {
            unsigned char *q = realloc(buf, cap * 2);
            if (q == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = q;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    *e = buf == NULL ? ENOMEM : ferror(f) ? EIO : 0;
    fclose(f);
    if (*e != 0) {
        free(buf);
        return NULL;
    }
    *n = len;
    return buf;
}

/* Loads the checkpoint into st, r and cx (all initialised for p as for a
   fresh run). Checks everything before the first byte of state is
   trusted; any failure leaves a one-line message naming the file. */
static int ck_load(const char *path, sr_state_t *st, kp_sr_result_t *r,
                   const kp_sr_params_t *p, const kp_grammar_t *g,
                   sr_ck_ctx_t *cx, kp_error_t *err)
{
    char *file = rank_path(path, cx->rank, cx->nranks);
    if (file == NULL)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    size_t n = 0;
    int e = 0;
    unsigned char *buf = read_all(file, &n, &e);
    int rc = KP_OK;
#define CK_FAIL(...)                                                      \
    do {                                                                  \
        rc = kp_error_set(err, KP_EINPUT, file, 0, 0, __VA_ARGS__);       \
        goto done;                                                        \
    } while (0)
    if (buf == NULL)
        CK_FAIL("cannot read checkpoint: %s", strerror(e));
    if (n < SR_CK_HEADER || memcmp(buf, SR_CK_MAGIC, 8) != 0)
        CK_FAIL("not a Kepler search checkpoint");
    ck_rbuf_t rb = {buf, n, 8, 0};
    uint32_t version = rb_u32(&rb);
    rb_u32(&rb);
    uint64_t len = rb_u64(&rb), sum = rb_u64(&rb);
    if (version != SR_CK_VERSION)
        CK_FAIL("checkpoint format version %u, this kepler reads version %u",
                version, SR_CK_VERSION);
    if (len != n - SR_CK_HEADER)
        CK_FAIL("truncated or padded checkpoint (%zu bytes, header says %llu)",
                n, (unsigned long long)(len + SR_CK_HEADER));
    if (XXH3_64bits(buf + SR_CK_HEADER, len) != sum)
        CK_FAIL("corrupt checkpoint (checksum mismatch)");
    if (rb_u64(&rb) != cx->data_fp)
        CK_FAIL("checkpoint was made for other data");
    if (rb_u64(&rb) != cx->grammar_fp)
        CK_FAIL("checkpoint was made with another grammar or other inputs");
    double v[SR_CK_NPARAM];
    shaping_params(p, v);
    if (rb_u64(&rb) != p->seed)
        CK_FAIL("checkpoint was made with another seed");
    for (int k = 0; k < SR_CK_NPARAM; k++) {
        double s = rb_f64(&rb);
        if (!(s == v[k]) && !rb.bad)
            CK_FAIL("checkpoint was made with %s %.17g, this run has %.17g",
                    shaping_names[k], s, v[k]);
    }
    int rank = rb_i32(&rb), nranks = rb_i32(&rb);
    if (!rb.bad && (rank != cx->rank || nranks != cx->nranks))
        CK_FAIL("checkpoint was made by rank %d of %d, this is rank %d of %d",
                rank, nranks, cx->rank, cx->nranks);
    r->rounds = rb_range(&rb, 0, 1 << 30);
    r->evaluations = (long)rb_i64(&rb);
    r->rows_evaluated = (long)rb_i64(&rb);
    r->seconds = rb_f64(&rb);
    r->exact_found = rb_range(&rb, 0, 1);
    rb_rng(&rb, &cx->master);
    *cx->nchecked = rb_range(&rb, 0, SR_MAX_CHECKED);
    for (int k = 0; k < *cx->nchecked; k++)
        cx->checked[k] = rb_u64(&rb);
    rb_pareto(&rb, &r->archive);
    if (rb_i32(&rb) != st->nisl)
        rb.bad = 1;
    for (int i = 0; i < st->nisl && !rb.bad; i++) {
        sr_island_t *isl = &st->isl[i];
        rb_rng(&rb, &isl->rng);
        isl->n = rb_range(&rb, 0, p->population);
        for (int k = 0; k < isl->n && !rb.bad; k++)
            rb_indiv(&rb, &isl->pop[k]);
        rb_pareto(&rb, &isl->archive);
        int used = rb_range(&rb, 0, 1 << SR_CACHE_BITS);
        memset(isl->cache, 0, sizeof(sr_cache_entry_t) << SR_CACHE_BITS);
        for (int k = 0; k < used && !rb.bad; k++) {
            uint32_t at = rb_u32(&rb);
            if (at >= (1u << SR_CACHE_BITS)) {
                rb.bad = 1;
                break;
            }
            sr_cache_entry_t *ce = &isl->cache[at];
            ce->hash = rb_u64(&rb);
            ce->loss = rb_f64(&rb);
            ce->nfree = rb_range(&rb, 0, SR_CACHE_FREE);
            for (int c = 0; c < SR_CACHE_FREE; c++)
                ce->c[c] = rb_f64(&rb);
        }
    }
    if (rb_range(&rb, 0, 1) != st->have_policy)
        rb.bad = 1;
    if (st->have_policy && !rb.bad) {
        uint64_t plen = rb_u64(&rb);
        const unsigned char *pb =
            plen <= n ? rb_take(&rb, (size_t)plen) : (rb.bad = 1, NULL);
        if (pb != NULL) {
            kp_policy_clear(&st->sp.pol);
            if (kp_policy_load(&st->sp.pol, g, pb, (size_t)plen, NULL) !=
                    KP_OK ||
                kp_policy_max_len(&st->sp.pol) != st->sp.maxlen)
                rb.bad = 1;
        }
    }
    if (rb.bad || rb.pos != rb.n)
        CK_FAIL("corrupt checkpoint (inconsistent contents)");
done:
#undef CK_FAIL
    free(buf);
    free(file);
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
#ifdef KP_HAVE_MPI
    if (comm->size < 2)
        return;
    ck_wbuf_t b = {0};
    wb_pareto(&b, &r->archive);
    int n = b.oom ? 0 : (int)b.n;
    int *cnt = NULL, *dsp = NULL;
    unsigned char *all = NULL;
    int total = 0;
    if (comm->rank == 0) {
        cnt = malloc(sizeof(int) * 2 * (size_t)comm->size);
        dsp = cnt ? cnt + comm->size : NULL;
    }
    MPI_Gather(&n, 1, MPI_INT, cnt, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (comm->rank == 0 && cnt != NULL) {
        for (int k = 0; k < comm->size; k++) {
            dsp[k] = total;
            total += cnt[k];
        }
        all = malloc((size_t)total + 1);
    }
    MPI_Gatherv(b.p, n, MPI_BYTE, all, cnt, dsp, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (comm->rank == 0 && all != NULL) {
        kp_pareto_t a;
        for (int k = 1; k < comm->size; k++) {
            if (kp_pareto_init(&a, r->archive.max_complexity) != KP_OK)
                break;
            ck_rbuf_t rb = {all + dsp[k], (size_t)cnt[k], 0, 0};
            rb_pareto(&rb, &a);
            if (!rb.bad)
                kp_pareto_merge(&r->archive, &a);
            kp_pareto_clear(&a);
        }
    }
    free(all);
    free(cnt);
    free(b.p);
#else
    (void)r, (void)comm;
#endif
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
    sr_comm_t comm;
    comm_init(&comm);
    r->rank = comm.rank;
    r->nranks = comm.size;
    kp_rng_t master;
    kp_rng_init(&master, p->seed);
    sr_state_t st;
    rc = state_init(&st, g, p, nthreads, comm.rank, &master, err);
    if (rc != KP_OK) {
        state_clear(&st);
        return rc;
    }
    int batching = p->batch_rows > 0 && nrows > p->batch_rows;
    size_t nb = batching ? p->batch_rows : nrows;
    if (batching && (st.batch_idx = malloc(sizeof(size_t) * nb)) == NULL) {
        state_clear(&st);
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    }
    double var_all = variance(y, NULL, nrows);
    sr_fitness_t f = {g, cols, y, NULL, nrows, var_all, {0}, {0}};
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
        cx.grammar_fp = grammar_fingerprint(g);
    }
    int start = 0;
    if (p->resume != NULL) {
        rc = ck_load(p->resume, &st, r, p, g, &cx, err);
        if (comm_any(&comm, rc != KP_OK)) {
            if (rc == KP_OK)
                rc = kp_error_set(err, KP_EINPUT, p->resume, 0, 0,
                                  "the checkpoint of another rank is "
                                  "unusable");
            state_clear(&st);
            return rc;
        }
        master = cx.master;
        start = r->resumed_rounds = r->rounds;
        t0 -= r->seconds;
    }
    double last_ck = -INFINITY;
    int done = p->resume != NULL && budget_spent(r, p);

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
                for (int k = 0; k < p->population; k++) {
                    random_individual(&isl->pop[k], g, &isl->rng);
                    score(&isl->pop[k], &f, 1, isl->cache, &isl->ws,
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
            if (batching) {
                merge_full(&r->archive, &st.isl[i].archive, cols, y, nrows,
                           var_all);
                kp_pareto_clear(&st.isl[i].archive);
                kp_pareto_init(&st.isl[i].archive, p->max_complexity);
            } else {
                kp_pareto_merge(&r->archive, &st.isl[i].archive);
            }
        }
        for (int i = 0; i < nsamples; i++) {
            const kp_indiv_t *s = &st.sp.samples[i];
            if (!isfinite(s->loss))
                continue;
            if (batching) {
                double mse = kp_eval_mse(&s->e, cols, y, nrows);
                kp_pareto_insert(&r->archive, &s->e, s->complexity,
                                 mse / var_all);
            } else {
                kp_pareto_insert(&r->archive, &s->e, s->complexity, s->loss);
            }
        }
        if (st.have_policy) {
            policy_train(&st, g, p, nsamples, &comm, &r->migrated_bytes);
            seed_islands(&st, nsamples, p);
        }
        migrate(&st, p->migrants, &comm, &r->migrated_bytes);
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
        comm_round(&comm, &evals, &rows, &seconds, flags, 3);
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
            rc = ck_save(p->checkpoint, &st, r, p, &cx, err);
            if (comm_any(&comm, rc != KP_OK)) {
                if (rc == KP_OK)
                    rc = kp_error_set(err, KP_EINPUT, p->checkpoint, 0, 0,
                                      "another rank could not write its "
                                      "checkpoint");
                break;
            }
            r->checkpoints++;
            last_ck = seconds;
        }
    }
    gather_archives(r, &comm);
    /* Report MSE on all rows (the archive holds normalised losses). */
    for (int c = 1; c <= r->archive.max_complexity; c++)
        if (r->archive.used[c])
            r->archive.slot[c].loss *= var_all;
    state_clear(&st);
    r->seconds = now_seconds() - t0;
    return rc;
}
