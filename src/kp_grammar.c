/* kp_grammar.c: the grammar loader, the symbol vocabulary, masks for
   prefix generation, random expressions and rule checks.

   The central quantity is est(type, F, pc, levels): the fewest tokens of a
   subtree of the given type whose root may not be of a class in F (banned
   by ancestors) nor in the child rules of the parent class pc, within the
   given number of depth levels (EST_INF if none). It satisfies
       est = min over allowed symbols s of 1 + sum of est(args of s)
   exactly, which is what makes the masks sound: a generation state keeps
   len + sum(est of pending slots) <= max_len, and the symbol that attains
   the minimum of the top slot always keeps that invariant, so the mask is
   never empty before the expression is complete. */
#include "kp_grammar.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EST_INF (1 << 20)
#define MEMO_SLOTS 512
#define MAX_WORDS 512
#define LITERAL_MAX 1000000000000LL
#define COST_MAX 1000000
#define FILE_MAX_BYTES (1 << 20)

/* ---------------------------------------------------------------------- */
/* est with a per-call memo (the grammar stays read-only, so reentrant)   */

typedef struct {
    const kp_grammar_t *g;
    uint64_t key[MEMO_SLOTS];
    int val[MEMO_SLOTS];
    uint8_t used[MEMO_SLOTS];
} est_ctx_t;

static void est_ctx_init(est_ctx_t *c, const kp_grammar_t *g)
{
    c->g = g;
    memset(c->used, 0, sizeof c->used);
}

static int est(est_ctx_t *c, int type, uint32_t forbid, int pc, int levels)
{
    const kp_grammar_t *g = c->g;
    uint32_t ban = forbid | g->forbid_child[pc];

    if (levels < 1)
        return EST_INF;
    if (g->leaf_cls[type] & ~ban)
        return 1;
    if (levels < 2 || g->nnonleaf == 0)
        return EST_INF;

    uint64_t key = (uint64_t)type | (uint64_t)pc << 8 |
                   (uint64_t)levels << 16 | (uint64_t)forbid << 32;
    unsigned h = (unsigned)((key * 0x9E3779B97F4A7C15ULL) >> 55);
    unsigned slot = MEMO_SLOTS;
    for (unsigned probe = 0; probe < 16; probe++) {
        unsigned k = (h + probe) % MEMO_SLOTS;
        if (!c->used[k]) {
            slot = k;
            break;
        }
        if (c->key[k] == key)
            return c->val[k];
    }

    int best = EST_INF;
    for (int k = 0; k < g->nnonleaf; k++) {
        const kp_gsym_t *s = &g->sym[g->nonleaf[k]];
        if (s->type != type || (ban >> s->cls & 1))
            continue;
        uint32_t f2 = forbid | g->forbid_desc[s->cls];
        int tot = 1;
        for (int j = 0; j < s->arity && tot < best; j++)
            tot += est(c, s->arg_type[j], f2, s->cls, levels - 1);
        if (tot < best)
            best = tot;
    }
    /* The recursion may have filled the slot we found; find one again. */
    if (slot < MEMO_SLOTS) {
        for (unsigned probe = 0; probe < 16; probe++) {
            unsigned k = (h + probe) % MEMO_SLOTS;
            if (!c->used[k]) {
                c->used[k] = 1;
                c->key[k] = key;
                c->val[k] = best;
                break;
            }
        }
    }
    return best;
}

static int parent_class(const kp_grammar_t *g, int parent)
{
    return parent < 0 ? KP_GCLASS_ROOT : g->sym[parent].cls;
}

/* ---------------------------------------------------------------------- */
/* the symbol view: decls expanded (bound) or with placeholders (unbound) */

static void view_free(kp_grammar_t *g)
{
    free(g->sym);
    g->sym = NULL;
    g->nsym = 0;
    g->bound = 0;
    g->nvars = 0;
}

/* Builds g->sym and the lookup tables from the declarations. nvars < 0
   keeps one placeholder per `terminal inputs` (unbound view). */
static int view_build(kp_grammar_t *g, int nvars, const char *const *names)
{
    int nin = 0;
    for (int i = 0; i < g->ndecl; i++)
        nin += g->decl[i].kind == KP_GSYM_VAR;
    size_t n = (size_t)(g->ndecl - nin) +
               (size_t)nin * (size_t)(nvars < 0 ? 1 : nvars);
    kp_gsym_t *sym = malloc((n ? n : 1) * sizeof *sym);
    if (sym == NULL)
        return KP_ENOMEM;
    view_free(g);
    g->sym = sym;
    g->nsym = 0;
    g->nnonleaf = 0;
    g->nlit = 0;
    memset(g->leaf_cls, 0, sizeof g->leaf_cls);
    for (int t = 0; t < KP_GRAMMAR_MAX_TYPES; t++) {
        g->var_base[t] = -1;
        g->const_sym[t] = -1;
        for (int op = 0; op < KP_OP_COUNT; op++)
            g->op_sym[op][t] = -1;
    }
    for (int i = 0; i < g->ndecl; i++) {
        const kp_gsym_t *d = &g->decl[i];
        if (d->kind == KP_GSYM_VAR && nvars >= 0) {
            g->var_base[d->type] = g->nsym;
            for (int v = 0; v < nvars; v++) {
                kp_gsym_t *s = &g->sym[g->nsym++];
                *s = *d;
                s->tok = (kp_tok_t)(KP_TOK_VAR + v);
                if (names != NULL && names[v] != NULL)
                    snprintf(s->name, sizeof s->name, "%s", names[v]);
                else
                    snprintf(s->name, sizeof s->name, "x%d", v);
            }
            continue;
        }
        int k = g->nsym++;
        g->sym[k] = *d;
        if (d->kind == KP_GSYM_VAR)
            g->var_base[d->type] = k;
        else if (d->kind == KP_GSYM_CONST)
            g->const_sym[d->type] = k;
        else if (d->kind == KP_GSYM_LITERAL)
            g->lit[g->nlit++] = k;
        else
            g->op_sym[d->tok][d->type] = k;
        if (d->arity > 0)
            g->nonleaf[g->nnonleaf++] = k;
    }
    for (int k = 0; k < g->nsym; k++)
        if (g->sym[k].arity == 0)
            g->leaf_cls[g->sym[k].type] |= 1u << g->sym[k].cls;
    g->nvars = nvars < 0 ? 0 : nvars;
    g->bound = nvars >= 0;
    return KP_OK;
}

