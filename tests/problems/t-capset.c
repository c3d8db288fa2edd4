/* t-capset.c: the cap-set checker, encoding, greedy construction and the
   capset problem plugin (certificates), each against a brute-force oracle
   or a known construction. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "kepler/problem.h"
#include "kp_capset.h"
#include "kp_problems.h"
#include "../kp_test.h"

/* Brute force: is there a line x + y + z = 0 among distinct members? */
static int brute_is_cap(const uint32_t *pts, size_t k, int n)
{
    for (size_t a = 0; a < k; a++)
        for (size_t b = a + 1; b < k; b++)
            for (size_t c = b + 1; c < k; c++) {
                uint32_t x = pts[a], y = pts[b], z = pts[c];
                int line = 1;
                for (int i = 0; i < n; i++, x /= 3, y /= 3, z /= 3)
                    line &= (x % 3 + y % 3 + z % 3) % 3 == 0;
                if (line)
                    return 0;
            }
    return 1;
}

static size_t members(uint32_t *pts, const uint8_t *x, uint32_t np)
{
    size_t k = 0;
    for (uint32_t p = 0; p < np; p++)
        if (x[p])
            pts[k++] = p;
    return k;
}

Test(capset, encode_roundtrip_and_third)
{
    for (int n = 1; n <= 6; n++) {
        uint32_t np = kp_capset_npoints(n);
        for (uint32_t p = 0; p < np; p++) {
            uint8_t c[KP_CAPSET_MAX_N];
            kp_capset_decode(c, p, n);
            for (int i = 0; i < n; i++)
                cr_assert(c[i] <= 2);
            cr_assert_eq(kp_capset_encode(c, n), p, "n=%d p=%u", n, p);
            cr_assert_eq(kp_capset_third(p, p, n), p);
        }
    }
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (long it = 0; it < 2000 * kp_test_multiplier(); it++) {
        int n = 1 + (int)kp_rng_below(&rng, KP_CAPSET_MAX_N);
        uint32_t np = kp_capset_npoints(n);
        uint32_t x = (uint32_t)kp_rng_below(&rng, np);
        uint32_t y = (uint32_t)kp_rng_below(&rng, np);
        uint32_t z = kp_capset_third(x, y, n);
        uint8_t a[KP_CAPSET_MAX_N], b[KP_CAPSET_MAX_N], c[KP_CAPSET_MAX_N];
        kp_capset_decode(a, x, n);
        kp_capset_decode(b, y, n);
        kp_capset_decode(c, z, n);
        for (int i = 0; i < n; i++)
            cr_assert_eq((a[i] + b[i] + c[i]) % 3, 0, "seed %llu it %ld",
                         (unsigned long long)kp_test_seed(), it);
        cr_assert_eq(kp_capset_third(x, z, n), y);
    }
}

Test(capset, quadric_and_product_are_caps)
{
    uint32_t q[20], prod[40], line2[2] = {1, 2}; /* {1, 2}: a cap in F_3^1 */
    cr_assert_eq(kp_capset_quadric20(q), 20);
    cr_assert(brute_is_cap(q, 20, 4));
    cr_assert_eq(kp_capset_check(NULL, q, 20, 4, NULL), KP_OK);
    size_t k = kp_capset_product(prod, q, 20, 4, line2, 2, 1);
    cr_assert_eq(k, 40);
    cr_assert_eq(kp_capset_check(NULL, prod, k, 5, NULL), KP_OK);
    cr_assert(brute_is_cap(prod, k, 5));
    /* {0,1,2} is a line, so its product is not a cap. */
    uint32_t full[3] = {0, 1, 2}, bad[60];
    k = kp_capset_product(bad, q, 20, 4, full, 3, 1);
    cr_assert_eq(kp_capset_check(NULL, bad, k, 5, NULL), KP_ENOTFOUND);
}

Test(capset, mutated_caps_are_rejected_with_a_line)
{
    uint32_t q[21];
    kp_capset_quadric20(q);
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (long it = 0; it < 200 * kp_test_multiplier(); it++) {
        uint32_t pts[21];
        memcpy(pts, q, sizeof(uint32_t) * 20);
        size_t i = kp_rng_below(&rng, 20), j = kp_rng_below(&rng, 19);
        j += j >= i;
        pts[20] = kp_capset_third(q[i], q[j], 4); /* on the line of i, j */
        uint32_t w[3];
        kp_error_t err;
        cr_assert_eq(kp_capset_check(w, pts, 21, 4, &err), KP_ENOTFOUND);
        cr_assert_eq(kp_capset_third(w[0], w[1], 4), w[2]);
        cr_assert(w[0] != w[1] && w[1] != w[2] && w[0] != w[2]);
        cr_assert(strstr(err.msg, "not a cap") != NULL);
    }
}

