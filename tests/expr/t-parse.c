/* t-parse.c: the SymPy-syntax parser: precedence, exact literals, names,
   and error columns. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "kp_expr.h"

static const char *const names[] = {"x", "y", "z"};

/* Parses text and checks the token sequence against want (a string of
   single-letter codes: + - * / ^ n(eg) s(qrt) l(og) e(xp) S(in) A(bs)
   a(sin) p(i) E, x y z for variables, c for a constant). */
static kp_expr_t parse_ok(const char *text)
{
    kp_expr_t e;
    kp_error_t err;
    kp_error_init(&err);
    int rc = kp_expr_parse(&e, text, names, 3, &err);
    cr_assert_eq(rc, KP_OK, "'%s': %s (col %ld)", text, err.msg, err.col);
    cr_assert_eq(kp_expr_check(&e, NULL), KP_OK, "%s", text);
    return e;
}

static void shape(const char *text, const char *want)
{
    kp_expr_t e = parse_ok(text);
    char got[KP_EXPR_MAX_LEN + 1];
    for (int i = 0; i < e.len; i++) {
        kp_tok_t t = e.tok[i];
        char c = '?';
        if (t == KP_TOK_CONST)
            c = 'c';
        else if (kp_tok_is_var(t))
            c = "xyz"[kp_tok_var(t)];
        else
            switch (t) {
            case KP_OP_ADD: c = '+'; break;
            case KP_OP_SUB: c = '-'; break;
            case KP_OP_MUL: c = '*'; break;
            case KP_OP_DIV: c = '/'; break;
            case KP_OP_POW: c = '^'; break;
            case KP_OP_NEG: c = 'n'; break;
            case KP_OP_SQRT: c = 's'; break;
            case KP_OP_LOG: c = 'l'; break;
            case KP_OP_EXP: c = 'e'; break;
            case KP_OP_SIN: c = 'S'; break;
            case KP_OP_ABS: c = 'A'; break;
            case KP_OP_ASIN: c = 'a'; break;
            case KP_OP_PI: c = 'p'; break;
            case KP_OP_E: c = 'E'; break;
            }
        got[i] = c;
    }
    got[e.len] = '\0';
    cr_assert_str_eq(got, want, "parsing '%s'", text);
}

Test(parse, precedence_and_associativity)
{
    shape("x + y * z", "+x*yz");
    shape("(x + y) * z", "*+xyz");
    shape("x - y - z", "--xyz");
    shape("x - (y - z)", "-x-yz");
    shape("x / y / z", "//xyz");
    shape("x / y * z", "*/xyz");
    shape("x ** y ** z", "^x^yz");
    shape("(x ** y) ** z", "^^xyz");
    shape("-x ** 2", "n^xc");
    shape("-x * y", "*nxy");
    shape("2 ** -1", "^cc");
    shape("x ** -y", "^xny");
    shape("x ** -y ** 2", "^xn^yc");
    shape("- - x", "nnx");
    shape("+x", "x");
    shape("-(x)", "nx");
    shape("x^2", "^xc");
    shape("1/3", "/cc");
    shape("x*-2", "*xc");
    shape("  sqrt( x )+ln(y) ", "+sxly");
    shape("exp(E) + pi", "+eEp");
    shape("Abs(x) * abs(y) + arcsin(z)", "+*AxAyaz");
    shape("sin(x)**2", "^Sxc");
}

static void literal(const char *text, int64_t num, int64_t den)
{
    kp_expr_t e = parse_ok(text);
    cr_assert_eq(e.len, 1, "'%s' is one constant", text);
    cr_assert_eq(e.nconst, 1);
    cr_assert_eq(e.c[0].num, num, "'%s': num %lld", text,
                 (long long)e.c[0].num);
    cr_assert_eq(e.c[0].den, den, "'%s': den %lld", text,
                 (long long)e.c[0].den);
    cr_assert_eq(e.c[0].value, (double)num / (double)den, "%s", text);
}

Test(parse, literals_are_exact)
{
    literal("7", 7, 1);
    literal("-7", -7, 1);
    literal("0.5", 1, 2);
    literal(".25", 1, 4);
    literal("3.", 3, 1);
    literal("1e-3", 1, 1000);
    literal("2.5e2", 250, 1);
    literal("2.5E+2", 250, 1);
    literal("-0.125", -1, 8);
    literal("0.000", 0, 1);
    literal("00012.50", 25, 2);
    literal("1.000000000000000000000000000000", 1, 1);
    literal("9223372036854775807", INT64_MAX, 1);
    literal("0.000000000000000001", 1, 1000000000000000000LL);
    literal("5e-19", 1, 2000000000000000000LL);
    literal("90000000000000000000e-1", 9000000000000000000LL, 1);
    literal("0.30000000000000004", 7500000000000001LL, 25000000000000000LL);
}

Test(parse, names_and_shadowing)
{
    static const char *const nm[] = {"pi", "E", "alpha_1", "sin"};
    kp_expr_t e;
    cr_assert_eq(kp_expr_parse(&e, "pi + E*alpha_1", nm, 4, NULL), KP_OK);
    cr_assert_eq(e.tok[1], KP_TOK_VAR + 0);
    cr_assert_eq(e.tok[3], KP_TOK_VAR + 1);
    cr_assert_eq(e.tok[4], KP_TOK_VAR + 2);
    /* A call still means the function, the bare name the variable. */
    cr_assert_eq(kp_expr_parse(&e, "sin(sin)", nm, 4, NULL), KP_OK);
    cr_assert_eq(e.tok[0], KP_OP_SIN);
    cr_assert_eq(e.tok[1], KP_TOK_VAR + 3);
    /* Without names: pi and E are the constants, x is unknown. */
    cr_assert_eq(kp_expr_parse(&e, "pi*E", NULL, 0, NULL), KP_OK);
    cr_assert_eq(e.tok[1], KP_OP_PI);
    cr_assert_eq(e.tok[2], KP_OP_E);
    cr_assert_eq(kp_expr_parse(&e, "x", NULL, 0, NULL), KP_EINPUT);
}

