/* b-feynman.c: the Feynman symbolic-regression benchmark for `kepler fit`.

   Reads the AI Feynman tables (FeynmanEquations.csv, BonusEquations.csv;
   see shared/data/feynman/README.md for their warts), samples 1,000 rows
   per problem uniformly in the given ranges, adds Gaussian noise with
   sigma = level * RMS(y) (the SRBench convention), runs `kepler fit` on
   each data set as a child process with a wall-clock budget, and judges the
   JSON it writes:
   - symbolic recovery: some Pareto entry (and, separately, "best") is the
     truth up to a constant offset or ratio, by kp_equiv (rigorous values at
     24 random points of the box, relative tolerance 1e-6 by default);
   - accuracy: R^2 of "best" against the noiseless truth on 1,000 fresh
     points exceeds 0.999.

   Data: inputs are rounded to 15 significant digits before y is computed,
   and noiseless y is the correctly rounded 15-digit decimal of the exact
   value at those decimals (kp_exact, then MPFR printing), so the data are
   exactly what an exact verifier can reproduce. Temporary files go into a
   fresh directory under $TMPDIR (default /tmp), removed at the end unless
   --keep is given. Seeds: every random stream is a kp_rng_split child of
   --seed keyed by the problem's position in the tables, so a problem gets
   the same data whatever the subset.

   Output: a per-run table and a per-noise-level summary on stdout, progress
   on stderr, optionally the table as CSV (--out). Exit status 0 when every
   run could be judged, 1 when some run failed (no JSON, crash, timeout),
   2 on bad usage or unreadable tables. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <arb.h>
#include <flint/fmpq.h>
#include <jansson.h>
#include <mpfr.h>

#include "kp_equiv.h"
#include "kp_eval.h"
#include "kp_exact.h"
#include "kp_expr.h"
#include "kp_rng.h"

extern char **environ;

#define MAXV 16          /* variables per problem (the tables have <= 10) */
#define NROWS 1000       /* training rows */
#define NFRESH 1000      /* fresh rows for R^2 */
#define MAXLEVELS 16
#define KILL_GRACE 60.0  /* default seconds past the budget before SIGTERM */
#define TERM_GRACE 10.0  /* seconds after SIGTERM before SIGKILL */
#define R2_GOOD 0.999

/* Stream keys (kp_rng_split of the --seed stream). */
#define KEY_X 0x100000u
#define KEY_NOISE 0x200000u
#define KEY_FRESH 0x300000u
#define KEY_EQUIV 0x400000u

typedef struct {
    char name[64];     /* Filename column: I.6.2a, test_1, ... */
    int number;        /* Number column (not file order) */
    int bonus;         /* from BonusEquations.csv */
    int index;         /* position over both tables: seeds the streams */
    char target[64];   /* header name of y in the generated CSV */
    char formula[1024];
    int nvars;         /* counted vN_name cells */
    int declared;      /* the "# variables" cell */
    char vname[MAXV][64];
    const char *names[MAXV];
    double lo[MAXV], hi[MAXV];
    kp_expr_t truth;
} problem_t;

typedef struct {
    problem_t *p;
    double level;
    int li;              /* index into the noise levels */
    char csv[PATH_MAX], json[PATH_MAX], log[PATH_MAX];
    pid_t pid;
    double t0, wall;
    int state;           /* 0 waiting, 1 running, 2 done */
    int killed;
    int wstatus;
    /* judged */
    int ran_ok;          /* JSON read */
    char status[32];
    double seconds;
    double evaluations;
    int exact;
    char best[2048];
    int v_best, v_pareto; /* kp_equiv verdicts (pareto: the best found) */
    int npareto;
    double r2;
} run_t;