Test(capset, check_agrees_with_brute_force)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    int ncap = 0, nnot = 0;
    for (long it = 0; it < 400 * kp_test_multiplier(); it++) {
        int n = 2 + (int)kp_rng_below(&rng, 3);
        uint32_t np = kp_capset_npoints(n), pts[81];
        size_t k = 0;
        double dens = 0.05 + 0.3 * kp_rng_uniform(&rng);
        for (uint32_t p = 0; p < np; p++)
            if (kp_rng_uniform(&rng) < dens)
                pts[k++] = p;
        int want = brute_is_cap(pts, k, n);
        int got = kp_capset_check(NULL, pts, k, n, NULL);
        cr_assert_eq(got == KP_OK, want, "seed %llu it %ld n %d k %zu",
                     (unsigned long long)kp_test_seed(), it, n, k);
        if (!want)
            cr_assert_eq(got, KP_ENOTFOUND);
        ncap += want;
        nnot += !want;
    }
    cr_assert(ncap > 10 && nnot > 10); /* both outcomes exercised */
}

Test(capset, check_input_errors)
{
    uint32_t pts[3] = {1, 5, 1};
    uint32_t w[3];
    kp_error_t err;
    cr_assert_eq(kp_capset_check(w, pts, 3, 2, &err), KP_EINPUT);
    cr_assert_eq(w[0], 1);
    cr_assert(strstr(err.msg, "repeated") != NULL);
    pts[2] = 9; /* 3^2 */
    cr_assert_eq(kp_capset_check(w, pts, 3, 2, &err), KP_EINPUT);
    cr_assert_eq(kp_capset_check(w, pts, 2, 0, &err), KP_EINPUT);
    cr_assert_eq(kp_capset_check(w, pts, 2, KP_CAPSET_MAX_N + 1, &err),
                 KP_EINPUT);
    cr_assert_eq(kp_capset_check(w, pts, 0, 3, &err), KP_OK);
}

/* Oracle greedy: adds a point when no pair of members completes a line. */
static size_t naive_greedy(uint8_t *x, const uint32_t *order, int n)
{
    uint32_t np = kp_capset_npoints(n), cap[729];
    size_t k = 0;
    memset(x, 0, np);
    for (uint32_t i = 0; i < np; i++) {
        uint32_t p = order[i];
        int ok = 1;
        for (size_t a = 0; a < k && ok; a++)
            for (size_t b = a + 1; b < k && ok; b++)
                ok = kp_capset_third(cap[a], cap[b], n) != p;
        if (ok) {
            cap[k++] = p;
            x[p] = 1;
        }
    }
    return k;
}

Test(capset, greedy_matches_oracle_and_is_maximal)
{
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (int n = 1; n <= 6; n++) {
        uint32_t np = kp_capset_npoints(n);
        size_t wsz = kp_capset_greedy_ws_size(n);
        void *ws = calloc(1, wsz);
        uint32_t *order = malloc(sizeof(uint32_t) * np);
        uint32_t *pts = malloc(sizeof(uint32_t) * np);
        uint8_t *x = malloc(np), *y = malloc(np);
        for (long it = 0; it < (n <= 4 ? 20 : 3) * kp_test_multiplier(); it++) {
            for (uint32_t p = 0; p < np; p++)
                order[p] = p;
            for (uint32_t p = np; p > 1; p--) {
                uint32_t j = (uint32_t)kp_rng_below(&rng, p), t = order[p - 1];
                order[p - 1] = order[j];
                order[j] = t;
            }
            size_t k = kp_capset_greedy(x, order, n, ws);
            cr_assert_eq(members(pts, x, np), k);
            cr_assert_eq(kp_capset_check(NULL, pts, k, n, NULL), KP_OK);
            if (n <= 5) {
                cr_assert_eq(naive_greedy(y, order, n), k, "n %d it %ld", n, it);
                cr_assert_eq(memcmp(x, y, np), 0);
            }
            /* Maximal: adding any other point closes a line. */
            for (uint32_t p = 0; p < np && n <= 4; p++) {
                if (x[p])
                    continue;
                pts[k] = p;
                cr_assert_eq(kp_capset_check(NULL, pts, k + 1, n, NULL),
                             KP_ENOTFOUND);
            }
        }
        free(ws);
        free(order);
        free(pts);
        free(x);
        free(y);
    }
}

static uint8_t *read_cert(const char *text, int *n, int *rc,
                          kp_problem_msg_t *m)
{
    const kp_problem_t *p = kp_problem_capset();
    json_t *root = json_loads(text, 0, NULL);
    cr_assert_not_null(root, "fixture JSON parses");
    *n = (int)json_integer_value(json_object_get(root, "n"));
    uint8_t *x = calloc(p->length(*n), 1);
    *rc = p->cert_read(x, *n, root, m);
    json_decref(root);
    return x;
}

