/* kp_policy.c: the GRU policy of kp_policy.h: sampling under grammar
   masks, log-probabilities and entropies by replaying the masks, their
   gradient by backpropagation through time, and the risk-seeking Adam step.

   Parameter vector layout (V1 = V + 1 embedding rows, the last for "none";
   G = 3H gate rows in the order z, r, n; all matrices row-major):
     ep[V1][E]  es[V1][E]  wx[G][2E]  bx[G]  ut[H][G]  bhn[H]  wot[H][V]  bo[V]
   The recurrent and output matrices are stored transposed (ut = U^T,
   wot = Wo^T) so that the forward pass, which runs for every sample, is a
   sum of rows scaled by the hidden units: long independent vector loops
   rather than short dot products bound by the latency of one sum.
   The input x = (ep[parent], es[sibling]) enters only through wx x, so each
   call first tabulates tp[s] = wx[:, :E] ep[s] and ts[s] = wx[:, E:] es[s]
   for every symbol; a step then adds two table rows instead of a matrix
   product, and the backward pass accumulates the gradient per table row
   and maps it back to wx and the embeddings once per call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kp_policy.h"

/* The dense kernels get an AVX2 clone picked at load time (about 1.5x
   faster sampling). No FMA and no reassociation: the clone rounds exactly
   like the baseline, so the CPU does not change the samples of a seed. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KP_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define KP_KERNEL
#endif

#ifdef _OPENMP
#define KP_SIMD _Pragma("omp simd")
#else
#define KP_SIMD
#endif

/* Offsets of the parameter blocks. */
typedef struct {
    size_t ep, es, wx, bx, u, bhn, wo, bo, n;
} layout_t;

static layout_t layout_of(int V, int H, int E)
{
    layout_t L;
    size_t V1 = (size_t)V + 1, G = 3 * (size_t)H;
    L.ep = 0;
    L.es = L.ep + V1 * E;
    L.wx = L.es + V1 * E;
    L.bx = L.wx + G * 2 * E;
    L.u = L.bx + G;
    L.bhn = L.u + G * H;
    L.wo = L.bhn + H;
    L.bo = L.wo + (size_t)V * H;
    L.n = L.bo + V;
    return L;
}

/* Scratch space carved from p->work: input tables and their gradients,
   the per-step activations kept for the backward pass, temporaries, the
   per-step embedding rows and actions, and the per-step masks. */
typedef struct {
    double *tp, *ts, *dtp, *dts;     /* V1 x G each */
    double *hs;                      /* (T + 1) x H, hs[0] = 0 */
    double *zs, *rs, *ns, *hns;      /* T x H */
    double *lp;                      /* T x V log-probabilities */
    double *ent;                     /* T entropies */
    double *gx, *gh, *dgx, *dgh;     /* G */
    double *dh, *dhp;                /* H */
    double *dl, *pr;                 /* V */
    int *ip, *is, *act;              /* T */
    uint8_t *mask;                   /* T x V */
} scratch_t;

static size_t scratch_carve(scratch_t *sc, void *base, int V, int H, int T)
{
    size_t V1 = (size_t)V + 1, G = 3 * (size_t)H, nd = 0;
    double *d = base;
#define TAKE(f, k) (sc->f = d ? d + nd : NULL, nd += (k))
    TAKE(tp, V1 * G);
    TAKE(ts, V1 * G);
    TAKE(dtp, V1 * G);
    TAKE(dts, V1 * G);
    TAKE(hs, ((size_t)T + 1) * H);
    TAKE(zs, (size_t)T * H);
    TAKE(rs, (size_t)T * H);
    TAKE(ns, (size_t)T * H);
    TAKE(hns, (size_t)T * H);
    TAKE(lp, (size_t)T * V);
    TAKE(ent, (size_t)T);
    TAKE(gx, G);
    TAKE(gh, G);
    TAKE(dgx, G);
    TAKE(dgh, G);
    TAKE(dh, (size_t)H);
    TAKE(dhp, (size_t)H);
    TAKE(dl, (size_t)V);
    TAKE(pr, (size_t)V);
#undef TAKE
    size_t bytes = nd * sizeof(double);
    int *ib = d ? (int *)((char *)base + bytes) : NULL;
    sc->ip = ib;
    sc->is = ib ? ib + T : NULL;
    sc->act = ib ? ib + 2 * T : NULL;
    bytes += 3 * (size_t)T * sizeof(int);
    sc->mask = d ? (uint8_t *)base + bytes : NULL;
    bytes += (size_t)T * V;
    return bytes;
}

static void scratch_get(scratch_t *sc, const kp_policy_t *p)
{
    scratch_carve(sc, p->work, p->nsym, p->hidden, p->max_len);
}

/* ---- small dense kernels ---- */

static double dot(const double *restrict a, const double *restrict b, int n);

