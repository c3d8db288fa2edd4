/* kp_data.c: the CSV loader and the C-locale number reader of kp_data.h.

   Reading: the input is split into physical lines here; comment and blank
   lines are dropped when they start a record (outside quotes). A line with
   a quote, and every line of a quoted record, is fed to libcsv (strict
   mode, LF ends a record, CR counts as space), which calls back once per
   field and once per record. A record on one line without any quote (the
   bulk of real data) is split at commas directly, with the same trimming,
   which avoids libcsv's per-byte callbacks; a test checks both paths give
   identical tables. Because a record always starts at a line start that
   this loop has seen, the loop knows each record's first byte and line; an
   error re-scans just that record to find where the bad field starts. In
   strict mode the quote grammar is regular, so the parity of '"' on a line
   tells whether the next line continues a quoted field.

   Memory: files are mmap'ed and consumed pages are dropped as the reader
   moves on; columns grow geometrically with realloc (large blocks move by
   mremap, without copying) and are trimmed at the end, so peak memory is
   about the size of the doubles.

   Numbers: Clinger's fast path (mantissa < 2^53, |exp10| <= 22: one
   correctly rounded IEEE operation on exact operands), then on x86 an
   80-bit product or quotient whose rounding to 53 bits is provably correct
   unless the 80-bit result lands exactly on a 53-bit midpoint, then glibc
   strtod on a canonical copy of the digits. */
#include "kp_data.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <stdarg.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- numbers */

static const double kp_data_p10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#if (defined(__x86_64__) || defined(__i386__)) && LDBL_MANT_DIG == 64
#define KP_DATA_X87 1
/* 10^k is exact in the 64-bit significand for k <= 27 (5^27 < 2^64). */
static const long double kp_data_p10l[28] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
#endif

/* Significant digits kept for strtod: every double midpoint has fewer than
   800 significant digits, so digits beyond that only matter through a
   non-zero "sticky" digit. */
#define KP_DATA_MAXDIG 800

static int kp_data_is_sp(char c)
{
    return c == ' ' || c == '\t';
}

static int kp_data_isdig(char c)
{
    return (unsigned char)(c - '0') < 10;
}

/* Whether [p, end) spells nan, nan(...), inf or infinity in any case. */
static int kp_data_nonfinite_word(const char *p, const char *end)
{
    static const char *const words[] = {"nan", "inf", "infinity"};
    size_t n = (size_t)(end - p);

    for (int w = 0; w < 3; w++) {
        size_t k = strlen(words[w]);
        if (n < k || strncasecmp(p, words[w], k) != 0)
            continue;
        if (n == k)
            return 1;
        if (w == 0 && p[k] == '(' && end[-1] == ')')
            return 1;
    }
    return 0;
}

