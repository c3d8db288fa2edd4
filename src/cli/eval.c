/* eval.c: `kepler eval EXPR [--data DATA] [--exact] [NAME=VALUE ...]`
   (CONTRACT.md): evaluates an expression on values given on the command
   line or on every row of a CSV file, in floating point or, with --exact,
   exactly (rationals) or as rigorous enclosures (Arb balls). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kp_data.h"
#include "kp_decimal.h"
#include "kp_eval.h"
#include "kp_exact.h"
#include "kp_expr.h"

#define EVAL_MAX_ASSIGN 256

static void eval_help(FILE *f)
{
    fprintf(f,
        "Usage: kepler eval EXPR [--data DATA] [--exact] [NAME=VALUE ...]\n\n"
        "Evaluates EXPR (SymPy syntax: + - * / **, sqrt exp log sin cos tan\n"
        "asin acos atan sinh cosh tanh Abs, pi, E, numbers such as 3/2 or 1e-3)\n"
        "on the values NAME=VALUE given on the command line, or on every row\n"
        "of DATA (a CSV file whose header names the variables), printing one\n"
        "value per line.\n\n"
        "Options:\n"
        "  --data DATA    evaluate on every row of the CSV file DATA\n"
        "  --exact        exact rationals where possible, otherwise rigorous\n"
        "                 enclosures [mid +/- rad] that contain the true value;\n"
        "                 VALUEs and data cells are taken as the decimals written\n"
        "  --digits N     significant digits of enclosures (default 40)\n"
        "  --bits N       target accuracy of enclosures in bits (default 128)\n"
        "  -h, --help     show this help\n\n"
        "Examples:\n"
        "  kepler eval --exact \"1/3 + 1/6\"        prints 1/2\n"
        "  kepler eval --exact \"sin(pi/6)\"        prints an enclosure of 1/2\n"
        "  kepler eval \"x**2 + y\" x=3 y=1/2       prints 9.5\n"
        "  kepler eval \"x**2 + y\" --data f.csv    one value per row of f.csv\n");
}

typedef struct {
    int exact;
    long digits;
    long bits;
    const char *data;
    const char *expr;
    int nassign;
    const char *names[EVAL_MAX_ASSIGN];
    const char *values[EVAL_MAX_ASSIGN];
} eval_opts_t;

static int parse_eval_args(eval_opts_t *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"exact", no_argument, NULL, 'x'},
        {"digits", required_argument, NULL, 'g'},
        {"bits", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    memset(o, 0, sizeof *o);
    o->digits = 40;
    o->bits = 128;
    optind = 1;
    opterr = 0;
    /* "+" keeps option order POSIX-like but we still want options after
       EXPR, so use the default permuting mode and collect operands. */
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            o->data = optarg;
            break;
        case 'x':
            o->exact = 1;
            break;
        case 'g':
            if ((o->digits = kp_cli_parse_count("eval", "--digits", optarg, 1,
                                                10000)) < 0)
                return -1;
            break;
        case 'b':
            if ((o->bits = kp_cli_parse_count("eval", "--bits", optarg, 8,
                                              1000000)) < 0)
                return -1;
            break;
        case 'h':
            eval_help(stdout);
            return 1;
        case ':':
            kp_cli_usage_error("eval", "option %s needs a value",
                               argv[optind - 1]);
            return -1;
        default:
            kp_cli_usage_error("eval", "unknown option '%s'", argv[optind - 1]);
            return -1;
        }
    }
    for (int i = optind; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (o->expr == NULL && eq == NULL) {
            o->expr = argv[i];
        } else if (eq != NULL && eq != argv[i] && o->expr != NULL) {
            if (o->nassign == EVAL_MAX_ASSIGN) {
                kp_cli_usage_error("eval", "too many NAME=VALUE arguments");
                return -1;
            }
            argv[i][eq - argv[i]] = '\0';
            o->names[o->nassign] = argv[i];
            o->values[o->nassign++] = eq + 1;
        } else {
            kp_cli_usage_error("eval", "unexpected argument '%s'", argv[i]);
            return -1;
        }
    }
    if (o->expr == NULL) {
        kp_cli_usage_error("eval", "missing EXPR");
        return -1;
    }
    if (o->data && o->nassign) {
        kp_cli_usage_error("eval", "give either --data or NAME=VALUE values, not both");
        return -1;
    }
    return 0;
}

