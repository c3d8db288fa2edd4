/* kp_policy.h: the learned policy of expression search, an autoregressive
   recurrent network that writes expressions symbol by symbol in prefix
   order, trained by the risk-seeking policy gradient of Deep Symbolic
   Regression (Petersen et al., ICLR 2021) as used by uDSR.

   Model. A GRU cell (hidden size H) with zero initial state. At step t the
   input is the concatenation of two learned embeddings (size E each): of
   the parent symbol and of the previous-sibling symbol of the next token
   (kp_gstate_parent, kp_gstate_sibling; index V stands for "none", V =
   kp_grammar_nsymbols). Logits over the V symbols come from a linear layer
   on the new hidden state and are masked to -inf outside
   kp_gstate_allowed, so every sample obeys the grammar by construction and
   probabilities are the softmax over the allowed symbols only. Optional
   length priors: max_len lowers the grammar's length limit
   (kp_gstate_set_max_len); min_len bans the leaves that would complete the
   expression while it is shorter than min_len, whenever an operator is
   allowed instead (DSR's length constraint).

     z = sig(Wz x + Uz h + bz)         r = sig(Wr x + Ur h + br)
     n = tanh(Wn x + bn + r * (Un h + bhn))
     h' = (1 - z) * n + z * h          logits = Wo h' + bo

   Training. kp_policy_train keeps the sequences whose reward is at or above
   the (1 - epsilon) quantile R_eps of the batch ("higher" interpolation, as
   numpy.quantile in DSO) and takes one Adam step on
     loss = -(1/k) sum_kept (R - R_eps) log p(tau)
            - lambda_H (1/k) sum_kept sum_t gamma^t H_t
   where k is the number kept and H_t is the entropy of the masked softmax
   at step t. Sequences are plain symbol lists, so externally produced ones
   (elites of genetic programming, converted with kp_grammar_expr_symbols)
   are trained on exactly like samples: the caller appends them to the
   batch with their rewards (off-policy, as uDSR's GP-meld does; no
   importance weights). A sequence is skipped when it has a -1 or
   out-of-range symbol, violates the masks (grammar rules, the policy's
   length limits) or does not form exactly one complete expression, and
   when its reward is not finite.

   Parameters live in one contiguous array of doubles (kp_policy_params),
   so optimisers, finite-difference tests and checkpoints see one vector.

   Ownership: kp_policy_init / kp_policy_load allocate, kp_policy_clear
   frees. A policy remembers the vocabulary size of the grammar it was made
   for; every call taking a grammar checks it. No globals; reentrant; a
   policy is used by one thread at a time (sampling writes scratch space
   inside it), the grammar may be shared. Deterministic: the same policy
   state and rng state give the same samples and the same update. */
#ifndef KP_POLICY_H
#define KP_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "kp_error.h"
#include "kp_expr.h"
#include "kp_grammar.h"
#include "kp_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KP_POLICY_MAX_HIDDEN 1024
#define KP_POLICY_MAX_EMBED 256

/* Shape of the network and the length priors. */
typedef struct {
    int hidden;  /* H, GRU state size, 1..KP_POLICY_MAX_HIDDEN; default 32 */
    int embed;   /* E, embedding size, 1..KP_POLICY_MAX_EMBED; default 8 */
    int max_len; /* 0: the grammar's limit; else lowers it; default 0 */
    int min_len; /* soft minimum length (see above); 0 or 1: none; default 0 */
} kp_policy_params_t;

/* Hyperparameters of one training step. */
typedef struct {
    double epsilon;        /* risk-seeking quantile, (0, 1]; default 0.05 */
    double lr;             /* Adam learning rate; default 5e-4 */
    double beta1, beta2;   /* Adam moments; defaults 0.9, 0.999 */
    double adam_eps;       /* Adam denominator guard; default 1e-8 */
    double entropy_weight; /* lambda_H >= 0; default 0.005 */
    double entropy_gamma;  /* per-step entropy discount (0, 1]; default 1 */
} kp_policy_train_params_t;

/* What the last kp_policy_train did. */
typedef struct {
    int valid;       /* sequences that passed the checks */
    int skipped;     /* sequences skipped (invalid or non-finite reward) */
    int kept;        /* sequences at or above the quantile */
    double quantile; /* R_eps (NaN when nothing was valid) */
    double loss;     /* the loss before the step */
    double entropy;  /* mean over kept of sum_t gamma^t H_t */
    long steps;      /* Adam steps taken so far */
} kp_policy_stats_t;

typedef struct {
    int nsym;      /* V, vocabulary size of the grammar */
    int hidden;    /* H */
    int embed;     /* E */
    int max_len;   /* effective length limit (the grammar's or lower) */
    int min_len;
    size_t nparam; /* length of the parameter vector */
    double *w;     /* parameters (layout private to kp_policy.c) */
    double *m, *v; /* Adam moments, nparam each */
    long step;     /* Adam steps taken */
    double *grad;  /* scratch: gradient, nparam */
    void *work;    /* scratch for the recurrences (layout in kp_policy.c) */
    size_t nwork;  /* bytes */
    kp_policy_stats_t stats; /* of the last kp_policy_train */
} kp_policy_t;

