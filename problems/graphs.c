/* graphs.c: built-in graph problems of `kepler search` (kepler/problem.h,
   docs/search.md), objects are graphs on n vertices as edge bit strings
   (KP_OBJ_GRAPH); exact checks come from verify/kp_graph.

   - wagner21: Conjecture 2.1 of Wagner (2021), "every connected graph on
     n >= 3 vertices has lambda_1 + mu >= sqrt(n-1) + 1" (lambda_1 the
     largest adjacency eigenvalue, mu the matching number). Score
     sqrt(n-1) + 1 - lambda_1 - mu, so a positive score of a connected
     graph is a counterexample; a disconnected graph loses 1/2 per extra
     component (a guide for the search only: a star plus isolated vertices
     has lambda_1 + mu below the bound, so verify demands connectivity).
     Verify holds iff the graph is connected and lambda_1 + mu <
     sqrt(n-1) + 1, proved with Arb on the exact characteristic
     polynomial.
   - ramsey34 / ramsey44: a red/blue colouring of K_n (edges = red) with no
     red K_s and no blue K_t, i.e. a K_s-free graph whose independence
     number is below t, proving the Ramsey lower bound R(s,t) > n. Score
     -(#K_s + #independent t-sets), 0 for a witness; verify counts
     exactly. R(3,4) = 9 (witness on 8 vertices, e.g. the Wagner graph
     C_8(1,4)), R(4,4) = 18 (the Paley graph on 17 vertices).

   Certificates: {"problem", "n", "edges": [[i,j],...] (i < j), "value",
   "bound"}. wagner21: "value" is lambda_1 + mu as a decimal (cert_read
   accepts it rounded to nearest or down to the digits shown, or an Arb
   ball "[m +/- r]" containing it), "bound" is "sqrt(n-1) + 1". ramsey:
   "value" is the number of red K_s plus blue K_t, "bound" is "0". Plus,
   for wagner21, the exact witnesses a Lean export can
   re-check with integer arithmetic: "mu", "matching" (mu disjoint edges:
   mu >= that), "tutte_berge_set" S with (n + |S| - odd(G-S))/2 = mu
   (mu <= that), and a Collatz–Wielandt upper bound "cw_vector" x (positive
   integers) and "cw_bound" b = p/q with (Ax)_i <= b x_i for all i
   (lambda_1 <= b); when b + mu < sqrt(n-1) + 1 it alone proves the
   counterexample ("cw_proves": true). For ramsey: "cliques" and
   "independent_sets" (both 0 for a witness). cert_read re-checks every
   field that is present against the graph. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arb.h>
#include <flint/fmpq.h>

#include "kepler/problem.h"
#include "kp_graph.h"
#include "kp_problems.h"

/* ---- shared helpers ------------------------------------------------- */

static size_t graph_length(int n)
{
    return (size_t)n * (size_t)(n - 1) / 2;
}

static size_t graph_ws_size(int n)
{
    /* adjacency, then a union-find for construct */
    return (size_t)n * (size_t)n + 64 + sizeof(int) * (size_t)n;
}

static int uf_find(int *up, int v)
{
    while (up[v] != v)
        v = up[v] = up[up[v]];
    return v;
}

/* Greedy construction for wagner21: a spanning forest in the given edge
   order (Kruskal), so construction search explores trees, where Wagner's
   counterexamples live (the double broom). */
static size_t forest_construct(uint8_t *x, const uint32_t *order, int n,
                               void *ws)
{
    size_t L = graph_length(n), added = 0;
    int *up = (int *)((char *)ws + ((size_t)n * n + 63) / 64 * 64);
    for (int v = 0; v < n; v++)
        up[v] = v;
    for (size_t k = 0; k < L; k++)
        if (x[k]) { /* elements already present (ruin and recreate) */
            int i, j;
            kp_graph_pair_of_index(n, (long)k, &i, &j);
            up[uf_find(up, i)] = uf_find(up, j);
        }
    for (size_t q = 0; q < L; q++) {
        size_t k = order[q];
        if (x[k])
            continue;
        int i, j;
        kp_graph_pair_of_index(n, (long)k, &i, &j);
        int a = uf_find(up, i), b = uf_find(up, j);
        if (a == b)
            continue;
        up[a] = b;
        x[k] = 1;
        added++;
    }
    return added;
}

