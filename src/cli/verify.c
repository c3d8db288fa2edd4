/* verify.c: `kepler verify CERT.json` (CONTRACT.md): re-derives everything
   from the object in a certificate with exact arithmetic. Exit 0: the
   claim holds; 1: refuted (the message names the witness, e.g. three
   collinear points); 2: bad file (unreadable, malformed JSON, unknown
   problem, wrong dimension, out-of-range value, repeated element, a wrong
   claimed summary), with file:line:column.

   jansson reports positions for syntax errors only; for a bad value the
   problem names its JSON path ("points[4][2]") and a small scanner of the
   raw text finds where that value starts. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kp_problems.h"

static void verify_help(FILE *f)
{
    fprintf(f,
        "Usage: kepler verify CERT.json [options]\n\n"
        "Checks a certificate written by 'kepler search' (or by hand) from the\n"
        "object alone, with exact arithmetic.\n\n"
        "Options:\n"
        "  --plugin FILE.so  problem plugin for certificates of a plugin problem\n"
        "  --quiet           print nothing when the certificate holds\n"
        "  -h, --help        show this help\n\n"
        "Exit status: 0 holds, 1 refuted, 2 bad file or usage, 3 internal error.\n");
}

/* ---- locating a JSON path in the raw text ---- */

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return s;
}

/* Skips a string starting at '"'; returns the character after it. */
static const char *skip_string(const char *s)
{
    for (s++; *s && *s != '"'; s++)
        if (*s == '\\' && s[1])
            s++;
    return *s ? s + 1 : s;
}

static const char *skip_value(const char *s)
{
    s = skip_ws(s);
    if (*s == '"')
        return skip_string(s);
    if (*s == '{' || *s == '[') {
        int depth = 0;
        for (; *s; s++) {
            if (*s == '"') {
                s = skip_string(s) - 1;
                continue;
            }
            if (*s == '{' || *s == '[')
                depth++;
            else if ((*s == '}' || *s == ']') && --depth == 0)
                return s + 1;
        }
        return s;
    }
    while (*s && !strchr(",]} \t\r\n", *s))
        s++;
    return s;
}

/* Start of the value at path (components "key" or "[i]") in text, or the
   start of the deepest value found. */
static const char *locate(const char *text, const char *path)
{
    const char *s = skip_ws(text), *p = path;
    while (*p) {
        if (*p == '[') {
            long idx = strtol(p + 1, (char **)&p, 10);
            if (*p == ']')
                p++;
            s = skip_ws(s);
            if (*s != '[')
                return s;
            s = skip_ws(s + 1);
            for (long i = 0; i < idx; i++) {
                s = skip_ws(skip_value(s));
                if (*s != ',')
                    return s;
                s = skip_ws(s + 1);
            }
        } else {
            size_t klen = strcspn(p, "[.");
            s = skip_ws(s);
            if (*s != '{')
                return s;
            s = skip_ws(s + 1);
            int found = 0;
            while (*s == '"' && !found) {
                const char *k = s + 1, *e = skip_string(s);
                found = (size_t)(e - 1 - k) == klen && !strncmp(k, p, klen);
                s = skip_ws(e);
                if (*s == ':')
                    s = skip_ws(s + 1);
                if (found)
                    break;
                s = skip_ws(skip_value(s));
                if (*s == ',')
                    s = skip_ws(s + 1);
            }
            if (!found)
                return text;
            p += klen;
            if (*p == '.')
                p++;
        }
    }
    return skip_ws(s);
}

static void position(long *line, long *col, const char *text, const char *at)
{
    *line = 1;
    const char *bol = text;
    for (const char *s = text; s < at; s++)
        if (*s == '\n') {
            (*line)++;
            bol = s + 1;
        }
    *col = (long)(at - bol) + 1;
}

static int bad_at(kp_error_t *err, const char *file, const char *text,
                  const char *path, const char *fmt, const char *msg)
{
    long line = 0, col = 0;
    if (text != NULL && path != NULL && path[0] != '\0')
        position(&line, &col, text, locate(text, path));
    return kp_error_set(err, KP_EINPUT, file, line, col, fmt, msg);
}

static char *read_file(const char *path, kp_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        kp_error_set(err, KP_EINPUT, path, 0, 0, "cannot open: %s",
                     strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf != NULL && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int ioerr = ferror(f);
    fclose(f);
    if (buf == NULL) {
        kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        return NULL;
    }
    if (ioerr) {
        free(buf);
        kp_error_set(err, KP_EINPUT, path, 0, 0, "cannot read");
        return NULL;
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        free(buf);
        kp_error_set(err, KP_EINPUT, path, 0, 0, "not a text file (NUL byte)");
        return NULL;
    }
    return buf;
}

typedef struct {
    const char *file, *plugin;
    int quiet;
} verify_opts_t;

static int parse_verify_args(verify_opts_t *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"plugin", required_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': o->plugin = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'h':
            verify_help(stdout);
            return 1;
        case ':':
            kp_cli_usage_error("verify", "option %s needs a value", argv[optind - 1]);
            return -1;
        default:
            kp_cli_usage_error("verify", "unknown option '%s'", argv[optind - 1]);
            return -1;
        }
    }
    if (optind >= argc) {
        kp_cli_usage_error("verify", "missing CERT.json");
        return -1;
    }
    if (optind + 1 < argc) {
        kp_cli_usage_error("verify", "unexpected argument '%s'", argv[optind + 1]);
        return -1;
    }
    o->file = argv[optind];
    return 0;
}

