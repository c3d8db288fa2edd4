/* t-grammar.c: grammar loading, errors with positions, masks, random
   expressions, checks and complexity. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kp_expr.h"
#include "kp_grammar.h"
#include "../kp_test.h"

#define PHYSICS KP_SRCDIR "/grammars/physics.grammar"
#define POLYNOMIAL KP_SRCDIR "/grammars/polynomial.grammar"

static const char *const var_names[] = {"x", "y", "z"};

static void load_bound(kp_grammar_t *g, const char *path, int nvars)
{
    kp_error_t err;
    char buf[800];
    kp_grammar_init(g);
    int rc = kp_grammar_load_file(g, path, &err);
    cr_assert_eq(rc, KP_OK, "%s", kp_error_format(buf, sizeof buf, &err));
    rc = kp_grammar_bind(g, nvars, var_names, &err);
    cr_assert_eq(rc, KP_OK, "%s", kp_error_format(buf, sizeof buf, &err));
}

/* The symbol called name with result type `type` (NULL: any). */
static int sym_named(const kp_grammar_t *g, const char *name, const char *type)
{
    int t = type ? kp_grammar_type(g, type) : -1;
    for (int i = 0; i < kp_grammar_nsymbols(g); i++) {
        const kp_gsym_t *s = kp_grammar_symbol(g, i);
        if (strcmp(s->name, name) == 0 && (t < 0 || s->type == t))
            return i;
    }
    cr_assert_fail("no symbol %s", name);
    return -1;
}

/* Independent oracle for the parent of each node, from size[]. */
static void parents_of(const kp_expr_t *e, int *parent)
{
    parent[0] = -1;
    for (int i = 0; i < e->len; i++) {
        int c = i + 1;
        for (int j = 0; j < kp_tok_arity(e->tok[i]); j++) {
            parent[c] = i;
            c += e->size[c];
        }
    }
}

static int is_trig(kp_tok_t t)
{
    return t == KP_OP_SIN || t == KP_OP_COS || t == KP_OP_TAN ||
           t == KP_OP_ASIN || t == KP_OP_ACOS || t == KP_OP_ATAN;
}

/* Physics rules re-stated directly on tokens: no trig under trig, no
   exp/log under exp/log. */
static int physics_nesting_ok(const kp_expr_t *e)
{
    int parent[KP_EXPR_MAX_LEN];
    parents_of(e, parent);
    for (int i = 1; i < e->len; i++)
        for (int a = parent[i]; a >= 0; a = parent[a]) {
            if (is_trig(e->tok[i]) && is_trig(e->tok[a]))
                return 0;
            int el = e->tok[i] == KP_OP_EXP || e->tok[i] == KP_OP_LOG;
            int al = e->tok[a] == KP_OP_EXP || e->tok[a] == KP_OP_LOG;
            if (el && al)
                return 0;
        }
    return 1;
}

