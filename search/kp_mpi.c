/* kp_mpi.c: ranks, reductions and migration between ranks (kp_mpi.h).

   Every MPI call of Kepler is in this file, behind KP_HAVE_MPI. Each
   helper first asks MPI whether it is running with more than one rank;
   otherwise it does the single-process thing, so the drivers have one
   code path for every rank count. Collectives that need memory agree on
   allocation success first (kp_mpi_any), so a rank short of memory makes
   every rank skip the exchange instead of deadlocking the others. */
#include "kp_mpi.h"
#include "config.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kp_rng.h"
#ifdef KP_HAVE_MPI
#include <mpi.h>
#endif

#define KP_MPI_TAG 0x4b50 /* "KP" */

int kp_topology_parse(const char *name)
{
    if (name != NULL && !strcmp(name, "ring"))
        return KP_TOPO_RING;
    if (name != NULL && !strcmp(name, "random"))
        return KP_TOPO_RANDOM;
    return -1;
}

const char *kp_topology_name(int topology)
{
    return topology == KP_TOPO_RING     ? "ring"
           : topology == KP_TOPO_RANDOM ? "random"
                                        : "?";
}

void kp_topology_successors(int *succ, int G, int topology, uint64_t seed,
                            uint64_t round)
{
    for (int g = 0; g < G; g++)
        succ[g] = topology == KP_TOPO_RANDOM ? g : (g + 1) % G;
    if (topology != KP_TOPO_RANDOM)
        return;
    /* Sattolo's shuffle: a uniformly random permutation with one cycle,
       so no island keeps its own migrants and none is left out. The
       stream depends on seed and round only, never on the rank count. */
    kp_rng_t rng;
    kp_rng_init(&rng, seed);
    kp_rng_split(&rng, &rng, 0x70F0000000000ULL + round);
    for (int i = G - 1; i > 0; i--) {
        int j = (int)kp_rng_below(&rng, (uint64_t)i);
        int t = succ[i];
        succ[i] = succ[j];
        succ[j] = t;
    }
}

static int launched_by_mpi(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK",
                                       "PMI_RANK", "PMI_SIZE"};
    const char *force = getenv("KEPLER_MPI");
    if (force != NULL && !strcmp(force, "1"))
        return 1;
    for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++)
        if (getenv(vars[k]) != NULL)
            return 1;
    return 0;
}

int kp_mpi_init(int *owner)
{
    *owner = 0;
#ifdef KP_HAVE_MPI
    int init = 0;
    MPI_Initialized(&init);
    if (!init && launched_by_mpi()) {
        /* A round lasts milliseconds, so a rank waiting in a collective
           can yield its core instead of polling: on nodes where ranks
           share cores (or with other jobs) polling ranks steal the time
           of the working ones (a 2.5x slower time to solution measured
           on a loaded 2-core machine). The user's setting wins. */
        setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
        int provided;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) ==
            MPI_SUCCESS)
            *owner = 1;
    }
#else
    (void)launched_by_mpi;
#endif
    return kp_mpi_size();
}

void kp_mpi_finalize(int owner)
{
#ifdef KP_HAVE_MPI
    int fin = 0;
    MPI_Finalized(&fin);
    if (owner && !fin)
        MPI_Finalize();
#else
    (void)owner;
#endif
}

#ifdef KP_HAVE_MPI
/* 1 when MPI is up with more than one rank: the only case in which the
   helpers talk to other processes. */
static int multi(void)
{
    int init = 0, fin = 0, size = 1;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (!init || fin)
        return 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return size > 1;
}
#endif

int kp_mpi_rank(void)
{
    int rank = 0;
#ifdef KP_HAVE_MPI
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin)
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
#endif
    return rank;
}

int kp_mpi_size(void)
{
    int size = 1;
#ifdef KP_HAVE_MPI
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    if (init && !fin)
        MPI_Comm_size(MPI_COMM_WORLD, &size);
#endif
    return size;
}

