/* t-policy.c: the GRU policy: samples obey the grammar, probabilities sum
   to one over an enumerated language, the gradient matches central finite
   differences, risk-seeking training moves the sample distribution towards
   the reward, determinism, checkpoints and error paths. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kp_expr.h"
#include "kp_grammar.h"
#include "kp_policy.h"
#include "../kp_test.h"

/* Two types, forbid rules of both kinds, literals: the masks do real work. */
static const char *const rich_grammar =
    "grammar rich\n"
    "limit length 20\n"
    "limit depth 7\n"
    "type real\n"
    "type exponent\n"
    "start real\n"
    "op +    real real     -> real cost 1\n"
    "op *    real real     -> real cost 1\n"
    "op /    real real     -> real cost 1\n"
    "op **   real exponent -> real cost 1\n"
    "op sin  real          -> real cost 2\n"
    "op cos  real          -> real cost 2\n"
    "op exp  real          -> real cost 2\n"
    "terminal inputs -> real cost 1\n"
    "terminal const  -> real cost 1\n"
    "literal 1 2 -> real cost 1\n"
    "literal 2 3 1/2 -> exponent cost 1\n"
    "forbid descendant sin cos : sin cos\n"
    "forbid child exp sin cos : const literal\n"
    "forbid child ** : **\n";

/* No rules: a reward on sin tokens can be maximised freely. */
static const char *const toy_grammar =
    "grammar toy\n"
    "limit length 15\n"
    "limit depth 8\n"
    "type real\n"
    "start real\n"
    "op + real real -> real cost 1\n"
    "op * real real -> real cost 1\n"
    "op sin real -> real cost 1\n"
    "op cos real -> real cost 1\n"
    "terminal inputs -> real cost 1\n"
    "terminal const -> real cost 1\n";

/* Small enough to enumerate every expression. */
static const char *const tiny_grammar =
    "grammar tiny\n"
    "limit length 5\n"
    "limit depth 4\n"
    "type real\n"
    "start real\n"
    "op + real real -> real cost 1\n"
    "op sin real -> real cost 1\n"
    "terminal inputs -> real cost 1\n"
    "terminal const -> real cost 1\n"
    "forbid child sin : const\n";

static void load(kp_grammar_t *g, const char *text, int nvars)
{
    kp_error_t err;
    char buf[800];
    kp_grammar_init(g);
    cr_assert_eq(kp_grammar_load_string(g, text, "test", &err), KP_OK, "%s",
                 kp_error_format(buf, sizeof buf, &err));
    cr_assert_eq(kp_grammar_bind(g, nvars, NULL, &err), KP_OK, "%s",
                 kp_error_format(buf, sizeof buf, &err));
}

static void make_policy(kp_policy_t *p, const kp_grammar_t *g, int hidden,
                        int embed, int max_len, int min_len, uint64_t seed)
{
    kp_policy_params_t pp;
    kp_error_t err;
    char buf[800];
    kp_rng_t rng;
    kp_policy_params_default(&pp);
    pp.hidden = hidden;
    pp.embed = embed;
    pp.max_len = max_len;
    pp.min_len = min_len;
    kp_rng_init(&rng, seed);
    cr_assert_eq(kp_policy_init(p, g, &pp, &rng, &err), KP_OK, "%s",
                 kp_error_format(buf, sizeof buf, &err));
}

static int sym_named(const kp_grammar_t *g, const char *name)
{
    for (int i = 0; i < kp_grammar_nsymbols(g); i++)
        if (strcmp(kp_grammar_symbol(g, i)->name, name) == 0)
            return i;
    cr_assert_fail("no symbol %s", name);
    return -1;
}

/* Checks n samples of p: valid expressions obeying g, lengths within the
   limits (min_len > 0: also the soft minimum, which holds exactly when an
   operator can always be chosen), symbols mapping back to the expression
   both ways. */
