/* t-gp.c: genetic-programming operators keep every child inside the
   grammar, canonical, and reproducible. */
#include <criterion/criterion.h>
#include <math.h>

#include "kp_gp.h"
#include "../kp_test.h"

static kp_grammar_t g;

static void load_physics(void)
{
    kp_grammar_init(&g);
    const char *names[] = {"x", "y", "z"};
    cr_assert_eq(kp_grammar_load(&g, KP_SRCDIR "/grammars/physics.grammar",
                                 NULL), KP_OK);
    cr_assert_eq(kp_grammar_bind(&g, 3, names, NULL), KP_OK);
}

static void unload(void)
{
    kp_grammar_clear(&g);
}

static void random_population(kp_indiv_t *pop, int n, kp_rng_t *rng)
{
    for (int i = 0; i < n; i++) {
        do {
            cr_assert_eq(kp_grammar_random_expr(&pop[i].e, &g, 1, 20, rng,
                                                NULL), KP_OK);
            kp_expr_simplify(&pop[i].e);
        } while (kp_grammar_check_expr(&g, &pop[i].e, NULL) != KP_OK);
        pop[i].loss = kp_rng_uniform(rng);
        pop[i].complexity = kp_grammar_complexity(&g, &pop[i].e);
        pop[i].hash = kp_expr_hash(&pop[i].e);
    }
}

static void assert_valid_child(const kp_expr_t *c, const char *what, long it)
{
    kp_error_t err;
    kp_error_init(&err);
    cr_assert_eq(kp_expr_check(c, &err), KP_OK, "%s iter %ld: %s", what, it,
                 err.msg);
    cr_assert_eq(kp_grammar_check_expr(&g, c, &err), KP_OK,
                 "%s iter %ld seed %llu: %s", what, it,
                 (unsigned long long)kp_test_seed(), err.msg);
    kp_expr_t s = *c;
    kp_expr_simplify(&s);
    cr_assert(kp_expr_equal(&s, c), "%s iter %ld: child not canonical", what,
              it);
}

Test(gp, every_mutation_kind_makes_valid_children, .init = load_physics,
     .fini = unload)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    kp_gp_params_t p;
    kp_gp_params_default(&p);
    kp_indiv_t pop[64];
    random_population(pop, 64, &rng);
    for (int kind = 0; kind < KP_GP_MUT_COUNT; kind++) {
        int made = 0, tries = 400 * (int)kp_test_multiplier();
        for (long it = 0; it < tries; it++) {
            const kp_expr_t *a = &pop[it % 64].e;
            kp_expr_t c;
            int rc = kp_gp_mutate(&c, a, kind, &g, &p, &rng);
            if (rc == KP_OK) {
                made++;
                assert_valid_child(&c, "mutation", it);
                cr_assert(!kp_expr_equal(&c, a), "kind %d: child equals parent",
                          kind);
            } else {
                cr_assert_eq(rc, KP_ENOTFOUND);
                cr_assert(kp_expr_equal(&c, a));
            }
        }
        /* Jitter needs free constants, which not every parent has. */
        cr_assert_gt(made, tries / (kind == KP_GP_MUT_JITTER ? 10 : 4),
                     "kind %d made only %d of %d", kind, made, tries);
    }
}

Test(gp, crossover_and_offspring_make_valid_children, .init = load_physics,
     .fini = unload)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    kp_gp_params_t p;
    kp_gp_params_default(&p);
    kp_indiv_t pop[64];
    random_population(pop, 64, &rng);
    int made = 0;
    for (long it = 0; it < 1000 * kp_test_multiplier(); it++) {
        kp_expr_t c;
        if (kp_gp_crossover(&c, &pop[it % 64].e, &pop[(it * 7 + 3) % 64].e, &g,
                            &rng) == KP_OK) {
            made++;
            assert_valid_child(&c, "crossover", it);
        }
        if (kp_gp_offspring(&c, pop, 64, &g, &p, &rng) == KP_OK)
            assert_valid_child(&c, "offspring", it);
    }
    cr_assert_gt(made, 500);
    /* aliasing: child may be the first parent */
    kp_expr_t a = pop[0].e;
    kp_gp_crossover(&a, &a, &pop[1].e, &g, &rng);
    assert_valid_child(&a, "aliased crossover", 0);
}

Test(gp, same_rng_same_child, .init = load_physics, .fini = unload)
{
    kp_rng_t rng, r1, r2;
    kp_test_rng_init(&rng);
    kp_gp_params_t p;
    kp_gp_params_default(&p);
    kp_indiv_t pop[32];
    random_population(pop, 32, &rng);
    for (int it = 0; it < 200; it++) {
        kp_rng_split(&r1, &rng, (uint64_t)it);
        r2 = r1;
        kp_expr_t c1, c2;
        int a = kp_gp_offspring(&c1, pop, 32, &g, &p, &r1);
        int b = kp_gp_offspring(&c2, pop, 32, &g, &p, &r2);
        cr_assert_eq(a, b);
        cr_assert(kp_expr_equal(&c1, &c2), "iteration %d", it);
    }
}

Test(gp, tournament_prefers_lower_loss_and_parsimony, .init = load_physics,
     .fini = unload)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    kp_gp_params_t p;
    kp_gp_params_default(&p);
    kp_indiv_t pop[10];
    random_population(pop, 10, &rng);
    for (int i = 0; i < 10; i++) {
        pop[i].loss = 1.0 + i;
        pop[i].complexity = 5;
    }
    pop[3].loss = INFINITY; /* undefined never wins against defined */
    p.tournament = 200;
    for (int it = 0; it < 50; it++)
        cr_assert_eq(kp_gp_tournament(pop, 10, &p, &rng), 0);
    /* A much simpler formula with a slightly worse loss wins with parsimony. */
    pop[1].loss = 1.01;
    pop[1].complexity = 1;
    pop[0].complexity = 30;
    p.parsimony = 0.05;
    for (int it = 0; it < 50; it++)
        cr_assert_eq(kp_gp_tournament(pop, 10, &p, &rng), 1);
    /* Selection pressure: with tournaments of 2, the best wins more often
       than uniform choice would give it. */
    p.tournament = 2;
    p.parsimony = 0;
    pop[1].complexity = 5;
    pop[0].complexity = 5;
    int wins = 0;
    for (int it = 0; it < 2000; it++)
        wins += kp_gp_tournament(pop, 10, &p, &rng) == 0;
    cr_assert_gt(wins, 2000 / 10 + 100);
}
