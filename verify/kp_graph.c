/* kp_graph.c: exact graph invariants (see kp_graph.h). */
#include "kp_graph.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <acb.h>
#include <arb_fmpz_poly.h>
#include <flint/fmpz_mat.h>
#include <flint/fmpz_poly_factor.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>

/* Highest working precision tried by the root comparisons. */
#define MAX_PREC (1L << 14)

int kp_graph_init(kp_graph_t *g, int n, kp_error_t *err)
{
    g->n = 0;
    g->a = NULL;
    if (n < 0 || n > KP_GRAPH_MAX_N)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "graph size %d outside 0..%d", n, KP_GRAPH_MAX_N);
    g->a = calloc((size_t)n * n + 1, 1);
    if (!g->a)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    g->n = n;
    return KP_OK;
}

void kp_graph_clear(kp_graph_t *g)
{
    free(g->a);
    g->a = NULL;
    g->n = 0;
}

void kp_graph_copy(kp_graph_t *dst, const kp_graph_t *src)
{
    memcpy(dst->a, src->a, (size_t)src->n * src->n);
}

long kp_graph_npairs(int n)
{
    return (long)n * (n - 1) / 2;
}

long kp_graph_pair_index(int n, int i, int j)
{
    if (i > j) {
        int t = i;
        i = j;
        j = t;
    }
    /* Rows 0..i-1 hold (n-1) + (n-2) + ... + (n-i) pairs. */
    return (long)i * (2L * n - i - 1) / 2 + (j - i - 1);
}

void kp_graph_pair_of_index(int n, long k, int *i, int *j)
{
    int r = 0;
    while (k >= n - 1 - r) {
        k -= n - 1 - r;
        r++;
    }
    *i = r;
    *j = r + 1 + (int)k;
}

void kp_graph_set(kp_graph_t *g, int i, int j, int on)
{
    unsigned char v = on ? 1 : 0;
    g->a[(long)i * g->n + j] = v;
    g->a[(long)j * g->n + i] = v;
}

long kp_graph_nedges(const kp_graph_t *g)
{
    long m = 0;
    for (int i = 0; i < g->n; i++)
        for (int j = i + 1; j < g->n; j++)
            m += g->a[(long)i * g->n + j];
    return m;
}

void kp_graph_from_bits(kp_graph_t *g, const unsigned char *bits)
{
    int n = g->n;
    long k = 0;
    for (int i = 0; i < n; i++) {
        g->a[(long)i * n + i] = 0;
        for (int j = i + 1; j < n; j++, k++)
            kp_graph_set(g, i, j, bits[k]);
    }
}

void kp_graph_to_bits(unsigned char *bits, const kp_graph_t *g)
{
    int n = g->n;
    long k = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++, k++)
            bits[k] = g->a[(long)i * n + j];
}

int kp_graph_add_edges(kp_graph_t *g, const long *edges, long m,
                       kp_error_t *err)
{
    for (long k = 0; k < m; k++) {
        long u = edges[2 * k], v = edges[2 * k + 1];
        if (u < 0 || u >= g->n || v < 0 || v >= g->n)
            return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                "edge %ld [%ld,%ld]: vertex outside 0..%d", k,
                                u, v, g->n - 1);
        if (u == v)
            return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                "edge %ld [%ld,%ld]: self-loop", k, u, v);
        if (kp_graph_edge(g, (int)u, (int)v))
            return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                "edge %ld [%ld,%ld]: repeated edge", k, u, v);
        kp_graph_set(g, (int)u, (int)v, 1);
    }
    return KP_OK;
}

/* Labels the components of g minus the vertices with skip[v] != 0 (skip may
   be NULL) into comp[] (-1 for skipped vertices); writes component sizes
   into size[] when not NULL; returns the number of components. queue holds
   n ints. */
static int label_components(int *comp, int *size, int *queue,
                            const kp_graph_t *g, const unsigned char *skip)
{
    int n = g->n, nc = 0;
    for (int v = 0; v < n; v++)
        comp[v] = -1;
    for (int s = 0; s < n; s++) {
        if (comp[s] >= 0 || (skip && skip[s]))
            continue;
        int head = 0, tail = 0, cnt = 0;
        queue[tail++] = s;
        comp[s] = nc;
        while (head < tail) {
            int v = queue[head++];
            cnt++;
            const unsigned char *row = g->a + (long)v * n;
            for (int w = 0; w < n; w++)
                if (row[w] && comp[w] < 0 && !(skip && skip[w])) {
                    comp[w] = nc;
                    queue[tail++] = w;
                }
        }
        if (size)
            size[nc] = cnt;
        nc++;
    }
    return nc;
}

