/* fit.c: `kepler fit DATA [options]` (CONTRACT.md): symbolic regression.
   Loads the table, runs the hybrid search (kp_sr), then hands every formula
   of the Pareto front to the verifier (kp_verify), which recomputes its
   scores on all rows and decides `exact` with exact arithmetic, and writes
   the JSON, CSV and SVG outputs from the verified front. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "fit_output.h"
#include "kp_constopt.h"
#include "kp_data.h"
#include "kp_grammar.h"
#include "kp_lean.h"
#include "kp_sr.h"
#include "kp_units.h"
#include "kp_mpi.h"
#include "kp_verify.h"

static void fit_help(FILE *f)
{
    fprintf(f,
        "Usage: kepler fit DATA [options]\n\n"
        "Finds formulas for one column of the CSV file DATA in terms of the\n"
        "others: a Pareto front from simplest to most accurate, constants\n"
        "recognised exactly (3/2, pi, sqrt(2)), and an exact verdict.\n\n"
        "Options:\n"
        "  --target NAME       column to explain (default: the last column)\n"
        "  --grammar FILE|NAME operators and constraints (default: physics)\n"
        "  --json OUT.json     write the result (CONTRACT.md format)\n"
        "  --csv OUT.csv       write the Pareto front as CSV\n"
        "  --plot OUT.svg      draw the Pareto front and predicted vs observed\n"
        "  --lean OUT.lean     prove the best formula's fit in Lean 4 (docs/lean.md)\n"
        "  --units LIST        units of the columns in order, comma-separated\n"
        "                      (e.g. m,s,kg,m/s^2; 1: dimensionless): only\n"
        "                      dimensionally consistent formulas are kept\n"
        "  --propose on|off    seed the search with sparse polynomial and\n"
        "                      rational least-squares fits (default on)\n"
        "  --force             overwrite existing output files\n"
        "  --time SECONDS      wall-clock budget (default 60)\n"
        "  --max-evals N       stop after about N formula evaluations\n"
        "  --rounds N          stop after N search rounds (reproducible budget)\n"
        "  --engine E          hybrid (default), evolve or policy\n"
        "  --seed N            random seed (default 1)\n"
        "  --threads N         threads (default: all cores)\n"
        "  --islands N         evolution islands (default 4)\n"
        "  --population N      individuals per island (default 128)\n"
        "  --batch-rows N      mini-batch size for large data (default 2000; 0: off)\n"
        "  --checkpoint FILE   save the search state to FILE between rounds\n"
        "  --checkpoint-every SECONDS  how often (default 60; also at the end)\n"
        "  --resume FILE       continue the run saved in FILE (same data and\n"
        "                      options; budgets count what was already spent)\n"
        "  --topology T        island migration: ring (default) or random (a\n"
        "                      new random cycle every round); under mpirun the\n"
        "                      islands of all ranks form one topology\n"
        "  --quiet             no progress line, no summary\n"
        "  -h, --help          show this help\n\n"
        "The search stops at the budget, on Ctrl-C (results are still written),\n"
        "or as soon as a formula is proved exact. Same seed and options give the\n"
        "same result whatever the thread count when the budget is --rounds or\n"
        "--max-evals. Under 'mpirun -np K' every rank runs --islands islands\n"
        "and its own policy samples, and rank 0 writes the outputs\n"
        "(docs/scaling.md).\n");
}

typedef struct {
    const char *data, *target, *grammar, *json, *csv, *plot, *lean, *units;
    const char *checkpoint, *resume;
    int force, quiet;
    kp_sr_params_t sr;
} fit_opts_t;

static int parse_fit_args(fit_opts_t *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"target", required_argument, NULL, 't'},
        {"grammar", required_argument, NULL, 'g'},
        {"json", required_argument, NULL, 'j'},
        {"csv", required_argument, NULL, 'c'},
        {"plot", required_argument, NULL, 'p'},
        {"lean", required_argument, NULL, 'L'},
        {"units", required_argument, NULL, 'U'},
        {"propose", required_argument, NULL, 'O'},
        {"force", no_argument, NULL, 'f'},
        {"time", required_argument, NULL, 'T'},
        {"max-evals", required_argument, NULL, 'E'},
        {"rounds", required_argument, NULL, 'R'},
        {"engine", required_argument, NULL, 'e'},
        {"seed", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 'n'},
        {"islands", required_argument, NULL, 'I'},
        {"population", required_argument, NULL, 'P'},
        {"batch-rows", required_argument, NULL, 'B'},
        {"checkpoint", required_argument, NULL, 'C'},
        {"checkpoint-every", required_argument, NULL, 'K'},
        {"resume", required_argument, NULL, 'r'},
        {"topology", required_argument, NULL, 'Y'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    kp_sr_params_default(&o->sr);
    o->sr.time_limit = 60;
    o->sr.checkpoint_every = 60;
    o->grammar = "physics";
    optind = 1;
    opterr = 0;
    int c;
    long v;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 't': o->target = optarg; break;
        case 'g': o->grammar = optarg; break;
        case 'j': o->json = optarg; break;
        case 'c': o->csv = optarg; break;
        case 'p': o->plot = optarg; break;
        case 'L': o->lean = optarg; break;
        case 'U': o->units = optarg; break;
        case 'O':
            if (!strcmp(optarg, "on") || !strcmp(optarg, "off")) {
                o->sr.propose = !strcmp(optarg, "on");
                break;
            }
            kp_cli_usage_error("fit", "--propose must be on or off, got '%s'", optarg);
            return -1;
        case 'f': o->force = 1; break;
        case 'q': o->quiet = 1; break;
        case 'T':
            if ((o->sr.time_limit = kp_cli_parse_seconds("fit", "--time", optarg)) < 0)
                return -1;
            break;
        case 'E':
            if ((o->sr.max_evals = kp_cli_parse_count("fit", "--max-evals", optarg, 1, 1L << 50)) < 0)
                return -1;
            break;
        case 'R':
            if ((v = kp_cli_parse_count("fit", "--rounds", optarg, 1, 1 << 30)) < 0)
                return -1;
            o->sr.max_rounds = (int)v;
            break;
        case 'e':
            if (!strcmp(optarg, "hybrid")) o->sr.engine = KP_SR_HYBRID;
            else if (!strcmp(optarg, "evolve")) o->sr.engine = KP_SR_EVOLVE;
            else if (!strcmp(optarg, "policy")) o->sr.engine = KP_SR_POLICY;
            else {
                kp_cli_usage_error("fit", "--engine must be hybrid, evolve or policy, got '%s'", optarg);
                return -1;
            }
            break;
        case 's':
            if ((v = kp_cli_parse_count("fit", "--seed", optarg, 0, 1L << 62)) < 0)
                return -1;
            o->sr.seed = (uint64_t)v;
            break;
        case 'n':
            if ((v = kp_cli_parse_count("fit", "--threads", optarg, 1, 1024)) < 0)
                return -1;
            o->sr.threads = (int)v;
            break;
        case 'I':
            if ((v = kp_cli_parse_count("fit", "--islands", optarg, 1, 1024)) < 0)
                return -1;
            o->sr.islands = (int)v;
            break;
        case 'P':
            if ((v = kp_cli_parse_count("fit", "--population", optarg, 4, 100000)) < 0)
                return -1;
            o->sr.population = (int)v;
            break;
        case 'B':
            if ((v = kp_cli_parse_count("fit", "--batch-rows", optarg, 0, 1L << 40)) < 0)
                return -1;
            o->sr.batch_rows = (size_t)v;
            break;
        case 'Y':
            if ((o->sr.topology = kp_topology_parse(optarg)) < 0) {
                kp_cli_usage_error("fit", "--topology must be ring or random, got '%s'", optarg);
                return -1;
            }
            break;
        case 'C': o->checkpoint = optarg; break;
        case 'r': o->resume = optarg; break;
        case 'K':
            if ((o->sr.checkpoint_every = kp_cli_parse_seconds("fit", "--checkpoint-every", optarg)) < 0)
                return -1;
            break;
        case 'h':
            fit_help(stdout);
            return 1;
        case ':':
            kp_cli_usage_error("fit", "option %s needs a value", argv[optind - 1]);
            return -1;
        default:
            kp_cli_usage_error("fit", "unknown option '%s'", argv[optind - 1]);
            return -1;
        }
    }
    if (optind >= argc) {
        kp_cli_usage_error("fit", "missing DATA");
        return -1;
    }
    if (optind + 1 < argc) {
        kp_cli_usage_error("fit", "unexpected argument '%s'", argv[optind + 1]);
        return -1;
    }
    o->data = argv[optind];
    return 0;
}

/* Refuses to overwrite an existing output unless --force. */
static int check_output(const char *path, int force)
{
    if (path == NULL || force || access(path, F_OK) != 0)
        return 0;
    kp_error_t err;
    kp_error_set(&err, KP_EINPUT, path, 0, 0,
                 "exists; not overwriting it (use --force)");
    return kp_cli_report(&err);
}

