/* t-sr.c: the symbolic-regression driver recovers simple laws, is
   reproducible whatever the thread count, and honours its stop flag. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>

#include "kp_eval.h"
#include "kp_sr.h"
#include "../kp_test.h"

#define N 200

static kp_grammar_t g;
static double x0c[N], x1c[N], yc[N];
static const double *cols[2] = {x0c, x1c};

/* y = x0**2 + 3*x1 on random points. */
static void setup(void)
{
    kp_rng_t rng;
    kp_rng_init(&rng, 5);
    for (int i = 0; i < N; i++) {
        x0c[i] = 4 * kp_rng_uniform(&rng) - 2;
        x1c[i] = 4 * kp_rng_uniform(&rng) - 2;
        yc[i] = x0c[i] * x0c[i] + 3 * x1c[i];
    }
    kp_grammar_init(&g);
    const char *names[] = {"a", "b"};
    cr_assert_eq(kp_grammar_load(&g, KP_SRCDIR "/grammars/physics.grammar",
                                 NULL), KP_OK);
    cr_assert_eq(kp_grammar_bind(&g, 2, names, NULL), KP_OK);
}

static void teardown(void)
{
    kp_grammar_clear(&g);
}

static void small_params(kp_sr_params_t *p)
{
    kp_sr_params_default(p);
    p->islands = 2;
    p->population = 48;
    p->generations = 3;
    p->policy_batch = 64;
    p->max_complexity = 40;
}

/* Stands in for the verifier: exact when the MSE on all rows is tiny. */
static int mse_is_tiny(const kp_expr_t *e, void *ctx)
{
    (void)ctx;
    return kp_eval_mse(e, cols, yc, N) < 1e-20;
}

Test(sr, evolution_recovers_a_polynomial_law, .init = setup, .fini = teardown,
     .timeout = 120)
{
    kp_sr_params_t p;
    small_params(&p);
    p.engine = KP_SR_EVOLVE;
    p.population = 64;
    p.generations = 4;
    p.max_rounds = 150;
    p.exact_loss = 1e-20;
    p.is_exact = mse_is_tiny;
    kp_sr_result_t r;
    kp_sr_result_init(&r, p.max_complexity);
    cr_assert_eq(kp_sr_run(&r, &g, cols, 2, yc, N, &p, NULL), KP_OK);
    const kp_pareto_entry_t *best = kp_pareto_best(&r.archive);
    cr_assert_not_null(best);
    cr_assert_lt(best->loss, 1e-16, "best MSE %g after %d rounds", best->loss,
                 r.rounds);
    /* The reported loss is the MSE of the stored expression on all rows. */
    cr_assert_float_eq(kp_eval_mse(&best->e, cols, yc, N), best->loss,
                       1e-12 + 1e-9 * best->loss);
    cr_assert_gt(r.evaluations, 0);
    cr_assert(r.exact_found, "the exact stop was not taken");
    kp_sr_result_clear(&r);
}

static void assert_same_archive(const kp_pareto_t *a, const kp_pareto_t *b)
{
    cr_assert_eq(a->max_complexity, b->max_complexity);
    for (int c = 1; c <= a->max_complexity; c++) {
        cr_assert_eq(a->used[c], b->used[c], "complexity %d", c);
        if (a->used[c]) {
            cr_assert(kp_expr_equal(&a->slot[c].e, &b->slot[c].e),
                      "complexity %d", c);
            cr_assert(a->slot[c].loss == b->slot[c].loss, "complexity %d", c);
        }
    }
}

Test(sr, same_seed_same_result_for_any_thread_count, .init = setup,
     .fini = teardown, .timeout = 60)
{
    for (int engine = KP_SR_HYBRID; engine <= KP_SR_POLICY; engine++) {
        kp_sr_result_t r1, r2;
        kp_sr_params_t p;
        small_params(&p);
        p.engine = engine;
        p.max_rounds = 3;
        p.seed = 11;
        p.threads = 1;
        kp_sr_result_init(&r1, p.max_complexity);
        kp_sr_result_init(&r2, p.max_complexity);
        cr_assert_eq(kp_sr_run(&r1, &g, cols, 2, yc, N, &p, NULL), KP_OK);
        p.threads = 2;
        cr_assert_eq(kp_sr_run(&r2, &g, cols, 2, yc, N, &p, NULL), KP_OK);
        cr_assert_eq(r1.evaluations, r2.evaluations, "engine %d", engine);
        assert_same_archive(&r1.archive, &r2.archive);
        cr_assert_not_null(kp_pareto_best(&r1.archive), "engine %d", engine);
        kp_sr_result_clear(&r1);
        kp_sr_result_clear(&r2);
    }
}

Test(sr, mini_batches_report_full_data_losses, .init = setup,
     .fini = teardown, .timeout = 60)
{
    kp_sr_params_t p;
    small_params(&p);
    p.batch_rows = 50; /* 200 rows: batching is on */
    p.max_rounds = 3;
    kp_sr_result_t r;
    kp_sr_result_init(&r, p.max_complexity);
    cr_assert_eq(kp_sr_run(&r, &g, cols, 2, yc, N, &p, NULL), KP_OK);
    for (int c = 1; c <= r.archive.max_complexity; c++)
        if (r.archive.used[c]) {
            double mse = kp_eval_mse(&r.archive.slot[c].e, cols, yc, N);
            cr_assert_float_eq(mse, r.archive.slot[c].loss,
                               1e-12 + 1e-9 * mse, "complexity %d", c);
        }
    kp_sr_result_clear(&r);
}

Test(sr, stop_flag_ends_the_run_with_results, .init = setup,
     .fini = teardown, .timeout = 60)
{
    volatile sig_atomic_t stop = 1;
    kp_sr_params_t p;
    small_params(&p);
    p.stop = &stop;
    kp_sr_result_t r;
    kp_sr_result_init(&r, p.max_complexity);
    cr_assert_eq(kp_sr_run(&r, &g, cols, 2, yc, N, &p, NULL), KP_OK);
    cr_assert(r.interrupted);
    cr_assert_eq(r.rounds, 1);
    cr_assert_not_null(kp_pareto_best(&r.archive));
    kp_sr_result_clear(&r);
}

Test(sr, rejects_bad_parameters, .init = setup, .fini = teardown)
{
    kp_sr_params_t p;
    small_params(&p);
    p.islands = 0;
    kp_sr_result_t r;
    kp_sr_result_init(&r, p.max_complexity);
    kp_error_t err;
    cr_assert_eq(kp_sr_run(&r, &g, cols, 2, yc, N, &p, &err), KP_EINPUT);
    small_params(&p);
    cr_assert_eq(kp_sr_run(&r, &g, cols, 2, yc, 0, &p, &err), KP_EINPUT);
    kp_sr_result_clear(&r);
}
