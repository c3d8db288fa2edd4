/* kp_capset.c: exact cap checking and the greedy cap construction
   (kp_capset.h). Points are base-3 integers; the third point of a line is
   computed digit by digit, and in the greedy by lookups in a table of the
   third points of 4-digit chunks (81 x 81 entries), since that inner loop
   runs k^2/2 times per construction. */
#include "kp_capset.h"

#include <stdlib.h>
#include <string.h>

uint32_t kp_capset_npoints(int n)
{
    uint32_t r = 1;
    for (int i = 0; i < n; i++)
        r *= 3;
    return r;
}

uint32_t kp_capset_encode(const uint8_t *c, int n)
{
    uint32_t p = 0;
    for (int i = n - 1; i >= 0; i--)
        p = 3 * p + c[i];
    return p;
}

void kp_capset_decode(uint8_t *c, uint32_t p, int n)
{
    for (int i = 0; i < n; i++) {
        c[i] = (uint8_t)(p % 3);
        p /= 3;
    }
}

uint32_t kp_capset_third(uint32_t x, uint32_t y, int n)
{
    uint32_t z = 0, w = 1;
    for (int i = 0; i < n; i++) {
        uint32_t s = (x % 3 + y % 3) % 3;
        z += ((3 - s) % 3) * w;
        w *= 3;
        x /= 3;
        y /= 3;
    }
    return z;
}

static void format_point(char *buf, size_t size, uint32_t p, int n)
{
    size_t k = 0;
    if (size < 2)
        return;
    buf[k++] = '[';
    for (int i = 0; i < n && k + 3 < size; i++) {
        buf[k++] = (char)('0' + p % 3);
        p /= 3;
        if (i + 1 < n)
            buf[k++] = ',';
    }
    buf[k++] = ']';
    buf[k < size ? k : size - 1] = '\0';
}

int kp_capset_check(uint32_t witness[3], const uint32_t *pts, size_t k, int n,
                    kp_error_t *err)
{
    if (n < 1 || n > KP_CAPSET_MAX_N)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "dimension %d out of range 1..%d", n,
                            KP_CAPSET_MAX_N);
    uint32_t np = kp_capset_npoints(n);
    uint64_t *map = calloc((np + 63) / 64, sizeof *map);
    if (map == NULL)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    char a[48], b[48], c[48];
    for (size_t i = 0; i < k; i++) {
        uint32_t p = pts[i];
        if (p >= np || (map[p / 64] >> (p % 64) & 1)) {
            if (witness)
                witness[0] = p;
            free(map);
            if (p >= np)
                return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                    "point %zu (%u) is not in F_3^%d", i,
                                    (unsigned)p, n);
            format_point(a, sizeof a, p, n);
            return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                "point %s is repeated (entry %zu)", a, i);
        }
        map[p / 64] |= (uint64_t)1 << (p % 64);
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = i + 1; j < k; j++) {
            uint32_t z = kp_capset_third(pts[i], pts[j], n);
            if (map[z / 64] >> (z % 64) & 1) {
                if (witness) {
                    witness[0] = pts[i];
                    witness[1] = pts[j];
                    witness[2] = z;
                }
                free(map);
                format_point(a, sizeof a, pts[i], n);
                format_point(b, sizeof b, pts[j], n);
                format_point(c, sizeof c, z, n);
                return kp_error_set(err, KP_ENOTFOUND, NULL, 0, 0,
                                    "not a cap: %s + %s + %s = 0 (mod 3)",
                                    a, b, c);
            }
        }
    free(map);
    return KP_OK;
}

/* Greedy workspace: the chunk table, each point's chunks, the blocked map
   and the cap so far. Chunks are 4 digits (81 values), so up to n = 8 a
   third point takes two table lookups. `ready` records the dimension the
   table was built for, so a reused (per-thread) workspace builds it once. */
typedef struct {
    int ready;
    int nchunk;
    uint16_t third81[81 * 81];
} greedy_head_t;

size_t kp_capset_greedy_ws_size(int n)
{
    size_t np = kp_capset_npoints(n);
    return sizeof(greedy_head_t) + np * sizeof(uint32_t) /* chunks */
           + np * sizeof(uint32_t)                       /* cap */
           + np;                                         /* blocked */
}

static void greedy_prepare(greedy_head_t *h, uint32_t *chunks, int n)
{
    for (uint32_t a = 0; a < 81; a++)
        for (uint32_t b = 0; b < 81; b++)
            h->third81[a * 81 + b] = (uint16_t)kp_capset_third(a, b, 4);
    h->nchunk = (n + 3) / 4;
    uint32_t np = kp_capset_npoints(n);
    for (uint32_t p = 0; p < np; p++) {
        uint32_t q = p, c = 0;
        for (int k = 0; k < h->nchunk; k++) {
            c |= (q % 81) << (8 * k);
            q /= 81;
        }
        chunks[p] = c;
    }
    h->ready = n;
}

