/* kp_ckpt.c: checkpoint serialisation, header, atomic files (kp_ckpt.h).
   Shared by every search driver so that one format, one set of checks and
   one durable-write path serve `kepler fit` and `kepler search`. */
#include "kp_ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "kp_mpi.h"

void kp_ck_put_bytes(kp_ck_wbuf_t *b, const void *v, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (q == NULL) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
}

void kp_ck_put_u64(kp_ck_wbuf_t *b, uint64_t v)
{
    unsigned char c[8];
    for (int k = 0; k < 8; k++)
        c[k] = (unsigned char)(v >> (8 * k));
    kp_ck_put_bytes(b, c, 8);
}

void kp_ck_put_u32(kp_ck_wbuf_t *b, uint32_t v)
{
    unsigned char c[4];
    for (int k = 0; k < 4; k++)
        c[k] = (unsigned char)(v >> (8 * k));
    kp_ck_put_bytes(b, c, 4);
}

void kp_ck_put_i32(kp_ck_wbuf_t *b, int v)
{
    kp_ck_put_u32(b, (uint32_t)v);
}

void kp_ck_put_i64(kp_ck_wbuf_t *b, int64_t v)
{
    kp_ck_put_u64(b, (uint64_t)v);
}

void kp_ck_put_f64(kp_ck_wbuf_t *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    kp_ck_put_u64(b, u);
}

void kp_ck_put_rng(kp_ck_wbuf_t *b, const kp_rng_t *rng)
{
    for (int k = 0; k < 4; k++)
        kp_ck_put_u64(b, rng->s[k]);
}

void kp_ck_put_expr(kp_ck_wbuf_t *b, const kp_expr_t *e)
{
    kp_ck_put_i32(b, e->len);
    kp_ck_put_i32(b, e->nconst);
    for (int i = 0; i < e->len; i++)
        kp_ck_put_u32(b, e->tok[i]);
    for (int k = 0; k < e->nconst; k++) {
        kp_ck_put_f64(b, e->c[k].value);
        kp_ck_put_i64(b, e->c[k].num);
        kp_ck_put_i64(b, e->c[k].den);
    }
}

void kp_ck_put_indiv(kp_ck_wbuf_t *b, const kp_indiv_t *ind)
{
    kp_ck_put_expr(b, &ind->e);
    kp_ck_put_f64(b, ind->loss);
    kp_ck_put_i32(b, ind->complexity);
    kp_ck_put_u64(b, ind->hash);
}

void kp_ck_put_bits(kp_ck_wbuf_t *b, const uint8_t *x, size_t len)
{
    unsigned char c = 0;
    for (size_t i = 0; i < len; i++) {
        c |= (unsigned char)((x[i] != 0) << (i % 8));
        if (i % 8 == 7 || i + 1 == len) {
            kp_ck_put_bytes(b, &c, 1);
            c = 0;
        }
    }
}