static void check_samples(kp_policy_t *p, const kp_grammar_t *g, int n,
                          int min_len, kp_rng_t *rng)
{
    int L = kp_policy_max_len(p);
    kp_expr_t *e = malloc((size_t)n * sizeof *e);
    int *syms = malloc((size_t)n * L * sizeof *syms);
    int *lens = malloc((size_t)n * sizeof *lens);
    kp_error_t err;
    char buf[800], txt[512];
    cr_assert_eq(kp_policy_sample(p, g, e, syms, lens, n, rng, &err), KP_OK,
                 "%s", kp_error_format(buf, sizeof buf, &err));
    for (int i = 0; i < n; i++) {
        kp_expr_print(txt, sizeof txt, &e[i], KP_PRINT_SYMPY, NULL, 0);
        cr_assert_eq(kp_expr_check(&e[i], &err), KP_OK, "sample %d %s: %s",
                     i, txt, kp_error_format(buf, sizeof buf, &err));
        cr_assert_eq(kp_grammar_check_expr(g, &e[i], &err), KP_OK,
                     "seed %llu sample %d %s: %s",
                     (unsigned long long)kp_test_seed(), i, txt,
                     kp_error_format(buf, sizeof buf, &err));
        cr_assert_eq(lens[i], e[i].len);
        cr_assert(lens[i] <= L && lens[i] >= 1);
        if (min_len > 0)
            cr_assert_geq(lens[i], min_len, "sample %d %s", i, txt);
        for (int k = 0; k < e[i].nconst; k++)
            if (e[i].c[k].den == 0)
                cr_assert_eq(e[i].c[k].value, 1.0);
        int back[KP_EXPR_MAX_LEN];
        cr_assert_eq(kp_grammar_expr_symbols(g, &e[i], back), 0);
        cr_assert_eq(memcmp(back, syms + (size_t)i * L,
                            (size_t)lens[i] * sizeof *back),
                     0, "sample %d %s", i, txt);
        kp_expr_t r;
        cr_assert_eq(kp_grammar_build_expr(&r, g, syms + (size_t)i * L,
                                           lens[i], NULL),
                     KP_OK);
        cr_assert(kp_expr_equal(&r, &e[i]));
    }
    free(e);
    free(syms);
    free(lens);
}

Test(policy, samples_obey_grammar)
{
    kp_grammar_t g;
    kp_policy_t p;
    kp_rng_t rng;
    load(&g, rich_grammar, 3);
    make_policy(&p, &g, 16, 4, 0, 0, kp_test_seed());
    kp_test_rng_init(&rng);
    check_samples(&p, &g, 3000 * (int)kp_test_multiplier(), 0, &rng);
    kp_policy_clear(&p);

    /* Length priors: a lower limit and a soft minimum. The minimum gives
       way where a slot only takes leaves (an exponent), so it is checked
       on the single-type grammar only. */
    make_policy(&p, &g, 8, 3, 9, 5, kp_test_seed() + 1);
    cr_assert_eq(kp_policy_max_len(&p), 9);
    check_samples(&p, &g, 2000 * (int)kp_test_multiplier(), 0, &rng);
    kp_policy_clear(&p);
    kp_grammar_t toy;
    load(&toy, toy_grammar, 2);
    make_policy(&p, &toy, 8, 3, 12, 6, kp_test_seed() + 4);
    check_samples(&p, &toy, 2000 * (int)kp_test_multiplier(), 6, &rng);
    kp_policy_clear(&p);
    kp_grammar_clear(&toy);

    /* A trained (non-uniform) policy still obeys the grammar. */
    make_policy(&p, &g, 16, 4, 0, 0, kp_test_seed() + 2);
    double *w = kp_policy_params(&p);
    for (size_t j = 0; j < kp_policy_nparams(&p); j++)
        w[j] *= 4;
    check_samples(&p, &g, 1000, 0, &rng);
    kp_policy_clear(&p);
    kp_grammar_clear(&g);

    /* The shipped default grammar. */
    kp_error_t err;
    char buf[800];
    kp_grammar_init(&g);
    cr_assert_eq(kp_grammar_load(&g, "physics", &err), KP_OK, "%s",
                 kp_error_format(buf, sizeof buf, &err));
    cr_assert_eq(kp_grammar_bind(&g, 2, NULL, &err), KP_OK);
    make_policy(&p, &g, 32, 8, 0, 4, kp_test_seed() + 3);
    check_samples(&p, &g, 2000, 0, &rng);
    kp_policy_clear(&p);
    kp_grammar_clear(&g);
}