void kp_mpi_sum_long(long *v, int n)
{
#ifdef KP_HAVE_MPI
    if (multi() && n > 0)
        MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
#else
    (void)v, (void)n;
#endif
}

void kp_mpi_max_double(double *v, int n)
{
#ifdef KP_HAVE_MPI
    if (multi() && n > 0)
        MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
#else
    (void)v, (void)n;
#endif
}

void kp_mpi_max_int(int *v, int n)
{
#ifdef KP_HAVE_MPI
    if (multi() && n > 0)
        MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
#else
    (void)v, (void)n;
#endif
}

double kp_mpi_maxloc(double v, int *who)
{
    *who = 0;
#ifdef KP_HAVE_MPI
    if (multi()) {
        /* MPI_MAXLOC keeps the lowest rank among equal values. */
        struct {
            double v;
            int rank;
        } in = {isnan(v) ? -INFINITY : v, kp_mpi_rank()}, out;
        MPI_Allreduce(&in, &out, 1, MPI_DOUBLE_INT, MPI_MAXLOC, MPI_COMM_WORLD);
        *who = out.rank;
        return out.v;
    }
#endif
    return v;
}

int kp_mpi_any(int v)
{
    int f = v != 0;
    kp_mpi_max_int(&f, 1);
    return f;
}

int kp_mpi_agree(int rc, kp_error_t *err)
{
#ifdef KP_HAVE_MPI
    if (multi()) {
        int who;
        if (kp_mpi_maxloc(rc != KP_OK, &who) == 0)
            return KP_OK;
        int code = rc;
        kp_mpi_bcast(&code, sizeof code, who);
        if (err != NULL)
            kp_mpi_bcast(err, sizeof *err, who);
        return code;
    }
#else
    (void)err;
#endif
    return rc;
}

void kp_mpi_bcast(void *buf, size_t n, int root)
{
#ifdef KP_HAVE_MPI
    if (multi() && n > 0)
        MPI_Bcast(buf, (int)n, MPI_BYTE, root, MPI_COMM_WORLD);
#else
    (void)buf, (void)n, (void)root;
#endif
}