static int root_est(const kp_grammar_t *g, int max_depth)
{
    est_ctx_t c;
    est_ctx_init(&c, g);
    return est(&c, g->start, 0, KP_GCLASS_ROOT, max_depth);
}

/* ---------------------------------------------------------------------- */
/* the parser                                                              */

typedef struct {
    const char *s;
    int len;
    long col;
} word_t;

typedef struct {
    kp_grammar_t *g;
    const char *src;
    long line;
    long eol_col; /* column just after the last word of the line */
    kp_error_t *err;
    long decl_line[KP_GRAMMAR_MAX_DECLS];
    long type_line[KP_GRAMMAR_MAX_TYPES], type_col[KP_GRAMMAR_MAX_TYPES];
    int have_name, have_start, have_len, have_depth;
    long name_line, name_col, start_line, start_col;
    long len_line, len_col, depth_line, depth_col;
} parser_t;

static int perr_at(parser_t *p, long line, long col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int perr_at(parser_t *p, long line, long col, const char *fmt, ...)
{
    char msg[KP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kp_error_set(p->err, KP_EINPUT, p->src, line, col, "%s", msg);
}

#define PERR(p, col, ...) perr_at((p), (p)->line, (col), __VA_ARGS__)

static int weq(const word_t *w, const char *s)
{
    return (int)strlen(s) == w->len && memcmp(w->s, s, (size_t)w->len) == 0;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Splits one line into words: blanks separate, `#` starts a comment, `:`
   and `->` are words of their own even when glued to others. */
static int split_words(parser_t *p, const char *line, int n, word_t *w,
                       int *nw)
{
    int k = 0;
    int i = 0;
    p->eol_col = 1;
    while (i < n) {
        char c = line[i];
        if (is_blank(c)) {
            i++;
            continue;
        }
        if (c == '#')
            break;
        int j = i;
        if (c == ':')
            j = i + 1;
        else if (c == '-' && i + 1 < n && line[i + 1] == '>')
            j = i + 2;
        else
            while (j < n && !is_blank(line[j]) && line[j] != '#' &&
                   line[j] != ':' &&
                   !(line[j] == '-' && j + 1 < n && line[j + 1] == '>'))
                j++;
        if (k == MAX_WORDS)
            return PERR(p, i + 1, "too many words on one line (at most %d)",
                        MAX_WORDS);
        w[k].s = line + i;
        w[k].len = j - i;
        w[k].col = i + 1;
        k++;
        p->eol_col = j + 1;
        i = j;
    }
    *nw = k;
    return KP_OK;
}

static int is_ident(const word_t *w)
{
    if (w->len == 0 || w->len >= KP_GRAMMAR_NAME_MAX)
        return 0;
    for (int i = 0; i < w->len; i++) {
        char c = w->s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

/* Non-negative decimal integer up to max; 0 on success. */
static int parse_uint(const word_t *w, long long max, long long *out)
{
    long long v = 0;
    if (w->len == 0)
        return -1;
    for (int i = 0; i < w->len; i++) {
        char c = w->s[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    if (a < 0)
        a = -a;
    while (b != 0) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* [-]digits[/digits], reduced to lowest terms; 0 on success. */
static int parse_rational(const word_t *w, int64_t *num, int64_t *den)
{
    word_t a = *w, b;
    int neg = 0;
    long long n, d = 1;
    if (a.len > 0 && (a.s[0] == '-' || a.s[0] == '+')) {
        neg = a.s[0] == '-';
        a.s++;
        a.len--;
    }
    const char *slash = memchr(a.s, '/', (size_t)a.len);
    if (slash != NULL) {
        b.s = slash + 1;
        b.len = a.len - (int)(slash + 1 - a.s);
        a.len = (int)(slash - a.s);
        if (parse_uint(&b, LITERAL_MAX, &d) != 0 || d == 0)
            return -1;
    }
    if (parse_uint(&a, LITERAL_MAX, &n) != 0)
        return -1;
    int64_t gg = gcd64(n, d);
    if (gg == 0)
        gg = 1;
    *num = (neg ? -n : n) / gg;
    *den = d / gg;
    return 0;
}

static int find_type(const kp_grammar_t *g, const word_t *w)
{
    for (int t = 0; t < g->ntypes; t++)
        if (weq(w, g->type_name[t]))
            return t;
    return -1;
}

static int need_type(parser_t *p, const word_t *w, int *type)
{
    *type = find_type(p->g, w);
    if (*type < 0)
        return PERR(p, w->col, "unknown type '%.*s' (declare it with `type`)",
                    w->len, w->s);
    return KP_OK;
}

/* Parses `-> TYPE [cost N]` starting at word i, which must be `->`. */
static int parse_result(parser_t *p, word_t *w, int nw, int i, int *type,
                        int *cost)
{
    int rc;
    if (i >= nw || !weq(&w[i], "->"))
        return PERR(p, i < nw ? w[i].col : p->eol_col,
                    "expected '->' and a result type");
    if (i + 1 >= nw)
        return PERR(p, p->eol_col, "expected a result type after '->'");
    if ((rc = need_type(p, &w[i + 1], type)) != KP_OK)
        return rc;
    *cost = 1;
    i += 2;
    if (i < nw && weq(&w[i], "cost")) {
        long long c;
        if (i + 1 >= nw)
            return PERR(p, p->eol_col, "expected a cost after 'cost'");
        if (parse_uint(&w[i + 1], COST_MAX, &c) != 0)
            return PERR(p, w[i + 1].col,
                        "bad cost '%.*s' (an integer from 0 to %d)",
                        w[i + 1].len, w[i + 1].s, COST_MAX);
        *cost = (int)c;
        i += 2;
    }
    if (i < nw)
        return PERR(p, w[i].col, "unexpected '%.*s' after the result type",
                    w[i].len, w[i].s);
    return KP_OK;
}

static int same_symbol(const kp_gsym_t *a, const kp_gsym_t *b)
{
    if (a->kind != b->kind || a->type != b->type)
        return 0;
    switch (a->kind) {
    case KP_GSYM_OP:
        return a->tok == b->tok;
    case KP_GSYM_LITERAL:
        return a->num == b->num && a->den == b->den;
    default:
        return 1;
    }
}

static int add_decl(parser_t *p, const kp_gsym_t *d, const word_t *w)
{
    kp_grammar_t *g = p->g;
    for (int i = 0; i < g->ndecl; i++)
        if (same_symbol(&g->decl[i], d))
            return PERR(p, w->col,
                        "duplicate symbol '%s' of type %s (already declared "
                        "on line %ld)",
                        d->name, g->type_name[d->type], p->decl_line[i]);
    if (g->ndecl == KP_GRAMMAR_MAX_DECLS)
        return PERR(p, w->col, "too many symbols (at most %d)",
                    KP_GRAMMAR_MAX_DECLS);
    p->decl_line[g->ndecl] = p->line;
    g->decl[g->ndecl++] = *d;
    return KP_OK;
}

static void sym_blank(kp_gsym_t *d)
{
    memset(d, 0, sizeof *d);
    d->arg_type[0] = d->arg_type[1] = -1;
    d->cost = 1;
}

static int dir_op(parser_t *p, word_t *w, int nw)
{
    kp_gsym_t d;
    int rc, arrow = -1;
    if (nw < 2)
        return PERR(p, p->eol_col, "expected an operator name after 'op'");
    int op = kp_op_lookup(w[1].s, w[1].len);
    if (op < 0)
        return PERR(p, w[1].col, "unknown operator '%.*s'", w[1].len, w[1].s);
    for (int i = 2; i < nw; i++)
        if (weq(&w[i], "->")) {
            arrow = i;
            break;
        }
    if (arrow < 0)
        return PERR(p, p->eol_col, "expected '->' and a result type");
    int arity = kp_op_table[op].arity;
    int given = arrow - 2;
    if (given > arity)
        return PERR(p, w[2 + arity].col,
                    "'%s' takes %d argument%s, %d types given",
                    kp_op_table[op].name, arity, arity == 1 ? "" : "s", given);
    if (given < arity)
        return PERR(p, w[arrow].col,
                    "'%s' takes %d argument%s, %d types given",
                    kp_op_table[op].name, arity, arity == 1 ? "" : "s", given);
    sym_blank(&d);
    d.kind = KP_GSYM_OP;
    d.cls = op;
    d.tok = (kp_tok_t)op;
    d.arity = arity;
    d.den = 1;
    snprintf(d.name, sizeof d.name, "%s", kp_op_table[op].name);
    for (int j = 0; j < arity; j++)
        if ((rc = need_type(p, &w[2 + j], &d.arg_type[j])) != KP_OK)
            return rc;
    if ((rc = parse_result(p, w, nw, arrow, &d.type, &d.cost)) != KP_OK)
        return rc;
    return add_decl(p, &d, &w[1]);
}

static int dir_terminal(parser_t *p, word_t *w, int nw)
{
    kp_gsym_t d;
    int rc;
    if (nw < 2 || weq(&w[1], "->"))
        return PERR(p, nw < 2 ? p->eol_col : w[1].col,
                    "expected 'inputs', 'const' or a named constant after "
                    "'terminal'");
    sym_blank(&d);
    if (weq(&w[1], "inputs")) {
        d.kind = KP_GSYM_VAR;
        d.cls = KP_GCLASS_INPUTS;
        d.tok = KP_TOK_VAR;
        d.den = 1;
        snprintf(d.name, sizeof d.name, "inputs");
    } else if (weq(&w[1], "const")) {
        d.kind = KP_GSYM_CONST;
        d.cls = KP_GCLASS_CONST;
        d.tok = KP_TOK_CONST;
        d.den = 0;
        snprintf(d.name, sizeof d.name, "const");
    } else {
        int op = kp_op_lookup(w[1].s, w[1].len);
        if (op < 0)
            return PERR(p, w[1].col,
                        "unknown terminal '%.*s' (inputs, const, or a "
                        "constant such as pi)",
                        w[1].len, w[1].s);
        if (kp_op_table[op].arity != 0)
            return PERR(p, w[1].col,
                        "'%s' takes %d argument%s: declare it with `op`",
                        kp_op_table[op].name, kp_op_table[op].arity,
                        kp_op_table[op].arity == 1 ? "" : "s");
        d.kind = KP_GSYM_OP;
        d.cls = op;
        d.tok = (kp_tok_t)op;
        d.den = 1;
        snprintf(d.name, sizeof d.name, "%s", kp_op_table[op].name);
    }
    if ((rc = parse_result(p, w, nw, 2, &d.type, &d.cost)) != KP_OK)
        return rc;
    return add_decl(p, &d, &w[1]);
}

static int dir_literal(parser_t *p, word_t *w, int nw)
{
    int rc, arrow = -1, type, cost;
    for (int i = 1; i < nw; i++)
        if (weq(&w[i], "->")) {
            arrow = i;
            break;
        }
    if (arrow < 0)
        return PERR(p, p->eol_col, "expected '->' and a result type");
    if (arrow == 1)
        return PERR(p, w[1].col, "expected at least one number before '->'");
    for (int i = 1; i < arrow; i++) {
        int64_t num, den;
        if (parse_rational(&w[i], &num, &den) != 0)
            return PERR(p, w[i].col,
                        "bad number '%.*s' (an integer or p/q, at most 10^12)",
                        w[i].len, w[i].s);
    }
    if ((rc = parse_result(p, w, nw, arrow, &type, &cost)) != KP_OK)
        return rc;
    for (int i = 1; i < arrow; i++) {
        kp_gsym_t d;
        sym_blank(&d);
        d.kind = KP_GSYM_LITERAL;
        d.cls = KP_GCLASS_LITERAL;
        d.tok = KP_TOK_CONST;
        d.type = type;
        d.cost = cost;
        parse_rational(&w[i], &d.num, &d.den);
        if (d.den == 1)
            snprintf(d.name, sizeof d.name, "%lld", (long long)d.num);
        else
            snprintf(d.name, sizeof d.name, "%lld/%lld", (long long)d.num,
                     (long long)d.den);
        if ((rc = add_decl(p, &d, &w[i])) != KP_OK)
            return rc;
    }
    return KP_OK;
}

static int class_of_word(const word_t *w)
{
    if (weq(w, "inputs"))
        return KP_GCLASS_INPUTS;
    if (weq(w, "const"))
        return KP_GCLASS_CONST;
    if (weq(w, "literal"))
        return KP_GCLASS_LITERAL;
    return kp_op_lookup(w->s, w->len);
}

static int dir_forbid(parser_t *p, word_t *w, int nw)
{
    uint32_t *table;
    int colon = -1;
    if (nw < 2)
        return PERR(p, p->eol_col, "expected 'child' or 'descendant'");
    if (weq(&w[1], "child"))
        table = p->g->forbid_child;
    else if (weq(&w[1], "descendant"))
        table = p->g->forbid_desc;
    else
        return PERR(p, w[1].col,
                    "expected 'child' or 'descendant', not '%.*s'", w[1].len,
                    w[1].s);
    for (int i = 2; i < nw; i++) {
        if (weq(&w[i], ":")) {
            if (colon >= 0)
                return PERR(p, w[i].col, "a second ':'");
            colon = i;
            continue;
        }
        if (class_of_word(&w[i]) < 0)
            return PERR(p, w[i].col,
                        "unknown symbol '%.*s' (an operator, inputs, const "
                        "or literal)",
                        w[i].len, w[i].s);
    }
    if (colon < 0)
        return PERR(p, p->eol_col,
                    "expected ':' between parents and children");
    if (colon == 2)
        return PERR(p, w[colon].col, "expected a parent symbol before ':'");
    if (colon == nw - 1)
        return PERR(p, p->eol_col, "expected a child symbol after ':'");
    for (int i = 2; i < colon; i++)
        for (int j = colon + 1; j < nw; j++)
            table[class_of_word(&w[i])] |= 1u << class_of_word(&w[j]);
    return KP_OK;
}

static int dir_limit(parser_t *p, word_t *w, int nw)
{
    long long v;
    if (nw < 2)
        return PERR(p, p->eol_col, "expected 'length' or 'depth'");
    int is_len = weq(&w[1], "length");
    if (!is_len && !weq(&w[1], "depth"))
        return PERR(p, w[1].col, "expected 'length' or 'depth', not '%.*s'",
                    w[1].len, w[1].s);
    if ((is_len && p->have_len) || (!is_len && p->have_depth))
        return PERR(p, w[1].col, "duplicate limit %s", is_len ? "length"
                                                              : "depth");
    if (nw < 3)
        return PERR(p, p->eol_col, "expected a number");
    if (parse_uint(&w[2], 1000000, &v) != 0 || v < 1 || v > KP_EXPR_MAX_LEN)
        return PERR(p, w[2].col, "limit %s must be an integer from 1 to %d",
                    is_len ? "length" : "depth", KP_EXPR_MAX_LEN);
    if (nw > 3)
        return PERR(p, w[3].col, "unexpected '%.*s'", w[3].len, w[3].s);
    if (is_len) {
        p->g->max_len = (int)v;
        p->have_len = 1;
        p->len_line = p->line;
        p->len_col = w[2].col;
    } else {
        p->g->max_depth = (int)v;
        p->have_depth = 1;
        p->depth_line = p->line;
        p->depth_col = w[2].col;
    }
    return KP_OK;
}

static int dir_type(parser_t *p, word_t *w, int nw)
{
    kp_grammar_t *g = p->g;
    if (nw < 2)
        return PERR(p, p->eol_col, "expected a type name");
    for (int i = 1; i < nw; i++) {
        if (!is_ident(&w[i]))
            return PERR(p, w[i].col, "bad type name '%.*s' (letters, digits, "
                        "_; at most %d characters)",
                        w[i].len, w[i].s, KP_GRAMMAR_NAME_MAX - 1);
        if (find_type(g, &w[i]) >= 0)
            return PERR(p, w[i].col, "duplicate type '%.*s'", w[i].len,
                        w[i].s);
        if (g->ntypes == KP_GRAMMAR_MAX_TYPES)
            return PERR(p, w[i].col, "too many types (at most %d)",
                        KP_GRAMMAR_MAX_TYPES);
        p->type_line[g->ntypes] = p->line;
        p->type_col[g->ntypes] = w[i].col;
        snprintf(g->type_name[g->ntypes++], KP_GRAMMAR_NAME_MAX, "%.*s",
                 w[i].len, w[i].s);
    }
    return KP_OK;
}

static int dir_line(parser_t *p, word_t *w, int nw)
{
    kp_grammar_t *g = p->g;
    if (weq(&w[0], "op"))
        return dir_op(p, w, nw);
    if (weq(&w[0], "terminal"))
        return dir_terminal(p, w, nw);
    if (weq(&w[0], "literal"))
        return dir_literal(p, w, nw);
    if (weq(&w[0], "forbid"))
        return dir_forbid(p, w, nw);
    if (weq(&w[0], "limit"))
        return dir_limit(p, w, nw);
    if (weq(&w[0], "type"))
        return dir_type(p, w, nw);
    if (weq(&w[0], "grammar") || weq(&w[0], "start")) {
        int is_name = weq(&w[0], "grammar");
        if ((is_name && p->have_name) || (!is_name && p->have_start))
            return PERR(p, w[0].col, "duplicate '%s' line",
                        is_name ? "grammar" : "start");
        if (nw < 2)
            return PERR(p, p->eol_col, "expected a name");
        if (nw > 2)
            return PERR(p, w[2].col, "unexpected '%.*s'", w[2].len, w[2].s);
        if (is_name) {
            if (!is_ident(&w[1]))
                return PERR(p, w[1].col, "bad grammar name '%.*s'", w[1].len,
                            w[1].s);
            snprintf(g->name, sizeof g->name, "%.*s", w[1].len, w[1].s);
            p->have_name = 1;
            p->name_line = p->line;
            p->name_col = w[1].col;
        } else {
            int rc = need_type(p, &w[1], &g->start);
            if (rc != KP_OK)
                return rc;
            p->have_start = 1;
            p->start_line = p->line;
            p->start_col = w[1].col;
        }
        return KP_OK;
    }
    return PERR(p, w[0].col,
                "unknown directive '%.*s' (grammar, limit, type, start, op, "
                "terminal, literal, forbid)",
                w[0].len, w[0].s);
}

/* Whole-grammar checks once every line is read. */
static int finish(parser_t *p)
{
    kp_grammar_t *g = p->g;
    int rc;
    if (g->ntypes == 0)
        return perr_at(p, p->have_name ? p->name_line : 1,
                       p->have_name ? p->name_col : 1,
                       "no type declared (e.g. `type real`)");
    long sline = p->have_start ? p->start_line : p->type_line[g->start];
    long scol = p->have_start ? p->start_col : p->type_col[g->start];

    int nleaf = 0, maxarity = 0, nconst = 0;
    for (int i = 0; i < g->ndecl; i++) {
        nleaf += g->decl[i].arity == 0;
        if (g->decl[i].arity > maxarity)
            maxarity = g->decl[i].arity;
        nconst += g->decl[i].tok == KP_TOK_CONST;
    }
    if (nleaf == 0)
        return perr_at(p, sline, scol,
                       "no terminal or literal: no expression can end");

    /* Types some finite tree can have, ignoring rules and limits. */
    int made[KP_GRAMMAR_MAX_TYPES] = {0};
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < g->ndecl; i++) {
            const kp_gsym_t *d = &g->decl[i];
            int ok = !made[d->type];
            for (int j = 0; j < d->arity; j++)
                ok = ok && made[d->arg_type[j]];
            if (ok)
                made[d->type] = changed = 1;
        }
    }
    for (int t = 0; t < g->ntypes; t++)
        if (!made[t])
            return perr_at(p, p->type_line[t], p->type_col[t],
                           "no finite expression has type %s (no terminal or "
                           "literal produces it)",
                           g->type_name[t]);

    /* Every constant token takes a slot of the expression's constant pool. */
    int maxleaves = maxarity <= 1 ? 1 : (g->max_len + 1) / 2;
    if (nconst > 0 && maxleaves > KP_EXPR_MAX_CONSTS)
        return perr_at(p, p->have_len ? p->len_line : sline,
                       p->have_len ? p->len_col : scol,
                       "limit length %d allows more than %d constants; with "
                       "const or literal symbols the limit is %d",
                       g->max_len, KP_EXPR_MAX_CONSTS,
                       2 * KP_EXPR_MAX_CONSTS - 1);

    if ((rc = view_build(g, -1, NULL)) != KP_OK)
        return kp_error_set(p->err, rc, p->src, 0, 0, "out of memory");
    int r = root_est(g, g->max_depth);
    if (r > g->max_len) {
        long line = p->have_depth ? p->depth_line
                                  : p->have_len ? p->len_line : sline;
        long col = p->have_depth ? p->depth_col
                                 : p->have_len ? p->len_col : scol;
        return perr_at(p, line, col,
                       "no expression of type %s fits in length %d and depth "
                       "%d under the forbid rules",
                       g->type_name[g->start], g->max_len, g->max_depth);
    }
    return KP_OK;
}

static void grammar_reset(kp_grammar_t *g)
{
    free(g->sym);
    memset(g, 0, sizeof *g);
    g->max_len = KP_GRAMMAR_DEFAULT_LENGTH;
    g->max_depth = KP_GRAMMAR_DEFAULT_DEPTH;
    snprintf(g->name, sizeof g->name, "unnamed");
}

void kp_grammar_init(kp_grammar_t *g)
{
    g->sym = NULL;
    grammar_reset(g);
}

void kp_grammar_clear(kp_grammar_t *g)
{
    grammar_reset(g);
}

/* The default name: the file's base name without ".grammar". */
static void default_name(kp_grammar_t *g, const char *src)
{
    const char *b = strrchr(src, '/');
    b = b ? b + 1 : src;
    size_t n = strlen(b);
    if (n > 8 && strcmp(b + n - 8, ".grammar") == 0)
        n -= 8;
    if (n == 0 || n >= sizeof g->name || b[0] == '<')
        return;
    snprintf(g->name, sizeof g->name, "%.*s", (int)n, b);
}

int kp_grammar_load_string(kp_grammar_t *g, const char *text,
                           const char *source_name, kp_error_t *err)
{
    parser_t *p = calloc(1, sizeof *p);
    word_t *w = malloc(MAX_WORDS * sizeof *w);
    int rc = KP_OK;
    if (source_name == NULL)
        source_name = "<string>";
    grammar_reset(g);
    if (p == NULL || w == NULL) {
        rc = kp_error_set(err, KP_ENOMEM, source_name, 0, 0, "out of memory");
        goto done;
    }
    p->g = g;
    p->src = source_name;
    p->err = err;
    default_name(g, source_name);
    snprintf(g->source, sizeof g->source, "%s", source_name);
    const char *line = text;
    while (*line != '\0' || p->line == 0) {
        const char *end = strchr(line, '\n');
        int n = end ? (int)(end - line) : (int)strlen(line);
        int nw = 0;
        p->line++;
        if ((rc = split_words(p, line, n, w, &nw)) != KP_OK)
            goto done;
        if (nw > 0 && (rc = dir_line(p, w, nw)) != KP_OK)
            goto done;
        if (end == NULL)
            break;
        line = end + 1;
    }
    rc = finish(p);
done:
    if (rc != KP_OK)
        grammar_reset(g);
    free(w);
    free(p);
    return rc;
}

int kp_grammar_load_file(kp_grammar_t *g, const char *path, kp_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return kp_error_set(err, KP_EINPUT, path, 0, 0,
                            "cannot open grammar file: %s", strerror(errno));
    char *buf = malloc(FILE_MAX_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        return kp_error_set(err, KP_ENOMEM, path, 0, 0, "out of memory");
    }
    size_t n = fread(buf, 1, FILE_MAX_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad)
        rc = kp_error_set(err, KP_EINPUT, path, 0, 0,
                          "cannot read grammar file");
    else if (n > FILE_MAX_BYTES)
        rc = kp_error_set(err, KP_EINPUT, path, 0, 0,
                          "grammar file larger than %d bytes", FILE_MAX_BYTES);
    else if (memchr(buf, '\0', n) != NULL)
        rc = kp_error_set(err, KP_EINPUT, path, 0, 0,
                          "grammar file contains a NUL byte");
    else {
        buf[n] = '\0';
        rc = kp_grammar_load_string(g, buf, path, err);
    }
    free(buf);
    return rc;
}

static int try_dir(kp_grammar_t *g, const char *dir, size_t dirlen,
                   const char *name, int *found, kp_error_t *err)
{
    char path[4096];
    if (dirlen == 0)
        return KP_OK;
    int n = snprintf(path, sizeof path, "%.*s/%s.grammar", (int)dirlen, dir,
                     name);
    if (n < 0 || (size_t)n >= sizeof path || access(path, R_OK) != 0)
        return KP_OK;
    *found = 1;
    return kp_grammar_load_file(g, path, err);
}

int kp_grammar_load(kp_grammar_t *g, const char *name, kp_error_t *err)
{
    size_t n = strlen(name);
    int found = 0, rc;
    if (n == 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0, "empty grammar name");
    if (strchr(name, '/') != NULL ||
        (n > 8 && strcmp(name + n - 8, ".grammar") == 0))
        return kp_grammar_load_file(g, name, err);
    const char *env = getenv("KEPLER_GRAMMAR_PATH");
    while (env != NULL && *env != '\0') {
        const char *colon = strchr(env, ':');
        size_t len = colon ? (size_t)(colon - env) : strlen(env);
        rc = try_dir(g, env, len, name, &found, err);
        if (found)
            return rc;
        env = colon ? colon + 1 : NULL;
    }
#ifdef KP_SRCDIR
    rc = try_dir(g, KP_SRCDIR "/grammars", strlen(KP_SRCDIR "/grammars"),
                 name, &found, err);
    if (found)
        return rc;
#endif
#ifdef KP_DATADIR
    rc = try_dir(g, KP_DATADIR "/grammars", strlen(KP_DATADIR "/grammars"),
                 name, &found, err);
    if (found)
        return rc;
#endif
    return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                        "grammar '%s' not found (looked for %s.grammar in "
                        "$KEPLER_GRAMMAR_PATH and the installed grammars)",
                        name, name);
}

int kp_grammar_bind(kp_grammar_t *g, int nvars, const char *const *names,
                    kp_error_t *err)
{
    if (g->ntypes == 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "grammar not loaded");
    if (nvars < 0 || nvars > KP_MAX_VARS)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "%d input variables (at most %d)", nvars,
                            KP_MAX_VARS);
    int rc = view_build(g, nvars, names);
    if (rc != KP_OK)
        return kp_error_set(err, rc, NULL, 0, 0, "out of memory");
    if (root_est(g, g->max_depth) > g->max_len) {
        view_build(g, -1, NULL);
        return kp_error_set(err, KP_EINPUT, g->source, 0, 0,
                            "grammar %s cannot generate any expression with "
                            "%d input variable%s",
                            g->name, nvars, nvars == 1 ? "" : "s");
    }
    return KP_OK;
}

const char *kp_grammar_name(const kp_grammar_t *g)
{
    return g->name;
}

int kp_grammar_max_length(const kp_grammar_t *g)
{
    return g->max_len;
}

int kp_grammar_max_depth(const kp_grammar_t *g)
{
    return g->max_depth;
}

int kp_grammar_nsymbols(const kp_grammar_t *g)
{
    return g->nsym;
}

const kp_gsym_t *kp_grammar_symbol(const kp_grammar_t *g, int i)
{
    return i >= 0 && i < g->nsym ? &g->sym[i] : NULL;
}

int kp_grammar_type(const kp_grammar_t *g, const char *name)
{
    for (int t = 0; t < g->ntypes; t++)
        if (strcmp(g->type_name[t], name) == 0)
            return t;
    return -1;
}

int kp_grammar_var_symbol(const kp_grammar_t *g, int var)
{
    if (!g->bound || var < 0 || var >= g->nvars)
        return -1;
    for (int t = 0; t < g->ntypes; t++)
        if (g->var_base[t] >= 0)
            return g->var_base[t] + var;
    return -1;
}

/* ---------------------------------------------------------------------- */
/* expressions <-> symbols                                                 */

/* The symbol for token `tok` (constant c when tok is KP_TOK_CONST) of
   result type `type`, or -1; type -1 means any type (the first found). */
static int lookup_token(const kp_grammar_t *g, kp_tok_t tok,
                        const kp_const_t *c, int type)
{
    int lo = type < 0 ? 0 : type, hi = type < 0 ? g->ntypes - 1 : type;
    for (int t = lo; t <= hi; t++) {
        if (tok < KP_OP_COUNT) {
            if (g->op_sym[tok][t] >= 0)
                return g->op_sym[tok][t];
        } else if (kp_tok_is_var(tok)) {
            int v = kp_tok_var(tok);
            if (g->bound && g->var_base[t] >= 0 && v < g->nvars)
                return g->var_base[t] + v;
        } else if (tok == KP_TOK_CONST && c->den == 0) {
            if (g->const_sym[t] >= 0)
                return g->const_sym[t];
        } else if (tok == KP_TOK_CONST) {
            for (int k = 0; k < g->nlit; k++) {
                const kp_gsym_t *s = &g->sym[g->lit[k]];
                if (s->type == t && s->num == c->num && s->den == c->den)
                    return g->lit[k];
            }
        }
    }
    return -1;
}

/* expr_symbols plus the expected type of each position (-1: unknown). */
static int map_expr(const kp_grammar_t *g, const kp_expr_t *e, int *sym,
                    int *want)
{
    int stack[KP_EXPR_MAX_LEN + 2];
    int top = 0, missing = 0, k = 0;
    stack[top++] = g->ntypes > 0 ? g->start : -1;
    for (int pos = 0; pos < e->len; pos++) {
        kp_tok_t tok = e->tok[pos];
        int t = top > 0 ? stack[--top] : -1;
        const kp_const_t *c = NULL;
        if (tok == KP_TOK_CONST) {
            c = &e->c[k < KP_EXPR_MAX_CONSTS ? k : KP_EXPR_MAX_CONSTS - 1];
            k++;
        }
        int s = g->sym ? lookup_token(g, tok, c, t) : -1;
        sym[pos] = s;
        if (want)
            want[pos] = t;
        missing += s < 0;
        int a = kp_tok_arity(tok);
        for (int j = a - 1; j >= 0 && top < KP_EXPR_MAX_LEN + 2; j--)
            stack[top++] = s >= 0 ? g->sym[s].arg_type[j] : -1;
    }
    return missing;
}

int kp_grammar_expr_symbols(const kp_grammar_t *g, const kp_expr_t *e,
                            int *sym)
{
    return map_expr(g, e, sym, NULL);
}

int kp_grammar_symbol_at(const kp_grammar_t *g, const kp_expr_t *e, int pos)
{
    int sym[KP_EXPR_MAX_LEN];
    if (pos < 0 || pos >= e->len || e->len > KP_EXPR_MAX_LEN)
        return -1;
    map_expr(g, e, sym, NULL);
    return sym[pos];
}

static void token_text(char *buf, size_t n, const kp_expr_t *e, int pos)
{
    kp_tok_t tok = e->tok[pos];
    if (tok < KP_OP_COUNT)
        snprintf(buf, n, "%s", kp_op_table[tok].name);
    else if (kp_tok_is_var(tok))
        snprintf(buf, n, "x%d", kp_tok_var(tok));
    else {
        const kp_const_t *c = &e->c[kp_expr_const_index(e, pos)];
        if (c->den == 0)
            snprintf(buf, n, "free constant %.17g", c->value);
        else if (c->den == 1)
            snprintf(buf, n, "%lld", (long long)c->num);
        else
            snprintf(buf, n, "%lld/%lld", (long long)c->num,
                     (long long)c->den);
    }
}

int kp_grammar_check_expr(const kp_grammar_t *g, const kp_expr_t *e,
                          kp_error_t *err)
{
    int sym[KP_EXPR_MAX_LEN], want[KP_EXPR_MAX_LEN], parent[KP_EXPR_MAX_LEN];
    char a[64], b[64];
    if (!g->bound)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "grammar %s is not bound to input variables",
                            g->name);
    if (kp_expr_check(e, err) != KP_OK) {
        char why[KP_ERROR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "invalid expression: %s", why);
    }
    if (e->len > g->max_len)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "length %d exceeds the limit %d of grammar %s",
                            e->len, g->max_len, g->name);
    int depth = kp_expr_depth(e);
    if (depth > g->max_depth)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "depth %d exceeds the limit %d of grammar %s",
                            depth, g->max_depth, g->name);
    map_expr(g, e, sym, want);
    for (int pos = 0; pos < e->len; pos++)
        if (sym[pos] < 0) {
            token_text(a, sizeof a, e, pos);
            if (want[pos] >= 0)
                return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                    "token %d (%s) is not a symbol of type "
                                    "%s in grammar %s",
                                    pos, a, g->type_name[want[pos]], g->name);
            return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                "token %d (%s) is not a symbol of grammar %s",
                                pos, a, g->name);
        }
    parent[0] = -1;
    for (int pos = 0; pos < e->len; pos++) {
        int child = pos + 1;
        for (int j = 0; j < kp_tok_arity(e->tok[pos]); j++) {
            parent[child] = pos;
            child += e->size[child];
        }
    }
    for (int pos = 1; pos < e->len; pos++) {
        int cls = g->sym[sym[pos]].cls;
        int pa = parent[pos];
        if (g->forbid_child[g->sym[sym[pa]].cls] >> cls & 1) {
            token_text(a, sizeof a, e, pos);
            token_text(b, sizeof b, e, pa);
            return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                "token %d (%s) is a child of token %d (%s): "
                                "forbidden by `forbid child`",
                                pos, a, pa, b);
        }
        for (int an = pa; an >= 0; an = parent[an])
            if (g->forbid_desc[g->sym[sym[an]].cls] >> cls & 1) {
                token_text(a, sizeof a, e, pos);
                token_text(b, sizeof b, e, an);
                return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                    "token %d (%s) is inside token %d (%s): "
                                    "forbidden by `forbid descendant`",
                                    pos, a, an, b);
            }
    }
    return KP_OK;
}