int kp_graph_ncomponents(const kp_graph_t *g)
{
    int n = g->n;
    if (n == 0)
        return 0;
    int *buf = malloc(sizeof(int) * 2 * (size_t)n);
    if (!buf)
        return -1;
    int nc = label_components(buf, NULL, buf + n, g, NULL);
    free(buf);
    return nc;
}

int kp_graph_connected(const kp_graph_t *g)
{
    return g->n <= 1 || kp_graph_ncomponents(g) == 1;
}

int kp_graph_distances(int *d, const kp_graph_t *g)
{
    int n = g->n, diam = 0;
    int *queue = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!queue)
        return -1;
    for (int s = 0; s < n; s++) {
        int *ds = d + (long)s * n;
        for (int v = 0; v < n; v++)
            ds[v] = -1;
        int head = 0, tail = 0;
        ds[s] = 0;
        queue[tail++] = s;
        while (head < tail) {
            int v = queue[head++];
            const unsigned char *row = g->a + (long)v * n;
            for (int w = 0; w < n; w++)
                if (row[w] && ds[w] < 0) {
                    ds[w] = ds[v] + 1;
                    queue[tail++] = w;
                }
        }
        if (tail < n)
            diam = -1;
        else if (diam >= 0)
            for (int v = 0; v < n; v++)
                if (ds[v] > diam)
                    diam = ds[v];
    }
    free(queue);
    return diam;
}

/* ---- Edmonds' blossom algorithm ------------------------------------- */

typedef struct {
    const kp_graph_t *g;
    int *match, *p, *base, *q;
    unsigned char *used, *blossom, *lca_mark;
} blossom_t;

static int bl_lca(blossom_t *b, int x, int y)
{
    int n = b->g->n;
    memset(b->lca_mark, 0, (size_t)n);
    for (;;) {
        x = b->base[x];
        b->lca_mark[x] = 1;
        if (b->match[x] < 0)
            break;
        x = b->p[b->match[x]];
    }
    for (;;) {
        y = b->base[y];
        if (b->lca_mark[y])
            return y;
        y = b->p[b->match[y]];
    }
}

static void bl_mark_path(blossom_t *b, int v, int bs, int child)
{
    while (b->base[v] != bs) {
        b->blossom[b->base[v]] = 1;
        b->blossom[b->base[b->match[v]]] = 1;
        b->p[v] = child;
        child = b->match[v];
        v = b->p[b->match[v]];
    }
}

/* Grows an alternating forest from root; returns the far end of an
   augmenting path, or -1. On -1, used[] marks the even (outer) vertices
   reachable from root. */
static int bl_find_path(blossom_t *b, int root)
{
    int n = b->g->n;
    memset(b->used, 0, (size_t)n);
    for (int i = 0; i < n; i++) {
        b->p[i] = -1;
        b->base[i] = i;
    }
    b->used[root] = 1;
    int head = 0, tail = 0;
    b->q[tail++] = root;
    while (head < tail) {
        int v = b->q[head++];
        const unsigned char *row = b->g->a + (long)v * n;
        for (int to = 0; to < n; to++) {
            if (!row[to] || b->base[v] == b->base[to] || b->match[v] == to)
                continue;
            if (to == root || (b->match[to] >= 0 && b->p[b->match[to]] >= 0)) {
                int cur = bl_lca(b, v, to);
                memset(b->blossom, 0, (size_t)n);
                bl_mark_path(b, v, cur, to);
                bl_mark_path(b, to, cur, v);
                for (int i = 0; i < n; i++)
                    if (b->blossom[b->base[i]]) {
                        b->base[i] = cur;
                        if (!b->used[i]) {
                            b->used[i] = 1;
                            b->q[tail++] = i;
                        }
                    }
            } else if (b->p[to] < 0) {
                b->p[to] = v;
                if (b->match[to] < 0)
                    return to;
                int t2 = b->match[to];
                b->used[t2] = 1;
                b->q[tail++] = t2;
            }
        }
    }
    return -1;
}

static int bl_init(blossom_t *b, const kp_graph_t *g)
{
    int n = g->n > 0 ? g->n : 1;
    b->g = g;
    b->match = malloc(sizeof(int) * 4 * (size_t)n);
    b->used = malloc(3 * (size_t)n);
    if (!b->match || !b->used) {
        free(b->match);
        free(b->used);
        return -1;
    }
    b->p = b->match + n;
    b->base = b->p + n;
    b->q = b->base + n;
    b->blossom = b->used + n;
    b->lca_mark = b->blossom + n;
    return 0;
}

static void bl_clear(blossom_t *b)
{
    free(b->match);
    free(b->used);
}