/* Depth-first enumeration of every complete sequence of the grammar. */
static void enumerate(const kp_grammar_t *g, kp_gstate_t *s, int *out,
                      int *lens, int stride, int *count, int cap)
{
    if (kp_gstate_done(s)) {
        cr_assert_lt(*count, cap);
        memcpy(out + (size_t)*count * stride, s->sym,
               (size_t)s->len * sizeof *out);
        lens[(*count)++] = s->len;
        return;
    }
    uint8_t mask[64];
    kp_gstate_allowed(s, g, mask);
    for (int k = 0; k < kp_grammar_nsymbols(g); k++) {
        if (!mask[k])
            continue;
        kp_gstate_t t = *s;
        cr_assert_eq(kp_gstate_push(&t, g, k, NULL), KP_OK);
        enumerate(g, &t, out, lens, stride, count, cap);
    }
}

Test(policy, probabilities_sum_to_one)
{
    kp_grammar_t g;
    kp_policy_t p;
    kp_gstate_t s;
    load(&g, tiny_grammar, 2);
    make_policy(&p, &g, 6, 3, 0, 0, kp_test_seed());
    double *w = kp_policy_params(&p);
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (size_t j = 0; j < kp_policy_nparams(&p); j++)
        w[j] += kp_rng_normal(&rng); /* biases too: far from uniform */
    int L = kp_policy_max_len(&p), cap = 4000, n = 0;
    int *seq = malloc((size_t)cap * L * sizeof *seq);
    int *lens = malloc((size_t)cap * sizeof *lens);
    double *lp = malloc((size_t)cap * sizeof *lp);
    cr_assert_eq(kp_gstate_init(&s, &g, NULL), KP_OK);
    enumerate(&g, &s, seq, lens, L, &n, cap);
    cr_assert_gt(n, 50);
    cr_assert_eq(kp_policy_logprob(&p, &g, seq, lens, n, 1.0, lp, NULL, NULL),
                 KP_OK);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        cr_assert(isfinite(lp[i]) && lp[i] <= 0);
        sum += exp(lp[i]);
    }
    cr_assert_float_eq(sum, 1.0, 1e-12, "sum %.17g over %d", sum, n);

    /* Sample frequencies agree with the probabilities (chi-square-ish:
       the most likely expressions, within 5 standard deviations). */
    int ns = 20000, *ss = malloc((size_t)ns * L * sizeof *ss);
    int *sl = malloc((size_t)ns * sizeof *sl);
    cr_assert_eq(kp_policy_sample(&p, &g, NULL, ss, sl, ns, &rng, NULL),
                 KP_OK);
    for (int i = 0; i < n; i++) {
        double pi = exp(lp[i]);
        if (pi < 0.02)
            continue;
        int c = 0;
        for (int j = 0; j < ns; j++)
            c += sl[j] == lens[i] &&
                 memcmp(ss + (size_t)j * L, seq + (size_t)i * L,
                        (size_t)lens[i] * sizeof *ss) == 0;
        double sd = sqrt(ns * pi * (1 - pi));
        cr_assert_lt(fabs(c - ns * pi), 5 * sd, "expr %d: %d vs %.1f", i, c,
                     ns * pi);
    }
    free(ss);
    free(sl);
    free(seq);
    free(lens);
    free(lp);
    kp_policy_clear(&p);
    kp_grammar_clear(&g);
}

