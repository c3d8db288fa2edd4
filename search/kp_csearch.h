/* kp_csearch.h: construction search, the engine of `kepler search` for
   problems that can build objects greedily (kepler/problem.h hooks
   features + construct).

   Methods:
   - KP_CS_PROGRAM, program search (FunSearch's skeleton without a language
     model): a population of priority functions, expression trees over the
     problem's feature columns under a grammar, evolves on islands by
     tournament selection, subtree crossover and mutation (kp_gp). A program
     is scored by evaluating it on every element of the ground set
     (kp_eval), ordering the elements by decreasing priority (ties: lower
     index first; NaN last) and letting the problem's greedy `construct`
     build an object in that order; the fitness is the object's score. Each
     round every island also polishes its best object with the local search
     below, so the reported best may beat every program.
   - KP_CS_LOCAL, ruin and recreate: from the greedy object of a random
     order, repeatedly remove 1-3 random elements, rebuild greedily with the
     kept elements first and the rest in random order, and accept the result
     when it is not worse (or, rarely, when it is one worse, to leave
     plateaus); each island restarts from the best object after a long
     stagnation.
   - KP_CS_SYMMETRIC, symmetric search (kp_symsearch.h), for problems with
     line constraints and symmetry groups: each island searches the objects
     invariant under one of the problem's groups (island i starts with
     group i mod the number of groups and moves on by the number of islands
     when its search stalls). KP_CS_PROGRAM runs it too, on every island,
     alongside the programs, when the problem has the hooks and sym_moves
     > 0.

   Determinism: islands own RNG streams split from the seed by island index
   and round; islands run in an OpenMP loop and are combined in index order;
   budgets are checked between rounds. With max_rounds or max_evals the
   result is the same for every thread count; a time budget stops after a
   machine-dependent number of rounds.

   Migration (program search): every round the best programs of each
   island replace the worst of its successor in params.topology (ring, or
   a random cycle redrawn every round; kp_mpi.h).

   Checkpoints (as kp_sr.h): with params.checkpoint, the complete state
   between two rounds (every island's programs, fitness cache, RNG stream,
   local-search trajectories and best object; the best object and program
   so far; rounds, objects built, seconds) is written atomically after the
   first round, every checkpoint_every seconds and when the run ends;
   params.resume continues such a run. Budgets are totals; a run bounded
   by max_rounds or max_evals and resumed gives the uninterrupted result
   bit for bit, whatever the thread counts. A checkpoint of another
   problem, size, method, seed, shaping option (islands, population,
   generations, tournament, local moves, topology), grammar or feature set,
   or a corrupt one, is refused with KP_EINPUT and a one-line message
   naming the file.

   MPI: when MPI is initialised with K > 1 ranks (kp_mpi.h), every rank
   calls kp_cs_run with the same arguments and runs `islands` islands of
   its own, numbered rank * islands + i over all ranks and keyed by that
   number; bests and evaluations are combined over ranks in that order and
   stopping is agreed, so K ranks of I islands give exactly the result of
   one process with K x I islands (same seed and budget). Every rank's
   result holds the global best. Checkpoints are per rank (kp_sr.h).

   Ownership: kp_cs_result_init/kp_cs_result_clear. The problem and grammar
   are shared read-only (the grammar bound to the problem's features, see
   kp_cs_bind_grammar). Reentrant (opens its own parallel regions). */
#ifndef KP_CSEARCH_H
#define KP_CSEARCH_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "kepler/problem.h"
#include "kp_error.h"
#include "kp_expr.h"
#include "kp_grammar.h"