int kp_grammar_complexity(const kp_grammar_t *g, const kp_expr_t *e)
{
    int sym[KP_EXPR_MAX_LEN];
    int total = 0;
    if (e->len > KP_EXPR_MAX_LEN)
        return 0;
    map_expr(g, e, sym, NULL);
    for (int pos = 0; pos < e->len; pos++)
        total += sym[pos] >= 0 ? g->sym[sym[pos]].cost : 1;
    return total;
}

int kp_grammar_build_expr(kp_expr_t *e, const kp_grammar_t *g,
                          const int *sym, int n, kp_error_t *err)
{
    kp_expr_t tmp;
    kp_expr_init(&tmp);
    for (int i = 0; i < n; i++) {
        if (sym[i] < 0 || sym[i] >= g->nsym)
            return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                "symbol %d out of range (grammar has %d)",
                                sym[i], g->nsym);
        const kp_gsym_t *s = &g->sym[sym[i]];
        int rc;
        switch (s->kind) {
        case KP_GSYM_OP:
            rc = kp_expr_push_op(&tmp, s->tok);
            break;
        case KP_GSYM_VAR:
            rc = kp_expr_push_var(&tmp, kp_tok_var(s->tok));
            break;
        case KP_GSYM_CONST:
            rc = kp_expr_push_const(&tmp, 1.0);
            break;
        default:
            rc = kp_expr_push_rational(&tmp, s->num, s->den);
            break;
        }
        if (rc != KP_OK)
            return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                "expression too long or too many constants");
    }
    int rc = kp_expr_finish(&tmp, err);
    if (rc != KP_OK)
        return rc;
    *e = tmp;
    return KP_OK;
}

