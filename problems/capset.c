/* capset.c: the built-in problem "capset": a largest cap in F_3^n
   (kepler/problem.h, docs/search.md). Objects are subsets of F_3^n as
   3^n-byte characteristic vectors; the score is the size; validity, the
   greedy construction and the exact check come from verify/kp_capset.

   Feature columns for priority functions, one row per point c of F_3^n
   (all small integers, exact in double):
     x0..x{n-1}  the coordinates c_i in {0,1,2}
     n0 n1 n2    how many coordinates are 0, 1, 2
     s           sum c_i mod 3
     w           sum (i+1) c_i mod 3
     q           sum c_i^2 mod 3 (= number of nonzero coordinates mod 3)
     h           sum over pairs c_{2i} c_{2i+1} mod 3 (a hyperbolic form)
     e           c_0^2 + c_1^2 + sum_{i>=1} c_{2i} c_{2i+1} mod 3 (an
                 elliptic form when n is even; its zeros give the
                 20-cap for n = 4)
   Certificate: {"problem":"capset","n":N,"size":K,"points":[[c_0,...],...]}
   with points in increasing order of their base-3 code. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kepler/problem.h"
#include "kp_capset.h"
#include "kp_problems.h"

enum { F_COORD0 = 0 }; /* then n0 n1 n2 s w q h e */
#define CAPSET_EXTRA 8
static const char *const extra_names[CAPSET_EXTRA] = {"n0", "n1", "n2", "s",
                                                     "w",  "q",  "h",  "e"};

static size_t capset_length(int n)
{
    return kp_capset_npoints(n);
}

/* Workspace: the greedy's (its chunk table is built once per workspace),
   then room for verify's list of points, so that verify does not clobber
   the table. */
static size_t capset_ws_size(int n)
{
    size_t g = (kp_capset_greedy_ws_size(n) + 7) / 8 * 8;
    return g + (size_t)kp_capset_npoints(n) * sizeof(uint32_t);
}

static void capset_score(kp_score_t *s, const uint8_t *x, int n, void *ws)
{
    (void)ws;
    size_t np = kp_capset_npoints(n), k = 0;
    for (size_t p = 0; p < np; p++)
        k += x[p] != 0;
    s->value = (double)k;
    s->num = (int64_t)k;
    s->den = 1;
}

static int capset_verify(const uint8_t *x, int n, void *ws,
                         kp_problem_msg_t *m)
{
    uint32_t np = kp_capset_npoints(n);
    uint32_t *pts = (uint32_t *)((uint8_t *)ws +
                                 (kp_capset_greedy_ws_size(n) + 7) / 8 * 8);
    size_t k = 0;
    for (uint32_t p = 0; p < np; p++)
        if (x[p])
            pts[k++] = p;
    kp_error_t err;
    int rc = kp_capset_check(NULL, pts, k, n, &err);
    if (rc == KP_OK)
        return KP_PROBLEM_OK;
    if (m == NULL)
        return rc == KP_ENOTFOUND ? KP_PROBLEM_REFUTED : KP_PROBLEM_BAD;
    size_t l = strlen(err.msg);
    if (l >= sizeof m->msg)
        l = sizeof m->msg - 1;
    memcpy(m->msg, err.msg, l);
    m->msg[l] = '\0';
    m->where[0] = '\0';
    return rc == KP_ENOTFOUND ? KP_PROBLEM_REFUTED : KP_PROBLEM_BAD;
}

/* Largest caps known: exact maxima for n <= 6, best constructions for
   n = 7 (Edel) and n = 8 (FunSearch, 2023). */
static double capset_known_best(int n)
{
    static const double best[] = {1, 2, 4, 9, 20, 45, 112, 236, 512};
    return n >= 0 && n <= 8 ? best[n] : NAN;
}

static int capset_nfeatures(int n)
{
    return n + CAPSET_EXTRA;
}

static void capset_feature_name(char *buf, size_t size, int f, int n)
{
    if (f < n)
        snprintf(buf, size, "x%d", f);
    else
        snprintf(buf, size, "%s", extra_names[f - n]);
}

static void capset_features(double *const *cols, int n)
{
    uint32_t np = kp_capset_npoints(n);
    uint8_t c[KP_CAPSET_MAX_N];
    for (uint32_t p = 0; p < np; p++) {
        kp_capset_decode(c, p, n);
        int cnt[3] = {0, 0, 0}, s = 0, w = 0, q = 0, h = 0;
        for (int i = 0; i < n; i++) {
            cols[F_COORD0 + i][p] = c[i];
            cnt[c[i]]++;
            s += c[i];
            w += (i + 1) * c[i];
            q += c[i] * c[i];
        }
        for (int i = 0; i + 1 < n; i += 2)
            h += c[i] * c[i + 1];
        int e = h - (n >= 2 ? c[0] * c[1] : 0) + c[0] * c[0] +
                (n >= 2 ? c[1] * c[1] : 0);
        double v[CAPSET_EXTRA] = {cnt[0], cnt[1], cnt[2], s % 3,
                                  w % 3,  q % 3,  h % 3,  e % 3};
        for (int f = 0; f < CAPSET_EXTRA; f++)
            cols[n + f][p] = v[f];
    }
}