Test(grammar, shipped_grammars_load)
{
    kp_grammar_t g;
    kp_error_t err;
    load_bound(&g, PHYSICS, 3);
    cr_assert_str_eq(kp_grammar_name(&g), "physics");
    cr_assert_eq(kp_grammar_max_length(&g), 30);
    cr_assert_eq(kp_grammar_max_depth(&g), 10);
    const char *need[] = {"+", "-", "*", "/", "**", "sqrt", "exp", "log",
                          "sin", "cos", "tan", "asin", "acos", "atan", "pi",
                          "const", "x", "y", "z", "2", "1/2", "-1/2"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        sym_named(&g, need[i], NULL);
    int half = sym_named(&g, "1/2", NULL);
    cr_assert_eq(kp_grammar_symbol(&g, half)->num, 1);
    cr_assert_eq(kp_grammar_symbol(&g, half)->den, 2);
    cr_assert_eq(kp_grammar_symbol(&g, sym_named(&g, "const", NULL))->den, 0);
    int x = kp_grammar_var_symbol(&g, 1);
    cr_assert_str_eq(kp_grammar_symbol(&g, x)->name, "y");
    cr_assert_eq(kp_grammar_symbol(&g, x)->tok, KP_TOK_VAR + 1);

    /* Resolution by bare name finds the source tree's copy. */
    cr_assert_eq(kp_grammar_load(&g, "polynomial", &err), KP_OK, "%s",
                 err.msg);
    cr_assert_str_eq(kp_grammar_name(&g), "polynomial");
    cr_assert_eq(kp_grammar_max_length(&g), 40);
    cr_assert_eq(kp_grammar_bind(&g, 2, NULL, &err), KP_OK);
    cr_assert_str_eq(kp_grammar_symbol(&g, kp_grammar_var_symbol(&g, 1))->name,
                     "x1");
    cr_assert_eq(kp_grammar_load(&g, "no-such-grammar", &err), KP_EINPUT);
    cr_assert_eq(kp_grammar_load(&g, "/nonexistent/x.grammar", &err),
                 KP_EINPUT);
    cr_assert_str_eq(err.file, "/nonexistent/x.grammar");
    kp_grammar_clear(&g);
}

Test(grammar, search_path_comes_first)
{
    kp_grammar_t g;
    kp_error_t err;
    kp_grammar_init(&g);
    setenv("KEPLER_GRAMMAR_PATH", "/nonexistent:" KP_SRCDIR "/tests/grammar",
           1);
    /* A fixture found through the path reports errors in its own file. */
    cr_assert_eq(kp_grammar_load(&g, "bad-cost", &err), KP_EINPUT);
    cr_assert_str_eq(err.file, KP_SRCDIR "/tests/grammar/bad-cost.grammar");
    /* Names not on the path still fall back to the source tree. */
    cr_assert_eq(kp_grammar_load(&g, "physics", &err), KP_OK);
    unsetenv("KEPLER_GRAMMAR_PATH");
    kp_grammar_clear(&g);
}

Test(grammar, bad_fixtures_give_line_and_column)
{
    const char *dir = KP_SRCDIR "/tests/grammar";
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    cr_assert_not_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (strncmp(de->d_name, "bad-", 4) != 0 || len < 9 ||
            strcmp(de->d_name + len - 8, ".grammar") != 0)
            continue;
        char path[1024], first[256];
        long line = -1, col = -1;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f);
        cr_assert_not_null(fgets(first, sizeof first, f));
        fclose(f);
        cr_assert_eq(sscanf(first, "# expect %ld:%ld", &line, &col), 2,
                     "%s: no '# expect L:C' line", path);
        kp_grammar_t g;
        kp_error_t err;
        char buf[800];
        kp_grammar_init(&g);
        kp_error_init(&err);
        int rc = kp_grammar_load_file(&g, path, &err);
        cr_assert_eq(rc, KP_EINPUT, "%s loaded", de->d_name);
        cr_assert_str_eq(err.file, path);
        cr_assert(err.line == line && err.col == col,
                  "%s: expected %ld:%ld, got %s", de->d_name, line, col,
                  kp_error_format(buf, sizeof buf, &err));
        cr_assert_eq(kp_grammar_nsymbols(&g), 0, "left loaded on error");
        kp_grammar_clear(&g);
        n++;
    }
    closedir(d);
    cr_assert_geq(n, 20, "only %d fixtures", n);
}

