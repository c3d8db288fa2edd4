/* lean.c: `kepler lean CERT.json|FIT.json -o OUT.lean` (CONTRACT.md): reads
   a certificate (`kepler search --out`) or a fit result (`kepler fit
   --json`) and writes a Lean 4 file through kp_lean, which re-checks the
   object exactly and refuses to state anything false. Only the object is
   read from the JSON (points, edges, the formula); claimed sizes, values
   and verdicts are ignored. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kp_data.h"
#include "kp_expr.h"
#include "kp_lean.h"

static void lean_help(FILE *f)
{
    fprintf(f,
        "Usage: kepler lean CERT.json|FIT.json -o OUT.lean [options]\n\n"
        "Writes a self-contained Lean 4 file (core library only, no Mathlib)\n"
        "whose theorems, proved by kernel-checked `decide`, state what was found:\n"
        "  capset certificate   IsCap n pts and the number of points\n"
        "  wagner21 certificate the graph is a connected counterexample, with\n"
        "                       Collatz-Wielandt and Tutte-Berge certificates\n"
        "  fit JSON             the best formula reproduces every data row exactly\n"
        "                       (rational functions), or a checked error bound\n"
        "The object is re-checked exactly first; nothing false is ever written.\n"
        "Check the result with `lean OUT.lean` (see docs/lean.md).\n\n"
        "Options:\n"
        "  -o, --out OUT.lean  output file (required)\n"
        "  --data DATA.csv     the data of a fit (default: the \"data\" field of\n"
        "                      FIT.json, relative to that file's directory)\n"
        "  --native            prove by native_decide (trusts the compiler; the July\n"
        "                      2021 pre-release spells the tactic nativeDecide)\n"
        "  --force             overwrite OUT.lean if it exists\n"
        "  -h, --help          show this help\n");
}

static int json_fail(const char *path, const json_error_t *je)
{
    kp_error_t err;
    kp_error_set(&err, KP_EINPUT, path, je->line > 0 ? je->line : 0,
                 je->column > 0 ? je->column : 0, "%s", je->text);
    return kp_cli_report(&err);
}

static int bad_field(const char *path, const char *what)
{
    kp_error_t err;
    kp_error_set(&err, KP_EINPUT, path, 0, 0, "%s", what);
    return kp_cli_report(&err);
}

static int lean_capset(json_t *root, const char *in, const char *out, int flags)
{
    json_t *jn = json_object_get(root, "n"), *jp = json_object_get(root, "points");
    if (!json_is_integer(jn) || json_integer_value(jn) < 1 ||
        json_integer_value(jn) > KP_LEAN_CAPSET_MAX_N)
    {
        char msg[96];
        snprintf(msg, sizeof msg, "\"n\" must be an integer in 1..%d (Lean cannot check larger caps)",
                 KP_LEAN_CAPSET_MAX_N);
        return bad_field(in, msg);
    }
    if (!json_is_array(jp) || json_array_size(jp) == 0)
        return bad_field(in, "\"points\" must be a non-empty array");
    int n = (int)json_integer_value(jn);
    size_t k = json_array_size(jp);
    unsigned char *c = malloc(k * (size_t)n);
    if (c == NULL)
        return bad_field(in, "out of memory");
    for (size_t j = 0; j < k; j++) {
        json_t *p = json_array_get(jp, j);
        if (!json_is_array(p) || json_array_size(p) != (size_t)n) {
            free(c);
            char msg[96];
            snprintf(msg, sizeof msg, "point %zu is not an array of %d coordinates", j, n);
            return bad_field(in, msg);
        }
        for (int i = 0; i < n; i++) {
            json_t *v = json_array_get(p, (size_t)i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > 2) {
                free(c);
                char msg[96];
                snprintf(msg, sizeof msg, "point %zu: coordinate %d is not 0, 1 or 2", j, i);
                return bad_field(in, msg);
            }
            c[j * n + i] = (unsigned char)json_integer_value(v);
        }
    }
    kp_error_t err;
    kp_error_init(&err);
    int rc = kp_lean_write_capset(out, n, c, k, flags, &err);
    free(c);
    if (rc != KP_OK) {
        if (err.file[0] == '\0')
            snprintf(err.file, sizeof err.file, "%s", in);
        return kp_cli_report(&err);
    }
    return KP_EXIT_OK;
}

static int lean_graph(json_t *root, const char *problem, const char *in,
                      const char *out, int flags)
{
    json_t *jn = json_object_get(root, "n"), *je = json_object_get(root, "edges");
    if (!json_is_integer(jn) || json_integer_value(jn) < 2 ||
        json_integer_value(jn) > KP_LEAN_GRAPH_MAX_N)
        return bad_field(in, "\"n\" must be an integer in 2..256");
    if (!json_is_array(je))
        return bad_field(in, "\"edges\" must be an array");
    size_t m = json_array_size(je);
    int *e = malloc((m ? m : 1) * 2 * sizeof *e);
    if (e == NULL)
        return bad_field(in, "out of memory");
    for (size_t i = 0; i < m; i++) {
        json_t *p = json_array_get(je, i);
        json_t *a = json_array_get(p, 0), *b = json_array_get(p, 1);
        if (!json_is_array(p) || json_array_size(p) != 2 || !json_is_integer(a) ||
            !json_is_integer(b) || json_integer_value(a) < 0 ||
            json_integer_value(b) < 0 || json_integer_value(a) > 1000000 ||
            json_integer_value(b) > 1000000) {
            free(e);
            char msg[96];
            snprintf(msg, sizeof msg, "edge %zu is not a pair of vertex numbers", i);
            return bad_field(in, msg);
        }
        e[2 * i] = (int)json_integer_value(a);
        e[2 * i + 1] = (int)json_integer_value(b);
    }
    kp_error_t err;
    kp_error_init(&err);
    int rc = kp_lean_write_graph(out, problem, (int)json_integer_value(jn), e, m,
                                 flags, &err);
    free(e);
    if (rc != KP_OK) {
        if (err.file[0] == '\0')
            snprintf(err.file, sizeof err.file, "%s", in);
        return kp_cli_report(&err);
    }
    return KP_EXIT_OK;
}

/* The data path of a fit: --data, else the JSON's "data" (a relative path
   is taken relative to the JSON file's directory). */
