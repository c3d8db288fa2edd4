/* kp_error.c: filling in and formatting kp_error_t records. */
#include "kp_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void kp_error_init(kp_error_t *err)
{
    if (err == NULL)
        return;
    memset(err, 0, sizeof *err);
}

int kp_error_set(kp_error_t *err, int code, const char *file, long line,
                 long col, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    err->line = line;
    err->col = col;
    snprintf(err->file, sizeof err->file, "%s", file ? file : "");
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

char *kp_error_format(char *buf, size_t n, const kp_error_t *err)
{
    size_t k = 0;

    if (n == 0)
        return buf;
    buf[0] = '\0';
    if (err->file[0] != '\0') {
        if (err->line > 0 && err->col > 0)
            k = snprintf(buf, n, "%s:%ld:%ld: ", err->file, err->line,
                         err->col);
        else if (err->line > 0)
            k = snprintf(buf, n, "%s:%ld: ", err->file, err->line);
        else
            k = snprintf(buf, n, "%s: ", err->file);
    } else if (err->col > 0) {
        k = snprintf(buf, n, "column %ld: ", err->col);
    }
    if (k < n)
        snprintf(buf + k, n - k, "%s", err->msg);
    return buf;
}

int kp_error_exit_status(int code)
{
    switch (code) {
    case KP_OK:
        return 0;
    case KP_ENOTFOUND:
        return 1;
    case KP_EINPUT:
        return 2;
    default:
        return 3;
    }
}
