/* kp_mpi.h: the ranks of a multi-process run and the few exchanges the
   search drivers (kp_sr, kp_csearch, kp_cem) make between them, so that
   no driver and no CLI code calls MPI itself.

   Built without MPI (KP_HAVE_MPI undefined), or run by a process that did
   not initialise MPI, there is exactly one rank and every call below is
   the identity (reductions return their input, exchanges copy locally):
   the drivers then do exactly what a single process does. With MPI, all
   calls except kp_mpi_init/kp_mpi_rank/kp_mpi_size are collective over
   MPI_COMM_WORLD: every rank must make the same calls in the same order.

   Ranks are assumed homogeneous (same binary, same architecture): blocks
   travel as raw bytes. Counts are bytes; a single message is below 2 GB.

   Islands and topologies. A driver with `nlocal` islands per rank numbers
   its islands globally, g = rank * nlocal + i (G = nranks * nlocal in
   all). Migration sends one block from every island g to its successor
   succ(g) in the round's topology:
   - KP_TOPO_RING: succ(g) = g + 1 mod G (the last island of rank r feeds
     the first island of rank r + 1);
   - KP_TOPO_RANDOM: succ is a uniformly random cyclic permutation of the
     G islands (Sattolo), redrawn every round from a stream keyed by
     (seed, round) alone, so every rank computes the same one and a run
     does not depend on the number of ranks it is split into.
   Both give every island exactly one incoming and one outgoing block.

   Thread-safety: call from one thread (MPI is initialised FUNNELED);
   OpenMP regions between the calls are fine. */
#ifndef KP_MPI_H
#define KP_MPI_H

#include <stddef.h>
#include <stdint.h>

#include "kp_error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum kp_topology { KP_TOPO_RING = 0, KP_TOPO_RANDOM = 1 };

/* "ring" or "random" to the enum; -1 for anything else. */
int kp_topology_parse(const char *name);
/* The enum to its name ("ring", "random"; "?" when out of range). */
const char *kp_topology_name(int topology);

/* Sets succ[0..G-1] to the successors of the G islands in round `round`
   (see above). Needs G >= 1. */
void kp_topology_successors(int *succ, int G, int topology, uint64_t seed,
                            uint64_t round);

/* Initialises MPI (thread level FUNNELED) when the process was started by
   an MPI launcher (mpirun/mpiexec/srun: OMPI_COMM_WORLD_SIZE, PMIX_RANK,
   PMI_RANK or PMI_SIZE is set) or KEPLER_MPI=1 is set, and MPI is not
   initialised yet; otherwise does nothing, so a plain `kepler` run never
   starts an MPI runtime. Unless the environment says otherwise it asks
   Open MPI to yield the core while a rank waits (mpi_yield_when_idle):
   rounds are long next to message latencies. Sets *owner to 1 when this
   call initialised MPI (else 0). Returns the number of ranks (1 without
   MPI). */
int kp_mpi_init(int *owner);
/* Finalises MPI when owner is non-zero (the value kp_mpi_init gave). */
void kp_mpi_finalize(int owner);

/* This process's rank and the number of ranks (0 and 1 without MPI or when
   MPI is not initialised). Not collective. */
int kp_mpi_rank(void);
int kp_mpi_size(void);

/* Collective reductions in place over n values: sum of longs, max of
   doubles, max of ints (flags set on one rank hold on all). */
void kp_mpi_sum_long(long *v, int n);
void kp_mpi_max_double(double *v, int n);
void kp_mpi_max_int(int *v, int n);
/* Returns the largest v over ranks and sets *who to the lowest rank that
   holds it (NaN counts as -inf). */
double kp_mpi_maxloc(double v, int *who);
/* 1 when v != 0 on some rank. */
int kp_mpi_any(int v);

/* Agrees on an outcome: KP_OK when rc is KP_OK on every rank; otherwise
   the rc of the lowest failing rank, whose error record is copied into
   *err on every rank (err may be NULL only if it is NULL everywhere), so
   rank 0 can report why another rank failed. */
int kp_mpi_agree(int rc, kp_error_t *err);

/* Copies n bytes at buf from rank root to every rank (n must agree). */
void kp_mpi_bcast(void *buf, size_t n, int root);

/* Concatenates every rank's n bytes at mine, in rank order, into a new
   buffer *all (caller frees) of *total bytes; counts (nranks entries, may
   be NULL) receives each rank's n. Returns 0, or -1 on every rank when
   some rank could not allocate (*all is then NULL). */
int kp_mpi_allgather(const void *mine, size_t n, unsigned char **all,
                     size_t *total, size_t *counts);

/* Like kp_mpi_allgather but only rank 0 receives (*all is NULL on the
   other ranks, and on every rank after -1). */
int kp_mpi_gather0(const void *mine, size_t n, unsigned char **all,
                   size_t *total, size_t *counts);

/* Migration: out holds the blocks of the nlocal local islands (block bytes
   each, island i at out + i * block); in receives, for each local island,
   the block of its predecessor in the round's topology. nlocal must agree
   on all ranks; out and in must not overlap. Adds the bytes this rank sent
   to other ranks to *bytes (may be NULL). Returns 0, or -1 on every rank
   when some rank could not allocate (nothing was exchanged; skip the
   migration). */
int kp_mpi_migrate(void *in, const void *out, size_t block, int nlocal,
                   int topology, uint64_t seed, uint64_t round, long *bytes);

#ifdef __cplusplus
}
#endif
#endif
