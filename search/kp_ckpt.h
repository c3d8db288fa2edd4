/* kp_ckpt.h: the checkpoint file format shared by the search drivers
   (kp_sr for `kepler fit`, kp_csearch and kp_cem for `kepler search`):
   serialisation primitives, a checked header, atomic writes and reads.

   A checkpoint is a 32-byte header — 8-byte magic naming the driver, u32
   format version, u32 zero, u64 payload length, u64 XXH3-64 of the
   payload — then the payload, every integer little-endian and every
   double as its IEEE-754 bits, so a file is read back bit for bit.

   Writing appends to a growable buffer (kp_ck_wbuf_t, zero-initialise it;
   allocation failure is sticky in oom and reported once by kp_ck_end).
   Reading takes values from a bounded view (kp_ck_rbuf_t); reading past
   the end or an out-of-range value sets bad (sticky) and yields zeros,
   so a loader reads everything, then checks bad once. Readers of
   structured values (expressions, 0/1 objects) validate their invariants,
   so a corrupt file cannot hand the search an ill-formed value.

   Files are replaced atomically (kp_ck_write): a temporary file in the
   same directory, fsync, rename over the target, fsync of the directory.
   Reentrant; no globals. */
#ifndef KP_CKPT_H
#define KP_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "kp_error.h"
#include "kp_expr.h"
#include "kp_gp.h"
#include "kp_grammar.h"
#include "kp_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KP_CK_HEADER 32

/* Magics of the drivers' checkpoints (8 bytes, no terminator used). */
#define KP_CK_MAGIC_SR "KEPLERSR"  /* kepler fit */
#define KP_CK_MAGIC_CS "KEPLERCS"  /* kepler search, program/local */
#define KP_CK_MAGIC_CEM "KEPLERCE" /* kepler search, cross-entropy */

typedef struct {
    unsigned char *p;
    size_t n, cap;
    int oom;
} kp_ck_wbuf_t;

typedef struct {
    const unsigned char *p;
    size_t n, pos;
    int bad;
} kp_ck_rbuf_t;

void kp_ck_put_bytes(kp_ck_wbuf_t *b, const void *v, size_t n);
void kp_ck_put_u32(kp_ck_wbuf_t *b, uint32_t v);
void kp_ck_put_u64(kp_ck_wbuf_t *b, uint64_t v);
void kp_ck_put_i32(kp_ck_wbuf_t *b, int v);
void kp_ck_put_i64(kp_ck_wbuf_t *b, int64_t v);
void kp_ck_put_f64(kp_ck_wbuf_t *b, double v);
void kp_ck_put_rng(kp_ck_wbuf_t *b, const kp_rng_t *rng);
void kp_ck_put_expr(kp_ck_wbuf_t *b, const kp_expr_t *e);
void kp_ck_put_indiv(kp_ck_wbuf_t *b, const kp_indiv_t *ind);
/* A 0/1 object of len bytes, packed 8 elements a byte. */
void kp_ck_put_bits(kp_ck_wbuf_t *b, const uint8_t *x, size_t len);

/* n bytes of the view (NULL and bad when fewer are left). */
const unsigned char *kp_ck_take(kp_ck_rbuf_t *r, size_t n);
uint32_t kp_ck_get_u32(kp_ck_rbuf_t *r);
uint64_t kp_ck_get_u64(kp_ck_rbuf_t *r);
int kp_ck_get_i32(kp_ck_rbuf_t *r);
int64_t kp_ck_get_i64(kp_ck_rbuf_t *r);
double kp_ck_get_f64(kp_ck_rbuf_t *r);
/* An int in [lo, hi]; out of range sets bad and returns lo. */
int kp_ck_get_range(kp_ck_rbuf_t *r, int lo, int hi);
void kp_ck_get_rng(kp_ck_rbuf_t *r, kp_rng_t *rng);
/* An expression satisfying kp_expr_check (else bad, e a placeholder). */
void kp_ck_get_expr(kp_ck_rbuf_t *r, kp_expr_t *e);
void kp_ck_get_indiv(kp_ck_rbuf_t *r, kp_indiv_t *ind);
/* The inverse of kp_ck_put_bits: x gets len bytes, each 0 or 1; padding
   bits must be zero. */
void kp_ck_get_bits(kp_ck_rbuf_t *r, uint8_t *x, size_t len);

/* Starts b (empty) with a header for magic and version; kp_ck_end fills
   in the payload length and checksum. kp_ck_end returns KP_OK or
   KP_ENOMEM when any append failed. */
void kp_ck_begin(kp_ck_wbuf_t *b, const char *magic, uint32_t version);
int kp_ck_end(kp_ck_wbuf_t *b);

/* Checks the header of buf (n bytes, the contents of file) against magic
   and version, and the payload's length and checksum; on success sets r
   to the payload and returns KP_OK. Otherwise KP_EINPUT with a one-line
   message naming file: not a checkpoint, a checkpoint of another
   command, another format version, truncated or padded, checksum
   mismatch. */
int kp_ck_open(kp_ck_rbuf_t *r, const unsigned char *buf, size_t n,
               const char *magic, uint32_t version, const char *file,
               kp_error_t *err);

/* Writes the n bytes at buf to path atomically (path.tmp, fsync, rename,
   fsync of the directory). With keep_prev, an existing path is first
   renamed to path.prev, so the previous checkpoint survives one more
   write (multi-rank runs use it when ranks were killed between their
   renames). KP_OK, or KP_EINPUT "path: cannot write checkpoint: ...". */
int kp_ck_write(const char *path, const unsigned char *buf, size_t n,
                int keep_prev, kp_error_t *err);

/* Reads the whole file at path into a new buffer (caller frees), its size
   in *n; NULL with *errnum set when it cannot be read. */
unsigned char *kp_ck_read(const char *path, size_t *n, int *errnum);

/* path itself for one rank, "path.rank<R>" for several; suffix (may be
   NULL) is appended after that (".prev"). NULL when out of memory. */
char *kp_ck_rank_path(const char *path, int rank, int nranks,
                      const char *suffix);

/* A driver's loader: reads the checkpoint in file into its state (ctx),
   sets *round to the checkpoint's round count, returns KP_OK or KP_EINPUT
   with a message naming file. It may be called twice (the second call
   overwrites everything the first one set). */
typedef int (*kp_ck_load_fn)(const char *file, void *ctx, int *round,
                             kp_error_t *err);

/* Loads this rank's checkpoint of path (kp_ck_rank_path) with load. With
   several ranks (collective) it makes sure all ranks resume from the
   same round: a rank whose file is missing or unusable, or ahead of the
   others (killed between two ranks' writes), falls back to its .prev
   file. The outcome is agreed (kp_mpi_agree): every rank gets the error
   of the lowest failing rank. */
int kp_ck_load_ranks(const char *path, int rank, int nranks, kp_ck_load_fn load,
                     void *ctx, kp_error_t *err);

/* Fingerprint of a bound grammar: limits, rules and every symbol (names,
   kinds, types, costs, constants). */
uint64_t kp_ck_grammar_fingerprint(const kp_grammar_t *g);

#ifdef __cplusplus
}
#endif
#endif
