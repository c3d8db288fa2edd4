/* search.c: `kepler search PROBLEM [options]` (CONTRACT.md): looks for a
   good object of a problem (built-in or --plugin) with construction search
   (kp_csearch: program or local) or the cross-entropy method (kp_cem),
   checks the best one exactly with the problem's verifier, and writes it
   as a certificate that `kepler verify` re-checks and, on request, as a
   Lean 4 file (kp_lean, which re-checks it again). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kp_cem.h"
#include "kp_csearch.h"
#include "kp_grammar.h"
#include "kp_lean.h"
#include "kp_mpi.h"
#include "kp_problems.h"

#define SEARCH_NAMES_MAX 256 /* feature names printed in programs */

static void search_help(FILE *f)
{
    fprintf(f,
        "Usage: kepler search PROBLEM --n N [options]\n"
        "       kepler search --plugin FILE.so --n N [options]\n\n"
        "Searches for a large/good object of PROBLEM at size N and writes the\n"
        "best one found as a certificate that 'kepler verify' re-checks.\n\n"
        "Problems:\n");
    const kp_problem_t *p;
    for (int i = 0; (p = kp_problem_builtin_at(i)) != NULL; i++)
        fprintf(f, "  %-10s %s (n = %d..%d)\n", p->name, p->summary, p->n_min,
                p->n_max);
    fprintf(f,
        "\nOptions:\n"
        "  --n N               size parameter (required)\n"
        "  --out CERT.json     write the best object as a certificate\n"
        "  --lean OUT.lean     also write a Lean 4 proof of it (capset, wagner21)\n"
        "  --force             overwrite existing --out / --lean files\n"
        "  --target VALUE      stop when a verified object scores VALUE; exit 1 if\n"
        "                      not (default with --method cem: the first object\n"
        "                      that passes the exact check, and reaches the best\n"
        "                      known value if there is one)\n"
        "  --time SECONDS      wall-clock budget (default 60)\n"
        "  --max-evals N       stop after about N objects built/scored\n"
        "  --rounds N          stop after N rounds/generations (reproducible)\n"
        "  --method M          program: evolve priority functions for a greedy\n"
        "                        construction, then polish (default when the\n"
        "                        problem has features, e.g. capset)\n"
        "                      local: ruin-and-recreate local search\n"
        "                      symmetric: objects invariant under the\n"
        "                        problem's symmetry groups (capset)\n"
        "                      cem: Wagner's deep cross-entropy method with tabu\n"
        "                        polishing (default for graph problems)\n"
        "  --grammar FILE|NAME grammar of priority programs (default: the\n"
        "                      problem's name if such a grammar exists, else capset)\n"
        "  --islands N         independent populations (default 8)\n"
        "  --population N      programs per island (default 48); with cem, samples\n"
        "                      per generation (default 64)\n"
        "  --plugin FILE.so    load the problem from a plugin (docs/plugins.md)\n"
        "  --topology T        migration between islands: ring (default) or\n"
        "                      random (a new random cycle every round); under\n"
        "                      mpirun the islands of all ranks form one topology\n"
        "  --checkpoint FILE   save the search state to FILE between rounds\n"
        "  --checkpoint-every SECONDS  how often (default 60; also at the end)\n"
        "  --resume FILE       continue the run saved in FILE (same problem and\n"
        "                      options; budgets count what was already spent)\n"
        "  --seed N            random seed (default 1)\n"
        "  --threads N         threads (default: all cores)\n"
        "  --quiet             no progress line, no summary\n"
        "  -h, --help          show this help\n\n"
        "Ctrl-C stops the search and still writes the best object so far (exit 0,\n"
        "or 1 if an explicit --target was not reached). The same seed and options\n"
        "give the same result whatever the thread count when the budget is\n"
        "--rounds or --max-evals.\n"
        "Under 'mpirun -np K' every rank runs --islands islands of one search\n"
        "(methods program and local: the same result as one process with\n"
        "K x --islands) and rank 0 writes the outputs (docs/scaling.md).\n"
        "Exit status: 0 done (target reached if any), 1 target not reached or the\n"
        "best object fails the exact check, 2 bad usage, 3 internal error.\n");
}