typedef struct {
    kp_verify_data_t vd;
    int threads;
    int tty;
    const char *const *names;
    int nnames;
    double time_limit;
    int have_proven;  /* the search stopped on a formula proved exact */
    kp_expr_t proven; /* that formula, handed to the report */
} fit_ctx_t;

static int is_exact_cb(const kp_expr_t *e, void *ctx)
{
    fit_ctx_t *fc = ctx;
    kp_verify_result_t vr;
    if (kp_verify_fit(&vr, e, &fc->vd, fc->threads, NULL) != KP_OK ||
        !vr.exact)
        return 0;
    fc->proven = *e;
    fc->have_proven = 1;
    return 1;
}

/* The live progress line on a TTY, cut to the terminal's width so that it
   rewrites itself in place instead of wrapping. */
static void progress_cb(const kp_sr_progress_t *pr, void *ctx)
{
    const fit_ctx_t *fc = ctx;
    if (!fc->tty)
        return;
    char expr[256], line[512];
    kp_expr_print(expr, sizeof expr, pr->best, KP_PRINT_SYMPY, fc->names,
                  fc->nnames);
    double left = fc->time_limit > 0 ? fc->time_limit - pr->seconds : 0;
    snprintf(line, sizeof line,
             "[%5.1fs, %.0fs left] round %d  %.3g evals/s  loss %.3g  %s",
             pr->seconds, left > 0 ? left : 0, pr->round,
             pr->evals_per_second, pr->best_loss, expr);
    struct winsize ws;
    size_t width = 100;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        width = ws.ws_col;
    if (strlen(line) >= width)
        line[width - 1] = '\0';
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
}