/* A kp_graph_t view of x built in the workspace (n*n bytes). */
static kp_graph_t ws_graph(const uint8_t *x, int n, void *ws)
{
    kp_graph_t g = {n, ws};
    kp_graph_from_bits(&g, x);
    return g;
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

static int refuted(kp_problem_msg_t *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int refuted(kp_problem_msg_t *m, const char *fmt, ...)
{
    va_list ap;
    m->where[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(m->msg, sizeof m->msg, fmt, ap);
    va_end(ap);
    return KP_PROBLEM_REFUTED;
}

static json_t *edges_json(const kp_graph_t *g)
{
    json_t *e = json_array();
    for (int i = 0; i < g->n; i++)
        for (int j = i + 1; j < g->n; j++)
            if (kp_graph_edge(g, i, j))
                json_array_append_new(e, json_pack("[ii]", i, j));
    return e;
}

/* Reads "edges" into x (edge bits) and g (must be empty, size n). */
static int read_edges(uint8_t *x, kp_graph_t *g, int n, const json_t *root,
                      kp_problem_msg_t *m)
{
    char where[64];
    memset(x, 0, graph_length(n));
    json_t *edges = json_object_get(root, "edges");
    if (!json_is_array(edges))
        return bad(m, edges ? "edges" : "",
                   "\"edges\" must be an array of [i,j] pairs");
    for (size_t k = 0; k < json_array_size(edges); k++) {
        json_t *e = json_array_get(edges, k);
        snprintf(where, sizeof where, "edges[%zu]", k);
        if (!json_is_array(e) || json_array_size(e) != 2 ||
            !json_is_integer(json_array_get(e, 0)) ||
            !json_is_integer(json_array_get(e, 1)))
            return bad(m, where, "edge %zu is not a pair of integers", k);
        json_int_t u = json_integer_value(json_array_get(e, 0));
        json_int_t v = json_integer_value(json_array_get(e, 1));
        if (u < 0 || v < 0 || u >= n || v >= n)
            return bad(m, where,
                       "edge %zu [%lld,%lld] has a vertex outside "
                       "0..%d",
                       k, (long long)u, (long long)v, n - 1);
        if (u == v)
            return bad(m, where, "edge %zu [%lld,%lld] is a self-loop", k,
                       (long long)u, (long long)v);
        if (kp_graph_edge(g, (int)u, (int)v))
            return bad(m, where,
                       "edge %zu [%lld,%lld] repeats an earlier "
                       "edge",
                       k, (long long)u, (long long)v);
        kp_graph_set(g, (int)u, (int)v, 1);
        x[kp_edge_index((int)u, (int)v, n)] = 1;
    }
    return KP_PROBLEM_OK;
}

/* ---- wagner21 ------------------------------------------------------- */

static void wagner_score(kp_score_t *s, const uint8_t *x, int n, void *ws)
{
    kp_graph_t g = ws_graph(x, n, ws);
    int nc = kp_graph_ncomponents(&g);
    double lam = kp_graph_lambda1_d(&g, NULL);
    int mu = kp_graph_matching(&g, NULL);
    s->value = sqrt((double)(n - 1)) + 1 - lam - mu - 0.5 * (nc - 1);
    s->num = 0;
    s->den = 0;
}

/* Sign of lambda_1 + mu - (sqrt(n-1) + 1): KP_GRAPH_LESS means a
   counterexample. */
static int wagner_cmp(const kp_graph_t *g, int mu)
{
    return kp_graph_lambda1_cmp(g, 1 - mu, g->n - 1);
}

static int wagner_verify(const uint8_t *x, int n, void *ws, kp_problem_msg_t *m)
{
    kp_graph_t g = ws_graph(x, n, ws);
    if (!kp_graph_connected(&g))
        return refuted(m, "the graph is not connected");
    int mu = kp_graph_matching(&g, NULL);
    if (mu < 0)
        return bad(m, "", "out of memory");
    int c = wagner_cmp(&g, mu);
    if (c == KP_GRAPH_LESS)
        return KP_PROBLEM_OK;
    if (c == KP_GRAPH_UNKNOWN)
        return refuted(m, "lambda_1 + mu vs sqrt(%d) + 1 not decided", n - 1);
    return refuted(m,
                   "lambda_1 + mu %s sqrt(%d) + 1 (mu = %d): not a "
                   "counterexample",
                   c == KP_GRAPH_EQUAL ? "=" : ">", n - 1, mu);
}

static double wagner_known_best(int n)
{
    (void)n;
    return NAN;
}

static int wagner_cert_write(json_t *root, const uint8_t *x, int n)
{
    kp_graph_t g;
    if (kp_graph_init(&g, n, NULL) != KP_OK)
        return KP_PROBLEM_BAD;
    kp_graph_from_bits(&g, x);
    int *mate = malloc(sizeof(int) * (size_t)n);
    unsigned char *ins = malloc((size_t)n);
    fmpz *cw = _fmpz_vec_init(n);
    fmpq_t b;
    arb_t lam;
    fmpq_init(b);
    arb_init(lam);
    int rc = KP_PROBLEM_BAD;
    if (!mate || !ins)
        goto done;
    int mu = kp_graph_matching(&g, mate);
    int tb = kp_graph_tutte_berge_set(ins, &g);
    if (mu < 0 || tb != mu || kp_graph_lambda1(lam, &g, 128, NULL) != KP_OK ||
        kp_graph_cw_bound(cw, b, &g, 30, NULL) != KP_OK)
        goto done;
    json_object_set_new(root, "edges", edges_json(&g));
    arb_add_si(lam, lam, mu, 128);
    /* 30 significant digits of a 128-bit ball: within half a unit of the
       last digit, which is what cert_read demands (less than one unit). */
    char *vs = arb_get_str(lam, 30, ARB_STR_NO_RADIUS);
    json_object_set_new(root, "value", json_string(vs));
    flint_free(vs);
    char bs[64];
    snprintf(bs, sizeof bs, "sqrt(%d) + 1", n - 1);
    json_object_set_new(root, "bound", json_string(bs));
    json_object_set_new(root, "mu", json_integer(mu));
    json_t *mt = json_array(), *ts = json_array(), *xv = json_array();
    for (int v = 0; v < n; v++) {
        if (mate[v] > v)
            json_array_append_new(mt, json_pack("[ii]", v, mate[v]));
        if (ins[v])
            json_array_append_new(ts, json_integer(v));
        json_array_append_new(xv, json_integer(fmpz_get_si(cw + v)));
    }
    json_object_set_new(root, "matching", mt);
    json_object_set_new(root, "tutte_berge_set", ts);
    json_object_set_new(root, "cw_vector", xv);
    char *q = fmpq_get_str(NULL, 10, b);
    json_object_set_new(root, "cw_bound", json_string(q));
    flint_free(q);
    json_object_set_new(
        root, "cw_proves",
        json_boolean(kp_graph_connected(&g) &&
                     kp_graph_fmpq_cmp_sqrt(b, 1 - mu, n - 1) < 0));
    rc = KP_PROBLEM_OK;
done:
    free(mate);
    free(ins);
    _fmpz_vec_clear(cw, n);
    fmpq_clear(b);
    arb_clear(lam);
    kp_graph_clear(&g);
    return rc;
}

/* q = 10^e exactly. */
static void fmpq_pow10(fmpq_t q, slong e)
{
    fmpq_one(q);
    fmpz_ui_pow_ui(e >= 0 ? fmpq_numref(q) : fmpq_denref(q), 10,
                   (ulong)(e >= 0 ? e : -e));
}

/* Parses a decimal [-]d[.d][e[+-]d] into the exact rational q and the
   number of decimal places it gives (fraction digits minus the exponent;
   may be negative). Returns 0, or -1 if s is not such a number. */
static int parse_decimal(fmpq_t q, slong *places, const char *s)
{
    const char *p = s;
    int neg = 0;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    fmpz_t mant;
    fmpz_init(mant);
    slong frac = 0, ndig = 0, ex = 0;
    for (int dot = 0;; p++) {
        if (*p >= '0' && *p <= '9') {
            fmpz_mul_ui(mant, mant, 10);
            fmpz_add_ui(mant, mant, (ulong)(*p - '0'));
            ndig++;
            frac += dot;
        } else if (*p == '.' && !dot) {
            dot = 1;
        } else {
            break;
        }
    }
    int ok = ndig > 0 && ndig < 1000;
    if (ok && (*p == 'e' || *p == 'E')) {
        char *end;
        long e = strtol(p + 1, &end, 10);
        ok = end != p + 1 && e > -1000 && e < 1000;
        ex = e;
        p = end;
    }
    ok = ok && *p == '\0';
    if (ok) {
        fmpq_pow10(q, ex - frac);
        fmpq_mul_fmpz(q, q, mant);
        if (neg)
            fmpq_neg(q, q);
        *places = frac - ex;
    }
    fmpz_clear(mant);
    return ok ? 0 : -1;
}

/* 1 if the claim q about v is proved: |q - v| < tol when below == 0,
   q <= v < q + tol when below != 0; 0 if it is false or undecided. v is
   given by a function computing a ball at a precision, which is raised
   until the comparison is decided. */
static int close_to(const fmpq_t q, const fmpq_t tol, int below,
                    int (*value)(arb_t v, const void *ctx, slong prec),
                    const void *ctx)
{
    arb_t v, d, t;
    arb_init(v);
    arb_init(d);
    arb_init(t);
    int res = 0;
    for (slong prec = 128; prec <= 4096; prec *= 2) {
        if (value(v, ctx, prec) != 0)
            break;
        arb_set_fmpq(d, q, prec);
        arb_sub(d, v, d, prec); /* v - q */
        if (!below)
            arb_abs(d, d);
        arb_set_fmpq(t, tol, prec);
        if (arb_lt(d, t) && arb_is_nonnegative(d)) {
            res = 1;
            break;
        }
        if (arb_ge(d, t) || arb_is_negative(d))
            break;
    }
    arb_clear(v);
    arb_clear(d);
    arb_clear(t);
    return res;
}

/* Checks a claimed decimal "value" of the number v: a decimal d with k
   places must be v rounded to nearest (|d - v| < 10^-k / 2) or rounded
   down (d <= v < d + 10^-k) to k places; an Arb ball "[m +/- r]" must
   contain v. */
static int value_matches(const char *claim,
                         int (*value)(arb_t v, const void *ctx, slong prec),
                         const void *ctx)
{
    fmpq_t q, tol;
    fmpq_init(q);
    fmpq_init(tol);
    slong k, kr;
    int ok = 0;
    size_t len = strlen(claim);
    if (len > 2 && len < 512 && claim[0] == '[' && claim[len - 1] == ']') {
        char buf[512], *pm;
        memcpy(buf, claim + 1, len - 2);
        buf[len - 2] = '\0';
        if ((pm = strstr(buf, " +/- ")) != NULL) {
            *pm = '\0';
            fmpq_t r;
            fmpq_init(r);
            /* |m - v| <= r, i.e. |m - v| < r + (a margin below the
               precision of r's last digit) */
            if (parse_decimal(q, &k, buf) == 0 &&
                parse_decimal(r, &kr, pm + 5) == 0 && fmpq_sgn(r) >= 0) {
                fmpq_pow10(tol, -(kr + 40));
                fmpq_add(tol, tol, r);
                ok = close_to(q, tol, 0, value, ctx);
            }
            fmpq_clear(r);
        }
    } else if (len < 512 && parse_decimal(q, &k, claim) == 0) {
        fmpq_pow10(tol, -k);
        ok = close_to(q, tol, 1, value, ctx);
        fmpq_div_2exp(tol, tol, 1);
        ok = ok || close_to(q, tol, 0, value, ctx);
    }
    fmpq_clear(q);
    fmpq_clear(tol);
    return ok;
}

/* A "bound" claim: the text, ignoring blanks, equals want. */
static int same_text(const char *claim, const char *want)
{
    for (;;) {
        while (*claim == ' ')
            claim++;
        while (*want == ' ')
            want++;
        if (*claim != *want)
            return 0;
        if (*claim == '\0')
            return 1;
        claim++;
        want++;
    }
}

typedef struct {
    const kp_graph_t *g;
    int mu;
} wagner_value_ctx_t;

static int wagner_value(arb_t v, const void *ctx, slong prec)
{
    const wagner_value_ctx_t *c = ctx;
    if (kp_graph_lambda1(v, c->g, prec, NULL) != KP_OK)
        return -1;
    arb_add_si(v, v, c->mu, prec);
    return 0;
}

/* Checks the optional wagner21 witness fields against g. */
static int wagner_check_extras(const kp_graph_t *g, const json_t *root,
                               kp_problem_msg_t *m)
{
    int n = g->n;
    int mu = kp_graph_matching(g, NULL);
    json_t *jmu = json_object_get(root, "mu");
    if (jmu && (!json_is_integer(jmu) || json_integer_value(jmu) != mu))
        return bad(m, "mu", "\"mu\" is not the matching number %d", mu);
    json_t *jv = json_object_get(root, "value");
    if (jv) {
        wagner_value_ctx_t c = {g, mu};
        if (!json_is_string(jv))
            return bad(m, "value",
                       "\"value\" must be a string (a decimal "
                       "number)");
        if (!value_matches(json_string_value(jv), wagner_value, &c)) {
            arb_t v;
            arb_init(v);
            wagner_value(v, &c, 128);
            char *vs = arb_get_str(v, 20, ARB_STR_NO_RADIUS);
            int rc = bad(m, "value",
                         "\"value\" is not lambda_1 + mu = "
                         "%s... to the digits given",
                         vs);
            flint_free(vs);
            arb_clear(v);
            return rc;
        }
    }
    json_t *jb = json_object_get(root, "bound");
    if (jb) {
        char want[64];
        snprintf(want, sizeof want, "sqrt(%d) + 1", n - 1);
        if (!json_is_string(jb) || !same_text(json_string_value(jb), want))
            return bad(m, "bound", "\"bound\" must be \"%s\"", want);
    }
    json_t *mt = json_object_get(root, "matching");
    if (mt) {
        size_t k = json_is_array(mt) ? json_array_size(mt) : 0;
        long *pairs = malloc(sizeof(long) * 2 * (k + 1));
        int ok = json_is_array(mt) && pairs;
        for (size_t i = 0; ok && i < k; i++) {
            json_t *e = json_array_get(mt, i);
            ok = json_is_array(e) && json_array_size(e) == 2 &&
                 json_is_integer(json_array_get(e, 0)) &&
                 json_is_integer(json_array_get(e, 1));
            if (ok) {
                pairs[2 * i] = (long)json_integer_value(json_array_get(e, 0));
                pairs[2 * i + 1] =
                    (long)json_integer_value(json_array_get(e, 1));
            }
        }
        ok = ok && kp_graph_is_matching(g, pairs, (long)k) && (long)k == mu;
        free(pairs);
        if (!ok)
            return bad(m, "matching",
                       "\"matching\" is not a matching of %d "
                       "edges of the graph",
                       mu);
    }
    json_t *ts = json_object_get(root, "tutte_berge_set");
    if (ts) {
        unsigned char *ins = calloc((size_t)n, 1);
        int ok = json_is_array(ts) && ins;
        for (size_t i = 0; ok && i < json_array_size(ts); i++) {
            json_t *v = json_array_get(ts, i);
            ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
                 json_integer_value(v) < n && !ins[json_integer_value(v)];
            if (ok)
                ins[json_integer_value(v)] = 1;
        }
        ok = ok && kp_graph_tutte_berge_bound(g, ins) == mu;
        free(ins);
        if (!ok)
            return bad(m, "tutte_berge_set",
                       "\"tutte_berge_set\" does not "
                       "bound the matching number by %d",
                       mu);
    }
    json_t *xv = json_object_get(root, "cw_vector");
    jb = json_object_get(root, "cw_bound");
    if (xv || jb) {
        fmpz *x = _fmpz_vec_init(n);
        fmpq_t b;
        fmpq_init(b);
        int ok = json_is_array(xv) && json_array_size(xv) == (size_t)n &&
                 json_is_string(jb) &&
                 fmpq_set_str(b, json_string_value(jb), 10) == 0 &&
                 !fmpz_is_zero(fmpq_denref(b));
        if (ok)
            fmpq_canonicalise(b);
        for (int i = 0; ok && i < n; i++) {
            json_t *v = json_array_get(xv, (size_t)i);
            ok = json_is_integer(v);
            if (ok)
                fmpz_set_si(x + i, (slong)json_integer_value(v));
        }
        ok = ok && kp_graph_cw_check(g, x, b);
        int proves = ok && kp_graph_fmpq_cmp_sqrt(b, 1 - mu, n - 1) < 0;
        _fmpz_vec_clear(x, n);
        fmpq_clear(b);
        if (!ok)
            return bad(m, xv ? "cw_vector" : "cw_bound",
                       "\"cw_vector\"/\"cw_bound\" is not a Collatz–Wielandt "
                       "bound: (Ax)_i <= b x_i fails or x is not positive");
        json_t *pr = json_object_get(root, "cw_proves");
        if (pr && (!json_is_boolean(pr) ||
                   json_is_true(pr) != (proves && kp_graph_connected(g))))
            return bad(m, "cw_proves", "\"cw_proves\" is wrong");
    }
    return KP_PROBLEM_OK;
}

static int wagner_cert_read(uint8_t *x, int n, const json_t *root,
                            kp_problem_msg_t *m)
{
    kp_graph_t g;
    if (kp_graph_init(&g, n, NULL) != KP_OK)
        return bad(m, "n", "bad graph size %d", n);
    int rc = read_edges(x, &g, n, root, m);
    if (rc == KP_PROBLEM_OK)
        rc = wagner_check_extras(&g, root, m);
    kp_graph_clear(&g);
    return rc;
}

static const kp_problem_t wagner21_problem = {
    .abi = KP_PROBLEM_ABI,
    .name = "wagner21",
    .summary = "connected graph with lambda_1 + mu < sqrt(n-1) + 1 "
               "(Wagner 2021, Conjecture 2.1; score = the gap)",
    .kind = KP_OBJ_GRAPH,
    .n_min = 3,
    .n_max = 64,
    .lean_predicate = NULL,
    .length = graph_length,
    .ws_size = graph_ws_size,
    .score = wagner_score,
    .verify = wagner_verify,
    .known_best = wagner_known_best,
    .construct = forest_construct,
    .cert_write = wagner_cert_write,
    .cert_read = wagner_cert_read,
};

const kp_problem_t *kp_problem_wagner21(void)
{
    return &wagner21_problem;
}

/* ---- ramsey --------------------------------------------------------- */

static void ramsey_score(kp_score_t *s, const uint8_t *x, int n, void *ws,
                         int cs, int ct)
{
    kp_graph_t g = ws_graph(x, n, ws);
    long a = kp_graph_count_cliques(&g, cs, 0);
    long b = kp_graph_count_cliques(&g, ct, 1);
    s->num = -(int64_t)(a + b);
    s->value = (double)s->num; /* not -(double): no "-0" for a witness */
    s->den = 1;
}

static int ramsey_verify(const uint8_t *x, int n, void *ws, kp_problem_msg_t *m,
                         int cs, int ct)
{
    kp_graph_t g = ws_graph(x, n, ws);
    long a = kp_graph_count_cliques(&g, cs, 0);
    long b = kp_graph_count_cliques(&g, ct, 1);
    if (a == 0 && b == 0)
        return KP_PROBLEM_OK;
    return refuted(m,
                   "the graph has %ld cliques of size %d and %ld "
                   "independent sets of size %d",
                   a, cs, b, ct);
}

static int ramsey_cert_write(json_t *root, const uint8_t *x, int n, int cs,
                             int ct)
{
    kp_graph_t g;
    if (kp_graph_init(&g, n, NULL) != KP_OK)
        return KP_PROBLEM_BAD;
    kp_graph_from_bits(&g, x);
    long a = kp_graph_count_cliques(&g, cs, 0);
    long b = kp_graph_count_cliques(&g, ct, 1);
    char buf[96];
    json_object_set_new(root, "edges", edges_json(&g));
    snprintf(buf, sizeof buf, "%ld", a + b);
    json_object_set_new(root, "value", json_string(buf));
    json_object_set_new(root, "bound", json_string("0"));
    json_object_set_new(root, "cliques", json_integer(a));
    json_object_set_new(root, "independent_sets", json_integer(b));
    kp_graph_clear(&g);
    return KP_PROBLEM_OK;
}

static int ramsey_cert_read(uint8_t *x, int n, const json_t *root,
                            kp_problem_msg_t *m, int cs, int ct)
{
    kp_graph_t g;
    if (kp_graph_init(&g, n, NULL) != KP_OK)
        return bad(m, "n", "bad graph size %d", n);
    int rc = read_edges(x, &g, n, root, m);
    if (rc == KP_PROBLEM_OK) {
        json_t *c = json_object_get(root, "cliques"),
               *i = json_object_get(root, "independent_sets"),
               *v = json_object_get(root, "value"),
               *b = json_object_get(root, "bound");
        long na = kp_graph_count_cliques(&g, cs, 0),
             nb = kp_graph_count_cliques(&g, ct, 1);
        char want[32];
        snprintf(want, sizeof want, "%ld", na + nb);
        if (c && (!json_is_integer(c) || json_integer_value(c) != na))
            rc = bad(m, "cliques",
                     "\"cliques\" is not the number %ld of "
                     "%d-cliques",
                     na, cs);
        else if (i && (!json_is_integer(i) || json_integer_value(i) != nb))
            rc = bad(m, "independent_sets",
                     "\"independent_sets\" is not the "
                     "number %ld of independent %d-sets",
                     nb, ct);
        else if (v &&
                 !(json_is_string(v) &&
                   same_text(json_string_value(v), want)) &&
                 !(json_is_integer(v) && json_integer_value(v) == na + nb))
            rc = bad(m, "value",
                     "\"value\" is not the number %ld of "
                     "%d-cliques and independent %d-sets",
                     na + nb, cs, ct);
        else if (b &&
                 !(json_is_string(b) && same_text(json_string_value(b), "0")) &&
                 !(json_is_integer(b) && json_integer_value(b) == 0))
            rc = bad(m, "bound", "\"bound\" must be \"0\"");
    }
    kp_graph_clear(&g);
    return rc;
}

/* Greedy construction for ramsey: add each edge that creates no K_s (the
   K_s-free process in the given order). */
static size_t ramsey_construct(uint8_t *x, const uint32_t *order, int n,
                               void *ws, int cs)
{
    kp_graph_t g = ws_graph(x, n, ws);
    size_t L = graph_length(n), added = 0;
    for (size_t q = 0; q < L; q++) {
        size_t k = order[q];
        if (x[k])
            continue;
        int i, j;
        kp_graph_pair_of_index(n, (long)k, &i, &j);
        /* a new K_s through {i,j} is a K_{s-2} in their common
           neighbourhood */
        int common[64], nc = 0;
        for (int v = 0; v < n && n <= 64; v++)
            if (kp_graph_edge(&g, i, v) && kp_graph_edge(&g, j, v))
                common[nc++] = v;
        int creates;
        if (cs <= 2)
            creates = 1;
        else if (cs == 3)
            creates = nc > 0;
        else {
            creates = 0;
            for (int a = 0; a < nc && !creates; a++)
                for (int b = a + 1; b < nc && !creates; b++)
                    creates = kp_graph_edge(&g, common[a], common[b]);
            if (cs > 4)
                creates = 1; /* only s <= 4 are built in */
        }
        if (creates)
            continue;
        kp_graph_set(&g, i, j, 1);
        x[k] = 1;
        added++;
    }
    return added;
}

#define RAMSEY_PROBLEM(S, T, NDEF)                                             \
    static void ramsey##S##T##_score(kp_score_t *s, const uint8_t *x, int n,   \
                                     void *ws)                                 \
    {                                                                          \
        ramsey_score(s, x, n, ws, S, T);                                       \
    }                                                                          \
    static int ramsey##S##T##_verify(const uint8_t *x, int n, void *ws,        \
                                     kp_problem_msg_t *m)                      \
    {                                                                          \
        return ramsey_verify(x, n, ws, m, S, T);                               \
    }                                                                          \
    static int ramsey##S##T##_cert_write(json_t *root, const uint8_t *x,       \
                                         int n)                                \
    {                                                                          \
        return ramsey_cert_write(root, x, n, S, T);                            \
    }                                                                          \
    static int ramsey##S##T##_cert_read(uint8_t *x, int n, const json_t *root, \
                                        kp_problem_msg_t *m)                   \
    {                                                                          \
        return ramsey_cert_read(x, n, root, m, S, T);                          \
    }                                                                          \
    static size_t ramsey##S##T##_construct(uint8_t *x, const uint32_t *order,  \
                                           int n, void *ws)                    \
    {                                                                          \
        return ramsey_construct(x, order, n, ws, S);                           \
    }                                                                          \
    static double ramsey##S##T##_known_best(int n)                             \
    {                                                                          \
        return n <= NDEF ? 0.0 : NAN;                                          \
    }                                                                          \
    static const kp_problem_t ramsey##S##T##_problem = {                       \
        .abi = KP_PROBLEM_ABI,                                                 \
        .name = "ramsey" #S #T,                                                \
        .summary = "graph with no K_" #S " and no independent " #T             \
                   "-set: R(" #S "," #T ") > n (witness up to n = " #NDEF ")", \
        .kind = KP_OBJ_GRAPH,                                                  \
        .n_min = 2,                                                            \
        .n_max = 64,                                                           \
        .lean_predicate = NULL,                                                \
        .length = graph_length,                                                \
        .ws_size = graph_ws_size,                                              \
        .score = ramsey##S##T##_score,                                         \
        .verify = ramsey##S##T##_verify,                                       \
        .known_best = ramsey##S##T##_known_best,                               \
        .construct = ramsey##S##T##_construct,                                 \
        .cert_write = ramsey##S##T##_cert_write,                               \
        .cert_read = ramsey##S##T##_cert_read,                                 \
    };                                                                         \
    const kp_problem_t *kp_problem_ramsey##S##T(void)                          \
    {                                                                          \
        return &ramsey##S##T##_problem;                                        \
    }

RAMSEY_PROBLEM(3, 4, 8)
RAMSEY_PROBLEM(4, 4, 17)
