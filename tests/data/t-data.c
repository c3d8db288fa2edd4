/* t-data.c: the CSV loader and the number reader of kp_data.h.
   Good inputs are checked value by value; every rejected input is checked
   for its code, line, column and message; the number reader is checked bit
   for bit against glibc strtod on random decimal strings. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kp_data.h"
#include "kp_rng.h"
#include "../kp_test.h"

#define FIXTURE(name) KP_SRCDIR "/tests/data/" name

static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static int load_str(kp_data_t *d, const char *s, kp_error_t *err)
{
    return kp_data_load_buffer(d, s, strlen(s), "mem.csv", err);
}

/* A short random number as people write them: integer, fixed decimal or
   exponent form, sometimes signed. */
static void random_cell(char *s, kp_rng_t *r)
{
    long m = (long)kp_rng_below(r, 2000000) - 1000000;
    switch (kp_rng_below(r, 3)) {
    case 0:
        sprintf(s, "%ld", m);
        break;
    case 1:
        sprintf(s, "%.*f", (int)kp_rng_below(r, 8), (double)m / 1000);
        break;
    default:
        sprintf(s, "%.3e", (double)m * 1e-7);
        break;
    }
}

Test(data, good_fixture_bom_crlf_comments_quotes)
{
    kp_data_t d;
    kp_error_t err;
    static const double want[3][4] = {
        {1, -0.125, 7, 1234567890123456789.0},
        {2.5, 1e-3, -1.5e2, 0.1},
        {-3, 2.5E+4, .5, 5.}};

    kp_data_init(&d);
    int rc = kp_data_load_csv(&d, FIXTURE("good.csv"), &err);
    cr_assert_eq(rc, KP_OK, "%s:%ld:%ld: %s", err.file, err.line, err.col,
                 err.msg);
    cr_assert_eq(d.ncols, 3);
    cr_assert_eq(d.nrows, 4);
    cr_assert_str_eq(d.names[0], "x0");
    cr_assert_str_eq(d.names[1], "x1");
    cr_assert_str_eq(d.names[2], "y");
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < 4; i++)
            cr_assert(same_double(d.cols[j][i], want[j][i]),
                      "col %d row %d: %.17g != %.17g", j, i, d.cols[j][i],
                      want[j][i]);
    cr_assert_eq(kp_data_column(&d, "x1"), 1);
    cr_assert_eq(kp_data_column(&d, "y"), 2);
    cr_assert_eq(kp_data_column(&d, "z"), -1);
    /* x0: 1, -0.125, +7, 1234567890123456789 */
    cr_assert_eq(kp_data_col_digits(&d, 0), 19);
    cr_assert_eq(kp_data_col_exp10(&d, 0), -3);
    cr_assert_eq(kp_data_col_is_integer(&d, 0), 0);
    /* x1: 2.5, 1e-3, -1.5e2, 0.1 */
    cr_assert_eq(kp_data_col_digits(&d, 1), 2);
    cr_assert_eq(kp_data_col_exp10(&d, 1), -3);
    /* y: -3, 2.5E+4, .5, 5. */
    cr_assert_eq(kp_data_col_digits(&d, 2), 2);
    cr_assert_eq(kp_data_col_exp10(&d, 2), -1);
    cr_assert_eq(kp_data_col_is_integer(&d, 2), 0);
    kp_data_clear(&d);
    cr_assert_eq(d.ncols, 0);
    cr_assert_null(d.cols);
}