static int fit_main(int argc, char **argv);

/* Under mpirun every rank runs fit_main; the exit status is the worst
   over the ranks. */
int kp_cli_fit(int argc, char **argv)
{
    int owner;
    kp_mpi_init(&owner);
    int status = fit_main(argc, argv);
    kp_mpi_max_int(&status, 1);
    kp_mpi_finalize(owner);
    return status;
}

/* --lean: the best formula's Lean file. kp_lean re-checks it on every row
   and refuses what it cannot prove (free constants, undefined rows): the
   run's other outputs stand, and the exit status 1 says the proof is
   missing. */
static int fit_write_lean(const fit_report_t *rep, const kp_data_t *d,
                          int target, const char *path)
{
    if (rep->best < 0) {
        fprintf(stderr, "kepler fit: --lean: no formula found, %s not written\n", path);
        return KP_EXIT_NOTFOUND;
    }
    kp_error_t err;
    kp_error_init(&err);
    if (kp_lean_write_fit(path, &rep->entry[rep->best].e, d, target, 0, &err) == KP_OK)
        return KP_EXIT_OK;
    if (err.code != KP_EINPUT || err.file[0] != '\0')
        return kp_cli_report(&err);
    fprintf(stderr, "kepler fit: --lean: %s not written: %s\n", path, err.msg);
    return KP_EXIT_NOTFOUND;
}