Test(grammar, format_details)
{
    kp_grammar_t g;
    kp_error_t err;
    kp_grammar_init(&g);
    /* Glued `->` and `:`, tabs, comments, defaults, aliases. */
    const char *text = "type\treal # the only type\n"
                       "op ln real->real cost 0\n"
                       "op arcsin real -> real\n"
                       "terminal inputs->real\n"
                       "terminal E -> real cost 5\n"
                       "literal +3 -6/4 -> real\n"
                       "forbid child log:log\n";
    cr_assert_eq(kp_grammar_load_string(&g, text, NULL, &err), KP_OK, "%s",
                 err.msg);
    cr_assert_eq(kp_grammar_max_length(&g), KP_GRAMMAR_DEFAULT_LENGTH);
    cr_assert_eq(kp_grammar_max_depth(&g), KP_GRAMMAR_DEFAULT_DEPTH);
    cr_assert_eq(kp_grammar_bind(&g, 1, NULL, &err), KP_OK);
    int log = sym_named(&g, "log", NULL);
    cr_assert_eq(kp_grammar_symbol(&g, log)->cost, 0);
    cr_assert_eq(kp_grammar_symbol(&g, sym_named(&g, "asin", NULL))->tok,
                 KP_OP_ASIN);
    cr_assert_eq(kp_grammar_symbol(&g, sym_named(&g, "E", NULL))->cost, 5);
    const kp_gsym_t *l = kp_grammar_symbol(&g, sym_named(&g, "-3/2", NULL));
    cr_assert(l->num == -3 && l->den == 2);
    sym_named(&g, "3", NULL);
    cr_assert(g.forbid_child[KP_OP_LOG] >> KP_OP_LOG & 1);

    /* An error in a string names the given source. */
    cr_assert_eq(kp_grammar_load_string(&g, "type real\nop + real real -> "
                                            "real cost x\n",
                                        "inline", &err),
                 KP_EINPUT);
    cr_assert_str_eq(err.file, "inline");
    cr_assert(err.line == 2 && err.col == 29, "%ld:%ld", err.line, err.col);

    /* Only inputs: binding no variables leaves nothing to generate. */
    cr_assert_eq(kp_grammar_load_string(&g, "type real\nterminal inputs -> "
                                            "real\n",
                                        NULL, &err),
                 KP_OK);
    cr_assert_eq(kp_grammar_bind(&g, 0, NULL, &err), KP_EINPUT);
    kp_gstate_t s;
    cr_assert_eq(kp_gstate_init(&s, &g, &err), KP_EINPUT);
    cr_assert_eq(kp_grammar_bind(&g, KP_MAX_VARS + 1, NULL, &err), KP_EINPUT);
    cr_assert_eq(kp_grammar_bind(&g, 2, NULL, &err), KP_OK);
    cr_assert_eq(kp_grammar_nsymbols(&g), 2);
    kp_grammar_clear(&g);
}

/* Draws a mask-guided uniform sample; checks the mask, the conditioning
   accessors and symbol_at along the way. */
static void sample_and_check(const kp_grammar_t *g, kp_rng_t *rng,
                             kp_expr_t *e, long iter)
{
    kp_gstate_t s;
    kp_error_t err;
    uint8_t mask[512];
    int par[KP_EXPR_MAX_LEN], sib[KP_EXPR_MAX_LEN], parent[KP_EXPR_MAX_LEN];
    int n = kp_grammar_nsymbols(g);
    cr_assert(n <= 512);
    cr_assert_eq(kp_gstate_init(&s, g, &err), KP_OK);
    while (!kp_gstate_done(&s)) {
        int na = kp_gstate_allowed(&s, g, mask);
        cr_assert_gt(na, 0, "iter %ld: stuck after %d symbols", iter, s.len);
        int k = (int)kp_rng_below(rng, (uint64_t)na), pick = -1;
        for (int i = 0; i < n && pick < 0; i++)
            if (mask[i] && k-- == 0)
                pick = i;
        /* A disallowed symbol is refused and leaves the state alone. */
        int bad = (int)kp_rng_below(rng, (uint64_t)n);
        if (!mask[bad]) {
            kp_gstate_t before = s;
            cr_assert_eq(kp_gstate_push(&s, g, bad, NULL), KP_EINPUT);
            cr_assert_eq(memcmp(&before, &s, sizeof s), 0);
        }
        par[s.len] = kp_gstate_parent(&s);
        sib[s.len] = kp_gstate_sibling(&s);
        cr_assert_eq(kp_gstate_type(&s),
                     kp_grammar_symbol(g, pick)->type);
        cr_assert_eq(kp_gstate_push(&s, g, pick, &err), KP_OK);
        cr_assert_leq(kp_gstate_min_length(&s), kp_grammar_max_length(g));
    }
    cr_assert_eq(kp_gstate_allowed(&s, g, mask), 0);
    cr_assert_eq(kp_gstate_parent(&s), -1);
    cr_assert_eq(kp_gstate_to_expr(e, g, &s, &err), KP_OK, "%s", err.msg);
    cr_assert_eq(e->len, s.len);
    /* Parent and sibling as reported match the finished tree. */
    parents_of(e, parent);
    for (int i = 0; i < e->len; i++) {
        cr_assert_eq(par[i], parent[i] < 0 ? -1 : s.sym[parent[i]]);
        int prev = -1;
        if (parent[i] >= 0)
            for (int c = parent[i] + 1; c < i; c += e->size[c])
                prev = c;
        cr_assert_eq(sib[i], prev < 0 ? -1 : s.sym[prev], "iter %ld pos %d",
                     iter, i);
        cr_assert_eq(kp_grammar_symbol_at(g, e, i), s.sym[i]);
    }
}

