/* kp_cem.c: the deep cross-entropy method with tabu polishing
   (kp_cem.h). */
#include "kp_cem.h"
#include "kp_cem_impl.h"
#include "kp_mpi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

/* Gradients are summed over this many fixed chunks, then in chunk order,
   so the sum does not depend on the thread count. */
#define NCHUNK 8

void kp_cem_params_default(kp_cem_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->batch = 64;
    p->elite_frac = 0.07;
    p->super_frac = 0.05;
    p->hidden1 = 64;
    p->hidden2 = 16;
    p->lr = 3e-3;
    p->train_steps = 4;
    p->polish = 2;
    p->ls_steps = 40;
}

void kp_cem_result_clear(kp_cem_result_t *r)
{
    free(r->best);
    memset(r, 0, sizeof *r);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double score_of(const kp_problem_t *pb, const uint8_t *x, int n,
                       void *ws)
{
    kp_score_t s = {NAN, 0, 0};
    pb->score(&s, x, n, ws);
    return isnan(s.value) ? -HUGE_VAL : s.value;
}

/* Graph objects get two kinds of compound moves besides bit flips:
   - rotations {u,v} -> {u,w}: one edge swings around an endpoint (the
     edge count stays, and on trees connectivity), so a leaf can migrate
     between centres without passing through a disconnected graph;
   - merges u => w: every edge {u,v} (v != w) becomes {w,v} and u hangs
     from w as a leaf, i.e. u is contracted into w and re-added as a
     pendant vertex. Merging two stars this way changes the matching
     number in one step, where single rotations must first climb through
     the worse graphs in between (for lambda_1 + mu, a triple star is such
     a trap on the way to Wagner's double broom).
   Moves are numbered: m < L flips bit m; L <= m < L + 2 n L is the
   rotation L + (edge index * n + w) * 2 + (which endpoint stays); then
   L + 2 n L + u * n + w is the merge u => w. */
typedef struct {
    int n;
    size_t L, nrot, nmoves;
    size_t *chg;       /* bits changed by the move being tried */
} moves_t;

static int edge_ends(size_t e, int n, int *pi, int *pj)
{
    int i = 0;
    size_t k = e;
    while (k >= (size_t)(n - 1 - i)) {
        k -= (size_t)(n - 1 - i);
        i++;
    }
    *pi = i;
    *pj = i + 1 + (int)k;
    return 0;
}

/* The bits move mv changes on x (0 if it does not apply), in mv->chg. */
static size_t move_bits(const moves_t *mv, const uint8_t *x, size_t m)
{
    int n = mv->n;
    size_t L = mv->L;
    if (m < L) {
        mv->chg[0] = m;
        return 1;
    }
    if (m < L + mv->nrot) {
        size_t r = m - L, e = r / 2 / (size_t)n;
        int w = (int)(r / 2 % (size_t)n), keep = (int)(r % 2), i, j;
        if (e >= L || !x[e])
            return 0;
        edge_ends(e, n, &i, &j);
        int u = keep ? j : i;
        if (w == i || w == j)
            return 0;
        size_t f = kp_edge_index(u, w, n);
        if (x[f])
            return 0;
        mv->chg[0] = e;
        mv->chg[1] = f;
        return 2;
    }
    size_t r = m - L - mv->nrot;
    int u = (int)(r / (size_t)n), w = (int)(r % (size_t)n);
    if (u == w)
        return 0;
    size_t k = 0;
    for (int v = 0; v < n; v++) {
        if (v == u || v == w || !x[kp_edge_index(u, v, n)])
            continue;
        mv->chg[k++] = kp_edge_index(u, v, n);
        if (!x[kp_edge_index(w, v, n)])
            mv->chg[k++] = kp_edge_index(w, v, n);
    }
    if (k == 0)
        return 0;
    if (!x[kp_edge_index(u, w, n)])
        mv->chg[k++] = kp_edge_index(u, w, n);
    return k;
}

static void flip_bits(uint8_t *x, const size_t *b, size_t k)
{
    for (size_t i = 0; i < k; i++)
        x[b[i]] ^= 1;
}

double kp_cem_tabu(uint8_t *x, const kp_problem_t *pb, int n, int steps,
                   void *ws, kp_rng_t *rng, long *evals)
{
    size_t L = pb->length(n);
    int graph = pb->kind == KP_OBJ_GRAPH;
    moves_t mv = {n, L, graph ? L * (size_t)n * 2 : 0, 0, NULL};
    mv.nmoves = L + mv.nrot + (graph ? (size_t)n * n : 0);
    long ev = 0;
    double cur = score_of(pb, x, n, ws), best = cur;
    ev++;
    uint8_t *bx = malloc(L);
    long *tabu = calloc(L, sizeof(long));
    mv.chg = malloc(sizeof(size_t) * (size_t)(2 * n + 2));
    size_t *pick_b = malloc(sizeof(size_t) * (size_t)(2 * n + 2));
    if (!bx || !tabu || !mv.chg || !pick_b) {
        free(bx);
        free(tabu);
        free(mv.chg);
        free(pick_b);
        return cur;
    }
    memcpy(bx, x, L);
    long tenure = (long)L / 8 + 1;
    for (long it = 1; it <= steps && L > 0; it++) {
        /* Two tiers (variable neighbourhood): flips and rotations first;
           the merges only when none of those improves on x, and then only
           an improving merge. So a merge jumps out of a local optimum of
           the small moves (a triple star, for wagner21) but neither pulls
           every walk into the same big basin (the star) nor replaces the
           tabu walk's own way across plateaus (ramsey). */
        size_t tier = L + mv.nrot, npick = 0;
        double pick_s = -HUGE_VAL;
        /* one random starting point (ties go to the first move scanned),
           reused by the second tier so that it draws nothing and a walk
           that takes no merge is the walk without merges */
        uint64_t r0 = kp_rng_next(rng);
        for (int t = 0; t < 2; t++) {
            size_t lo = t ? tier : 0, cnt = t ? mv.nmoves - tier : tier;
            if (cnt == 0 || (t && pick_s > cur))
                break;
            size_t off = (size_t)(r0 % cnt);
            for (size_t q = 0; q < cnt; q++) {
                size_t m = lo + (off + q) % cnt;
                size_t k = move_bits(&mv, x, m);
                if (k == 0)
                    continue;
                flip_bits(x, mv.chg, k);
                double s = score_of(pb, x, n, ws);
                flip_bits(x, mv.chg, k);
                ev++;
                int is_tabu = 0;
                for (size_t i = 0; i < k && !is_tabu; i++)
                    is_tabu = tabu[mv.chg[i]] >= it;
                if ((is_tabu && s <= best) || s <= pick_s || (t && s <= cur))
                    continue;
                memcpy(pick_b, mv.chg, sizeof(size_t) * k);
                npick = k;
                pick_s = s;
            }
        }
        if (npick == 0)
            break;
        /* Vary the tenure a little so the walk does not cycle. */
        long until = it + tenure + (long)kp_rng_below(rng, (uint64_t)tenure);
        flip_bits(x, pick_b, npick);
        for (size_t i = 0; i < npick; i++)
            tabu[pick_b[i]] = until;
        cur = pick_s;
        if (cur > best) {
            best = cur;
            memcpy(bx, x, L);
        }
    }
    memcpy(x, bx, L);
    free(bx);
    free(tabu);
    free(mv.chg);
    free(pick_b);
    if (evals)
        *evals += ev;
    return best;
}

/* ---- The MLP policy -------------------------------------------------- */

/* mlp_t is in kp_cem_impl.h (the checkpoint saves it). */

static int mlp_init(mlp_t *p, int L, int h1, int h2, kp_rng_t *rng)
{
    p->L = L;
    p->h1 = h1;
    p->h2 = h2;
    p->o_w1 = 0;                                  /* h1 x 2L, column major */
    p->o_b1 = p->o_w1 + (size_t)h1 * 2 * L;
    p->o_w2 = p->o_b1 + h1;                       /* h2 x h1, row major */
    p->o_b2 = p->o_w2 + (size_t)h2 * h1;
    p->o_w3 = p->o_b2 + h2;
    p->o_b3 = p->o_w3 + h2;
    p->nparam = p->o_b3 + 1;
    p->w = calloc(p->nparam, sizeof(double));
    p->m = calloc(p->nparam, sizeof(double));
    p->v = calloc(p->nparam, sizeof(double));
    p->step = 0;
    if (!p->w || !p->m || !p->v)
        return -1;
    /* Glorot-uniform weights, zero biases (Keras defaults, as Wagner). */
    double a1 = sqrt(6.0 / (2 * L + h1)), a2 = sqrt(6.0 / (h1 + h2)),
           a3 = sqrt(6.0 / (h2 + 1));
    for (size_t i = 0; i < (size_t)h1 * 2 * L; i++)
        p->w[p->o_w1 + i] = a1 * (2 * kp_rng_uniform(rng) - 1);
    for (size_t i = 0; i < (size_t)h2 * h1; i++)
        p->w[p->o_w2 + i] = a2 * (2 * kp_rng_uniform(rng) - 1);
    for (int i = 0; i < h2; i++)
        p->w[p->o_w3 + i] = a3 * (2 * kp_rng_uniform(rng) - 1);
    return 0;
}

static void mlp_clear(mlp_t *p)
{
    free(p->w);
    free(p->m);
    free(p->v);
}

/* Forward pass of one step: acc = b1 + sum of W1 columns of the set bits
   so far; returns P(bit t = 1) and leaves activations in z1, z2. */
static double mlp_step(const mlp_t *p, const double *acc, int t, double *z1,
                       double *z2)
{
    const double *w = p->w;
    const double *c = w + p->o_w1 + (size_t)(p->L + t) * p->h1;
    for (int i = 0; i < p->h1; i++) {
        double s = acc[i] + c[i];
        z1[i] = s > 0 ? s : 0;
    }
    double o = w[p->o_b3];
    for (int j = 0; j < p->h2; j++) {
        const double *r = w + p->o_w2 + (size_t)j * p->h1;
        double s = w[p->o_b2 + j];
        for (int i = 0; i < p->h1; i++)
            s += r[i] * z1[i];
        z2[j] = s > 0 ? s : 0;
        o += w[p->o_w3 + j] * z2[j];
    }
    return 1.0 / (1.0 + exp(-o));
}

/* Samples a string into x. scratch: h1 + h1 + h2 doubles. */
static void mlp_sample(const mlp_t *p, uint8_t *x, double *scratch,
                       kp_rng_t *rng)
{
    double *acc = scratch, *z1 = acc + p->h1, *z2 = z1 + p->h1;
    memcpy(acc, p->w + p->o_b1, sizeof(double) * p->h1);
    for (int t = 0; t < p->L; t++) {
        double pr = mlp_step(p, acc, t, z1, z2);
        x[t] = kp_rng_uniform(rng) < pr;
        if (x[t]) {
            const double *c = p->w + p->o_w1 + (size_t)t * p->h1;
            for (int i = 0; i < p->h1; i++)
                acc[i] += c[i];
        }
    }
}

/* Adds the gradient of the cross-entropy -sum_t log p(x_t) of string x to
   g; returns the loss. scratch: (L + 3) * h1 + 2 * h2 doubles. */
static double mlp_grad(const mlp_t *p, const uint8_t *x, double *g,
                       double *scratch)
{
    int L = p->L, h1 = p->h1, h2 = p->h2;
    double *acc = scratch, *z1 = acc + h1, *z2 = z1 + h1, *d2 = z2 + h2;
    double *d1 = d2 + h2; /* L rows of h1: delta at layer 1 per step */
    const double *w = p->w;
    double loss = 0;
    memcpy(acc, w + p->o_b1, sizeof(double) * h1);
    for (int t = 0; t < L; t++) {
        double pr = mlp_step(p, acc, t, z1, z2);
        double y = x[t] ? 1.0 : 0.0;
        loss -= y ? log(pr + 1e-12) : log(1 - pr + 1e-12);
        double dout = pr - y; /* d loss / d logit */
        g[p->o_b3] += dout;
        for (int j = 0; j < h2; j++) {
            g[p->o_w3 + j] += dout * z2[j];
            d2[j] = z2[j] > 0 ? dout * w[p->o_w3 + j] : 0;
            g[p->o_b2 + j] += d2[j];
        }
        double *dt = d1 + (size_t)t * h1;
        for (int i = 0; i < h1; i++)
            dt[i] = 0;
        for (int j = 0; j < h2; j++) {
            if (d2[j] == 0)
                continue;
            const double *r = w + p->o_w2 + (size_t)j * h1;
            double *gr = g + p->o_w2 + (size_t)j * h1;
            for (int i = 0; i < h1; i++) {
                gr[i] += d2[j] * z1[i];
                dt[i] += d2[j] * r[i];
            }
        }
        for (int i = 0; i < h1; i++)
            if (z1[i] <= 0)
                dt[i] = 0;
        if (x[t]) {
            const double *c = w + p->o_w1 + (size_t)t * h1;
            for (int i = 0; i < h1; i++)
                acc[i] += c[i];
        }
    }
    /* Bit k feeds every later step: its column gets the suffix sum of the
       deltas after k. The position column of step t gets delta_t. */
    double *suf = acc;
    for (int i = 0; i < h1; i++)
        suf[i] = 0;
    for (int t = L - 1; t >= 0; t--) {
        const double *dt = d1 + (size_t)t * h1;
        if (x[t]) {
            double *gc = g + p->o_w1 + (size_t)t * h1;
            for (int i = 0; i < h1; i++)
                gc[i] += suf[i];
        }
        double *gp = g + p->o_w1 + (size_t)(L + t) * h1;
        for (int i = 0; i < h1; i++) {
            gp[i] += dt[i];
            g[p->o_b1 + i] += dt[i];
            suf[i] += dt[i];
        }
    }
    return loss;
}

static void mlp_adam(mlp_t *p, const double *g, double scale, double lr)
{
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    p->step++;
    double c1 = 1 - pow(b1, (double)p->step), c2 = 1 - pow(b2, (double)p->step);
    for (size_t i = 0; i < p->nparam; i++) {
        double gi = g[i] * scale;
        p->m[i] = b1 * p->m[i] + (1 - b1) * gi;
        p->v[i] = b2 * p->v[i] + (1 - b2) * gi * gi;
        p->w[i] -= lr * (p->m[i] / c1) / (sqrt(p->v[i] / c2) + eps);
    }
}

/* ---- The driver ----------------------------------------------------- */

typedef struct {
    double s;
    int idx;
} rank_t;

static int cmp_rank(const void *a, const void *b)
{
    const rank_t *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return x->idx - y->idx;
}

/* 1 when a budget is spent after gens generations, evals score calls and
   secs seconds. */
static int cem_spent(const kp_cem_params_t *p, long gens, long evals,
                     double secs)
{
    return (p->max_gens > 0 && gens >= p->max_gens) ||
           (p->max_evals > 0 && evals >= p->max_evals) ||
           (p->seconds > 0 && secs >= p->seconds);
}

static void *ws_alloc(size_t sz)
{
    if (sz == 0)
        return NULL;
    size_t r = (sz + 63) / 64 * 64;
    void *p = aligned_alloc(64, r);
    if (p)
        memset(p, 0, r);
    return p;
}

int kp_cem_run(kp_cem_result_t *r, const kp_problem_t *pb, int n,
               const kp_cem_params_t *p, const kp_rng_t *rng,
               kp_error_t *err)
{
    memset(r, 0, sizeof *r);
    r->best_score = -HUGE_VAL;
    r->seconds_to_target = -1;
    if (!pb || n < pb->n_min || n > pb->n_max)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "size %d outside the problem's range", n);
    size_t L = pb->length(n);
    if (L < 1 || L > (1u << 20) || p->batch < 2 || p->hidden1 < 1 ||
        p->hidden2 < 1 || !(p->elite_frac > 0 && p->elite_frac <= 1) ||
        !(p->super_frac >= 0 && p->super_frac <= 1) || !(p->lr > 0) ||
        p->polish < 0 || p->train_steps < 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "bad cross-entropy parameters");
    double t0 = now_s();
    int nthreads = p->threads > 0 ? p->threads : omp_get_max_threads();
    int ls_steps = p->ls_steps > 0 ? p->ls_steps : 3 * (int)L;
    int B = p->batch;
    int nsuper = (int)ceil(p->super_frac * B);
    int npol = p->polish;
    int nall = B + nsuper + npol; /* rows: samples, super, polished */
    size_t wsz = pb->ws_size ? pb->ws_size(n) : 0;
    int h1 = p->hidden1, h2 = p->hidden2;
    size_t scr_n = ((size_t)L + 3) * h1 + 2 * (size_t)h2;

    kp_rng_t master = *rng, init_rng;
    int rank = kp_mpi_rank(), nranks = kp_mpi_size();
    if (rank > 0) /* each rank its own population */
        kp_rng_split(&master, &master, 0xCE1000ULL + (uint64_t)rank);
    r->rank = rank;
    r->nranks = nranks;
    kp_rng_split(&init_rng, &master, 0xCE0000ULL);
    mlp_t net;
    int rc = KP_OK;
    uint8_t *xs = malloc(L * (size_t)nall), *sup = malloc(L * (size_t)(nsuper + 1));
    double *sc = malloc(sizeof(double) * (size_t)nall),
           *supsc = malloc(sizeof(double) * (size_t)(nsuper + 1));
    rank_t *rk = malloc(sizeof(rank_t) * (size_t)nall);
    double *grad = NULL, *scr = NULL;
    void **ws = calloc((size_t)nthreads, sizeof(void *));
    r->best = calloc(L, 1);
    r->len = L;
    int nsup_have = 0;
    long evals = 0, start = 0;
    kpi_cem_run_t run = {pb,   n,     L,      p, rng,    &net,
                         sup,  supsc, &nsup_have, nsuper, r, &evals,
                         rank, nranks};
    int net_bad = mlp_init(&net, (int)L, h1, h2, &init_rng);
    if (!net_bad) {
        double d = p->init_density > 0 && p->init_density < 1
                       ? p->init_density
                   : pb->kind == KP_OBJ_GRAPH && n > 6 ? 3.0 / n
                                                       : 0.5;
        net.w[net.o_b3] = log(d / (1 - d));
    }
    if (net_bad || !xs || !sup || !sc ||
        !supsc || !rk || !ws || !r->best) {
        rc = kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        goto agree;
    }
    grad = calloc(net.nparam * NCHUNK, sizeof(double));
    scr = malloc(sizeof(double) * scr_n * (size_t)nthreads);
    if (!grad || !scr) {
        rc = kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        goto agree;
    }
    for (int t = 0; t < nthreads; t++)
        if (wsz && !(ws[t] = ws_alloc(wsz))) {
            rc = kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
            goto agree;
        }

agree:
    if ((rc = kp_mpi_agree(rc, err)) != KP_OK)
        goto done;
    if (p->resume != NULL) {
        if ((rc = kpi_cem_load(&run, p->resume, err)) != KP_OK) {
            r->gens = 0;
            goto done;
        }
        start = r->resumed_gens = r->gens;
        t0 -= r->seconds;
    }
    double last_ck = -INFINITY;
    /* Stops are decided between generations, by all ranks together:
       budgets count the score calls of all ranks. */
    long total = evals;
    kp_mpi_sum_long(&total, 1);
    int f0[3] = {r->reached, cem_spent(p, start, total, now_s() - t0),
                 p->stop && *p->stop};
    kp_mpi_max_int(f0, 3);
    r->interrupted = !f0[0] && !f0[1] && f0[2];
    int done = f0[0] || f0[1] || f0[2];
    for (long gen = start; !done; gen++) {
        /* Sample and score. */
#pragma omp parallel for schedule(dynamic, 4) num_threads(nthreads)
        for (int i = 0; i < B; i++) {
            int tid = omp_get_thread_num();
            kp_rng_t sr;
            kp_rng_split(&sr, &master, ((uint64_t)gen << 24) + (uint64_t)i);
            mlp_sample(&net, xs + (size_t)i * L, scr + scr_n * tid, &sr);
            sc[i] = score_of(pb, xs + (size_t)i * L, n, ws[tid]);
        }
        evals += B;
        /* Polish the best new samples. */
        for (int i = 0; i < B; i++)
            rk[i] = (rank_t){sc[i], i};
        qsort(rk, (size_t)B, sizeof(rank_t), cmp_rank);
        long pev = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) \
    reduction(+ : pev)
        for (int j = 0; j < npol; j++) {
            int tid = omp_get_thread_num();
            kp_rng_t sr;
            kp_rng_split(&sr, &master,
                         ((uint64_t)gen << 24) + (1u << 23) + (uint64_t)j);
            uint8_t *y = xs + (size_t)(B + nsuper + j) * L;
            /* Polish a top sample, or with some chance a carried-over
               elite, so good basins get deepened across generations. */
            const uint8_t *src = xs + (size_t)rk[j % B].idx * L;
            if (nsup_have > 0 && kp_rng_uniform(&sr) < 0.5)
                src = sup + (size_t)kp_rng_below(&sr, (uint64_t)nsup_have) * L;
            memcpy(y, src, L);
            sc[B + nsuper + j] =
                kp_cem_tabu(y, pb, n, ls_steps, ws[tid], &sr, &pev);
        }
        evals += pev;
        /* Rows B..B+nsuper-1: the super set carried from before. */
        for (int j = 0; j < nsuper; j++) {
            if (j < nsup_have) {
                memcpy(xs + (size_t)(B + j) * L, sup + (size_t)j * L, L);
                sc[B + j] = supsc[j];
            } else {
                sc[B + j] = -HUGE_VAL;
            }
        }
        for (int i = 0; i < nall; i++)
            rk[i] = (rank_t){sc[i], i};
        qsort(rk, (size_t)nall, sizeof(rank_t), cmp_rank);
        /* Best so far, verified when it may meet the target. */
        if (rk[0].s > r->best_score) {
            const uint8_t *bx = xs + (size_t)rk[0].idx * L;
            memcpy(r->best, bx, L);
            r->best_score = rk[0].s;
            kp_problem_msg_t m;
            r->verified = pb->verify(bx, n, ws[0], &m) == KP_PROBLEM_OK;
            if (p->has_target && r->verified && r->best_score >= p->target &&
                !r->reached) {
                r->reached = 1;
                r->seconds_to_target = now_s() - t0;
            }
        }
        /* New super set: the best distinct rows. */
        int ns = 0;
        for (int i = 0; i < nall && ns < nsuper; i++) {
            if (rk[i].s == -HUGE_VAL)
                break;
            const uint8_t *x = xs + (size_t)rk[i].idx * L;
            int dup = 0;
            for (int j = 0; j < ns && !dup; j++)
                dup = !memcmp(sup + (size_t)j * L, x, L);
            if (dup)
                continue;
            memcpy(sup + (size_t)ns * L, x, L);
            supsc[ns++] = rk[i].s;
        }
        nsup_have = ns;
        /* Train on the elites: top elite_frac of the samples plus the
           super set and the polished strings (all of rank order). */
        int ne = (int)ceil(p->elite_frac * B) + nsuper + npol;
        if (ne > nall)
            ne = nall;
        while (ne > 0 && rk[ne - 1].s == -HUGE_VAL)
            ne--;
        for (int step = 0; step < p->train_steps && ne > 0; step++) {
            memset(grad, 0, sizeof(double) * net.nparam * NCHUNK);
#pragma omp parallel for schedule(static, 1) num_threads(nthreads)
            for (int c = 0; c < NCHUNK; c++) {
                int tid = omp_get_thread_num();
                for (int e = c; e < ne; e += NCHUNK)
                    mlp_grad(&net, xs + (size_t)rk[e].idx * L,
                             grad + net.nparam * c, scr + scr_n * tid);
            }
            for (int c = 1; c < NCHUNK; c++)
                for (size_t i = 0; i < net.nparam; i++)
                    grad[i] += grad[net.nparam * c + i];
            mlp_adam(&net, grad, 1.0 / ((double)ne * (double)L), p->lr);
        }
        r->gens = gen + 1;
        r->evals = evals;
        kpi_cem_exchange(&run, gen);
        double secs = now_s() - t0;
        total = evals;
        kp_mpi_sum_long(&total, 1);
        int halt = 0;
        if (!r->reached && p->progress) {
            kp_cem_progress_t pr = {gen + 1, total, secs, r->best_score,
                                    r->verified};
            halt = p->progress(p->progress_ctx, &pr) != 0;
        }
        /* reached, progress said stop, budget spent, stop flag,
           checkpoint due (rank 0's clock) */
        int f[5] = {r->reached, halt, cem_spent(p, gen + 1, total, secs),
                    p->stop && *p->stop,
                    rank == 0 && p->checkpoint != NULL &&
                        (p->checkpoint_every <= 0 ||
                         secs - last_ck >= p->checkpoint_every)};
        kp_mpi_max_int(f, 5);
        r->interrupted = !f[0] && (f[1] || (!f[2] && f[3]));
        done = f[0] || f[1] || f[2] || f[3];
        if (p->checkpoint != NULL && (done || f[4])) {
            r->seconds = secs;
            if ((rc = kpi_cem_save(&run, p->checkpoint, err)) != KP_OK)
                break;
            r->checkpoints++;
            last_ck = secs;
        }
    }
    if (rc == KP_OK)
        kpi_cem_finish(&run);
done:
    r->seconds = now_s() - t0;
    if (ws)
        for (int t = 0; t < nthreads; t++)
            free(ws[t]);
    free(ws);
    free(grad);
    free(scr);
    free(xs);
    free(sup);
    free(sc);
    free(supsc);
    free(rk);
    mlp_clear(&net);
    /* A failed checkpoint write after some generations keeps the best so
       far (r still describes the run); other failures leave no result. */
    if (rc != KP_OK && r->gens <= r->resumed_gens) {
        free(r->best);
        r->best = NULL;
    }
    return rc;
}