static size_t capset_construct(uint8_t *x, const uint32_t *order, int n,
                               void *ws)
{
    return kp_capset_greedy(x, order, n, ws);
}

static void capset_line_thirds(uint32_t *z, uint32_t a, const uint32_t *b,
                               size_t k, int n, void *ws)
{
    kp_capset_thirds(z, a, b, k, n, ws);
}

/* Symmetry groups: sign changes on blocks of coordinates. The group of a
   shape negates all coordinates of any set of blocks, where the blocks
   partition m of the n coordinates and the other n - m stay fixed; up to
   a permutation of the coordinates these are all groups of this kind,
   one per partition of each m = 1..n. With no fixed coordinate the group
   contains x -> -x, so an invariant cap is a doubled projective cap; a
   fixed coordinate lifts that restriction (the 236-cap of F_3^7 needs
   one). Order: shapes whose blocks are pairs and singletons first, most
   pairs first (negating a coordinate pair keeps its product c_i c_j, the
   structure of the quadrics behind the best small caps), then fewest
   fixed coordinates (the larger group); then the others, larger blocks
   first. Blocks are laid over coordinates 0, 1, ... in that order, the
   fixed coordinates last. */
#define CAPSET_MAX_SHAPES 160 /* sum of p(m), m <= 10, is 138 */

typedef struct {
    uint8_t part[KP_CAPSET_MAX_N];
    int nparts, fixed;
} shape_t;

/* 1 if shape a comes before shape b. */
static int shape_before(const shape_t *a, const shape_t *b)
{
    int sa = a->part[0] <= 2, sb = b->part[0] <= 2;
    if (sa != sb)
        return sa;
    if (sa) {
        int pa = 0, pb = 0;
        for (int i = 0; i < a->nparts; i++)
            pa += a->part[i] == 2;
        for (int i = 0; i < b->nparts; i++)
            pb += b->part[i] == 2;
        if (pa != pb)
            return pa > pb;
        return a->fixed < b->fixed;
    }
    for (int i = 0; i < a->nparts && i < b->nparts; i++)
        if (a->part[i] != b->part[i])
            return a->part[i] > b->part[i];
    if (a->nparts != b->nparts)
        return a->nparts > b->nparts;
    return a->fixed < b->fixed;
}

/* Fills out (room for CAPSET_MAX_SHAPES, or NULL) with the shapes of
   dimension n in order and returns their number. */
static int shapes(shape_t *out, int n)
{
    shape_t all[CAPSET_MAX_SHAPES];
    int cnt = 0;
    for (int m = n; m >= 1; m--) {
        /* Partitions of m in reverse lexicographic order. */
        uint8_t a[KP_CAPSET_MAX_N + 1];
        int k = 1;
        a[0] = (uint8_t)m;
        for (;;) {
            if (cnt < CAPSET_MAX_SHAPES) {
                memcpy(all[cnt].part, a, (size_t)k);
                all[cnt].nparts = k;
                all[cnt].fixed = n - m;
                cnt++;
            }
            int i = k - 1, rem = 0;
            while (i >= 0 && a[i] == 1) {
                rem++;
                i--;
            }
            if (i < 0)
                break;
            a[i]--;
            rem++;
            int v = a[i];
            k = i + 1;
            while (rem > 0) {
                int t = rem < v ? rem : v;
                a[k++] = (uint8_t)t;
                rem -= t;
            }
        }
    }
    if (out == NULL)
        return cnt;
    /* Insertion sort: stable, and a few dozen entries. */
    for (int i = 0; i < cnt; i++) {
        shape_t t = all[i];
        int j = i;
        while (j > 0 && shape_before(&t, &all[j - 1])) {
            all[j] = all[j - 1];
            j--;
        }
        all[j] = t;
    }
    memcpy(out, all, sizeof *out * (size_t)cnt);
    return cnt;
}

static int capset_nsymmetries(int n)
{
    return shapes(NULL, n);
}

/* The blocks of group s (KP_CAPSET_FIXED for fixed coordinates), or -1. */
static int capset_blocks(uint8_t *block, shape_t *sh, int s, int n)
{
    shape_t all[CAPSET_MAX_SHAPES];
    int m = shapes(all, n);
    if (s < 0 || s >= m)
        return -1;
    *sh = all[s];
    int i = 0;
    for (int b = 0; b < sh->nparts; b++)
        for (int j = 0; j < sh->part[b]; j++)
            block[i++] = (uint8_t)b;
    while (i < n)
        block[i++] = KP_CAPSET_FIXED;
    return sh->nparts;
}

static uint32_t capset_symmetry_orbits(uint32_t *orbit, int s, int n)
{
    uint8_t block[KP_CAPSET_MAX_N];
    shape_t sh;
    if (capset_blocks(block, &sh, s, n) < 0)
        return 0;
    return kp_capset_sign_orbits(orbit, block, n);
}

