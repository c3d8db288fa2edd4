/* kp_symsearch.c: tabu search over unions of orbits (kp_symsearch.h).

   Moves are ranked by the change in the sum of sqrt(orbit size) over the
   object, not in its size (sizes decide only what counts as a new best,
   and a move to a new best always wins). With plain sizes, orbits of
   points without zero coordinates (the largest) crowd out everything:
   for n = 8 the walk then stays among messy 464-480-caps; with square
   roots it reaches 512-caps within seconds.

   Costs: adding or removing an orbit of m elements to an object of k
   elements updates cnt along m k lines (one line_thirds call per element);
   a step evaluates every admissible orbit, each in O(k) when some pair of
   the object is on a line through its first element, else O(m). */
#include "kp_symsearch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SYM_CMAX 6       /* orbits closing more lines are not considered */
#define SYM_TENURE 10    /* tabu tenure: 10..20 steps */
#define SYM_STAGNANT 500 /* steps without progress before a perturbation */
#define SYM_KICK 0.3     /* fraction of the orbits a perturbation removes */
/* Steps without a new best before starting over from the empty object. */
#define SYM_RESTART 4000

static int listed(const uint32_t *l, uint32_t m, uint32_t o)
{
    for (uint32_t i = 0; i < m; i++)
        if (l[i] == o)
            return 1;
    return 0;
}

static void *xcalloc(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

void kp_sym_clear(kp_sym_t *s)
{
    free(s->orb);
    free(s->ostart);
    free(s->opts);
    free(s->bad);
    free(s->value);
    free(s->tstart);
    free(s->tw);
    free(s->in);
    free(s->mem);
    free(s->mpos);
    free(s->pts);
    free(s->ppos);
    free(s->cnt);
    free(s->tabu);
    free(s->best);
    free(s->z);
    free(s->rm);
    free(s->brm);
    free(s->pa);
    free(s->pb);
    memset(s, 0, sizeof *s);
}

int kp_sym_init(kp_sym_t *s, const kp_problem_t *p, int n, int group, void *ws,
                kp_error_t *err)
{
    memset(s, 0, sizeof *s);
    if (p->line_thirds == NULL || p->nsymmetries == NULL ||
        p->symmetry_orbits == NULL)
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "problem '%s' has no symmetries for symmetric "
                            "search",
                            p->name);
    if (group < 0 || group >= p->nsymmetries(n))
        return kp_error_set(err, KP_EINPUT, NULL, 0, 0,
                            "symmetry %d out of range for '%s'", group,
                            p->name);
    s->p = p;
    s->n = n;
    s->group = group;
    s->ws = ws;
    s->len = p->length(n);
    size_t len = s->len;
    s->orb = xcalloc(len, sizeof *s->orb);
    s->opts = xcalloc(len, sizeof *s->opts);
    s->pts = xcalloc(len, sizeof *s->pts);
    s->ppos = xcalloc(len, sizeof *s->ppos);
    s->cnt = xcalloc(len, sizeof *s->cnt);
    s->z = xcalloc(len, sizeof *s->z);
    s->pa = xcalloc(len, sizeof *s->pa);
    s->pb = xcalloc(len, sizeof *s->pb);
    if (!s->orb || !s->opts || !s->pts || !s->ppos || !s->cnt || !s->z ||
        !s->pa || !s->pb)
        goto nomem;
    s->norb = p->symmetry_orbits(s->orb, group, n);
    uint32_t no = s->norb;
    s->ostart = xcalloc((size_t)no + 1, sizeof *s->ostart);
    s->bad = xcalloc(no, 1);
    s->in = xcalloc(no, 1);
    s->mem = xcalloc(no, sizeof *s->mem);
    s->mpos = xcalloc(no, sizeof *s->mpos);
    s->tabu = xcalloc(no, sizeof *s->tabu);
    s->best = xcalloc(no, 1);
    s->rm = xcalloc(no, sizeof *s->rm);
    s->brm = xcalloc(no, sizeof *s->brm);
    s->tstart = xcalloc((size_t)no + 1, sizeof *s->tstart);
    s->tw = xcalloc(len, sizeof *s->tw);
    s->value = xcalloc(no, sizeof *s->value);
    if (!s->ostart || !s->bad || !s->in || !s->mem || !s->mpos || !s->tabu ||
        !s->best || !s->rm || !s->brm || !s->tstart || !s->tw || !s->value)
        goto nomem;
    for (size_t e = 0; e < len; e++) {
        if (s->orb[e] >= no) {
            kp_sym_clear(s);
            return kp_error_set(err, KP_EINTERNAL, NULL, 0, 0,
                                "problem '%s': bad orbit numbering", p->name);
        }
        s->ostart[s->orb[e] + 1]++;
    }
    for (uint32_t o = 0; o < no; o++)
        s->ostart[o + 1] += s->ostart[o];
    for (uint32_t o = 0; o < no; o++)
        s->value[o] = sqrt((double)(s->ostart[o + 1] - s->ostart[o]));
    /* Counting sort by orbit, elements ascending: the first element of an
       orbit is its smallest. ppos is free scratch here. */
    uint32_t *fill = s->ppos;
    for (uint32_t o = 0; o < no; o++)
        fill[o] = s->ostart[o];
    for (size_t e = 0; e < len; e++)
        s->opts[fill[s->orb[e]]++] = (uint32_t)e;
    /* The lines with two elements in orbit o, up to symmetry those through
       its first element r: their third elements' orbits must stay out
       while o is in; one in o itself means o can never be used. */
    uint32_t t = 0;
    for (uint32_t o = 0; o < no; o++) {
        uint32_t a = s->ostart[o], m = s->ostart[o + 1] - a;
        s->tstart[o] = t;
        if (m < 2)
            continue;
        p->line_thirds(s->z, s->opts[a], s->opts + a + 1, m - 1, n, ws);
        uint32_t t0 = t;
        for (uint32_t j = 0; j + 1 < m; j++) {
            uint32_t b = s->orb[s->z[j]];
            if (b == o)
                s->bad[o] = 1;
            else if (!listed(s->tw + t0, t - t0, b))
                s->tw[t++] = b;
        }
    }
    s->tstart[no] = t;
    return KP_OK;
nomem:
    kp_sym_clear(s);
    return kp_error_set(err, KP_ENOMEM, NULL, 0, 0, "out of memory");
}