/* Maximum matching into b->match; returns its size. */
static int bl_run(blossom_t *b)
{
    const kp_graph_t *g = b->g;
    int n = g->n, size = 0;
    for (int i = 0; i < n; i++)
        b->match[i] = -1;
    /* Greedy start: most vertices get matched without a search. */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n && b->match[i] < 0; j++)
            if (kp_graph_edge(g, i, j) && b->match[j] < 0) {
                b->match[i] = j;
                b->match[j] = i;
                size++;
            }
    for (int v = 0; v < n; v++) {
        if (b->match[v] >= 0)
            continue;
        int u = bl_find_path(b, v);
        if (u < 0)
            continue;
        size++;
        while (u >= 0) {
            int pv = b->p[u], ppv = b->match[pv];
            b->match[u] = pv;
            b->match[pv] = u;
            u = ppv;
        }
    }
    return size;
}

int kp_graph_matching(const kp_graph_t *g, int *mate)
{
    blossom_t b;
    if (bl_init(&b, g))
        return -1;
    int size = bl_run(&b);
    if (mate)
        memcpy(mate, b.match, sizeof(int) * (size_t)g->n);
    bl_clear(&b);
    return size;
}

int kp_graph_tutte_berge_bound(const kp_graph_t *g, const unsigned char *in_s)
{
    int n = g->n, s = 0, odd = 0;
    int *buf = malloc(sizeof(int) * 3 * (size_t)(n > 0 ? n : 1));
    if (!buf)
        return -1;
    for (int v = 0; v < n; v++)
        s += in_s[v] != 0;
    int nc = label_components(buf, buf + n, buf + 2 * n, g, in_s);
    for (int c = 0; c < nc; c++)
        odd += buf[n + c] & 1;
    free(buf);
    return (n + s - odd) / 2;
}

int kp_graph_tutte_berge_set(unsigned char *in_s, const kp_graph_t *g)
{
    int n = g->n;
    blossom_t b;
    unsigned char *d = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!d || bl_init(&b, g)) {
        free(d);
        return -1;
    }
    int mu = bl_run(&b);
    /* Gallai–Edmonds: D = vertices reachable from an exposed vertex by an
       even alternating path = outer vertices of the failed searches. */
    for (int r = 0; r < n; r++) {
        if (b.match[r] >= 0)
            continue;
        if (bl_find_path(&b, r) >= 0) { /* impossible: matching is maximum */
            bl_clear(&b);
            free(d);
            return -1;
        }
        for (int v = 0; v < n; v++)
            d[v] |= b.used[v];
    }
    bl_clear(&b);
    for (int v = 0; v < n; v++) {
        in_s[v] = 0;
        if (d[v])
            continue;
        for (int w = 0; w < n; w++)
            if (d[w] && kp_graph_edge(g, v, w)) {
                in_s[v] = 1;
                break;
            }
    }
    free(d);
    int bound = kp_graph_tutte_berge_bound(g, in_s);
    return bound == mu ? bound : -1;
}

int kp_graph_is_matching(const kp_graph_t *g, const long *pairs, long k)
{
    int n = g->n;
    unsigned char *seen = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!seen)
        return 0;
    int ok = 1;
    for (long i = 0; i < k && ok; i++) {
        long u = pairs[2 * i], v = pairs[2 * i + 1];
        if (u < 0 || v < 0 || u >= n || v >= n || u == v ||
            !kp_graph_edge(g, (int)u, (int)v) || seen[u] || seen[v])
            ok = 0;
        else
            seen[u] = seen[v] = 1;
    }
    free(seen);
    return ok;
}

/* ---- Spectra ------------------------------------------------------------ */

