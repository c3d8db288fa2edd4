/* kp_capset.c: exact cap checking and the greedy cap construction
   (kp_capset.h). Points are base-3 integers; the third point of a line is
   computed digit by digit, and in the greedy by lookups in a table of the
   third points of 3-digit chunks (27 x 27 entries), since that inner loop
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
   and the cap so far. `ready` records the dimension the table was built
   for, so a reused (per-thread) workspace builds it once. */
typedef struct {
    int ready;
    int nchunk;
    uint16_t third27[27 * 27];
} greedy_head_t;

#define CHUNK_MAX 4 /* ceil(KP_CAPSET_MAX_N / 3) */

size_t kp_capset_greedy_ws_size(int n)
{
    size_t np = kp_capset_npoints(n);
    return sizeof(greedy_head_t) + np * sizeof(uint32_t) /* chunks */
           + np * sizeof(uint32_t)                       /* cap */
           + np;                                         /* blocked */
}

static void greedy_prepare(greedy_head_t *h, uint32_t *chunks, int n)
{
    for (uint32_t a = 0; a < 27; a++)
        for (uint32_t b = 0; b < 27; b++)
            h->third27[a * 27 + b] = (uint16_t)kp_capset_third(a, b, 3);
    h->nchunk = (n + 2) / 3;
    uint32_t np = kp_capset_npoints(n);
    for (uint32_t p = 0; p < np; p++) {
        uint32_t q = p, c = 0;
        for (int k = 0; k < h->nchunk; k++) {
            c |= (q % 27) << (8 * k);
            q /= 27;
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
    const uint16_t *t = h->third27;
    size_t k = 0;
    int nc = h->nchunk;
    for (uint32_t i = 0; i < np; i++) {
        uint32_t p = order[i];
        if (blocked[p])
            continue;
        uint32_t cp = chunks[p];
        if (nc <= 2) {
            uint32_t p0 = (cp & 0xff) * 27, p1 = (cp >> 8 & 0xff) * 27;
            for (size_t j = 0; j < k; j++) {
                uint32_t cq = chunks[cap[j]];
                blocked[t[p0 + (cq & 0xff)] +
                        27u * t[p1 + (cq >> 8 & 0xff)]] = 1;
            }
        } else {
            for (size_t j = 0; j < k; j++) {
                uint32_t cq = chunks[cap[j]], z = 0, w = 1;
                for (int c = 0; c < nc; c++) {
                    z += w * t[(cp >> (8 * c) & 0xff) * 27 +
                               (cq >> (8 * c) & 0xff)];
                    w *= 27;
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