enum { METHOD_DEFAULT = -1, METHOD_CEM = 100 }; /* besides kp_cs_method */

typedef struct {
    const char *problem, *out, *lean, *plugin, *grammar;
    int n, force, quiet, have_target, method, population;
    kp_cs_params_t cs;
} search_opts_t;

static int parse_search_args(search_opts_t *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"n", required_argument, NULL, 'N'},
        {"out", required_argument, NULL, 'o'},
        {"lean", required_argument, NULL, 'L'},
        {"force", no_argument, NULL, 'f'},
        {"target", required_argument, NULL, 'G'},
        {"time", required_argument, NULL, 'T'},
        {"max-evals", required_argument, NULL, 'E'},
        {"rounds", required_argument, NULL, 'R'},
        {"method", required_argument, NULL, 'm'},
        {"grammar", required_argument, NULL, 'g'},
        {"islands", required_argument, NULL, 'I'},
        {"population", required_argument, NULL, 'P'},
        {"plugin", required_argument, NULL, 'p'},
        {"seed", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'},
        {"topology", required_argument, NULL, 'Y'},
        {"checkpoint", required_argument, NULL, 'C'},
        {"checkpoint-every", required_argument, NULL, 'K'},
        {"resume", required_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->n = -1;
    o->method = METHOD_DEFAULT;
    kp_cs_params_default(&o->cs);
    o->cs.time_limit = 60;
    o->cs.checkpoint_every = 60;
    optind = 1;
    opterr = 0;
    int c;
    long v;
    char *end;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'N':
            if ((v = kp_cli_parse_count("search", "--n", optarg, 1, 1000000)) < 0)
                return -1;
            o->n = (int)v;
            break;
        case 'o': o->out = optarg; break;
        case 'L': o->lean = optarg; break;
        case 'f': o->force = 1; break;
        case 'q': o->quiet = 1; break;
        case 'p': o->plugin = optarg; break;
        case 'g': o->grammar = optarg; break;
        case 'G':
            errno = 0;
            o->cs.target = strtod(optarg, &end);
            if (errno || end == optarg || *end != '\0' || !isfinite(o->cs.target)) {
                kp_cli_usage_error("search", "--target expects a number, got '%s'", optarg);
                return -1;
            }
            o->have_target = 1;
            break;
        case 'T':
            if ((o->cs.time_limit = kp_cli_parse_seconds("search", "--time", optarg)) < 0)
                return -1;
            break;
        case 'E':
            if ((o->cs.max_evals = kp_cli_parse_count("search", "--max-evals", optarg, 1, 1L << 50)) < 0)
                return -1;
            break;
        case 'R':
            if ((v = kp_cli_parse_count("search", "--rounds", optarg, 1, 1 << 30)) < 0)
                return -1;
            o->cs.max_rounds = (int)v;
            break;
        case 'm':
            if (!strcmp(optarg, "program")) o->method = KP_CS_PROGRAM;
            else if (!strcmp(optarg, "local")) o->method = KP_CS_LOCAL;
            else if (!strcmp(optarg, "cem")) o->method = METHOD_CEM;
            else if (!strcmp(optarg, "symmetric")) o->method = KP_CS_SYMMETRIC;
            else {
                kp_cli_usage_error("search", "--method must be program, local, symmetric or cem, got '%s'", optarg);
                return -1;
            }
            break;
        case 'I':
            if ((v = kp_cli_parse_count("search", "--islands", optarg, 1, 1024)) < 0)
                return -1;
            o->cs.islands = (int)v;
            break;
        case 'P':
            if ((v = kp_cli_parse_count("search", "--population", optarg, 4, 100000)) < 0)
                return -1;
            o->cs.population = (int)v;
            o->population = (int)v;
            break;
        case 's':
            if ((v = kp_cli_parse_count("search", "--seed", optarg, 0, 1L << 62)) < 0)
                return -1;
            o->cs.seed = (uint64_t)v;
            break;
        case 't':
            if ((v = kp_cli_parse_count("search", "--threads", optarg, 1, 1024)) < 0)
                return -1;
            o->cs.threads = (int)v;
            break;
        case 'Y':
            if ((o->cs.topology = kp_topology_parse(optarg)) < 0) {
                kp_cli_usage_error("search", "--topology must be ring or random, got '%s'", optarg);
                return -1;
            }
            break;
        case 'C': o->cs.checkpoint = optarg; break;
        case 'r': o->cs.resume = optarg; break;
        case 'K':
            if ((o->cs.checkpoint_every = kp_cli_parse_seconds("search", "--checkpoint-every", optarg)) < 0)
                return -1;
            break;
        case 'h':
            search_help(stdout);
            return 1;
        case ':':
            kp_cli_usage_error("search", "option %s needs a value", argv[optind - 1]);
            return -1;
        default:
            kp_cli_usage_error("search", "unknown option '%s'", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc)
        o->problem = argv[optind++];
    if (optind < argc) {
        kp_cli_usage_error("search", "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (o->problem == NULL && o->plugin == NULL) {
        kp_cli_usage_error("search", "missing PROBLEM (or --plugin FILE.so)");
        return -1;
    }
    if (o->n < 0) {
        kp_cli_usage_error("search", "missing --n N");
        return -1;
    }
    return 0;
}

typedef struct {
    int tty;
    double target;  /* NaN: none */
    double last;    /* time of the last progress line */
} search_ctx_t;

static void progress_cb(const kp_cs_progress_t *pr, void *ctx)
{
    const search_ctx_t *sc = ctx;
    if (!sc->tty)
        return;
    fprintf(stderr, "\r\033[K[%6.1fs] round %d  best %g", pr->seconds,
            pr->round, pr->best);
    if (!isnan(sc->target))
        fprintf(stderr, " (target %g)", sc->target);
    fprintf(stderr, "  %.3g samples/s", pr->evals_per_second);
    fflush(stderr);
}

static int cem_progress_cb(void *ctx, const kp_cem_progress_t *pr)
{
    search_ctx_t *sc = ctx;
    if (!sc->tty || pr->seconds - sc->last < 0.1)
        return 0;
    sc->last = pr->seconds;
    fprintf(stderr, "\r\033[K[%6.1fs] gen %ld  best %.6g%s", pr->seconds,
            pr->gens, pr->best, pr->verified ? " (verified)" : "");
    if (!isnan(sc->target) && isfinite(sc->target))
        fprintf(stderr, " (target %g)", sc->target);
    fprintf(stderr, "  %.3g samples/s",
            pr->seconds > 0 ? pr->evals / pr->seconds : 0.0);
    fflush(stderr);
    return 0;
}

/* Writes a JSON value compactly; arrays of arrays one inner array per line,
   so that verify's file:line:column messages point at a readable line. */
static int dump_value(FILE *f, const json_t *v)
{
    if (json_is_array(v) && json_array_size(v) > 0 &&
        json_is_array(json_array_get(v, 0))) {
        fputs("[\n", f);
        for (size_t i = 0; i < json_array_size(v); i++) {
            char *s = json_dumps(json_array_get(v, i),
                                 JSON_COMPACT | JSON_ENCODE_ANY);
            if (s == NULL)
                return -1;
            fprintf(f, "    %s%s\n", s, i + 1 < json_array_size(v) ? "," : "");
            free(s);
        }
        fputs("  ]", f);
        return 0;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL)
        return -1;
    fputs(s, f);
    free(s);
    return 0;
}

static int write_certificate(const char *path, const kp_problem_t *p, int n,
                             const uint8_t *x, kp_error_t *err)
{
    if (p->cert_write == NULL)
        return kp_error_set(err, KP_EINPUT, path, 0, 0,
                            "problem '%s' cannot write certificates", p->name);
    json_t *root = json_object();
    if (root == NULL)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    json_object_set_new(root, "problem", json_string(p->name));
    json_object_set_new(root, "n", json_integer(n));
    if (p->cert_write(root, x, n) != KP_PROBLEM_OK) {
        json_decref(root);
        return kp_error_set(err, KP_EINTERNAL, path, 0, 0,
                            "problem '%s' failed to write its certificate",
                            p->name);
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        json_decref(root);
        return kp_error_set(err, KP_EINPUT, path, 0, 0, "cannot write: %s",
                            strerror(errno));
    }
    const char *key;
    json_t *v;
    int first = 1, bad = 0;
    fputs("{", f);
    json_object_foreach(root, key, v) {
        json_t *jk = json_string(key);
        char *k = jk ? json_dumps(jk, JSON_ENCODE_ANY) : NULL;
        fprintf(f, "%s\n  %s: ", first ? "" : ",", k ? k : "\"?\"");
        free(k);
        json_decref(jk);
        bad |= dump_value(f, v);
        first = 0;
    }
    fputs("\n}\n", f);
    json_decref(root);
    if (fclose(f) != 0 || bad)
        return kp_error_set(err, KP_EINPUT, path, 0, 0, "cannot write: %s",
                            strerror(errno));
    return KP_OK;
}

static int check_output(const char *path, int force)
{
    if (path == NULL || force || access(path, F_OK) != 0)
        return 0;
    kp_error_t err;
    kp_error_set(&err, KP_EINPUT, path, 0, 0,
                 "exists; not overwriting it (use --force)");
    return kp_cli_report(&err);
}

/* Exact re-check of the object before anything is claimed about it: 1 if
   it passes, 0 if not (m says why), -1 if memory runs out. */
static int verify_best(const kp_problem_t *p, int n, const uint8_t *x,
                       kp_problem_msg_t *m)
{
    size_t wsz = p->ws_size ? p->ws_size(n) : 0;
    wsz = (wsz + 63) / 64 * 64 + 64;
    void *ws = aligned_alloc(64, wsz);
    if (ws == NULL)
        return -1;
    memset(ws, 0, wsz);
    memset(m, 0, sizeof *m);
    int rc = p->verify(x, n, ws, m);
    free(ws);
    return rc == KP_PROBLEM_OK;
}

static int load_grammar(kp_grammar_t *g, const char *name,
                        const kp_problem_t *p, int n, kp_error_t *err)
{
    int rc;
    if (name != NULL) {
        rc = kp_grammar_load(g, name, err);
    } else {
        kp_error_t quiet;
        rc = kp_grammar_load(g, p->name, &quiet);
        if (rc != KP_OK)
            rc = kp_grammar_load(g, "capset", err);
    }
    if (rc != KP_OK)
        return rc;
    return kp_cs_bind_grammar(g, p, n, err);
}

/* Which Lean generator of kp_lean.h proves objects of p: 'c' capset, 'g'
   a wagner21 counterexample, 0 none. */
static int lean_kind(const kp_problem_t *p)
{
    if (p->kind == KP_OBJ_F3SUBSET && !strcmp(p->name, "capset"))
        return 'c';
    if (p->kind == KP_OBJ_GRAPH && !strcmp(p->name, "wagner21"))
        return 'g';
    return 0;
}

/* Writes the Lean file of x through kp_lean, which re-checks the object. */
static int write_lean(const char *path, const kp_problem_t *p, int n,
                      const uint8_t *x, kp_error_t *err)
{
    size_t len = p->length(n), k = 0;
    for (size_t i = 0; i < len; i++)
        k += x[i] != 0;
    int rc;
    if (lean_kind(p) == 'c') {
        unsigned long *codes = malloc(sizeof *codes * (k ? k : 1));
        if (codes == NULL)
            return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        k = 0;
        for (size_t i = 0; i < len; i++)
            if (x[i])
                codes[k++] = (unsigned long)i;
        rc = kp_lean_write_capset_codes(path, n, codes, k, 0, err);
        free(codes);
    } else {
        int *edges = malloc(sizeof *edges * 2 * (k ? k : 1));
        if (edges == NULL)
            return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        k = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (x[kp_edge_index(i, j, n)]) {
                    edges[2 * k] = i;
                    edges[2 * k + 1] = j;
                    k++;
                }
        rc = kp_lean_write_graph(path, p->name, n, edges, k, 0, err);
        free(edges);
    }
    if (rc == KP_EINPUT) /* the generator refused an object we verified */
        err->code = KP_EINTERNAL;
    if (rc != KP_OK && err->file[0] == '\0')
        snprintf(err->file, sizeof err->file, "%s", path);
    return rc;
}

/* What either engine hands back. */
typedef struct {
    const uint8_t *best; /* NULL: no object */
    double score;
    double seconds;
    long rounds, evals;
    int interrupted;
    const char *rounds_name; /* "rounds" or "generations" */
} search_outcome_t;

static int run_cs(search_outcome_t *out, kp_cs_result_t *res,
                  const kp_problem_t *p, search_opts_t *o, search_ctx_t *sc,
                  kp_error_t *err)
{
    kp_grammar_t g;
    kp_grammar_init(&g);
    int rc = KP_OK;
    o->cs.method = o->method;
    if (o->method == KP_CS_PROGRAM && p->features != NULL)
        rc = load_grammar(&g, o->grammar, p, o->n, err);
    if (rc == KP_OK) {
        o->cs.stop = &kp_cli_stop;
        o->cs.progress = progress_cb;
        o->cs.progress_ctx = sc;
        if (kp_cs_result_init(res, p, o->n) != KP_OK)
            rc = kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        else
            rc = kp_cs_run(res, p, o->n, g.bound ? &g : NULL, &o->cs, err);
    }
    kp_grammar_clear(&g);
    if (sc->tty)
        fputs("\r\033[K", stderr);
    if (res->nranks > 1 && !o->quiet && res->rounds > res->resumed_rounds)
        /* bench/scale.sh reads this line */
        fprintf(stderr, "kepler search: %d ranks, rank 0 sent %ld migration "
                "bytes (%.0f bytes/s)\n", res->nranks, res->migrated_bytes,
                res->seconds > 0 ? res->migrated_bytes / res->seconds : 0.0);
    /* A checkpoint that could not be written stops the run with an error;
       the best object found until then is still written (rc is returned
       with *out set). */
    if (rc != KP_OK && !(res->have && res->rounds > res->resumed_rounds))
        return rc;
    *out = (search_outcome_t){res->have ? res->best : NULL, res->score.value,
                              res->seconds, res->rounds, res->evaluations,
                              res->interrupted, "rounds"};
    return rc;
}

static int run_cem(search_outcome_t *out, kp_cem_result_t *res,
                   const kp_problem_t *p, const search_opts_t *o,
                   search_ctx_t *sc, double target, kp_error_t *err)
{
    kp_cem_params_t cp;
    kp_cem_params_default(&cp);
    if (o->population > 0)
        cp.batch = o->population;
    cp.threads = o->cs.threads;
    cp.seconds = o->cs.time_limit;
    cp.max_gens = o->cs.max_rounds;
    cp.max_evals = o->cs.max_evals;
    cp.has_target = 1;
    cp.target = target;
    cp.stop = &kp_cli_stop;
    cp.progress = cem_progress_cb;
    cp.progress_ctx = sc;
    cp.topology = o->cs.topology;
    cp.checkpoint = o->cs.checkpoint;
    cp.checkpoint_every = o->cs.checkpoint_every;
    cp.resume = o->cs.resume;
    kp_rng_t rng;
    kp_rng_init(&rng, o->cs.seed);
    int rc = kp_cem_run(res, p, o->n, &cp, &rng, err);
    if (sc->tty)
        fputs("\r\033[K", stderr);
    if (res->nranks > 1 && !o->quiet && res->gens > res->resumed_gens)
        fprintf(stderr, "kepler search: %d ranks, rank 0 sent %ld migration "
                "bytes (%.0f bytes/s)\n", res->nranks, res->migrated_bytes,
                res->seconds > 0 ? res->migrated_bytes / res->seconds : 0.0);
    /* As for run_cs: after a failed checkpoint write the best so far is
       still reported (rc is returned with *out set). */
    if (rc != KP_OK && !(res->best != NULL && res->gens > res->resumed_gens))
        return rc;
    *out = (search_outcome_t){res->best_score > -HUGE_VAL ? res->best : NULL,
                              res->best_score, res->seconds, res->gens,
                              res->evals, res->interrupted, "generations"};
    return rc;
}

/* Resolves the problem and checks the options against it; returns 0 or an
   exit status. */
static int resolve_problem(const kp_problem_t **pp, kp_plugin_t *pl,
                           search_opts_t *o)
{
    kp_error_t err;
    kp_error_init(&err);
    const kp_problem_t *p;
    if (o->plugin != NULL) {
        if (kp_problem_plugin_open(pl, o->plugin, &err) != KP_OK)
            return kp_cli_report(&err);
        p = pl->problem;
        if (o->problem != NULL && strcmp(o->problem, p->name))
            return kp_cli_usage_error("search", "plugin %s defines problem "
                                      "'%s', not '%s'", o->plugin, p->name,
                                      o->problem);
    } else if ((p = kp_problem_builtin(o->problem)) == NULL) {
        return kp_cli_usage_error("search", "unknown problem '%s'", o->problem);
    }
    *pp = p;
    if (o->n < p->n_min || o->n > p->n_max)
        return kp_cli_usage_error("search", "--n must be in %d..%d for %s, "
                                  "got %d", p->n_min, p->n_max, p->name, o->n);
    if (o->method == METHOD_DEFAULT)
        o->method = p->features != NULL ? KP_CS_PROGRAM : METHOD_CEM;
    /* The CEM ranks arbitrary subsets by score; a cap-set score assumes a
       valid cap, so it would climb towards invalid sets. */
    if (o->method == METHOD_CEM && p->kind == KP_OBJ_F3SUBSET)
        return kp_cli_usage_error("search", "--method cem needs a problem "
                                  "whose score ranks every object (graph or "
                                  "bit-string problems), not %s", p->name);
    if (o->method == KP_CS_PROGRAM && p->features == NULL)
        return kp_cli_usage_error("search", "problem '%s' has no features: "
                                  "method program needs them (use cem or "
                                  "local)", p->name);
    if (o->lean != NULL && lean_kind(p) == 0)
        return kp_cli_usage_error("search", "--lean: no Lean export for "
                                  "problem '%s' (capset and wagner21 have "
                                  "one)", p->name);
    if (o->lean != NULL && o->out != NULL && !strcmp(o->lean, o->out))
        return kp_cli_usage_error("search", "--out and --lean name the same "
                                  "file");
    if (check_output(o->out, o->force) || check_output(o->lean, o->force))
        return KP_EXIT_USAGE;
    return 0;
}

static int search_main(int argc, char **argv);

/* Under mpirun every rank runs search_main; rank 0 alone prints and
   writes the certificate, and the exit status is the worst over ranks. */
int kp_cli_search(int argc, char **argv)
{
    int owner;
    kp_mpi_init(&owner);
    int status = search_main(argc, argv);
    kp_mpi_max_int(&status, 1);
    kp_mpi_finalize(owner);
    return status;
}

static int search_main(int argc, char **argv)
{
    search_opts_t o;
    int rc = parse_search_args(&o, argc, argv);
    if (rc != 0)
        return rc < 0 ? KP_EXIT_USAGE : KP_EXIT_OK;
    kp_plugin_t pl = {NULL, NULL};
    const kp_problem_t *p = NULL;
    int status = resolve_problem(&p, &pl, &o);
    if (status != 0) {
        kp_problem_plugin_close(&pl);
        return status;
    }
    if (kp_mpi_rank() != 0) {
        o.out = NULL;
        o.lean = NULL;
        o.quiet = 1;
        if (freopen("/dev/null", "w", stderr) == NULL) {
            kp_problem_plugin_close(&pl);
            return KP_EXIT_INTERNAL;
        }
    }

    /* The target: explicit, or for the CEM (whose samples need not be
       valid) the first object that passes the exact check and reaches the
       best known value when there is one. */
    double known = p->known_best ? p->known_best(o.n) : NAN;
    int have_target = o.have_target, implicit = 0;
    double target = o.have_target ? o.cs.target : NAN;
    if (!have_target && o.method == METHOD_CEM) {
        have_target = implicit = 1;
        target = isfinite(known) ? known : -HUGE_VAL;
    }
    o.cs.target = have_target ? target : NAN;

    kp_error_t err;
    kp_error_init(&err);
    search_ctx_t sc = {!o.quiet && isatty(2), isfinite(target) ? target : NAN,
                       -1};
    kp_cli_catch_signals();
    kp_cs_result_t csr;
    kp_cem_result_t cer;
    memset(&csr, 0, sizeof csr);
    memset(&cer, 0, sizeof cer);
    search_outcome_t out;
    memset(&out, 0, sizeof out);
    rc = o.method == METHOD_CEM
             ? run_cem(&out, &cer, p, &o, &sc, target, &err)
             : run_cs(&out, &csr, p, &o, &sc, &err);
    if (sc.tty)
        fputs("\r\033[K", stderr);
    if (rc != KP_OK) {
        status = kp_cli_report(&err);
        if (out.best == NULL)
            goto out;
    }
    if (out.best == NULL) {
        kp_error_set(&err, KP_ENOTFOUND, NULL, 0, 0, "no object was built");
        status = kp_cli_report(&err);
        goto out;
    }
    kp_problem_msg_t m;
    int verified = verify_best(p, o.n, out.best, &m);
    if (verified < 0) {
        kp_error_set(&err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        status = kp_cli_report(&err);
        goto out;
    }
    if (o.out != NULL &&
        write_certificate(o.out, p, o.n, out.best, &err) != KP_OK) {
        status = kp_cli_report(&err);
        goto out;
    }
    int reached = verified && (!have_target || out.score >= target);
    if (o.lean != NULL && verified &&
        write_lean(o.lean, p, o.n, out.best, &err) != KP_OK) {
        status = kp_cli_report(&err);
        goto out;
    }
    if (!o.quiet) {
        printf("%s n=%d: best %.10g", p->name, o.n, out.score);
        if (!isnan(known))
            printf(" (best known %g)", known);
        if (!verified)
            printf(", fails the exact check: %s", m.msg);
        else if (implicit)
            printf(", passes the exact check");
        if (have_target && isfinite(target) && (verified || !implicit))
            printf(", target %g %s", target, reached ? "reached" : "NOT reached");
        printf("%s\n", out.interrupted ? " (interrupted)" : "");
        printf("  %.2f s, %ld %s, %ld objects %s (%.3g/s), seed %llu, "
               "method %s\n", out.seconds, out.rounds, out.rounds_name,
               out.evals, o.method == METHOD_CEM ? "scored" : "built",
               out.seconds > 0 ? out.evals / out.seconds : 0.0,
               (unsigned long long)o.cs.seed,
               o.method == METHOD_CEM ? "cem"
               : o.method == KP_CS_PROGRAM ? "program"
               : o.method == KP_CS_LOCAL ? "local" : "symmetric");
        if (o.method != METHOD_CEM && csr.sym_group >= 0 &&
            p->symmetry_name != NULL) {
            char sym[128];
            p->symmetry_name(sym, sizeof sym, csr.sym_group, o.n);
            printf("  found by symmetric search: invariant under %s\n", sym);
        }
        if (o.method != METHOD_CEM && csr.have_program) {
            char buf[1024];
            const char *names[SEARCH_NAMES_MAX];
            char nb[SEARCH_NAMES_MAX][KP_GRAMMAR_NAME_MAX];
            int nf = p->nfeatures(o.n);
            if (nf > SEARCH_NAMES_MAX)
                nf = SEARCH_NAMES_MAX;
            for (int f = 0; f < nf; f++) {
                p->feature_name(nb[f], sizeof nb[f], f, o.n);
                names[f] = nb[f];
            }
            kp_expr_print(buf, sizeof buf, &csr.program, KP_PRINT_SYMPY,
                          names, nf);
            printf("  best program (greedy gives %g): %s\n",
                   csr.program_score, buf);
        }
        if (o.out != NULL)
            printf("  certificate: %s\n", o.out);
        if (o.lean != NULL)
            printf("  Lean: %s\n", verified ? o.lean
                                            : "not written (no verified object)");
    }
    /* Interrupted by the user: the best so far is written, and only an
       explicit target that was missed makes it a failure. */
    if (!reached && !(out.interrupted && !o.have_target) &&
        status == KP_EXIT_OK)
        status = KP_EXIT_NOTFOUND;
out:
    kp_cs_result_clear(&csr);
    kp_cem_result_clear(&cer);
    kp_problem_plugin_close(&pl);
    return status;
}
