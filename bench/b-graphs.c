/* b-graphs.c: time to a verified wagner21 counterexample at n = 19 (and
   n = 18, the smallest order found) with the cross-entropy method + tabu
   polishing (search/kp_cem.h), over 5 seeds; reports median and worst,
   and the same for the Ramsey witnesses R(4,4) > 17 (ramsey44) and
   R(3,4) > 8 (ramsey34). Run by `make bench`, never by `make check`.
   Env: KP_BENCH_SECONDS (budget per run, default 120), KP_BENCH_THREADS
   (default 2). */
#include <stdio.h>
#include <stdlib.h>

#include "kp_cem.h"
#include "kp_problems.h"

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void run(const char *name, int n, double target)
{
    const char *e = getenv("KP_BENCH_SECONDS");
    double budget = e ? atof(e) : 120;
    e = getenv("KP_BENCH_THREADS");
    int threads = e ? atoi(e) : 2;
    const kp_problem_t *p = kp_problem_builtin(name);
    double t[5];
    int ok = 0;
    for (int s = 0; s < 5; s++) {
        kp_cem_params_t cp;
        kp_cem_params_default(&cp);
        cp.threads = threads;
        cp.seconds = budget;
        cp.has_target = 1;
        cp.target = target;
        kp_rng_t rng;
        kp_rng_init(&rng, (uint64_t)s + 1);
        kp_cem_result_t r;
        if (kp_cem_run(&r, p, n, &cp, &rng, NULL) != KP_OK) {
            printf("%s: run failed\n", name);
            return;
        }
        t[s] = r.reached ? r.seconds_to_target : 1e300;
        ok += r.reached;
        printf("  %s n=%d seed %d: %s in %.2f s (best %.6f, %ld gens, %ld "
               "evals)\n",
               name, n, s + 1, r.reached ? "found" : "NOT found",
               r.reached ? r.seconds_to_target : r.seconds, r.best_score,
               r.gens, r.evals);
        kp_cem_result_clear(&r);
    }
    qsort(t, 5, sizeof t[0], cmp_d);
    printf("%s n=%d: %d/5 found, median %.2f s, worst %s%.2f s (%d threads, "
           "budget %.0f s)\n",
           name, n, ok, t[2] < 1e300 ? t[2] : budget, t[4] < 1e300 ? "" : "> ",
           t[4] < 1e300 ? t[4] : budget, threads, budget);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    run("wagner21", 19, 1e-9);
    run("wagner21", 18, 1e-9);
    run("ramsey44", 17, 0);
    run("ramsey34", 8, 0);
    return 0;
}
