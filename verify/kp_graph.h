/* kp_graph.h: simple undirected graphs and exact invariants for graph
   conjectures (Wagner 2021, "Constructions in combinatorics via neural
   networks").

   A kp_graph_t holds n vertices 0..n-1 and a dense symmetric 0/1 adjacency
   matrix with a zero diagonal (invariant kept by every setter). Edge bit
   strings, as used by the search, list the n(n-1)/2 pairs in the order
   (0,1), (0,2), ..., (0,n-1), (1,2), ..., (n-2,n-1) (kp_graph_pair_index).

   Exactness. Everything named "exact" is decided with integer, rational or
   Arb ball arithmetic and never by a floating-point guess:
   - the characteristic polynomial comes from FLINT (fmpz_mat_charpoly);
   - eigenvalues are isolated by arb_fmpz_poly_complex_roots on the
     squarefree part (or on each squarefree factor, with multiplicities),
     because that routine never returns on a polynomial with repeated roots;
   - the matching number comes from Edmonds' blossom algorithm and is
     certified both ways: the matching itself (mu >= k) and a Tutte–Berge
     set S from the Gallai–Edmonds decomposition
     (mu <= (n + |S| - odd(G - S)) / 2);
   - upper bounds on lambda_1 are certified by Collatz–Wielandt vectors: a
     positive integer vector x and a rational b with (Ax)_i <= b x_i for all
     i prove lambda_1 <= b (A is nonnegative); lower bounds by the Rayleigh
     quotient x^T A x / x^T x <= lambda_1.
   The double-precision helpers (suffix _d) are for the search only.

   Ownership: kp_graph_init allocates, kp_graph_clear frees. Functions do
   not keep pointers to their arguments. Reentrant; a graph may be read by
   several threads at once. FLINT/Arb objects are never shared. */
#ifndef KP_GRAPH_H
#define KP_GRAPH_H

#include <stdint.h>

#include <arb.h>
#include <flint/fmpq.h>
#include <flint/fmpz.h>
#include <flint/fmpz_poly.h>

#include "kp_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KP_GRAPH_MAX_N 4096

typedef struct {
    int n;
    unsigned char *a; /* n*n adjacency, a[i*n+j] in {0,1}, symmetric */
} kp_graph_t;

/* Outcomes of the rigorous comparisons. */
enum {
    KP_GRAPH_LESS = -1,   /* proved < */
    KP_GRAPH_EQUAL = 0,   /* proved = */
    KP_GRAPH_GREATER = 1, /* proved > */
    KP_GRAPH_UNKNOWN = 2  /* not decided at the highest precision tried */
};

/* Makes g the empty graph on n vertices, 0 <= n <= KP_GRAPH_MAX_N.
   KP_EINPUT on a bad n, KP_ENOMEM. On error g holds nothing and
   kp_graph_clear is safe on it. */
int kp_graph_init(kp_graph_t *g, int n, kp_error_t *err);

/* Frees what g owns; safe on a zero-filled or failed graph. */
void kp_graph_clear(kp_graph_t *g);

/* Copies src into dst (which must be initialised with the same n). */
void kp_graph_copy(kp_graph_t *dst, const kp_graph_t *src);

/* Number of unordered pairs, n(n-1)/2. */
long kp_graph_npairs(int n);

/* Index of pair {i,j} (i != j, either order) in edge bit strings. */
long kp_graph_pair_index(int n, int i, int j);

/* Inverse of kp_graph_pair_index: the pair of index k, with *i < *j. */
void kp_graph_pair_of_index(int n, long k, int *i, int *j);

/* Adjacency test and update; i != j, both in range (not checked). */
static inline int kp_graph_edge(const kp_graph_t *g, int i, int j)
{
    return g->a[(long)i * g->n + j];
}
void kp_graph_set(kp_graph_t *g, int i, int j, int on);

/* Number of edges. */
long kp_graph_nedges(const kp_graph_t *g);

/* Sets g to the graph whose edges are the pairs k with bits[k] != 0
   (kp_graph_npairs(g->n) entries). */
void kp_graph_from_bits(kp_graph_t *g, const unsigned char *bits);

/* Writes the edge bit string of g into bits (kp_graph_npairs(g->n)). */
void kp_graph_to_bits(unsigned char *bits, const kp_graph_t *g);

/* Adds the m edges edges[2k], edges[2k+1] to g, which should be empty.
   KP_EINPUT, naming the edge (its 0-based index k in the message), on a
   vertex outside 0..n-1, a self-loop or a repeated edge (in either
   orientation); g is then left with the edges before the bad one. */
int kp_graph_add_edges(kp_graph_t *g, const long *edges, long m,
                       kp_error_t *err);

/* 1 if g is connected (the graphs on 0 and 1 vertex are), else 0. */
int kp_graph_connected(const kp_graph_t *g);

/* Number of connected components. */
int kp_graph_ncomponents(const kp_graph_t *g);

/* All-pairs distances by BFS into d (n*n ints, -1 for unreachable).
   Returns the diameter, or -1 if g is disconnected. */
int kp_graph_distances(int *d, const kp_graph_t *g);

/* ---- Matchings ---------------------------------------------------- */

/* Maximum matching by Edmonds' blossom algorithm, O(n^3). Writes mate[v]
   (the partner of v, or -1; may be NULL) and returns the matching number.
   Returns -1 only if memory runs out. */
int kp_graph_matching(const kp_graph_t *g, int *mate);

