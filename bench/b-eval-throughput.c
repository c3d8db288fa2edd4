/* b-eval-throughput.c: node evaluations per second of kp_eval.

   Two workloads of 1,000 random expressions (15-40 tokens, fixed seed) over
   100,000 rows of 5 variables: "physics" (+ - * / pow with an integer
   exponent, sqrt exp log sin cos tan asin acos atan, pi, variables,
   constants) and "arith" (+ - * /, variables, constants). For each: kp_eval
   at 1 thread and at all threads (OpenMP over expressions), and the fused
   kp_eval_mse_many; then a plain recursive one-row-at-a-time evaluator as
   the baseline. Rate = sum of expression lengths x rows / seconds; median
   and best (min time) over RUNS runs after one warm-up.

   Then the cost of kp_eval_jacobian (values and derivatives w.r.t. the
   free constants, used by constant optimisation): arith and physics
   expressions of 9-30 tokens grouped by their number of free constants (1-4), CPU time per call at
   1,000 and 10,000 rows, and the ratio to kp_eval on the same expressions
   (best of RUNS passes, process CPU time so that a loaded machine does not
   distort it).

   Usage: bench/eval [rows [runs [jac]]]  ("jac": the Jacobian part only) */
#include "config.h"
#include "kp_commit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kp_eval.h"
#include "kp_expr.h"
#include "kp_rng.h"

#define NEXPR 1000
#define NVARS 5
#define SEED 20240611

#ifndef KP_BENCH_CFLAGS
#define KP_BENCH_CFLAGS "(unknown)"
#endif

enum { ARITH, PHYS };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A random subtree of exactly n tokens (n odd when arithmetic-only). */
static void gen(kp_expr_t *e, kp_rng_t *rng, int n, int set)
{
    static const int un[] = {KP_OP_SQRT, KP_OP_EXP,  KP_OP_LOG,
                             KP_OP_SIN,  KP_OP_COS,  KP_OP_TAN,
                             KP_OP_ASIN, KP_OP_ACOS, KP_OP_ATAN};
    if (n == 1 || (n == 2 && set == ARITH)) {
        uint64_t r = kp_rng_below(rng, 10);
        if (r < 6 || e->nconst >= KP_EXPR_MAX_CONSTS - 1)
            kp_expr_push_var(e, (int)kp_rng_below(rng, NVARS));
        else if (r < 9 || set == ARITH)
            kp_expr_push_const(e, 4 * kp_rng_uniform(rng) - 2);
        else
            kp_expr_push_op(e, KP_OP_PI);
        return;
    }
    if (set == PHYS && (n == 2 || kp_rng_below(rng, 4) == 0)) {
        kp_expr_push_op(e, un[kp_rng_below(rng, 9)]);
        gen(e, rng, n - 1, set);
        return;
    }
    int m = n - 1;
    if (set == ARITH && m % 2)
        m--;
    int op = (int)kp_rng_below(rng, set == ARITH ? 4 : 5);
    kp_expr_push_op(e, op);
    if (op == KP_OP_POW) {
        gen(e, rng, m - 1, set);
        kp_expr_push_rational(e, (int64_t)kp_rng_below(rng, 5) - 1, 1);
        return;
    }
    int l = 1 + (int)kp_rng_below(rng, (uint64_t)(m - 1));
    if (set == ARITH && l % 2 == 0)
        l--;
    gen(e, rng, l, set);
    gen(e, rng, m - l, set);
}

