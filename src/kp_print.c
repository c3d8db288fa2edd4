/* kp_print.c: writing expressions as SymPy, LaTeX or C99 text
   (kp_expr_print).

   Parentheses follow precedence (+ - 10, * / 20, unary minus 25, ** 30,
   atoms 100) with Python/C associativity, so that re-parsing the SymPy text
   gives back the same tree up to the folding kp_expr_simplify does (a unary
   minus on a literal becomes a negative literal). An operand that starts
   with a minus sign is always parenthesised on the right of a binary
   operator and under a unary minus, which avoids "x - -y" and "--x". */
#include "kp_expr.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREC_ATOM 100
#define PREC_NEG 25
#define PREC_POW 30

typedef struct {
    char *buf;
    size_t n;
    size_t len; /* length the full text needs */
    const kp_expr_t *e;
    int style;
    const char *const *names;
    int nnames;
    uint16_t size[KP_EXPR_MAX_LEN];
    int cidx[KP_EXPR_MAX_LEN];
} printer_t;

static void put(printer_t *p, const char *s, size_t k)
{
    if (p->len + 1 < p->n) {
        size_t room = p->n - 1 - p->len;
        memcpy(p->buf + p->len, s, k < room ? k : room);
    }
    p->len += k;
}

static void puts_(printer_t *p, const char *s)
{
    put(p, s, strlen(s));
}