#ifdef __cplusplus
extern "C" {
#endif

enum kp_cs_method {
    KP_CS_PROGRAM = 0,
    KP_CS_LOCAL = 1,
    KP_CS_SYMMETRIC = 2
};

typedef struct {
    int round;
    double seconds;
    long evaluations;        /* objects built so far */
    double evals_per_second;
    double best;             /* best score so far */
} kp_cs_progress_t;

typedef struct {
    uint64_t seed;
    int threads;          /* <= 0: all cores */
    int method;           /* enum kp_cs_method */
    double time_limit;    /* seconds; <= 0: none */
    long max_evals;       /* <= 0: none */
    int max_rounds;       /* <= 0: none */
    double target;        /* stop as soon as best >= target; NaN: never */
    int islands;          /* >= 1 */
    int population;       /* programs per island, >= 4 */
    int generations;      /* per island per round, >= 1 */
    int tournament;       /* >= 1 */
    int local_moves;      /* local-search moves per island per round */
    int sym_moves;        /* symmetric-search steps per island per round
                             (KP_CS_PROGRAM, KP_CS_SYMMETRIC); 0: off */
    volatile sig_atomic_t *stop; /* polled between rounds; may be NULL */
    void (*progress)(const kp_cs_progress_t *pr, void *ctx);
    void *progress_ctx;
    int topology;            /* migration, enum kp_topology (kp_mpi.h) */
    const char *checkpoint;  /* state file written between rounds; NULL: none */
    double checkpoint_every; /* seconds between checkpoints; <= 0: each round */
    const char *resume;      /* checkpoint to continue from; NULL: fresh run */
} kp_cs_params_t;

typedef struct {
    size_t len;          /* bytes of an object */
    uint8_t *best;       /* the best object (len bytes), valid if have */
    int have;
    kp_score_t score;    /* its score */
    int have_program;    /* KP_CS_PROGRAM: the best program's greedy object */
    kp_expr_t program;   /* that program */
    double program_score;
    long evaluations;    /* objects built */
    double seconds;
    int rounds;
    int sym_group;       /* the best object is invariant under this group
                            of the problem (found by symmetric search), or
                            -1 */
    int interrupted;     /* *stop ended the run */
    int reached;         /* best >= target */
    int resumed_rounds;  /* rounds taken from params.resume (0: fresh run) */
    int checkpoints;     /* checkpoints written by this call */
    int rank, nranks;    /* MPI rank and size (0 and 1 without MPI) */
    long migrated_bytes; /* bytes this rank sent to other ranks */
} kp_cs_result_t;

/* Defaults: program search, seed 1, 8 islands of 48 programs, 2
   generations, 150 local moves and 300 symmetric steps per island per
   round, no budget. */
void kp_cs_params_default(kp_cs_params_t *p);

/* Allocates r for objects of problem p at size n. KP_ENOMEM. */
int kp_cs_result_init(kp_cs_result_t *r, const kp_problem_t *p, int n);
void kp_cs_result_clear(kp_cs_result_t *r);

/* Binds g to the feature names of problem p at size n (g loaded, not
   necessarily bound). KP_EINPUT if p has no features or binding fails. */
int kp_cs_bind_grammar(kp_grammar_t *g, const kp_problem_t *p, int n,
                       kp_error_t *err);

/* Builds the object of priority function e (see above) into x (len bytes)
   and returns its score in *s. cols are the feature columns (len rows
   each); prio (len doubles), order (len entries), keys (2 len entries) and
   ws (p->ws_size(n) bytes, zeroed once) are scratch. Returns KP_OK or
   KP_EINPUT if e does not evaluate (malformed). */
int kp_cs_build(uint8_t *x, kp_score_t *s, const kp_expr_t *e,
                const kp_problem_t *p, int n, const double *const *cols,
                double *prio, uint32_t *order, uint64_t *keys, void *ws);

/* Sorts: sets order[0..len-1] to 0..len-1 ordered by decreasing prio,
   ties and equal priorities by increasing index, NaN last (priorities are
   compared in single precision). keys holds 2 len entries of scratch.
   A stable radix sort: O(len). */
void kp_cs_order(uint32_t *order, const double *prio, size_t len,
                 uint64_t *keys);

/* Runs the search on problem p at size n (p_min <= n <= n_max). g is
   used by KP_CS_PROGRAM (bound with kp_cs_bind_grammar) and may be NULL
   for KP_CS_LOCAL and KP_CS_SYMMETRIC. KP_OK also when stopped by budget
   or signal (r holds the best so far); KP_EINPUT for bad parameters or a
   problem without construct (or without features, for KP_CS_PROGRAM, or
   without symmetries, for KP_CS_SYMMETRIC); KP_ENOMEM. */
int kp_cs_run(kp_cs_result_t *r, const kp_problem_t *p, int n,
              const kp_grammar_t *g, const kp_cs_params_t *prm,
              kp_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
