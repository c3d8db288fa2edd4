/* kp_cem_io.c: checkpoints of a cross-entropy run and its exchanges
   between ranks (kp_cem_impl.h).

   Checkpoint payload (kp_ckpt.h format, magic KEPLERCE), in order:
     problem name, n, string length; the caller's stream (the seed); the
     shaping parameters; rank, ranks; generations, score calls, seconds;
     the best string (bit-packed) with its score, verified and reached
     flags and time to target; the super set (strings and scores); the
     policy: parameter count, Adam step, weights, first and second
     moments. */
#include "kp_cem_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kp_ckpt.h"
#include "kp_mpi.h"

#define CEM_CK_VERSION 1u
#define CEM_CK_NPARAM 11

static void shaping(const kp_cem_params_t *p, double *v)
{
    double w[CEM_CK_NPARAM] = {p->batch,       p->elite_frac,   p->super_frac,
                               p->hidden1,     p->hidden2,      p->lr,
                               p->train_steps, p->init_density, p->polish,
                               p->ls_steps,    p->topology};
    memcpy(v, w, sizeof w);
}

static const char *const shaping_names[CEM_CK_NPARAM] = {
    "batch",
    "elite fraction",
    "super fraction",
    "hidden size 1",
    "hidden size 2",
    "learning rate",
    "training steps",
    "initial density",
    "polished strings",
    "tabu moves",
    "topology (0 ring, 1 random)"};

static int serialise(kp_ck_wbuf_t *b, const kpi_cem_run_t *run)
{
    const kp_cem_result_t *r = run->r;
    const mlp_t *net = run->net;
    kp_ck_begin(b, KP_CK_MAGIC_CEM, CEM_CK_VERSION);
    size_t nl = strlen(run->pb->name);
    kp_ck_put_u32(b, (uint32_t)nl);
    kp_ck_put_bytes(b, run->pb->name, nl);
    kp_ck_put_i32(b, run->n);
    kp_ck_put_u64(b, run->L);
    kp_ck_put_rng(b, run->seed);
    double v[CEM_CK_NPARAM];
    shaping(run->p, v);
    for (int k = 0; k < CEM_CK_NPARAM; k++)
        kp_ck_put_f64(b, v[k]);
    kp_ck_put_i32(b, run->rank);
    kp_ck_put_i32(b, run->nranks);
    kp_ck_put_i64(b, r->gens);
    kp_ck_put_i64(b, *run->evals);
    kp_ck_put_f64(b, r->seconds);
    kp_ck_put_f64(b, r->best_score);
    kp_ck_put_i32(b, r->verified);
    kp_ck_put_i32(b, r->reached);
    kp_ck_put_f64(b, r->seconds_to_target);
    kp_ck_put_bits(b, r->best, run->L);
    kp_ck_put_i32(b, *run->nsup);
    for (int j = 0; j < *run->nsup; j++) {
        kp_ck_put_bits(b, run->sup + (size_t)j * run->L, run->L);
        kp_ck_put_f64(b, run->supsc[j]);
    }
    kp_ck_put_u64(b, net->nparam);
    kp_ck_put_i64(b, net->step);
    for (size_t i = 0; i < net->nparam; i++) {
        kp_ck_put_f64(b, net->w[i]);
        kp_ck_put_f64(b, net->m[i]);
        kp_ck_put_f64(b, net->v[i]);
    }
    return kp_ck_end(b);
}

int kpi_cem_save(const kpi_cem_run_t *run, const char *path, kp_error_t *err)
{
    kp_ck_wbuf_t b = {0};
    int rc = serialise(&b, run);
    char *file = kp_ck_rank_path(path, run->rank, run->nranks, NULL);
    if (rc != KP_OK || file == NULL)
        rc = kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    else
        rc = kp_ck_write(file, b.p, b.n, run->nranks > 1, err);
    free(file);
    free(b.p);
    return kp_mpi_agree(rc, err);
}

