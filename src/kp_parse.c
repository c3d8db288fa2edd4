/* kp_parse.c: the SymPy-syntax parser (kp_expr_parse).

   Recursive descent over Python's precedence levels:
       sum     := product (('+' | '-') product)*
       product := unary (('*' | '/') unary)*
       unary   := ('-' | '+') unary | power
       power   := atom (('**' | '^') unary)?       right associative
       atom    := number | name | name '(' sum ')' | '(' sum ')'
   The parse builds a small node pool (operands before operators), then
   writes it out in prefix order. Numeric literals are exact rationals; one
   that does not fit int64 num/den is rejected rather than rounded. A unary
   minus applied directly to a literal gives a negative literal. */
#include "kp_expr.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <flint/fmpq.h>
#include <flint/fmpz.h>

#define MAX_NEST 600

typedef struct {
    int tok;
    int ch[2];
    int64_t num, den; /* KP_TOK_CONST; den == 0: a free constant */
    double value;     /* free constants (KP_PARSE_FREE_LONG) */
    int literal;      /* a bare number, so unary minus folds into it */
} pnode_t;

typedef struct {
    const char *s;
    int pos;
    const char *const *names;
    int nnames;
    pnode_t node[KP_EXPR_MAX_LEN];
    int nnode;
    int nconst;
    int nest;
    int flags;
    kp_error_t *err;
} parser_t;

static int fail(parser_t *p, int pos, const char *fmt, const char *arg,
                int arglen)
{
    return kp_error_set(p->err, KP_EINPUT, NULL, 0, pos + 1, fmt, arglen, arg);
}

static void skip_space(parser_t *p)
{
    while (p->s[p->pos] != '\0' && isspace((unsigned char)p->s[p->pos]))
        p->pos++;
}

static int is_name_start(int c)
{
    return isalpha(c) || c == '_';
}

static int is_name_char(int c)
{
    return isalnum(c) || c == '_';
}

/* Error for a character where an operand was expected. */
static int unexpected(parser_t *p)
{
    char c = p->s[p->pos];
    if (c == '\0')
        return fail(p, p->pos, "unexpected end of expression%.*s", "", 0);
    return fail(p, p->pos, "unexpected '%.*s'", &p->s[p->pos], 1);
}

static int new_node(parser_t *p, int pos, int tok, int a, int b, int *out)
{
    if (p->nnode >= KP_EXPR_MAX_LEN)
        return kp_error_set(p->err, KP_EINPUT, NULL, 0, pos + 1,
                            "expression too long (more than %d tokens)",
                            KP_EXPR_MAX_LEN);
    if (tok == KP_TOK_CONST && p->nconst >= KP_EXPR_MAX_CONSTS)
        return kp_error_set(p->err, KP_EINPUT, NULL, 0, pos + 1,
                            "too many constants (more than %d)",
                            KP_EXPR_MAX_CONSTS);
    pnode_t *n = &p->node[p->nnode];
    memset(n, 0, sizeof *n);
    n->tok = tok;
    n->ch[0] = a;
    n->ch[1] = b;
    n->den = 1;
    p->nconst += tok == KP_TOK_CONST;
    *out = p->nnode++;
    return KP_OK;
}

/* Reads a decimal literal at p->pos exactly: digits, optional fraction,
   optional exponent. */