static int fit_main(int argc, char **argv)
{
    fit_opts_t o;
    int rc = parse_fit_args(&o, argc, argv);
    if (rc != 0)
        return rc < 0 ? KP_EXIT_USAGE : KP_EXIT_OK;
    if (kp_mpi_rank() != 0) { /* rank 0 alone prints and writes */
        if (check_output(o.json, o.force) || check_output(o.csv, o.force) ||
            check_output(o.plot, o.force) || check_output(o.lean, o.force))
            return KP_EXIT_USAGE;
        o.json = o.csv = o.plot = o.lean = NULL;
        o.quiet = 1;
        if (freopen("/dev/null", "w", stderr) == NULL)
            return KP_EXIT_INTERNAL;
    }
    if (check_output(o.json, o.force) || check_output(o.csv, o.force) ||
        check_output(o.plot, o.force) || check_output(o.lean, o.force))
        return KP_EXIT_USAGE;

    kp_error_t err;
    kp_error_init(&err);
    kp_data_t d;
    kp_data_init(&d);
    if (kp_data_load_csv(&d, o.data, &err) != KP_OK)
        return kp_cli_report(&err);
    int target = d.ncols - 1;
    if (o.target != NULL && (target = kp_data_column(&d, o.target)) < 0) {
        kp_error_set(&err, KP_EINPUT, o.data, 1, 0,
                     "no column named '%s' for --target", o.target);
        kp_data_clear(&d);
        return kp_cli_report(&err);
    }
    if (d.ncols < 2) {
        kp_error_set(&err, KP_EINPUT, o.data, 1, 0,
                     "needs at least one input column besides the target");
        kp_data_clear(&d);
        return kp_cli_report(&err);
    }
    fit_problem_t fp;
    fit_problem_from_data(&fp, &d, target);
    kp_units_t units;
    kp_units_init(&units);
    kp_dim_t *uvars = NULL;
    if (o.units != NULL) {
        if (kp_units_parse_list(&units, o.units, d.ncols, "--units", &err) !=
                KP_OK ||
            (uvars = malloc(sizeof *uvars * (size_t)fp.nvars)) == NULL) {
            if (err.code == KP_OK)
                kp_error_set(&err, KP_ENOMEM, NULL, 0, 0, "out of memory");
            kp_units_clear(&units);
            fit_problem_clear(&fp);
            kp_data_clear(&d);
            return kp_cli_report(&err);
        }
        for (int j = 0, k = 0; j < d.ncols; j++)
            if (j != target)
                uvars[k++] = units.dim[j];
        o.sr.unit_vars = uvars;
        o.sr.unit_target = &units.dim[target];
    }

    kp_grammar_t g;
    kp_grammar_init(&g);
    if (kp_grammar_load(&g, o.grammar, &err) != KP_OK ||
        kp_grammar_bind(&g, fp.nvars, fp.names, &err) != KP_OK) {
        kp_grammar_clear(&g);
        free(uvars);
        kp_units_clear(&units);
        fit_problem_clear(&fp);
        kp_data_clear(&d);
        return kp_cli_report(&err);
    }

    fit_ctx_t fc;
    memset(&fc, 0, sizeof fc);
    fc.vd = fp.vd;
    fc.threads = o.sr.threads;
    fc.tty = !o.quiet && isatty(2);
    fc.names = fp.names;
    fc.nnames = fp.nvars;
    fc.time_limit = o.sr.time_limit;
    o.sr.stop = &kp_cli_stop;
    o.sr.is_exact = is_exact_cb;
    o.sr.is_exact_ctx = &fc;
    o.sr.progress = progress_cb;
    o.sr.progress_ctx = &fc;
    o.sr.max_complexity = kp_grammar_max_length(&g) * 4;
    o.sr.checkpoint = o.checkpoint;
    o.sr.resume = o.resume;
    kp_cli_catch_signals();

    kp_sr_result_t res;
    int status = KP_EXIT_OK;
    if (kp_sr_result_init(&res, o.sr.max_complexity) != KP_OK) {
        kp_error_set(&err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        status = kp_cli_report(&err);
    } else if (kp_sr_run(&res, &g, fp.vd.cols, fp.nvars, fp.vd.y,
                         fp.vd.nrows, &o.sr, &err) != KP_OK) {
        status = kp_cli_report(&err);
    }
    if (fc.tty)
        fputs("\r\033[K", stderr);
    if (res.nranks > 1 && !o.quiet) /* bench/scale.sh reads this line */
        fprintf(stderr, "kepler fit: %d ranks, rank 0 sent %ld migration "
                "bytes (%.0f bytes/s)\n", res.nranks, res.migrated_bytes,
                res.seconds > 0 ? res.migrated_bytes / res.seconds : 0.0);
    /* A checkpoint that could not be written stops the run with an error,
       but what was found until then is still written. */
    if (status == KP_EXIT_OK || res.rounds > res.resumed_rounds) {
        fit_report_t rep;
        fit_report_build(&rep, &res, fc.have_proven ? &fc.proven : NULL, &g,
                         &fp, &o.sr);
        int ws = fit_report_write(&rep, &fp, &o.sr, o.json, o.csv, o.plot,
                                  o.quiet, o.data);
        if (status == KP_EXIT_OK)
            status = ws;
        if (o.lean != NULL && status == KP_EXIT_OK)
            status = fit_write_lean(&rep, &d, target, o.lean);
        fit_report_clear(&rep);
    }
    kp_sr_result_clear(&res);
    kp_grammar_clear(&g);
    free(uvars);
    kp_units_clear(&units);
    fit_problem_clear(&fp);
    kp_data_clear(&d);
    return status;
}