/* ---------------------------------------------------------------------- */
/* generation states                                                       */

int kp_gstate_init(kp_gstate_t *s, const kp_grammar_t *g, kp_error_t *err)
{
    if (!g->bound)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "grammar %s is not bound to input variables",
                            g->name);
    s->len = 0;
    s->nslot = 1;
    s->max_len = g->max_len;
    s->max_depth = g->max_depth;
    kp_gslot_t *t = &s->slot[0];
    t->forbid = 0;
    t->parent = -1;
    t->sibling = -1;
    t->ppos = -1;
    t->depth = 1;
    t->type = (int16_t)g->start;
    t->est = root_est(g, g->max_depth);
    s->pending = t->est;
    if (t->est > s->max_len)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "grammar %s cannot generate any expression",
                            g->name);
    return KP_OK;
}

int kp_gstate_set_max_len(kp_gstate_t *s, const kp_grammar_t *g, int max_len,
                          kp_error_t *err)
{
    if (s->len != 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "the length limit can only change before the "
                            "first symbol");
    if (max_len > g->max_len || max_len < s->pending)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "length limit %d outside [%d, %d] for grammar %s",
                            max_len, s->pending, g->max_len, g->name);
    s->max_len = max_len;
    return KP_OK;
}

/* The length len + pending would have after pushing symbol i, or -1 if i
   is not allowed next. */