/* Checks the certificate; returns a KP_E* code with err set (KP_OK:
   holds). *summary gets a one-line description on success. */
static int verify_cert(const verify_opts_t *o, const char *text,
                       char *summary, size_t ssize, kp_error_t *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return kp_error_set(err, KP_EINPUT, o->file, jerr.line > 0 ? jerr.line : 0,
                            jerr.column > 0 ? jerr.column : 0,
                            "invalid JSON: %s", jerr.text);
    int rc = KP_OK;
    kp_plugin_t pl = {NULL, NULL};
    uint8_t *x = NULL;
    void *ws = NULL;
    if (!json_is_object(root)) {
        rc = bad_at(err, o->file, text, "", "%s",
                    "a certificate is a JSON object");
        goto done;
    }
    json_t *jp = json_object_get(root, "problem");
    if (!json_is_string(jp)) {
        rc = bad_at(err, o->file, text, jp ? "problem" : "", "%s",
                    "\"problem\" must be a string naming the problem");
        goto done;
    }
    const char *name = json_string_value(jp);
    const kp_problem_t *p;
    if (o->plugin != NULL) {
        if ((rc = kp_problem_plugin_open(&pl, o->plugin, err)) != KP_OK)
            goto done;
        p = pl.problem;
        if (strcmp(p->name, name)) {
            rc = bad_at(err, o->file, text, "problem",
                        "the plugin does not define problem '%s'", name);
            goto done;
        }
    } else if ((p = kp_problem_builtin(name)) == NULL) {
        rc = bad_at(err, o->file, text, "problem",
                    "unknown problem '%s' (a plugin problem needs --plugin)",
                    name);
        goto done;
    }
    json_t *jn = json_object_get(root, "n");
    if (!json_is_integer(jn) || json_integer_value(jn) < p->n_min ||
        json_integer_value(jn) > p->n_max) {
        char msg[128];
        snprintf(msg, sizeof msg, "\"n\" must be an integer in %d..%d",
                 p->n_min, p->n_max);
        rc = bad_at(err, o->file, text, jn ? "n" : "", "%s", msg);
        goto done;
    }
    int n = (int)json_integer_value(jn);
    if (p->cert_read == NULL) {
        rc = bad_at(err, o->file, text, "", "problem '%s' has no "
                    "certificate reader", p->name);
        goto done;
    }
    size_t len = p->length(n);
    size_t wsz = p->ws_size ? p->ws_size(n) : 0;
    wsz = (wsz + 63) / 64 * 64 + 64;
    x = calloc(len ? len : 1, 1);
    ws = aligned_alloc(64, wsz);
    if (x == NULL || ws == NULL) {
        rc = kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    memset(ws, 0, wsz);
    kp_problem_msg_t m = {{0}, {0}};
    int prc = p->cert_read(x, n, root, &m);
    if (prc != KP_PROBLEM_OK) {
        rc = bad_at(err, o->file, text, m.where, "%s", m.msg);
        goto done;
    }
    prc = p->verify(x, n, ws, &m);
    if (prc == KP_PROBLEM_REFUTED) {
        rc = kp_error_set(err, KP_ENOTFOUND, o->file, 0, 0, "refuted: %s",
                          m.msg);
        goto done;
    }
    if (prc != KP_PROBLEM_OK) {
        rc = bad_at(err, o->file, text, m.where, "%s", m.msg);
        goto done;
    }
    kp_score_t s;
    p->score(&s, x, n, ws);
    if (s.den > 0 && s.den != 1)
        snprintf(summary, ssize, "%s n=%d, score %lld/%lld", p->name, n,
                 (long long)s.num, (long long)s.den);
    else if (s.den == 1)
        snprintf(summary, ssize, "%s n=%d, score %lld", p->name, n,
                 (long long)s.num);
    else
        snprintf(summary, ssize, "%s n=%d, score %.17g", p->name, n, s.value);
done:
    free(x);
    free(ws);
    json_decref(root);
    kp_problem_plugin_close(&pl);
    return rc;
}

int kp_cli_verify(int argc, char **argv)
{
    verify_opts_t o;
    int rc = parse_verify_args(&o, argc, argv);
    if (rc != 0)
        return rc < 0 ? KP_EXIT_USAGE : KP_EXIT_OK;
    kp_error_t err;
    kp_error_init(&err);
    char *text = read_file(o.file, &err);
    if (text == NULL)
        return kp_cli_report(&err);
    char summary[256] = "";
    rc = verify_cert(&o, text, summary, sizeof summary, &err);
    free(text);
    if (rc != KP_OK)
        return kp_cli_report(&err);
    if (!o.quiet)
        printf("%s: holds: %s\n", o.file, summary);
    return KP_EXIT_OK;
}