static int kp_data_clamp_int(long v)
{
    return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

/* strtod on a canonical copy: sign, at most KP_DATA_MAXDIG significant
   digits (plus a sticky 1 when non-zero digits were cut), exponent. */
static double kp_data_slow(const char *p, const char *end, int neg, long sig,
                           long last)
{
    char buf[KP_DATA_MAXDIG + 40];
    size_t k = 0;
    long kept = 0;
    int sticky = 0, started = 0;

    if (neg)
        buf[k++] = '-';
    for (; p < end && (kp_data_isdig(*p) || *p == '.'); p++) {
        if (*p == '.' || (!started && *p == '0'))
            continue;
        started = 1;
        if (kept < KP_DATA_MAXDIG) {
            buf[k++] = *p;
            kept++;
        } else if (*p != '0') {
            sticky = 1;
        }
    }
    /* value = kept digits * 10^(last + sig - kept) */
    long e = last + (sig - kept);
    if (sticky) {
        buf[k++] = '1';
        e--;
    }
    snprintf(buf + k, sizeof buf - k, "e%ld", e);
    return strtod(buf, NULL);
}

int kp_data_parse_number(double *x, kp_data_decimal_t *dec, const char *s,
                         size_t n)
{
    const char *p = s, *end = s + n;
    const char *mant, *mend, *ds;
    uint64_t w = 0;
    long sig = 0, nfrac = 0, tz = 0, ex = 0, last;
    int neg = 0, anydig = 0, dropped_nz = 0;
    double v;

    while (p < end && kp_data_is_sp(*p))
        p++;
    while (end > p && kp_data_is_sp(end[-1]))
        end--;
    if (p == end)
        return KP_DATA_NUM_EMPTY;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (p < end && ((*p | 0x20) == 'n' || (*p | 0x20) == 'i'))
        return kp_data_nonfinite_word(p, end) ? KP_DATA_NUM_NONFINITE
                                              : KP_DATA_NUM_SYNTAX;
    mant = p;
    /* Leading zeros are not significant; w takes every significant digit
       (it wraps past 19 digits, which the rare sig > 19 case redoes). */
    while (p < end && *p == '0')
        p++;
    ds = p;
    while (p < end && kp_data_isdig(*p))
        w = w * 10 + (unsigned)(*p++ - '0');
    sig = p - ds;
    anydig = p > mant;
    if (p < end && *p == '.') {
        const char *fs = ++p, *z;
        if (sig == 0)
            while (p < end && *p == '0')
                p++;
        z = p;
        while (p < end && kp_data_isdig(*p))
            w = w * 10 + (unsigned)(*p++ - '0');
        sig += p - z;
        nfrac = p - fs;
        anydig |= nfrac > 0;
    }
    mend = p;
    if (!anydig)
        return KP_DATA_NUM_SYNTAX;
    if (p < end && (*p | 0x20) == 'e') {
        int eneg = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p == end || !kp_data_isdig(*p))
            return KP_DATA_NUM_SYNTAX;
        for (; p < end && kp_data_isdig(*p); p++)
            if (ex < 100000000)
                ex = ex * 10 + (*p - '0');
        if (eneg)
            ex = -ex;
    }
    if (p != end)
        return KP_DATA_NUM_SYNTAX;
    last = ex - nfrac;
    if (sig > 19) {
        /* keep the first 19 significant digits, note any non-zero cut */
        long k = 0;
        w = 0;
        for (const char *q = mant; q < mend; q++) {
            if (*q == '.' || (k == 0 && *q == '0'))
                continue;
            if (k < 19)
                w = w * 10 + (unsigned)(*q - '0');
            else if (*q != '0')
                dropped_nz = 1;
            k++;
        }
    }
    if (sig > 0 && last < 0)
        for (const char *q = mend; q > mant && tz < sig;) {
            if (*--q == '.')
                continue;
            if (*q != '0')
                break;
            tz++;
        }
    if (dec) {
        dec->digits = sig ? kp_data_clamp_int(sig) : 1;
        dec->exp10 = kp_data_clamp_int(last);
        dec->is_integer = sig == 0 || last + tz >= 0;
    }
    if (sig == 0) {
        *x = neg ? -0.0 : 0.0;
        return KP_DATA_NUM_OK;
    }
    if (!dropped_nz) {
        long e10 = last + (sig > 19 ? sig - 19 : 0);
        if (w < (UINT64_C(1) << 53)) {
            if (e10 >= 0 && e10 <= 22) {
                v = (double)w * kp_data_p10[e10];
                goto done;
            }
            if (e10 < 0 && e10 >= -22) {
                v = (double)w / kp_data_p10[-e10];
                goto done;
            }
            if (e10 > 22 && e10 <= 22 + 15) {
                /* Move the excess power into the mantissa while it stays
                   exact, then one multiplication by 1e22. */
                uint64_t ww = w;
                long k = e10 - 22;
                while (k > 0 && ww < (UINT64_C(1) << 53) / 10) {
                    ww *= 10;
                    k--;
                }
                if (k == 0) {
                    v = (double)ww * 1e22;
                    goto done;
                }
            }
        }
#ifdef KP_DATA_X87
        if (e10 >= -27 && e10 <= 27) {
            /* w and 10^|e10| are exact in 80 bits and the 80-bit result r
               is within half an 80-bit ulp of the true value; rounding r to
               53 bits then rounds the true value correctly unless r itself
               is a 53-bit midpoint (low 11 significand bits 10000000000b),
               because any midpoint between r and the true value would be
               an 80-bit number closer to it than r. Results with all 11
               low bits zero also go to strtod: that costs 1/2048 of the
               cases, and keeps the path exact under emulators that
               compute long double in 53 bits (valgrind), where every
               result looks like that. */
            long double r = e10 >= 0 ? (long double)w * kp_data_p10l[e10]
                                     : (long double)w / kp_data_p10l[-e10];
            uint64_t m;
            memcpy(&m, &r, sizeof m);
            if ((m & 0x7ff) != 0x400 && (m & 0x7ff) != 0) {
                v = (double)r;
                goto done;
            }
        }
#endif
    }
    v = fabs(kp_data_slow(mant, end, 0, sig, last));
    if (isinf(v) || v == 0.0)
        return KP_DATA_NUM_RANGE;
done:
    *x = neg ? -v : v;
    return KP_DATA_NUM_OK;
}

