/* kp_csearch_io.c: checkpoints of a construction search and the merge of
   its islands over ranks (kp_csearch_impl.h).

   Checkpoint payload (kp_ckpt.h format, magic KEPLERCS), in order:
     problem name, n, object length, feature count, feature and grammar
     fingerprints; seed and the shaping parameters; rank, ranks; rounds,
     objects built, seconds; the best object (bit-packed) and program;
     per island: RNG stream, programs (expression, loss, complexity, hash,
     score, object hash), used fitness-cache entries, the two local-search
     trajectories, the polish bookkeeping, the island's best object and
     its group, and the symmetric search (kp_symsearch.h): groups started,
     idle steps, and when running its group, counters, best union, tabu
     list and member orbits in order (the rest is derived from these). */
#include "kp_csearch_impl.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "kp_ckpt.h"
#include "kp_mpi.h"

#define CS_CK_VERSION 2u
#define CS_CK_NPARAM 8

/* The parameters that shape the trajectory; budgets, target, threads and
   callbacks may change between runs. */
static void shaping(const kp_cs_params_t *p, int *v)
{
    int w[CS_CK_NPARAM] = {p->method,      p->islands,    p->population,
                           p->generations, p->tournament, p->local_moves,
                           p->sym_moves,   p->topology};
    memcpy(v, w, sizeof w);
}

static const char *const shaping_names[CS_CK_NPARAM] = {
    "method",     "islands",     "population",      "generations",
    "tournament", "local moves", "symmetric steps", "topology"};

/* Parameter k's value v as the user wrote it. */
static const char *shaping_text(char *buf, size_t n, int k, int v)
{
    if (k == 0)
        return v == KP_CS_PROGRAM     ? "program"
               : v == KP_CS_LOCAL     ? "local"
               : v == KP_CS_SYMMETRIC ? "symmetric"
                                      : "?";
    if (k == CS_CK_NPARAM - 1)
        return kp_topology_name(v);
    snprintf(buf, n, "%d", v);
    return buf;
}

void kpi_cs_fingerprints(kpi_cs_run_t *run)
{
    const cs_ctx_t *c = run->c;
    run->grammar_fp = c->g != NULL ? kp_ck_grammar_fingerprint(c->g) : 0;
    run->features_fp = 0;
    if (run->nfeatures > 0) {
        XXH3_state_t *s = XXH3_createState();
        if (s == NULL)
            return;
        XXH3_64bits_reset(s);
        for (int f = 0; f < run->nfeatures; f++)
            XXH3_64bits_update(s, c->cols[f], sizeof(double) * c->len);
        run->features_fp = XXH3_64bits_digest(s);
        XXH3_freeState(s);
    }
}

static void put_local(kp_ck_wbuf_t *b, const cs_local_t *ls, size_t len)
{
    kp_ck_put_i32(b, ls->have_cur);
    kp_ck_put_bits(b, ls->cur, len);
    kp_ck_put_f64(b, ls->cur_score);
    kp_ck_put_i64(b, ls->stagnant);
    kp_ck_put_bits(b, ls->best, len);
    kp_ck_put_f64(b, ls->best_score);
}

static void get_local(kp_ck_rbuf_t *r, cs_local_t *ls, size_t len)
{
    ls->have_cur = kp_ck_get_range(r, 0, 1);
    kp_ck_get_bits(r, ls->cur, len);
    ls->cur_score = kp_ck_get_f64(r);
    ls->stagnant = (long)kp_ck_get_i64(r);
    kp_ck_get_bits(r, ls->best, len);
    ls->best_score = kp_ck_get_f64(r);
}

static void put_sym(kp_ck_wbuf_t *b, const cs_island_t *isl)
{
    kp_ck_put_i32(b, isl->best_sym);
    kp_ck_put_i32(b, isl->sym_turn);
    kp_ck_put_i64(b, isl->sym_idle);
    kp_ck_put_i32(b, isl->have_sym);
    if (!isl->have_sym)
        return;
    const kp_sym_t *s = &isl->sym;
    kp_ck_put_i32(b, s->group);
    kp_ck_put_u64(b, s->step);
    kp_ck_put_u64(b, s->last_gain);
    kp_ck_put_u64(b, s->last_best);
    kp_ck_put_u64(b, s->traj_best);
    kp_ck_put_u64(b, s->best_size);
    kp_ck_put_bits(b, s->best, s->norb);
    for (uint32_t o = 0; o < s->norb; o++)
        kp_ck_put_u64(b, s->tabu[o]);
    kp_ck_put_u32(b, s->nmem);
    for (uint32_t i = 0; i < s->nmem; i++)
        kp_ck_put_u32(b, s->mem[i]);
}