static void putf(printer_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void putf(printer_t *p, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(p, tmp, k < (int)sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

static const kp_const_t *cst(const printer_t *p, int pos)
{
    return &p->e->c[p->cidx[pos]];
}

static int child(const printer_t *p, int pos, int k)
{
    return k == 0 ? pos + 1 : pos + 1 + p->size[pos + 1];
}

/* The "%.17g" text of a free constant, or NULL for NaN and infinities. */
static const char *free_text(char *tmp, size_t n, double v)
{
    if (!isfinite(v))
        return NULL;
    snprintf(tmp, n, "%.17g", v);
    return tmp;
}

static int const_negative(const kp_const_t *c)
{
    return c->den > 0 ? c->num < 0 : signbit(c->value) && !isnan(c->value);
}

/* Precedence of the text printed for the subtree at pos. */
static int prec(const printer_t *p, int pos)
{
    kp_tok_t t = p->e->tok[pos];
    if (t == KP_TOK_CONST) {
        const kp_const_t *c = cst(p, pos);
        if (c->den > 1)
            return p->style == KP_PRINT_LATEX && c->num > 0 ? PREC_ATOM : 20;
        return const_negative(c) ? PREC_NEG : PREC_ATOM;
    }
    if (kp_tok_is_var(t))
        return PREC_ATOM;
    switch (t) {
    case KP_OP_ADD:
    case KP_OP_SUB:
        return 10;
    case KP_OP_MUL:
        return 20;
    case KP_OP_DIV:
        return p->style == KP_PRINT_LATEX ? PREC_ATOM : 20;
    case KP_OP_POW:
        return p->style == KP_PRINT_C ? PREC_ATOM : PREC_POW;
    case KP_OP_NEG:
        return PREC_NEG;
    default:
        return PREC_ATOM;
    }
}

static int needs_parens(const printer_t *p, int parent, int side, int c);

/* 1 if the text of the subtree at pos begins with '-'. */
static int starts_minus(const printer_t *p, int pos)
{
    kp_tok_t t = p->e->tok[pos];
    if (t == KP_TOK_CONST)
        return const_negative(cst(p, pos));
    if (t == KP_OP_NEG)
        return 1;
    int infix = t == KP_OP_ADD || t == KP_OP_SUB || t == KP_OP_MUL
                || (t == KP_OP_DIV && p->style != KP_PRINT_LATEX)
                || (t == KP_OP_POW && p->style != KP_PRINT_C);
    if (infix && !needs_parens(p, pos, 0, child(p, pos, 0)))
        return starts_minus(p, child(p, pos, 0));
    return 0;
}

/* Whether child c (side 0 left, 1 right) of parent needs parentheses. */
static int needs_parens(const printer_t *p, int parent, int side, int c)
{
    kp_tok_t t = p->e->tok[parent];
    int pc = prec(p, c);
    if (t == KP_OP_NEG)
        /* -x*y and -x/y: (-x)*y equals -(x*y) exactly, so no parentheses. */
        return pc < 20 || starts_minus(p, c);
    if (t == KP_OP_POW) {
        if (p->style == KP_PRINT_C)
            return 0;
        if (p->style == KP_PRINT_LATEX) {
            if (side == 1)
                return 0;
            kp_tok_t b = p->e->tok[c];
            if (kp_tok_is_var(b) || b == KP_OP_PI || b == KP_OP_E)
                return 0;
            if (b == KP_TOK_CONST) {
                const kp_const_t *k = cst(p, c);
                char tmp[64];
                if (k->den == 1 && k->num >= 0)
                    return 0;
                return !(k->den == 0 && !const_negative(k)
                         && free_text(tmp, sizeof tmp, k->value)
                         && strchr(tmp, 'e') == NULL);
            }
            return 1;
        }
        if (side == 0)
            return pc <= PREC_POW;
        return pc < PREC_POW || starts_minus(p, c);
    }
    if (t == KP_OP_ADD || t == KP_OP_SUB || t == KP_OP_MUL
        || (t == KP_OP_DIV && p->style != KP_PRINT_LATEX)) {
        int pt = prec(p, parent);
        if (side == 0)
            return pc < pt;
        if (p->style == KP_PRINT_LATEX && t == KP_OP_MUL)
            return pc < pt || starts_minus(p, c);
        return pc <= pt || starts_minus(p, c);
    }
    return 0;
}

static void print_var(printer_t *p, int v)
{
    if (p->names != NULL && v < p->nnames && p->names[v] != NULL)
        puts_(p, p->names[v]);
    else
        putf(p, "x%d", v);
}

static void print_const(printer_t *p, const kp_const_t *c)
{
    char tmp[64];
    if (c->den > 0) {
        if (p->style == KP_PRINT_C) {
            if (c->den == 1)
                putf(p, "%" PRId64 ".0", c->num);
            else
                putf(p, "%" PRId64 ".0/%" PRId64 ".0", c->num, c->den);
        } else if (c->den == 1) {
            putf(p, "%" PRId64, c->num);
        } else if (p->style == KP_PRINT_LATEX) {
            if (c->num < 0)
                putf(p, "-\\frac{%" PRIu64 "}{%" PRId64 "}",
                     (uint64_t)0 - (uint64_t)c->num, c->den);
            else
                putf(p, "\\frac{%" PRId64 "}{%" PRId64 "}", c->num, c->den);
        } else {
            putf(p, "%" PRId64 "/%" PRId64, c->num, c->den);
        }
        return;
    }
    const char *s = free_text(tmp, sizeof tmp, c->value);
    if (s == NULL) {
        int neg = c->value < 0;
        if (isnan(c->value))
            puts_(p, p->style == KP_PRINT_C ? "NAN"
                     : p->style == KP_PRINT_LATEX ? "\\mathrm{NaN}" : "nan");
        else if (p->style == KP_PRINT_C)
            puts_(p, neg ? "-INFINITY" : "INFINITY");
        else if (p->style == KP_PRINT_LATEX)
            puts_(p, neg ? "-\\infty" : "\\infty");
        else
            puts_(p, neg ? "-oo" : "oo");
        return;
    }
    if (p->style == KP_PRINT_LATEX) {
        char *e = strchr(tmp, 'e');
        if (e != NULL) {
            *e = '\0';
            int ex = atoi(e + 1);
            putf(p, "%s \\cdot 10^{%d}", tmp, ex);
            return;
        }
    }
    puts_(p, s);
    if (p->style == KP_PRINT_C && strpbrk(s, ".e") == NULL)
        puts_(p, ".0");
}

static void print_node(printer_t *p, int pos);

/* A product whose left factor is an exact non-integer rational p/q, printed
   as p*R/q (R/q, -R/q when p is 1, -1) in the SymPy and C styles. */
static int rational_coef_form(const printer_t *p, int pos)
{
    if (p->style == KP_PRINT_LATEX || p->e->tok[pos] != KP_OP_MUL
        || p->e->tok[pos + 1] != KP_TOK_CONST)
        return 0;
    const kp_const_t *c = cst(p, pos + 1);
    return c->den > 1;
}

static void print_child(printer_t *p, int parent, int side)
{
    int c = child(p, parent, side);
    if (needs_parens(p, parent, side, c)) {
        puts_(p, p->style == KP_PRINT_LATEX ? "\\left(" : "(");
        print_node(p, c);
        puts_(p, p->style == KP_PRINT_LATEX ? "\\right)" : ")");
    } else {
        print_node(p, c);
    }
}

/* 1 if the LaTeX text of the subtree at pos begins with a digit, where
   juxtaposition would glue two numbers together. */
static int latex_starts_digit(const printer_t *p, int pos)
{
    kp_tok_t t = p->e->tok[pos];
    if (t == KP_TOK_CONST) {
        const kp_const_t *c = cst(p, pos);
        return !const_negative(c) && (c->den != 0 ? c->den == 1
                                                  : isfinite(c->value));
    }
    if ((t == KP_OP_ADD || t == KP_OP_SUB || t == KP_OP_MUL
         || t == KP_OP_POW)
        && !needs_parens(p, pos, 0, child(p, pos, 0)))
        return latex_starts_digit(p, child(p, pos, 0));
    return 0;
}

static void print_latex_op(printer_t *p, int pos, kp_tok_t t)
{
    switch (t) {
    case KP_OP_ADD:
    case KP_OP_SUB:
        print_child(p, pos, 0);
        puts_(p, t == KP_OP_ADD ? " + " : " - ");
        print_child(p, pos, 1);
        return;
    case KP_OP_MUL:
        print_child(p, pos, 0);
        if (!needs_parens(p, pos, 1, child(p, pos, 1))
            && (latex_starts_digit(p, child(p, pos, 1))
                || starts_minus(p, child(p, pos, 1))))
            puts_(p, " \\cdot ");
        else
            puts_(p, " \\, ");
        print_child(p, pos, 1);
        return;
    case KP_OP_DIV:
        puts_(p, "\\frac{");
        print_node(p, child(p, pos, 0));
        puts_(p, "}{");
        print_node(p, child(p, pos, 1));
        puts_(p, "}");
        return;
    case KP_OP_POW:
        print_child(p, pos, 0);
        puts_(p, "^{");
        print_node(p, child(p, pos, 1));
        puts_(p, "}");
        return;
    case KP_OP_NEG:
        puts_(p, "-");
        print_child(p, pos, 0);
        return;
    case KP_OP_SQRT:
        puts_(p, "\\sqrt{");
        print_node(p, pos + 1);
        puts_(p, "}");
        return;
    case KP_OP_EXP:
        puts_(p, "e^{");
        print_node(p, pos + 1);
        puts_(p, "}");
        return;
    case KP_OP_ABS:
        puts_(p, "\\left|");
        print_node(p, pos + 1);
        puts_(p, "\\right|");
        return;
    case KP_OP_PI:
        puts_(p, "\\pi");
        return;
    case KP_OP_E:
        puts_(p, "e");
        return;
    default:
        puts_(p, kp_op_table[t].latex);
        puts_(p, "\\left(");
        print_node(p, pos + 1);
        puts_(p, "\\right)");
        return;
    }
}

static void print_node(printer_t *p, int pos)
{
    kp_tok_t t = p->e->tok[pos];
    if (t == KP_TOK_CONST) {
        print_const(p, cst(p, pos));
        return;
    }
    if (kp_tok_is_var(t)) {
        print_var(p, kp_tok_var(t));
        return;
    }
    if (t >= KP_OP_COUNT) {
        puts_(p, "?");
        return;
    }
    if (p->style == KP_PRINT_LATEX) {
        print_latex_op(p, pos, t);
        return;
    }
    const kp_op_info_t *info = &kp_op_table[t];
    const char *name = p->style == KP_PRINT_C ? info->c : info->name;
    switch (t) {
    case KP_OP_ADD:
    case KP_OP_SUB:
        print_child(p, pos, 0);
        puts_(p, t == KP_OP_ADD ? " + " : " - ");
        print_child(p, pos, 1);
        return;
    case KP_OP_MUL:
    case KP_OP_DIV:
        if (rational_coef_form(p, pos)) {
            const kp_const_t *c = cst(p, pos + 1);
            int r = child(p, pos, 1), par;
            if (c->num == 1) {
                par = prec(p, r) < 20;
            } else if (c->num == -1) {
                puts_(p, "-");
                par = prec(p, r) < 20 || starts_minus(p, r);
            } else {
                putf(p, p->style == KP_PRINT_C ? "%" PRId64 ".0*" : "%" PRId64 "*",
                     c->num);
                par = prec(p, r) <= 20 || starts_minus(p, r);
            }
            puts_(p, par ? "(" : "");
            print_node(p, r);
            puts_(p, par ? ")" : "");
            putf(p, p->style == KP_PRINT_C ? "/%" PRId64 ".0" : "/%" PRId64,
                 c->den);
            return;
        }
        print_child(p, pos, 0);
        puts_(p, t == KP_OP_MUL ? "*" : "/");
        print_child(p, pos, 1);
        return;
    case KP_OP_POW:
        if (p->style == KP_PRINT_C) {
            puts_(p, "pow(");
            print_node(p, pos + 1);
            puts_(p, ", ");
            print_node(p, child(p, pos, 1));
            puts_(p, ")");
        } else {
            print_child(p, pos, 0);
            puts_(p, "**");
            print_child(p, pos, 1);
        }
        return;
    case KP_OP_NEG:
        puts_(p, "-");
        print_child(p, pos, 0);
        return;
    default:
        puts_(p, name);
        if (info->arity == 1) {
            puts_(p, "(");
            print_node(p, pos + 1);
            puts_(p, ")");
        }
        return;
    }
}

size_t kp_expr_print(char *buf, size_t n, const kp_expr_t *e, int style,
                     const char *const *names, int nnames)
{
    printer_t *p = malloc(sizeof *p);
    if (p == NULL) {
        if (n > 0)
            buf[0] = '\0';
        return 0;
    }
    p->buf = buf;
    p->n = n;
    p->len = 0;
    p->e = e;
    p->style = style;
    p->names = names;
    p->nnames = names ? nnames : 0;

    /* Sizes and constant indices are recomputed rather than trusted. */
    int stack[KP_EXPR_MAX_LEN];
    int sp = 0, nc = 0, ok = e->len >= 1 && e->len <= KP_EXPR_MAX_LEN;
    for (int i = e->len - 1; ok && i >= 0; i--) {
        int ar = kp_tok_arity(e->tok[i]);
        int s = 1;
        if (sp < ar) {
            ok = 0;
            break;
        }
        for (int k = 0; k < ar; k++)
            s += p->size[stack[--sp]];
        p->size[i] = (uint16_t)s;
        stack[sp++] = i;
    }
    for (int i = 0; ok && i < e->len; i++)
        if (e->tok[i] == KP_TOK_CONST)
            p->cidx[i] = nc++;
    if (ok && sp == 1 && nc <= e->nconst)
        print_node(p, 0);
    else
        puts_(p, "<invalid expression>");

    if (n > 0)
        buf[p->len < n ? p->len : n - 1] = '\0';
    size_t len = p->len;
    free(p);
    return len;
}