void kp_graph_charpoly(fmpz_poly_t p, const kp_graph_t *g)
{
    int n = g->n;
    fmpz_mat_t m;
    fmpz_mat_init(m, n, n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            fmpz_set_ui(fmpz_mat_entry(m, i, j), g->a[(long)i * n + j]);
    fmpz_mat_charpoly(p, m);
    fmpz_mat_clear(m);
}

int kp_graph_distance_charpoly(fmpz_poly_t p, const kp_graph_t *g,
                               kp_error_t *err)
{
    int n = g->n;
    int *d = malloc(sizeof(int) * (size_t)n * n + 1);
    if (!d)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    if (kp_graph_distances(d, g) < 0) {
        free(d);
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "distance matrix of a disconnected graph");
    }
    fmpz_mat_t m;
    fmpz_mat_init(m, n, n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            fmpz_set_si(fmpz_mat_entry(m, i, j), d[(long)i * n + j]);
    fmpz_mat_charpoly(p, m);
    fmpz_mat_clear(m);
    free(d);
    return KP_OK;
}

void kp_graph_squarefree(fmpz_poly_t q, const fmpz_poly_t p)
{
    fmpz_poly_t dp, gc;
    fmpz_poly_init(dp);
    fmpz_poly_init(gc);
    fmpz_poly_derivative(dp, p);
    fmpz_poly_gcd(gc, p, dp);
    fmpz_poly_div(q, p, gc);
    fmpz_poly_primitive_part(q, q);
    if (fmpz_sgn(fmpz_poly_lead(q)) < 0)
        fmpz_poly_neg(q, q);
    fmpz_poly_clear(dp);
    fmpz_poly_clear(gc);
}

/* Real roots of the squarefree polynomial s, all proved real, ascending,
   into r (deg s entries, initialised). Returns 0, or -1 if a root is not
   proved real. */
static int real_roots(arb_ptr r, const fmpz_poly_t s, slong prec)
{
    slong d = fmpz_poly_degree(s);
    acb_ptr z = _acb_vec_init(d);
    arb_fmpz_poly_complex_roots(z, s, 0, prec);
    int ok = 0;
    for (slong i = 0; i < d; i++) {
        if (!arb_is_zero(acb_imagref(z + i)))
            ok = -1;
        arb_set(r + i, acb_realref(z + i));
    }
    _acb_vec_clear(z, d);
    return ok;
}

int kp_graph_largest_root(arb_t r, const fmpz_poly_t p, slong prec,
                          kp_error_t *err)
{
    if (fmpz_poly_degree(p) < 1)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "polynomial of degree < 1 has no largest root");
    fmpz_poly_t s;
    fmpz_poly_init(s);
    kp_graph_squarefree(s, p);
    slong d = fmpz_poly_degree(s);
    arb_ptr rr = _arb_vec_init(d);
    int bad = real_roots(rr, s, prec);
    if (!bad)
        arb_set(r, rr + d - 1);
    _arb_vec_clear(rr, d);
    fmpz_poly_clear(s);
    if (bad)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "polynomial has a root not proved real");
    return KP_OK;
}

typedef struct {
    arb_struct *x;
    slong mult;
} root_ref_t;

static int cmp_root_desc(const void *pa, const void *pb)
{
    const root_ref_t *a = pa, *b = pb;
    return arf_cmp(arb_midref(b->x), arb_midref(a->x));
}

int kp_graph_sorted_roots(arb_ptr ev, const fmpz_poly_t p, slong prec,
                          kp_error_t *err)
{
    slong deg = fmpz_poly_degree(p);
    if (deg < 1)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "polynomial of degree < 1");
    fmpz_poly_factor_t fac;
    fmpz_poly_factor_init(fac);
    fmpz_poly_factor_squarefree(fac, p);
    slong nd = 0;
    for (slong i = 0; i < fac->num; i++)
        nd += fmpz_poly_degree(fac->p + i);
    arb_ptr r = _arb_vec_init(nd);
    root_ref_t *ref = malloc(sizeof(root_ref_t) * (size_t)nd);
    int rc = KP_OK;
    if (!ref) {
        rc = kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    for (slong wp = prec > 32 ? prec : 32;; wp *= 2) {
        if (wp > MAX_PREC) {
            rc = kp_error_set(err, KP_EINTERNAL, NULL, 0, 0,
                              "eigenvalues not separated at %ld bits",
                              (long)MAX_PREC);
            goto done;
        }
        slong k = 0;
        for (slong i = 0; i < fac->num; i++) {
            slong d = fmpz_poly_degree(fac->p + i);
            if (d < 1)
                continue;
            if (real_roots(r + k, fac->p + i, wp)) {
                rc = kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                  "polynomial has a root not proved real");
                goto done;
            }
            for (slong j = 0; j < d; j++) {
                ref[k + j].x = r + k + j;
                ref[k + j].mult = fac->exp[i];
            }
            k += d;
        }
        qsort(ref, (size_t)k, sizeof(root_ref_t), cmp_root_desc);
        int sep = 1;
        for (slong j = 0; j + 1 < k && sep; j++)
            sep = arb_gt(ref[j].x, ref[j + 1].x);
        if (!sep)
            continue;
        slong o = 0;
        for (slong j = 0; j < k; j++)
            for (slong m = 0; m < ref[j].mult && o < deg; m++)
                arb_set(ev + o++, ref[j].x);
        break;
    }
done:
    free(ref);
    _arb_vec_clear(r, nd);
    fmpz_poly_factor_clear(fac);
    return rc;
}

int kp_graph_lambda1(arb_t lam, const kp_graph_t *g, slong prec,
                     kp_error_t *err)
{
    if (g->n < 1)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "lambda_1 of the empty graph");
    fmpz_poly_t p;
    fmpz_poly_init(p);
    kp_graph_charpoly(p, g);
    int rc = kp_graph_largest_root(lam, p, prec, err);
    fmpz_poly_clear(p);
    return rc;
}