static int push_total(const kp_gstate_t *s, const kp_grammar_t *g,
                      est_ctx_t *c, int i)
{
    if (s->nslot == 0 || i < 0 || i >= g->nsym)
        return -1;
    const kp_gslot_t *t = &s->slot[s->nslot - 1];
    const kp_gsym_t *y = &g->sym[i];
    if (y->type != t->type)
        return -1;
    uint32_t ban = t->forbid | g->forbid_child[parent_class(g, t->parent)];
    if (ban >> y->cls & 1)
        return -1;
    int tot = s->len + 1 + s->pending - t->est;
    if (y->arity > 0) {
        uint32_t f2 = t->forbid | g->forbid_desc[y->cls];
        int levels = s->max_depth - t->depth;
        for (int j = 0; j < y->arity; j++)
            tot += est(c, y->arg_type[j], f2, y->cls, levels);
    }
    return tot <= s->max_len ? tot : -1;
}

/* tot[i] = push_total for every symbol; returns how many are allowed. */
static int all_totals(const kp_gstate_t *s, const kp_grammar_t *g, int *tot)
{
    est_ctx_t c;
    int n = 0;
    est_ctx_init(&c, g);
    for (int i = 0; i < g->nsym; i++) {
        tot[i] = push_total(s, g, &c, i);
        n += tot[i] >= 0;
    }
    return n;
}