/* The tokens of e in prefix order, for failure messages. */
static void dump(char *buf, size_t n, const kp_expr_t *e)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < e->len && k + 32 < n; i++) {
        kp_tok_t t = e->tok[i];
        if (t < KP_OP_COUNT)
            k += (size_t)snprintf(buf + k, n - k, "%s ", kp_op_table[t].name);
        else if (kp_tok_is_var(t))
            k += (size_t)snprintf(buf + k, n - k, "x%d ", kp_tok_var(t));
        else {
            const kp_const_t *c = &e->c[kp_expr_const_index(e, i)];
            k += (size_t)snprintf(buf + k, n - k, "%lld/%lld ",
                                  (long long)c->num, (long long)c->den);
        }
    }
}

static void check_valid(const kp_grammar_t *g, const kp_expr_t *e, long iter,
                        int physics)
{
    kp_error_t err;
    char buf[2048];
    cr_assert_eq(kp_expr_check(e, &err), KP_OK, "iter %ld: %s", iter,
                 err.msg);
    int rc = kp_grammar_check_expr(g, e, &err);
    dump(buf, sizeof buf, e);
    cr_assert_eq(rc, KP_OK, "iter %ld: %s: %s", iter, buf, err.msg);
    cr_assert_leq(e->len, kp_grammar_max_length(g));
    cr_assert_leq(kp_expr_depth(e), kp_grammar_max_depth(g));
    if (physics)
        cr_assert(physics_nesting_ok(e), "iter %ld: %s", iter, buf);
    /* Complexity two ways: by the grammar, and from the symbols. */
    int sym[KP_EXPR_MAX_LEN], sum = 0;
    cr_assert_eq(kp_grammar_expr_symbols(g, e, sym), 0);
    for (int i = 0; i < e->len; i++)
        sum += kp_grammar_symbol(g, sym[i])->cost;
    cr_assert_eq(kp_grammar_complexity(g, e), sum);
}

Test(grammar, mask_guided_samples_are_valid)
{
    const char *paths[] = {PHYSICS, POLYNOMIAL};
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (int p = 0; p < 2; p++) {
        kp_grammar_t g;
        kp_expr_t e;
        load_bound(&g, paths[p], 3);
        long n = 1500 * kp_test_multiplier();
        for (long it = 0; it < n; it++) {
            sample_and_check(&g, &rng, &e, it);
            check_valid(&g, &e, it, p == 0);
        }
        kp_grammar_clear(&g);
    }
}