Test(policy, gradient_matches_finite_differences)
{
    kp_grammar_t g;
    kp_policy_t p;
    kp_rng_t rng;
    load(&g, rich_grammar, 2);
    make_policy(&p, &g, 4, 2, 10, 3, kp_test_seed());
    kp_test_rng_init(&rng);
    double *w = kp_policy_params(&p);
    size_t np = kp_policy_nparams(&p);
    for (size_t j = 0; j < np; j++)
        w[j] += 0.5 * kp_rng_normal(&rng);
    int n = 6;
    int syms[6 * 10], lens[6]; /* stride: the max_len of 10 */
    cr_assert_eq(kp_policy_max_len(&p), 10);
    cr_assert_eq(kp_policy_sample(&p, &g, NULL, syms, lens, n, &rng, NULL),
                 KP_OK);
    double wl[6], we[6];
    for (int i = 0; i < n; i++) {
        wl[i] = kp_rng_normal(&rng);
        we[i] = 0.3 * kp_rng_normal(&rng);
    }
    double gamma = 0.8, J;
    double *grad = malloc(np * sizeof *grad);
    int nv;
    cr_assert_eq(kp_policy_objective(&p, &g, syms, lens, wl, we, n, gamma, &J,
                                     grad, &nv, NULL),
                 KP_OK);
    cr_assert_eq(nv, n);

    /* The objective agrees with logprob. */
    double lp[6], en[6], J2 = 0;
    cr_assert_eq(kp_policy_logprob(&p, &g, syms, lens, n, gamma, lp, en,
                                   NULL),
                 KP_OK);
    for (int i = 0; i < n; i++)
        J2 += wl[i] * lp[i] + we[i] * en[i];
    cr_assert_float_eq(J, J2, 1e-12);

    double maxerr = 0, gmax = 0;
    for (size_t j = 0; j < np; j++) {
        double h = 1e-5, w0 = w[j], jp, jm;
        w[j] = w0 + h;
        kp_policy_objective(&p, &g, syms, lens, wl, we, n, gamma, &jp, NULL,
                            NULL, NULL);
        w[j] = w0 - h;
        kp_policy_objective(&p, &g, syms, lens, wl, we, n, gamma, &jm, NULL,
                            NULL, NULL);
        w[j] = w0;
        double fd = (jp - jm) / (2 * h);
        double e = fabs(fd - grad[j]) / (1e-6 + fabs(fd) + fabs(grad[j]));
        if (fabs(fd - grad[j]) > 1e-7 && e > maxerr)
            maxerr = e;
        cr_assert(fabs(fd - grad[j]) < 1e-6 * (1 + fabs(fd)),
                  "param %zu of %zu: analytic %.12g fd %.12g", j, np,
                  grad[j], fd);
        if (fabs(grad[j]) > gmax)
            gmax = fabs(grad[j]);
    }
    cr_assert_gt(gmax, 1e-3); /* the check was not vacuous */
    free(grad);
    kp_policy_clear(&p);
    kp_grammar_clear(&g);
}

/* Mean fraction of sin tokens over n samples. */
static double sin_fraction(kp_policy_t *p, const kp_grammar_t *g, int n,
                           uint64_t seed, int *syms, int *lens,
                           double *rewards)
{
    kp_rng_t rng;
    int L = kp_policy_max_len(p), sin = sym_named(g, "sin");
    kp_rng_init(&rng, seed);
    cr_assert_eq(kp_policy_sample(p, g, NULL, syms, lens, n, &rng, NULL),
                 KP_OK);
    double tot = 0;
    for (int i = 0; i < n; i++) {
        int c = 0;
        for (int j = 0; j < lens[i]; j++)
            c += syms[(size_t)i * L + j] == sin;
        rewards[i] = (double)c / lens[i];
        tot += rewards[i];
    }
    return tot / n;
}

