/* kp_sr.h: the symbolic-regression driver: one expression-tree search driven
   by an RL policy and by evolution together.

   Each round (1) the policy samples expressions that seed the islands,
   (2) every island runs a few generations of genetic programming, (3) the
   best individuals migrate around the ring of islands, and (4) the elites
   train the policy by risk-seeking policy gradient together with its own
   samples. Free constants are tuned by Levenberg–Marquardt (kp_constopt)
   before an expression is scored, and each island caches fitness by
   structural hash. The run stops at the time or evaluation budget, after
   max_rounds rounds, when *stop becomes non-zero, or when the caller's
   is_exact callback confirms an exact solution.

   Determinism: islands and samples own RNG streams keyed by (round, island
   or sample), results are combined in index order, and budgets are checked
   only between rounds, so with a fixed seed the result does not depend on
   the number of threads. Runs bounded by max_rounds or max_evals are fully
   reproducible; a run bounded by time stops after a machine-dependent
   number of rounds, and is reproducible up to that number.

   Proposals: with params.propose, round 0 also seeds the islands with
   the formulas kp_propose reads off the data by sparse polynomial and
   rational least squares (kp_propose.h), dealt round robin over the
   islands of every rank; they are starting points that compete like any
   other individual.

   Large data: when nrows exceeds batch_rows, fitness is computed on a
   random subset of batch_rows rows redrawn every round (as PySR's
   batching); the archive is re-scored on all rows before it is returned.

   Checkpoints. With params.checkpoint set, the complete state between two
   rounds is written to that file after the first round, then whenever
   checkpoint_every seconds have passed since the last write, and when the
   run ends (budget, exact solution or stop flag): island populations with
   their constants, losses, RNG streams, fitness caches and archives, the
   global archive, the policy (weights and Adam moments), the round,
   evaluation and elapsed-time counters, the parameters that shape the
   search, and fingerprints of the data and the grammar. The file is
   replaced atomically (temporary file in the same directory, fsync,
   rename, fsync of the directory), so a crash at any moment leaves the
   previous or the new checkpoint, never a torn one. With params.resume set,
   the run starts from that state instead of round 0: budgets count what
   was spent before (max_rounds and max_evals are totals, time_limit counts
   the elapsed seconds already recorded) and may differ from the first
   run; threads may differ too. Since a checkpoint holds everything the
   next round reads, a resumed run bounded by max_rounds or max_evals is
   bit-identical to the uninterrupted run (seconds aside). The format is
   binary, little-endian, with magic, version, payload length and an XXH3
   checksum; a truncated, corrupt or mismatched checkpoint (other data,
   grammar, seed, engine, islands, population, generations, policy sizes,
   migrants, batch rows, archive size or exact_loss) is refused with
   KP_EINPUT and a one-line message naming the file and the difference.

   MPI. When built with --with-mpi (KP_HAVE_MPI) and MPI is initialised with
   more than one rank in MPI_COMM_WORLD, every rank calls kp_sr_run with the
   same arguments and runs `islands` islands of its own (global island
   rank * islands + i, with the RNG stream of that global index); migration
   (ring, or a random cycle redrawn every round: params.topology) spans
   the islands of all ranks, the policy is trained identically on every
   rank on the samples and elites of all ranks (MPI_Allgather), budgets and
   stop decisions are agreed collectively each round, and at the end rank
   0's result holds the archive merged over all ranks (the other ranks keep
   their own). Checkpoints are per rank: the file name gets ".rank<R>"
   appended when there is more than one rank, and the previous one is
   kept as ".rank<R>.prev" so that ranks killed between their writes still
   resume from a common round. One rank gives the same result as a build
   without MPI.

   Ownership: kp_sr_result_init/clear. The grammar must be bound to the
   inputs. Reentrant (opens its own OpenMP parallel regions). */
#ifndef KP_SR_H
#define KP_SR_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "kp_error.h"
#include "kp_expr.h"
#include "kp_grammar.h"
#include "kp_mpi.h"
#include "kp_pareto.h"
#include "kp_units.h"