Test(grammar, random_exprs_are_valid_and_sized)
{
    const char *paths[] = {PHYSICS, POLYNOMIAL};
    kp_rng_t rng;
    kp_error_t err;
    kp_test_rng_init(&rng);
    for (int p = 0; p < 2; p++) {
        kp_grammar_t g;
        kp_expr_t e;
        long hist[KP_EXPR_MAX_LEN + 1] = {0}, shorter = 0;
        load_bound(&g, paths[p], 3);
        int max = kp_grammar_max_length(&g);
        long n = 2000 * kp_test_multiplier();
        for (long it = 0; it < n; it++) {
            int lo = 1 + (int)kp_rng_below(&rng, 12);
            int hi = lo + (int)kp_rng_below(&rng, (uint64_t)(max - lo + 8));
            int rc = kp_grammar_random_expr(&e, &g, lo, hi, &rng, &err);
            cr_assert_eq(rc, KP_OK, "iter %ld: %s", it, err.msg);
            check_valid(&g, &e, it, p == 0);
            cr_assert_leq(e.len, hi < max ? hi : max);
            /* Polynomials have odd lengths only (binary operators). */
            int top = hi < max ? hi : max;
            if (!(p == 1 && lo == top && lo % 2 == 0))
                shorter += e.len < lo;
            hist[e.len]++;
        }
        /* min_len is reachable in these grammars, so it is met. */
        cr_assert_eq(shorter, 0);
        /* Sizes spread over the range. */
        int distinct = 0;
        for (int l = 0; l <= KP_EXPR_MAX_LEN; l++)
            distinct += hist[l] > 0;
        cr_assert_geq(distinct, max / 2, "only %d lengths", distinct);
        cr_assert_eq(kp_grammar_random_expr(&e, &g, 5, 4, &rng, &err),
                     KP_EINPUT);
        cr_assert_eq(kp_grammar_random_expr(&e, &g, 0, 0, &rng, &err),
                     KP_EINPUT);
        kp_grammar_clear(&g);
    }
}

/* Counts complete expressions: through the masks (each draw exactly the
   allowed ones), and by brute force over all token sequences checked with
   kp_grammar_check_expr. The two must agree: the mask allows exactly the
   prefixes that can still be completed. */
static long count_masked(const kp_grammar_t *g, const kp_gstate_t *s)
{
    uint8_t mask[64];
    long total = 0;
    if (kp_gstate_done(s))
        return 1;
    int na = kp_gstate_allowed(s, g, mask);
    cr_assert_gt(na, 0);
    for (int i = 0; i < kp_grammar_nsymbols(g); i++)
        if (mask[i]) {
            kp_gstate_t t = *s;
            cr_assert_eq(kp_gstate_push(&t, g, i, NULL), KP_OK);
            total += count_masked(g, &t);
        }
    return total;
}

static long count_brute(const kp_grammar_t *g, int *seq, int len, int need)
{
    long total = 0;
    int n = kp_grammar_nsymbols(g);
    if (need == 0) {
        kp_expr_t e;
        int sym[KP_EXPR_MAX_LEN];
        cr_assert_eq(kp_grammar_build_expr(&e, g, seq, len, NULL), KP_OK);
        /* Count symbol sequences, not token sequences: the same literal
           may be a symbol of two types. */
        kp_grammar_expr_symbols(g, &e, sym);
        if (memcmp(sym, seq, (size_t)len * sizeof *sym) != 0)
            return 0;
        return kp_grammar_check_expr(g, &e, NULL) == KP_OK;
    }
    if (len + need > kp_grammar_max_length(g))
        return 0;
    for (int i = 0; i < n; i++) {
        seq[len] = i;
        total += count_brute(g, seq, len + 1,
                             need - 1 + kp_grammar_symbol(g, i)->arity);
    }
    return total;
}