Test(capset, known_45_cap_from_fixture)
{
    const kp_problem_t *p = kp_problem_builtin("capset");
    cr_assert_eq(p, kp_problem_capset());
    cr_assert_eq(kp_problem_check(p, NULL, NULL), KP_OK);
    json_error_t je;
    json_t *root = json_load_file(KP_SRCDIR "/tests/problems/cap45.json", 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    int n = (int)json_integer_value(json_object_get(root, "n"));
    cr_assert_eq(n, 5);
    uint8_t *x = calloc(p->length(n), 1);
    void *ws = calloc(1, p->ws_size(n));
    kp_problem_msg_t m;
    cr_assert_eq(p->cert_read(x, n, root, &m), KP_PROBLEM_OK, "%s", m.msg);
    cr_assert_eq(p->verify(x, n, ws, &m), KP_PROBLEM_OK, "%s", m.msg);
    kp_score_t s;
    p->score(&s, x, n, ws);
    cr_assert_eq(s.num, 45);
    cr_assert_eq(s.den, 1);
    /* Independently of the problem code: brute force. */
    uint32_t pts[243];
    cr_assert(brute_is_cap(pts, members(pts, x, 243), 5));
    /* Add the third point of two members: refuted. */
    uint32_t k = (uint32_t)members(pts, x, 243);
    x[kp_capset_third(pts[0], pts[k - 1], 5)] = 1;
    cr_assert_eq(p->verify(x, n, ws, &m), KP_PROBLEM_REFUTED);
    cr_assert(strstr(m.msg, "not a cap") != NULL);
    json_decref(root);
    free(x);
    free(ws);
}

Test(capset, certificate_roundtrip_and_errors)
{
    const kp_problem_t *p = kp_problem_capset();
    uint32_t q[20];
    kp_capset_quadric20(q);
    uint8_t x[81] = {0};
    for (int i = 0; i < 20; i++)
        x[q[i]] = 1;
    json_t *root = json_object();
    json_object_set_new(root, "problem", json_string("capset"));
    json_object_set_new(root, "n", json_integer(4));
    cr_assert_eq(p->cert_write(root, x, 4), KP_PROBLEM_OK);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    int n, rc;
    kp_problem_msg_t m;
    uint8_t *y = read_cert(text, &n, &rc, &m);
    cr_assert_eq(rc, KP_PROBLEM_OK);
    cr_assert_eq(memcmp(x, y, 81), 0);
    free(y);
    free(text);

    static const struct {
        const char *text, *where, *msg;
    } bad[] = {
        {"{\"n\":2,\"points\":[[0,1],[1,2,0]]}", "points[1]", "coordinates"},
        {"{\"n\":2,\"points\":[[0,1],[1,3]]}", "points[1][1]", "not 0, 1"},
        {"{\"n\":2,\"points\":[[0,1],[1,-1]]}", "points[1][1]", "not 0, 1"},
        {"{\"n\":2,\"points\":[[0,1],[1,1.0]]}", "points[1][1]", "not 0, 1"},
        {"{\"n\":2,\"points\":[[0,1],[0,1]]}", "points[1]", "repeats"},
        {"{\"n\":2,\"points\":[[0,1],7]}", "points[1]", "not an array"},
        {"{\"n\":2,\"size\":3,\"points\":[[0,1],[1,1]]}", "size", "size"},
        {"{\"n\":2,\"size\":\"2\",\"points\":[[0,1],[1,1]]}", "size", "size"},
        {"{\"n\":2,\"points\":{}}", "points", "array"},
        {"{\"n\":2}", "", "array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        y = read_cert(bad[i].text, &n, &rc, &m);
        cr_assert_eq(rc, KP_PROBLEM_BAD, "case %zu", i);
        cr_assert_str_eq(m.where, bad[i].where, "case %zu", i);
        cr_assert(strstr(m.msg, bad[i].msg) != NULL, "case %zu: %s", i, m.msg);
        free(y);
    }
}

Test(problem, edge_index_is_a_bijection)
{
    for (int n = 2; n <= 12; n++) {
        size_t m = (size_t)n * (n - 1) / 2, seen[66] = {0}, next = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) {
                size_t e = kp_edge_index(i, j, n);
                cr_assert_eq(e, next++, "lexicographic order");
                cr_assert_eq(kp_edge_index(j, i, n), e);
                cr_assert(e < m);
                seen[e]++;
            }
        cr_assert_eq(next, m);
    }
}

Test(problem, registry_and_checks)
{
    cr_assert_null(kp_problem_builtin("no-such-problem"));
    cr_assert_not_null(kp_problem_builtin_at(0));
    cr_assert_null(kp_problem_builtin_at(-1));
    kp_problem_t p = *kp_problem_capset();
    kp_error_t err;
    p.abi = KP_PROBLEM_ABI + 1;
    cr_assert_eq(kp_problem_check(&p, "x.so", &err), KP_EINPUT);
    cr_assert_str_eq(err.file, "x.so");
    p = *kp_problem_capset();
    p.verify = NULL;
    cr_assert_eq(kp_problem_check(&p, NULL, &err), KP_EINPUT);
    p = *kp_problem_capset();
    p.features = NULL;
    cr_assert_eq(kp_problem_check(&p, NULL, &err), KP_EINPUT);
    p = *kp_problem_capset();
    p.n_min = 3;
    p.n_max = 2;
    cr_assert_eq(kp_problem_check(&p, NULL, &err), KP_EINPUT);
    kp_plugin_t pl;
    cr_assert_eq(kp_problem_plugin_open(&pl, "/nonexistent/x.so", &err),
                 KP_EINPUT);
    cr_assert_null(pl.problem);
    cr_assert_str_eq(err.file, "/nonexistent/x.so");
}