Test(data, quoting_and_layout_variants)
{
    kp_data_t d;
    kp_error_t err;

    kp_data_init(&d);
    /* Quoted names with commas, doubled quotes and a newline; no final
       newline; spaces around fields; whitespace-only lines; a '#' that
       starts a line inside a quoted field is data, not a comment. */
    const char *s = "# c\n   \n\"a,b\",\"say \"\"hi\"\"\",\"two\n#lines\"\n"
                    " 1 ,\" 2 \",3\n\t\n4,5,6e0";
    int rc = load_str(&d, s, &err);
    cr_assert_eq(rc, KP_OK, "%ld:%ld: %s", err.line, err.col, err.msg);
    cr_assert_eq(d.ncols, 3);
    cr_assert_eq(d.nrows, 2);
    cr_assert_str_eq(d.names[0], "a,b");
    cr_assert_str_eq(d.names[1], "say \"hi\"");
    cr_assert_str_eq(d.names[2], "two\n#lines");
    cr_assert_eq(d.cols[0][0], 1);
    cr_assert_eq(d.cols[1][0], 2);
    cr_assert_eq(d.cols[2][1], 6);

    /* One column is allowed; loading again replaces the table. */
    rc = load_str(&d, "y\n-0\n1e2\n", &err);
    cr_assert_eq(rc, KP_OK, "%s", err.msg);
    cr_assert_eq(d.ncols, 1);
    cr_assert_eq(d.nrows, 2);
    cr_assert(same_double(d.cols[0][0], -0.0));
    cr_assert_eq(d.cols[0][1], 100);
    cr_assert_eq(kp_data_col_is_integer(&d, 0), 1);
    cr_assert_eq(kp_data_col_exp10(&d, 0), 0);

    /* CRLF without a final line end, BOM directly before the header. */
    rc = load_str(&d, "\xEF\xBB\xBFp,q\r\n1,2\r\n3,4", &err);
    cr_assert_eq(rc, KP_OK, "%s", err.msg);
    cr_assert_str_eq(d.names[0], "p");
    cr_assert_str_eq(d.names[1], "q");
    cr_assert_eq(d.nrows, 2);
    cr_assert_eq(d.cols[1][1], 4);
    kp_data_clear(&d);
}

Test(data, many_rows_grow_columns)
{
    kp_data_t d;
    kp_error_t err;
    size_t n = 5000, cap = 64 + n * 48, k = 0;
    char *buf = malloc(cap);

    k += (size_t)snprintf(buf + k, cap - k, "i,half,neg\n");
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%zu,%zu.5,-%zue-3\n", i, i,
                              i);
    kp_data_init(&d);
    int rc = kp_data_load_buffer(&d, buf, k, "gen", &err);
    cr_assert_eq(rc, KP_OK, "%s", err.msg);
    cr_assert_eq(d.nrows, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(d.cols[0][i], (double)i);
        cr_assert_eq(d.cols[1][i], i + 0.5);
        cr_assert(same_double(d.cols[2][i], -(double)i / 1000),
                  "row %zu", i);
    }
    cr_assert_eq(kp_data_col_is_integer(&d, 0), 1);
    cr_assert_eq(kp_data_col_digits(&d, 0), 4);
    cr_assert_eq(kp_data_col_exp10(&d, 1), -1);
    cr_assert_eq(kp_data_col_exp10(&d, 2), -3);
    kp_data_clear(&d);
    free(buf);
}

/* Lines without quotes bypass libcsv; the same table written with every
   field quoted (so libcsv tokenizes it) must load bit for bit the same. */
Test(data, quoted_and_unquoted_tables_load_identically)
{
    kp_rng_t r;
    kp_data_t a, b;
    kp_error_t err;
    size_t cap = 1 << 20, ka = 0, kb = 0;
    char *ta = malloc(cap), *tb = malloc(cap), cell[64];
    int rows = 800, cols = 4;

    kp_test_rng_init(&r);
    ka += (size_t)sprintf(ta, "c0,c1,c2,c3\n");
    kb += (size_t)sprintf(tb, "\"c0\", \"c1\",\"c2\" ,\"c3\"\r\n");
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            random_cell(cell, &r);
            const char *sep = j + 1 < cols ? "," : "\n";
            ka += (size_t)sprintf(ta + ka, "%s%s", cell, sep);
            kb += (size_t)sprintf(tb + kb, "%s\"%s\"%s",
                                  kp_rng_below(&r, 4) ? "" : " ", cell,
                                  j + 1 < cols ? "," : "\r\n");
        }
    kp_data_init(&a);
    kp_data_init(&b);
    cr_assert_eq(kp_data_load_buffer(&a, ta, ka, "a", &err), KP_OK, "%s",
                 err.msg);
    cr_assert_eq(kp_data_load_buffer(&b, tb, kb, "b", &err), KP_OK, "%s",
                 err.msg);
    cr_assert_eq(a.nrows, (size_t)rows);
    cr_assert_eq(b.nrows, (size_t)rows);
    for (int j = 0; j < cols; j++) {
        cr_assert_str_eq(a.names[j], b.names[j]);
        for (int i = 0; i < rows; i++)
            cr_assert(same_double(a.cols[j][i], b.cols[j][i]), "%d %d", i, j);
        cr_assert_eq(a.dec[j].digits, b.dec[j].digits);
        cr_assert_eq(a.dec[j].exp10, b.dec[j].exp10);
        cr_assert_eq(a.dec[j].is_integer, b.dec[j].is_integer);
    }
    kp_data_clear(&a);
    kp_data_clear(&b);
    free(ta);
    free(tb);
}

