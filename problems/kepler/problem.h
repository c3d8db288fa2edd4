/* kepler/problem.h: the problem plugin API of `kepler search` and
   `kepler verify`.

   A problem describes a family of finite objects indexed by a size
   parameter n (a cap set in F_3^n, a graph on n vertices, a bit string of
   length n) and says how good one object is. Built-in problems are written
   exactly like plugins: a const kp_problem_t of metadata and function
   pointers. A plugin is a shared object exporting

       const kp_problem_t *kepler_problem(void);

   (see docs/plugins.md), loaded by `kepler search --plugin FILE.so`.
   This header is self-contained (standard headers only), so a plugin
   compiles against it alone; certificate hooks receive jansson's json_t,
   forward-declared here (include <jansson.h> to use them).

   Objects. Every object is a characteristic vector over a ground set: an
   array of len = problem->length(n) bytes, each 0 or 1 (kp_object_t). The
   ground set depends on the kind:
   - KP_OBJ_BITS: positions 0..len-1 of a bit string;
   - KP_OBJ_GRAPH: the edges {i,j}, 0 <= i < j < n, of a graph on n
     vertices, numbered by kp_edge_index (len = n(n-1)/2);
   - KP_OBJ_F3SUBSET: the points of F_3^n, point p having coordinates
     c_0..c_{n-1} in {0,1,2} with p = sum c_i 3^i (len = 3^n).

   Scores. Higher is better. kp_score_t carries a double for ranking and,
   when the problem can, the exact value as a rational num/den (den > 0);
   den == 0 means only `value` is meaningful and `verify` decides exactly.

   Hooks. `length`, `score` and `verify` are required; the rest is
   optional (NULL) and switches on methods:
   - features + construct: program search (a priority function over the
     ground set, built from the feature columns, orders the elements, and
     `construct` adds them greedily while the object stays valid), and the
     ruin-and-recreate local search;
   - cert_write / cert_read: certificates (`--out`, `kepler verify`);
   - line_thirds + nsymmetries + symmetry_orbits: symmetric search, for
     problems whose only constraints are lines (a cap set, a sum-free or
     progression-free set with a unique third element): the search looks
     for objects invariant under one of the problem's groups, as unions of
     orbits.

   Conventions: hooks return KP_PROBLEM_OK (0) or an error code below and
   describe failures in a kp_problem_msg_t (never print, never exit).
   Hooks must be reentrant and thread-safe: the search calls them from
   several threads at once, each with its own workspace (ws, ws_size bytes,
   zeroed, 64-byte aligned) and its own buffers. A problem uses no global
   state and no randomness (the search owns the random streams). */
#ifndef KEPLER_PROBLEM_H
#define KEPLER_PROBLEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bump when kp_problem_t changes incompatibly; loaders refuse a plugin
   whose abi field differs. */
#define KP_PROBLEM_ABI 2

/* Return codes of the hooks (the values of KP_OK, KP_ENOTFOUND, KP_EINPUT
   of kp_error.h, so they map onto exit statuses 0, 1, 2). */
#define KP_PROBLEM_OK 0      /* holds / success */
#define KP_PROBLEM_REFUTED 1 /* well formed, but the claim is false */
#define KP_PROBLEM_BAD 2     /* malformed input */

enum kp_object_kind {
    KP_OBJ_BITS = 0,
    KP_OBJ_GRAPH = 1,
    KP_OBJ_F3SUBSET = 2
};

/* Why a hook failed. where names the offending JSON value as a path
   ("points[4][2]", "size", "" when none) so the caller can point at its
   file:line:column. */
typedef struct {
    char msg[256];
    char where[64];
} kp_problem_msg_t;

typedef struct {
    double value; /* always set; NaN ranks last */
    int64_t num;  /* exact value num/den when den > 0 */
    int64_t den;
} kp_score_t;

struct json_t; /* jansson */