/* 1 if a + sqrt(m) is a root of p (exact). */
static int is_root_a_sqrt_m(const fmpz_poly_t p, slong a, slong m)
{
    slong s = (slong)sqrt((double)m);
    while (s * s > m)
        s--;
    while ((s + 1) * (s + 1) <= m)
        s++;
    int root;
    if (s * s == m) {
        fmpz_t t, v;
        fmpz_init_set_si(t, a + s);
        fmpz_init(v);
        fmpz_poly_evaluate_fmpz(v, p, t);
        root = fmpz_is_zero(v);
        fmpz_clear(t);
        fmpz_clear(v);
    } else {
        /* minimal polynomial (x - a)^2 - m */
        fmpz_poly_t q, r;
        fmpz_poly_init(q);
        fmpz_poly_init(r);
        fmpz_poly_set_coeff_si(q, 2, 1);
        fmpz_poly_set_coeff_si(q, 1, -2 * a);
        fmpz_poly_set_coeff_si(q, 0, a * a - m);
        fmpz_poly_rem(r, p, q);
        root = fmpz_poly_is_zero(r);
        fmpz_poly_clear(q);
        fmpz_poly_clear(r);
    }
    return root;
}

int kp_graph_largest_root_cmp(const fmpz_poly_t p, slong a, slong m)
{
    if (fmpz_poly_degree(p) < 1 || m < 0)
        return KP_GRAPH_UNKNOWN;
    fmpz_poly_t s;
    fmpz_poly_init(s);
    kp_graph_squarefree(s, p);
    int root = is_root_a_sqrt_m(s, a, m);
    slong d = fmpz_poly_degree(s);
    arb_ptr rr = _arb_vec_init(d);
    arb_t t;
    arb_init(t);
    int res = KP_GRAPH_UNKNOWN;
    for (slong prec = 64; prec <= MAX_PREC && res == KP_GRAPH_UNKNOWN;
         prec *= 2) {
        if (real_roots(rr, s, prec))
            break;
        arb_sqrt_ui(t, (ulong)m, prec + 16);
        arb_add_si(t, t, a, prec + 16);
        arb_srcptr top = rr + d - 1;
        if (arb_lt(top, t))
            res = KP_GRAPH_LESS;
        else if (arb_gt(top, t))
            res = KP_GRAPH_GREATER;
        else if (root) {
            /* t is a root, so it lies in exactly one of the disjoint root
               balls; if its own ball misses all but the top one, it is the
               top root. */
            int alone = 1;
            for (slong i = 0; i + 1 < d && alone; i++)
                alone = !arb_overlaps(rr + i, t);
            if (alone)
                res = KP_GRAPH_EQUAL;
        }
    }
    arb_clear(t);
    _arb_vec_clear(rr, d);
    fmpz_poly_clear(s);
    return res;
}

int kp_graph_lambda1_cmp(const kp_graph_t *g, slong a, slong m)
{
    if (g->n < 1)
        return KP_GRAPH_UNKNOWN;
    fmpz_poly_t p;
    fmpz_poly_init(p);
    kp_graph_charpoly(p, g);
    int r = kp_graph_largest_root_cmp(p, a, m);
    fmpz_poly_clear(p);
    return r;
}

/* Householder reduction of the symmetric n x n matrix a (row major,
   destroyed) to tridiagonal form: diagonal d[0..n-1], off-diagonal
   e[0..n-2]; the spectrum is unchanged. v and q hold n doubles. */
static void tridiagonalise(double *a, int n, double *d, double *e, double *v,
                           double *q)
{
    for (int k = 0; k + 2 < n; k++) {
        int m = n - k - 1; /* the column below the diagonal */
        double *col = v;
        double nrm = 0;
        for (int i = 0; i < m; i++) {
            col[i] = a[(long)(k + 1 + i) * n + k];
            nrm += col[i] * col[i];
        }
        d[k] = a[(long)k * n + k];
        /* A column that is zero up to rounding (entries are O(1)): dropping
           it moves the eigenvalues by at most 1e-15 and avoids dividing by
           an underflowed |v|^2. */
        if (nrm < 1e-30) {
            e[k] = 0;
            continue;
        }
        /* alpha of the sign opposite to x_0 avoids cancellation; then
           |v|^2 = |x - alpha e_1|^2 = 2 (|x|^2 - alpha x_0) >= 2 |x|^2. */
        double alpha = col[0] > 0 ? -sqrt(nrm) : sqrt(nrm);
        double vv = 2 * (nrm - alpha * col[0]);
        e[k] = alpha;
        col[0] -= alpha;
        double beta = 2 / vv, vq = 0;
        /* S <- H S H with H = I - beta v v^T on the trailing block S:
           p = beta S v, q = p - (beta v.p / 2) v, S -= v q^T + q v^T. */
        for (int i = 0; i < m; i++) {
            const double *row = a + (long)(k + 1 + i) * n + k + 1;
            double s = 0;
            for (int j = 0; j < m; j++)
                s += row[j] * col[j];
            q[i] = beta * s;
            vq += col[i] * q[i];
        }
        double kk = beta * vq / 2;
        for (int i = 0; i < m; i++)
            q[i] -= kk * col[i];
        for (int i = 0; i < m; i++) {
            double *row = a + (long)(k + 1 + i) * n + k + 1;
            for (int j = 0; j < m; j++)
                row[j] -= col[i] * q[j] + q[i] * col[j];
        }
    }
    if (n >= 2) {
        d[n - 2] = a[(long)(n - 2) * n + n - 2];
        e[n - 2] = a[(long)(n - 1) * n + n - 2];
    }
    d[n - 1] = a[(long)(n - 1) * n + n - 1];
}