typedef struct {
    const char *text;
    long line, col;
    const char *msg; /* substring of the message */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"", 1, 1, "empty file"},
    {"# nothing\n\n  \r\n", 1, 1, "empty file"},
    {"\xEF\xBB\xBF", 1, 1, "empty file"},
    {"a,b\n", 1, 1, "no data rows"},
    {"# c\na,b\n# c\n\n", 2, 1, "no data rows"},
    {"a,,c\n1,2,3\n", 1, 3, "empty column name"},
    {"a, \"\" ,c\n1,2,3\n", 1, 4, "empty column name"},
    {"x,y,x\n1,2,3\n", 1, 5, "duplicate column name 'x'"},
    {"x,y\n1,2\n3\n", 3, 2, "row has 1 fields, expected 2"},
    {"x,y,z\n1,2\n", 2, 4, "row has 2 fields, expected 3"},
    {"x,y\r\n1,2   \r\n3\r\n", 3, 2, "expected 2"},
    {"x,y\n1,2\n3,4,5,6\n", 3, 5, "row has 4 fields, expected 2"},
    {"x,y\n1,2\n3,4,\n", 3, 5, "row has 3 fields, expected 2"},
    {"x0,x1\n1,2\n3,abc\n", 3, 3, "'abc' is not a number (column x1)"},
    {"x0,x1\n1,  12a\n", 2, 5, "'12a' is not a number (column x1)"},
    {"x0,x1\n1,0x10\n", 2, 3, "not a number"},
    {"x0,x1\n1,1e\n", 2, 3, "not a number"},
    {"x0,x1\n1,1e+\n", 2, 3, "not a number"},
    {"x0,x1\n1,.\n", 2, 3, "not a number"},
    {"x0,x1\n1,-\n", 2, 3, "not a number"},
    {"x0,x1\n1,1.2.3\n", 2, 3, "not a number"},
    {"x0,x1\n1,1,5\n", 2, 5, "expected 2"},
    {"x0,x1\n1,\n", 2, 3, "empty cell in column x1"},
    {"x0,x1\n,1\n", 2, 1, "empty cell in column x0"},
    {"x0,x1\n1,\"\"\n", 2, 3, "empty cell in column x1"},
    {"x0,x1\n1,2\n3,  \n", 3, 3, "empty cell in column x1"},
    {"x0,x1\n1,nan\n", 2, 3, "'nan' is not allowed (column x1)"},
    {"x0,x1\n1,NaN\n", 2, 3, "not allowed"},
    {"x0,x1\n-inf,1\n", 2, 1, "'-inf' is not allowed (column x0)"},
    {"x0,x1\n1,Infinity\n", 2, 3, "not allowed"},
    {"x0,x1\n1,nan(0x1)\n", 2, 3, "not allowed"},
    {"x0,x1\n1,\"abc\n", 2, 3, "unterminated quoted field"},
    {"x0,x1\n1,\"2\n3,4\n5,6\n", 2, 3, "unterminated quoted field"},
    {"x0,\"x1\n\n", 1, 4, "unterminated quoted field"},
    {"x0,x1\n1,2\"3\n", 2, 4, "unexpected quote"},
    {"x0,x1\n1,\"2\"3\n", 2, 6, "unexpected character after a closing quote"},
    {"x0,x1\n1,1e999\n", 2, 3, "'1e999' is out of double range (column x1)"},
    {"x0,x1\n1,-2e308\n", 2, 3, "out of double range"},
    {"x0,x1\n1,1e-400\n", 2, 3, "out of double range"},
    {"x0,x1\n1,1e99999999999999999999\n", 2, 3, "out of double range"},
    /* lines are counted through comments, blank lines and quoted line
       breaks; columns are characters (UTF-8), after the BOM */
    {"\xEF\xBB\xBF\"a\nb\",c\n# x\n\n1,2\n\"3\n\",z\n", 6, 1,
     "'3\n' is not a number (column a\nb)"},
    {"\xEF\xBB\xBFx,y\n1,q\n", 2, 3, "not a number"},
    {"\xC3\xA9t\xC3\xA9,y\n\xC3\xA9,1\n", 2, 1, "'\xC3\xA9' is not a number"},
    {"\xC3\xA9t\xC3\xA9,y,z\n1,2,\n", 2, 5, "empty cell in column z"},
    {"x,y\n1,2\n3,\"4\n\n\",7\n", 3, 3, "not a number"},
    {"x,y\n1,\"2\n\",x\n", 2, 3, "not a number"},
    {"x,\"y\n\",x\n1,2,3\n", 2, 3, "duplicate column name 'x'"},
};