static void capset_symmetry_name(char *buf, size_t size, int s, int n)
{
    uint8_t block[KP_CAPSET_MAX_N];
    shape_t sh;
    if (capset_blocks(block, &sh, s, n) < 0) {
        snprintf(buf, size, "?");
        return;
    }
    size_t l = (size_t)snprintf(buf, size, "sign changes on blocks ");
    for (int b = 0; b < sh.nparts && l < size; b++)
        l += (size_t)snprintf(buf + l, size - l, "%s%d", b ? "+" : "",
                              sh.part[b]);
    if (sh.fixed > 0 && l < size)
        snprintf(buf + l, size - l, ", %d coordinate%s fixed", sh.fixed,
                 sh.fixed > 1 ? "s" : "");
}

static int capset_cert_write(json_t *root, const uint8_t *x, int n)
{
    uint32_t np = kp_capset_npoints(n);
    json_t *pts = json_array();
    size_t k = 0;
    if (pts == NULL)
        return KP_PROBLEM_BAD;
    for (uint32_t p = 0; p < np; p++) {
        if (!x[p])
            continue;
        uint8_t c[KP_CAPSET_MAX_N];
        kp_capset_decode(c, p, n);
        json_t *pt = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(pt, json_integer(c[i]));
        json_array_append_new(pts, pt);
        k++;
    }
    json_object_set_new(root, "size", json_integer((json_int_t)k));
    json_object_set_new(root, "points", pts);
    return KP_PROBLEM_OK;
}

static int bad(kp_problem_msg_t *m, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(kp_problem_msg_t *m, const char *where, const char *fmt, ...)
{
    va_list ap;
    snprintf(m->where, sizeof m->where, "%s", where);
    va_start(ap, fmt);
    vsnprintf(m->msg, sizeof m->msg, fmt, ap);
    va_end(ap);
    return KP_PROBLEM_BAD;
}

static int capset_cert_read(uint8_t *x, int n, const json_t *root,
                            kp_problem_msg_t *m)
{
    char where[64];
    uint32_t np = kp_capset_npoints(n);
    memset(x, 0, np);
    json_t *pts = json_object_get(root, "points");
    if (!json_is_array(pts))
        return bad(m, pts ? "points" : "", "\"points\" must be an array of points");
    size_t k = json_array_size(pts);
    for (size_t i = 0; i < k; i++) {
        json_t *pt = json_array_get(pts, i);
        snprintf(where, sizeof where, "points[%zu]", i);
        if (!json_is_array(pt))
            return bad(m, where, "point %zu is not an array", i);
        if (json_array_size(pt) != (size_t)n)
            return bad(m, where, "point %zu has %zu coordinates, not %d",
                       i, json_array_size(pt), n);
        uint32_t p = 0, w = 1;
        for (int j = 0; j < n; j++) {
            json_t *c = json_array_get(pt, (size_t)j);
            snprintf(where, sizeof where, "points[%zu][%d]", i, j);
            if (!json_is_integer(c) || json_integer_value(c) < 0 ||
                json_integer_value(c) > 2)
                return bad(m, where, "coordinate %d of point %zu is not 0, 1 "
                           "or 2", j, i);
            p += w * (uint32_t)json_integer_value(c);
            w *= 3;
        }
        if (x[p]) {
            snprintf(where, sizeof where, "points[%zu]", i);
            return bad(m, where, "point %zu repeats an earlier point", i);
        }
        x[p] = 1;
    }
    json_t *size = json_object_get(root, "size");
    if (size != NULL && !json_is_integer(size))
        return bad(m, "size", "\"size\" is not an integer");
    if (size != NULL && json_integer_value(size) != (json_int_t)k)
        return bad(m, "size", "\"size\" is %lld but %zu points are listed",
                   (long long)json_integer_value(size), k);
    return KP_PROBLEM_OK;
}

static const kp_problem_t capset_problem = {
    .abi = KP_PROBLEM_ABI,
    .name = "capset",
    .summary = "largest cap set in F_3^n (no three points on a line)",
    .kind = KP_OBJ_F3SUBSET,
    .n_min = 1,
    .n_max = 10,
    .lean_predicate = "IsCapSet",
    .length = capset_length,
    .ws_size = capset_ws_size,
    .score = capset_score,
    .verify = capset_verify,
    .known_best = capset_known_best,
    .nfeatures = capset_nfeatures,
    .features = capset_features,
    .feature_name = capset_feature_name,
    .construct = capset_construct,
    .cert_write = capset_cert_write,
    .cert_read = capset_cert_read,
    .line_thirds = capset_line_thirds,
    .nsymmetries = capset_nsymmetries,
    .symmetry_orbits = capset_symmetry_orbits,
    .symmetry_name = capset_symmetry_name,
};

const kp_problem_t *kp_problem_capset(void)
{
    return &capset_problem;
}
