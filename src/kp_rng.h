/* kp_rng.h: the one random number generator of Kepler, xoshiro256** seeded
   by splitmix64. Nothing in Kepler calls rand() or time(): every consumer gets
   a kp_rng_t, and parallel work items get child streams from kp_rng_split,
   keyed by what the item is (generation, slot), never by thread id, so a seed
   gives the same results for any thread count. A kp_rng_t is a plain value:
   copy it to save or restore its state. Not shared between threads. */
#ifndef KP_RNG_H
#define KP_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t s[4];
} kp_rng_t;

/* Seeds rng from a 64-bit seed; distinct seeds give unrelated streams. */
void kp_rng_init(kp_rng_t *rng, uint64_t seed);

/* Sets child to a stream determined by parent's current state and key alone;
   parent is not advanced, so children keyed 0, 1, 2, ... are reproducible.
   child may alias parent. */
void kp_rng_split(kp_rng_t *child, const kp_rng_t *parent, uint64_t key);

/* Next 64 random bits. */
uint64_t kp_rng_next(kp_rng_t *rng);

/* Uniform integer in [0, n); n > 0. Unbiased (Lemire's method). */
uint64_t kp_rng_below(kp_rng_t *rng, uint64_t n);

/* Uniform double in [0, 1) with 53 random bits. */
double kp_rng_uniform(kp_rng_t *rng);

/* Standard normal deviate (Box–Muller on two uniforms, no cached state). */
double kp_rng_normal(kp_rng_t *rng);

#ifdef __cplusplus
}
#endif
#endif