Test(data, every_bad_input_names_line_and_column)
{
    kp_data_t d;
    kp_error_t err;
    char line[KP_ERROR_MSG_MAX + 300];

    kp_data_init(&d);
    for (size_t k = 0; k < sizeof bad_cases / sizeof bad_cases[0]; k++) {
        const bad_case_t *b = &bad_cases[k];
        int rc = load_str(&d, b->text, &err);
        kp_error_format(line, sizeof line, &err);
        cr_assert_eq(rc, KP_EINPUT, "case %zu: rc %d (%s)", k, rc, line);
        cr_assert_eq(err.code, KP_EINPUT, "case %zu", k);
        cr_assert_str_eq(err.file, "mem.csv", "case %zu", k);
        cr_assert(err.line == b->line && err.col == b->col,
                  "case %zu: got %ld:%ld want %ld:%ld (%s)", k, err.line,
                  err.col, b->line, b->col, line);
        cr_assert(strstr(err.msg, b->msg) != NULL,
                  "case %zu: message \"%s\" lacks \"%s\"", k, err.msg, b->msg);
        /* a failed load leaves the table empty */
        cr_assert_eq(d.ncols, 0, "case %zu", k);
        cr_assert_eq(d.nrows, 0, "case %zu", k);
        cr_assert_null(d.cols, "case %zu", k);
    }
}

Test(data, bad_files_and_paths)
{
    kp_data_t d;
    kp_error_t err;
    char buf[1024];

    kp_data_init(&d);
    cr_assert_eq(kp_data_load_csv(&d, FIXTURE("bad-text.csv"), &err),
                 KP_EINPUT);
    cr_assert_eq(err.line, 3);
    cr_assert_eq(err.col, 3);
    cr_assert(strstr(err.file, "bad-text.csv") != NULL);
    kp_error_format(buf, sizeof buf, &err);
    cr_assert(strstr(buf, "bad-text.csv:3:3: 'abc' is not a number "
                          "(column y)") != NULL, "%s", buf);

    cr_assert_eq(kp_data_load_csv(&d, FIXTURE("comments-only.csv"), &err),
                 KP_EINPUT);
    cr_assert(strstr(err.msg, "empty file") != NULL, "%s", err.msg);
    cr_assert_eq(kp_data_load_csv(&d, FIXTURE("no-such-file.csv"), &err),
                 KP_EINPUT);
    cr_assert(strstr(err.msg, "cannot open") != NULL, "%s", err.msg);
    cr_assert_eq(kp_data_load_csv(&d, KP_SRCDIR "/tests/data", &err),
                 KP_EINPUT);
    /* NULL err is allowed */
    cr_assert_eq(kp_data_load_buffer(&d, "x\n", 2, NULL, NULL), KP_EINPUT);
    cr_assert_eq(kp_data_load_buffer(&d, "x\n1\n", 4, NULL, NULL), KP_OK);
    kp_data_clear(&d);
}

/* Checks the reader against strtod on one string; returns 0 on mismatch. */
static int check_against_strtod(const char *s)
{
    double x = 0, y;
    kp_data_decimal_t dec;
    int st = kp_data_parse_number(&x, &dec, s, strlen(s));
    char *end;

    y = strtod(s, &end);
    cr_assert_eq(*end, '\0', "strtod did not consume \"%s\"", s);
    if (isinf(y) || y == 0.0) {
        /* zero is fine when every digit is zero */
        int allzero = strspn(s, "+-0.") == strcspn(s, "eE") ||
                      strspn(s, "+-0.") == strlen(s);
        if (y == 0.0 && allzero)
            return st == KP_DATA_NUM_OK && same_double(x, y);
        return st == KP_DATA_NUM_RANGE;
    }
    return st == KP_DATA_NUM_OK && same_double(x, y);
}