Test(grammar, masks_allow_exactly_the_completable_prefixes)
{
    const char *texts[] = {
        "limit length 7\nlimit depth 4\ntype real pw\n"
        "op + real real -> real\nop sin real -> real\nop exp real -> real\n"
        "op ** real pw -> real\nterminal inputs -> real\n"
        "terminal const -> real\nliteral 2 -> pw\nliteral 2 -> real\n"
        "forbid descendant sin exp : sin exp\nforbid child ** : ** const\n",
        /* A type reachable only through a unary chain under limits. */
        "limit length 6\nlimit depth 5\ntype a b\nstart a\n"
        "op sin b -> a\nop cos a -> b\nop + a a -> a\nterminal pi -> b\n"
        "terminal inputs -> b\nforbid descendant cos : pi\n",
        /* A child rule that makes completions longer: sin(x) is out. */
        "limit length 8\nlimit depth 5\ntype real\nop sin real -> real\n"
        "op + real real -> real\nterminal inputs -> real\n"
        "forbid child sin : inputs\n",
    };
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        kp_grammar_t g;
        kp_error_t err;
        kp_gstate_t s;
        int seq[KP_EXPR_MAX_LEN];
        kp_grammar_init(&g);
        cr_assert_eq(kp_grammar_load_string(&g, texts[k], NULL, &err), KP_OK,
                     "%s", err.msg);
        cr_assert_eq(kp_grammar_bind(&g, 2, NULL, &err), KP_OK);
        cr_assert_eq(kp_gstate_init(&s, &g, &err), KP_OK);
        long a = count_masked(&g, &s);
        long b = count_brute(&g, seq, 0, 1);
        cr_assert_eq(a, b, "grammar %zu: masks %ld, brute force %ld", k, a, b);
        cr_assert_gt(a, 10);
        kp_grammar_clear(&g);
    }
}

