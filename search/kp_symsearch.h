/* kp_symsearch.h: search for objects invariant under a symmetry group, for
   problems whose only constraints are lines (kepler/problem.h:
   line_thirds, nsymmetries, symmetry_orbits), e.g. caps in F_3^n under
   sign changes of blocks of coordinates.

   An invariant object is a union of orbits. Because the group maps lines
   to lines, adding an orbit A to an invariant valid object U keeps it
   valid iff A is valid on its own, no line joins two points of A to a
   point of U, and no line joins two points of U to the first element r
   of A (every element of A is the image of r under the group). So the
   search only ever looks at r: cnt[r], the number of pairs of U on a line
   through r, is kept up to date as orbits come and go.

   The search is tabu search with add-and-repair moves over orbits: every
   step adds the admissible orbit (cnt[r] small) whose addition, after
   removing the orbits needed to make room (a greedy cover of the lines it
   would close), gains most, an orbit of m elements being worth sqrt(m)
   (a move to a new best size always wins); removed orbits are tabu for a while,
   unless adding them would beat the best. When a trajectory has not
   improved for a while, a random part of it is removed (iterated local
   search); when no new best has come for longer, the search starts over
   from the empty object. Everything is integer; a result is valid by
   construction (and tests check it with the problem's verifier).

   Ownership: kp_sym_init/kp_sym_clear. ws is the caller's problem
   workspace (p->ws_size(n) bytes), borrowed for the state's lifetime.
   Deterministic given the rng; not thread-safe (one state per thread). */
#ifndef KP_SYMSEARCH_H
#define KP_SYMSEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "kepler/problem.h"
#include "kp_error.h"
#include "kp_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const kp_problem_t *p;
    int n;
    int group;        /* symmetry index */
    size_t len;       /* elements */
    uint32_t norb;    /* orbits */
    uint32_t *orb;    /* len: orbit of each element */
    uint32_t *ostart; /* norb + 1: members of orbit o are */
    uint32_t *opts;   /*   opts[ostart[o] .. ostart[o+1]-1], smallest first */
    uint8_t *bad;     /* norb: the orbit has a line of its own */
    double *value;    /* norb: what an orbit is worth to a move */
    uint32_t *tstart; /* norb + 1: the orbits on a line with two elements */
    uint32_t *tw;     /*   of orbit o: tw[tstart[o] .. tstart[o+1]-1] */
    void *ws;
    /* state: a union of orbits */
    uint8_t *in;   /* norb */
    uint32_t *mem; /* member orbits, mpos[o] their positions */
    uint32_t *mpos;
    uint32_t nmem;
    uint32_t *pts; /* member elements, ppos[e] their positions */
    uint32_t *ppos;
    size_t k;
    int32_t *cnt;   /* len: pairs of members on a line through e */
    uint64_t *tabu; /* norb: step until which the orbit may not come back */
    uint64_t step;
    uint64_t last_gain; /* step of the trajectory's last improvement */
    uint64_t last_best; /* step of the last new best */
    size_t traj_best;   /* best size since the last perturbation */
    uint8_t *best;      /* norb: best union so far */
    size_t best_size;
    /* scratch */
    uint32_t *z, *rm, *brm, *pa, *pb;
} kp_sym_t;

/* Prepares the search over objects invariant under group `group` of
   problem p at size n, starting from the empty object. KP_EINPUT if p
   lacks the hooks or group is out of range; KP_ENOMEM. */
int kp_sym_init(kp_sym_t *s, const kp_problem_t *p, int n, int group, void *ws,
                kp_error_t *err);
void kp_sym_clear(kp_sym_t *s);

/* Runs `steps` tabu steps. Returns 1 if the best object improved. */
int kp_sym_run(kp_sym_t *s, long steps, kp_rng_t *rng);

/* Adds orbit o to the current object if that keeps it valid (restoring a
   saved state: orbits are appended to mem in call order). KP_EINPUT if o
   is out of range, already in, or would close a line. */
int kp_sym_add(kp_sym_t *s, uint32_t o);

/* Writes the best object found so far (len bytes, 0/1) into x and returns
   its number of elements. */
size_t kp_sym_best(uint8_t *x, const kp_sym_t *s);

#ifdef __cplusplus
}
#endif
#endif