/* y[r] += A[r][.] . x for r < rows. */
KP_KERNEL static void matvec_add(double *restrict y, const double *restrict A,
                       const double *restrict x, int rows, int cols)
{
    for (int r = 0; r < rows; r++)
        y[r] += dot(A + (size_t)r * cols, x, cols);
}


/* y[c] += sum_r A[r][c] x[r]. */
KP_KERNEL static void matTvec_add(double *restrict y, const double *restrict A,
                        const double *restrict x, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        const double *a = A + (size_t)r * cols;
        double xr = x[r];
        if (xr == 0)
            continue;
        KP_SIMD
        for (int c = 0; c < cols; c++)
            y[c] += a[c] * xr;
    }
}

/* G[r][c] += a[r] b[c]. */
KP_KERNEL static void outer_add(double *restrict G, const double *restrict a,
                      const double *restrict b, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        double *gr = G + (size_t)r * cols;
        double ar = a[r];
        if (ar == 0)
            continue;
        KP_SIMD
        for (int c = 0; c < cols; c++)
            gr[c] += ar * b[c];
    }
}

/* Four partial sums break the dependency chain of one running sum. */
KP_KERNEL static double dot(const double *restrict a, const double *restrict b, int n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* ---- network pieces ---- */

/* Fills the input tables tp, ts (see the top of the file). */
static void make_tables(const kp_policy_t *p, scratch_t *sc)
{
    int V1 = p->nsym + 1, H = p->hidden, E = p->embed, G = 3 * H;
    layout_t L = layout_of(p->nsym, H, E);
    const double *w = p->w;
    for (int s = 0; s < V1; s++) {
        const double *e1 = w + L.ep + (size_t)s * E;
        const double *e2 = w + L.es + (size_t)s * E;
        double *t1 = sc->tp + (size_t)s * G, *t2 = sc->ts + (size_t)s * G;
        for (int r = 0; r < G; r++) {
            const double *row = w + L.wx + (size_t)r * 2 * E;
            t1[r] = dot(row, e1, E);
            t2[r] = dot(row + E, e2, E);
        }
    }
}

/* One GRU step from hp to h for input rows ip, is; keeps the gates in
   z, r, n and the recurrent part of the candidate in hn (for backprop). */
static void gru_step(const kp_policy_t *p, const scratch_t *sc, int ip,
                     int is, const double *hp, double *h, double *z,
                     double *r, double *n, double *hn)
{
    int H = p->hidden, G = 3 * H;
    layout_t L = layout_of(p->nsym, H, p->embed);
    const double *w = p->w;
    const double *t1 = sc->tp + (size_t)ip * G, *t2 = sc->ts + (size_t)is * G;
    const double *bx = w + L.bx, *bhn = w + L.bhn;
    double *gx = sc->gx, *gh = sc->gh;
    for (int j = 0; j < G; j++) {
        gx[j] = t1[j] + t2[j] + bx[j];
        gh[j] = 0;
    }
    matTvec_add(gh, w + L.u, hp, H, G);
    /* tanh(a) = 2 sig(2a) - 1: one exp per gate unit, cheaper than tanh.
       Its absolute error stays at rounding level, which is all the
       recurrence needs. */
    for (int j = 0; j < H; j++) {
        z[j] = 1.0 / (1.0 + exp(-(gx[j] + gh[j])));
        r[j] = 1.0 / (1.0 + exp(-(gx[H + j] + gh[H + j])));
        hn[j] = gh[2 * H + j] + bhn[j];
        double a = gx[2 * H + j] + r[j] * hn[j];
        n[j] = 2.0 / (1.0 + exp(-2.0 * a)) - 1.0;
        h[j] = (1 - z[j]) * n[j] + z[j] * hp[j];
    }
}

/* Log-softmax of the logits of h over the allowed symbols into lp (masked
   entries -inf) and the unnormalised probabilities exp(l - max) into e
   (masked entries 0); sets *zsum to their sum and returns the entropy. */
static double masked_logsoftmax(const kp_policy_t *p, const double *h,
                                const uint8_t *mask, double *lp, double *e,
                                double *zsum)
{
    int V = p->nsym, H = p->hidden;
    layout_t L = layout_of(V, H, p->embed);
    const double *wot = p->w + L.wo, *bo = p->w + L.bo;
    double mx = -INFINITY;
    memcpy(lp, bo, (size_t)V * sizeof *lp);
    matTvec_add(lp, wot, h, H, V);
    for (int k = 0; k < V; k++)
        if (mask[k] && lp[k] > mx)
            mx = lp[k];
    double z = 0;
    for (int k = 0; k < V; k++) {
        e[k] = mask[k] ? exp(lp[k] - mx) : 0.0;
        z += e[k];
    }
    double lz = mx + log(z), ent = 0;
    for (int k = 0; k < V; k++) {
        if (mask[k]) {
            lp[k] -= lz;
            ent -= e[k] / z * lp[k];
        } else {
            lp[k] = -INFINITY;
        }
    }
    *zsum = z;
    return ent;
}

/* The mask of the next symbol: the grammar's, minus the leaves that would
   end the expression before min_len when an operator is allowed. Returns
   the number of allowed symbols. */
static int step_mask(const kp_policy_t *p, const kp_grammar_t *g,
                     const kp_gstate_t *s, uint8_t *mask)
{
    int cnt = kp_gstate_allowed(s, g, mask);
    if (cnt > 0 && s->nslot == 1 && s->len + 1 < p->min_len) {
        int ops = 0;
        for (int k = 0; k < p->nsym; k++)
            ops += mask[k] && g->sym[k].arity > 0;
        if (ops > 0 && ops < cnt) {
            for (int k = 0; k < p->nsym; k++)
                if (mask[k] && g->sym[k].arity == 0)
                    mask[k] = 0;
            cnt = ops;
        }
    }
    return cnt;
}

static int emb_index(const kp_policy_t *p, int sym)
{
    return sym < 0 ? p->nsym : sym;
}

static int check_grammar(const kp_policy_t *p, const kp_grammar_t *g,
                         kp_error_t *err)
{
    if (p->w == NULL)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "policy is not initialised");
    if (!g->bound || kp_grammar_nsymbols(g) != p->nsym)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "grammar %s has %d symbols, the policy %d",
                            kp_grammar_name(g), kp_grammar_nsymbols(g),
                            p->nsym);
    return KP_OK;
}