static char *fit_data_path(json_t *root, const char *in, const char *opt)
{
    if (opt != NULL)
        return strdup(opt);
    const char *p = json_string_value(json_object_get(root, "data"));
    if (p == NULL)
        return NULL;
    const char *slash = strrchr(in, '/');
    if (p[0] == '/' || slash == NULL || access(p, F_OK) == 0)
        return strdup(p);
    size_t dl = (size_t)(slash - in) + 1;
    char *r = malloc(dl + strlen(p) + 1);
    if (r != NULL) {
        memcpy(r, in, dl);
        strcpy(r + dl, p);
    }
    return r;
}

static int lean_fit(json_t *root, const char *in, const char *out,
                    const char *data_opt, int flags)
{
    json_t *best = json_object_get(root, "best");
    const char *target = json_string_value(json_object_get(root, "target"));
    json_t *inputs = json_object_get(root, "inputs");
    if (json_is_null(best) || best == NULL) {
        fprintf(stderr, "kepler lean: %s: no best formula to export\n", in);
        return KP_EXIT_NOTFOUND;
    }
    const char *expr = json_string_value(json_object_get(best, "expr"));
    if (expr == NULL || target == NULL || !json_is_array(inputs))
        return bad_field(in, "a fit JSON needs \"target\", \"inputs\" and \"best\": {\"expr\"}");
    char *data = fit_data_path(root, in, data_opt);
    if (data == NULL)
        return kp_cli_usage_error("lean", "%s records no data file; give --data DATA.csv", in);
    kp_error_t err;
    kp_error_init(&err);
    kp_data_t d;
    kp_data_init(&d);
    int status = KP_EXIT_OK;
    if (kp_data_load_csv(&d, data, &err) != KP_OK) {
        status = kp_cli_report(&err);
        goto done;
    }
    int t = kp_data_column(&d, target);
    if (t < 0) {
        kp_error_set(&err, KP_EINPUT, data, 1, 0, "no column named '%s' (the fit's target)", target);
        status = kp_cli_report(&err);
        goto done;
    }
    /* The fit's inputs are the other columns in table order; the JSON must
       agree, or the formula would be read against the wrong columns. */
    const char *names[KP_MAX_VARS];
    int nin = 0;
    for (int j = 0; j < d.ncols && nin < KP_MAX_VARS; j++)
        if (j != t)
            names[nin++] = d.names[j];
    int same = (size_t)nin == json_array_size(inputs);
    for (int i = 0; same && i < nin; i++) {
        const char *s = json_string_value(json_array_get(inputs, (size_t)i));
        same = s != NULL && strcmp(s, names[i]) == 0;
    }
    if (!same) {
        kp_error_set(&err, KP_EINPUT, data, 1, 0,
                     "columns do not match the \"inputs\" of %s", in);
        status = kp_cli_report(&err);
        goto done;
    }
    kp_expr_t e;
    if (kp_expr_parse(&e, expr, names, nin, &err) != KP_OK) {
        snprintf(err.file, sizeof err.file, "%s: best.expr", in);
        status = kp_cli_report(&err);
        goto done;
    }
    if (kp_lean_write_fit(out, &e, &d, t, flags, &err) != KP_OK) {
        if (err.file[0] == '\0')
            snprintf(err.file, sizeof err.file, "%s", data);
        status = kp_cli_report(&err);
    }
done:
    kp_data_clear(&d);
    free(data);
    return status;
}