/* Restores the symmetric search of isl (allocated for a fresh run); sets
   r->bad on inconsistent contents. */
static void get_sym(kp_ck_rbuf_t *r, cs_island_t *isl, const cs_ctx_t *c)
{
    int ng = c->p->nsymmetries ? c->p->nsymmetries(c->n) : 0;
    isl->best_sym = kp_ck_get_range(r, -1, ng - 1);
    isl->sym_turn = kp_ck_get_range(r, 0, 1 << 30);
    isl->sym_idle = (long)kp_ck_get_i64(r);
    int have = kp_ck_get_range(r, 0, ng > 0 ? 1 : 0);
    if (!have || r->bad)
        return;
    int g = kp_ck_get_range(r, 0, ng - 1);
    if (r->bad ||
        kp_sym_init(&isl->sym, c->p, c->n, g, isl->ws, NULL) != KP_OK) {
        r->bad = 1;
        return;
    }
    isl->have_sym = 1;
    kp_sym_t *s = &isl->sym;
    s->step = kp_ck_get_u64(r);
    s->last_gain = kp_ck_get_u64(r);
    s->last_best = kp_ck_get_u64(r);
    s->traj_best = kp_ck_get_u64(r);
    s->best_size = kp_ck_get_u64(r);
    kp_ck_get_bits(r, s->best, s->norb);
    for (uint32_t o = 0; o < s->norb; o++)
        s->tabu[o] = kp_ck_get_u64(r);
    uint32_t nm = kp_ck_get_u32(r);
    if (r->bad || nm > s->norb) {
        r->bad = 1;
        return;
    }
    for (uint32_t i = 0; i < nm && !r->bad; i++)
        if (kp_sym_add(s, kp_ck_get_u32(r)) != KP_OK)
            r->bad = 1;
}

static int cache_used(const cs_cache_t *ce)
{
    return ce->key != 0 || ce->score != 0 || ce->phash != 0;
}

static int serialise(kp_ck_wbuf_t *b, const kpi_cs_run_t *run)
{
    const cs_ctx_t *c = run->c;
    const kp_cs_params_t *p = c->prm;
    const kp_cs_result_t *r = run->r;
    size_t len = c->len;
    kp_ck_begin(b, KP_CK_MAGIC_CS, CS_CK_VERSION);
    size_t nl = strlen(c->p->name);
    kp_ck_put_u32(b, (uint32_t)nl);
    kp_ck_put_bytes(b, c->p->name, nl);
    kp_ck_put_i32(b, c->n);
    kp_ck_put_u64(b, len);
    kp_ck_put_i32(b, run->nfeatures);
    kp_ck_put_u64(b, run->features_fp);
    kp_ck_put_u64(b, run->grammar_fp);
    kp_ck_put_u64(b, p->seed);
    int v[CS_CK_NPARAM];
    shaping(p, v);
    for (int k = 0; k < CS_CK_NPARAM; k++)
        kp_ck_put_i32(b, v[k]);
    kp_ck_put_i32(b, run->rank);
    kp_ck_put_i32(b, run->nranks);
    kp_ck_put_i32(b, r->rounds);
    kp_ck_put_i64(b, r->evaluations);
    kp_ck_put_f64(b, r->seconds);
    kp_ck_put_i32(b, r->have);
    kp_ck_put_f64(b, r->score.value);
    kp_ck_put_bits(b, r->best, len);
    kp_ck_put_i32(b, r->sym_group);
    kp_ck_put_i32(b, r->have_program);
    if (r->have_program) {
        kp_ck_put_expr(b, &r->program);
        kp_ck_put_f64(b, r->program_score);
    }
    for (int i = 0; i < p->islands; i++) {
        const cs_island_t *isl = &run->isl[i];
        kp_ck_put_rng(b, &isl->rng);
        kp_ck_put_i32(b, isl->n);
        for (int k = 0; k < isl->n; k++) {
            kp_ck_put_indiv(b, &isl->pop[k].ind);
            kp_ck_put_f64(b, isl->pop[k].score);
            kp_ck_put_u64(b, isl->pop[k].phash);
        }
        /* A cache hit skips a build (and its count in the budget), so the
           cache is part of the state. */
        int used = 0;
        size_t ncache = isl->cache ? (size_t)1 << CS_CACHE_BITS : 0;
        for (size_t k = 0; k < ncache; k++)
            used += cache_used(&isl->cache[k]);
        kp_ck_put_i32(b, used);
        for (size_t k = 0; k < ncache; k++) {
            const cs_cache_t *ce = &isl->cache[k];
            if (!cache_used(ce))
                continue;
            kp_ck_put_u32(b, (uint32_t)k);
            kp_ck_put_u64(b, ce->key);
            kp_ck_put_f64(b, ce->score);
            kp_ck_put_u64(b, ce->phash);
        }
        put_local(b, &isl->ls, len);
        put_local(b, &isl->ps, len);
        kp_ck_put_f64(b, isl->polished);
        kp_ck_put_i64(b, isl->ps_left);
        kp_ck_put_i32(b, isl->have_best);
        kp_ck_put_bits(b, isl->best, len);
        kp_ck_put_f64(b, isl->best_score);
        put_sym(b, isl);
    }
    return kp_ck_end(b);
}