const unsigned char *kp_ck_take(kp_ck_rbuf_t *r, size_t n)
{
    if (r->bad || n > r->n - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *q = r->p + r->pos;
    r->pos += n;
    return q;
}

uint64_t kp_ck_get_u64(kp_ck_rbuf_t *r)
{
    const unsigned char *c = kp_ck_take(r, 8);
    uint64_t v = 0;
    for (int k = 0; c && k < 8; k++)
        v |= (uint64_t)c[k] << (8 * k);
    return v;
}

uint32_t kp_ck_get_u32(kp_ck_rbuf_t *r)
{
    const unsigned char *c = kp_ck_take(r, 4);
    uint32_t v = 0;
    for (int k = 0; c && k < 4; k++)
        v |= (uint32_t)c[k] << (8 * k);
    return v;
}

int kp_ck_get_i32(kp_ck_rbuf_t *r)
{
    return (int)(int32_t)kp_ck_get_u32(r);
}

int64_t kp_ck_get_i64(kp_ck_rbuf_t *r)
{
    return (int64_t)kp_ck_get_u64(r);
}

double kp_ck_get_f64(kp_ck_rbuf_t *r)
{
    uint64_t u = kp_ck_get_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

int kp_ck_get_range(kp_ck_rbuf_t *r, int lo, int hi)
{
    int v = kp_ck_get_i32(r);
    if (v < lo || v > hi) {
        r->bad = 1;
        return lo;
    }
    return v;
}

void kp_ck_get_rng(kp_ck_rbuf_t *r, kp_rng_t *rng)
{
    for (int k = 0; k < 4; k++)
        rng->s[k] = kp_ck_get_u64(r);
}

void kp_ck_get_expr(kp_ck_rbuf_t *r, kp_expr_t *e)
{
    memset(e, 0, sizeof *e);
    e->len = kp_ck_get_range(r, 1, KP_EXPR_MAX_LEN);
    e->nconst = kp_ck_get_range(r, 0, KP_EXPR_MAX_CONSTS);
    int need = 1;
    for (int i = 0; i < e->len && !r->bad; i++) {
        uint32_t t = kp_ck_get_u32(r);
        if (t > 0xffffu || (t >= KP_OP_COUNT && t < KP_TOK_CONST) ||
            need <= 0) {
            r->bad = 1;
            break;
        }
        e->tok[i] = (kp_tok_t)t;
        need += kp_tok_arity(e->tok[i]) - 1;
    }
    for (int k = 0; k < e->nconst && !r->bad; k++) {
        e->c[k].value = kp_ck_get_f64(r);
        e->c[k].num = kp_ck_get_i64(r);
        e->c[k].den = kp_ck_get_i64(r);
    }
    if (r->bad || need != 0) {
        r->bad = 1;
        kp_expr_init(e);
        e->len = 1;
        e->tok[0] = KP_TOK_CONST; /* a harmless placeholder */
        e->nconst = 1;
        e->size[0] = 1;
        return;
    }
    kp_expr_update_sizes(e);
    if (kp_expr_check(e, NULL) != KP_OK)
        r->bad = 1;
}

void kp_ck_get_indiv(kp_ck_rbuf_t *r, kp_indiv_t *ind)
{
    kp_ck_get_expr(r, &ind->e);
    ind->loss = kp_ck_get_f64(r);
    ind->complexity = kp_ck_get_i32(r);
    ind->hash = kp_ck_get_u64(r);
}

void kp_ck_get_bits(kp_ck_rbuf_t *r, uint8_t *x, size_t len)
{
    const unsigned char *c = kp_ck_take(r, (len + 7) / 8);
    if (c == NULL) {
        memset(x, 0, len);
        return;
    }
    for (size_t i = 0; i < len; i++)
        x[i] = (uint8_t)(c[i / 8] >> (i % 8) & 1);
    if (len % 8 != 0 && (c[len / 8] >> (len % 8)) != 0)
        r->bad = 1;
}

void kp_ck_begin(kp_ck_wbuf_t *b, const char *magic, uint32_t version)
{
    kp_ck_put_bytes(b, magic, 8);
    kp_ck_put_u32(b, version);
    kp_ck_put_u32(b, 0);
    kp_ck_put_u64(b, 0); /* length and checksum: kp_ck_end */
    kp_ck_put_u64(b, 0);
}

int kp_ck_end(kp_ck_wbuf_t *b)
{
    if (b->oom || b->n < KP_CK_HEADER)
        return KP_ENOMEM;
    uint64_t len = b->n - KP_CK_HEADER;
    uint64_t sum = XXH3_64bits(b->p + KP_CK_HEADER, len);
    for (int k = 0; k < 8; k++) {
        b->p[16 + k] = (unsigned char)(len >> (8 * k));
        b->p[24 + k] = (unsigned char)(sum >> (8 * k));
    }
    return KP_OK;
}

/* What wrote a checkpoint, for the message when the magic is another
   driver's. */
static const char *magic_owner(const unsigned char *m)
{
    if (!memcmp(m, KP_CK_MAGIC_SR, 8))
        return "kepler fit";
    if (!memcmp(m, KP_CK_MAGIC_CS, 8))
        return "kepler search (method program or local)";
    if (!memcmp(m, KP_CK_MAGIC_CEM, 8))
        return "kepler search (method cem)";
    return NULL;
}

int kp_ck_open(kp_ck_rbuf_t *r, const unsigned char *buf, size_t n,
               const char *magic, uint32_t version, const char *file,
               kp_error_t *err)
{
    if (n < KP_CK_HEADER || memcmp(buf, "KEPLER", 6) != 0 ||
        magic_owner(buf) == NULL)
        return kp_error_set(err, KP_EINPUT, file, 0, 0,
                            "not a Kepler search checkpoint");
    if (memcmp(buf, magic, 8) != 0)
        return kp_error_set(err, KP_EINPUT, file, 0, 0,
                            "a checkpoint of %s, not of %s", magic_owner(buf),
                            magic_owner((const unsigned char *)magic));
    kp_ck_rbuf_t h = {buf, n, 8, 0};
    uint32_t v = kp_ck_get_u32(&h);
    kp_ck_get_u32(&h);
    uint64_t len = kp_ck_get_u64(&h), sum = kp_ck_get_u64(&h);
    if (v != version)
        return kp_error_set(err, KP_EINPUT, file, 0, 0,
                            "checkpoint format version %u, this kepler reads "
                            "version %u",
                            v, version);
    if (len != n - KP_CK_HEADER)
        return kp_error_set(err, KP_EINPUT, file, 0, 0,
                            "truncated or padded checkpoint (%zu bytes, "
                            "header says %llu)",
                            n, (unsigned long long)(len + KP_CK_HEADER));
    if (XXH3_64bits(buf + KP_CK_HEADER, len) != sum)
        return kp_error_set(err, KP_EINPUT, file, 0, 0,
                            "corrupt checkpoint (checksum mismatch)");
    *r = (kp_ck_rbuf_t){buf + KP_CK_HEADER, (size_t)len, 0, 0};
    return KP_OK;
}

/* path + suffix in a new string. */
static char *with_suffix(const char *path, const char *suffix)
{
    size_t a = strlen(path), b = strlen(suffix);
    char *s = malloc(a + b + 1);
    if (s != NULL) {
        memcpy(s, path, a);
        memcpy(s + a, suffix, b + 1);
    }
    return s;
}

/* Makes a rename in path's directory durable. */
static void sync_dir(const char *path)
{
    char *dir = strdup(path);
    if (dir == NULL)
        return;
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash == dir)
        d = "/";
    else if (slash != NULL) {
        *slash = '\0';
        d = dir;
    }
    int dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
}

int kp_ck_write(const char *path, const unsigned char *buf, size_t n,
                int keep_prev, kp_error_t *err)
{
    /* The temporary name is fixed, so a writer killed mid-write leaves at
       most one stale file, which the next write replaces. */
    char *tmp = with_suffix(path, ".tmp");
    char *prev = keep_prev ? with_suffix(path, ".prev") : NULL;
    if (tmp == NULL || (keep_prev && prev == NULL)) {
        free(tmp);
        free(prev);
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    }
    int e = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        e = errno;
    for (size_t done = 0; fd >= 0 && e == 0 && done < n;) {
        ssize_t w = write(fd, buf + done, n - done);
        if (w < 0 && errno != EINTR)
            e = errno;
        else if (w > 0)
            done += (size_t)w;
    }
    if (fd >= 0) {
        if (e == 0 && fsync(fd) != 0)
            e = errno;
        if (close(fd) != 0 && e == 0)
            e = errno;
    }
    /* The previous file becomes path.prev by a hard link, so path itself
       exists at every moment; where links are not supported, by a rename
       (a kill right then leaves path.prev alone, which loaders accept). */
    if (e == 0 && keep_prev) {
        if (unlink(prev) != 0 && errno != ENOENT)
            e = errno;
        else if (link(path, prev) != 0 && errno != ENOENT &&
                 rename(path, prev) != 0 && errno != ENOENT)
            e = errno;
    }
    if (e == 0 && rename(tmp, path) != 0)
        e = errno;
    if (e != 0 && fd >= 0)
        unlink(tmp);
    free(tmp);
    free(prev);
    if (e != 0)
        return kp_error_set(err, KP_EINPUT, path, 0, 0,
                            "cannot write checkpoint: %s", strerror(e));
    sync_dir(path);
    return KP_OK;
}

unsigned char *kp_ck_read(const char *path, size_t *n, int *errnum)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *errnum = errno;
        return NULL;
    }
    unsigned char *buf = NULL;
    size_t cap = 0, len = 0;
    int e = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? 2 * cap : (size_t)1 << 16;
            unsigned char *q = realloc(buf, ncap);
            if (q == NULL) {
                e = ENOMEM;
                break;
            }
            buf = q;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (e == 0 && ferror(f))
        e = EIO;
    fclose(f);
    *errnum = e;
    if (e != 0) {
        free(buf);
        return NULL;
    }
    *n = len;
    return buf;
}

