/* t-ckpt.c: the shared checkpoint format (kp_ckpt.h) and the single-rank
   behaviour of the MPI layer (kp_mpi.h): values round-trip bit for bit,
   damaged headers are refused with the right reason, writes are atomic
   and keep the previous file on request, topologies are single cycles
   that depend on (seed, round) alone, and migration delivers every
   island's block to its successor. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kp_test.h"
#include "kp_ckpt.h"
#include "kp_mpi.h"

static char dir[64];

static void mkdir_setup(void)
{
    strcpy(dir, "/tmp/kp-ckpt-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(ckpt, values_round_trip_bit_for_bit)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (long it = 0; it < 200 * kp_test_multiplier(); it++) {
        kp_ck_wbuf_t b = {0};
        uint64_t u = kp_rng_next(&rng);
        double d;
        memcpy(&d, &u, 8); /* any bit pattern, NaNs included */
        int i = (int)(kp_rng_next(&rng) % 2001) - 1000;
        size_t len = 1 + kp_rng_below(&rng, 70);
        uint8_t x[70], y[70];
        for (size_t k = 0; k < len; k++)
            x[k] = kp_rng_uniform(&rng) < 0.5;
        kp_rng_t s = rng, t;
        kp_ck_put_u64(&b, u);
        kp_ck_put_f64(&b, d);
        kp_ck_put_i32(&b, i);
        kp_ck_put_i64(&b, -(int64_t)u / 3);
        kp_ck_put_bits(&b, x, len);
        kp_ck_put_rng(&b, &s);
        cr_assert(!b.oom);
        cr_assert_eq(b.n, 8 + 8 + 4 + 8 + (len + 7) / 8 + 32);
        kp_ck_rbuf_t r = {b.p, b.n, 0, 0};
        cr_assert_eq(kp_ck_get_u64(&r), u);
        double e = kp_ck_get_f64(&r);
        cr_assert_eq(memcmp(&d, &e, 8), 0);
        cr_assert_eq(kp_ck_get_range(&r, -1000, 1000), i);
        cr_assert_eq(kp_ck_get_i64(&r), -(int64_t)u / 3);
        kp_ck_get_bits(&r, y, len);
        cr_assert_eq(memcmp(x, y, len), 0, "iteration %ld, len %zu", it, len);
        kp_ck_get_rng(&r, &t);
        cr_assert_eq(memcmp(&s, &t, sizeof s), 0);
        cr_assert(!r.bad);
        cr_assert_eq(r.pos, r.n);
        kp_ck_get_u32(&r); /* past the end: bad, zero */
        cr_assert(r.bad);
        free(b.p);
    }
}

Test(ckpt, bad_values_mark_the_buffer_bad)
{
    kp_ck_wbuf_t b = {0};
    kp_ck_put_i32(&b, 7);
    uint8_t x[3] = {1, 0, 1};
    kp_ck_put_bits(&b, x, 3);
    b.p[b.n - 1] |= 0x80; /* a padding bit */
    kp_ck_rbuf_t r = {b.p, b.n, 0, 0};
    cr_assert_eq(kp_ck_get_range(&r, 0, 5), 0); /* out of range */
    cr_assert(r.bad);
    kp_ck_rbuf_t r2 = {b.p + 4, 1, 0, 0};
    kp_ck_get_bits(&r2, x, 3);
    cr_assert(r2.bad);
    /* An expression whose arities do not add up is refused. */
    kp_ck_wbuf_t c = {0};
    kp_ck_put_i32(&c, 2);
    kp_ck_put_i32(&c, 0);
    kp_ck_put_u32(&c, KP_TOK_CONST);
    kp_ck_put_u32(&c, KP_TOK_CONST);
    kp_ck_rbuf_t r3 = {c.p, c.n, 0, 0};
    kp_expr_t e;
    kp_ck_get_expr(&r3, &e);
    cr_assert(r3.bad);
    cr_assert_eq(kp_expr_check(&e, NULL), KP_OK); /* a harmless placeholder */
    free(b.p);
    free(c.p);
}