static int parse_number(parser_t *p, int *out)
{
    const char *s = p->s;
    int start = p->pos, i = p->pos;
    char digits[512];
    int nd = 0, nfrac = 0, toolong = 0;
    long exp10 = 0;

    for (; isdigit((unsigned char)s[i]); i++) {
        if (nd < (int)sizeof digits - 1)
            digits[nd++] = s[i];
        else
            toolong = 1;
    }
    if (s[i] == '.') {
        for (i++; isdigit((unsigned char)s[i]); i++, nfrac++) {
            if (nd < (int)sizeof digits - 1)
                digits[nd++] = s[i];
            else
                toolong = 1;
        }
    }
    if ((s[i] == 'e' || s[i] == 'E')
        && (isdigit((unsigned char)s[i + 1])
            || ((s[i + 1] == '+' || s[i + 1] == '-')
                && isdigit((unsigned char)s[i + 2])))) {
        int sign = 1;
        i++;
        if (s[i] == '+' || s[i] == '-')
            sign = s[i++] == '-' ? -1 : 1;
        for (; isdigit((unsigned char)s[i]); i++)
            if (exp10 < 100000)
                exp10 = exp10 * 10 + (s[i] - '0');
        exp10 *= sign;
    }
    if (is_name_char((unsigned char)s[i]) || s[i] == '.')
        return fail(p, start, "malformed number '%.*s'", s + start,
                    i - start + 1);
    p->pos = i;
    exp10 -= nfrac;

    /* Drop zeros that do not change the value, so that 1.000...0 and
       0.000...05 stay within bounds. */
    int lead = 0;
    while (lead < nd && digits[lead] == '0')
        lead++;
    while (nd > lead && digits[nd - 1] == '0') {
        nd--;
        exp10++;
    }
    digits[nd] = '\0';
    int sig = nd - lead;
    /* A nonzero D * 10^exp10 with sig digits has |num| >= 10^exp10 when
       exp10 >= 0, and den >= 10^(-exp10 - sig) otherwise. */
    int ok = !toolong
             && (sig == 0 || (exp10 <= 18 && -exp10 - sig <= 19 && sig <= 60));
    int64_t num = 0, den = 1;
    if (ok && sig > 0) {
        fmpz_t z, t;
        fmpq_t q;
        fmpz_init(z);
        fmpz_init(t);
        fmpq_init(q);
        fmpz_set_str(z, digits + lead, 10);
        if (exp10 >= 0) {
            fmpz_set_ui(t, 10);
            fmpz_pow_ui(t, t, (ulong)exp10);
            fmpz_mul(fmpq_numref(q), z, t);
            fmpz_one(fmpq_denref(q));
        } else {
            fmpz_set_ui(t, 10);
            fmpz_pow_ui(t, t, (ulong)(-exp10));
            fmpz_set(fmpq_numref(q), z);
            fmpz_set(fmpq_denref(q), t);
            fmpq_canonicalise(q);
        }
        ok = fmpz_fits_si(fmpq_numref(q)) && fmpz_fits_si(fmpq_denref(q));
        if (ok) {
            num = fmpz_get_si(fmpq_numref(q));
            den = fmpz_get_si(fmpq_denref(q));
        }
        fmpz_clear(z);
        fmpz_clear(t);
        fmpq_clear(q);
    }
    double value = 0;
    if (!ok && (p->flags & KP_PARSE_FREE_LONG)) {
        /* The text is taken as the double it denotes (a free constant),
           which is what printing a free constant with 17 digits gives. */
        char buf[64];
        int len = i - start < 63 ? i - start : 63;
        memcpy(buf, s + start, (size_t)len);
        buf[len] = '\0';
        value = strtod(buf, NULL);
        ok = isfinite(value) && i - start < 63;
        den = 0;
    }
    if (!ok)
        return fail(p, start, "number too long: '%.*s' does not fit a 64-bit "
                    "numerator and denominator", s + start, i - start);
    int rc = new_node(p, start, KP_TOK_CONST, -1, -1, out);
    if (rc != KP_OK)
        return rc;
    p->node[*out].num = num;
    p->node[*out].den = den;
    p->node[*out].value = value;
    p->node[*out].literal = 1;
    return KP_OK;
}

static int parse_sum(parser_t *p, int *out);
static int parse_unary(parser_t *p, int *out);

static int parse_atom(parser_t *p, int *out)
{
    const char *s = p->s;
    skip_space(p);
    int start = p->pos;
    char c = s[start];

    if (isdigit((unsigned char)c)
        || (c == '.' && isdigit((unsigned char)s[start + 1])))
        return parse_number(p, out);
    if (c == '(') {
        p->pos++;
        int rc = parse_sum(p, out);
        if (rc != KP_OK)
            return rc;
        skip_space(p);
        if (s[p->pos] != ')') {
            char msg[64];
            snprintf(msg, sizeof msg, "missing ')' to close '(' at column %d",
                     start + 1);
            return fail(p, p->pos, "%.*s", msg, (int)strlen(msg));
        }
        p->pos++;
        p->node[*out].literal = 0;
        return KP_OK;
    }
    if (!is_name_start((unsigned char)c))
        return unexpected(p);

    int end = start;
    while (is_name_char((unsigned char)s[end]))
        end++;
    int len = end - start;
    p->pos = end;
    skip_space(p);
    int call = s[p->pos] == '(';
    int op = kp_op_lookup(s + start, len);

    if (call && op >= 0 && kp_op_table[op].arity == 1) {
        int arg, rc;
        int open = p->pos;
        p->pos++;
        rc = parse_sum(p, &arg);
        if (rc != KP_OK)
            return rc;
        skip_space(p);
        if (s[p->pos] == ',')
            return fail(p, p->pos, "'%.*s' takes one argument", s + start,
                        len);
        if (s[p->pos] != ')') {
            char msg[64];
            snprintf(msg, sizeof msg, "missing ')' to close '(' at column %d",
                     open + 1);
            return fail(p, p->pos, "%.*s", msg, (int)strlen(msg));
        }
        p->pos++;
        return new_node(p, start, op, arg, -1, out);
    }
    for (int v = 0; v < p->nnames; v++)
        if (p->names[v] != NULL && (int)strlen(p->names[v]) == len
            && memcmp(p->names[v], s + start, (size_t)len) == 0) {
            if (v >= KP_MAX_VARS)
                break;
            return new_node(p, start, KP_TOK_VAR + v, -1, -1, out);
        }
    if (op >= 0 && kp_op_table[op].arity == 0)
        return new_node(p, start, op, -1, -1, out);
    if (op >= 0 && kp_op_table[op].arity == 1)
        return fail(p, start, "function '%.*s' needs parentheses", s + start,
                    len);
    return fail(p, start, "unknown name '%.*s'", s + start, len);
}

