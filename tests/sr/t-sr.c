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

/* ---- Checkpoints ---- */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char ck_dir[64];

static const char *ck_path(const char *name)
{
    static char buf[4][128];
    static int k;
    if (ck_dir[0] == '\0') {
        strcpy(ck_dir, "/tmp/kp-sr-ckpt.XXXXXX");
        cr_assert_not_null(mkdtemp(ck_dir));
    }
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", ck_dir, name);
    return buf[k];
}

static void ck_cleanup(void)
{
    if (ck_dir[0] != '\0') {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", ck_dir);
        cr_assert_eq(system(cmd), 0);
        ck_dir[0] = '\0';
    }
}

static void ck_teardown(void)
{
    ck_cleanup();
    teardown();
}

static void ck_params(kp_sr_params_t *p, int engine)
{
    small_params(p);
    p->engine = engine;
    p->population = 32;
    p->policy_batch = 32;
    p->generations = 2;
    p->seed = 23;
}

/* Runs with p and returns KP status; r must be initialised. */
static int run(kp_sr_result_t *r, const kp_sr_params_t *p, kp_error_t *err)
{
    return kp_sr_run(r, &g, cols, 2, yc, N, p, err);
}

Test(sr, resumed_run_is_bit_identical_to_an_uninterrupted_one, .init = setup,
     .fini = ck_teardown, .timeout = 120)
{
    for (int engine = KP_SR_HYBRID; engine <= KP_SR_POLICY; engine++)
        for (int batch = 0; batch <= 1; batch++) {
            kp_sr_params_t p;
            ck_params(&p, engine);
            p.batch_rows = batch ? 64 : 0;
            p.max_rounds = 4;
            p.threads = 1;
            kp_sr_result_t a, b, c;
            kp_sr_result_init(&a, p.max_complexity);
            cr_assert_eq(run(&a, &p, NULL), KP_OK);

            /* Two rounds with a checkpoint after each, then resume with two
               threads up to the same total of four rounds. */
            p.max_rounds = 2;
            p.checkpoint = ck_path("run.ckpt");
            p.checkpoint_every = 0;
            kp_sr_result_init(&b, p.max_complexity);
            cr_assert_eq(run(&b, &p, NULL), KP_OK);
            cr_assert_eq(b.checkpoints, 2);
            cr_assert_eq(access(ck_path("run.ckpt"), R_OK), 0);
            p.max_rounds = 4;
            p.threads = 2;
            p.resume = ck_path("run.ckpt");
            p.checkpoint = NULL;
            kp_sr_result_init(&c, p.max_complexity);
            kp_error_t err;
            cr_assert_eq(run(&c, &p, &err), KP_OK, "%s", err.msg);
            cr_assert_eq(c.resumed_rounds, 2, "engine %d", engine);
            cr_assert_eq(c.rounds, 4);
            cr_assert_eq(c.evaluations, a.evaluations, "engine %d batch %d",
                         engine, batch);
            cr_assert_eq(c.rows_evaluated, a.rows_evaluated);
            assert_same_archive(&a.archive, &c.archive);
            kp_sr_result_clear(&a);
            kp_sr_result_clear(&b);
            kp_sr_result_clear(&c);
        }
}

static void last_seconds(const kp_sr_progress_t *pr, void *ctx)
{
    *(double *)ctx = pr->seconds;
}

Test(sr, resuming_a_finished_run_returns_its_archive, .init = setup,
     .fini = ck_teardown, .timeout = 60)
{
    kp_sr_params_t p;
    double saved = -1;
    ck_params(&p, KP_SR_HYBRID);
    p.progress = last_seconds; /* the elapsed time the checkpoint records */
    p.progress_ctx = &saved;
    p.max_rounds = 2;
    p.checkpoint = ck_path("done.ckpt");
    p.checkpoint_every = 1e9; /* only the first and the final write */
    kp_sr_result_t a, b;
    kp_sr_result_init(&a, p.max_complexity);
    cr_assert_eq(run(&a, &p, NULL), KP_OK);
    cr_assert_eq(a.checkpoints, 2);
    p.checkpoint = NULL;
    p.resume = ck_path("done.ckpt");
    kp_sr_result_init(&b, p.max_complexity);
    cr_assert_eq(run(&b, &p, NULL), KP_OK);
    cr_assert_eq(b.rounds, 2);
    cr_assert_eq(b.evaluations, a.evaluations);
    /* No round ran, but the elapsed time of the first run is counted. */
    cr_assert_gt(saved, 0);
    cr_assert_geq(b.seconds, saved);
    assert_same_archive(&a.archive, &b.archive);
    kp_sr_result_clear(&a);
    kp_sr_result_clear(&b);
}

static unsigned char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    rewind(f);
    unsigned char *buf = malloc((size_t)*n);
    cr_assert_eq(fread(buf, 1, (size_t)*n, f), (size_t)*n);
    fclose(f);
    return buf;
}

static void spill(const char *path, const unsigned char *buf, long n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
}

/* Resuming from path with p must fail with KP_EINPUT and a message that
   names the file and contains what. */
