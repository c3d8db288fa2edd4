/* kp_test.h: helpers shared by the Criterion unit tests. The seed comes from
   KP_TEST_SEED (default 1) and loop counts scale with KP_TEST_MULTIPLIER
   (default 1), so a failure can be replayed and soak runs lengthened. */
#ifndef KP_TEST_H
#define KP_TEST_H

#include <stdint.h>
#include <stdlib.h>

#include "kp_rng.h"

static inline uint64_t kp_test_seed(void)
{
    const char *s = getenv("KP_TEST_SEED");
    return s ? strtoull(s, NULL, 10) : 1;
}

static inline long kp_test_multiplier(void)
{
    const char *s = getenv("KP_TEST_MULTIPLIER");
    long m = s ? strtol(s, NULL, 10) : 1;
    return m > 0 ? m : 1;
}

static inline void kp_test_rng_init(kp_rng_t *rng)
{
    kp_rng_init(rng, kp_test_seed());
}

/* Path of a file in the source tree (tests run from the build tree). */
#ifndef KP_SRCDIR
#define KP_SRCDIR "."
#endif

#endif
