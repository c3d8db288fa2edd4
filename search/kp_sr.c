/* kp_sr.c: the symbolic-regression driver (see kp_sr.h for the round
   structure and the determinism argument).

   Each island owns its population, its RNG stream, a fitness cache and a
   constant-optimisation workspace; an OpenMP loop over islands therefore
   shares nothing but read-only data. Policy samples are scored in an OpenMP
   loop where sample i uses its own RNG stream (round, i). Everything that
   combines islands (migration, archive merging, policy training, seeding)
   runs on one thread in index order. */
#define _GNU_SOURCE /* qsort_r */
#include "kp_sr.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    sp->syms = malloc(sizeof(int) * (size_t)sp->nseq * (size_t)sp->maxlen);
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
                      const kp_sr_params_t *p, int nthreads, kp_rng_t *master,
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
        kp_rng_split(&isl->rng, master, 1000 + (uint64_t)i);
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
                        const kp_sr_params_t *p, int round, kp_rng_t *master,
                        long *evals, long *rows)
{
    sr_policy_t *sp = &st->sp;
    kp_rng_t srng;
    kp_rng_split(&srng, master, 0x5000000ULL + (uint64_t)round);
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

/* Trains the policy on its samples plus the elites of the islands. */
static void policy_train(sr_state_t *st, const kp_grammar_t *g,
                         const kp_sr_params_t *p, int nsamples)
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
   island i+1, computed from a snapshot so the order does not matter. */
static void migrate(sr_state_t *st, int migrants)
{
    if (st->nisl < 2 || migrants <= 0)
        return;
    kp_indiv_t *snap = malloc(sizeof *snap * (size_t)st->nisl * (size_t)migrants);
    if (snap == NULL)
        return;
    for (int i = 0; i < st->nisl; i++)
        for (int k = 0; k < migrants; k++)
            snap[i * migrants + k] = st->isl[i].pop[k < st->isl[i].n ? k : 0];
    for (int i = 0; i < st->nisl; i++) {
        sr_island_t *dst = &st->isl[(i + 1) % st->nisl];
        for (int k = 0; k < migrants && k < dst->n; k++)
            dst->pop[dst->n - 1 - k] = snap[i * migrants + k];
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

int kp_sr_run(kp_sr_result_t *r, const kp_grammar_t *g,
              const double *const *cols, int nvars, const double *y,
              size_t nrows, const kp_sr_params_t *p, kp_error_t *err)
{
    int rc = check_params(p, nrows, nvars, err);
    if (rc != KP_OK)
        return rc;
    double t0 = now_seconds();
    int nthreads = p->threads > 0 ? p->threads : omp_get_max_threads();
    kp_rng_t master;
    kp_rng_init(&master, p->seed);
    sr_state_t st;
    rc = state_init(&st, g, p, nthreads, &master, err);
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

    for (int round = 0;; round++) {
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
            nsamples = policy_round(&st, &f, p, round, &master, &evals, &rows);

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
            policy_train(&st, g, p, nsamples);
            seed_islands(&st, nsamples, p);
        }
        migrate(&st, p->migrants);
        r->evaluations += evals;
        r->rows_evaluated += rows;
        r->rounds = round + 1;
        r->seconds = now_seconds() - t0;

        const kp_pareto_entry_t *best = kp_pareto_best(&r->archive);
        if (p->is_exact != NULL)
            r->exact_found = try_exact(r, g, cols, y, nrows, var_all, p,
                                       checked, &nchecked);
        if (p->progress && best != NULL) {
            kp_sr_progress_t pr = {round + 1, r->seconds, r->evaluations,
                                   r->seconds > 0 ? r->evaluations / r->seconds
                                                  : 0,
                                   best->loss, &best->e};
            p->progress(&pr, p->progress_ctx);
        }
        if (r->exact_found)
            break;
        if (p->stop && *p->stop) {
            r->interrupted = 1;
            break;
        }
        if (p->max_rounds > 0 && r->rounds >= p->max_rounds)
            break;
        if (p->max_evals > 0 && r->evaluations >= p->max_evals)
            break;
        if (p->time_limit > 0 && r->seconds >= p->time_limit)
            break;
    }
    /* Report MSE on all rows (the archive holds normalised losses). */
    for (int c = 1; c <= r->archive.max_complexity; c++)
        if (r->archive.used[c])
            r->archive.slot[c].loss *= var_all;
    state_clear(&st);
    r->seconds = now_seconds() - t0;
    return KP_OK;
}