/* Fills pp / tp with the defaults given above. */
void kp_policy_params_default(kp_policy_params_t *pp);
void kp_policy_train_params_default(kp_policy_train_params_t *tp);

/* Makes p a policy for bound grammar g with the shape pp (NULL: defaults),
   weights drawn from rng: embeddings and weight matrices Glorot-uniform,
   biases zero (so the first samples are near uniform over the allowed
   symbols), Adam state zero. KP_EINPUT if g is not bound, a size is out of
   range or max_len is outside [shortest expression of g, g's limit];
   KP_ENOMEM. On error p holds nothing, and kp_policy_clear is still safe
   on it. */
int kp_policy_init(kp_policy_t *p, const kp_grammar_t *g,
                   const kp_policy_params_t *pp, kp_rng_t *rng,
                   kp_error_t *err);

/* Frees what p owns; p may be initialised again. Safe on a policy whose
   init or load failed, and on a zero-filled struct. */
void kp_policy_clear(kp_policy_t *p);

/* The length limit of sequences: the stride of the syms arrays below. */
int kp_policy_max_len(const kp_policy_t *p);

/* The parameter vector (kp_policy_nparams doubles), writable: changing it
   changes the network. */
size_t kp_policy_nparams(const kp_policy_t *p);
double *kp_policy_params(kp_policy_t *p);

/* Draws n expressions. For i < n: out[i] (if out is not NULL) is the
   expression, its free constants at 1.0 for the caller to optimise;
   syms[i * kp_policy_max_len(p) + j], j < lens[i], its symbols (if syms /
   lens are not NULL). Every expression obeys g and the policy's length
   limits. Uses rng alone for randomness (one uniform per step with more
   than one allowed symbol). KP_EINPUT if g does not match p or n < 0;
   KP_EINTERNAL if the grammar mask is ever empty before the end. */
int kp_policy_sample(kp_policy_t *p, const kp_grammar_t *g, kp_expr_t *out,
                     int *syms, int *lens, int n, kp_rng_t *rng,
                     kp_error_t *err);

/* For each of the n sequences (row i of syms, stride kp_policy_max_len(p),
   lens[i] symbols) sets logp[i] to log p(tau_i) and ent[i] (if not NULL)
   to sum_t gamma^t H_t; both are NaN for a sequence that would be skipped
   by kp_policy_train. KP_EINPUT if g does not match p or n < 0. */
int kp_policy_logprob(kp_policy_t *p, const kp_grammar_t *g, const int *syms,
                      const int *lens, int n, double gamma, double *logp,
                      double *ent, kp_error_t *err);

/* The objective behind training, exposed for tests and custom updates:
   J = sum_i (wlogp[i] * log p(tau_i) + went[i] * sum_t gamma^t H_t) over
   the valid sequences (invalid ones count 0; went may be NULL: all 0), and
   its gradient with respect to kp_policy_params by backpropagation through
   time (replaying the masks), written to grad (kp_policy_nparams doubles;
   may be NULL). Sets *obj and *nvalid (the number of valid sequences) when
   not NULL. KP_EINPUT if g does not match p or n < 0. */
int kp_policy_objective(kp_policy_t *p, const kp_grammar_t *g,
                        const int *syms, const int *lens, const double *wlogp,
                        const double *went, int n, double gamma, double *obj,
                        double *grad, int *nvalid, kp_error_t *err);

/* One risk-seeking policy-gradient step on the n sequences (row i of syms,
   stride kp_policy_max_len(p), lens[i] symbols) with rewards[i]; see the
   top of this file. tp NULL: defaults. Records what it did in p->stats.
   When nothing is valid, or every kept weight and the entropy weight are
   zero, the parameters do not change but the call succeeds. KP_EINPUT if g
   does not match p, n < 0, or a hyperparameter is out of range. */
int kp_policy_train(kp_policy_t *p, const kp_grammar_t *g, const int *syms,
                    const int *lens, const double *rewards, int n,
                    const kp_policy_train_params_t *tp, kp_error_t *err);

/* Checkpoints: the number of bytes kp_policy_save writes, the shape,
   the parameters, the Adam moments and step count, in a portable
   little-endian format with a magic header. */
size_t kp_policy_size(const kp_policy_t *p);

/* Writes the checkpoint into buf of size n. KP_EINPUT if n is too small. */
int kp_policy_save(const kp_policy_t *p, void *buf, size_t n,
                   kp_error_t *err);

/* Makes p the policy saved in buf (n bytes), for grammar g, which must have
   the same vocabulary size. p must not hold a policy (clear it first).
   KP_EINPUT on a bad magic, version, size, shape or vocabulary mismatch,
   or non-finite values; KP_ENOMEM. On error p holds nothing, and
   kp_policy_clear is still safe on it. */
int kp_policy_load(kp_policy_t *p, const kp_grammar_t *g, const void *buf,
                   size_t n, kp_error_t *err);

#ifdef __cplusplus
}
#endif
#endif
