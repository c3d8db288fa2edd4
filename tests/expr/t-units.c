/* t-units.c: unit lists parse into dimensions (SI derived units expanded,
   rational exponents), bad lists are refused with the column, and
   dimensional consistency follows the rules of kp_units.h. */
#include <criterion/criterion.h>
#include <string.h>

#include "kp_units.h"

static kp_units_t u;

static void fini(void)
{
    kp_units_clear(&u);
}

static kp_expr_t parse(const char *text, int n, const char *const *names)
{
    kp_expr_t e;
    kp_error_t err;
    cr_assert_eq(
        kp_expr_parse_flags(&e, text, names, n, KP_PARSE_FREE_LONG, &err),
        KP_OK, "%s: %s", text, err.msg);
    return e;
}

static void fmt(char *buf, int j)
{
    kp_units_format(buf, 64, &u, &u.dim[j]);
}

Test(units, list_parses_with_derived_units_and_fractions, .fini = fini)
{
    kp_error_t err;
    cr_assert_eq(kp_units_parse_list(&u, "m, s,kg*m/s^2,N, 1 ,m**(1/2)/s", 6,
                                     "--units", &err),
                 KP_OK, "%s", err.msg);
    char b[64];
    fmt(b, 0);
    cr_assert_str_eq(b, "m");
    cr_assert(memcmp(&u.dim[2], &u.dim[3], sizeof u.dim[2]) == 0,
              "N is kg*m/s^2");
    fmt(b, 4);
    cr_assert_str_eq(b, "1");
    fmt(b, 5);
    cr_assert_str_eq(b, "m^(1/2)/s");
    fmt(b, 3);
    cr_assert(strstr(b, "kg") && strstr(b, "/s^2"), "got %s", b);
}

Test(units, bad_lists_name_the_column, .fini = fini)
{
    static const struct {
        const char *list;
        int ncols;
        long col;
    } bad[] = {
        {"m,s", 3, 4},     /* fewer units than columns */
        {"m,s,kg", 2, 4},  /* more */
        {"m/(s", 1, 5},    /* unclosed */
        {"m^x", 1, 3},     /* exponent */
        {"m,,s", 3, 3},    /* empty unit */
        {"m^(1/5)", 1, 6}, /* denominator not dividing 12 */
        {"m s", 1, 3},     /* junk */
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        kp_error_t err;
        kp_error_init(&err);
        cr_assert_eq(
            kp_units_parse_list(&u, bad[k].list, bad[k].ncols, "--units", &err),
            KP_EINPUT, "%s accepted", bad[k].list);
        cr_assert_eq(err.col, bad[k].col, "%s: column %ld, wanted %ld (%s)",
                     bad[k].list, err.col, bad[k].col, err.msg);
        cr_assert_str_eq(err.file, "--units");
    }
}

Test(units, consistency_rules, .fini = fini)
{
    /* x: m, t: s, v: m/s; target v */
    static const char *names[] = {"x", "t", "v"};
    kp_error_t err;
    cr_assert_eq(kp_units_parse_list(&u, "m,s,m/s", 3, "--units", &err), KP_OK);
    const kp_dim_t *tv = &u.dim[2], *tx = &u.dim[0];
    static const struct {
        const char *expr;
        int as_v, as_x;
    } cases[] = {
        {"x/t", 1, 0},
        {"v", 1, 0},
        {"x/t + v", 1, 0},
        {"x + t", 0, 0},                       /* m + s */
        {"x + 0.123456789012345678901", 0, 1}, /* free constant takes m */
        {"0.123456789012345678901*t + x", 0, 1},
        {"x*t/t**2", 1, 0},
        {"sqrt(x**2)", 0, 1},
        {"x**(1/2)*x**(1/2)", 0, 1},
        {"exp(x)/t", 0, 0},       /* exp of a length */
        {"exp(x/(v*t))*v", 1, 0}, /* dimensionless argument */
        {"sin(t)*x", 0, 0},
        {"2*pi*x/t", 1, 0}, /* exact numbers are dimensionless */
        {"2*x", 0, 1},
        {"x**0.123456789012345678901", 0, 0}, /* free exponent of a length */
        {"sqrt(x)", 0, 0},
        {"0.123456789012345678901", 1, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        kp_expr_t e = parse(cases[k].expr, 3, names);
        cr_assert_eq(kp_units_consistent(&e, u.dim, tv), cases[k].as_v,
                     "%s as a velocity", cases[k].expr);
        cr_assert_eq(kp_units_consistent(&e, u.dim, tx), cases[k].as_x,
                     "%s as a length", cases[k].expr);
    }
}