/* A checkpoint of magic with payload "hello". */
static kp_ck_wbuf_t sample(const char *magic)
{
    kp_ck_wbuf_t b = {0};
    kp_ck_begin(&b, magic, 3);
    kp_ck_put_bytes(&b, "hello", 5);
    cr_assert_eq(kp_ck_end(&b), KP_OK);
    return b;
}

Test(ckpt, headers_are_checked)
{
    kp_ck_wbuf_t b = sample(KP_CK_MAGIC_CS);
    kp_ck_rbuf_t r;
    kp_error_t err;
    cr_assert_eq(kp_ck_open(&r, b.p, b.n, KP_CK_MAGIC_CS, 3, "f", &err), KP_OK);
    cr_assert_eq(r.n, 5);
    cr_assert_eq(memcmp(r.p, "hello", 5), 0);
    struct {
        const char *magic;
        uint32_t version;
        size_t n;
        int flip;
        const char *why;
    } cases[] = {
        {KP_CK_MAGIC_SR, 3, 0, -1, "a checkpoint of kepler search"},
        {KP_CK_MAGIC_CS, 4, 0, -1, "format version 3"},
        {KP_CK_MAGIC_CS, 3, 1, -1, "truncated"},
        {KP_CK_MAGIC_CS, 3, 0, 34, "checksum"},
        {KP_CK_MAGIC_CS, 3, 0, 0, "not a Kepler search checkpoint"},
        {KP_CK_MAGIC_CS, 3, 30, -1, "not a Kepler search checkpoint"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        unsigned char buf[64];
        memcpy(buf, b.p, b.n);
        if (cases[k].flip >= 0)
            buf[cases[k].flip] ^= 1;
        size_t n = cases[k].n == 0   ? b.n
                   : cases[k].n == 1 ? b.n - 1
                                     : cases[k].n;
        cr_assert_eq(kp_ck_open(&r, buf, n, cases[k].magic, cases[k].version,
                                "f.ckpt", &err),
                     KP_EINPUT, "case %zu", k);
        cr_assert(strstr(err.msg, cases[k].why) != NULL, "case %zu: %s", k,
                  err.msg);
        cr_assert_str_eq(err.file, "f.ckpt");
    }
    free(b.p);
}

Test(ckpt, writes_replace_atomically_and_keep_the_previous_file,
     .init = mkdir_setup, .fini = rm_teardown)
{
    char path[128], prev[160], tmp[160];
    snprintf(path, sizeof path, "%s/run.ckpt", dir);
    snprintf(prev, sizeof prev, "%s.prev", path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    kp_error_t err;
    cr_assert_eq(kp_ck_write(path, (const unsigned char *)"one", 3, 1, &err),
                 KP_OK, "%s", err.msg);
    cr_assert_neq(access(prev, F_OK), 0); /* nothing before the first */
    cr_assert_eq(kp_ck_write(path, (const unsigned char *)"second", 6, 1, &err),
                 KP_OK);
    size_t n;
    int e;
    unsigned char *a = kp_ck_read(path, &n, &e);
    cr_assert(a != NULL && n == 6 && !memcmp(a, "second", 6));
    free(a);
    a = kp_ck_read(prev, &n, &e);
    cr_assert(a != NULL && n == 3 && !memcmp(a, "one", 3));
    free(a);
    cr_assert_neq(access(tmp, F_OK), 0);
    /* A stale temporary file from a killed writer is replaced. */
    FILE *f = fopen(tmp, "w");
    fputs("torn", f);
    fclose(f);
    cr_assert_eq(kp_ck_write(path, (const unsigned char *)"3", 1, 0, &err),
                 KP_OK);
    cr_assert_neq(access(tmp, F_OK), 0);
    char bad[160];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x", dir);
    cr_assert_eq(kp_ck_write(bad, (const unsigned char *)"x", 1, 0, &err),
                 KP_EINPUT);
    cr_assert(strstr(err.msg, "cannot write checkpoint") != NULL);
    cr_assert_null(kp_ck_read(bad, &n, &e));
    cr_assert_neq(e, 0);
}

Test(ckpt, rank_paths)
{
    char *a = kp_ck_rank_path("x/run", 0, 1, NULL);
    char *b = kp_ck_rank_path("x/run", 3, 4, ".prev");
    cr_assert_str_eq(a, "x/run");
    cr_assert_str_eq(b, "x/run.rank3.prev");
    free(a);
    free(b);
}

/* 1 when succ is one cycle through all G islands. */
static int one_cycle(const int *succ, int G)
{
    int g = 0, steps = 0;
    do {
        if (succ[g] < 0 || succ[g] >= G)
            return 0;
        g = succ[g];
        steps++;
    } while (g != 0 && steps <= G);
    return g == 0 && steps == G;
}

Test(mpi, topologies_are_single_cycles_keyed_by_seed_and_round)
{
    int succ[64], again[64], other[64];
    for (int G = 1; G <= 64; G++) {
        kp_topology_successors(succ, G, KP_TOPO_RING, 1, 0);
        for (int g = 0; g < G; g++)
            cr_assert_eq(succ[g], (g + 1) % G);
        int differ = 0;
        for (uint64_t round = 0; round < 20; round++) {
            kp_topology_successors(succ, G, KP_TOPO_RANDOM, 9, round);
            cr_assert(one_cycle(succ, G), "G %d round %llu", G,
                      (unsigned long long)round);
            kp_topology_successors(again, G, KP_TOPO_RANDOM, 9, round);
            cr_assert_eq(memcmp(succ, again, sizeof(int) * (size_t)G), 0);
            kp_topology_successors(other, G, KP_TOPO_RANDOM, 9, round + 1);
            differ += memcmp(succ, other, sizeof(int) * (size_t)G) != 0;
        }
        if (G >= 4) /* (G-1)! cycles: consecutive rounds rarely agree */
            cr_assert_geq(differ, 15, "G %d", G);
    }
    cr_assert_eq(kp_topology_parse("ring"), KP_TOPO_RING);
    cr_assert_eq(kp_topology_parse("random"), KP_TOPO_RANDOM);
    cr_assert_eq(kp_topology_parse("star"), -1);
    cr_assert_str_eq(kp_topology_name(KP_TOPO_RANDOM), "random");
}

Test(mpi, one_rank_is_the_identity)
{
    cr_assert_eq(kp_mpi_rank(), 0);
    cr_assert_eq(kp_mpi_size(), 1);
    long l[2] = {3, -4};
    kp_mpi_sum_long(l, 2);
    cr_assert(l[0] == 3 && l[1] == -4);
    double d = 2.5;
    kp_mpi_max_double(&d, 1);
    cr_assert_eq(d, 2.5);
    int who = 7;
    cr_assert_eq(kp_mpi_maxloc(1.5, &who), 1.5);
    cr_assert_eq(who, 0);
    cr_assert_eq(kp_mpi_any(0), 0);
    cr_assert_eq(kp_mpi_any(5), 1);
    kp_error_t err;
    kp_error_set(&err, KP_EINPUT, "f", 0, 0, "why");
    cr_assert_eq(kp_mpi_agree(KP_EINPUT, &err), KP_EINPUT);
    cr_assert_str_eq(err.msg, "why");
    unsigned char *all;
    size_t total, counts[1];
    cr_assert_eq(kp_mpi_allgather("abc", 3, &all, &total, counts), 0);
    cr_assert(total == 3 && counts[0] == 3 && !memcmp(all, "abc", 3));
    free(all);
}

Test(mpi, migration_delivers_each_block_to_the_successor)
{
    enum { NL = 7, B = 5 };
    unsigned char out[NL * B], in[NL * B];
    for (int topo = KP_TOPO_RING; topo <= KP_TOPO_RANDOM; topo++)
        for (uint64_t round = 0; round < 5; round++) {
            for (int i = 0; i < NL * B; i++)
                out[i] = (unsigned char)(i / B * 16 + i % B);
            memset(in, 0xff, sizeof in);
            long bytes = 0;
            cr_assert_eq(kp_mpi_migrate(in, out, B, NL, topo, 3, round, &bytes),
                         0);
            cr_assert_eq(bytes, 0); /* nothing left this process */
            int succ[NL];
            kp_topology_successors(succ, NL, topo, 3, round);
            for (int i = 0; i < NL; i++)
                cr_assert_eq(memcmp(in + succ[i] * B, out + i * B, B), 0);
        }
}