/* A fresh generation state with the policy's length limit. */
static int start_state(const kp_policy_t *p, const kp_grammar_t *g,
                       kp_gstate_t *s, kp_error_t *err)
{
    int rc = kp_gstate_init(s, g, err);
    if (rc == KP_OK && p->max_len < kp_grammar_max_length(g))
        rc = kp_gstate_set_max_len(s, g, p->max_len, err);
    return rc;
}

/* ---- init, clear, accessors ---- */

void kp_policy_params_default(kp_policy_params_t *pp)
{
    pp->hidden = 32;
    pp->embed = 8;
    pp->max_len = 0;
    pp->min_len = 0;
}

void kp_policy_train_params_default(kp_policy_train_params_t *tp)
{
    tp->epsilon = 0.05;
    tp->lr = 5e-4;
    tp->beta1 = 0.9;
    tp->beta2 = 0.999;
    tp->adam_eps = 1e-8;
    tp->entropy_weight = 0.005;
    tp->entropy_gamma = 1.0;
}

void kp_policy_clear(kp_policy_t *p)
{
    free(p->w);
    free(p->m);
    free(p->v);
    free(p->grad);
    free(p->work);
    memset(p, 0, sizeof *p);
}

/* Validates the shape against g and allocates everything (weights zero). */
static int alloc_policy(kp_policy_t *p, const kp_grammar_t *g, int hidden,
                        int embed, int max_len, int min_len, kp_error_t *err)
{
    memset(p, 0, sizeof *p);
    if (!g->bound)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "grammar %s is not bound to input variables",
                            kp_grammar_name(g));
    if (hidden < 1 || hidden > KP_POLICY_MAX_HIDDEN)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "hidden size %d outside [1, %d]", hidden,
                            KP_POLICY_MAX_HIDDEN);
    if (embed < 1 || embed > KP_POLICY_MAX_EMBED)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "embedding size %d outside [1, %d]", embed,
                            KP_POLICY_MAX_EMBED);
    if (min_len < 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "negative minimum length %d", min_len);
    int gmax = kp_grammar_max_length(g);
    if (max_len == 0)
        max_len = gmax;
    kp_gstate_t s;
    int rc = kp_gstate_init(&s, g, err);
    if (rc != KP_OK)
        return rc;
    if (max_len < 0 || max_len > gmax ||
        kp_gstate_set_max_len(&s, g, max_len, NULL) != KP_OK)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "length limit %d outside [%d, %d] for grammar %s",
                            max_len, kp_gstate_min_length(&s), gmax,
                            kp_grammar_name(g));
    p->nsym = kp_grammar_nsymbols(g);
    p->hidden = hidden;
    p->embed = embed;
    p->max_len = max_len;
    p->min_len = min_len;
    p->nparam = layout_of(p->nsym, hidden, embed).n;
    p->nwork = scratch_carve(&(scratch_t){0}, NULL, p->nsym, hidden, max_len);
    p->w = calloc(p->nparam, sizeof(double));
    p->m = calloc(p->nparam, sizeof(double));
    p->v = calloc(p->nparam, sizeof(double));
    p->grad = calloc(p->nparam, sizeof(double));
    p->work = calloc(1, p->nwork);
    if (!p->w || !p->m || !p->v || !p->grad || !p->work) {
        kp_policy_clear(p);
        return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
    }
    p->stats.quantile = NAN;
    return KP_OK;
}