/* A random decimal string: sign, digits with an optional point, optional
   exponent; lengths and exponents are biased toward the fast paths'
   boundaries (19 digits, 2^53, |exp| 22 and 27). */
static void random_decimal(char *s, kp_rng_t *r)
{
    size_t k = 0;
    int nd = 1 + (int)kp_rng_below(r, kp_rng_below(r, 4) ? 20 : 40);
    int point = (int)kp_rng_below(r, (uint64_t)nd + 2) - 1;

    switch (kp_rng_below(r, 3)) {
    case 0:
        s[k++] = '-';
        break;
    case 1:
        if (kp_rng_below(r, 4) == 0)
            s[k++] = '+';
        break;
    }
    int lead0 = kp_rng_below(r, 5) == 0 ? (int)kp_rng_below(r, 4) : 0;
    for (int i = 0; i < nd; i++) {
        if (i == point)
            s[k++] = '.';
        s[k++] = i < lead0 ? '0' : (char)('0' + kp_rng_below(r, 10));
    }
    if (point == nd)
        s[k++] = '.';
    if (kp_rng_below(r, 3) != 0) {
        long e;
        switch (kp_rng_below(r, 4)) {
        case 0:
            e = (long)kp_rng_below(r, 61) - 30;
            break;
        case 1:
            e = (long)kp_rng_below(r, 700) - 360;
            break;
        default:
            e = (long)kp_rng_below(r, 25) - 12;
            break;
        }
        k += (size_t)sprintf(s + k, "%c%s%ld", kp_rng_below(r, 2) ? 'e' : 'E',
                             e >= 0 && kp_rng_below(r, 2) ? "+" : "", e);
    }
    s[k] = '\0';
}

Test(data, number_reader_matches_strtod_on_random_decimals)
{
    kp_rng_t r;
    char s[128];
    long n = 100000 * kp_test_multiplier();

    kp_test_rng_init(&r);
    for (long i = 0; i < n; i++) {
        random_decimal(s, &r);
        cr_assert(check_against_strtod(s), "seed %llu iteration %ld: \"%s\"",
                  (unsigned long long)kp_test_seed(), i, s);
    }
}

Test(data, number_reader_matches_strtod_near_double_boundaries)
{
    kp_rng_t r;
    char s[1200];
    long n = 20000 * kp_test_multiplier();

    kp_test_rng_init(&r);
    for (long i = 0; i < n; i++) {
        /* a random double of moderate or extreme magnitude */
        double d = ldexp(1 + kp_rng_uniform(&r),
                         (int)kp_rng_below(&r, 200) - 100);
        if (i % 10 == 0)
            d = ldexp(1 + kp_rng_uniform(&r),
                      (int)kp_rng_below(&r, 2090) - 1074);
        double up = nextafter(d, INFINITY);
        const char *fmt[] = {"%.17g", "%.16g", "%.15g", "%.19g", "%.21e"};
        for (int f = 0; f < 5; f++) {
            snprintf(s, sizeof s, fmt[f], d);
            cr_assert(check_against_strtod(s), "iteration %ld: \"%s\"", i, s);
        }
        /* the exact midpoint between d and its successor, its neighbours
           one unit in the 20th and 25th digit, and truncations of it */
        long double mid = ((long double)d + (long double)up) / 2;
        if (isinf(up) || d < 1e-300)
            continue;
        snprintf(s, sizeof s, "%.60Le", mid);
        cr_assert(check_against_strtod(s), "midpoint \"%s\"", s);
        for (int cut = 17; cut <= 26; cut++) {
            char t[128];
            snprintf(t, sizeof t, "%.*Le", cut, mid);
            cr_assert(check_against_strtod(t), "near midpoint \"%s\"", t);
        }
    }
    /* integers around 2^53 and 2^64, long digit strings */
    const char *fixed[] = {
        "9007199254740993", "9007199254740992", "9007199254740995",
        "18446744073709551615", "18446744073709551616", "18446744073709551617",
        "9223372036854775807", "123456789012345678901234567890",
        "0.1", "0.3", "2.2250738585072011e-308", "2.2250738585072014e-308",
        "4.9406564584124654e-324", "2.4703282292062328e-324",
        "2.4703282292062327e-324", "1.7976931348623157e308",
        "1.7976931348623158e308", "1.7976931348623159e308",
        "8.98846567431158e307", "1e23", "1e22", "9e22", "123e-27",
        "7.038531e-26", "0.0000000000000000000000000000000000001",
        "1000000000000000000000000000000000000000000000000000000000000e-40",
        "-0", "+0.000e-5", "00000000123.4500000", "1.e5", "-.5E-1"};
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
        cr_assert(check_against_strtod(fixed[k]), "\"%s\"", fixed[k]);
    /* a 1000-digit mantissa: only the sticky digit decides */
    memset(s, '0', 1001);
    s[0] = '1';
    s[1001] = '\0';
    strcat(s, "e-1000");
    cr_assert(check_against_strtod(s), "long 1");
    s[999] = '1';
    cr_assert(check_against_strtod(s), "long 2");
}