/* Number of eigenvalues below x of the tridiagonal T = (d, e2 = squared
   off-diagonal): the negative pivots of the LDL^T factorisation of
   T - x I (Sturm). If g is not NULL, also G = d/dx log|det(T - xI)| =
   sum 1/(x - lambda_i) and H = -G' = sum 1/(x - lambda_i)^2 from the
   derivatives of the pivots. */
static int sturm_below(const double *d, const double *e2, int n, double x,
                       double *g, double *h)
{
    int cnt = 0;
    double piv = d[0] - x, dp = -1, ddp = 0, sg = 0, sh = 0;
    for (int i = 0;;) {
        if (piv == 0)
            piv = -1e-300;
        cnt += piv < 0;
        if (g) {
            double u = dp / piv;
            sg += u;
            sh += u * u - ddp / piv;
        }
        if (++i == n)
            break;
        double r = e2[i - 1] / piv;
        if (g) {
            double u = dp / piv;
            ddp = r * (ddp / piv - 2 * u * u);
            dp = -1 + r * u;
        }
        piv = d[i] - x - r;
    }
    if (g) {
        *g = sg;
        *h = sh;
    }
    return cnt;
}

/* Largest eigenvalue of a tridiagonal matrix, to about 1e-14 relative,
   given lo <= lambda_max <= hi (or -inf, inf).
   Laguerre's method from above the largest root of the (real-rooted)
   characteristic polynomial converges to that root monotonically, and
   cubically when it is simple; it runs inside a Sturm bracket [lo, hi],
   with a bisection step whenever its steps stop shrinking fast (a
   multiple or close pair of top eigenvalues, where it is only linear). */
static double tridiag_top(const double *d, const double *e2, int n, double lo,
                          double hi)
{
    double glo = HUGE_VAL, ghi = -HUGE_VAL; /* Gershgorin */
    for (int i = 0; i < n; i++) {
        double r =
            (i > 0 ? sqrt(e2[i - 1]) : 0) + (i + 1 < n ? sqrt(e2[i]) : 0);
        glo = fmin(glo, d[i] - r);
        ghi = fmax(ghi, d[i] + r);
    }
    lo = fmax(lo, glo);
    hi = fmin(hi, ghi);
    double tol = 1e-14 * fmax(1.0, fmax(fabs(lo), fabs(hi)));
    lo -= tol;
    hi += tol;
    /* invariant: fewer than n eigenvalues below lo, all n below hi */
    double prev = HUGE_VAL;
    for (int it = 0; it < 200 && hi - lo > tol; it++) {
        double g, h, h0 = hi;
        sturm_below(d, e2, n, hi, &g, &h);
        double disc = (n - 1) * (n * h - g * g);
        double c = g > 0 ? hi - n / (g + sqrt(disc > 0 ? disc : 0)) : lo;
        if (c >= hi - tol) /* converged */
            return hi;
        if (c > lo) {
            if (sturm_below(d, e2, n, c, NULL, NULL) == n) {
                hi = c;
            } else {
                /* Below the root only by rounding: the root is just
                   above c. */
                lo = c;
                if (sturm_below(d, e2, n, c + tol, NULL, NULL) == n)
                    return c + 0.5 * tol;
            }
        }
        /* A step not much shorter than the last one means linear
           convergence: halve the bracket as well. */
        double step = h0 - hi;
        if (step > 0.25 * prev && hi - lo > tol) {
            double mid = 0.5 * (lo + hi);
            if (sturm_below(d, e2, n, mid, NULL, NULL) == n)
                hi = mid;
            else
                lo = mid;
        }
        prev = step;
    }
    return 0.5 * (lo + hi);
}

/* lambda_1 without the eigenvector: tridiagonalisation and bisection, in
   a stack buffer for the small graphs the search scores millions of. */