/* A Tutte–Berge witness: writes in_s[v] = 1 for the vertices of the
   Gallai–Edmonds set A(G) (neighbours of the vertices missed by some
   maximum matching, not themselves missed), for which the Tutte–Berge
   bound equals the matching number. Returns that bound, -1 on no memory. */
int kp_graph_tutte_berge_set(unsigned char *in_s, const kp_graph_t *g);

/* The Tutte–Berge bound (n + |S| - odd(G - S)) / 2 of any set S (in_s[v]
   != 0 for v in S): an upper bound on the matching number, proved by
   counting. Computed exactly (integer). */
int kp_graph_tutte_berge_bound(const kp_graph_t *g,
                               const unsigned char *in_s);

/* 1 if the k pairs (pairs[2i], pairs[2i+1]) form a matching of g (edges of
   g, in range, pairwise disjoint), else 0. */
int kp_graph_is_matching(const kp_graph_t *g, const long *pairs, long k);

/* ---- Spectra --------------------------------------------------------- */

/* Characteristic polynomial det(xI - A) of the adjacency matrix of g
   (exact, FLINT). p must be initialised. */
void kp_graph_charpoly(fmpz_poly_t p, const kp_graph_t *g);

/* Characteristic polynomial det(xI - D) of the distance matrix (g must be
   connected; KP_EINPUT otherwise). */
int kp_graph_distance_charpoly(fmpz_poly_t p, const kp_graph_t *g,
                               kp_error_t *err);

/* The squarefree part p / gcd(p, p') of p (primitive, positive leading
   coefficient). q may alias p. p must be nonzero. */
void kp_graph_squarefree(fmpz_poly_t q, const fmpz_poly_t p);

/* The largest real root of the nonzero polynomial p whose roots are all
   real (e.g. the characteristic polynomial of a symmetric integer matrix),
   as a ball of relative accuracy about prec bits. KP_EINPUT if p has
   degree < 1 or a root that is not proved real. */
int kp_graph_largest_root(arb_t r, const fmpz_poly_t p, slong prec,
                          kp_error_t *err);

/* All n eigenvalues of the polynomial p (of degree n, all roots real),
   with multiplicity, in decreasing order: ev[0] >= ev[1] >= ...; ev must
   hold deg p initialised arb_t. Equal eigenvalues get identical balls;
   distinct ones get disjoint balls, so the order is proved. KP_EINPUT as
   for kp_graph_largest_root, KP_EINTERNAL if the roots could not be
   separated below 2^16 bits. */
int kp_graph_sorted_roots(arb_ptr ev, const fmpz_poly_t p, slong prec,
                          kp_error_t *err);

/* lambda_1, the largest adjacency eigenvalue of g (n >= 1), as a ball of
   about prec bits. */
int kp_graph_lambda1(arb_t lam, const kp_graph_t *g, slong prec,
                     kp_error_t *err);

/* Rigorous sign of lambda_1(g) - (a + sqrt(m)) for integers a and m >= 0:
   one of KP_GRAPH_LESS / EQUAL / GREATER, or KP_GRAPH_UNKNOWN if not
   decided by 2^14 bits (never happens for distinct algebraic numbers of
   this size in practice). Equality is decided exactly: the minimal
   polynomial of a + sqrt(m) must divide the characteristic polynomial. */
int kp_graph_lambda1_cmp(const kp_graph_t *g, slong a, slong m);

/* Rigorous sign of root - (a + sqrt(m)), where root is the largest root of
   the all-real-rooted polynomial p (as for kp_graph_lambda1_cmp). */
int kp_graph_largest_root_cmp(const fmpz_poly_t p, slong a, slong m);

/* lambda_1 in double precision (symmetric QR, GSL), for scoring in the
   search. If vec is not NULL it receives a unit Perron vector (entries >=
   0). Returns NaN if memory runs out. */
double kp_graph_lambda1_d(const kp_graph_t *g, double *vec);

/* ---- Certificates ------------------------------------------------- */

/* A Collatz–Wielandt upper bound: positive integers x[0..n-1] (fmpz) and a
   rational b with (Ax)_i <= b x_i for every i, from a Perron vector
   rounded up to multiples of 2^-scale_bits (a tiny positive floor keeps
   x > 0 on disconnected graphs) and b = max_i (Ax)_i / x_i, exact. x must
   hold n initialised fmpz. KP_ENOMEM. */
int kp_graph_cw_bound(fmpz *x, fmpq_t b, const kp_graph_t *g,
                      int scale_bits, kp_error_t *err);

/* 1 if every x_i > 0 and (Ax)_i <= b x_i for every i (so lambda_1 <= b),
   else 0. Exact. */
int kp_graph_cw_check(const kp_graph_t *g, const fmpz *x, const fmpq_t b);

/* The Rayleigh quotient r = x^T A x / x^T x of a nonzero integer vector x,
   a lower bound on lambda_1. KP_EINPUT if x is zero. */
int kp_graph_rayleigh(fmpq_t r, const kp_graph_t *g, const fmpz *x,
                      kp_error_t *err);

/* Sign of q - (a + sqrt(m)) for a rational q, integers a and m >= 0,
   exactly (-1, 0 or 1). */
int kp_graph_fmpq_cmp_sqrt(const fmpq_t q, slong a, slong m);

/* ---- Cliques and independent sets (n <= 64) -------------------------- */

/* Number of cliques of size s (s >= 1) in g, or in its complement when
   complement != 0 (then: independent sets of size s). n <= 64; returns -1
   if n > 64. Counts saturate at LONG_MAX. */
long kp_graph_count_cliques(const kp_graph_t *g, int s, int complement);

#ifdef __cplusplus
}
#endif
#endif