static uint32_t orbit_size(const kp_sym_t *s, uint32_t o)
{
    return s->ostart[o + 1] - s->ostart[o];
}

static void add_element(kp_sym_t *s, uint32_t e)
{
    s->p->line_thirds(s->z, e, s->pts, s->k, s->n, s->ws);
    for (size_t j = 0; j < s->k; j++)
        s->cnt[s->z[j]]++;
    s->ppos[e] = (uint32_t)s->k;
    s->pts[s->k++] = e;
}

static void remove_element(kp_sym_t *s, uint32_t e)
{
    uint32_t i = s->ppos[e], last = s->pts[--s->k];
    s->pts[i] = last;
    s->ppos[last] = i;
    s->p->line_thirds(s->z, e, s->pts, s->k, s->n, s->ws);
    for (size_t j = 0; j < s->k; j++)
        s->cnt[s->z[j]]--;
}

static void add_orbit(kp_sym_t *s, uint32_t o)
{
    for (uint32_t i = s->ostart[o]; i < s->ostart[o + 1]; i++)
        add_element(s, s->opts[i]);
    s->in[o] = 1;
    s->mpos[o] = s->nmem;
    s->mem[s->nmem++] = o;
}

static void remove_orbit(kp_sym_t *s, uint32_t o)
{
    s->in[o] = 0;
    uint32_t i = s->mpos[o], last = s->mem[--s->nmem];
    s->mem[i] = last;
    s->mpos[last] = i;
    for (uint32_t j = s->ostart[o]; j < s->ostart[o + 1]; j++)
        remove_element(s, s->opts[j]);
}

/* The orbits to remove before orbit o can be added, into rm; returns how
   many. Lines with two elements in o each force out the orbit of their
   third element; lines through the first element r of o and a pair of the
   object are covered greedily, the orbit on most of them first (ties: the
   smaller orbit, then the lower index). */
static uint32_t repair(kp_sym_t *s, uint32_t o, uint32_t *rm)
{
    uint32_t r = s->opts[s->ostart[o]], nr = 0;
    for (uint32_t j = s->tstart[o]; j < s->tstart[o + 1]; j++)
        if (s->in[s->tw[j]])
            rm[nr++] = s->tw[j];
    if (s->cnt[r] == 0)
        return nr;
    s->p->line_thirds(s->z, r, s->pts, s->k, s->n, s->ws);
    uint32_t np = 0;
    for (size_t j = 0; j < s->k; j++) {
        uint32_t x = s->pts[j], y = s->z[j];
        if (y <= x || !s->in[s->orb[y]])
            continue;
        uint32_t X = s->orb[x], Y = s->orb[y];
        if (listed(rm, nr, X) || listed(rm, nr, Y))
            continue;
        s->pa[np] = X;
        s->pb[np] = Y;
        np++;
    }
    while (np > 0) {
        uint32_t pick = s->pa[0], pc = 0;
        for (uint32_t t = 0; t < 2 * np; t++) {
            uint32_t b = t < np ? s->pa[t] : s->pb[t - np], c = 0;
            for (uint32_t u = 0; u < np; u++)
                c += s->pa[u] == b || s->pb[u] == b;
            if (c > pc ||
                (c == pc &&
                 (orbit_size(s, b) < orbit_size(s, pick) ||
                  (orbit_size(s, b) == orbit_size(s, pick) && b < pick)))) {
                pc = c;
                pick = b;
            }
        }
        rm[nr++] = pick;
        uint32_t keep = 0;
        for (uint32_t t = 0; t < np; t++)
            if (s->pa[t] != pick && s->pb[t] != pick) {
                s->pa[keep] = s->pa[t];
                s->pb[keep] = s->pb[t];
                keep++;
            }
        np = keep;
    }
    return nr;
}

