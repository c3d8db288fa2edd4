/* search.c: `kepler search PROBLEM [options]` (CONTRACT.md): looks for a
   good object of a problem (built-in or --plugin) with construction search
   (kp_csearch), checks the best one exactly with the problem's verifier,
   and writes it as a certificate that `kepler verify` re-checks. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kp_csearch.h"
#include "kp_grammar.h"
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
        "  --force             overwrite an existing --out file\n"
        "  --target VALUE      stop when the score reaches VALUE; exit 1 if not\n"
        "  --time SECONDS      wall-clock budget (default 60)\n"
        "  --max-evals N       stop after about N objects built\n"
        "  --rounds N          stop after N rounds (reproducible budget)\n"
        "  --method M          program (default: evolve priority functions for a\n"
        "                      greedy construction, then polish) or local\n"
        "                      (ruin-and-recreate local search)\n"
        "  --grammar FILE|NAME grammar of priority programs (default: the\n"
        "                      problem's name if such a grammar exists, else capset)\n"
        "  --islands N         independent populations (default 8)\n"
        "  --population N      programs per island (default 48)\n"
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
        "Ctrl-C stops the search and still writes the best object so far.\n"
        "The same seed and options give the same result whatever the thread\n"
        "count when the budget is --rounds or --max-evals.\n"
        "Exit status: 0 done (target reached if given), 1 target not reached,\n"
        "2 bad usage, 3 internal error.\n");
}

typedef struct {
    const char *problem, *out, *plugin, *grammar;
    int n, force, quiet, have_target;
    kp_cs_params_t cs;
} search_opts_t;

static int parse_search_args(search_opts_t *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"n", required_argument, NULL, 'N'},
        {"out", required_argument, NULL, 'o'},
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
            if (!strcmp(optarg, "program")) o->cs.method = KP_CS_PROGRAM;
            else if (!strcmp(optarg, "local")) o->cs.method = KP_CS_LOCAL;
            else {
                kp_cli_usage_error("search", "--method must be program or local, got '%s'", optarg);
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
    double target;
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

/* Exact re-check of the object before anything is claimed about it. */
static int verify_best(const kp_problem_t *p, int n, const uint8_t *x,
                       kp_error_t *err)
{
    size_t wsz = p->ws_size ? p->ws_size(n) : 0;
    wsz = (wsz + 63) / 64 * 64 + 64;
    void *ws = aligned_alloc(64, wsz);
    if (ws == NULL)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    memset(ws, 0, wsz);
    kp_problem_msg_t m = {{0}, {0}};
    int rc = p->verify(x, n, ws, &m);
    free(ws);
    if (rc == KP_PROBLEM_OK)
        return KP_OK;
    return kp_error_set(err, KP_EINTERNAL, NULL, 0, 0,
                        "internal error: the best object fails the exact "
                        "check: %s", m.msg);
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
    if (check_output(o.out, o.force))
        return KP_EXIT_USAGE;
    if (kp_mpi_rank() != 0) {
        o.out = NULL;
        o.quiet = 1;
        if (freopen("/dev/null", "w", stderr) == NULL)
            return KP_EXIT_INTERNAL;
    }

    kp_error_t err;
    kp_error_init(&err);
    kp_plugin_t pl = {NULL, NULL};
    const kp_problem_t *p;
    if (o.plugin != NULL) {
        if (kp_problem_plugin_open(&pl, o.plugin, &err) != KP_OK)
            return kp_cli_report(&err);
        p = pl.problem;
        if (o.problem != NULL && strcmp(o.problem, p->name)) {
            int st = kp_cli_usage_error("search", "plugin %s defines problem "
                                        "'%s', not '%s'", o.plugin, p->name,
                                        o.problem);
            kp_problem_plugin_close(&pl);
            return st;
        }
    } else if ((p = kp_problem_builtin(o.problem)) == NULL) {
        return kp_cli_usage_error("search", "unknown problem '%s'", o.problem);
    }
    if (o.n < p->n_min || o.n > p->n_max) {
        int st = kp_cli_usage_error("search", "--n must be in %d..%d for %s, "
                                    "got %d", p->n_min, p->n_max, p->name,
                                    o.n);
        kp_problem_plugin_close(&pl);
        return st;
    }

    kp_grammar_t g;
    kp_grammar_init(&g);
    int status = KP_EXIT_OK;
    if (o.cs.method == KP_CS_PROGRAM && p->features != NULL &&
        load_grammar(&g, o.grammar, p, o.n, &err) != KP_OK) {
        status = kp_cli_report(&err);
        goto out_grammar;
    }
    search_ctx_t sc = {!o.quiet && isatty(2), o.cs.target};
    o.cs.stop = &kp_cli_stop;
    o.cs.progress = progress_cb;
    o.cs.progress_ctx = &sc;
    kp_cli_catch_signals();

    kp_cs_result_t res;
    if (kp_cs_result_init(&res, p, o.n) != KP_OK) {
        kp_error_set(&err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        status = kp_cli_report(&err);
        goto out_grammar;
    }
    rc = kp_cs_run(&res, p, o.n, g.bound ? &g : NULL, &o.cs, &err);
    if (sc.tty)
        fputs("\r\033[K", stderr);
    if (res.nranks > 1 && !o.quiet && res.rounds > res.resumed_rounds)
        /* bench/scale.sh reads this line */
        fprintf(stderr, "kepler search: %d ranks, rank 0 sent %ld migration "
                "bytes (%.0f bytes/s)\n", res.nranks, res.migrated_bytes,
                res.seconds > 0 ? res.migrated_bytes / res.seconds : 0.0);
    /* A checkpoint that could not be written stops the run with an error;
       the best object found until then is still written. */
    if (rc != KP_OK && !(res.have && res.rounds > res.resumed_rounds)) {
        status = kp_cli_report(&err);
        goto out;
    }
    if (rc != KP_OK)
        status = kp_cli_report(&err);
    if (!res.have) {
        kp_error_set(&err, KP_ENOTFOUND, NULL, 0, 0, "no object was built");
        status = kp_cli_report(&err);
        goto out;
    }
    if (verify_best(p, o.n, res.best, &err) != KP_OK) {
        status = kp_cli_report(&err);
        goto out;
    }
    if (o.out != NULL &&
        write_certificate(o.out, p, o.n, res.best, &err) != KP_OK) {
        status = kp_cli_report(&err);
        goto out;
    }
    int reached = !o.have_target || res.score.value >= o.cs.target;
    if (!o.quiet) {
        double known = p->known_best ? p->known_best(o.n) : NAN;
        printf("%s n=%d: best %g", p->name, o.n, res.score.value);
        if (!isnan(known))
            printf(" (best known %g)", known);
        if (o.have_target)
            printf(", target %g %s", o.cs.target,
                   reached ? "reached" : "NOT reached");
        printf("%s\n", res.interrupted ? " (interrupted)" : "");
        printf("  %.2f s, %d rounds, %ld objects built (%.3g/s), seed %llu, "
               "method %s\n", res.seconds, res.rounds, res.evaluations,
               res.seconds > 0 ? res.evaluations / res.seconds : 0.0,
               (unsigned long long)o.cs.seed,
               o.cs.method == KP_CS_PROGRAM ? "program" : "local");
        if (res.have_program) {
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
            kp_expr_print(buf, sizeof buf, &res.program, KP_PRINT_SYMPY,
                          names, nf);
            printf("  best program (greedy gives %g): %s\n",
                   res.program_score, buf);
        }
        if (o.out != NULL)
            printf("  certificate: %s\n", o.out);
    }
    if (!reached && status == KP_EXIT_OK)
        status = KP_EXIT_NOTFOUND;
out:
    kp_cs_result_clear(&res);
out_grammar:
    kp_grammar_clear(&g);
    kp_problem_plugin_close(&pl);
    return status;
}
