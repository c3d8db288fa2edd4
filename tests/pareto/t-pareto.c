#include <criterion/criterion.h>
#include <math.h>

#include "kp_pareto.h"
#include "../kp_test.h"

/* A distinct expression per id: x0 + id (id as an exact integer). */
static kp_expr_t expr_with_id(int id)
{
    kp_expr_t e;
    kp_expr_init(&e);
    kp_expr_push_op(&e, KP_OP_ADD);
    kp_expr_push_var(&e, 0);
    kp_expr_push_rational(&e, id, 1);
    cr_assert_eq(kp_expr_finish(&e, NULL), KP_OK);
    return e;
}

typedef struct {
    int id, complexity;
    double loss;
} offer_t;

static void check_front(const kp_pareto_t *a, const offer_t *o, int n)
{
    const kp_pareto_entry_t *front[64];
    int nf = kp_pareto_front(a, front);
    cr_assert_gt(nf, 0);
    for (int i = 1; i < nf; i++) {
        cr_assert_gt(front[i]->complexity, front[i - 1]->complexity);
        cr_assert_lt(front[i]->loss, front[i - 1]->loss);
    }
    /* Every front entry is the best offer of its complexity, and no offer
       dominates a front entry. */
    for (int i = 0; i < nf; i++)
        for (int j = 0; j < n; j++) {
            if (!isfinite(o[j].loss))
                continue;
            if (o[j].complexity == front[i]->complexity)
                cr_assert_leq(front[i]->loss, o[j].loss);
            if (o[j].complexity <= front[i]->complexity)
                cr_assert(!(o[j].loss < front[i]->loss &&
                            o[j].complexity < front[i]->complexity),
                          "offer %d dominates front entry %d", j, i);
        }
}

Test(pareto, front_invariants_and_order_independence)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (long iter = 0; iter < 50 * kp_test_multiplier(); iter++) {
        offer_t o[200];
        int n = 200;
        for (int i = 0; i < n; i++) {
            o[i].id = i;
            o[i].complexity = 1 + (int)kp_rng_below(&rng, 40);
            o[i].loss = kp_rng_below(&rng, 10) == 0
                            ? INFINITY
                            : floor(kp_rng_uniform(&rng) * 50);
        }
        kp_pareto_t a, b;
        cr_assert_eq(kp_pareto_init(&a, 30), KP_OK);
        cr_assert_eq(kp_pareto_init(&b, 30), KP_OK);
        for (int i = 0; i < n; i++) {
            kp_expr_t e = expr_with_id(o[i].id);
            kp_pareto_insert(&a, &e, o[i].complexity, o[i].loss);
        }
        for (int i = n - 1; i >= 0; i--) {
            kp_expr_t e = expr_with_id(o[i].id);
            kp_pareto_insert(&b, &e, o[i].complexity, o[i].loss);
        }
        offer_t in_range[200];
        int m = 0;
        for (int i = 0; i < n; i++)
            if (o[i].complexity <= 30)
                in_range[m++] = o[i];
        check_front(&a, in_range, m);
        const kp_pareto_entry_t *fa[64], *fb[64];
        int na = kp_pareto_front(&a, fa), nb = kp_pareto_front(&b, fb);
        cr_assert_eq(na, nb, "seed %llu iter %ld",
                     (unsigned long long)kp_test_seed(), iter);
        for (int i = 0; i < na; i++)
            cr_assert(kp_expr_equal(&fa[i]->e, &fb[i]->e));
        kp_pareto_clear(&a);
        kp_pareto_clear(&b);
    }
}

Test(pareto, rejects_non_finite_and_out_of_range_and_merges)
{
    kp_pareto_t a, b;
    kp_pareto_init(&a, 10);
    kp_pareto_init(&b, 10);
    kp_expr_t e = expr_with_id(1), f = expr_with_id(2);
    cr_assert_eq(kp_pareto_insert(&a, &e, 3, NAN), 0);
    cr_assert_eq(kp_pareto_insert(&a, &e, 3, INFINITY), 0);
    cr_assert_eq(kp_pareto_insert(&a, &e, 0, 1.0), 0);
    cr_assert_eq(kp_pareto_insert(&a, &e, 11, 1.0), 0);
    cr_assert_null(kp_pareto_best(&a));
    cr_assert_eq(kp_pareto_insert(&a, &e, 3, 2.0), 1);
    cr_assert_eq(kp_pareto_insert(&a, &f, 3, 3.0), 0);
    cr_assert_eq(kp_pareto_insert(&b, &f, 5, 0.5), 1);
    kp_pareto_merge(&a, &b);
    const kp_pareto_entry_t *best = kp_pareto_best(&a);
    cr_assert_not_null(best);
    cr_assert_eq(best->complexity, 5);
    cr_assert(kp_expr_equal(&best->e, &f));
    kp_pareto_clear(&a);
    kp_pareto_clear(&b);
}
