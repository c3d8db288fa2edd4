/* kp_csearch_impl.h: the state of a construction search (kp_csearch.c),
   shared with kp_csearch_io.c, which checkpoints it and exchanges it
   between ranks. Internal: not installed.

   Invariant the checkpoint relies on: between two rounds, everything a
   later round reads is in kpi_cs_run_t (islands, result, counters) and
   derives from the parameters, the problem and the seed otherwise. A
   field added to an island that survives a round must be saved and
   loaded in kp_csearch_io.c; the resume tests compare a resumed run with
   an uninterrupted one bit for bit and fail when one is missed. */
#ifndef KP_CSEARCH_IMPL_H
#define KP_CSEARCH_IMPL_H

#include "kp_csearch.h"
#include "kp_gp.h"
#include "kp_symsearch.h"

typedef struct {
    kp_indiv_t ind; /* ind.hash: structure and constant values */
    double score;
    uint64_t phash; /* hash of the object the program builds */
} cs_prog_t;

typedef struct {
    uint64_t key;
    double score;
    uint64_t phash;
} cs_cache_t;

#define CS_CACHE_BITS 12

/* A local-search trajectory: current object and its own best. */
typedef struct {
    uint8_t *cur;
    double cur_score;
    int have_cur;
    long stagnant;
    uint8_t *best;
    double best_score;
} cs_local_t;

typedef struct {
    cs_prog_t *pop; /* 2 * population: parents, then children */
    cs_prog_t *tmp;
    int n;
    kp_rng_t rng;
    cs_cache_t *cache;
    double *prio;
    uint32_t *order;
    uint64_t *keys;
    uint32_t *list; /* local search: members, then the rest */
    void *ws;
    uint8_t *x;      /* scratch object */
    cs_local_t ls;   /* the island's own local search */
    cs_local_t ps;   /* polish of the best program's object */
    double polished; /* score of the program object ps started from */
    long ps_left;    /* polish moves left before ps rests */
    uint8_t *best;   /* best object of this island */
    double best_score;
    int have_best;
    int best_sym; /* group of the best object if symmetric search
                     found it, else -1 */
    long evals;
    int index;    /* global island number (over all ranks) */
    int nglobal;  /* islands over all ranks */
    kp_sym_t sym; /* symmetric search (have_sym) */
    int have_sym;
    int sym_turn;  /* groups started so far */
    long sym_idle; /* steps since the current group improved */
} cs_island_t;

typedef struct {
    const kp_problem_t *p;
    int n;
    size_t len;
    const kp_grammar_t *g;
    const double *const *cols;
    kp_gp_params_t gp;
    const kp_cs_params_t *prm;
} cs_ctx_t;

/* One run as the checkpoint and the exchanges see it. */
typedef struct {
    const cs_ctx_t *c;
    cs_island_t *isl; /* prm->islands islands of this rank */
    kp_cs_result_t *r;
    int rank, nranks;
    int nfeatures;
    uint64_t features_fp; /* XXH3 of the feature columns (0: none) */
    uint64_t grammar_fp;  /* kp_ck_grammar_fingerprint (0: no grammar) */
} kpi_cs_run_t;

/* Fills the fingerprints of run (needs c, and the feature columns). */
void kpi_cs_fingerprints(kpi_cs_run_t *run);

/* Writes the checkpoint of this rank (collective: the outcome is agreed).
   KP_OK or KP_EINPUT/KP_ENOMEM with err set. */
int kpi_cs_save(const kpi_cs_run_t *run, const char *path, kp_error_t *err);

/* Loads the checkpoint of this rank (collective, see kp_ck_load_ranks)
   into the islands and the result, which were initialised as for a fresh
   run. KP_OK or KP_EINPUT with a one-line message naming the file. */
int kpi_cs_load(kpi_cs_run_t *run, const char *path, kp_error_t *err);

/* What r held before a round's merge (the same on every rank). */
typedef struct {
    int have, have_program;
    double best, program;
    int sym_group;
} kpi_cs_prev_t;

/* After every rank merged its own islands into r (in index order), makes
   r the merge over all ranks' islands in global order: best object and
   best program (prev: r before this round's merge), and evaluations (ev
   is this round's count on this rank). Collective; with one rank it only
   adds ev. */
void kpi_cs_combine(kpi_cs_run_t *run, const kpi_cs_prev_t *prev, long ev);

#endif