Test(policy, training_follows_reward)
{
    kp_grammar_t g;
    kp_policy_t p;
    kp_policy_train_params_t tp;
    kp_error_t err;
    char buf[800];
    load(&g, toy_grammar, 3);
    make_policy(&p, &g, 32, 8, 0, 0, kp_test_seed());
    kp_policy_train_params_default(&tp);
    tp.lr = 0.02;
    tp.epsilon = 0.1;
    int n = 250, L = kp_policy_max_len(&p);
    int *syms = malloc((size_t)n * L * sizeof *syms);
    int *lens = malloc((size_t)n * sizeof *lens);
    double *rw = malloc((size_t)n * sizeof *rw);
    double before = sin_fraction(&p, &g, n, 12345, syms, lens, rw);
    for (int it = 0; it < 30; it++) {
        sin_fraction(&p, &g, n, kp_test_seed() * 1000 + it, syms, lens, rw);
        cr_assert_eq(kp_policy_train(&p, &g, syms, lens, rw, n, &tp, &err),
                     KP_OK, "%s", kp_error_format(buf, sizeof buf, &err));
        cr_assert_eq(p.stats.valid, n);
        cr_assert_eq(p.stats.skipped, 0);
        cr_assert_geq(p.stats.kept, n / 20);
        cr_assert(isfinite(p.stats.loss));
    }
    cr_assert_eq(p.stats.steps, 30);
    double after = sin_fraction(&p, &g, n, 12345, syms, lens, rw);
    cr_log_info("sin fraction %.3f -> %.3f", before, after);
    cr_assert_gt(after, before + 0.25, "sin fraction %.3f -> %.3f", before,
                 after);
    free(syms);
    free(lens);
    free(rw);
    kp_policy_clear(&p);
    kp_grammar_clear(&g);
}

Test(policy, deterministic)
{
    kp_grammar_t g;
    kp_policy_t a, b;
    load(&g, rich_grammar, 2);
    make_policy(&a, &g, 16, 4, 0, 0, 77);
    make_policy(&b, &g, 16, 4, 0, 0, 77);
    int n = 200, L = kp_policy_max_len(&a);
    /* Rows are compared whole: both start zeroed and see the same writes. */
    int *sa = calloc((size_t)n * L, sizeof *sa);
    int *sb = calloc((size_t)n * L, sizeof *sb);
    int la[200], lb[200];
    double rw[200];
    for (int it = 0; it < 3; it++) {
        kp_rng_t ra, rb;
        kp_rng_init(&ra, 99 + it);
        kp_rng_init(&rb, 99 + it);
        cr_assert_eq(kp_policy_sample(&a, &g, NULL, sa, la, n, &ra, NULL),
                     KP_OK);
        cr_assert_eq(kp_policy_sample(&b, &g, NULL, sb, lb, n, &rb, NULL),
                     KP_OK);
        cr_assert_eq(memcmp(la, lb, sizeof la), 0);
        cr_assert_eq(memcmp(sa, sb, (size_t)n * L * sizeof *sa), 0);
        cr_assert_eq(memcmp(&ra, &rb, sizeof ra), 0);
        for (int i = 0; i < n; i++)
            rw[i] = la[i] % 5;
        cr_assert_eq(kp_policy_train(&a, &g, sa, la, rw, n, NULL, NULL),
                     KP_OK);
        cr_assert_eq(kp_policy_train(&b, &g, sb, lb, rw, n, NULL, NULL),
                     KP_OK);
        cr_assert_eq(memcmp(kp_policy_params(&a), kp_policy_params(&b),
                            kp_policy_nparams(&a) * sizeof(double)),
                     0);
    }
    /* A different seed gives different samples. */
    kp_rng_t rc;
    kp_rng_init(&rc, 5);
    kp_policy_sample(&b, &g, NULL, sb, lb, n, &rc, NULL);
    cr_assert_neq(memcmp(sa, sb, (size_t)n * L * sizeof *sa), 0);
    free(sa);
    free(sb);
    kp_policy_clear(&a);
    kp_policy_clear(&b);
    kp_grammar_clear(&g);
}