static int parse_power(parser_t *p, int *out)
{
    int base, rc = parse_atom(p, &base);
    if (rc != KP_OK)
        return rc;
    skip_space(p);
    const char *s = p->s;
    int at = p->pos;
    if ((s[at] == '*' && s[at + 1] == '*') || s[at] == '^') {
        p->pos += s[at] == '^' ? 1 : 2;
        int expo;
        rc = parse_unary(p, &expo);
        if (rc != KP_OK)
            return rc;
        return new_node(p, at, KP_OP_POW, base, expo, out);
    }
    *out = base;
    return KP_OK;
}

static int parse_unary(parser_t *p, int *out)
{
    skip_space(p);
    char c = p->s[p->pos];
    int at = p->pos;
    if (++p->nest > MAX_NEST)
        return fail(p, at, "expression nested too deeply%.*s", "", 0);
    if (c != '-' && c != '+') {
        int rc = parse_power(p, out);
        p->nest--;
        return rc;
    }
    p->pos++;
    int a, rc = parse_unary(p, &a);
    p->nest--;
    if (rc != KP_OK || c == '+')
        return *out = a, rc;
    pnode_t *n = &p->node[a];
    if (n->tok == KP_TOK_CONST && n->literal && n->num != INT64_MIN) {
        n->num = -n->num;
        n->value = -n->value;
        n->literal = 0;
        *out = a;
        return KP_OK;
    }
    return new_node(p, at, KP_OP_NEG, a, -1, out);
}

static int parse_product(parser_t *p, int *out)
{
    int a, rc = parse_unary(p, &a);
    for (;;) {
        if (rc != KP_OK)
            return rc;
        skip_space(p);
        const char *s = p->s;
        int at = p->pos, op;
        if (s[at] == '*' && s[at + 1] != '*')
            op = KP_OP_MUL;
        else if (s[at] == '/')
            op = KP_OP_DIV;
        else
            break;
        p->pos++;
        int b;
        rc = parse_unary(p, &b);
        if (rc == KP_OK)
            rc = new_node(p, at, op, a, b, &a);
    }
    *out = a;
    return KP_OK;
}

static int parse_sum(parser_t *p, int *out)
{
    if (++p->nest > MAX_NEST)
        return fail(p, p->pos, "expression nested too deeply%.*s", "", 0);
    int a, rc = parse_product(p, &a);
    for (;;) {
        if (rc != KP_OK)
            return rc;
        skip_space(p);
        int at = p->pos, op;
        if (p->s[at] == '+')
            op = KP_OP_ADD;
        else if (p->s[at] == '-')
            op = KP_OP_SUB;
        else
            break;
        p->pos++;
        int b;
        rc = parse_product(p, &b);
        if (rc == KP_OK)
            rc = new_node(p, at, op, a, b, &a);
    }
    p->nest--;
    *out = a;
    return KP_OK;
}

static int emit(kp_expr_t *e, const parser_t *p, int i)
{
    const pnode_t *n = &p->node[i];
    int rc;
    if (n->tok == KP_TOK_CONST)
        return n->den == 0 ? kp_expr_push_const(e, n->value)
                           : kp_expr_push_rational(e, n->num, n->den);
    if (n->tok >= KP_TOK_VAR)
        return kp_expr_push_var(e, n->tok - KP_TOK_VAR);
    rc = kp_expr_push_op(e, n->tok);
    for (int k = 0; rc == KP_OK && k < kp_op_table[n->tok].arity; k++)
        rc = emit(e, p, n->ch[k]);
    return rc;
}

int kp_expr_parse(kp_expr_t *e, const char *text, const char *const *names,
                  int nnames, kp_error_t *err)
{
    return kp_expr_parse_flags(e, text, names, nnames, 0, err);
}

int kp_expr_parse_flags(kp_expr_t *e, const char *text,
                        const char *const *names, int nnames, int flags,
                        kp_error_t *err)
{
    parser_t *p = malloc(sizeof *p);
    if (p == NULL)
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    p->s = text;
    p->pos = 0;
    p->names = names;
    p->nnames = names ? nnames : 0;
    p->nnode = 0;
    p->nconst = 0;
    p->nest = 0;
    p->flags = flags;
    p->err = err;

    int root, rc;
    skip_space(p);
    if (text[p->pos] == '\0') {
        rc = kp_error_set(err, KP_EINPUT, NULL, 0, p->pos + 1,
                          "empty expression");
        goto done;
    }
    rc = parse_sum(p, &root);
    if (rc != KP_OK)
        goto done;
    skip_space(p);
    if (text[p->pos] != '\0') {
        if (text[p->pos] == ')')
            rc = fail(p, p->pos, "unexpected '%.*s' (no matching '(')",
                      text + p->pos, 1);
        else
            rc = fail(p, p->pos, "unexpected '%.*s' after the expression",
                      text + p->pos, 1);
        goto done;
    }
    kp_expr_t t;
    kp_expr_init(&t);
    rc = emit(&t, p, root);
    if (rc == KP_OK)
        rc = kp_expr_finish(&t, err);
    if (rc == KP_OK)
        *e = t;
    else
        rc = kp_error_set(err, KP_EINTERNAL, NULL, 0, 0,
                          "parser produced an invalid expression");
done:
    free(p);
    return rc;
}