#ifdef __cplusplus
extern "C" {
#endif

enum kp_sr_engine {
    KP_SR_HYBRID, /* policy and evolution together (default) */
    KP_SR_EVOLVE, /* evolution alone */
    KP_SR_POLICY  /* the policy alone */
};

/* What the progress callback is told after each round. */
typedef struct {
    int round;
    double seconds;
    long evaluations;
    double evals_per_second;
    double best_loss;       /* normalised MSE of the best archive entry */
    const kp_expr_t *best;  /* borrowed for the duration of the call */
} kp_sr_progress_t;

typedef struct {
    uint64_t seed;
    int threads;           /* <= 0: all cores */
    int engine;            /* enum kp_sr_engine */
    double time_limit;     /* seconds; <= 0: none */
    long max_evals;        /* <= 0: none */
    int max_rounds;        /* <= 0: none */
    int islands;           /* >= 1 */
    int population;        /* per island */
    int generations;       /* per island per round */
    int policy_batch;      /* samples per round */
    int policy_hidden;     /* GRU hidden size */
    double policy_epsilon; /* risk-seeking quantile */
    int policy_elites;     /* best individuals that train the policy */
    int migrants;          /* per island per round */
    size_t batch_rows;     /* mini-batch size; 0: always all rows */
    int max_complexity;    /* archive size */
    double exact_loss;     /* normalised MSE below which is_exact is asked */
    int propose;           /* seed round 0 with kp_propose's sparse
                              polynomial and rational fits (default 1) */
    /* Dimensions of the inputs (nvars entries) and of the target, or NULL:
       dimensionally inconsistent formulas (kp_units_consistent) get an
       infinite loss without a constant fit. */
    const kp_dim_t *unit_vars;
    const kp_dim_t *unit_target;
    volatile sig_atomic_t *stop; /* polled between rounds; may be NULL */
    /* Asked about a candidate whose loss is below exact_loss, after its
       constants were snapped to exact forms; returns 1 when the formula is
       proved exact, which ends the run. May be NULL. */
    int (*is_exact)(const kp_expr_t *e, void *ctx);
    void *is_exact_ctx;
    void (*progress)(const kp_sr_progress_t *pr, void *ctx);
    void *progress_ctx;
    const char *checkpoint;  /* state file written between rounds; NULL: none */
    double checkpoint_every; /* seconds between checkpoints; <= 0: each round */
    const char *resume;      /* checkpoint to continue from; NULL: fresh run */
    int topology;            /* migration, enum kp_topology (kp_mpi.h) */
} kp_sr_params_t;

typedef struct {
    kp_pareto_t archive; /* losses are MSE on all rows (not normalised) */
    long evaluations;    /* expressions scored (each LM fit counts once) */
    long rows_evaluated; /* nodes x rows of every evaluation pass of the
                            fast evaluator, constant-fitting iterations
                            included (a Jacobian pass counts once) */
    double seconds;
    int rounds;
    int exact_found;     /* is_exact confirmed the best entry */
    int interrupted;     /* *stop ended the run */
    int resumed_rounds;  /* rounds taken from params.resume (0: fresh run) */
    int checkpoints;     /* checkpoints written by this call */
    int rank, nranks;    /* MPI rank and size (0 and 1 without MPI) */
    long migrated_bytes; /* bytes this rank sent to other ranks */
} kp_sr_result_t;

/* Defaults for a laptop-class run. */
void kp_sr_params_default(kp_sr_params_t *p);

int kp_sr_result_init(kp_sr_result_t *r, int max_complexity);
void kp_sr_result_clear(kp_sr_result_t *r);

/* Runs the search on inputs cols[0..nvars-1] and target y (nrows rows, all
   finite). KP_OK (also when stopped by budget or signal: the archive holds
   the best so far), KP_EINPUT for bad parameters, for a checkpoint that
   cannot be read or does not match (message "FILE: ...", nothing run),
   and for a checkpoint that cannot be written (the run stops there; r
   holds the best so far), KP_ENOMEM. */
int kp_sr_run(kp_sr_result_t *r, const kp_grammar_t *g,
              const double *const *cols, int nvars, const double *y,
              size_t nrows, const kp_sr_params_t *p, kp_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
