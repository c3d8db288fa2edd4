/* kp_error.h: error codes and the error record every fallible Kepler call
   fills in. A function that can fail returns one of the KP_E* codes and takes
   a kp_error_t * last; NULL is allowed and means "don't describe the error".
   Only the CLI prints errors; the library never exits. Reentrant. */
#ifndef KP_ERROR_H
#define KP_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    KP_OK = 0,        /* success */
    KP_ENOTFOUND = 1, /* the run finished but found nothing (exit 1) */
    KP_EINPUT = 2,    /* bad usage or bad input (exit 2) */
    KP_ENOMEM = 3,    /* allocation failed (exit 3) */
    KP_EINTERNAL = 4  /* a bug or an unexpected system failure (exit 3) */
};

#define KP_ERROR_MSG_MAX 512
#define KP_ERROR_FILE_MAX 256

/* Where and why an operation failed. line and col are 1-based; 0 means
   "not applicable" (col 0 with line > 0 names a whole line). */
typedef struct {
    int code;
    long line;
    long col;
    char file[KP_ERROR_FILE_MAX];
    char msg[KP_ERROR_MSG_MAX];
} kp_error_t;

/* Resets err (if not NULL) to KP_OK with empty fields. */
void kp_error_init(kp_error_t *err);

/* Records code, location and a printf-style message in err (if not NULL) and
   returns code, so callers can write `return kp_error_set(err, ...)`.
   file may be NULL. */
int kp_error_set(kp_error_t *err, int code, const char *file, long line,
                 long col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Writes the one-line form "file:line:col: message" (parts that are absent
   are left out) into buf of size n; returns buf. */
char *kp_error_format(char *buf, size_t n, const kp_error_t *err);

/* Maps a KP_E* code to the CLI exit status of CONTRACT.md (0, 1, 2 or 3). */
int kp_error_exit_status(int code);

#ifdef __cplusplus
}
#endif
#endif
