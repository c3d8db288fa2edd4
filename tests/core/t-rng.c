#include <criterion/criterion.h>
#include <math.h>

#include "kp_rng.h"
#include "../kp_test.h"

Test(rng, same_seed_same_stream)
{
    kp_rng_t a, b;
    kp_rng_init(&a, 42);
    kp_rng_init(&b, 42);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(kp_rng_next(&a), kp_rng_next(&b), "iteration %d", i);
    kp_rng_init(&b, 43);
    cr_assert_neq(kp_rng_next(&a), kp_rng_next(&b));
}

Test(rng, split_depends_on_key_not_on_parent_use)
{
    kp_rng_t p, c1, c2, c3;
    kp_rng_init(&p, 7);
    kp_rng_split(&c1, &p, 3);
    kp_rng_split(&c2, &p, 3);
    kp_rng_split(&c3, &p, 4);
    cr_assert_eq(kp_rng_next(&c1), kp_rng_next(&c2));
    cr_assert_neq(kp_rng_next(&c1), kp_rng_next(&c3));
    /* aliasing child and parent is allowed */
    kp_rng_t q = p;
    kp_rng_split(&q, &q, 3);
    kp_rng_split(&c1, &p, 3);
    cr_assert_eq(kp_rng_next(&q), kp_rng_next(&c1));
}

Test(rng, below_is_in_range_and_roughly_uniform)
{
    kp_rng_t r;
    kp_test_rng_init(&r);
    long counts[7] = {0};
    long n = 70000 * kp_test_multiplier();
    for (long i = 0; i < n; i++) {
        uint64_t v = kp_rng_below(&r, 7);
        cr_assert_lt(v, 7);
        counts[v]++;
    }
    for (int k = 0; k < 7; k++) /* 10 sigma is about 1000 */
        cr_assert(labs(counts[k] - n / 7) < 1000 * kp_test_multiplier(),
                  "seed %llu bucket %d count %ld",
                  (unsigned long long)kp_test_seed(), k, counts[k]);
}

Test(rng, uniform_and_normal_moments)
{
    kp_rng_t r;
    kp_test_rng_init(&r);
    double su = 0, sn = 0, sn2 = 0;
    long n = 200000;
    for (long i = 0; i < n; i++) {
        double u = kp_rng_uniform(&r);
        cr_assert(u >= 0 && u < 1);
        su += u;
        double z = kp_rng_normal(&r);
        cr_assert(isfinite(z));
        sn += z;
        sn2 += z * z;
    }
    cr_assert(fabs(su / n - 0.5) < 0.01);
    cr_assert(fabs(sn / n) < 0.02);
    cr_assert(fabs(sn2 / n - 1.0) < 0.03);
}