typedef struct {
    const char *tables, *subset, *noise, *engine, *kepler, *out, *gen;
    double budget, grace;
    unsigned long long seed;
    int jobs, threads, list, keep, npoints;
    double rtol;
} opts_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("feynman: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* ---- tables ----------------------------------------------------------- */

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (nb == NULL)
                free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* Splits one CSV line in place (double quotes with "" escapes; the tables
   have none, but the Name column could). Returns the number of fields. */
static int split_fields(char *line, char **fields, int max)
{
    int n = 0;
    char *s = line;
    for (;;) {
        if (n == max)
            return n;
        if (*s == '"') {
            char *w = ++s;
            fields[n++] = w;
            while (*s) {
                if (*s == '"' && s[1] == '"') {
                    *w++ = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else
                    *w++ = *s++;
            }
            while (*s && *s != ',')
                s++;
            char *end = s;
            int more = *s == ',';
            *w = '\0';
            if (!more)
                return n;
            s = end + 1;
        } else {
            fields[n++] = s;
            char *c = strchr(s, ',');
            if (c == NULL)
                return n;
            *c = '\0';
            s = c + 1;
        }
    }
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    size_t i = 0;
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    if (i)
        memmove(s, s + i, n - i + 1);
}

static int parse_double(const char *s, double *x)
{
    char *end;
    errno = 0;
    *x = strtod(s, &end);
    return end != s && *end == '\0' && errno == 0 && isfinite(*x);
}

/* Appends the problems of one table to *ps. Rows that cannot be used are
   reported on stderr and skipped. Returns the number of rows read, or -1
   when the file cannot be read or lacks the needed columns. */
static int load_table(problem_t **ps, int *np, int *cap, const char *path,
                      int bonus)
{
    char *buf = read_all(path);
    if (buf == NULL) {
        fprintf(stderr, "feynman: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *s = buf;
    if ((unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB
        && (unsigned char)s[2] == 0xBF)
        s += 3; /* UTF-8 byte-order mark */

    enum { MAXF = 256 };
    char *f[MAXF];
    int c_file = -1, c_num = -1, c_out = -1, c_form = -1, c_decl = -1;
    int c_name[MAXV + 1], c_lo[MAXV + 1], c_hi[MAXV + 1], nv = 0;
    int lineno = 0, rows = 0, header = 1;

    while (*s) {
        char *line = s, *nl = strchr(s, '\n');
        if (nl) {
            *nl = '\0';
            s = nl + 1;
        } else
            s += strlen(s); /* no final newline */
        lineno++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        if (len == 0)
            continue;
        int nf = split_fields(line, f, MAXF);
        for (int i = 0; i < nf; i++)
            trim(f[i]);
        if (header) {
            header = 0;
            for (int i = 0; i < nf; i++) {
                if (!strcmp(f[i], "Filename")) c_file = i;
                else if (!strcmp(f[i], "Number")) c_num = i;
                else if (!strcmp(f[i], "Output")) c_out = i;
                else if (!strcmp(f[i], "Formula")) c_form = i;
                else if (!strcmp(f[i], "# variables")) c_decl = i;
            }
            for (nv = 0; nv < MAXV; nv++) {
                char want[32];
                int a = -1, b = -1, c = -1;
                for (int i = 0; i < nf; i++) {
                    snprintf(want, sizeof want, "v%d_name", nv + 1);
                    if (!strcmp(f[i], want)) a = i;
                    snprintf(want, sizeof want, "v%d_low", nv + 1);
                    if (!strcmp(f[i], want)) b = i;
                    snprintf(want, sizeof want, "v%d_high", nv + 1);
                    if (!strcmp(f[i], want)) c = i;
                }
                if (a < 0 || b < 0 || c < 0)
                    break;
                c_name[nv] = a, c_lo[nv] = b, c_hi[nv] = c;
            }
            if (c_file < 0 || c_out < 0 || c_form < 0 || nv == 0) {
                fprintf(stderr, "feynman: %s:%d: header lacks Filename, "
                        "Output, Formula or v1_name/v1_low/v1_high\n", path,
                        lineno);
                free(buf);
                return -1;
            }
            continue;
        }
        if (c_file >= nf || c_form >= nf || c_out >= nf) {
            fprintf(stderr, "feynman: %s:%d: short row skipped\n", path,
                    lineno);
            continue;
        }
        rows++;
        if (*np == *cap) {
            *cap = *cap ? 2 * *cap : 128;
            problem_t *nps = realloc(*ps, (size_t)*cap * sizeof **ps);
            if (nps == NULL)
                die("out of memory");
            *ps = nps;
        }
        problem_t *p = &(*ps)[*np];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", f[c_file]);
        p->number = c_num >= 0 && c_num < nf ? atoi(f[c_num]) : rows;
        p->declared = c_decl >= 0 && c_decl < nf ? atoi(f[c_decl]) : -1;
        p->bonus = bonus;
        snprintf(p->formula, sizeof p->formula, "%s", f[c_form]);
        int bad = 0;
        /* Count the named variables: "# variables" is wrong in places. */
        for (int v = 0; v < nv; v++) {
            if (c_name[v] >= nf || f[c_name[v]][0] == '\0')
                continue;
            int k = p->nvars++;
            snprintf(p->vname[k], sizeof p->vname[k], "%s", f[c_name[v]]);
            p->names[k] = p->vname[k];
            if (c_hi[v] >= nf || !parse_double(f[c_lo[v]], &p->lo[k])
                || !parse_double(f[c_hi[v]], &p->hi[k])
                || p->lo[k] > p->hi[k]) {
                fprintf(stderr, "feynman: %s:%d: %s: bad range for %s, "
                        "skipped\n", path, lineno, p->name, p->vname[k]);
                bad = 1;
            }
        }
        /* The target's name must not clash with an input's. */
        snprintf(p->target, sizeof p->target, "%s", f[c_out]);
        for (int v = 0; v < p->nvars; v++)
            if (!strcmp(p->vname[v], p->target) || p->target[0] == '\0')
                snprintf(p->target, sizeof p->target, "y_target");
        kp_error_t err;
        if (!bad && kp_expr_parse(&p->truth, p->formula, p->names, p->nvars,
                                  &err) != KP_OK) {
            fprintf(stderr, "feynman: %s:%d: %s: cannot parse formula "
                    "'%s' at column %ld: %s; skipped\n", path, lineno,
                    p->name, p->formula, err.col, err.msg);
            bad = 1;
        }
        if (!bad)
            (*np)++;
    }
    free(buf);
    return rows;
}

/* ---- data ------------------------------------------------------------- */

/* x rounded to the 15-significant-digit decimal that the CSV will hold. */
static double round15(double x, char *buf, size_t n)
{
    snprintf(buf, n, "%.15g", x);
    return strtod(buf, NULL);
}

/* The correctly rounded 15-digit decimal of the exact value of e at the
   decimal inputs xs[]; 0 when the value is undefined or unknown. */
static int exact_y15(char *out, size_t n, const kp_expr_t *e,
                     char xs[][40], int nvars)
{
    fmpq *q = _fmpq_vec_init(nvars > 0 ? nvars : 1);
    kp_exact_t r;
    int ok = 0;
    kp_exact_init(&r);
    for (int v = 0; v < nvars; v++)
        if (kp_exact_fmpq_from_decimal(q + v, xs[v], NULL) != KP_OK)
            goto done;
    if (kp_exact_eval_adaptive(&r, e, q, nvars, 96, 4096, NULL, NULL)
        != KP_OK)
        goto done;
    if (r.kind == KP_EXACT_RATIONAL || (r.kind == KP_EXACT_BALL
                                        && arb_is_finite(r.b))) {
        arb_t b;
        mpfr_t m;
        arb_init(b);
        mpfr_init2(m, 256);
        if (r.kind == KP_EXACT_RATIONAL)
            arb_set_fmpq(b, r.q, 256);
        else
            arb_set(b, r.b);
        arf_get_mpfr(m, arb_midref(b), MPFR_RNDN);
        if (mpfr_number_p(m)) {
            mpfr_snprintf(out, n, "%.15Rg", m);
            ok = isfinite(strtod(out, NULL));
        }
        mpfr_clear(m);
        arb_clear(b);
    }
done:
    kp_exact_clear(&r);
    _fmpq_vec_clear(q, nvars > 0 ? nvars : 1);
    return ok;
}

/* Samples NROWS rows of p: X[v][i] (doubles equal to the decimals in
   xs[i][v]), clean y (double) and ys[i] (its 15-digit decimal). Rows where
   y is not finite (kp_eval) or not an exact finite value are resampled.
   Returns 0 when too many are. */
static int sample_rows(const problem_t *p, kp_rng_t *rng, double **X,
                       double *y, char (*xs)[MAXV][40], char (*ys)[40])
{
    char tmp[MAXV][40];
    for (int i = 0; i < NROWS; i++) {
        int tries = 0;
        for (;;) {
            double xv[MAXV], yv;
            const double *cols[MAXV];
            if (++tries > 10000)
                return 0;
            for (int v = 0; v < p->nvars; v++) {
                double x = p->lo[v] + (p->hi[v] - p->lo[v])
                    * kp_rng_uniform(rng);
                xv[v] = round15(x, tmp[v], sizeof tmp[v]);
                cols[v] = &xv[v];
            }
            if (kp_eval(&yv, &p->truth, cols, 1) != KP_OK || !isfinite(yv))
                continue;
            if (!exact_y15(ys[i], sizeof ys[i], &p->truth, tmp, p->nvars))
                continue;
            for (int v = 0; v < p->nvars; v++) {
                X[v][i] = xv[v];
                memcpy(xs[i][v], tmp[v], sizeof tmp[v]);
            }
            y[i] = strtod(ys[i], NULL);
            break;
        }
    }
    return 1;
}

/* Writes the CSV of one noise level. Returns 0 on an I/O error. */
static int write_csv(const char *path, const problem_t *p, double level,
                     const double *y, char (*xs)[MAXV][40], char (*ys)[40],
                     kp_rng_t *noise)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return 0;
    double ss = 0;
    for (int i = 0; i < NROWS; i++)
        ss += y[i] * y[i];
    double sigma = level * sqrt(ss / NROWS);
    for (int v = 0; v < p->nvars; v++)
        fprintf(f, "%s,", p->vname[v]);
    fprintf(f, "%s\n", p->target);
    for (int i = 0; i < NROWS; i++) {
        for (int v = 0; v < p->nvars; v++)
            fprintf(f, "%s,", xs[i][v]);
        if (level > 0)
            fprintf(f, "%.15g\n", y[i] + sigma * kp_rng_normal(noise));
        else
            fprintf(f, "%s\n", ys[i]);
    }
    return fclose(f) == 0;
}

/* R^2 of model against the noiseless truth on NFRESH fresh points; -inf
   when the model is not finite somewhere the truth is. */
static double r2_fresh(const problem_t *p, const kp_expr_t *model,
                       kp_rng_t *rng)
{
    double *X[MAXV], *yt = malloc(NFRESH * sizeof *yt),
           *ym = malloc(NFRESH * sizeof *ym);
    const double *cols[MAXV];
    int n = 0, ok = 1;
    for (int v = 0; v < p->nvars; v++) {
        X[v] = malloc(NFRESH * sizeof **X);
        cols[v] = X[v];
    }
    /* Keep rows where the truth is finite, as for the training data. */
    for (int tries = 0; n < NFRESH && tries < 100 * NFRESH; tries++) {
        double xv[MAXV], t;
        const double *c1[MAXV];
        for (int v = 0; v < p->nvars; v++) {
            xv[v] = p->lo[v] + (p->hi[v] - p->lo[v]) * kp_rng_uniform(rng);
            c1[v] = &xv[v];
        }
        if (kp_eval(&t, &p->truth, c1, 1) != KP_OK || !isfinite(t))
            continue;
        for (int v = 0; v < p->nvars; v++)
            X[v][n] = xv[v];
        yt[n++] = t;
    }
    double r2 = -INFINITY;
    if (n > 1 && kp_eval(ym, model, cols, (size_t)n) == KP_OK) {
        double mean = 0, sst = 0, sse = 0;
        for (int i = 0; i < n; i++)
            mean += yt[i];
        mean /= n;
        for (int i = 0; i < n; i++) {
            if (!isfinite(ym[i]))
                ok = 0;
            sst += (yt[i] - mean) * (yt[i] - mean);
            sse += (yt[i] - ym[i]) * (yt[i] - ym[i]);
        }
        if (ok)
            r2 = sst > 0 ? 1 - sse / sst : (sse == 0 ? 1.0 : -INFINITY);
        if (isnan(r2))
            r2 = -INFINITY;
    }
    for (int v = 0; v < p->nvars; v++)
        free(X[v]);
    free(yt);
    free(ym);
    return r2;
}

/* ---- running kepler --------------------------------------------------- */

static int start_run(run_t *r, const opts_t *o)
{
    char budget[32], seed[32], threads[32];
    const char *argv[32];
    int k = 0;
    snprintf(budget, sizeof budget, "%g", o->budget);
    snprintf(seed, sizeof seed, "%llu", o->seed);
    snprintf(threads, sizeof threads, "%d", o->threads);
    argv[k++] = o->kepler;
    argv[k++] = "fit";
    argv[k++] = r->csv;
    argv[k++] = "--json";
    argv[k++] = r->json;
    argv[k++] = "--time";
    argv[k++] = budget;
    argv[k++] = "--seed";
    argv[k++] = seed;
    if (o->engine) {
        argv[k++] = "--engine";
        argv[k++] = o->engine;
    }
    if (o->threads > 0) {
        argv[k++] = "--threads";
        argv[k++] = threads;
    }
    argv[k++] = "--quiet";
    argv[k++] = "--force";
    argv[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, r->log,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    r->t0 = now();
    int rc = posix_spawn(&r->pid, o->kepler, &fa, NULL, (char **)argv,
                         environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "feynman: cannot run %s: %s\n", o->kepler,
                strerror(rc));
        r->state = 2;
        snprintf(r->status, sizeof r->status, "spawn-failed");
        return 0;
    }
    r->state = 1;
    return 1;
}

/* Polls a running child; enforces the hard wall-clock limit. Returns 1
   when it has finished. */
static int poll_run(run_t *r, const opts_t *o)
{
    int ws;
    pid_t w = waitpid(r->pid, &ws, WNOHANG);
    if (w == r->pid) {
        r->wall = now() - r->t0;
        r->wstatus = ws;
        r->state = 2;
        return 1;
    }
    double el = now() - r->t0;
    if (r->killed == 0 && el > o->budget + o->grace) {
        kill(r->pid, SIGTERM); /* kepler still writes its outputs */
        r->killed = 1;
    } else if (r->killed == 1 && el > o->budget + o->grace + TERM_GRACE) {
        kill(r->pid, SIGKILL);
        r->killed = 2;
    }
    return 0;
}

/* kp_expr_parse keeps decimals exact with 64-bit numerators and
   denominators, so a printed free constant like 3.5983725795636973e-06
   (denominator 10**22) does not parse. Rewrites every numeric literal of
   text as (M*10**k) or (M/10**k) with the mantissa M an integer: the same
   exact value, in a form the parser takes. Returns 0 if out is too small. */
static int respell_numbers(char *out, size_t n, const char *s)
{
    size_t o = 0;
    for (size_t i = 0; s[i];) {
        int ident = i > 0 && (s[i - 1] == '_' || (s[i - 1] >= 'a'
            && s[i - 1] <= 'z') || (s[i - 1] >= 'A' && s[i - 1] <= 'Z')
            || (s[i - 1] >= '0' && s[i - 1] <= '9'));
        int starts = (s[i] >= '0' && s[i] <= '9')
            || (s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9');
        if (ident || !starts) {
            if (o + 1 >= n)
                return 0;
            out[o++] = s[i++];
            continue;
        }
        char mant[64];
        int m = 0, frac = 0, seen_dot = 0;
        long ex = 0;
        while ((s[i] >= '0' && s[i] <= '9') || (s[i] == '.' && !seen_dot)) {
            if (s[i] == '.')
                seen_dot = 1;
            else {
                if (m == 0 && s[i] == '0') {
                    if (seen_dot)
                        frac++; /* leading zeros carry no digits */
                } else if (m < 18) { /* fits int64 */
                    mant[m++] = s[i];
                    if (seen_dot)
                        frac++;
                } else if (!seen_dot)
                    ex++; /* digits past 18 are dropped (never printed) */
            }
            i++;
        }
        if ((s[i] == 'e' || s[i] == 'E')
            && ((s[i + 1] >= '0' && s[i + 1] <= '9')
                || ((s[i + 1] == '-' || s[i + 1] == '+')
                    && s[i + 2] >= '0' && s[i + 2] <= '9'))) {
            char *end;
            ex += strtol(s + i + 1, &end, 10);
            i = (size_t)(end - s);
        }
        ex -= frac;
        if (m == 0)
            mant[m++] = '0', ex = 0;
        mant[m] = '\0';
        int w;
        if (ex == 0)
            w = snprintf(out + o, n - o, "%s", mant);
        else
            w = snprintf(out + o, n - o, "(%s%s10**%ld)", mant,
                         ex > 0 ? "*" : "/", ex > 0 ? ex : -ex);
        if (w < 0 || (size_t)w >= n - o)
            return 0;
        o += (size_t)w;
    }
    if (o >= n)
        return 0;
    out[o] = '\0';
    return 1;
}

/* Parses an expression from kepler's JSON over p's variables. */
static int parse_model(kp_expr_t *m, const char *text, const problem_t *p,
                       kp_error_t *err)
{
    if (kp_expr_parse(m, text, p->names, p->nvars, err) == KP_OK)
        return KP_OK;
    char buf[8192];
    kp_error_t e2;
    if (respell_numbers(buf, sizeof buf, text)
        && kp_expr_parse(m, buf, p->names, p->nvars, &e2) == KP_OK)
        return KP_OK;
    return KP_EINPUT;
}

/* Reads the run's JSON and judges it. */
static void judge_run(run_t *r, const opts_t *o)
{
    const problem_t *p = r->p;
    r->v_best = r->v_pareto = KP_EQUIV_UNDECIDED;
    r->r2 = NAN;
    r->seconds = r->evaluations = NAN;
    r->best[0] = '\0';
    if (r->status[0] == '\0') {
        if (WIFSIGNALED(r->wstatus))
            snprintf(r->status, sizeof r->status, "%s%d",
                     r->killed ? "timeout-sig" : "signal-",
                     WTERMSIG(r->wstatus));
        else
            snprintf(r->status, sizeof r->status, "%s%d",
                     r->killed ? "timeout-exit" : "exit-",
                     WEXITSTATUS(r->wstatus));
    }
    json_error_t jerr;
    json_t *root = json_load_file(r->json, 0, &jerr);
    if (root == NULL) {
        strncat(r->status, ",nojson", sizeof r->status - strlen(r->status)
                - 1);
        return;
    }
    r->ran_ok = 1;
    json_t *j;
    if ((j = json_object_get(root, "seconds")) && json_is_number(j))
        r->seconds = json_number_value(j);
    if ((j = json_object_get(root, "evaluations")) && json_is_number(j))
        r->evaluations = json_number_value(j);
    json_t *inputs = json_object_get(root, "inputs");
    if (json_is_array(inputs)) {
        int same = (int)json_array_size(inputs) == p->nvars;
        for (int v = 0; same && v < p->nvars; v++) {
            const char *s = json_string_value(json_array_get(inputs,
                                                             (size_t)v));
            same = s && !strcmp(s, p->vname[v]);
        }
        if (!same)
            fprintf(stderr, "feynman: %s: JSON \"inputs\" differ from the "
                    "CSV header\n", p->name);
    }

    kp_rng_t base, rng;
    kp_rng_init(&base, o->seed);
    kp_equiv_opts_t eo;
    kp_equiv_opts_default(&eo);
    eo.npoints = o->npoints;
    eo.max_skipped = o->npoints;
    eo.rtol = o->rtol;

    json_t *best = json_object_get(root, "best");
    const char *bexpr = json_string_value(json_object_get(best, "expr"));
    if (bexpr) {
        kp_expr_t m;
        kp_error_t err;
        snprintf(r->best, sizeof r->best, "%s", bexpr);
        r->exact = json_is_true(json_object_get(best, "exact"));
        if (parse_model(&m, bexpr, p, &err) == KP_OK) {
            kp_rng_split(&rng, &base, KEY_EQUIV + (uint64_t)p->index);
            kp_equiv_check_opts(&r->v_best, NULL, &p->truth, &m, p->lo,
                                p->hi, p->nvars, &eo, &rng, NULL);
            kp_rng_split(&rng, &base, KEY_FRESH + (uint64_t)p->index);
            r->r2 = r2_fresh(p, &m, &rng);
        } else
            fprintf(stderr, "feynman: %s: cannot parse best expr '%s': "
                    "%s\n", p->name, bexpr, err.msg);
    }
    json_t *pareto = json_object_get(root, "pareto");
    r->v_pareto = r->v_best == KP_EQUIV_UNDECIDED ? KP_EQUIV_NO : r->v_best;
    if (json_is_array(pareto)) {
        size_t i;
        json_t *ent;
        json_array_foreach(pareto, i, ent) {
            const char *s = json_string_value(json_object_get(ent, "expr"));
            kp_expr_t m;
            kp_error_t err;
            int v = KP_EQUIV_NO;
            r->npareto++;
            if (s == NULL || kp_equiv_is_match(r->v_pareto))
                continue;
            if (parse_model(&m, s, p, &err) != KP_OK) {
                fprintf(stderr, "feynman: %s: cannot parse pareto expr "
                        "'%s': %s\n", p->name, s, err.msg);
                continue;
            }
            kp_rng_split(&rng, &base, KEY_EQUIV + (uint64_t)p->index);
            kp_equiv_check_opts(&v, NULL, &p->truth, &m, p->lo, p->hi,
                                p->nvars, &eo, &rng, NULL);
            if (kp_equiv_is_match(v))
                r->v_pareto = v;
        }
    }
    json_decref(root);
}

/* ---- selection -------------------------------------------------------- */

/* Fills sel (room for np entries) with the problems named by subset, in
   the order given, each at most once. */
static int select_problems(int *sel, const problem_t *ps, int np,
                           const char *subset)
{
    int ns = 0;
    char *seen = calloc((size_t)(np > 0 ? np : 1), 1);
    char *copy = strdup(subset), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        trim(tok);
        int to = -1, bonus = -1; /* bonus: 0 Feynman, 1 bonus, 2 both */
        if (!strncmp(tok, "first:", 6)) {
            char *end;
            long n = strtol(tok + 6, &end, 10);
            if (*end || n < 1)
                die("--subset: bad count in '%s'", tok);
            to = n > INT_MAX ? INT_MAX : (int)n;
            bonus = 0;
        } else if (!strcmp(tok, "bonus"))
            to = INT_MAX, bonus = 1;
        else if (!strcmp(tok, "feynman"))
            to = INT_MAX, bonus = 0;
        else if (!strcmp(tok, "all"))
            to = INT_MAX, bonus = 2;
        int found = 0;
        for (int i = 0, k = 0; i < np; i++) {
            int hit = to >= 0 ? (bonus == 2 || ps[i].bonus == bonus)
                                    && k++ < to
                              : !strcmp(ps[i].name, tok);
            if (hit && !seen[i]) {
                seen[i] = 1;
                sel[ns++] = i;
            }
            found |= hit;
        }
        if (!found && to < 0)
            die("--subset: no problem named '%s' (try --list)", tok);
    }
    free(copy);
    free(seen);
    return ns;
}

static int parse_levels(double *lv, const char *s)
{
    int n = 0;
    char *copy = strdup(s), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        trim(tok);
        double x;
        if (n == MAXLEVELS || !parse_double(tok, &x) || x < 0)
            die("--noise: bad level '%s'", tok);
        lv[n++] = x;
    }
    free(copy);
    if (n == 0)
        die("--noise: no level given");
    return n;
}

/* Path of the kepler program: --kepler, $KEPLER, then next to the
   directory holding this program (bench/.. in a build tree; libtool may
   have us in bench/.libs). */
static const char *find_kepler(const char *argv0, char *buf, size_t n)
{
    const char *env = getenv("KEPLER");
    if (env && *env)
        return env;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", argv0);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    size_t L = strlen(dir);
    if (L >= 6 && !strcmp(dir + L - 6, "/.libs"))
        dir[L - 6] = '\0';
    else if (!strcmp(dir, ".libs"))
        snprintf(dir, sizeof dir, ".");
    const char *cand[] = {"/../kepler", "/kepler"};
    for (int i = 0; i < 2; i++) {
        snprintf(buf, n, "%s%s", dir, cand[i]);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    env = getenv("KP_BUILDDIR");
    if (env && *env) {
        snprintf(buf, n, "%s/kepler", env);
        if (access(buf, X_OK) == 0)
            return buf;
    }
    snprintf(buf, n, "%s/../kepler", dir);
    return buf;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name)
            < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- reporting -------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void csv_field(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void report(run_t *runs, int nr, const double *lv, int nl,
                   const opts_t *o, double total_wall)
{
    printf("\n%-10s %6s %-7s %-7s %10s %3s %5s %8s %10s %-14s %s\n",
           "problem", "noise", "pareto", "best", "R2_fresh", "acc", "exact",
           "seconds", "evals", "status", "best expr");
    for (int i = 0; i < nr; i++) {
        run_t *r = &runs[i];
        printf("%-10s %6g %-7s %-7s %10.6f %3s %5s %8.1f %10.3g %-14s %s\n",
               r->p->name, r->level,
               r->ran_ok ? kp_equiv_name(r->v_pareto) : "-",
               r->ran_ok ? kp_equiv_name(r->v_best) : "-", r->r2,
               r->r2 > R2_GOOD ? "yes" : "no",
               r->exact ? "yes" : "no", r->seconds, r->evaluations,
               r->status, r->best);
    }
    printf("\nsummary (budget %gs, seed %llu, engine %s, %d points at "
           "rtol %g for recovery, R2 > %g on %d fresh points for accuracy)\n",
           o->budget, o->seed, o->engine ? o->engine : "default",
           o->npoints, o->rtol, R2_GOOD, NFRESH);
    printf("%6s %5s %16s %16s %16s %10s %10s %8s\n", "noise", "runs",
           "recovered", "best_recovered", "accurate", "median_tts",
           "mean_wall", "failed");
    for (int l = 0; l < nl; l++) {
        int n = 0, rec = 0, recb = 0, acc = 0, failed = 0;
        double tts[4096], wall = 0;
        int nt = 0;
        for (int i = 0; i < nr; i++) {
            run_t *r = &runs[i];
            if (r->li != l)
                continue;
            n++;
            wall += r->wall;
            failed += !r->ran_ok;
            if (kp_equiv_is_match(r->v_pareto)) {
                rec++;
                if (nt < 4096 && isfinite(r->seconds))
                    tts[nt++] = r->seconds;
            }
            recb += kp_equiv_is_match(r->v_best);
            acc += r->r2 > R2_GOOD;
        }
        if (n == 0)
            continue;
        qsort(tts, (size_t)nt, sizeof *tts, cmp_double);
        char med[32];
        if (nt == 0)
            snprintf(med, sizeof med, "-");
        else
            snprintf(med, sizeof med, "%.1fs", nt % 2 ? tts[nt / 2]
                     : 0.5 * (tts[nt / 2 - 1] + tts[nt / 2]));
        printf("%6g %5d %6d (%5.1f%%) %6d (%5.1f%%) %6d (%5.1f%%) %10s "
               "%9.1fs %8d\n", lv[l], n, rec, 100.0 * rec / n, recb,
               100.0 * recb / n, acc, 100.0 * acc / n, med, wall / n,
               failed);
    }
    printf("total wall time %.1fs\n", total_wall);

    if (o->out) {
        FILE *f = fopen(o->out, "w");
        if (f == NULL) {
            fprintf(stderr, "feynman: %s: %s\n", o->out, strerror(errno));
            return;
        }
        fprintf(f, "problem,noise,recovered,recovered_best,verdict_pareto,"
                "verdict_best,r2_fresh,accurate,exact,seconds,evaluations,"
                "wall,status,best_expr\n");
        for (int i = 0; i < nr; i++) {
            run_t *r = &runs[i];
            fprintf(f, "%s,%g,%d,%d,%s,%s,%.10g,%d,%d,%.6g,%.17g,%.3f,%s,",
                    r->p->name, r->level, kp_equiv_is_match(r->v_pareto),
                    kp_equiv_is_match(r->v_best), kp_equiv_name(r->v_pareto),
                    kp_equiv_name(r->v_best), r->r2, r->r2 > R2_GOOD,
                    r->exact, r->seconds, r->evaluations, r->wall,
                    r->status);
            csv_field(f, r->best);
            fputc('\n', f);
        }
        if (fclose(f) != 0)
            fprintf(stderr, "feynman: %s: %s\n", o->out, strerror(errno));
    }
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: feynman [options]\n"
        "Runs `kepler fit` on the AI Feynman benchmark and judges symbolic\n"
        "recovery (kp_equiv: constant offset or ratio) and accuracy (R^2).\n"
        "  --tables DIR        FeynmanEquations.csv, BonusEquations.csv\n"
        "                      (default " KP_SRCDIR "/../shared/data/feynman)\n"
        "  --subset LIST       comma-separated names (I.6.2a,I.12.1), first:N,\n"
        "                      feynman (the 100), bonus (the 20), all\n"
        "                      (default feynman)\n"
        "  --budget S          kepler --time per run (default 60); a run is\n"
        "  --grace G           SIGTERM a run at budget+G s, SIGKILL 10 s\n"
        "                      later (default %g)\n"
        "  --seed N            seed of data and of kepler (default 1)\n"
        "  --noise L1,L2,...   noise levels, sigma = L * RMS(y) (default 0,0.01)\n"
        "  --engine E          passed to kepler fit (hybrid, evolve, policy)\n"
        "  --jobs J            kepler runs at once (default 1)\n"
        "  --threads-per-job T kepler --threads (default: kepler's, all cores)\n"
        "  --kepler PATH       the kepler program (default $KEPLER, else\n"
        "                      ../kepler next to this program)\n"
        "  --points K          points of the recovery check (default 24)\n"
        "  --rtol R            tolerance of the recovery check (default 1e-6)\n"
        "  --out FILE          also write the table as CSV\n"
        "  --list              print the problems and parsed formulas, exit\n"
        "  --gen DIR           only write the data sets into DIR, exit\n"
        "  --keep              keep the temporary directory\n",
        KILL_GRACE);
}

int main(int argc, char **argv)
{
    opts_t o = {0};
    char kbuf[PATH_MAX];
    o.tables = KP_SRCDIR "/../shared/data/feynman";
    o.subset = "feynman";
    o.noise = "0,0.01";
    o.budget = 60;
    o.grace = KILL_GRACE;
    o.seed = 1;
    o.jobs = 1;
    o.npoints = KP_EQUIV_DEFAULT_POINTS;
    o.rtol = KP_EQUIV_DEFAULT_RTOL;
    static const struct option lo[] = {
        {"tables", required_argument, NULL, 'T'},
        {"subset", required_argument, NULL, 's'},
        {"budget", required_argument, NULL, 'b'},
        {"grace", required_argument, NULL, 'G'},
        {"seed", required_argument, NULL, 'S'},
        {"noise", required_argument, NULL, 'n'},
        {"engine", required_argument, NULL, 'e'},
        {"jobs", required_argument, NULL, 'j'},
        {"threads-per-job", required_argument, NULL, 't'},
        {"kepler", required_argument, NULL, 'k'},
        {"points", required_argument, NULL, 'p'},
        {"rtol", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},
        {"list", no_argument, NULL, 'l'},
        {"gen", required_argument, NULL, 'g'},
        {"keep", no_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'T': o.tables = optarg; break;
        case 's': o.subset = optarg; break;
        case 'b':
            o.budget = strtod(optarg, &end);
            if (*end || !(o.budget > 0) || !isfinite(o.budget))
                die("--budget: expected seconds > 0, got '%s'", optarg);
            break;
        case 'G':
            o.grace = strtod(optarg, &end);
            if (*end || !(o.grace >= 0) || !isfinite(o.grace))
                die("--grace: expected seconds >= 0, got '%s'", optarg);
            break;
        case 'S':
            o.seed = strtoull(optarg, &end, 10);
            if (*end || *optarg == '-' || !*optarg)
                die("--seed: expected an integer >= 0, got '%s'", optarg);
            break;
        case 'n': o.noise = optarg; break;
        case 'e': o.engine = optarg; break;
        case 'j':
            o.jobs = (int)strtol(optarg, &end, 10);
            if (*end || o.jobs < 1 || o.jobs > 256)
                die("--jobs: expected 1..256, got '%s'", optarg);
            break;
        case 't':
            o.threads = (int)strtol(optarg, &end, 10);
            if (*end || o.threads < 1 || o.threads > 1024)
                die("--threads-per-job: expected 1..1024, got '%s'", optarg);
            break;
        case 'k': o.kepler = optarg; break;
        case 'p':
            o.npoints = (int)strtol(optarg, &end, 10);
            if (*end || o.npoints < 2 || o.npoints > 100000)
                die("--points: expected 2..100000, got '%s'", optarg);
            break;
        case 'r':
            o.rtol = strtod(optarg, &end);
            if (*end || !(o.rtol > 0) || !isfinite(o.rtol))
                die("--rtol: expected a number > 0, got '%s'", optarg);
            break;
        case 'o': o.out = optarg; break;
        case 'l': o.list = 1; break;
        case 'g': o.gen = optarg; break;
        case 'K': o.keep = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc)
        die("unexpected argument '%s' (see --help)", argv[optind]);

    /* Tables. */
    problem_t *ps = NULL;
    int np = 0, cap = 0;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/FeynmanEquations.csv", o.tables);
    int rows1 = load_table(&ps, &np, &cap, path, 0);
    snprintf(path, sizeof path, "%s/BonusEquations.csv", o.tables);
    int np1 = np;
    int rows2 = load_table(&ps, &np, &cap, path, 1);
    if (rows1 < 0 || rows2 < 0)
        return 2;
    for (int i = 0; i < np; i++)
        ps[i].index = i;
    fprintf(stderr, "feynman: %d of %d Feynman and %d of %d bonus formulas "
            "parsed\n", np1, rows1, np - np1, rows2);

    if (o.list) {
        for (int i = 0; i < np; i++) {
            problem_t *p = &ps[i];
            char buf[2048];
            kp_expr_print(buf, sizeof buf, &p->truth, KP_PRINT_SYMPY,
                          p->names, p->nvars);
            printf("%3d %-10s #%-3d %s = %s\n", i, p->name, p->number,
                   p->target, buf);
            printf("    formula: %s\n    vars:", p->formula);
            for (int v = 0; v < p->nvars; v++)
                printf(" %s[%g,%g]", p->vname[v], p->lo[v], p->hi[v]);
            if (p->declared != p->nvars)
                printf("   (table says %d variables)", p->declared);
            printf("\n");
        }
        free(ps);
        return 0;
    }

    int *sel = malloc((size_t)(np > 0 ? np : 1) * sizeof *sel);
    int ns = select_problems(sel, ps, np, o.subset);
    double lv[MAXLEVELS];
    int nl = parse_levels(lv, o.noise);
    if (ns == 0)
        die("--subset '%s' selects no problem", o.subset);

    if (!o.gen) {
        if (!o.kepler)
            o.kepler = find_kepler(argv[0], kbuf, sizeof kbuf);
        if (access(o.kepler, X_OK) != 0)
            die("cannot run kepler at '%s' (use --kepler PATH)", o.kepler);
    }

    /* Working directory. */
    char dir[PATH_MAX];
    if (o.gen) {
        snprintf(dir, sizeof dir, "%s", o.gen);
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            die("%s: %s", dir, strerror(errno));
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/kp-feynman-XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (mkdtemp(dir) == NULL)
            die("mkdtemp %s: %s", dir, strerror(errno));
    }

    /* Data sets. */
    int nr = ns * nl;
    run_t *runs = calloc((size_t)nr, sizeof *runs);
    double *X[MAXV], *y = malloc(NROWS * sizeof *y);
    char (*xs)[MAXV][40] = malloc(NROWS * sizeof *xs);
    char (*ys)[40] = malloc(NROWS * sizeof *ys);
    for (int v = 0; v < MAXV; v++)
        X[v] = malloc(NROWS * sizeof **X);
    kp_rng_t base, rng, noise;
    kp_rng_init(&base, o.seed);
    double tg = now();
    int k = 0;
    for (int s = 0; s < ns; s++) {
        problem_t *p = &ps[sel[s]];
        kp_rng_split(&rng, &base, KEY_X + (uint64_t)p->index);
        int ok = sample_rows(p, &rng, X, y, xs, ys);
        if (!ok)
            fprintf(stderr, "feynman: %s: could not sample %d rows with a "
                    "finite y\n", p->name, NROWS);
        for (int l = 0; l < nl; l++, k++) {
            run_t *r = &runs[k];
            r->p = p;
            r->level = lv[l];
            r->li = l;
            if (snprintf(r->csv, sizeof r->csv, "%s/%s-n%g.csv", dir,
                         p->name, lv[l]) >= (int)sizeof r->csv
                || snprintf(r->json, sizeof r->json, "%s/%s-n%g.json", dir,
                            p->name, lv[l]) >= (int)sizeof r->json
                || snprintf(r->log, sizeof r->log, "%s/%s-n%g.log", dir,
                            p->name, lv[l]) >= (int)sizeof r->log)
                die("%s: path too long", dir);
            /* Keyed by the level's value, not its position in --noise. */
            uint64_t lbits;
            memcpy(&lbits, &lv[l], sizeof lbits);
            kp_rng_split(&noise, &base, KEY_NOISE + (uint64_t)p->index);
            kp_rng_split(&noise, &noise, lbits);
            if (!ok || !write_csv(r->csv, p, lv[l], y, xs, ys, &noise)) {
                if (ok)
                    fprintf(stderr, "feynman: %s: %s\n", r->csv,
                            strerror(errno));
                r->state = 2;
                snprintf(r->status, sizeof r->status, "no-data");
            }
        }
    }
    fprintf(stderr, "feynman: %d data sets of %d rows written to %s in "
            "%.2fs\n", nr, NROWS, dir, now() - tg);
    for (int v = 0; v < MAXV; v++)
        free(X[v]);
    free(y);
    free(xs);
    free(ys);
    if (o.gen) {
        free(runs);
        free(sel);
        free(ps);
        return 0;
    }

    /* Runs: at most --jobs children at once, polled every 20 ms. */
    double t0 = now();
    int next = 0, running = 0, done = 0, failed = 0;
    while (done < nr) {
        while (running < o.jobs && next < nr) {
            run_t *r = &runs[next++];
            if (r->state == 2) {
                judge_run(r, &o);
                done++;
                failed++;
                continue;
            }
            if (start_run(r, &o))
                running++;
            else {
                judge_run(r, &o);
                done++;
                failed++;
            }
        }
        for (int i = 0; i < next; i++) {
            run_t *r = &runs[i];
            if (r->state != 1 || !poll_run(r, &o))
                continue;
            running--;
            done++;
            judge_run(r, &o);
            failed += !r->ran_ok;
            fprintf(stderr, "[%d/%d] %-10s noise %-5g %-9s %-9s R2 %-10.6f "
                    "%6.1fs  %s\n", done, nr, r->p->name, r->level,
                    kp_equiv_name(r->v_pareto), kp_equiv_name(r->v_best),
                    r->r2, r->wall, r->status);
        }
        if (running > 0) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    report(runs, nr, lv, nl, &o, now() - t0);

    if (o.keep)
        fprintf(stderr, "feynman: files kept in %s\n", dir);
    else
        remove_tree(dir);
    free(runs);
    free(sel);
    free(ps);
    return failed ? 1 : 0;
}