/* Uniform in [-a, a]. */
static void fill_uniform(double *x, size_t n, double a, kp_rng_t *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (2 * kp_rng_uniform(rng) - 1) * a;
}

int kp_policy_init(kp_policy_t *p, const kp_grammar_t *g,
                   const kp_policy_params_t *pp, kp_rng_t *rng,
                   kp_error_t *err)
{
    kp_policy_params_t d;
    if (pp == NULL) {
        kp_policy_params_default(&d);
        pp = &d;
    }
    int rc = alloc_policy(p, g, pp->hidden, pp->embed, pp->max_len,
                          pp->min_len, err);
    if (rc != KP_OK)
        return rc;
    int V = p->nsym, H = p->hidden, E = p->embed, G = 3 * H;
    layout_t L = layout_of(V, H, E);
    fill_uniform(p->w + L.ep, (size_t)(V + 1) * E, 1.0, rng);
    fill_uniform(p->w + L.es, (size_t)(V + 1) * E, 1.0, rng);
    fill_uniform(p->w + L.wx, (size_t)G * 2 * E, sqrt(6.0 / (2 * E + H)),
                 rng);
    fill_uniform(p->w + L.u, (size_t)H * G, sqrt(6.0 / (2.0 * H)), rng);
    fill_uniform(p->w + L.wo, (size_t)H * V, sqrt(6.0 / (H + V)), rng);
    return KP_OK;
}

int kp_policy_max_len(const kp_policy_t *p)
{
    return p->max_len;
}

size_t kp_policy_nparams(const kp_policy_t *p)
{
    return p->nparam;
}

double *kp_policy_params(kp_policy_t *p)
{
    return p->w;
}

/* ---- sampling ---- */

int kp_policy_sample(kp_policy_t *p, const kp_grammar_t *g, kp_expr_t *out,
                     int *syms, int *lens, int n, kp_rng_t *rng,
                     kp_error_t *err)
{
    int rc = check_grammar(p, g, err);
    if (rc != KP_OK)
        return rc;
    if (n < 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "negative sample count %d", n);
    int V = p->nsym, H = p->hidden;
    scratch_t sc;
    scratch_get(&sc, p);
    make_tables(p, &sc);
    /* Sampling keeps no history: two hidden-state buffers and the first
       step's slots of the scratch arrays suffice. */
    double *h0 = sc.hs, *h1 = sc.hs + H;
    double *lp = sc.lp;
    uint8_t *mask = sc.mask;
    kp_gstate_t s;
    for (int i = 0; i < n; i++) {
        if ((rc = start_state(p, g, &s, err)) != KP_OK)
            return rc;
        memset(h0, 0, (size_t)H * sizeof *h0);
        while (!kp_gstate_done(&s)) {
            int cnt = step_mask(p, g, &s, mask);
            if (cnt == 0)
                return kp_error_set(err, KP_EINTERNAL, NULL, 0, 0,
                                    "grammar mask left no symbol at "
                                    "position %d",
                                    s.len);
            gru_step(p, &sc, emb_index(p, kp_gstate_parent(&s)),
                     emb_index(p, kp_gstate_sibling(&s)), h0, h1, sc.zs,
                     sc.rs, sc.ns, sc.hns);
            double *t = h0;
            h0 = h1;
            h1 = t;
            int a = -1;
            if (cnt == 1) {
                for (int k = 0; k < V && a < 0; k++)
                    if (mask[k])
                        a = k;
            } else {
                double z;
                masked_logsoftmax(p, h0, mask, lp, sc.pr, &z);
                double u = kp_rng_uniform(rng) * z, c = 0;
                for (int k = 0; k < V; k++) {
                    if (!mask[k])
                        continue;
                    a = k; /* the last allowed absorbs rounding */
                    c += sc.pr[k];
                    if (u < c)
                        break;
                }
            }
            if ((rc = kp_gstate_push(&s, g, a, err)) != KP_OK)
                return kp_error_set(err, KP_EINTERNAL, NULL, 0, 0,
                                    "sampled symbol %d was not allowed", a);
        }
        if (out != NULL && (rc = kp_gstate_to_expr(&out[i], g, &s, err)) !=
                               KP_OK)
            return rc;
        if (syms != NULL)
            memcpy(syms + (size_t)i * p->max_len, s.sym,
                   (size_t)s.len * sizeof *syms);
        if (lens != NULL)
            lens[i] = s.len;
    }
    return KP_OK;
}

/* ---- replay, log-probability and backpropagation ---- */