int kp_gstate_allowed(const kp_gstate_t *s, const kp_grammar_t *g,
                      uint8_t *mask)
{
    est_ctx_t c;
    int n = 0;
    est_ctx_init(&c, g);
    for (int i = 0; i < g->nsym; i++) {
        mask[i] = push_total(s, g, &c, i) >= 0;
        n += mask[i];
    }
    return n;
}

int kp_gstate_push(kp_gstate_t *s, const kp_grammar_t *g, int sym,
                   kp_error_t *err)
{
    est_ctx_t c;
    est_ctx_init(&c, g);
    if (push_total(s, g, &c, sym) < 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "symbol %d (%s) is not allowed at position %d",
                            sym, sym >= 0 && sym < g->nsym ? g->sym[sym].name
                                                           : "?",
                            s->len);
    const kp_gsym_t *y = &g->sym[sym];
    kp_gslot_t t = s->slot[--s->nslot];
    s->pending -= t.est;
    int pos = s->len++;
    s->sym[pos] = sym;
    if (s->nslot > 0 && t.ppos >= 0 && s->slot[s->nslot - 1].ppos == t.ppos)
        s->slot[s->nslot - 1].sibling = sym;
    uint32_t f2 = t.forbid | g->forbid_desc[y->cls];
    for (int j = y->arity - 1; j >= 0; j--) {
        kp_gslot_t *a = &s->slot[s->nslot++];
        a->forbid = f2;
        a->parent = sym;
        a->sibling = -1;
        a->ppos = pos;
        a->depth = (int16_t)(t.depth + 1);
        a->type = (int16_t)y->arg_type[j];
        a->est = est(&c, y->arg_type[j], f2, y->cls, s->max_depth - t.depth);
        s->pending += a->est;
    }
    return KP_OK;
}

