/* kp_capset.h: cap sets in F_3^n, exactly.

   A cap is a set of points of F_3^n with no three distinct points on a line;
   over F_3 the line through x and y is {x, y, z} with z = -(x + y), so a set
   is a cap when no x + y + z == 0 (mod 3) with x, y, z distinct.

   Encoding: a point with coordinates c_0..c_{n-1} in {0,1,2} is the integer
   p = sum c_i 3^i < 3^n (coordinate 0 is the least significant digit).
   Sizes: 1 <= n <= KP_CAPSET_MAX_N (3^n fits comfortably in memory as a
   byte map; 3^12 = 531441).

   Everything here is integer arithmetic (exact). Reentrant; no allocation
   except where stated. */
#ifndef KP_CAPSET_H
#define KP_CAPSET_H

#include <stddef.h>
#include <stdint.h>

#include "kp_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KP_CAPSET_MAX_N 12
#define KP_CAPSET_FIXED 255 /* kp_capset_sign_orbits: a fixed coordinate */

/* 3^n for 0 <= n <= KP_CAPSET_MAX_N. */
uint32_t kp_capset_npoints(int n);

/* The point with coordinates c[0..n-1] (each in {0,1,2}). */
uint32_t kp_capset_encode(const uint8_t *c, int n);

/* Writes the n coordinates of point p (< 3^n) into c. */
void kp_capset_decode(uint8_t *c, uint32_t p, int n);

/* The third point -(x + y) of the line through x and y (x, y < 3^n);
   it equals x only when x == y. */
uint32_t kp_capset_third(uint32_t x, uint32_t y, int n);

/* Checks that pts[0..k-1] is a cap in F_3^n in O(k^2) with a 3^n-bit map
   (allocated). Returns KP_OK if it is; KP_ENOTFOUND if three of the points
   are collinear: witness (if not NULL) gets the first such line in the
   order of the pairs (i, j), i < j, as {pts[i], pts[j], -(pts[i]+pts[j])},
   and err a message naming their coordinates; KP_EINPUT if n is out of
   range, a point is >= 3^n or a point is repeated (witness[0] = the
   point); KP_ENOMEM. */
int kp_capset_check(uint32_t witness[3], const uint32_t *pts, size_t k, int n,
                    kp_error_t *err);

/* Workspace of kp_capset_greedy in bytes for dimension n. */
size_t kp_capset_greedy_ws_size(int n);

/* Greedy cap: scans order[0..3^n-1] (any sequence of points < 3^n,
   typically a permutation) and adds each point that is not on a line with
   two points already added, keeping a map of "blocked" points (the third
   points of all pairs so far), so the cost is O(3^n + k^2). Sets x[p] = 1
   for the points of the cap and 0 elsewhere (3^n bytes) and returns the
   size k. ws holds kp_capset_greedy_ws_size(n) bytes; the result is always
   a cap. */
size_t kp_capset_greedy(uint8_t *x, const uint32_t *order, int n, void *ws);

/* Third points of many lines through one point: z[i] = -(a + b[i]) for
   i < k, with the chunk table of the greedy workspace ws (same size, same
   dimension rule: built on first use for n). Equals kp_capset_third. */
void kp_capset_thirds(uint32_t *z, uint32_t a, const uint32_t *b, size_t k,
                      int n, void *ws);

/* Orbits of the group of sign changes on blocks of coordinates: block[i]
   (0 <= block[i] < n) names the block of coordinate i, or is
   KP_CAPSET_FIXED for a coordinate that is never negated, and the group,
   isomorphic to {+1,-1}^(number of blocks), negates all coordinates of any
   set of blocks. It fixes 0 and maps lines to lines. Sets orbit[p] for
   every point (orbits numbered from 0 in order of their smallest point)
   and returns the number of orbits. An orbit has 2^j points, j the number
   of blocks on which the point is not zero. */
uint32_t kp_capset_sign_orbits(uint32_t *orbit, const uint8_t *block, int n);

/* A 20-cap in F_3^4 (the maximum) from the elliptic quadric of PG(3,3):
   the 20 nonzero v in F_3^4 with v0^2 + v1^2 + v2 v3 == 0. A projective
   cap K gives the affine cap {v, -v : [v] in K} of twice its size (no
   affine line x + y + z = 0 meets it in three points: three distinct
   projective points would be collinear, and y = -x forces z = 0). Writes
   the 20 points in increasing order into pts (room for 20); returns 20. */
size_t kp_capset_quadric20(uint32_t *pts);

/* The product of caps a (in F_3^na) and b (in F_3^nb): the points (u, v),
   u in a, v in b, of F_3^(na+nb), u in the low digits. A product of caps
   is a cap (on a line the first components are all equal or all
   distinct). Writes ka * kb points into out; na + nb <= KP_CAPSET_MAX_N. */
size_t kp_capset_product(uint32_t *out, const uint32_t *a, size_t ka, int na,
                         const uint32_t *b, size_t kb, int nb);

#ifdef __cplusplus
}
#endif
#endif