size_t kp_capset_greedy(uint8_t *x, const uint32_t *order, int n, void *ws)
{
    greedy_head_t *h = ws;
    uint32_t np = kp_capset_npoints(n);
    uint32_t *chunks = (uint32_t *)(h + 1);
    uint32_t *cap = chunks + np;
    uint8_t *blocked = (uint8_t *)(cap + np);
    if (h->ready != n)
        greedy_prepare(h, chunks, n);
    memset(blocked, 0, np);
    memset(x, 0, np);
    const uint16_t *t = h->third81;
    size_t k = 0;
    int nc = h->nchunk;
    for (uint32_t i = 0; i < np; i++) {
        uint32_t p = order[i];
        if (blocked[p])
            continue;
        uint32_t cp = chunks[p];
        if (nc <= 2) {
            uint32_t p0 = (cp & 0xff) * 81, p1 = (cp >> 8 & 0xff) * 81;
            for (size_t j = 0; j < k; j++) {
                uint32_t cq = chunks[cap[j]];
                blocked[t[p0 + (cq & 0xff)] +
                        81u * t[p1 + (cq >> 8 & 0xff)]] = 1;
            }
        } else {
            for (size_t j = 0; j < k; j++) {
                uint32_t cq = chunks[cap[j]], z = 0, w = 1;
                for (int c = 0; c < nc; c++) {
                    z += w * t[(cp >> (8 * c) & 0xff) * 81 +
                               (cq >> (8 * c) & 0xff)];
                    w *= 81;
                }
                blocked[z] = 1;
            }
        }
        blocked[p] = 1;
        cap[k++] = p;
        x[p] = 1;
    }
    return k;
}

void kp_capset_thirds(uint32_t *z, uint32_t a, const uint32_t *b, size_t k,
                      int n, void *ws)
{
    greedy_head_t *h = ws;
    uint32_t *chunks = (uint32_t *)(h + 1);
    if (h->ready != n)
        greedy_prepare(h, chunks, n);
    const uint16_t *t = h->third81;
    uint32_t ca = chunks[a];
    int nc = h->nchunk;
    if (nc <= 2) {
        uint32_t a0 = (ca & 0xff) * 81, a1 = (ca >> 8 & 0xff) * 81;
        for (size_t j = 0; j < k; j++) {
            uint32_t cb = chunks[b[j]];
            z[j] = t[a0 + (cb & 0xff)] + 81u * t[a1 + (cb >> 8 & 0xff)];
        }
        return;
    }
    for (size_t j = 0; j < k; j++) {
        uint32_t cb = chunks[b[j]], v = 0, w = 1;
        for (int c = 0; c < nc; c++) {
            v += w * t[(ca >> (8 * c) & 0xff) * 81 + (cb >> (8 * c) & 0xff)];
            w *= 81;
        }
        z[j] = v;
    }
}

/* The point p with the coordinates of block b negated. */
static uint32_t negate_block(uint32_t p, const uint8_t *block, int b, int n)
{
    uint32_t q = 0, w = 1;
    for (int i = 0; i < n; i++, p /= 3, w *= 3) {
        uint32_t c = p % 3;
        q += w * (block[i] == b ? (3 - c) % 3 : c);
    }
    return q;
}

uint32_t kp_capset_sign_orbits(uint32_t *orbit, const uint8_t *block, int n)
{
    uint32_t np = kp_capset_npoints(n), norb = 0;
    uint32_t list[1u << KP_CAPSET_MAX_N];
    for (uint32_t p = 0; p < np; p++)
        orbit[p] = UINT32_MAX;
    for (uint32_t p = 0; p < np; p++) {
        if (orbit[p] != UINT32_MAX)
            continue;
        /* The orbit is p times every subset of the blocks p touches: one
           doubling per such block. */
        uint8_t touched[KP_CAPSET_MAX_N] = {0}, c[KP_CAPSET_MAX_N];
        kp_capset_decode(c, p, n);
        for (int i = 0; i < n; i++)
            if (block[i] != KP_CAPSET_FIXED)
                touched[block[i]] |= c[i] != 0;
        size_t m = 1;
        list[0] = p;
        for (int b = 0; b < n; b++) {
            if (!touched[b])
                continue;
            for (size_t j = 0, m0 = m; j < m0; j++)
                list[m++] = negate_block(list[j], block, b, n);
        }
        for (size_t j = 0; j < m; j++)
            orbit[list[j]] = norb;
        norb++;
    }
    return norb;
}

size_t kp_capset_quadric20(uint32_t *pts)
{
    size_t k = 0;
    for (uint32_t p = 1; p < 81; p++) {
        uint8_t v[4];
        kp_capset_decode(v, p, 4);
        if ((v[0] * v[0] + v[1] * v[1] + v[2] * v[3]) % 3 == 0)
            pts[k++] = p;
    }
    return k;
}

size_t kp_capset_product(uint32_t *out, const uint32_t *a, size_t ka, int na,
                         const uint32_t *b, size_t kb, int nb)
{
    (void)nb;
    uint32_t s = kp_capset_npoints(na);
    size_t k = 0;
    for (size_t i = 0; i < ka; i++)
        for (size_t j = 0; j < kb; j++)
            out[k++] = a[i] + s * b[j];
    return k;
}