int kp_gstate_done(const kp_gstate_t *s)
{
    return s->nslot == 0 && s->len > 0;
}

int kp_gstate_parent(const kp_gstate_t *s)
{
    return s->nslot > 0 ? s->slot[s->nslot - 1].parent : -1;
}

int kp_gstate_sibling(const kp_gstate_t *s)
{
    return s->nslot > 0 ? s->slot[s->nslot - 1].sibling : -1;
}

int kp_gstate_type(const kp_gstate_t *s)
{
    return s->nslot > 0 ? s->slot[s->nslot - 1].type : -1;
}

int kp_gstate_depth(const kp_gstate_t *s)
{
    return s->nslot > 0 ? s->slot[s->nslot - 1].depth : 0;
}

int kp_gstate_min_length(const kp_gstate_t *s)
{
    return s->len + s->pending;
}

int kp_gstate_to_expr(kp_expr_t *e, const kp_grammar_t *g,
                      const kp_gstate_t *s, kp_error_t *err)
{
    if (!kp_gstate_done(s))
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "the expression is not complete");
    return kp_grammar_build_expr(e, g, s->sym, s->len, err);
}

/* Draws uniformly among symbols with tot[i] >= 0 and lo <= tot[i] <= hi
   (and a positive arity when nonleaf is set); -1 if there are none. */
