/* kp_rng.c: xoshiro256** (Blackman & Vigna 2018) with splitmix64 seeding. */
#include "kp_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void kp_rng_init(kp_rng_t *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

void kp_rng_split(kp_rng_t *child, const kp_rng_t *parent, uint64_t key)
{
    /* Mix every word of the parent with the key through splitmix64, so that
       children of one parent under different keys are unrelated. */
    uint64_t x = key * 0xd1342543de82ef95ULL;
    uint64_t p[4] = {parent->s[0], parent->s[1], parent->s[2], parent->s[3]};
    for (int i = 0; i < 4; i++) {
        x ^= p[i];
        child->s[i] = splitmix64(&x);
    }
}

uint64_t kp_rng_next(kp_rng_t *rng)
{
    uint64_t *s = rng->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t kp_rng_below(kp_rng_t *rng, uint64_t n)
{
    unsigned __int128 m = (unsigned __int128)kp_rng_next(rng) * n;
    uint64_t low = (uint64_t)m;
    if (low < n) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            m = (unsigned __int128)kp_rng_next(rng) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double kp_rng_uniform(kp_rng_t *rng)
{
    return (double)(kp_rng_next(rng) >> 11) * 0x1.0p-53;
}

double kp_rng_normal(kp_rng_t *rng)
{
    double u1 = 1.0 - kp_rng_uniform(rng); /* in (0, 1]: log is finite */
    double u2 = kp_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}