/* ------------------------------------------------------------------ table */

void kp_data_init(kp_data_t *d)
{
    memset(d, 0, sizeof *d);
}

void kp_data_clear(kp_data_t *d)
{
    for (int j = 0; j < d->ncols; j++) {
        if (d->names)
            free(d->names[j]);
        if (d->cols)
            free(d->cols[j]);
    }
    free(d->names);
    free(d->cols);
    free(d->dec);
    kp_data_init(d);
}

int kp_data_column(const kp_data_t *d, const char *name)
{
    for (int j = 0; j < d->ncols; j++)
        if (strcmp(d->names[j], name) == 0)
            return j;
    return -1;
}

int kp_data_col_digits(const kp_data_t *d, int j)
{
    return d->dec[j].digits;
}

int kp_data_col_exp10(const kp_data_t *d, int j)
{
    return d->dec[j].exp10;
}

int kp_data_col_is_integer(const kp_data_t *d, int j)
{
    return d->dec[j].is_integer;
}

/* ----------------------------------------------------------------- loader */

typedef struct {
    kp_data_t *d;       /* table being filled (ncols = header fields so far) */
    const char *buf;    /* whole input */
    size_t len;
    size_t bom;         /* bytes of BOM skipped: line 1 starts here */
    const char *src;    /* source name for errors */
    kp_error_t *err;
    int rc;             /* first error; callbacks do nothing once set */
    int in_header;
    int field;          /* index of the next field in the current record */
    int names_cap;
    size_t rec_start;   /* first byte of the current record (a line start) */
    long rec_line;      /* its line number */
    size_t line_end;    /* end of the line being fed ('\n' or len) */
    size_t cap;         /* rows allocated per column */
} kp_data_ctx_t;

/* Line and character column of byte off, which lies in the current record. */
static void kp_data_where(const kp_data_ctx_t *c, size_t off, long *line,
                          long *col)
{
    size_t ls = c->rec_start;
    long ln = c->rec_line, k = 1;

    for (size_t i = c->rec_start; i < off; i++)
        if (c->buf[i] == '\n') {
            ln++;
            ls = i + 1;
        }
    for (size_t i = ls; i < off; i++)
        k += ((unsigned char)c->buf[i] & 0xc0) != 0x80;
    *line = ln;
    *col = k;
}

/* Re-scans the current record with libcsv's strict grammar. Returns the
   offset where field k starts (its first non-blank byte, or the byte after
   the delimiter if it is blank; the record's end if it has fewer fields), sets *nfields to its field count and *openq to
   the offset of an unterminated opening quote (or SIZE_MAX). */