/* Shared by allgather and gather0; root < 0 means every rank receives. */
static int gather(const void *mine, size_t n, unsigned char **all,
                  size_t *total, size_t *counts, int root)
{
    *all = NULL;
    *total = 0;
#ifdef KP_HAVE_MPI
    if (multi()) {
        int K = kp_mpi_size(), me = kp_mpi_rank();
        int recv = root < 0 || me == root;
        unsigned long long ln = n, *cnt = malloc(sizeof *cnt * (size_t)K);
        int *ci = malloc(sizeof(int) * 2 * (size_t)K);
        int bad = cnt == NULL || ci == NULL;
        /* Everyone learns every count, so everyone can tell whether the
           concatenation fits one MPI message. */
        if (!kp_mpi_any(bad))
            MPI_Allgather(&ln, 1, MPI_UNSIGNED_LONG_LONG, cnt, 1,
                          MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
        else
            bad = 1;
        unsigned long long sum = 0;
        for (int k = 0; k < K && !bad; k++)
            sum += cnt[k];
        if (!bad && sum > INT_MAX)
            bad = 1;
        if (!bad && recv && (*all = malloc(sum ? sum : 1)) == NULL)
            bad = 1;
        if (kp_mpi_any(bad)) {
            free(*all);
            *all = NULL;
            free(cnt);
            free(ci);
            return -1;
        }
        int *dsp = ci + K, off = 0;
        for (int k = 0; k < K; k++) {
            ci[k] = (int)cnt[k];
            dsp[k] = off;
            off += ci[k];
            if (counts != NULL && recv)
                counts[k] = (size_t)cnt[k];
        }
        if (root < 0)
            MPI_Allgatherv(mine, (int)n, MPI_BYTE, *all, ci, dsp, MPI_BYTE,
                           MPI_COMM_WORLD);
        else
            MPI_Gatherv(mine, (int)n, MPI_BYTE, *all, ci, dsp, MPI_BYTE, root,
                        MPI_COMM_WORLD);
        *total = recv ? (size_t)sum : 0;
        free(cnt);
        free(ci);
        return 0;
    }
#else
    (void)root;
#endif
    if ((*all = malloc(n ? n : 1)) == NULL)
        return -1;
    memcpy(*all, mine, n);
    *total = n;
    if (counts != NULL)
        counts[0] = n;
    return 0;
}

int kp_mpi_allgather(const void *mine, size_t n, unsigned char **all,
                     size_t *total, size_t *counts)
{
    return gather(mine, n, all, total, counts, -1);
}

int kp_mpi_gather0(const void *mine, size_t n, unsigned char **all,
                   size_t *total, size_t *counts)
{
    return gather(mine, n, all, total, counts, 0);
}

int kp_mpi_migrate(void *in, const void *out, size_t block, int nlocal,
                   int topology, uint64_t seed, uint64_t round, long *bytes)
{
    int K = kp_mpi_size(), me = kp_mpi_rank();
    int G = K * nlocal;
    if (nlocal < 1)
        return 0;
    int *succ = malloc(sizeof(int) * (size_t)G);
#ifdef KP_HAVE_MPI
    unsigned char *sbuf = NULL, *rbuf = NULL;
    MPI_Request *req = NULL;
    if (K > 1) {
        sbuf = malloc(block * (size_t)nlocal);
        rbuf = malloc(block * (size_t)nlocal);
        req = malloc(sizeof *req * 2 * (size_t)nlocal);
    }
    int bad = succ == NULL || (K > 1 && (!sbuf || !rbuf || !req));
    if (kp_mpi_any(bad)) {
        free(succ);
        free(sbuf);
        free(rbuf);
        free(req);
        return -1;
    }
#else
    if (succ == NULL)
        return -1;
#endif
    kp_topology_successors(succ, G, topology, seed, round);
    const unsigned char *o = out;
    unsigned char *d = in;
    for (int i = 0; i < nlocal; i++) { /* island-to-island on this rank */
        int to = succ[me * nlocal + i];
        if (to / nlocal == me)
            memcpy(d + (size_t)(to % nlocal) * block, o + (size_t)i * block,
                   block);
    }
#ifdef KP_HAVE_MPI
    if (K > 1) {
        /* One message per peer: the blocks of the sending islands in
           increasing global index, which is also the order in which the
           receiver walks its peer's islands. */
        int nreq = 0;
        size_t soff = 0, roff = 0;
        for (int q = 0; q < K; q++) {
            if (q == me)
                continue;
            size_t s0 = soff;
            for (int i = 0; i < nlocal; i++)
                if (succ[me * nlocal + i] / nlocal == q) {
                    memcpy(sbuf + soff, o + (size_t)i * block, block);
                    soff += block;
                }
            if (soff > s0) {
                MPI_Isend(sbuf + s0, (int)(soff - s0), MPI_BYTE, q, KP_MPI_TAG,
                          MPI_COMM_WORLD, &req[nreq++]);
                if (bytes != NULL)
                    *bytes += (long)(soff - s0);
            }
            size_t r0 = roff;
            for (int i = 0; i < nlocal; i++)
                if (succ[q * nlocal + i] / nlocal == me)
                    roff += block;
            if (roff > r0)
                MPI_Irecv(rbuf + r0, (int)(roff - r0), MPI_BYTE, q, KP_MPI_TAG,
                          MPI_COMM_WORLD, &req[nreq++]);
        }
        MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE);
        roff = 0;
        for (int q = 0; q < K; q++) {
            if (q == me)
                continue;
            for (int i = 0; i < nlocal; i++) {
                int to = succ[q * nlocal + i];
                if (to / nlocal != me)
                    continue;
                memcpy(d + (size_t)(to % nlocal) * block, rbuf + roff, block);
                roff += block;
            }
        }
    }
    free(sbuf);
    free(rbuf);
    free(req);
#else
    (void)bytes;
#endif
    free(succ);
    return 0;
}