Test(policy, save_load_round_trip)
{
    kp_grammar_t g, g2;
    kp_policy_t a, b;
    kp_error_t err;
    char ebuf[800];
    load(&g, rich_grammar, 2);
    make_policy(&a, &g, 12, 5, 15, 2, 3);
    int n = 100, L = kp_policy_max_len(&a);
    int *s = calloc((size_t)n * L, sizeof *s);
    int *s2 = calloc((size_t)n * L, sizeof *s2);
    int lens[100], lens2[100];
    double rw[100];
    kp_rng_t rng;
    kp_rng_init(&rng, 8);
    for (int it = 0; it < 2; it++) {
        kp_policy_sample(&a, &g, NULL, s, lens, n, &rng, NULL);
        for (int i = 0; i < n; i++)
            rw[i] = -lens[i];
        cr_assert_eq(kp_policy_train(&a, &g, s, lens, rw, n, NULL, NULL),
                     KP_OK);
    }
    size_t sz = kp_policy_size(&a);
    unsigned char *buf = malloc(sz + 8);
    cr_assert_eq(kp_policy_save(&a, buf, sz - 1, &err), KP_EINPUT);
    cr_assert_eq(kp_policy_save(&a, buf, sz, &err), KP_OK);
    cr_assert_eq(kp_policy_load(&b, &g, buf, sz, &err), KP_OK, "%s",
                 kp_error_format(ebuf, sizeof ebuf, &err));
    cr_assert_eq(kp_policy_nparams(&b), kp_policy_nparams(&a));
    cr_assert_eq(kp_policy_max_len(&b), 15);
    cr_assert_eq(b.min_len, 2);
    cr_assert_eq(b.step, 2);
    cr_assert_eq(memcmp(kp_policy_params(&a), kp_policy_params(&b),
                        kp_policy_nparams(&a) * sizeof(double)),
                 0);
    /* Same samples, and the same next step (Adam state restored). */
    kp_rng_t r1, r2;
    kp_rng_init(&r1, 4);
    r2 = r1;
    kp_policy_sample(&a, &g, NULL, s, lens, n, &r1, NULL);
    kp_policy_sample(&b, &g, NULL, s2, lens2, n, &r2, NULL);
    cr_assert_eq(memcmp(lens, lens2, sizeof lens), 0);
    for (int i = 0; i < n; i++)
        cr_assert_eq(memcmp(s + (size_t)i * L, s2 + (size_t)i * L,
                            (size_t)lens[i] * sizeof *s),
                     0);
    for (int i = 0; i < n; i++)
        rw[i] = lens[i];
    kp_policy_train(&a, &g, s, lens, rw, n, NULL, NULL);
    kp_policy_train(&b, &g, s, lens, rw, n, NULL, NULL);
    cr_assert_eq(memcmp(kp_policy_params(&a), kp_policy_params(&b),
                        kp_policy_nparams(&a) * sizeof(double)),
                 0);
    kp_policy_clear(&b);

    /* Corrupt or mismatched checkpoints. */
    kp_policy_save(&a, buf, sz, NULL);
    cr_assert_eq(kp_policy_load(&b, &g, buf, sz - 1, &err), KP_EINPUT);
    kp_policy_clear(&b);
    cr_assert_eq(kp_policy_load(&b, &g, buf, 10, &err), KP_EINPUT);
    kp_policy_clear(&b);
    buf[0] ^= 1;
    cr_assert_eq(kp_policy_load(&b, &g, buf, sz, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "checkpoint") != NULL);
    buf[0] ^= 1;
    buf[8] = 9; /* version */
    cr_assert_eq(kp_policy_load(&b, &g, buf, sz, &err), KP_EINPUT);
    buf[8] = 1;
    double nan = NAN;
    unsigned char save[8];
    memcpy(save, buf + sz - 8, 8);
    memcpy(buf + sz - 8, &nan, 8); /* host order is fine: any NaN bytes */
    cr_assert_eq(kp_policy_load(&b, &g, buf, sz, &err), KP_EINPUT);
    kp_policy_clear(&b);
    memcpy(buf + sz - 8, save, 8);
    load(&g2, rich_grammar, 3); /* one more symbol */
    cr_assert_eq(kp_policy_load(&b, &g2, buf, sz, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "symbols") != NULL, "%s", err.msg);
    kp_policy_clear(&b);
    cr_assert_eq(kp_policy_load(&b, &g, buf, sz, &err), KP_OK);
    kp_policy_clear(&b);
    kp_grammar_clear(&g2);
    free(buf);
    free(s);
    free(s2);
    kp_policy_clear(&a);
    kp_grammar_clear(&g);
}