static size_t kp_data_scan(const kp_data_ctx_t *c, int k, int *nfields,
                           size_t *openq)
{
    const char *b = c->buf;
    size_t i = c->rec_start, n = c->len, at = SIZE_MAX;
    int f = 0;

    *openq = SIZE_MAX;
    for (;;) {
        size_t raw = i;
        while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r'))
            i++;
        /* a blank field starts right after its delimiter */
        if (f == k)
            at = i < n && b[i] != ',' && b[i] != '\n' ? i : raw;
        if (i < n && b[i] == '"') {
            size_t q = i++;
            for (;;) {
                if (i >= n) {
                    *openq = q;
                    *nfields = f + 1;
                    return at == SIZE_MAX ? n : at;
                }
                if (b[i] == '"') {
                    if (i + 1 < n && b[i + 1] == '"') {
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                i++;
            }
        }
        while (i < n && b[i] != ',' && b[i] != '\n')
            i++;
        if (i < n && b[i] == ',') {
            i++;
            f++;
            continue;
        }
        *nfields = f + 1;
        return at == SIZE_MAX ? i : at;
    }
}

/* Records an input error at byte off of the current record. */
static void kp_data_fail_at(kp_data_ctx_t *c, size_t off, const char *fmt,
                            ...) __attribute__((format(printf, 3, 4)));
static void kp_data_fail_at(kp_data_ctx_t *c, size_t off, const char *fmt,
                            ...)
{
    long line, col;
    char msg[KP_ERROR_MSG_MAX];
    va_list ap;

    kp_data_where(c, off, &line, &col);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->rc = kp_error_set(c->err, KP_EINPUT, c->src, line, col, "%s", msg);
}

/* Offset where field k of the current record starts. */
static size_t kp_data_field_at(const kp_data_ctx_t *c, int k)
{
    int nf;
    size_t oq;
    return kp_data_scan(c, k, &nf, &oq);
}

static void kp_data_nomem(kp_data_ctx_t *c)
{
    c->rc = kp_error_set(c->err, KP_ENOMEM, c->src, 0, 0,
                         "out of memory while loading the table");
}

/* Quotes a field for a message, shortened if long. */
static void kp_data_show(char *out, size_t n, const char *s, size_t len)
{
    if (len > 40)
        snprintf(out, n, "%.37s...", s);
    else
        snprintf(out, n, "%.*s", (int)len, s);
}

static int kp_data_grow(kp_data_ctx_t *c)
{
    kp_data_t *d = c->d;
    size_t ncap = c->cap ? c->cap * 2 : 1024;

    if (ncap > SIZE_MAX / sizeof(double))
        return KP_ENOMEM;
    for (int j = 0; j < d->ncols; j++) {
        double *p = realloc(d->cols[j], ncap * sizeof(double));
        if (p == NULL)
            return KP_ENOMEM;
        d->cols[j] = p;
    }
    c->cap = ncap;
    return KP_OK;
}

static void kp_data_header_field(kp_data_ctx_t *c, int f, const char *s,
                                 size_t len)
{
    kp_data_t *d = c->d;
    char *name;

    if (len == 0) {
        kp_data_fail_at(c, kp_data_field_at(c, f),
                        "empty column name in the header");
        return;
    }
    if (memchr(s, '\0', len) != NULL) {
        kp_data_fail_at(c, kp_data_field_at(c, f),
                        "column name contains a NUL byte");
        return;
    }
    for (int j = 0; j < d->ncols; j++)
        if (strlen(d->names[j]) == len && memcmp(d->names[j], s, len) == 0) {
            char nb[48];
            kp_data_show(nb, sizeof nb, s, len);
            kp_data_fail_at(c, kp_data_field_at(c, f),
                            "duplicate column name '%s' (also header field "
                            "%d)", nb, j + 1);
            return;
        }
    if (d->ncols == c->names_cap) {
        int ncap = c->names_cap ? 2 * c->names_cap : 16;
        char **p = realloc(d->names, (size_t)ncap * sizeof *p);
        if (p == NULL) {
            kp_data_nomem(c);
            return;
        }
        d->names = p;
        c->names_cap = ncap;
    }
    if ((name = malloc(len + 1)) == NULL) {
        kp_data_nomem(c);
        return;
    }
    memcpy(name, s, len);
    name[len] = '\0';
    d->names[d->ncols++] = name;
}

static void kp_data_field(kp_data_ctx_t *c, const char *s, size_t len)
{
    kp_data_t *d = c->d;
    int f = c->field++;
    double x;
    kp_data_decimal_t dc;
    int st;

    if (c->rc != KP_OK)
        return;
    if (c->in_header) {
        kp_data_header_field(c, f, s, len);
        return;
    }
    if (f >= d->ncols) {
        int nf;
        size_t oq, at = kp_data_scan(c, d->ncols, &nf, &oq);
        kp_data_fail_at(c, at, "row has %d fields, expected %d (first extra "
                        "field here)", nf, d->ncols);
        return;
    }
    if (f == 0 && d->nrows == c->cap && kp_data_grow(c) != KP_OK) {
        kp_data_nomem(c);
        return;
    }
    st = kp_data_parse_number(&x, &dc, s, len);
    if (st != KP_DATA_NUM_OK) {
        char shown[48];
        size_t at = kp_data_field_at(c, f);
        kp_data_show(shown, sizeof shown, s, len);
        switch (st) {
        case KP_DATA_NUM_EMPTY:
            kp_data_fail_at(c, at, "empty cell in column %s", d->names[f]);
            break;
        case KP_DATA_NUM_NONFINITE:
            kp_data_fail_at(c, at, "'%s' is not allowed (column %s): nan and "
                            "inf are rejected, cells must be finite numbers",
                            shown, d->names[f]);
            break;
        case KP_DATA_NUM_RANGE:
            kp_data_fail_at(c, at, "'%s' is out of double range (column %s)",
                            shown, d->names[f]);
            break;
        default:
            kp_data_fail_at(c, at, "'%s' is not a number (column %s)", shown,
                            d->names[f]);
            break;
        }
        return;
    }
    d->cols[f][d->nrows] = x;
    kp_data_decimal_t *cd = &d->dec[f];
    if (dc.digits > cd->digits)
        cd->digits = dc.digits;
    if (dc.exp10 < cd->exp10)
        cd->exp10 = dc.exp10;
    cd->is_integer &= dc.is_integer;
}

static void kp_data_on_field(void *s, size_t len, void *data)
{
    kp_data_field(data, s, len);
}

static void kp_data_on_record(int term, void *data)
{
    kp_data_ctx_t *c = data;
    kp_data_t *d = c->d;
    int nf = c->field;

    (void)term;
    c->field = 0;
    if (c->rc != KP_OK)
        return;
    if (c->in_header) {
        d->cols = calloc((size_t)d->ncols, sizeof *d->cols);
        d->dec = calloc((size_t)d->ncols, sizeof *d->dec);
        if (d->cols == NULL || d->dec == NULL) {
            kp_data_nomem(c);
            return;
        }
        for (int j = 0; j < d->ncols; j++) {
            d->dec[j].exp10 = INT_MAX;
            d->dec[j].is_integer = 1;
        }
        c->in_header = 0;
        return;
    }
    if (nf < d->ncols) {
        /* Point just after the record's last character. */
        size_t e = c->line_end;
        while (e > c->rec_start && (c->buf[e - 1] == '\r' ||
                                    c->buf[e - 1] == ' ' ||
                                    c->buf[e - 1] == '\t'))
            e--;
        kp_data_fail_at(c, e, "row has %d fields, expected %d", nf, d->ncols);
        return;
    }
    d->nrows++;
}

static int kp_data_csv_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

static int kp_data_csv_term(unsigned char ch)
{
    return ch == '\n';
}

/* A record on one line without any quote: split at commas and trim
   spaces, tabs and CR around each field, which is exactly what libcsv does
   with such a line, without its per-byte callbacks. */
static void kp_data_split_line(kp_data_ctx_t *c, const char *s,
                               const char *end)
{
    for (;;) {
        const char *a = s, *b;
        while (s < end && *s != ',')
            s++;
        b = s;
        while (a < b && (*a == ' ' || *a == '\t' || *a == '\r'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
            b--;
        kp_data_field(c, a, (size_t)(b - a));
        if (s == end)
            break;
        s++;
    }
    kp_data_on_record('\n', c);
}

static int kp_data_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* The loader proper over [buf, buf + len). mapped: buf is a private file
   mapping whose consumed pages may be dropped. */
static int kp_data_load_mem(kp_data_t *d, const char *buf, size_t len,
                            const char *src, int mapped, kp_error_t *err)
{
    struct csv_parser p;
    kp_data_ctx_t c;
    size_t pos, next, dropped = 0;
    long line = 1;
    int inq = 0;
    long pagesz = sysconf(_SC_PAGESIZE);

    kp_data_clear(d);
    memset(&c, 0, sizeof c);
    c.d = d;
    c.buf = buf;
    c.len = len;
    c.src = src;
    c.err = err;
    c.in_header = 1;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        c.bom = 3;
    c.rec_start = c.bom;
    c.rec_line = 1;

    if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL) != 0)
        return kp_error_set(err, KP_ENOMEM, src, 0, 0, "out of memory");
    csv_set_space_func(&p, kp_data_csv_space);
    csv_set_term_func(&p, kp_data_csv_term);
    csv_set_blk_size(&p, 256);

    for (pos = c.bom; pos < len && c.rc == KP_OK; pos = next, line++) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t eol = nl ? (size_t)(nl - buf) : len;

        next = nl ? eol + 1 : len;
        if (mapped && !inq && pos - dropped >= ((size_t)64 << 20)) {
            /* Clean private file pages: dropping them only lowers RSS; an
               error re-scan of an earlier record faults them back in. */
            size_t upto = pos & ~((size_t)pagesz - 1);
            madvise((char *)buf + dropped, upto - dropped, MADV_DONTNEED);
            dropped = upto;
        }
        c.line_end = eol;
        if (!inq) {
            if (buf[pos] == '#' || kp_data_blank(buf + pos, eol - pos))
                continue;
            c.rec_start = pos;
            c.rec_line = line;
            c.field = 0;
            if (memchr(buf + pos, '"', eol - pos) == NULL) {
                kp_data_split_line(&c, buf + pos, buf + eol);
                continue;
            }
        }
        for (const char *q = buf + pos;
             (q = memchr(q, '"', (size_t)(buf + eol - q))) != NULL; q++)
            inq ^= 1;
        size_t used = csv_parse(&p, buf + pos, next - pos, kp_data_on_field,
                                kp_data_on_record, &c);
        if (c.rc == KP_OK && used < next - pos) {
            if (csv_error(&p) == CSV_EPARSE) {
                size_t at = pos + used;
                if (buf[at] == '"')
                    kp_data_fail_at(&c, at, "unexpected quote inside a field "
                                    "(quote the whole field and double the "
                                    "quotes inside it)");
                else
                    kp_data_fail_at(&c, at, "unexpected character after a "
                                    "closing quote");
            } else {
                kp_data_nomem(&c);
            }
        }
    }
    if (c.rc == KP_OK && inq) {
        int nf;
        size_t oq;
        kp_data_scan(&c, INT_MAX, &nf, &oq);
        kp_data_fail_at(&c, oq == SIZE_MAX ? len : oq,
                        "unterminated quoted field (the closing quote is "
                        "missing)");
    }
    if (c.rc == KP_OK) {
        c.line_end = len;
        if (csv_fini(&p, kp_data_on_field, kp_data_on_record, &c) != 0 &&
            c.rc == KP_OK)
            c.rc = kp_error_set(err, KP_EINTERNAL, src, 0, 0,
                                "csv_fini failed");
    }
    csv_free(&p);
    if (c.rc == KP_OK && c.in_header) {
        if (d->ncols == 0)
            c.rc = kp_error_set(err, KP_EINPUT, src, 1, 1,
                                "empty file: no header row (only comments "
                                "or blank lines)");
        else
            c.rc = kp_error_set(err, KP_EINTERNAL, src, 0, 0,
                                "header row was not completed");
    }
    if (c.rc == KP_OK && d->nrows == 0)
        c.rc = kp_error_set(err, KP_EINPUT, src, c.rec_line, 1,
                            "no data rows: the file has a header only");
    if (c.rc != KP_OK) {
        kp_data_clear(d);
        return c.rc;
    }
    for (int j = 0; j < d->ncols; j++) {
        double *q = realloc(d->cols[j], d->nrows * sizeof(double));
        if (q != NULL)
            d->cols[j] = q;
    }
    return KP_OK;
}

int kp_data_load_buffer(kp_data_t *d, const char *buf, size_t len,
                        const char *source_name, kp_error_t *err)
{
    kp_error_init(err);
    if (buf == NULL && len > 0)
        return kp_error_set(err, KP_EINPUT, source_name, 0, 0,
                            "no buffer given");
    return kp_data_load_mem(d, len ? buf : "", len,
                            source_name ? source_name : "<buffer>", 0, err);
}

int kp_data_load_csv(kp_data_t *d, const char *path, kp_error_t *err)
{
    struct stat st;
    int fd, rc;

    kp_error_init(err);
    kp_data_clear(d);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kp_error_set(err, KP_EINPUT, path, 0, 0, "cannot open: %s",
                            strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = kp_error_set(err, KP_EINPUT, path, 0, 0, "cannot stat: %s",
                          strerror(errno));
        close(fd);
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return kp_error_set(err, KP_EINPUT, path, 0, 0, "is a directory");
    }
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
        size_t len = (size_t)st.st_size;
        void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            close(fd);
            madvise(m, len, MADV_SEQUENTIAL);
            rc = kp_data_load_mem(d, m, len, path, 1, err);
            munmap(m, len);
            return rc;
        }
    }
    /* Pipes, empty files, or mmap refused: read everything. */
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL) {
            close(fd);
            return kp_error_set(err, KP_ENOMEM, path, 0, 0, "out of memory");
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = kp_error_set(err, KP_EINPUT, path, 0, 0, "read error: %s",
                              strerror(errno));
            free(buf);
            close(fd);
            return rc;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (nb == NULL)
                free(buf);
            buf = nb;
        }
    }
    close(fd);
    rc = kp_data_load_mem(d, buf, len, path, 0, err);
    free(buf);
    return rc;
}