/* Replays sequence seq (len symbols) through the masks and the network,
   keeping the activations in sc; sets *logp and *ent (sum_t gamma^t H_t).
   Returns 0 when the sequence is invalid (see kp_policy.h). */
static int forward_seq(const kp_policy_t *p, const kp_grammar_t *g,
                       scratch_t *sc, const int *seq, int len, double gamma,
                       double *logp, double *ent)
{
    int V = p->nsym, H = p->hidden;
    kp_gstate_t s;
    if (len < 1 || len > p->max_len || start_state(p, g, &s, NULL) != KP_OK)
        return 0;
    double lsum = 0, esum = 0, gt = 1;
    memset(sc->hs, 0, (size_t)H * sizeof(double));
    for (int t = 0; t < len; t++) {
        int a = seq[t];
        uint8_t *mask = sc->mask + (size_t)t * V;
        if (a < 0 || a >= V || kp_gstate_done(&s))
            return 0;
        step_mask(p, g, &s, mask);
        if (!mask[a])
            return 0;
        sc->ip[t] = emb_index(p, kp_gstate_parent(&s));
        sc->is[t] = emb_index(p, kp_gstate_sibling(&s));
        sc->act[t] = a;
        size_t o = (size_t)t * H;
        gru_step(p, sc, sc->ip[t], sc->is[t], sc->hs + o, sc->hs + o + H,
                 sc->zs + o, sc->rs + o, sc->ns + o, sc->hns + o);
        double *lp = sc->lp + (size_t)t * V;
        double z;
        sc->ent[t] = masked_logsoftmax(p, sc->hs + o + H, mask, lp, sc->pr,
                                       &z);
        lsum += lp[a];
        esum += gt * sc->ent[t];
        gt *= gamma;
        if (kp_gstate_push(&s, g, a, NULL) != KP_OK)
            return 0;
    }
    if (!kp_gstate_done(&s))
        return 0;
    *logp = lsum;
    *ent = esum;
    return 1;
}

/* Adds to grad (and sc->dtp, sc->dts) the gradient of
   wl * log p + we * sum_t gamma^t H_t for the sequence forward_seq last
   replayed (len steps). */
static void backward_seq(const kp_policy_t *p, scratch_t *sc, int len,
                         double wl, double we, double gamma, double *grad)
{
    int V = p->nsym, H = p->hidden, G = 3 * H;
    layout_t L = layout_of(V, H, p->embed);
    const double *w = p->w;
    const double *ut = w + L.u, *wot = w + L.wo;
    double *dh = sc->dh, *dhp = sc->dhp, *dgx = sc->dgx, *dgh = sc->dgh;
    memset(dh, 0, (size_t)H * sizeof *dh);
    for (int t = len - 1; t >= 0; t--) {
        size_t o = (size_t)t * H;
        const double *hp = sc->hs + o, *h = sc->hs + o + H;
        const double *z = sc->zs + o, *r = sc->rs + o, *nn = sc->ns + o;
        const double *hn = sc->hns + o;
        const double *lp = sc->lp + (size_t)t * V;
        const uint8_t *mask = sc->mask + (size_t)t * V;
        double c = we * pow(gamma, t), ent = sc->ent[t];
        int a = sc->act[t];
        /* d/dl_k of wl log p_a + c H_t over the allowed k:
           wl (1[k=a] - p_k) - c p_k (log p_k + H_t). */
        double *dl = sc->dl, *gbo = grad + L.bo;
        for (int k = 0; k < V; k++) {
            if (!mask[k]) {
                dl[k] = 0;
                continue;
            }
            double pk = exp(lp[k]);
            dl[k] = wl * ((k == a) - pk) - c * pk * (lp[k] + ent);
            gbo[k] += dl[k];
        }
        outer_add(grad + L.wo, h, dl, H, V);
        matvec_add(dh, wot, dl, H, V);
        for (int j = 0; j < H; j++) {
            double dn = dh[j] * (1 - z[j]);
            double dz = dh[j] * (hp[j] - nn[j]);
            double dan = dn * (1 - nn[j] * nn[j]);
            double dr = dan * hn[j];
            double daz = dz * z[j] * (1 - z[j]);
            double dar = dr * r[j] * (1 - r[j]);
            dgx[j] = daz;
            dgx[H + j] = dar;
            dgx[2 * H + j] = dan;
            dgh[j] = daz;
            dgh[H + j] = dar;
            dgh[2 * H + j] = dan * r[j];
            dhp[j] = dh[j] * z[j];
        }
        double *dtp = sc->dtp + (size_t)sc->ip[t] * G;
        double *dts = sc->dts + (size_t)sc->is[t] * G;
        double *gbx = grad + L.bx, *gbhn = grad + L.bhn;
        for (int j = 0; j < G; j++) {
            dtp[j] += dgx[j];
            dts[j] += dgx[j];
            gbx[j] += dgx[j];
        }
        for (int j = 0; j < H; j++)
            gbhn[j] += dgh[2 * H + j];
        outer_add(grad + L.u, hp, dgh, H, G);
        matvec_add(dhp, ut, dgh, H, G);
        memcpy(dh, dhp, (size_t)H * sizeof *dh);
    }
}