/* The baseline: one row at a time, recursion over the prefix array. */
static double naive(const kp_expr_t *e, int *pos, int *ci,
                    const double *const *cols, size_t row)
{
    int t = e->tok[(*pos)++];
    if (t == KP_TOK_CONST)
        return e->c[(*ci)++].value;
    if (t >= KP_TOK_VAR)
        return cols[t - KP_TOK_VAR][row];
    double a = kp_op_table[t].arity > 0 ? naive(e, pos, ci, cols, row) : 0;
    double b = kp_op_table[t].arity > 1 ? naive(e, pos, ci, cols, row) : 0;
    switch (t) {
    case KP_OP_ADD: return a + b;
    case KP_OP_SUB: return a - b;
    case KP_OP_MUL: return a * b;
    case KP_OP_DIV: return a / b;
    case KP_OP_POW: return pow(a, b);
    case KP_OP_NEG: return -a;
    case KP_OP_SQRT: return sqrt(a);
    case KP_OP_EXP: return exp(a);
    case KP_OP_LOG: return log(a);
    case KP_OP_SIN: return sin(a);
    case KP_OP_COS: return cos(a);
    case KP_OP_TAN: return tan(a);
    case KP_OP_ASIN: return asin(a);
    case KP_OP_ACOS: return acos(a);
    case KP_OP_ATAN: return atan(a);
    default: return kp_op_apply(t, a, b);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    const kp_expr_t *ex;
    const double *const *cols;
    const double *y;
    size_t nrows;
    double *loss;
    double sink;
} work_t;

/* One pass over all expressions; mode 0 kp_eval, 1 kp_eval_mse_many,
   2 naive. */
static double run_once(work_t *w, int mode, int nthreads)
{
    double t0 = now(), sink = 0;
    if (mode == 1) {
        kp_eval_mse_many(w->loss, w->ex, NEXPR, w->cols, w->y, w->nrows,
                         nthreads);
        sink = w->loss[0];
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads) reduction(+ : sink)
#endif
        {
            double *out = malloc(w->nrows * sizeof *out);
#ifdef _OPENMP
#pragma omp for schedule(dynamic, 4)
#endif
            for (int j = 0; j < NEXPR; j++) {
                if (mode == 0) {
                    kp_eval(out, &w->ex[j], w->cols, w->nrows);
                } else {
                    for (size_t i = 0; i < w->nrows; i++) {
                        int pos = 0, ci = 0;
                        out[i] = naive(&w->ex[j], &pos, &ci, w->cols, i);
                    }
                }
                sink += out[w->nrows - 1];
            }
            free(out);
        }
    }
    w->sink += sink;
    return now() - t0;
}

/* Median and best rate (node evaluations per second) over runs. */
static void measure(work_t *w, int mode, int nthreads, int runs, double nodes,
                    double *med, double *best)
{
    double t[64];
    run_once(w, mode, nthreads); /* warm-up */
    for (int r = 0; r < runs; r++)
        t[r] = run_once(w, mode, nthreads);
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    *med = nodes / t[runs / 2];
    *best = nodes / t[0];
}

static void cpu_name(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *p = strchr(line, ':');
            if (p) {
                p += 2;
                p[strcspn(p, "\n")] = 0;
                snprintf(buf, n, "%s", p);
            }
            break;
        }
    fclose(f);
}

#define JAC_PER 200 /* expressions per free-constant count */

/* CPU seconds for one call of kp_eval (jac == NULL) or kp_eval_jacobian on
   each expression: best of runs passes. */
static double jac_pass(const kp_expr_t *ex, int n, const double *const *cols,
                       size_t nrows, double *out, double *jac, int runs,
                       double *sink)
{
    double best = INFINITY;
    for (int r = 0; r <= runs; r++) { /* pass 0 warms up */
        double t0 = cpu_now();
        for (int j = 0; j < n; j++) {
            if (jac)
                kp_eval_jacobian(out, jac, &ex[j], cols, nrows);
            else
                kp_eval(out, &ex[j], cols, nrows);
            *sink += out[nrows - 1];
        }
        double t = cpu_now() - t0;
        if (r > 0 && t < best)
            best = t;
    }
    return best / n;
}

static void bench_jacobian(kp_rng_t *rng, const double *const *cols,
                           size_t maxrows, int runs, int set)
{
    kp_expr_t *ex = malloc(4 * JAC_PER * sizeof *ex);
    int cnt[4] = {0};
    long tries = 0;
    while ((cnt[0] < JAC_PER || cnt[1] < JAC_PER || cnt[2] < JAC_PER ||
            cnt[3] < JAC_PER) && tries++ < 1000000) {
        kp_expr_t e;
        kp_expr_init(&e);
        gen(&e, rng, 9 + (int)kp_rng_below(rng, 22), set);
        if (kp_expr_finish(&e, NULL) != KP_OK)
            continue;
        int nf = kp_expr_nfree(&e);
        if (nf < 1 || nf > 4 || cnt[nf - 1] >= JAC_PER)
            continue;
        ex[(nf - 1) * JAC_PER + cnt[nf - 1]++] = e;
    }
    double *out = malloc(maxrows * sizeof *out);
    double *jac = malloc(4 * maxrows * sizeof *jac);
    double sink = 0;
    printf("\njacobian (%s, 9-30 tokens, %d expressions per row; CPU "
           "time per call, best of %d)\n", set == PHYS ? "physics" : "arith",
           JAC_PER, runs);
    printf("%-7s %-6s %12s %12s %8s\n", "rows", "consts", "kp_eval us",
           "jacobian us", "ratio");
    static const size_t rows[] = {1000, 10000};
    for (int r = 0; r < 2; r++) {
        if (rows[r] > maxrows)
            continue;
        for (int nf = 1; nf <= 4; nf++) {
            const kp_expr_t *g = ex + (nf - 1) * JAC_PER;
            int n = cnt[nf - 1];
            if (n == 0)
                continue;
            double te = jac_pass(g, n, cols, rows[r], out, NULL, runs, &sink);
            double tj = jac_pass(g, n, cols, rows[r], out, jac, runs, &sink);
            printf("%-7zu %-6d %12.2f %12.2f %8.2f\n", rows[r], nf, 1e6 * te,
                   1e6 * tj, tj / te);
        }
    }
    if (!isfinite(sink))
        printf("(some expressions are NaN/inf on this data)\n");
    free(out);
    free(jac);
    free(ex);
}