static int load_file(const char *file, void *ctx, int *round, kp_error_t *err)
{
    kpi_cem_run_t *run = ctx;
    kp_cem_result_t *r = run->r;
    mlp_t *net = run->net;
    size_t L = run->L, n = 0;
    int e = 0, rc = KP_OK;
    unsigned char *buf = kp_ck_read(file, &n, &e);
    kp_ck_rbuf_t rb;
#define CK_FAIL(...)                                                           \
    do {                                                                       \
        rc = kp_error_set(err, KP_EINPUT, file, 0, 0, __VA_ARGS__);            \
        goto done;                                                             \
    } while (0)
    if (buf == NULL)
        CK_FAIL("cannot read checkpoint: %s", strerror(e));
    if ((rc = kp_ck_open(&rb, buf, n, KP_CK_MAGIC_CEM, CEM_CK_VERSION, file,
                         err)) != KP_OK)
        goto done;
    uint32_t nl = kp_ck_get_u32(&rb);
    const unsigned char *name = nl < 256 ? kp_ck_take(&rb, nl) : NULL;
    if (name == NULL)
        CK_FAIL("corrupt checkpoint (inconsistent contents)");
    if (nl != strlen(run->pb->name) || memcmp(name, run->pb->name, nl) != 0)
        CK_FAIL("checkpoint was made for problem '%.*s', this run is '%s'",
                (int)nl, (const char *)name, run->pb->name);
    int cn = kp_ck_get_i32(&rb);
    if (cn != run->n)
        CK_FAIL("checkpoint was made with --n %d, this run has --n %d", cn,
                run->n);
    if (kp_ck_get_u64(&rb) != L)
        CK_FAIL("checkpoint was made by another version of problem '%s' "
                "(objects differ)",
                run->pb->name);
    kp_rng_t seed;
    kp_ck_get_rng(&rb, &seed);
    if (memcmp(&seed, run->seed, sizeof seed) != 0)
        CK_FAIL("checkpoint was made with another seed");
    double v[CEM_CK_NPARAM];
    shaping(run->p, v);
    for (int k = 0; k < CEM_CK_NPARAM; k++) {
        double s = kp_ck_get_f64(&rb);
        if (!(s == v[k]) && !rb.bad)
            CK_FAIL("checkpoint was made with %s %.17g, this run has %.17g",
                    shaping_names[k], s, v[k]);
    }
    int rank = kp_ck_get_i32(&rb), nranks = kp_ck_get_i32(&rb);
    if (!rb.bad && (rank != run->rank || nranks != run->nranks))
        CK_FAIL("checkpoint was made by rank %d of %d, this is rank %d of %d",
                rank, nranks, run->rank, run->nranks);
    int64_t gens = kp_ck_get_i64(&rb), evals = kp_ck_get_i64(&rb);
    if (gens < 0 || gens > ((int64_t)1 << 40) || evals < 0)
        rb.bad = 1;
    r->gens = (long)gens;
    *run->evals = (long)evals;
    r->evals = (long)evals;
    r->seconds = kp_ck_get_f64(&rb);
    r->best_score = kp_ck_get_f64(&rb);
    r->verified = kp_ck_get_range(&rb, 0, 1);
    r->reached = kp_ck_get_range(&rb, 0, 1);
    r->seconds_to_target = kp_ck_get_f64(&rb);
    kp_ck_get_bits(&rb, r->best, L);
    *run->nsup = kp_ck_get_range(&rb, 0, run->nsuper);
    for (int j = 0; j < *run->nsup && !rb.bad; j++) {
        kp_ck_get_bits(&rb, run->sup + (size_t)j * L, L);
        run->supsc[j] = kp_ck_get_f64(&rb);
    }
    if (kp_ck_get_u64(&rb) != net->nparam)
        rb.bad = 1;
    net->step = (long)kp_ck_get_i64(&rb);
    for (size_t i = 0; i < net->nparam && !rb.bad; i++) {
        net->w[i] = kp_ck_get_f64(&rb);
        net->m[i] = kp_ck_get_f64(&rb);
        net->v[i] = kp_ck_get_f64(&rb);
    }
    if (rb.bad || rb.pos != rb.n || !(r->seconds >= 0) || net->step < 0)
        CK_FAIL("corrupt checkpoint (inconsistent contents)");
    *round = gens > (1 << 30) ? 1 << 30 : (int)gens;
done:
#undef CK_FAIL
    free(buf);
    return rc;
}