int kp_cli_lean(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"data", required_argument, NULL, 'd'},
        {"native", no_argument, NULL, 'N'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *out = NULL, *data = NULL;
    int flags = 0, force = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'd': data = optarg; break;
        case 'N': flags |= KP_LEAN_NATIVE; break;
        case 'f': force = 1; break;
        case 'h': lean_help(stdout); return KP_EXIT_OK;
        case ':': return kp_cli_usage_error("lean", "option %s needs a value", argv[optind - 1]);
        default: return kp_cli_usage_error("lean", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return kp_cli_usage_error("lean", "missing CERT.json or FIT.json");
    if (optind + 1 < argc)
        return kp_cli_usage_error("lean", "unexpected argument '%s'", argv[optind + 1]);
    if (out == NULL)
        return kp_cli_usage_error("lean", "missing -o OUT.lean");
    const char *in = argv[optind];
    if (!force && access(out, F_OK) == 0)
        return bad_field(out, "exists; not overwriting it (use --force)");
    json_error_t je;
    json_t *root = json_load_file(in, 0, &je);
    if (root == NULL)
        return json_fail(in, &je);
    int status;
    const char *problem = json_string_value(json_object_get(root, "problem"));
    if (!json_is_object(root))
        status = bad_field(in, "not a JSON object");
    else if (problem != NULL && strcmp(problem, "capset") == 0)
        status = lean_capset(root, in, out, flags);
    else if (problem != NULL && strcmp(problem, "wagner21") == 0)
        status = lean_graph(root, problem, in, out, flags);
    else if (problem != NULL) {
        char msg[192];
        snprintf(msg, sizeof msg, "no Lean export for problem '%.100s' (capset and wagner21 have one)",
                 problem);
        status = bad_field(in, msg);
    } else if (json_object_get(root, "best") != NULL)
        status = lean_fit(root, in, out, data, flags);
    else
        status = bad_field(in, "neither a certificate (\"problem\") nor a fit result (\"best\")");
    json_decref(root);
    return status;
}