Test(grammar, check_complexity_and_symbols_by_hand)
{
    kp_grammar_t g;
    kp_error_t err;
    kp_expr_t e;
    load_bound(&g, PHYSICS, 2);
    int add = sym_named(&g, "+", NULL), sin = sym_named(&g, "sin", NULL);
    int cos = sym_named(&g, "cos", NULL), pw = sym_named(&g, "**", NULL);
    int x = sym_named(&g, "x", NULL), two_e = sym_named(&g, "2", "exponent");
    int two_r = sym_named(&g, "2", "real"), c = sym_named(&g, "const", NULL);
    int log = sym_named(&g, "log", NULL), exp = sym_named(&g, "exp", NULL);
    cr_assert_neq(two_e, two_r);

    /* sin(x) + x**2: 1 + 2 + 1 + 1 + 1 + 1. */
    int ok[] = {add, sin, x, pw, x, two_e};
    cr_assert_eq(kp_grammar_build_expr(&e, &g, ok, 6, &err), KP_OK);
    cr_assert_eq(kp_grammar_check_expr(&g, &e, &err), KP_OK, "%s", err.msg);
    cr_assert_eq(kp_grammar_complexity(&g, &e), 7);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(kp_grammar_symbol_at(&g, &e, i), ok[i]);

    /* The same 2 under + is the real literal, not the exponent. */
    int ok2[] = {add, x, two_r};
    cr_assert_eq(kp_grammar_build_expr(&e, &g, ok2, 3, &err), KP_OK);
    cr_assert_eq(kp_grammar_symbol_at(&g, &e, 2), two_r);
    cr_assert_eq(kp_grammar_check_expr(&g, &e, &err), KP_OK);

    /* sin(x + cos(x)): trig inside trig. */
    int bad1[] = {sin, add, x, cos, x};
    cr_assert_eq(kp_grammar_build_expr(&e, &g, bad1, 5, &err), KP_OK);
    cr_assert_eq(kp_grammar_check_expr(&g, &e, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "forbid descendant") != NULL, "%s", err.msg);
    cr_assert(strstr(err.msg, "token 3 (cos)") != NULL, "%s", err.msg);

    /* exp(const): function of a constant. */
    int bad2[] = {exp, c};
    cr_assert_eq(kp_grammar_build_expr(&e, &g, bad2, 2, &err), KP_OK);
    cr_assert_eq(kp_grammar_check_expr(&g, &e, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "forbid child") != NULL, "%s", err.msg);

    /* log(exp(x)) is forbidden, log(x) is fine. */
    int bad3[] = {log, exp, x};
    cr_assert_eq(kp_grammar_build_expr(&e, &g, bad3, 3, &err), KP_OK);
    cr_assert_eq(kp_grammar_check_expr(&g, &e, &err), KP_EINPUT);

    /* Tokens outside the grammar: a literal 7, tanh, a real exponent. */
    kp_expr_init(&e);
    kp_expr_push_op(&e, KP_OP_ADD);
    kp_expr_push_var(&e, 0);
    kp_expr_push_op(&e, KP_OP_TANH);
    kp_expr_push_rational(&e, 7, 1);
    cr_assert_eq(kp_expr_finish(&e, &err), KP_OK);
    cr_assert_eq(kp_grammar_check_expr(&g, &e, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "token 2 (tanh)") != NULL, "%s", err.msg);
    cr_assert_eq(kp_grammar_symbol_at(&g, &e, 2), -1);
    cr_assert_eq(kp_grammar_symbol_at(&g, &e, 3), -1);
    /* + 1, x 1, tanh 1 (not in grammar), 7 1 (not in grammar). */
    cr_assert_eq(kp_grammar_complexity(&g, &e), 4);

    kp_expr_init(&e);
    kp_expr_push_op(&e, KP_OP_POW);
    kp_expr_push_var(&e, 1);
    kp_expr_push_const(&e, 0.5);
    cr_assert_eq(kp_expr_finish(&e, &err), KP_OK);
    cr_assert_eq(kp_grammar_check_expr(&g, &e, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "type exponent") != NULL, "%s", err.msg);

    /* Too long: x + x + ... beyond 30 tokens. */
    kp_expr_init(&e);
    for (int i = 0; i < 16; i++)
        kp_expr_push_op(&e, KP_OP_ADD);
    for (int i = 0; i < 17; i++)
        kp_expr_push_var(&e, 0);
    cr_assert_eq(kp_expr_finish(&e, &err), KP_OK);
    cr_assert_eq(kp_grammar_check_expr(&g, &e, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "length 33") != NULL, "%s", err.msg);
    kp_grammar_clear(&g);
}

Test(grammar, tight_limits_never_get_stuck)
{
    /* Length and depth limits that bite all the time. */
    kp_rng_t rng;
    kp_test_rng_init(&rng);
    for (int L = 1; L <= 9; L++)
        for (int D = 1; D <= 5; D++) {
            char text[512];
            kp_grammar_t g;
            kp_error_t err;
            kp_expr_t e;
            snprintf(text, sizeof text,
                     "limit length %d\nlimit depth %d\ntype real\n"
                     "op + real real -> real\nop - real real -> real\n"
                     "op sqrt real -> real\nop exp real -> real\n"
                     "terminal inputs -> real\nliteral 1/3 -> real\n"
                     "forbid descendant exp: exp\n",
                     L, D);
            kp_grammar_init(&g);
            cr_assert_eq(kp_grammar_load_string(&g, text, NULL, &err), KP_OK);
            cr_assert_eq(kp_grammar_bind(&g, 1, NULL, &err), KP_OK);
            for (int it = 0; it < 40; it++) {
                sample_and_check(&g, &rng, &e, it);
                cr_assert_eq(kp_grammar_check_expr(&g, &e, &err), KP_OK,
                             "%s", err.msg);
                cr_assert_eq(kp_grammar_random_expr(&e, &g, 1, L, &rng, &err),
                             KP_OK);
                cr_assert_eq(kp_grammar_check_expr(&g, &e, &err), KP_OK);
            }
            kp_grammar_clear(&g);
        }
}