/* Maps the gradients of the input tables back to wx and the embeddings. */
static void tables_backward(const kp_policy_t *p, const scratch_t *sc,
                            double *grad)
{
    int V1 = p->nsym + 1, H = p->hidden, E = p->embed, G = 3 * H;
    layout_t L = layout_of(p->nsym, H, E);
    const double *w = p->w;
    for (int s = 0; s < V1; s++) {
        const double *d1 = sc->dtp + (size_t)s * G;
        const double *d2 = sc->dts + (size_t)s * G;
        const double *e1 = w + L.ep + (size_t)s * E;
        const double *e2 = w + L.es + (size_t)s * E;
        double *ge1 = grad + L.ep + (size_t)s * E;
        double *ge2 = grad + L.es + (size_t)s * E;
        for (int r = 0; r < G; r++) {
            const double *row = w + L.wx + (size_t)r * 2 * E;
            double *grow = grad + L.wx + (size_t)r * 2 * E;
            for (int e = 0; e < E; e++) {
                grow[e] += d1[r] * e1[e];
                grow[E + e] += d2[r] * e2[e];
                ge1[e] += row[e] * d1[r];
                ge2[e] += row[E + e] * d2[r];
            }
        }
    }
}

int kp_policy_logprob(kp_policy_t *p, const kp_grammar_t *g, const int *syms,
                      const int *lens, int n, double gamma, double *logp,
                      double *ent, kp_error_t *err)
{
    int rc = check_grammar(p, g, err);
    if (rc != KP_OK)
        return rc;
    if (n < 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "negative sequence count %d", n);
    scratch_t sc;
    scratch_get(&sc, p);
    make_tables(p, &sc);
    for (int i = 0; i < n; i++) {
        double lq, eq;
        if (!forward_seq(p, g, &sc, syms + (size_t)i * p->max_len, lens[i],
                         gamma, &lq, &eq))
            lq = eq = NAN;
        logp[i] = lq;
        if (ent != NULL)
            ent[i] = eq;
    }
    return KP_OK;
}

/* The objective and gradient, with sequences whose two weights are both
   zero skipped without a replay when skip_zero is set; *esum gets the sum
   of the entropy terms of the valid sequences replayed. */
static void objective(kp_policy_t *p, const kp_grammar_t *g, const int *syms,
                      const int *lens, const double *wlogp, const double *went,
                      int n, double gamma, double *obj, double *grad,
                      int *nvalid, int skip_zero, double *esum)
{
    size_t V1 = (size_t)p->nsym + 1, G = 3 * (size_t)p->hidden;
    scratch_t sc;
    scratch_get(&sc, p);
    make_tables(p, &sc);
    if (grad != NULL) {
        memset(grad, 0, p->nparam * sizeof *grad);
        memset(sc.dtp, 0, V1 * G * sizeof(double));
        memset(sc.dts, 0, V1 * G * sizeof(double));
    }
    double J = 0, es = 0;
    int nv = 0;
    for (int i = 0; i < n; i++) {
        double wl = wlogp ? wlogp[i] : 0, we = went ? went[i] : 0;
        if (skip_zero && wl == 0 && we == 0)
            continue;
        double lq, eq;
        int len = lens[i];
        if (!forward_seq(p, g, &sc, syms + (size_t)i * p->max_len, len, gamma,
                         &lq, &eq))
            continue;
        nv++;
        J += wl * lq + we * eq;
        es += eq;
        if (grad != NULL && (wl != 0 || we != 0))
            backward_seq(p, &sc, len, wl, we, gamma, grad);
    }
    if (grad != NULL)
        tables_backward(p, &sc, grad);
    if (obj != NULL)
        *obj = J;
    if (nvalid != NULL)
        *nvalid = nv;
    if (esum != NULL)
        *esum = es;
}

int kp_policy_objective(kp_policy_t *p, const kp_grammar_t *g,
                        const int *syms, const int *lens, const double *wlogp,
                        const double *went, int n, double gamma, double *obj,
                        double *grad, int *nvalid, kp_error_t *err)
{
    int rc = check_grammar(p, g, err);
    if (rc != KP_OK)
        return rc;
    if (n < 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "negative sequence count %d", n);
    objective(p, g, syms, lens, wlogp, went, n, gamma, obj, grad, nvalid, 0,
              NULL);
    return KP_OK;
}

/* ---- training ---- */

