/* kp_cem.h: Wagner's deep cross-entropy method on bit strings, with a
   tabu local search to polish the elites (a memetic variant).

   Objects are bit strings x of length L = problem->length(n) scored by
   problem->score (higher is better), e.g. the n(n-1)/2 edge bits of a
   graph (kepler/problem.h). As in Wagner, "Constructions in combinatorics
   via neural networks" (2021), a policy writes x bit by bit: at step t an
   MLP reads the partial string (bits 0..t-1, zeros after) and a one-hot of
   t, and outputs P(x_t = 1) through a sigmoid. Hidden layers are ReLU
   (sizes hidden1, hidden2). Each generation samples `batch` strings,
   keeps the top elite_frac of them plus the carried-over "super" set (top
   super_frac, as Wagner's super_sessions) and takes Adam steps on the
   binary cross-entropy of the kept strings' decisions.

   Memetic step: every generation the `polish` best new strings are
   improved by tabu search over single bit flips (ls_steps moves each,
   best non-tabu flip per move, tenure ~ L/8, aspiration on a new best),
   and the polished strings join the elite set, so the policy learns from
   local optima. This is what makes wagner21 at n = 19 reachable in
   seconds instead of Wagner's hours: the CEM supplies diverse starts and
   a drift towards sparse, star-like graphs; the tabu walk finishes them.

   Determinism: sample i of generation g uses the stream
   kp_rng_split(master, (g << 24) + i), polish j uses (g << 24) + 2^23 + j;
   gradients are summed over a fixed number of chunks in index order; so a
   seed gives the same result for any thread count (with max_gens or
   max_evals; a time budget or the stop flag end after a machine-dependent
   number of generations). OpenMP parallel
   regions are opened here (a top-level driver); the problem's hooks must
   be thread-safe (kepler/problem.h).

   Checkpoints (as kp_sr.h): with p->checkpoint, the policy (weights, Adam
   moments and step), the super set, the best string and the generation,
   score-call and time counters are written atomically after the first
   generation, every checkpoint_every seconds and when the run ends;
   p->resume continues such a run (max_gens, max_evals and seconds are
   totals). A run bounded by max_gens or max_evals and resumed is
   bit-identical to the uninterrupted one; with MPI, max_evals counts the
   score calls of all ranks. A checkpoint of another problem, size, stream (seed)
   or shaping parameter, or a corrupt one, is refused with KP_EINPUT and a
   one-line message naming the file.

   MPI: with K > 1 ranks (kp_mpi.h) every rank runs its own population
   (streams split by rank) and, after every generation, sends its super
   set to its successor in p->topology (ranks are the islands), which
   keeps the best distinct strings of its own and the received ones; stops
   are agreed, and at the end every rank's result is the best over all
   ranks. Reproducible for a fixed K (not across K); one rank is the run
   without MPI. */
#ifndef KP_CEM_H
#define KP_CEM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "kepler/problem.h"
#include "kp_error.h"
#include "kp_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the progress callback sees after each generation. */
typedef struct kp_cem_progress {
    long gens;          /* generations done */
    long evals;         /* score calls so far */
    double seconds;     /* since the start */
    double best;        /* best score so far (-inf if none) */
    int verified;       /* the best passed problem->verify */
} kp_cem_progress_t;

typedef struct {
    int batch;          /* samples per generation; default 64 */
    double elite_frac;  /* kept for training; default 0.07 */
    double super_frac;  /* carried to the next generation; default 0.05 */
    int hidden1;        /* default 64 */
    int hidden2;        /* default 16 */
    double lr;          /* Adam learning rate; default 3e-3 */
    int train_steps;    /* Adam steps per generation; default 4 */
    double init_density; /* initial P(bit = 1) of the policy (output
                            bias); 0: auto, 3/n for graphs on n > 6
                            vertices (sparse, as every known witness of
                            the spectral conjectures), else 1/2 */
    int polish;         /* strings polished per generation; default 2 */
    int ls_steps;       /* tabu moves per polish; default 40 (0: 3 L) */
    int threads;        /* 0: all cores */
    double seconds;     /* wall-clock budget; <= 0: none */
    long max_gens;      /* generation limit; <= 0: none */
    long max_evals;     /* stop after the generation in which the number
                           of score calls reaches this; <= 0: none */
    int has_target;     /* stop once a string with score >= target whose
                           problem->verify succeeds is found */
    double target;
    const volatile sig_atomic_t *stop; /* polled between generations;
                                          non-zero stops (may be NULL) */
    /* Called (from the driver thread) after each generation when not
       NULL; a non-zero return stops the run. */
    int (*progress)(void *ctx, const kp_cem_progress_t *pr);
    void *progress_ctx;
    int topology;            /* elite migration between MPI ranks, enum
                                kp_topology (kp_mpi.h) */
    const char *checkpoint;  /* state file written between generations;
                                NULL: none */
    double checkpoint_every; /* seconds between checkpoints; <= 0: each
                                generation */
    const char *resume;      /* checkpoint to continue from; NULL: fresh */
} kp_cem_params_t;

typedef struct {
    size_t len;          /* L */
    uint8_t *best;       /* best string found (len bytes), owned */
    double best_score;   /* its score (-inf if none) */
    int verified;        /* best passed problem->verify */
    int reached;         /* has_target and a verified string >= target */
    int interrupted;     /* *stop or progress ended the run */
    long gens;           /* generations run */
    long evals;          /* score calls */
    double seconds;      /* wall time used */
    double seconds_to_target; /* when reached, else -1 */
    long resumed_gens;   /* generations taken from p->resume (0: fresh) */
    int checkpoints;     /* checkpoints written by this call */
    int rank, nranks;    /* MPI rank and size (0 and 1 without MPI) */
    long migrated_bytes; /* bytes this rank sent to other ranks */
} kp_cem_result_t;

/* Fills p with the defaults above. */
void kp_cem_params_default(kp_cem_params_t *p);

/* Frees what r owns; safe on a zero-filled result. */
void kp_cem_result_clear(kp_cem_result_t *r);

/* Runs the method on problem (any kind; objects are its bit strings) of
   size n, from rng (not advanced; streams are split from it). r need not
   be initialised; clear it afterwards. KP_EINPUT on bad parameters or n
   outside the problem's range, KP_ENOMEM. Stopping early (time, stop flag,
   progress) is not an error: r holds the best so far. */
int kp_cem_run(kp_cem_result_t *r, const kp_problem_t *problem, int n,
               const kp_cem_params_t *p, const kp_rng_t *rng,
               kp_error_t *err);

/* Tabu search from x (len bytes, improved in place) for `steps` moves on
   problem of size n with workspace ws (problem->ws_size(n) bytes, may be
   NULL if 0). Returns the score of x on return (the best visited) and
   adds the number of score calls to *evals (may be NULL). */
double kp_cem_tabu(uint8_t *x, const kp_problem_t *problem, int n, int steps,
                   void *ws, kp_rng_t *rng, long *evals);

#ifdef __cplusplus
}
#endif
#endif