#define FAST_N 64
static double lambda1_tridiag(const kp_graph_t *g)
{
    int n = g->n;
    /* Bounds from the degrees: sqrt(max degree) (a star subgraph) and the
       average degree 2m/n from below, max over edges of sqrt(d_i d_j)
       from above. */
    int deg_stack[FAST_N],
        *deg = n <= FAST_N ? deg_stack : malloc(sizeof(int) * (size_t)n);
    double stack[FAST_N * FAST_N + 4 * FAST_N];
    double *buf =
        n <= FAST_N ? stack
                    : malloc(sizeof(double) * ((size_t)n * n + 4 * (size_t)n));
    double top = NAN;
    if (!buf || !deg)
        goto done;
    long m2 = 0;
    int dmax = 0;
    for (int i = 0; i < n; i++) {
        int s = 0;
        for (int j = 0; j < n; j++)
            s += g->a[(long)i * n + j];
        deg[i] = s;
        m2 += s;
        dmax = s > dmax ? s : dmax;
    }
    if (m2 == 0) {
        top = 0;
        goto done;
    }
    double hi = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (g->a[(long)i * n + j] && (double)deg[i] * deg[j] > hi)
                hi = (double)deg[i] * deg[j];
    hi = sqrt(hi);
    double lo = fmax(sqrt((double)dmax), (double)m2 / n);
    double *a = buf, *d = a + (long)n * n, *e = d + n, *v = e + n, *q = v + n;
    for (long i = 0; i < (long)n * n; i++)
        a[i] = g->a[i];
    tridiagonalise(a, n, d, e, v, q);
    for (int i = 0; i + 1 < n; i++)
        e[i] *= e[i];
    top = tridiag_top(d, e, n, lo, hi);
done:
    if (buf != stack)
        free(buf);
    if (deg != deg_stack)
        free(deg);
    return top;
}

double kp_graph_lambda1_d(const kp_graph_t *g, double *vec)
{
    int n = g->n;
    if (n == 0)
        return NAN;
    if (n == 1) {
        if (vec)
            vec[0] = 1.0;
        return 0.0;
    }
    if (!vec)
        return lambda1_tridiag(g);
    gsl_matrix *m = gsl_matrix_alloc((size_t)n, (size_t)n);
    gsl_vector *ev = gsl_vector_alloc((size_t)n);
    if (!m || !ev) {
        gsl_matrix_free(m);
        gsl_vector_free(ev);
        return NAN;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            gsl_matrix_set(m, (size_t)i, (size_t)j, g->a[(long)i * n + j]);
    double best = -HUGE_VAL;
    if (!vec) {
        gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc((size_t)n);
        if (w && gsl_eigen_symm(m, ev, w) == GSL_SUCCESS)
            for (int i = 0; i < n; i++)
                if (gsl_vector_get(ev, (size_t)i) > best)
                    best = gsl_vector_get(ev, (size_t)i);
        gsl_eigen_symm_free(w);
    } else {
        gsl_matrix *vv = gsl_matrix_alloc((size_t)n, (size_t)n);
        gsl_eigen_symmv_workspace *w = gsl_eigen_symmv_alloc((size_t)n);
        if (vv && w && gsl_eigen_symmv(m, ev, vv, w) == GSL_SUCCESS) {
            int bi = 0;
            for (int i = 0; i < n; i++)
                if (gsl_vector_get(ev, (size_t)i) > best) {
                    best = gsl_vector_get(ev, (size_t)i);
                    bi = i;
                }
            /* A Perron vector is nonnegative up to sign; with a repeated
               top eigenvalue (disconnected graphs) |v| is still a fine
               starting point for the certificate. */
            for (int i = 0; i < n; i++)
                vec[i] = fabs(gsl_matrix_get(vv, (size_t)i, (size_t)bi));
        }
        gsl_eigen_symmv_free(w);
        gsl_matrix_free(vv);
    }
    gsl_matrix_free(m);
    gsl_vector_free(ev);
    return best == -HUGE_VAL ? NAN : best;
}

/* ---- Certificates ----------------------------------------------------- */

int kp_graph_cw_bound(fmpz *x, fmpq_t b, const kp_graph_t *g, int scale_bits,
                      kp_error_t *err)
{
    int n = g->n;
    if (n < 1)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0, "empty graph");
    if (scale_bits < 4 || scale_bits > 50)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "scale_bits %d outside 4..50", scale_bits);
    double *v = malloc(sizeof(double) * 2 * (size_t)n);
    if (!v)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    double lam = kp_graph_lambda1_d(g, v);
    if (isnan(lam)) {
        free(v);
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    }
    /* A few power steps on A + I sharpen the eigenvector; entries on
       components other than the Perron one stay at the positive floor. */
    double *w = v + n;
    for (int it = 0; it < 4; it++) {
        double nrm = 0;
        for (int i = 0; i < n; i++) {
            double s = v[i];
            for (int j = 0; j < n; j++)
                if (g->a[(long)i * n + j])
                    s += v[j];
            w[i] = s;
            nrm = fmax(nrm, s);
        }
        for (int i = 0; i < n; i++)
            v[i] = nrm > 0 ? w[i] / nrm : 1.0;
    }
    double scale = ldexp(1.0, scale_bits);
    for (int i = 0; i < n; i++) {
        double t = ceil(v[i] * scale);
        fmpz_set_d(x + i, t >= 1 ? t : 1);
    }
    fmpz_t s;
    fmpq_t r;
    fmpz_init(s);
    fmpq_init(r);
    fmpq_zero(b);
    for (int i = 0; i < n; i++) {
        fmpz_zero(s);
        for (int j = 0; j < n; j++)
            if (g->a[(long)i * n + j])
                fmpz_add(s, s, x + j);
        fmpq_set_fmpz_frac(r, s, x + i);
        if (fmpq_cmp(r, b) > 0)
            fmpq_set(b, r);
    }
    fmpz_clear(s);
    fmpq_clear(r);
    free(v);
    return KP_OK;
}