static void assert_refused(kp_sr_params_t *p, const char *path,
                           const char *what)
{
    kp_sr_result_t r;
    kp_error_t err;
    p->resume = path;
    p->checkpoint = NULL;
    kp_sr_result_init(&r, p->max_complexity);
    cr_assert_eq(run(&r, p, &err), KP_EINPUT, "%s accepted", what);
    cr_assert_str_eq(err.file, path);
    cr_assert_not_null(strstr(err.msg, what), "message '%s' lacks '%s'",
                       err.msg, what);
    cr_assert_null(strchr(err.msg, '\n'));
    cr_assert_eq(r.rounds, 0);
    kp_sr_result_clear(&r);
}

Test(sr, corrupt_or_mismatched_checkpoints_are_refused, .init = setup,
     .fini = ck_teardown, .timeout = 60)
{
    kp_sr_params_t p;
    ck_params(&p, KP_SR_HYBRID);
    p.max_rounds = 1;
    p.checkpoint = ck_path("good.ckpt");
    kp_sr_result_t r;
    kp_sr_result_init(&r, p.max_complexity);
    cr_assert_eq(run(&r, &p, NULL), KP_OK);
    kp_sr_result_clear(&r);
    long n;
    unsigned char *buf = slurp(ck_path("good.ckpt"), &n);
    cr_assert_gt(n, 1000);

    /* One flipped bit anywhere in the payload. */
    for (long at = 40; at < n; at += n / 7) {
        buf[at] ^= 0x10;
        spill(ck_path("flip.ckpt"), buf, n);
        buf[at] ^= 0x10;
        ck_params(&p, KP_SR_HYBRID);
        assert_refused(&p, ck_path("flip.ckpt"), "corrupt");
    }
    spill(ck_path("short.ckpt"), buf, n - 100);
    assert_refused(&p, ck_path("short.ckpt"), "truncated");
    spill(ck_path("tiny.ckpt"), buf, 10);
    assert_refused(&p, ck_path("tiny.ckpt"), "not a Kepler");
    buf[0] = 'X';
    spill(ck_path("magic.ckpt"), buf, n);
    buf[0] = 'K';
    assert_refused(&p, ck_path("magic.ckpt"), "not a Kepler");
    buf[8] = 99;
    spill(ck_path("version.ckpt"), buf, n);
    buf[8] = 1;
    assert_refused(&p, ck_path("version.ckpt"), "version 99");
    assert_refused(&p, ck_path("absent.ckpt"), "cannot read");
    free(buf);

    /* Intact file, other run. */
    ck_params(&p, KP_SR_HYBRID);
    p.islands = 3;
    assert_refused(&p, ck_path("good.ckpt"), "islands 2, this run has 3");
    ck_params(&p, KP_SR_HYBRID);
    p.seed = 24;
    assert_refused(&p, ck_path("good.ckpt"), "seed");
    ck_params(&p, KP_SR_HYBRID);
    p.engine = KP_SR_EVOLVE;
    assert_refused(&p, ck_path("good.ckpt"), "engine");
    ck_params(&p, KP_SR_HYBRID);
    yc[7] += 1e-9; /* one row of the data differs */
    assert_refused(&p, ck_path("good.ckpt"), "other data");
    yc[7] -= 1e-9;
    kp_grammar_clear(&g);
    kp_grammar_init(&g);
    const char *names[] = {"a", "c"};
    cr_assert_eq(kp_grammar_load(&g, KP_SRCDIR "/grammars/physics.grammar",
                                 NULL), KP_OK);
    cr_assert_eq(kp_grammar_bind(&g, 2, names, NULL), KP_OK);
    assert_refused(&p, ck_path("good.ckpt"), "grammar");
    /* Budgets and threads may change: the same file is accepted. */
    kp_grammar_clear(&g);
    kp_grammar_init(&g);
    const char *orig[] = {"a", "b"};
    cr_assert_eq(kp_grammar_load(&g, KP_SRCDIR "/grammars/physics.grammar",
                                 NULL), KP_OK);
    cr_assert_eq(kp_grammar_bind(&g, 2, orig, NULL), KP_OK);
    ck_params(&p, KP_SR_HYBRID);
    p.max_rounds = 2;
    p.threads = 2;
    p.resume = ck_path("good.ckpt");
    kp_sr_result_init(&r, p.max_complexity);
    cr_assert_eq(run(&r, &p, NULL), KP_OK);
    cr_assert_eq(r.rounds, 2);
    kp_sr_result_clear(&r);
}

Test(sr, unwritable_checkpoint_stops_with_an_error, .init = setup,
     .fini = ck_teardown)
{
    kp_sr_params_t p;
    ck_params(&p, KP_SR_EVOLVE);
    p.max_rounds = 3;
    p.checkpoint = "/nonexistent-dir/x.ckpt";
    kp_sr_result_t r;
    kp_error_t err;
    kp_sr_result_init(&r, p.max_complexity);
    cr_assert_eq(run(&r, &p, &err), KP_EINPUT);
    cr_assert_str_eq(err.file, "/nonexistent-dir/x.ckpt");
    cr_assert_not_null(strstr(err.msg, "cannot write checkpoint"));
    cr_assert_eq(r.rounds, 1);
    cr_assert_not_null(kp_pareto_best(&r.archive)); /* best so far kept */
    kp_sr_result_clear(&r);
}
