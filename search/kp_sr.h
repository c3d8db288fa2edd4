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

   Large data: when nrows exceeds batch_rows, fitness is computed on a
   random subset of batch_rows rows redrawn every round (as PySR's
   batching); the archive is re-scored on all rows before it is returned.

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
#include "kp_pareto.h"

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
    volatile sig_atomic_t *stop; /* polled between rounds; may be NULL */
    /* Asked about a candidate whose loss is below exact_loss, after its
       constants were snapped to exact forms; returns 1 when the formula is
       proved exact, which ends the run. May be NULL. */
    int (*is_exact)(const kp_expr_t *e, void *ctx);
    void *is_exact_ctx;
    void (*progress)(const kp_sr_progress_t *pr, void *ctx);
    void *progress_ctx;
} kp_sr_params_t;

typedef struct {
    kp_pareto_t archive; /* losses are MSE on all rows (not normalised) */
    long evaluations;    /* expressions scored (each LM fit counts once) */
    long rows_evaluated; /* nodes x rows of one evaluation pass of every
                            expression scored (LM iterations not counted:
                            a lower bound on the evaluator's work) */
    double seconds;
    int rounds;
    int exact_found;     /* is_exact confirmed the best entry */
    int interrupted;     /* *stop ended the run */
} kp_sr_result_t;

/* Defaults for a laptop-class run. */
void kp_sr_params_default(kp_sr_params_t *p);

int kp_sr_result_init(kp_sr_result_t *r, int max_complexity);
void kp_sr_result_clear(kp_sr_result_t *r);

/* Runs the search on inputs cols[0..nvars-1] and target y (nrows rows, all
   finite). KP_OK (also when stopped by budget or signal: the archive holds
   the best so far), KP_EINPUT for bad parameters, KP_ENOMEM. */
int kp_sr_run(kp_sr_result_t *r, const kp_grammar_t *g,
              const double *const *cols, int nvars, const double *y,
              size_t nrows, const kp_sr_params_t *p, kp_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
