/* b-capset.c: time to target of `kepler search capset` (construction
   search, kp_csearch, default options) over 5 seeds: n = 4 (target 20),
   n = 5 (45) and n = 6 (112), with a wall-clock limit per run (60 s for
   n <= 5, 600 s for n = 6 by default); then, for n = 7 and 8, the size
   reached within a fixed budget (60 s by default) against the best known
   236 and 512 (each run stops early if it reaches them). Reports the
   median and worst time (a run that misses the target counts as "> limit"
   and its best size is shown), the sizes reached, and the objects built
   (or symmetric steps) per second.

   Usage: bench/capset [max_n [limit_seconds [method [budget_7_8]]]]
     max_n 4..8 (default 8); limit overrides the limits for n <= 6; method
     program (default), local or symmetric; budget_7_8 the seconds per run
     for n = 7, 8 (default 60). All threads are used. */
#include "config.h"
#include "kp_commit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "kp_csearch.h"
#include "kp_grammar.h"
#include "kp_problems.h"

#ifndef KP_BENCH_CFLAGS
#define KP_BENCH_CFLAGS "(unknown)"
#endif
#define SEEDS 5

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void cpu_name(char *buf, size_t size)
{
    snprintf(buf, size, "(unknown)");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                snprintf(buf, size, "%s", c + 2);
                buf[strcspn(buf, "\n")] = '\0';
            }
            break;
        }
    fclose(f);
}

int main(int argc, char **argv)
{
    int max_n = argc > 1 ? atoi(argv[1]) : 8;
    double limit_all = argc > 2 ? atof(argv[2]) : 0;
    int method = KP_CS_PROGRAM;
    const char *mname = argc > 3 ? argv[3] : "program";
    if (!strcmp(mname, "local"))
        method = KP_CS_LOCAL;
    else if (!strcmp(mname, "symmetric"))
        method = KP_CS_SYMMETRIC;
    else
        mname = "program";
    double budget78 = argc > 4 ? atof(argv[4]) : 60;
    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    printf("capset time to target, %d seeds, method %s\n", SEEDS, mname);
    printf("cpu: %s, threads: %d\ncompiler: %s, flags: %s, commit: %s\n",
           cpu, omp_get_max_threads(), __VERSION__, KP_BENCH_CFLAGS,
           KP_COMMIT);
    const kp_problem_t *p = kp_problem_capset();
    static const int target[9] = {0, 2, 4, 9, 20, 45, 112, 236, 512};
    for (int n = 4; n <= max_n && n <= 8; n++) {
        double limit = n >= 7 ? budget78
                       : limit_all > 0 ? limit_all : (n <= 5 ? 60 : 600);
        double sizes[SEEDS];
        kp_grammar_t g;
        kp_error_t err;
        kp_grammar_init(&g);
        if (kp_grammar_load(&g, "capset", &err) != KP_OK ||
            kp_cs_bind_grammar(&g, p, n, &err) != KP_OK) {
            fprintf(stderr, "grammar: %s\n", err.msg);
            return 1;
        }
        double t[SEEDS], rate = 0;
        int hit = 0;
        printf("n=%d target %d (limit %.0f s):", n, target[n], limit);
        fflush(stdout);
        for (int s = 0; s < SEEDS; s++) {
            kp_cs_params_t prm;
            kp_cs_params_default(&prm);
            prm.seed = (uint64_t)s + 1;
            prm.method = method;
            prm.target = target[n];
            prm.time_limit = limit;
            kp_cs_result_t r;
            if (kp_cs_result_init(&r, p, n) != KP_OK ||
                kp_cs_run(&r, p, n, &g, &prm, &err) != KP_OK) {
                fprintf(stderr, "run: %s\n", err.msg);
                return 1;
            }
            t[s] = r.reached ? r.seconds : INFINITY;
            sizes[s] = r.score.value;
            hit += r.reached;
            rate += r.evaluations / (r.seconds > 0 ? r.seconds : 1e-9);
            if (r.reached)
                printf(" %.2fs", r.seconds);
            else
                printf(" >%.0fs(best %g)", limit, r.score.value);
            fflush(stdout);
            kp_cs_result_clear(&r);
        }
        qsort(t, SEEDS, sizeof t[0], cmp_double);
        qsort(sizes, SEEDS, sizeof sizes[0], cmp_double);
        printf("\n  sizes reached: min %g  median %g  max %g", sizes[0],
               sizes[SEEDS / 2], sizes[SEEDS - 1]);
        printf("\n  reached %d/%d  median %s%.2f s  worst %s%.2f s  "
               "%.3g objects/s\n", hit, SEEDS, isinf(t[SEEDS / 2]) ? ">" : "",
               isinf(t[SEEDS / 2]) ? limit : t[SEEDS / 2],
               isinf(t[SEEDS - 1]) ? ">" : "",
               isinf(t[SEEDS - 1]) ? limit : t[SEEDS - 1], rate / SEEDS);
        kp_grammar_clear(&g);
    }
    return 0;
}