char *kp_ck_rank_path(const char *path, int rank, int nranks,
                      const char *suffix)
{
    size_t n = strlen(path) + (suffix ? strlen(suffix) : 0) + 32;
    char *s = malloc(n);
    if (s == NULL)
        return NULL;
    if (nranks > 1)
        snprintf(s, n, "%s.rank%d%s", path, rank, suffix ? suffix : "");
    else
        snprintf(s, n, "%s%s", path, suffix ? suffix : "");
    return s;
}

uint64_t kp_ck_grammar_fingerprint(const kp_grammar_t *g)
{
    kp_ck_wbuf_t b = {0};
    kp_ck_put_i32(&b, g->max_len);
    kp_ck_put_i32(&b, g->max_depth);
    kp_ck_put_i32(&b, g->start);
    kp_ck_put_i32(&b, g->ntypes);
    for (int c = 0; c <= KP_GCLASS_COUNT; c++) {
        kp_ck_put_u32(&b, g->forbid_child[c]);
        kp_ck_put_u32(&b, g->forbid_desc[c]);
    }
    kp_ck_put_i32(&b, g->nsym);
    for (int i = 0; i < g->nsym; i++) {
        const kp_gsym_t *s = &g->sym[i];
        kp_ck_put_bytes(&b, s->name, strnlen(s->name, KP_GRAMMAR_NAME_MAX));
        kp_ck_put_i32(&b, s->kind);
        kp_ck_put_i32(&b, s->cls);
        kp_ck_put_u32(&b, s->tok);
        kp_ck_put_i32(&b, s->arity);
        kp_ck_put_i32(&b, s->arg_type[0]);
        kp_ck_put_i32(&b, s->arg_type[1]);
        kp_ck_put_i32(&b, s->type);
        kp_ck_put_i32(&b, s->cost);
        kp_ck_put_i64(&b, s->num);
        kp_ck_put_i64(&b, s->den);
    }
    uint64_t h = b.oom ? 0 : XXH3_64bits(b.p, b.n);
    free(b.p);
    return h;
}