typedef struct kp_problem {
    int abi;                /* KP_PROBLEM_ABI */
    const char *name;       /* certificate "problem" field, e.g. "capset" */
    const char *summary;    /* one line for --help */
    int kind;               /* enum kp_object_kind */
    int n_min, n_max;       /* allowed sizes, inclusive */
    const char *lean_predicate; /* name of the Lean predicate the object
                                   satisfies (for `kepler lean`), or NULL */

    /* Number of bytes of an object of size n (n_min <= n <= n_max). */
    size_t (*length)(int n);
    /* Bytes of per-thread workspace that score, construct and verify need
       for size n (0: none). May be NULL (0). */
    size_t (*ws_size)(int n);

    /* Score of a valid object x (len bytes 0/1); x may be assumed valid.
       Fast: called millions of times. */
    void (*score)(kp_score_t *s, const uint8_t *x, int n, void *ws);

    /* Exact check of x from scratch: KP_PROBLEM_OK if x is a valid object,
       else KP_PROBLEM_REFUTED with a message naming the witness (e.g. the
       three collinear points). Used by `kepler verify` and by tests; must
       use exact arithmetic only. */
    int (*verify)(const uint8_t *x, int n, void *ws, kp_problem_msg_t *m);

    /* Optional: the best value known (for --target's default and reports),
       or NaN when unknown. */
    double (*known_best)(int n);

    /* Optional: feature columns for priority functions. nfeatures(n)
       columns; features(cols, n) fills cols[f][e] for every element e of
       the ground set (len rows); feature_name(f, n, buf, size) writes the
       variable name used by grammars and printed programs (a C identifier,
       e.g. "x0", "n1"). */
    int (*nfeatures)(int n);
    void (*features)(double *const *cols, int n);
    void (*feature_name)(char *buf, size_t size, int f, int n);

    /* Optional: greedy construction. Sets x (len bytes) to the object made
       by scanning the elements order[0..len-1] (a permutation of the ground
       set) and adding each one whose addition keeps the object valid.
       Must be deterministic. Returns the number of elements added. */
    size_t (*construct)(uint8_t *x, const uint32_t *order, int n, void *ws);

    /* Optional: certificates. cert_write adds the problem's fields of x to
       the JSON object root (the caller has already set "problem" and "n").
       cert_read sets x (len bytes) from root, checking the format:
       KP_PROBLEM_BAD with m->where set on malformed content (wrong
       dimension, value out of range, repeated element, a claimed summary
       such as "size" that does not match the object). Validity itself is
       left to verify. Return KP_PROBLEM_OK on success. */
    int (*cert_write)(struct json_t *root, const uint8_t *x, int n);
    int (*cert_read)(uint8_t *x, int n, const struct json_t *root,
                     kp_problem_msg_t *m);

    /* Optional (ABI 2): the problem's constraints are lines. An object is
       valid iff it has no three distinct elements a, b, c with c =
       third(a, b), where third is symmetric, third(a, a) = a and
       third(a, third(a, b)) = b. line_thirds writes z[i] = third(a, b[i])
       for i < k (ws as for score). */
    void (*line_thirds)(uint32_t *z, uint32_t a, const uint32_t *b, size_t k,
                        int n, void *ws);
    /* Optional (ABI 2): groups of symmetries of the ground set that map
       lines to lines and keep the score (needs line_thirds). nsymmetries(n)
       groups, numbered 0..; symmetry_orbits sets orbit[e] (len entries) to
       the orbit of element e under group s, orbits numbered 0.. in order of
       their smallest element, and returns their number; symmetry_name
       describes group s in a few words (for reports; may be NULL). */
    int (*nsymmetries)(int n);
    uint32_t (*symmetry_orbits)(uint32_t *orbit, int s, int n);
    void (*symmetry_name)(char *buf, size_t size, int s, int n);
} kp_problem_t;

/* The plugin entry point's name and type. */
#define KP_PROBLEM_SYMBOL "kepler_problem"
typedef const kp_problem_t *(*kp_problem_entry_t)(void);

/* Index of edge {i,j} (i != j, both < n) of a KP_OBJ_GRAPH object:
   edges in lexicographic order (0,1), (0,2), ..., (0,n-1), (1,2), ... */
static inline size_t kp_edge_index(int i, int j, int n)
{
    if (i > j) {
        int t = i;
        i = j;
        j = t;
    }
    return (size_t)i * (size_t)(2 * n - i - 1) / 2 + (size_t)(j - i - 1);
}

#ifdef __cplusplus
}
#endif
#endif