int kpi_cs_save(const kpi_cs_run_t *run, const char *path, kp_error_t *err)
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

/* kp_ck_load_fn for one file. */
static int load_file(const char *file, void *ctx, int *round, kp_error_t *err)
{
    kpi_cs_run_t *run = ctx;
    const cs_ctx_t *c = run->c;
    const kp_cs_params_t *p = c->prm;
    kp_cs_result_t *r = run->r;
    size_t len = c->len, n = 0;
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
    if ((rc = kp_ck_open(&rb, buf, n, KP_CK_MAGIC_CS, CS_CK_VERSION, file,
                         err)) != KP_OK)
        goto done;
    uint32_t nl = kp_ck_get_u32(&rb);
    const unsigned char *name = nl < 256 ? kp_ck_take(&rb, nl) : NULL;
    if (name == NULL)
        CK_FAIL("corrupt checkpoint (inconsistent contents)");
    if (nl != strlen(c->p->name) || memcmp(name, c->p->name, nl) != 0)
        CK_FAIL("checkpoint was made for problem '%.*s', this run is '%s'",
                (int)nl, (const char *)name, c->p->name);
    int cn = kp_ck_get_i32(&rb);
    if (cn != c->n)
        CK_FAIL("checkpoint was made with --n %d, this run has --n %d", cn,
                c->n);
    /* Read first, compared below from the most to the least telling. */
    uint64_t clen = kp_ck_get_u64(&rb);
    int cnf = kp_ck_get_i32(&rb);
    uint64_t ffp = kp_ck_get_u64(&rb), gfp = kp_ck_get_u64(&rb);
    if (kp_ck_get_u64(&rb) != p->seed)
        CK_FAIL("checkpoint was made with another seed");
    int v[CS_CK_NPARAM];
    shaping(p, v);
    for (int k = 0; k < CS_CK_NPARAM; k++) {
        int s = kp_ck_get_i32(&rb);
        char b1[16], b2[16];
        if (s != v[k] && !rb.bad)
            CK_FAIL("checkpoint was made with %s %s, this run has %s",
                    shaping_names[k], shaping_text(b1, sizeof b1, k, s),
                    shaping_text(b2, sizeof b2, k, v[k]));
    }
    if (clen != len || cnf != run->nfeatures || ffp != run->features_fp)
        CK_FAIL("checkpoint was made by another version of problem '%s' "
                "(objects or features differ)",
                c->p->name);
    if (gfp != run->grammar_fp)
        CK_FAIL("checkpoint was made with another grammar");
    int rank = kp_ck_get_i32(&rb), nranks = kp_ck_get_i32(&rb);
    if (!rb.bad && (rank != run->rank || nranks != run->nranks))
        CK_FAIL("checkpoint was made by rank %d of %d, this is rank %d of %d",
                rank, nranks, run->rank, run->nranks);
    r->rounds = kp_ck_get_range(&rb, 0, 1 << 30);
    r->evaluations = (long)kp_ck_get_i64(&rb);
    r->seconds = kp_ck_get_f64(&rb);
    r->have = kp_ck_get_range(&rb, 0, 1);
    r->score.value = kp_ck_get_f64(&rb);
    kp_ck_get_bits(&rb, r->best, len);
    r->sym_group = kp_ck_get_range(&rb, -1, 1 << 20);
    r->have_program = kp_ck_get_range(&rb, 0, 1);
    if (r->have_program) {
        kp_ck_get_expr(&rb, &r->program);
        r->program_score = kp_ck_get_f64(&rb);
    } else {
        r->program_score = -INFINITY;
    }
    if (r->evaluations < 0 || !(r->seconds >= 0))
        rb.bad = 1;
    for (int i = 0; i < p->islands && !rb.bad; i++) {
        cs_island_t *isl = &run->isl[i];
        kp_ck_get_rng(&rb, &isl->rng);
        isl->n = kp_ck_get_range(&rb, 0, isl->pop ? p->population : 0);
        for (int k = 0; k < isl->n && !rb.bad; k++) {
            kp_ck_get_indiv(&rb, &isl->pop[k].ind);
            isl->pop[k].score = kp_ck_get_f64(&rb);
            isl->pop[k].phash = kp_ck_get_u64(&rb);
        }
        int ncache = isl->cache ? 1 << CS_CACHE_BITS : 0;
        int used = kp_ck_get_range(&rb, 0, ncache);
        if (isl->cache)
            memset(isl->cache, 0, sizeof(cs_cache_t) << CS_CACHE_BITS);
        for (int k = 0; k < used && !rb.bad; k++) {
            uint32_t at = kp_ck_get_u32(&rb);
            if (at >= (uint32_t)ncache) {
                rb.bad = 1;
                break;
            }
            isl->cache[at].key = kp_ck_get_u64(&rb);
            isl->cache[at].score = kp_ck_get_f64(&rb);
            isl->cache[at].phash = kp_ck_get_u64(&rb);
        }
        get_local(&rb, &isl->ls, len);
        get_local(&rb, &isl->ps, len);
        isl->polished = kp_ck_get_f64(&rb);
        isl->ps_left = (long)kp_ck_get_i64(&rb);
        isl->have_best = kp_ck_get_range(&rb, 0, 1);
        kp_ck_get_bits(&rb, isl->best, len);
        isl->best_score = kp_ck_get_f64(&rb);
        get_sym(&rb, isl, c);
        isl->evals = 0;
    }
    if (rb.bad || rb.pos != rb.n)
        CK_FAIL("corrupt checkpoint (inconsistent contents)");
    *round = r->rounds;
done:
#undef CK_FAIL
    free(buf);
    return rc;
}