int kp_graph_cw_check(const kp_graph_t *g, const fmpz *x, const fmpq_t b)
{
    int n = g->n, ok = 1;
    fmpz_t s, lhs, rhs;
    fmpz_init(s);
    fmpz_init(lhs);
    fmpz_init(rhs);
    for (int i = 0; i < n && ok; i++)
        if (fmpz_sgn(x + i) <= 0)
            ok = 0;
    for (int i = 0; i < n && ok; i++) {
        fmpz_zero(s);
        for (int j = 0; j < n; j++)
            if (g->a[(long)i * n + j])
                fmpz_add(s, s, x + j);
        /* (Ax)_i <= (p/q) x_i  <=>  q (Ax)_i <= p x_i  (q > 0) */
        fmpz_mul(lhs, fmpq_denref(b), s);
        fmpz_mul(rhs, fmpq_numref(b), x + i);
        if (fmpz_cmp(lhs, rhs) > 0)
            ok = 0;
    }
    fmpz_clear(s);
    fmpz_clear(lhs);
    fmpz_clear(rhs);
    return ok;
}

int kp_graph_rayleigh(fmpq_t r, const kp_graph_t *g, const fmpz *x,
                      kp_error_t *err)
{
    int n = g->n;
    fmpz_t num, den, t;
    fmpz_init(num);
    fmpz_init(den);
    fmpz_init(t);
    for (int i = 0; i < n; i++) {
        fmpz_addmul(den, x + i, x + i);
        for (int j = 0; j < n; j++)
            if (g->a[(long)i * n + j]) {
                fmpz_mul(t, x + i, x + j);
                fmpz_add(num, num, t);
            }
    }
    int rc = KP_OK;
    if (fmpz_is_zero(den))
        rc = kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                          "Rayleigh quotient of the zero vector");
    else
        fmpq_set_fmpz_frac(r, num, den);
    fmpz_clear(num);
    fmpz_clear(den);
    fmpz_clear(t);
    return rc;
}

int kp_graph_fmpq_cmp_sqrt(const fmpq_t q, slong a, slong m)
{
    fmpq_t t;
    fmpq_init(t);
    fmpq_sub_si(t, q, a);
    int sg = fmpq_sgn(t), res;
    if (m <= 0)
        res = sg;
    else if (sg <= 0)
        res = -1;
    else {
        /* t > 0: compare t^2 with m */
        fmpq_mul(t, t, t);
        res = fmpq_cmp_si(t, m);
        res = res > 0 ? 1 : res < 0 ? -1 : 0;
    }
    fmpq_clear(t);
    return res;
}

/* ---- Cliques ------------------------------------------------------------ */

static long count_cliques_rec(const uint64_t *nb, uint64_t cand, int left)
{
    if (left == 0)
        return 1;
    long total = 0;
    while (cand) {
        if (__builtin_popcountll(cand) < left)
            break;
        int v = __builtin_ctzll(cand);
        cand &= cand - 1;
        long c = count_cliques_rec(nb, cand & nb[v], left - 1);
        total = (total > LONG_MAX - c) ? LONG_MAX : total + c;
    }
    return total;
}

long kp_graph_count_cliques(const kp_graph_t *g, int s, int complement)
{
    int n = g->n;
    if (n > 64)
        return -1;
    if (s < 1)
        return 0;
    uint64_t nb[64];
    for (int i = 0; i < n; i++) {
        nb[i] = 0;
        for (int j = 0; j < n; j++)
            if (i != j && (g->a[(long)i * n + j] != 0) != (complement != 0))
                nb[i] |= 1ULL << j;
    }
    uint64_t all = n == 64 ? ~0ULL : ((1ULL << n) - 1);
    return count_cliques_rec(nb, all, s);
}