int kp_ck_load_ranks(const char *path, int rank, int nranks, kp_ck_load_fn load,
                     void *ctx, kp_error_t *err)
{
    char *file = kp_ck_rank_path(path, rank, nranks, NULL);
    char *prev = kp_ck_rank_path(path, rank, nranks, ".prev");
    int rc = file && prev
                 ? KP_OK
                 : kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    int round = -1;
    if (rc == KP_OK)
        rc = load(file, ctx, &round, err);
    if (nranks > 1) {
        if (rc != KP_OK && prev != NULL) {
            kp_error_t e2;
            if (load(prev, ctx, &round, &e2) == KP_OK)
                rc = KP_OK;
        }
        rc = kp_mpi_agree(rc, err);
        int span[2] = {round, -round}; /* max and -min of the rounds */
        if (rc == KP_OK)
            kp_mpi_max_int(span, 2);
        if (rc == KP_OK && span[0] != -span[1]) {
            int lo = -span[1];
            if (round != lo) {
                int r2 = -1;
                rc = load(prev, ctx, &r2, err);
                if (rc == KP_OK && r2 != lo)
                    rc = kp_error_set(err, KP_EINPUT, file, 0, 0,
                                      "rank checkpoints are from rounds %d "
                                      "and %d and no earlier one matches",
                                      lo, span[0]);
            }
            rc = kp_mpi_agree(rc, err);
        }
    }
    free(file);
    free(prev);
    return rc;
}