Test(policy, external_sequences_and_skips)
{
    kp_grammar_t g;
    kp_policy_t p;
    kp_error_t err;
    char ebuf[800];
    load(&g, rich_grammar, 2);
    make_policy(&p, &g, 16, 4, 0, 0, 11);
    int L = kp_policy_max_len(&p), n = 7;
    int *s = calloc((size_t)n * L, sizeof *s);
    int lens[7];
    double rw[7] = {1, 2, 3, 4, 5, 6, 7};
    const char *const names[] = {"x0", "x1"};
    /* Elites as genetic programming would hand them over. */
    const char *ok[] = {"sin(x1) + x0", "x0**3 * 2", "exp(x0 / x1)"};
    for (int i = 0; i < 3; i++) {
        kp_expr_t e;
        cr_assert_eq(kp_expr_parse(&e, ok[i], names, 2, &err), KP_OK, "%s",
                     kp_error_format(ebuf, sizeof ebuf, &err));
        cr_assert_eq(kp_grammar_expr_symbols(&g, &e, s + (size_t)i * L), 0,
                     "%s", ok[i]);
        lens[i] = e.len;
    }
    /* sin(cos(x0)) breaks a descendant rule: symbols exist, mask says no. */
    kp_expr_t e;
    cr_assert_eq(kp_expr_parse(&e, "sin(cos(x0))", names, 2, NULL), KP_OK);
    cr_assert_eq(kp_grammar_expr_symbols(&g, &e, s + 3 * L), 0);
    lens[3] = e.len;
    /* A token with no symbol (-1). */
    cr_assert_eq(kp_expr_parse(&e, "tan(x0)", names, 2, NULL), KP_OK);
    cr_assert_gt(kp_grammar_expr_symbols(&g, &e, s + 4 * L), 0);
    lens[4] = e.len;
    /* An incomplete sequence: "+ x0". */
    s[5 * L] = sym_named(&g, "+");
    s[5 * L + 1] = sym_named(&g, "x0");
    lens[5] = 2;
    /* A valid sequence with a non-finite reward. */
    memcpy(s + 6 * L, s, (size_t)lens[0] * sizeof *s);
    lens[6] = lens[0];
    rw[6] = NAN;

    double lp[7];
    cr_assert_eq(kp_policy_logprob(&p, &g, s, lens, n, 1.0, lp, NULL, NULL),
                 KP_OK);
    for (int i = 0; i < 3; i++)
        cr_assert(isfinite(lp[i]) && lp[i] < 0);
    for (int i = 3; i < 6; i++)
        cr_assert(isnan(lp[i]), "sequence %d", i);

    kp_policy_train_params_t tp;
    kp_policy_train_params_default(&tp);
    tp.epsilon = 1.0; /* keep all: R_eps is the lowest valid reward */
    tp.lr = 0.05;
    cr_assert_eq(kp_policy_train(&p, &g, s, lens, rw, n, &tp, &err), KP_OK);
    cr_assert_eq(p.stats.valid, 3);
    cr_assert_eq(p.stats.skipped, 4);
    cr_assert_eq(p.stats.kept, 3);
    cr_assert_eq(p.stats.quantile, 1.0);
    cr_assert_gt(p.stats.entropy, 0);
    /* Training on the elites makes the best one more likely. */
    double lp2[7];
    for (int it = 0; it < 20; it++)
        kp_policy_train(&p, &g, s, lens, rw, n, &tp, NULL);
    kp_policy_logprob(&p, &g, s, lens, n, 1.0, lp2, NULL, NULL);
    cr_assert_gt(lp2[2], lp[2] + 1, "%g -> %g", lp[2], lp2[2]);

    /* Nothing valid: success, no step. */
    size_t np = kp_policy_nparams(&p);
    double *w0 = malloc(np * sizeof *w0);
    memcpy(w0, kp_policy_params(&p), np * sizeof *w0);
    long steps = p.step;
    cr_assert_eq(kp_policy_train(&p, &g, s + 3 * L, lens + 3, rw + 3, 3, &tp,
                                 NULL),
                 KP_OK);
    cr_assert_eq(p.stats.valid, 0);
    cr_assert_eq(p.step, steps);
    cr_assert_eq(memcmp(w0, kp_policy_params(&p), np * sizeof *w0), 0);
    /* All rewards equal and no entropy bonus: nothing to learn. */
    double same[3] = {2, 2, 2};
    tp.entropy_weight = 0;
    cr_assert_eq(kp_policy_train(&p, &g, s, lens, same, 3, &tp, NULL), KP_OK);
    cr_assert_eq(p.stats.kept, 3);
    cr_assert_eq(memcmp(w0, kp_policy_params(&p), np * sizeof *w0), 0);
    free(w0);
    free(s);
    kp_policy_clear(&p);
    kp_grammar_clear(&g);
}

