/* kp_cem_impl.h: the state of a cross-entropy run (kp_cem.c), shared with
   kp_cem_io.c, which checkpoints it and exchanges elites between ranks.
   Internal: not installed.

   Invariant the checkpoint relies on: between two generations, everything
   a later generation reads is the policy (weights, Adam moments and step),
   the carried-over super set, the best string and the counters below;
   sample and polish streams are keyed by the generation number. A field
   added to that state must be saved and loaded in kp_cem_io.c. */
#ifndef KP_CEM_IMPL_H
#define KP_CEM_IMPL_H

#include "kp_cem.h"

typedef struct {
    int L, h1, h2;
    size_t nparam;
    double *w;     /* parameters */
    double *m, *v; /* Adam moments */
    long step;
    /* views into w (and the same offsets into gradients) */
    size_t o_w1, o_b1, o_w2, o_b2, o_w3, o_b3;
} mlp_t;

/* One run as the checkpoint and the exchanges see it. */
typedef struct {
    const kp_problem_t *pb;
    int n;
    size_t L;
    const kp_cem_params_t *p;
    const kp_rng_t *seed; /* the caller's stream: the run's identity */
    mlp_t *net;
    uint8_t *sup; /* super set: nsuper rows of L bytes */
    double *supsc;
    int *nsup; /* rows of sup in use */
    int nsuper;
    kp_cem_result_t *r;
    long *evals; /* score calls of this rank */
    int rank, nranks;
} kpi_cem_run_t;

/* Writes this rank's checkpoint (collective: the outcome is agreed). */
int kpi_cem_save(const kpi_cem_run_t *run, const char *path, kp_error_t *err);

/* Loads this rank's checkpoint (collective, kp_ck_load_ranks) into a run
   initialised as a fresh one: policy, super set, best, generations, score
   calls, seconds. KP_OK or KP_EINPUT with a one-line message naming the
   file. */
int kpi_cem_load(kpi_cem_run_t *run, const char *path, kp_error_t *err);

/* Elite migration after generation gen: every rank sends its super set to
   its successor in p->topology (ranks are the islands) and keeps the best
   distinct strings of its own and the received ones (its own first on
   ties). Collective; nothing with one rank. */
void kpi_cem_exchange(kpi_cem_run_t *run, long gen);

/* At the end: every rank's result becomes the best over all ranks (lowest
   rank on ties), reached and seconds_to_target from that rank, score
   calls summed. Collective; nothing with one rank. */
void kpi_cem_finish(kpi_cem_run_t *run);

#endif