static void bad(const char *text, long col, const char *msg)
{
    kp_expr_t e, before;
    kp_error_t err;
    kp_expr_init(&e);
    kp_expr_push_var(&e, 0);
    kp_expr_finish(&e, NULL);
    before = e;
    kp_error_init(&err);
    int rc = kp_expr_parse(&e, text, names, 3, &err);
    cr_assert_eq(rc, KP_EINPUT, "'%s' should fail", text);
    cr_assert_eq(err.code, KP_EINPUT);
    cr_assert_eq(err.line, 0);
    cr_assert_eq(err.col, col, "'%s': col %ld, want %ld (%s)", text, err.col,
                 col, err.msg);
    cr_assert(strstr(err.msg, msg) != NULL, "'%s': message '%s' lacks '%s'",
              text, err.msg, msg);
    cr_assert(kp_expr_equal(&e, &before), "output changed on error");
}

Test(parse, errors_have_columns)
{
    bad("", 1, "empty expression");
    bad("   ", 4, "empty expression");
    bad("x + foo", 5, "unknown name 'foo'");
    bad("x + )", 5, "unexpected ')'");
    bad("(x + y", 7, "missing ')'");
    bad("sin(x", 6, "missing ')'");
    bad("x)", 2, "unexpected ')'");
    bad("x y", 3, "unexpected 'y'");
    bad("2x", 1, "malformed number");
    bad("x +", 4, "unexpected end");
    bad("sin x", 1, "'sin' needs parentheses");
    bad("sin", 1, "'sin' needs parentheses");
    bad("x ** * y", 6, "unexpected '*'");
    bad("x $ y", 3, "unexpected '$'");
    bad("1 + 123456789012345678901", 5, "number too long");
    bad("9223372036854775808", 1, "number too long");
    bad("1e19", 1, "number too long");
    bad("x*1e-19", 3, "number too long");
    bad("0.1234567890123456789", 1, "number too long");
    bad("1e999999999999", 1, "number too long");
    bad("2..5", 1, "malformed number");
    bad("sin(x, y)", 6, "one argument");
    bad("x()", 2, "unexpected '('");
}

Test(parse, length_limits)
{
    char buf[4096];
    /* 128 x's joined by '+' is 255 tokens: fits. */
    size_t k = 0;
    for (int i = 0; i < 128; i++)
        k += (size_t)sprintf(buf + k, "%sx", i ? "+" : "");
    kp_expr_t e = parse_ok(buf);
    cr_assert_eq(e.len, 255);
    /* One more term is 257 tokens; the error points at the last '+'. */
    sprintf(buf + k, "+x");
    bad(buf, (long)k + 1, "expression too long");
    /* 65 literals. */
    k = 0;
    for (int i = 0; i < 65; i++)
        k += (size_t)sprintf(buf + k, "%s1", i ? "+" : "");
    bad(buf, (long)k, "too many constants");
    /* Deep nesting is refused, not a stack overflow. */
    memset(buf, '(', 2000);
    buf[2000] = 'x';
    memset(buf + 2001, ')', 2000);
    buf[4001] = '\0';
    kp_error_t err;
    cr_assert_eq(kp_expr_parse(&e, buf, names, 3, &err), KP_EINPUT);
    cr_assert(strstr(err.msg, "nested too deeply") != NULL, "%s", err.msg);
    memset(buf, '-', 3000);
    buf[3000] = 'x';
    buf[3001] = '\0';
    cr_assert_eq(kp_expr_parse(&e, buf, names, 3, &err), KP_EINPUT);
}

Test(parse, long_literals_become_free_constants_only_on_request)
{
    const char *names[] = {"x"};
    const char *text = "-3.5983725795636973e-06*x + 0.12345678901234567";
    kp_expr_t e;
    kp_error_t err;
    kp_error_init(&err);
    cr_assert_eq(kp_expr_parse(&e, text, names, 1, &err), KP_EINPUT);
    cr_assert_eq(err.col, 2, "col %ld: %s", err.col, err.msg);
    cr_assert_eq(kp_expr_parse_flags(&e, text, names, 1, KP_PARSE_FREE_LONG,
                                     &err), KP_OK, "%s", err.msg);
    /* 0.12345678901234567 fits (den 10^17) and stays exact. */
    cr_assert_eq(kp_expr_nfree(&e), 1);
    int seen_neg = 0, seen_pos = 0;
    for (int k = 0; k < e.nconst; k++) {
        seen_neg |= e.c[k].den == 0 && e.c[k].value == -3.5983725795636973e-06;
        seen_pos |= e.c[k].num == 12345678901234567LL &&
                    e.c[k].den == 100000000000000000LL;
    }
    cr_assert(seen_neg && seen_pos);
    /* Short literals stay exact with the flag too. */
    cr_assert_eq(kp_expr_parse_flags(&e, "0.5*x", names, 1, KP_PARSE_FREE_LONG,
                                     &err), KP_OK);
    cr_assert_eq(kp_expr_nfree(&e), 0);
}