Test(data, number_reader_decimal_shape_and_rejects)
{
    static const struct {
        const char *s;
        int digits, exp10, is_integer;
    } cases[] = {
        {"1.25", 3, -2, 0},      {"1200", 4, 0, 1},     {"1.2e3", 2, 2, 1},
        {"1.250", 4, -3, 0},     {"0.00", 1, -2, 1},    {"0", 1, 0, 1},
        {"-0.0125", 3, -4, 0},   {"1.0", 2, -1, 1},     {"15e-1", 2, -1, 0},
        {"150e-1", 3, -1, 1},    {" 42 ", 2, 0, 1},     {".5", 1, -1, 0},
        {"5.", 1, 0, 1},         {"000123", 3, 0, 1},   {"1e-3", 1, -3, 0},
        {"123456789012345678901", 21, 0, 1},
    };
    double x;
    kp_data_decimal_t dec;

    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int st = kp_data_parse_number(&x, &dec, cases[k].s,
                                      strlen(cases[k].s));
        cr_assert_eq(st, KP_DATA_NUM_OK, "%s", cases[k].s);
        cr_assert_eq(dec.digits, cases[k].digits, "%s: digits %d",
                     cases[k].s, dec.digits);
        cr_assert_eq(dec.exp10, cases[k].exp10, "%s: exp10 %d", cases[k].s,
                     dec.exp10);
        cr_assert_eq(dec.is_integer, cases[k].is_integer, "%s", cases[k].s);
        cr_assert(same_double(x, strtod(cases[k].s, NULL)), "%s", cases[k].s);
    }
    /* the reader honours its length and needs no NUL */
    cr_assert_eq(kp_data_parse_number(&x, NULL, "12345", 3), KP_DATA_NUM_OK);
    cr_assert_eq(x, 123);
    cr_assert_eq(kp_data_parse_number(&x, NULL, "", 0), KP_DATA_NUM_EMPTY);
    cr_assert_eq(kp_data_parse_number(&x, NULL, " \t ", 3),
                 KP_DATA_NUM_EMPTY);
    cr_assert_eq(kp_data_parse_number(&x, NULL, "INF", 3),
                 KP_DATA_NUM_NONFINITE);
    cr_assert_eq(kp_data_parse_number(&x, NULL, "-nan", 4),
                 KP_DATA_NUM_NONFINITE);
    cr_assert_eq(kp_data_parse_number(&x, NULL, "info", 4),
                 KP_DATA_NUM_SYNTAX);
    cr_assert_eq(kp_data_parse_number(&x, NULL, "1,5", 3),
                 KP_DATA_NUM_SYNTAX);
    cr_assert_eq(kp_data_parse_number(&x, NULL, "1 5", 3),
                 KP_DATA_NUM_SYNTAX);
    cr_assert_eq(kp_data_parse_number(&x, NULL, "+-1", 3),
                 KP_DATA_NUM_SYNTAX);
    cr_assert_eq(kp_data_parse_number(&x, NULL, "1e5000", 6),
                 KP_DATA_NUM_RANGE);
    cr_assert_eq(kp_data_parse_number(&x, NULL, "0e5000", 6), KP_DATA_NUM_OK);
    cr_assert_eq(x, 0);
    /* subnormals are accepted (strtod value), total underflow is not */
    cr_assert_eq(kp_data_parse_number(&x, NULL, "5e-324", 6), KP_DATA_NUM_OK);
    cr_assert(x > 0);
    cr_assert_eq(kp_data_parse_number(&x, NULL, "2e-324", 6),
                 KP_DATA_NUM_RANGE);
}