int main(int argc, char **argv)
{
    size_t nrows = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    int only_jac = argc > 3 && !strcmp(argv[3], "jac");
    if (runs < 1 || runs > 63)
        runs = 5;
    size_t nbase = nrows < 2000 ? nrows : 2000; /* baseline rows */
    int nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    printf("eval throughput: %d expressions x %zu rows, %d runs + warm-up\n",
           NEXPR, nrows, runs);
    printf("cpu: %s, %d threads; kernels: %s\n", cpu, nt,
           kp_eval_isa_name(kp_eval_isa_best()));
    printf("compiler: gcc %s; flags: %s; commit %s\n", __VERSION__,
           KP_BENCH_CFLAGS, KP_COMMIT);

    kp_rng_t rng;
    kp_rng_init(&rng, SEED);
    double *data = malloc((NVARS + 1) * nrows * sizeof *data);
    const double *cols[NVARS];
    for (int v = 0; v < NVARS; v++) {
        for (size_t i = 0; i < nrows; i++)
            data[v * nrows + i] = 0.1 + 2.9 * kp_rng_uniform(&rng);
        cols[v] = data + v * nrows;
    }
    double *y = data + NVARS * nrows;
    for (size_t i = 0; i < nrows; i++)
        y[i] = cols[0][i] * sin(cols[1][i]) + cols[2][i];
    kp_expr_t *ex = malloc(NEXPR * sizeof *ex);
    double *loss = malloc(NEXPR * sizeof *loss);

    static const char *names[] = {"arith", "physics"};
    printf("%-8s %-22s %12s %12s\n", "set", "what", "median/s", "best/s");
    for (int set = ARITH; set <= PHYS && !only_jac; set++) {
        long tokens = 0;
        for (int j = 0; j < NEXPR; j++) {
            kp_expr_init(&ex[j]);
            gen(&ex[j], &rng, 15 + (int)kp_rng_below(&rng, 26), set);
            if (kp_expr_finish(&ex[j], NULL) != KP_OK) {
                fprintf(stderr, "bad expression %d\n", j);
                return 1;
            }
            tokens += ex[j].len;
        }
        work_t w = {ex, cols, y, nrows, loss, 0};
        double nodes = (double)tokens * (double)nrows, m1, b1, mn, bn, mf, bf;
        measure(&w, 0, 1, runs, nodes, &m1, &b1);
        printf("%-8s %-22s %12.3e %12.3e\n", names[set], "kp_eval 1 thread", m1,
               b1);
        measure(&w, 0, nt, runs, nodes, &mn, &bn);
        char what[64];
        snprintf(what, sizeof what, "kp_eval %d threads", nt);
        printf("%-8s %-22s %12.3e %12.3e  (x%.2f)\n", names[set], what, mn, bn,
               mn / m1);
        measure(&w, 1, nt, runs, nodes, &mf, &bf);
        snprintf(what, sizeof what, "mse_many %d threads", nt);
        printf("%-8s %-22s %12.3e %12.3e\n", names[set], what, mf, bf);
        work_t wb = {ex, cols, y, nbase, loss, 0};
        double mb, bb;
        measure(&wb, 2, 1, runs, (double)tokens * (double)nbase, &mb, &bb);
        printf("%-8s %-22s %12.3e %12.3e  (kp_eval/naive x%.1f)\n", names[set],
               "naive 1 thread", mb, bb, m1 / mb);
        if (!isfinite(w.sink + wb.sink))
            printf("%-8s (some expressions are NaN/inf on this data)\n",
                   names[set]);
    }
    bench_jacobian(&rng, cols, nrows, runs, ARITH);
    bench_jacobian(&rng, cols, nrows, runs, PHYS);
    free(ex);
    free(loss);
    free(data);
    return 0;
}