int kpi_cem_load(kpi_cem_run_t *run, const char *path, kp_error_t *err)
{
    return kp_ck_load_ranks(path, run->rank, run->nranks, load_file, run, err);
}

/* Super-set rows by decreasing score; ties keep their order. */
typedef struct {
    double s;
    int idx;
} cem_row_t;

static int cmp_row(const void *a, const void *b)
{
    const cem_row_t *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return x->idx - y->idx;
}

void kpi_cem_exchange(kpi_cem_run_t *run, long gen)
{
    int S = run->nsuper;
    size_t L = run->L;
    if (run->nranks < 2 || S < 1)
        return;
    /* Block: count, then S scores, then S strings (unused rows zero). */
    size_t block = sizeof(int) + (size_t)S * (sizeof(double) + L);
    unsigned char *out = calloc(2, block);
    uint8_t *pool = malloc(2 * (size_t)S * L);
    cem_row_t *rows = malloc(sizeof *rows * 2 * (size_t)S);
    if (kp_mpi_any(!out || !pool || !rows)) {
        free(out);
        free(pool);
        free(rows);
        return;
    }
    unsigned char *in = out + block;
    memcpy(out, run->nsup, sizeof(int));
    memcpy(out + sizeof(int), run->supsc, sizeof(double) * (size_t)*run->nsup);
    memcpy(out + sizeof(int) + sizeof(double) * (size_t)S, run->sup,
           L * (size_t)*run->nsup);
    uint64_t seed = run->seed->s[0] ^ run->seed->s[1];
    if (kp_mpi_migrate(in, out, block, 1, run->p->topology, seed, (uint64_t)gen,
                       &run->r->migrated_bytes) == 0) {
        int got;
        memcpy(&got, in, sizeof(int));
        if (got < 0 || got > S)
            got = 0;
        int m = 0;
        for (int j = 0; j < *run->nsup; j++, m++) {
            memcpy(pool + (size_t)m * L, run->sup + (size_t)j * L, L);
            rows[m] = (cem_row_t){run->supsc[j], m};
        }
        for (int j = 0; j < got; j++, m++) {
            memcpy(pool + (size_t)m * L,
                   in + sizeof(int) + sizeof(double) * (size_t)S +
                       (size_t)j * L,
                   L);
            double s;
            memcpy(&s, in + sizeof(int) + sizeof(double) * (size_t)j, sizeof s);
            rows[m] = (cem_row_t){s, m};
        }
        qsort(rows, (size_t)m, sizeof *rows, cmp_row);
        int ns = 0;
        for (int i = 0; i < m && ns < S; i++) {
            const uint8_t *x = pool + (size_t)rows[i].idx * L;
            int dup = 0;
            for (int j = 0; j < ns && !dup; j++)
                dup = !memcmp(run->sup + (size_t)j * L, x, L);
            if (dup)
                continue;
            memcpy(run->sup + (size_t)ns * L, x, L);
            run->supsc[ns++] = rows[i].s;
        }
        *run->nsup = ns;
    }
    free(out);
    free(pool);
    free(rows);
}

void kpi_cem_finish(kpi_cem_run_t *run)
{
    kp_cem_result_t *r = run->r;
    long ev = r->evals;
    kp_mpi_sum_long(&ev, 1);
    if (run->nranks < 2)
        return;
    r->evals = ev;
    int any = kp_mpi_any(r->reached), who;
    kp_mpi_maxloc(r->best_score, &who);
    kp_mpi_bcast(r->best, run->L, who);
    double d[2] = {r->best_score, r->seconds_to_target};
    kp_mpi_bcast(d, sizeof d, who);
    int f[2] = {r->verified, r->reached};
    kp_mpi_bcast(f, sizeof f, who);
    r->best_score = d[0];
    r->seconds_to_target = d[1];
    r->verified = f[0];
    r->reached = any;
}