static int pick(const kp_grammar_t *g, const int *tot, int lo, int hi,
                int nonleaf, kp_rng_t *rng)
{
    int n = 0;
    for (int i = 0; i < g->nsym; i++)
        n += tot[i] >= 0 && tot[i] >= lo && tot[i] <= hi &&
             (!nonleaf || g->sym[i].arity > 0);
    if (n == 0)
        return -1;
    int k = (int)kp_rng_below(rng, (uint64_t)n);
    for (int i = 0; i < g->nsym; i++)
        if (tot[i] >= 0 && tot[i] >= lo && tot[i] <= hi &&
            (!nonleaf || g->sym[i].arity > 0) && k-- == 0)
            return i;
    return -1;
}

int kp_grammar_random_expr(kp_expr_t *e, const kp_grammar_t *g, int min_len,
                           int max_len, kp_rng_t *rng, kp_error_t *err)
{
    kp_gstate_t *s, *best;
    int rc;
    if (!g->bound)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "grammar %s is not bound to input variables",
                            g->name);
    if (max_len > g->max_len)
        max_len = g->max_len;
    if (min_len > max_len)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "min length %d > max length %d", min_len, max_len);
    s = malloc(2 * sizeof *s);
    int *tot = malloc((size_t)(g->nsym ? g->nsym : 1) * sizeof *tot);
    if (s == NULL || tot == NULL) {
        free(s);
        free(tot);
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    }
    best = s + 1;
    best->len = 0;
    for (int attempt = 0; attempt < 32; attempt++) {
        if ((rc = kp_gstate_init(s, g, err)) != KP_OK ||
            (rc = kp_gstate_set_max_len(s, g, max_len, err)) != KP_OK)
            goto done;
        int lo = min_len > s->pending ? min_len : s->pending;
        int target = lo + (int)kp_rng_below(rng, (uint64_t)(max_len - lo + 1));
        while (!kp_gstate_done(s)) {
            int cur = s->len + s->pending, i;
            all_totals(s, g, tot);
            if (cur < target) {
                /* Grow; leaves only while other slots remain to grow. */
                i = pick(g, tot, 0, target, s->nslot == 1, rng);
                if (i < 0)
                    i = pick(g, tot, cur + 1, max_len, 0, rng);
            } else {
                i = pick(g, tot, cur, cur, 0, rng);
            }
            if (i < 0)
                i = pick(g, tot, 0, max_len, 0, rng);
            if (i < 0 || (rc = kp_gstate_push(s, g, i, err)) != KP_OK) {
                rc = kp_error_set(err, KP_EINTERNAL, NULL, 0, 0,
                                  "grammar mask left no symbol");
                goto done;
            }
        }
        if (s->len > best->len)
            *best = *s;
        if (s->len >= min_len)
            break;
    }
    rc = kp_gstate_to_expr(e, g, best, err);
done:
    free(s);
    free(tot);
    return rc;
}