int kpi_cs_load(kpi_cs_run_t *run, const char *path, kp_error_t *err)
{
    return kp_ck_load_ranks(path, run->rank, run->nranks, load_file, run, err);
}

/* Ranking key of a best: having one beats having none, NaN ranks last. */
static double key_of(int have, double v)
{
    if (!have)
        return -INFINITY;
    return isnan(v) || v == -INFINITY ? -DBL_MAX : v;
}

void kpi_cs_combine(kpi_cs_run_t *run, const kpi_cs_prev_t *prev, long ev)
{
    kp_cs_result_t *r = run->r;
    kp_mpi_sum_long(&ev, 1);
    r->evaluations += ev;
    if (run->nranks < 2)
        return;
    /* Every rank merged its islands into the same previous r with strict
       improvement, so the global merge in island order is: the lowest
       rank holding the largest value, when that beats the previous one. */
    int who;
    double top = kp_mpi_maxloc(key_of(r->have, r->score.value), &who);
    if (top > key_of(prev->have, prev->best)) {
        kp_mpi_bcast(r->best, run->c->len, who);
        kp_mpi_bcast(&r->score.value, sizeof r->score.value, who);
        kp_mpi_bcast(&r->sym_group, sizeof r->sym_group, who);
        r->have = 1;
    } else {
        r->have = prev->have;
        r->score.value = prev->best;
        r->sym_group = prev->sym_group;
    }
    top = kp_mpi_maxloc(key_of(r->have_program, r->program_score), &who);
    if (top > key_of(prev->have_program, prev->program)) {
        /* Ranks are homogeneous: the expression travels as raw bytes. */
        kp_mpi_bcast(&r->program, sizeof r->program, who);
        kp_mpi_bcast(&r->program_score, sizeof r->program_score, who);
        r->have_program = 1;
    } else {
        r->have_program = prev->have_program;
        r->program_score = prev->program;
    }
}