/* Parses the expression; errors point into it as "expression:1:COL". */
static int parse_expr(kp_expr_t *e, const char *text, const char *const *names,
                      int nnames)
{
    kp_error_t err;
    kp_error_init(&err);
    if (kp_expr_parse(e, text, names, nnames, &err) != KP_OK) {
        snprintf(err.file, sizeof err.file, "expression");
        err.line = 1;
        return kp_cli_report(&err);
    }
    return 0;
}

/* Prints a double so that it reads back exactly; every NaN prints as "nan"
   (printf would show the sign bit of a NaN as "-nan"). */
static void print_double(double x)
{
    if (isnan(x))
        puts("nan");
    else
        printf("%.17g\n", x);
}

static void print_exact(const kp_exact_t *r, long digits)
{
    size_t need = kp_exact_print(NULL, 0, r, digits);
    char *buf = malloc(need + 1);
    if (buf == NULL) {
        puts("out of memory");
        return;
    }
    kp_exact_print(buf, need + 1, r, digits);
    puts(buf);
    free(buf);
}

/* Evaluates exactly with the variables vars[0..nvars-1]; prints one line. */
static int eval_exact_once(const kp_expr_t *e, const fmpq *vars, int nvars,
                           const eval_opts_t *o)
{
    kp_exact_t r;
    kp_error_t err;
    kp_error_init(&err);
    kp_exact_init(&r);
    int rc = kp_exact_eval_adaptive(&r, e, vars, nvars, o->bits,
                                    16 * o->bits + 4096, NULL, &err);
    if (rc == KP_OK)
        print_exact(&r, o->digits);
    kp_exact_clear(&r);
    return rc == KP_OK ? 0 : kp_cli_report(&err);
}

static int eval_on_values(const eval_opts_t *o)
{
    kp_expr_t e;
    int status = parse_expr(&e, o->expr, o->names, o->nassign);
    if (status)
        return status;
    fmpq *vars = _fmpq_vec_init(o->nassign > 0 ? o->nassign : 1);
    double x[EVAL_MAX_ASSIGN];
    const double *cols[EVAL_MAX_ASSIGN];
    for (int i = 0; i < o->nassign && status == 0; i++) {
        kp_error_t err;
        kp_error_init(&err);
        if (kp_exact_fmpq_from_decimal(vars + i, o->values[i], &err)) {
            kp_error_set(&err, KP_EINPUT, "argument", 1,
                         (long)strlen(o->names[i]) + 1 + err.col,
                         "%s=%s: %s", o->names[i], o->values[i], err.msg);
            status = kp_cli_report(&err);
        }
        x[i] = fmpq_get_d(vars + i);
        cols[i] = &x[i];
    }
    if (status == 0) {
        if (o->exact) {
            status = eval_exact_once(&e, vars, o->nassign, o);
        } else {
            double out;
            kp_eval(&out, &e, cols, 1);
            print_double(out);
        }
    }
    _fmpq_vec_clear(vars, o->nassign > 0 ? o->nassign : 1);
    return status;
}

static int eval_on_data(const eval_opts_t *o)
{
    kp_data_t d;
    kp_error_t err;
    kp_error_init(&err);
    kp_data_init(&d);
    if (kp_data_load_csv(&d, o->data, &err) != KP_OK)
        return kp_cli_report(&err);
    kp_expr_t e;
    int status = parse_expr(&e, o->expr, (const char *const *)d.names, d.ncols);
    if (status == 0 && !o->exact) {
        double *out = malloc(d.nrows * sizeof *out);
        if (out == NULL) {
            kp_error_set(&err, KP_ENOMEM, NULL, 0, 0, "out of memory");
            status = kp_cli_report(&err);
        } else {
            kp_eval(out, &e, (const double *const *)d.cols, d.nrows);
            for (size_t i = 0; i < d.nrows; i++)
                print_double(out[i]);
            free(out);
        }
    } else if (status == 0) {
        fmpq *vars = _fmpq_vec_init(d.ncols);
        for (size_t i = 0; i < d.nrows && status == 0; i++) {
            for (int j = 0; j < d.ncols; j++)
                kp_decimal_cell(vars + j, d.cols[j][i], kp_data_col_digits(&d, j));
            status = eval_exact_once(&e, vars, d.ncols, o);
        }
        _fmpq_vec_clear(vars, d.ncols);
    }
    kp_data_clear(&d);
    return status;
}

int kp_cli_eval(int argc, char **argv)
{
    eval_opts_t o;
    int rc = parse_eval_args(&o, argc, argv);
    if (rc != 0)
        return rc < 0 ? KP_EXIT_USAGE : KP_EXIT_OK;
    return o.data ? eval_on_data(&o) : eval_on_values(&o);
}