/* 1 if seq passes the masks, without running the network. */
static int valid_seq(const kp_policy_t *p, const kp_grammar_t *g,
                     const int *seq, int len, uint8_t *mask)
{
    kp_gstate_t s;
    if (len < 1 || len > p->max_len || start_state(p, g, &s, NULL) != KP_OK)
        return 0;
    for (int t = 0; t < len; t++) {
        int a = seq[t];
        if (a < 0 || a >= p->nsym || kp_gstate_done(&s))
            return 0;
        if (s.nslot == 1 && s.len + 1 < p->min_len &&
            g->sym[a].arity == 0) {
            step_mask(p, g, &s, mask);
            if (!mask[a])
                return 0;
        }
        if (kp_gstate_push(&s, g, a, NULL) != KP_OK)
            return 0;
    }
    return kp_gstate_done(&s);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int kp_policy_train(kp_policy_t *p, const kp_grammar_t *g, const int *syms,
                    const int *lens, const double *rewards, int n,
                    const kp_policy_train_params_t *tp, kp_error_t *err)
{
    kp_policy_train_params_t d;
    if (tp == NULL) {
        kp_policy_train_params_default(&d);
        tp = &d;
    }
    int rc = check_grammar(p, g, err);
    if (rc != KP_OK)
        return rc;
    if (n < 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "negative sequence count %d", n);
    if (!(tp->epsilon > 0 && tp->epsilon <= 1) || !(tp->lr >= 0) ||
        !(tp->beta1 >= 0 && tp->beta1 < 1) ||
        !(tp->beta2 >= 0 && tp->beta2 < 1) || !(tp->adam_eps > 0) ||
        !(tp->entropy_weight >= 0) || !isfinite(tp->entropy_weight) ||
        !(tp->entropy_gamma > 0 && tp->entropy_gamma <= 1) ||
        !isfinite(tp->lr))
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "training hyperparameter out of range");
    kp_policy_stats_t *st = &p->stats;
    st->valid = st->skipped = st->kept = 0;
    st->quantile = NAN;
    st->loss = 0;
    st->entropy = 0;
    st->steps = p->step;
    if (n == 0)
        return KP_OK;
    double *sorted = malloc((size_t)n * sizeof *sorted);
    double *wl = calloc((size_t)n, sizeof *wl);
    double *we = calloc((size_t)n, sizeof *we);
    uint8_t *ok = calloc((size_t)n, 1);
    if (!sorted || !wl || !we || !ok) {
        rc = kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    scratch_t sc;
    scratch_get(&sc, p);
    int nv = 0;
    for (int i = 0; i < n; i++) {
        ok[i] = isfinite(rewards[i]) &&
                valid_seq(p, g, syms + (size_t)i * p->max_len, lens[i],
                          sc.mask);
        if (ok[i])
            sorted[nv++] = rewards[i];
    }
    st->valid = nv;
    st->skipped = n - nv;
    if (nv == 0)
        goto done;
    qsort(sorted, (size_t)nv, sizeof *sorted, cmp_double);
    /* numpy.quantile(..., method="higher"), as DSO computes R_eps. */
    double pos = ceil((1 - tp->epsilon) * (nv - 1));
    int qi = pos < 0 ? 0 : pos > nv - 1 ? nv - 1 : (int)pos;
    double q = sorted[qi];
    int k = 0;
    for (int i = 0; i < n; i++)
        k += ok[i] && rewards[i] >= q;
    int any = 0;
    for (int i = 0; i < n; i++)
        if (ok[i] && rewards[i] >= q) {
            wl[i] = (rewards[i] - q) / k;
            we[i] = tp->entropy_weight / k;
            any |= wl[i] != 0 || we[i] != 0;
        }
    st->kept = k;
    st->quantile = q;
    if (!any)
        goto done;
    double J, es;
    int np;
    objective(p, g, syms, lens, wl, we, n, tp->entropy_gamma, &J, p->grad,
              &np, 1, &es);
    st->entropy = np > 0 ? es / np : 0;
    st->loss = -J;
    /* Adam on the loss -J. */
    p->step++;
    double b1 = tp->beta1, b2 = tp->beta2;
    double c1 = 1 - pow(b1, (double)p->step), c2 = 1 - pow(b2, (double)p->step);
    for (size_t j = 0; j < p->nparam; j++) {
        double gj = -p->grad[j];
        p->m[j] = b1 * p->m[j] + (1 - b1) * gj;
        p->v[j] = b2 * p->v[j] + (1 - b2) * gj * gj;
        double mh = p->m[j] / c1, vh = p->v[j] / c2;
        p->w[j] -= tp->lr * mh / (sqrt(vh) + tp->adam_eps);
    }
    st->steps = p->step;
done:
    free(sorted);
    free(wl);
    free(we);
    free(ok);
    return rc;
}

/* ---- checkpoints ---- */

static const char kp_policy_magic[8] = {'K', 'P', 'P', 'O', 'L', 'I', 'C', 'Y'};
#define KP_POLICY_VERSION 1u
#define HEADER_BYTES (8 + 6 * 4 + 8 + 8)

static void put_u32(unsigned char *b, uint32_t x)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(x >> (8 * i));
}