Test(policy, error_paths)
{
    kp_grammar_t g, un, other;
    kp_policy_t p;
    kp_policy_params_t pp;
    kp_error_t err;
    kp_rng_t rng;
    kp_rng_init(&rng, 1);
    kp_grammar_init(&un);
    cr_assert_eq(kp_grammar_load_string(&un, toy_grammar, NULL, NULL), KP_OK);
    cr_assert_eq(kp_policy_init(&p, &un, NULL, &rng, &err), KP_EINPUT);
    kp_policy_clear(&p);
    load(&g, toy_grammar, 2);
    kp_policy_params_default(&pp);
    pp.hidden = 0;
    cr_assert_eq(kp_policy_init(&p, &g, &pp, &rng, &err), KP_EINPUT);
    kp_policy_clear(&p);
    kp_policy_params_default(&pp);
    pp.embed = KP_POLICY_MAX_EMBED + 1;
    cr_assert_eq(kp_policy_init(&p, &g, &pp, &rng, &err), KP_EINPUT);
    kp_policy_params_default(&pp);
    pp.max_len = 16; /* above the grammar's 15 */
    cr_assert_eq(kp_policy_init(&p, &g, &pp, &rng, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "length") != NULL, "%s", err.msg);
    pp.max_len = -1;
    cr_assert_eq(kp_policy_init(&p, &g, &pp, &rng, &err), KP_EINPUT);
    pp.max_len = 1; /* a single leaf is an expression */
    cr_assert_eq(kp_policy_init(&p, &g, &pp, &rng, &err), KP_OK);
    int s[4], l[4];
    cr_assert_eq(kp_policy_sample(&p, &g, NULL, s, l, 4, &rng, NULL), KP_OK);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(l[i], 1);
    kp_policy_clear(&p);

    make_policy(&p, &g, 8, 2, 0, 0, 1);
    load(&other, toy_grammar, 3);
    int syms[15], lens[1];
    double rw[1] = {1};
    cr_assert_eq(kp_policy_sample(&p, &other, NULL, syms, lens, 1, &rng,
                                  &err),
                 KP_EINPUT);
    cr_assert(strstr(err.msg, "symbols") != NULL, "%s", err.msg);
    cr_assert_eq(kp_policy_sample(&p, &g, NULL, syms, lens, -1, &rng, &err),
                 KP_EINPUT);
    cr_assert_eq(kp_policy_sample(&p, &g, NULL, syms, lens, 1, &rng, &err),
                 KP_OK);
    cr_assert_eq(kp_policy_train(&p, &other, syms, lens, rw, 1, NULL, &err),
                 KP_EINPUT);
    kp_policy_train_params_t tp;
    kp_policy_train_params_default(&tp);
    tp.epsilon = 0;
    cr_assert_eq(kp_policy_train(&p, &g, syms, lens, rw, 1, &tp, &err),
                 KP_EINPUT);
    kp_policy_train_params_default(&tp);
    tp.lr = NAN;
    cr_assert_eq(kp_policy_train(&p, &g, syms, lens, rw, 1, &tp, &err),
                 KP_EINPUT);
    cr_assert_eq(kp_policy_train(&p, &g, syms, lens, rw, 0, NULL, &err),
                 KP_OK);
    kp_policy_clear(&p);
    kp_policy_clear(&p); /* twice is harmless */
    cr_assert_eq(kp_policy_sample(&p, &g, NULL, syms, lens, 1, &rng, &err),
                 KP_EINPUT);
    kp_grammar_clear(&other);
    kp_grammar_clear(&g);
    kp_grammar_clear(&un);
}