static void kick(kp_sym_t *s, kp_rng_t *rng)
{
    uint32_t r = (uint32_t)(SYM_KICK * s->nmem) + 1;
    for (uint32_t t = 0; t < r && s->nmem > 0; t++)
        remove_orbit(s, s->mem[kp_rng_below(rng, s->nmem)]);
    s->traj_best = s->k;
    s->last_gain = s->step;
}

/* Starts over from the empty object: which good object a walk ends near
   is mostly decided in its first thousand steps, so fresh starts find
   the best ones sooner than long walks. */
static void restart(kp_sym_t *s)
{
    while (s->nmem > 0)
        remove_orbit(s, s->mem[s->nmem - 1]);
    memset(s->tabu, 0, sizeof *s->tabu * s->norb);
    s->traj_best = 0;
    s->last_gain = s->last_best = s->step;
}

int kp_sym_run(kp_sym_t *s, long steps, kp_rng_t *rng)
{
    int improved = 0;
    for (long t = 0; t < steps; t++) {
        s->step++;
        if (s->step - s->last_best > SYM_RESTART)
            restart(s);
        if (s->k > s->traj_best) {
            s->traj_best = s->k;
            s->last_gain = s->step;
        } else if (s->step - s->last_gain > SYM_STAGNANT) {
            kick(s, rng);
        }
        double bval = 0;
        uint32_t bo = UINT32_MAX, bnr = 0, ties = 0;
        for (uint32_t o = 0; o < s->norb; o++) {
            if (s->in[o] || s->bad[o] ||
                s->cnt[s->opts[s->ostart[o]]] > SYM_CMAX)
                continue;
            uint32_t nr = repair(s, o, s->rm);
            long gain = (long)orbit_size(s, o);
            double val = s->value[o];
            for (uint32_t i = 0; i < nr; i++) {
                gain -= (long)orbit_size(s, s->rm[i]);
                val -= s->value[s->rm[i]];
            }
            int record = (long)s->k + gain > (long)s->best_size;
            if (s->tabu[o] > s->step && !record)
                continue; /* tabu, and no new best */
            if (record)
                val += 1e9; /* a new best beats any other move */
            if (bo == UINT32_MAX || val > bval + 1e-9) {
                ties = 1;
            } else if (val < bval - 1e-9 || kp_rng_below(rng, ++ties) != 0) {
                continue;
            }
            bval = val;
            bo = o;
            bnr = nr;
            memcpy(s->brm, s->rm, sizeof *s->rm * nr);
        }
        if (bo == UINT32_MAX) { /* nothing admissible: make room */
            if (s->nmem > 0) {
                uint32_t o = s->mem[kp_rng_below(rng, s->nmem)];
                remove_orbit(s, o);
                s->tabu[o] = s->step + SYM_TENURE;
            }
            continue;
        }
        for (uint32_t i = 0; i < bnr; i++) {
            remove_orbit(s, s->brm[i]);
            s->tabu[s->brm[i]] =
                s->step + SYM_TENURE + kp_rng_below(rng, SYM_TENURE + 1);
        }
        add_orbit(s, bo);
        if (s->k > s->best_size) {
            s->best_size = s->k;
            memcpy(s->best, s->in, s->norb);
            s->last_best = s->step;
            improved = 1;
        }
    }
    return improved;
}

int kp_sym_add(kp_sym_t *s, uint32_t o)
{
    if (o >= s->norb || s->in[o] || s->bad[o] ||
        s->cnt[s->opts[s->ostart[o]]] != 0)
        return KP_EINPUT;
    for (uint32_t j = s->tstart[o]; j < s->tstart[o + 1]; j++)
        if (s->in[s->tw[j]])
            return KP_EINPUT;
    add_orbit(s, o);
    return KP_OK;
}

size_t kp_sym_best(uint8_t *x, const kp_sym_t *s)
{
    size_t k = 0;
    for (size_t e = 0; e < s->len; e++) {
        x[e] = s->best[s->orb[e]];
        k += x[e];
    }
    return k;
}