static void put_u64(unsigned char *b, uint64_t x)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(x >> (8 * i));
}

static uint32_t get_u32(const unsigned char *b)
{
    uint32_t x = 0;
    for (int i = 0; i < 4; i++)
        x |= (uint32_t)b[i] << (8 * i);
    return x;
}

static uint64_t get_u64(const unsigned char *b)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)b[i] << (8 * i);
    return x;
}

static void put_f64(unsigned char *b, double d)
{
    uint64_t x;
    memcpy(&x, &d, sizeof x);
    put_u64(b, x);
}

static double get_f64(const unsigned char *b)
{
    uint64_t x = get_u64(b);
    double d;
    memcpy(&d, &x, sizeof d);
    return d;
}

size_t kp_policy_size(const kp_policy_t *p)
{
    return HEADER_BYTES + 3 * p->nparam * 8;
}

int kp_policy_save(const kp_policy_t *p, void *buf, size_t n, kp_error_t *err)
{
    if (p->w == NULL)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "policy is not initialised");
    size_t need = kp_policy_size(p);
    if (n < need)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "checkpoint buffer of %zu bytes, %zu needed", n,
                            need);
    unsigned char *b = buf;
    memcpy(b, kp_policy_magic, 8);
    put_u32(b + 8, KP_POLICY_VERSION);
    put_u32(b + 12, (uint32_t)p->nsym);
    put_u32(b + 16, (uint32_t)p->hidden);
    put_u32(b + 20, (uint32_t)p->embed);
    put_u32(b + 24, (uint32_t)p->max_len);
    put_u32(b + 28, (uint32_t)p->min_len);
    put_u64(b + 32, (uint64_t)p->nparam);
    put_u64(b + 40, (uint64_t)p->step);
    b += HEADER_BYTES;
    const double *arr[3] = {p->w, p->m, p->v};
    for (int a = 0; a < 3; a++)
        for (size_t j = 0; j < p->nparam; j++, b += 8)
            put_f64(b, arr[a][j]);
    return KP_OK;
}

int kp_policy_load(kp_policy_t *p, const kp_grammar_t *g, const void *buf,
                   size_t n, kp_error_t *err)
{
    const unsigned char *b = buf;
    memset(p, 0, sizeof *p);
    if (n < HEADER_BYTES || memcmp(b, kp_policy_magic, 8) != 0)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "not a policy checkpoint");
    if (get_u32(b + 8) != KP_POLICY_VERSION)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "policy checkpoint version %u, expected %u",
                            (unsigned)get_u32(b + 8), KP_POLICY_VERSION);
    uint32_t nsym = get_u32(b + 12), hidden = get_u32(b + 16);
    uint32_t embed = get_u32(b + 20), max_len = get_u32(b + 24);
    uint32_t min_len = get_u32(b + 28);
    uint64_t nparam = get_u64(b + 32), step = get_u64(b + 40);
    if (!g->bound || nsym != (uint32_t)kp_grammar_nsymbols(g))
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "checkpoint for %u symbols, grammar %s has %d",
                            (unsigned)nsym, kp_grammar_name(g),
                            kp_grammar_nsymbols(g));
    if (hidden < 1 || hidden > KP_POLICY_MAX_HIDDEN || embed < 1 ||
        embed > KP_POLICY_MAX_EMBED || max_len < 1 ||
        max_len > KP_EXPR_MAX_LEN || min_len > KP_EXPR_MAX_LEN ||
        step > (uint64_t)INT64_MAX ||
        nparam != layout_of((int)nsym, (int)hidden, (int)embed).n)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "bad policy checkpoint shape");
    if ((n - HEADER_BYTES) / 24 < nparam ||
        n != HEADER_BYTES + 24 * (size_t)nparam)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "policy checkpoint of %zu bytes, %zu expected", n,
                            (size_t)(HEADER_BYTES + 24 * nparam));
    int rc = alloc_policy(p, g, (int)hidden, (int)embed, (int)max_len,
                          (int)min_len, err);
    if (rc != KP_OK)
        return rc;
    b += HEADER_BYTES;
    double *arr[3] = {p->w, p->m, p->v};
    for (int a = 0; a < 3; a++)
        for (size_t j = 0; j < p->nparam; j++, b += 8) {
            double x = get_f64(b);
            if (!isfinite(x) || (a == 2 && x < 0)) {
                kp_policy_clear(p);
                return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                                    "non-finite value in policy checkpoint");
            }
            arr[a][j] = x;
        }
    p->step = (long)step;
    p->stats.steps = p->step;
    return KP_OK;
}
