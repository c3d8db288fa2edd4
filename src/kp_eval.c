/* kp_eval.c: the fast floating-point evaluator (see kp_eval.h).

   Pipeline: compile() turns the prefix array into an instruction list over
   registers (block buffers, input columns, the output), folding constant
   subtrees with kp_op_apply; the drivers then run the list over row blocks
   with one of the SIMD kernels below.

   The kernels are written once, on GCC vectors of 8 doubles (v8d), and this
   file includes itself three times (KP_EVAL_KERNEL = 1, 2, 3) to build them
   for the baseline target, AVX2+FMA and AVX-512F with target attributes; the
   library itself is compiled without -march. Every kernel computes each lane
   independently, which is what makes a row's value independent of the block
   it falls in. Blocks always start at a multiple of 8 rows, and a list's last
   n % 8 rows are copied into zero-padded 8-row buffers, so kernels only see
   whole vectors and never read past a column. */
#ifndef KP_EVAL_KERNEL

#include "kp_eval.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define KP_EVAL_X86 1
#include <immintrin.h>
#include <sleef.h>
#else
#define KP_EVAL_X86 0
#endif

#define BLK 256           /* rows per block: a buffer is 2 KB */
#define WS_DOUBLES 8192   /* stack budget for block buffers: 64 KB */
#define MAX_SLOTS 48      /* block buffers; Sethi-Ullman order needs ~10 */
#define MAX_INS 640       /* 256 tokens, x**k expanded to <= 5 products */
#define REG_VAR0 MAX_INS  /* registers: slots, then variables, then out */
#define REG_OUT (REG_VAR0 + KP_EXPR_MAX_LEN)
#define NREGS (REG_OUT + 1)
#define POWI_MAX 8        /* x**k with |k| <= POWI_MAX becomes products */

typedef double v8d __attribute__((vector_size(64)));
typedef int64_t v8l __attribute__((vector_size(64)));

/* Instruction codes. VC: vector op constant; CV: constant op vector (the
   vector operand is always in field a); VV: a op b. */
enum {
    I_ADD_VV, I_ADD_VC, I_SUB_VV, I_SUB_VC, I_SUB_CV, I_MUL_VV, I_MUL_VC,
    I_DIV_VV, I_DIV_VC, I_DIV_CV, I_POW_VV, I_POW_VC, I_POW_CV,
    I_POWHALF, /* pow(x, 0.5): sqrt with pow's -0 and -inf cases */
    I_POW0,    /* pow(x, 0) = 1 for every x, NaN included */
    I_NEG, I_ABS, I_MAP /* unary SLEEF function selected by op */
};

typedef struct {
    uint8_t code;
    uint8_t op;   /* the kp_op this implements (for derivatives) */
    uint16_t dst, a, b;
    double c;
} ins_t;

enum { OPD_REG, OPD_CONST };

/* A compiled operand: a register, or a folded constant. dep is the set of
   free constants (by ordinal) the value depends on; pos the subtree. */
typedef struct {
    int kind;
    int reg;
    double c;
    uint64_t dep;
    int pos;
} opd_t;

typedef struct {
    int nins, nslots, nvar, tape, err;
    uint8_t ref[MAX_SLOTS];
    int varmap[KP_EXPR_MAX_LEN]; /* column of variable register j */
    opd_t root;
    ins_t ins[MAX_INS];
    uint64_t dep[MAX_INS];  /* free constants each result depends on */
    int cpos[MAX_INS];      /* subtree of the constant operand, or -1 */
} prog_t;

/* Per-position facts about the expression, computed by one backward pass. */
typedef struct {
    const kp_expr_t *e;
    int nfree;
    int size[KP_EXPR_MAX_LEN];
    int kidx[KP_EXPR_MAX_LEN];   /* constant-pool index of a KP_TOK_CONST */
    int need[KP_EXPR_MAX_LEN];   /* Sethi-Ullman buffer count */
    uint8_t isc[KP_EXPR_MAX_LEN]; /* subtree has no variable */
    double cv[KP_EXPR_MAX_LEN];  /* its folded value when isc */
    uint64_t dep[KP_EXPR_MAX_LEN];
    int ford[KP_EXPR_MAX_CONSTS]; /* free ordinal of a pool entry, or -1 */
} cctx_t;

/* ------------------------------------------------------------------ */
/* Compiler                                                            */

static opd_t opd_const(double c, uint64_t dep, int pos)
{
    opd_t o = {OPD_CONST, 0, c, dep, pos};
    return o;
}

static opd_t opd_reg(int reg, uint64_t dep)
{
    opd_t o = {OPD_REG, reg, 0.0, dep, -1};
    return o;
}

static int is_slot(int reg)
{
    return reg < REG_VAR0;
}

static void opd_retain(prog_t *p, opd_t o)
{
    if (o.kind == OPD_REG && is_slot(o.reg) && !p->tape)
        p->ref[o.reg]++;
}

static void opd_release(prog_t *p, opd_t o)
{
    if (o.kind == OPD_REG && is_slot(o.reg) && !p->tape)
        p->ref[o.reg]--;
}

/* A fresh buffer. In tape mode (Jacobian) buffers are never reused, so
   slot j holds the result of instruction j for the whole block. */
static int slot_alloc(prog_t *p)
{
    if (p->tape) {
        if (p->nslots >= MAX_INS) {
            p->err = 1;
            return 0;
        }
        return p->nslots++;
    }
    for (int s = 0; s < MAX_SLOTS; s++)
        if (p->ref[s] == 0) {
            p->ref[s] = 1;
            if (s >= p->nslots)
                p->nslots = s + 1;
            return s;
        }
    p->err = 1;
    return 0;
}

/* Appends dst = x op y, consuming x and y. At most one of them is a
   constant. The destination is allocated before the operands are released
   so that it never aliases them (the kernels use restrict-free loads but
   the Jacobian needs every value). */
static opd_t emit(prog_t *p, int code, int op, opd_t x, opd_t y)
{
    if (p->nins >= MAX_INS) {
        p->err = 1;
        return opd_reg(0, 0);
    }
    int dst = slot_alloc(p);
    ins_t *in = &p->ins[p->nins];
    const opd_t *k = x.kind == OPD_CONST ? &x : y.kind == OPD_CONST ? &y : NULL;
    const opd_t *v = x.kind == OPD_REG ? &x : &y;
    in->code = (uint8_t)code;
    in->op = (uint8_t)op;
    in->dst = (uint16_t)dst;
    in->a = (uint16_t)v->reg;
    in->b = (uint16_t)(x.kind == OPD_REG && y.kind == OPD_REG ? y.reg : v->reg);
    in->c = k ? k->c : 0.0;
    p->dep[p->nins] = x.dep | y.dep;
    p->cpos[p->nins] = k && k->dep ? k->pos : -1;
    p->nins++;
    opd_release(p, x);
    opd_release(p, y);
    return opd_reg(dst, x.dep | y.dep);
}

static opd_t emit1(prog_t *p, int code, int op, opd_t x)
{
    opd_t none = opd_const(0.0, 0, -1);
    return emit(p, code, op, x, none);
}

/* x**k, k >= 1, by repeated squaring; consumes nothing (x stays owned). */
static opd_t emit_powi_rec(prog_t *p, opd_t x, int k)
{
    if (k == 1) {
        opd_retain(p, x);
        return x;
    }
    opd_t h = emit_powi_rec(p, x, k % 2 ? k - 1 : k / 2);
    if (k % 2) {
        opd_retain(p, x);
        return emit(p, I_MUL_VV, KP_OP_MUL, h, x);
    }
    opd_retain(p, h);
    return emit(p, I_MUL_VV, KP_OP_MUL, h, h);
}

static opd_t emit_pow_const(prog_t *p, opd_t x, opd_t y)
{
    double k = y.c;
    if (y.dep == 0) {
        /* pow(x, 0) is 1 even for NaN x. It stays an instruction: folding
           it would make constants of subtrees with variables. */
        if (k == 0.0)
            return emit(p, I_POW0, KP_OP_POW, x, y);
        if (k == 1.0)
            return x;
        if (k == 0.5)
            return emit1(p, I_POWHALF, KP_OP_SQRT, x);
        if (k == -0.5) {
            opd_t s = emit1(p, I_POWHALF, KP_OP_SQRT, x);
            return emit(p, I_DIV_CV, KP_OP_DIV, opd_const(1.0, 0, -1), s);
        }
        if (k != rint(k) && 2 * k == rint(2 * k) && fabs(k) <= POWI_MAX) {
            /* x**(m/2), m odd, as pow(x, 1/2)**m: no pow call for the
               rational exponents physics formulas are full of (3/2, -3/2,
               5/2); sqrt gives NaN below 0 as pow does, and pow(x, 1/2)'s
               -0 and -inf cases carry over. */
            opd_t s = emit1(p, I_POWHALF, KP_OP_SQRT, x);
            if (k < 0)
                s = emit(p, I_DIV_CV, KP_OP_DIV, opd_const(1.0, 0, -1), s);
            opd_t r = emit_powi_rec(p, s, (int)fabs(2 * k));
            opd_release(p, s);
            return r;
        }
        if (k == rint(k) && k != 0.0 && fabs(k) <= POWI_MAX) {
            /* x**-k as (1/x)**k keeps the overflow/underflow behaviour of
               pow: 1/x is exact in range, and the product under- or
               overflows exactly when the true value does (to rounding). */
            if (k < 0)
                x = emit(p, I_DIV_CV, KP_OP_DIV, opd_const(1.0, 0, -1), x);
            opd_t r = emit_powi_rec(p, x, (int)fabs(k));
            opd_release(p, x);
            return r;
        }
    }
    return emit(p, I_POW_VC, KP_OP_POW, x, y);
}

static opd_t gen(prog_t *p, const cctx_t *cx, int pos)
{
    const kp_expr_t *e = cx->e;
    int t = e->tok[pos];
    if (cx->isc[pos])
        return opd_const(cx->cv[pos], cx->dep[pos], pos);
    if (kp_tok_is_var((kp_tok_t)t)) {
        int v = kp_tok_var((kp_tok_t)t), j;
        for (j = 0; j < p->nvar; j++)
            if (p->varmap[j] == v)
                break;
        if (j == p->nvar)
            p->varmap[p->nvar++] = v;
        return opd_reg(REG_VAR0 + j, 0);
    }
    if (kp_op_table[t].arity == 1) {
        opd_t a = gen(p, cx, pos + 1);
        if (t == KP_OP_NEG)
            return emit1(p, I_NEG, t, a);
        if (t == KP_OP_ABS)
            return emit1(p, I_ABS, t, a);
        return emit1(p, I_MAP, t, a);
    }
    int c1 = pos + 1, c2 = c1 + cx->size[c1];
    opd_t a, b;
    if (cx->need[c2] > cx->need[c1]) {
        b = gen(p, cx, c2);
        a = gen(p, cx, c1);
    } else {
        a = gen(p, cx, c1);
        b = gen(p, cx, c2);
    }
    int ka = a.kind == OPD_CONST, kb = b.kind == OPD_CONST;
    switch (t) {
    case KP_OP_ADD: /* a + b == b + a exactly in IEEE arithmetic */
        return ka || kb ? emit(p, I_ADD_VC, t, a, b) : emit(p, I_ADD_VV, t, a, b);
    case KP_OP_MUL:
        return ka || kb ? emit(p, I_MUL_VC, t, a, b) : emit(p, I_MUL_VV, t, a, b);
    case KP_OP_SUB:
        return emit(p, ka ? I_SUB_CV : kb ? I_SUB_VC : I_SUB_VV, t, a, b);
    case KP_OP_DIV:
        return emit(p, ka ? I_DIV_CV : kb ? I_DIV_VC : I_DIV_VV, t, a, b);
    default: /* KP_OP_POW */
        if (kb)
            return emit_pow_const(p, a, b);
        return emit(p, ka ? I_POW_CV : I_POW_VV, t, a, b);
    }
}

/* Validates e and fills cx: the backward pass sees children before their
   parent, so sizes, constness, folded values and buffer needs come out in
   one sweep. */
static int analyse(cctx_t *cx, const kp_expr_t *e)
{
    cx->e = e;
    if (e->len < 1 || e->len > KP_EXPR_MAX_LEN || e->nconst < 0 ||
        e->nconst > KP_EXPR_MAX_CONSTS)
        return KP_EINPUT;
    int nf = 0;
    for (int j = 0; j < e->nconst; j++) {
        if (e->c[j].den < 0)
            return KP_EINPUT;
        cx->ford[j] = e->c[j].den == 0 ? nf++ : -1;
    }
    cx->nfree = nf;
    int nc = 0;
    for (int i = 0; i < e->len; i++) {
        int t = e->tok[i];
        if (t == KP_TOK_CONST) {
            if (nc >= e->nconst)
                return KP_EINPUT;
            cx->kidx[i] = nc++;
        } else if (t >= KP_OP_COUNT && t < KP_TOK_VAR) {
            return KP_EINPUT;
        } else if (t >= KP_TOK_VAR && t - KP_TOK_VAR >= KP_MAX_VARS) {
            return KP_EINPUT;
        }
    }
    int st[KP_EXPR_MAX_LEN], sp = 0;
    for (int i = e->len - 1; i >= 0; i--) {
        int t = e->tok[i];
        int ar = kp_tok_arity((kp_tok_t)t);
        if (sp < ar)
            return KP_EINPUT;
        if (t == KP_TOK_CONST) {
            const kp_const_t *k = &e->c[cx->kidx[i]];
            cx->size[i] = 1;
            cx->isc[i] = 1;
            cx->cv[i] = k->value;
            cx->dep[i] = k->den == 0 ? UINT64_C(1) << cx->ford[cx->kidx[i]] : 0;
            cx->need[i] = 0;
        } else if (t >= KP_TOK_VAR) {
            cx->size[i] = 1;
            cx->isc[i] = 0;
            cx->dep[i] = 0;
            cx->need[i] = 0;
        } else if (ar == 0) {
            cx->size[i] = 1;
            cx->isc[i] = 1;
            cx->cv[i] = kp_op_apply(t, 0.0, 0.0);
            cx->dep[i] = 0;
            cx->need[i] = 0;
        } else if (ar == 1) {
            int a = st[--sp];
            cx->size[i] = 1 + cx->size[a];
            cx->isc[i] = cx->isc[a];
            if (cx->isc[i])
                cx->cv[i] = kp_op_apply(t, cx->cv[a], 0.0);
            cx->dep[i] = cx->dep[a];
            cx->need[i] = cx->need[a] > 1 ? cx->need[a] : 1;
        } else {
            int a = st[--sp], b = st[--sp];
            cx->size[i] = 1 + cx->size[a] + cx->size[b];
            cx->isc[i] = cx->isc[a] && cx->isc[b];
            if (cx->isc[i])
                cx->cv[i] = kp_op_apply(t, cx->cv[a], cx->cv[b]);
            cx->dep[i] = cx->dep[a] | cx->dep[b];
            int la = cx->need[a], lb = cx->need[b];
            int n = la == lb ? la + 1 : la > lb ? la : lb;
            cx->need[i] = n > 1 ? n : 1;
        }
        st[sp++] = i;
    }
    if (sp != 1)
        return KP_EINPUT;
    return KP_OK;
}

/* Compiles e into p. In plain mode the root instruction writes straight to
   REG_OUT when to_out is set. */
static int compile(prog_t *p, cctx_t *cx, const kp_expr_t *e, int tape,
                   int to_out)
{
    int rc = analyse(cx, e);
    if (rc != KP_OK)
        return rc;
    p->nins = p->nslots = p->nvar = p->err = 0;
    p->tape = tape;
    memset(p->ref, 0, sizeof p->ref);
    p->root = gen(p, cx, 0);
    if (p->err)
        return KP_EINTERNAL;
    if (to_out && !tape && p->root.kind == OPD_REG && is_slot(p->root.reg)) {
        p->ins[p->nins - 1].dst = REG_OUT;
        p->root.reg = REG_OUT;
    }
    return KP_OK;
}

/* d(op(a, b)) from the tangents ta, tb of the operands and the value r.
   Zero tangents contribute nothing even where the partial derivative is
   infinite or NaN (a constant factor stays a constant). Used for folded
   constant subtrees; the rules are those of jac_terms. */
static double dual_rule(int op, double a, double b, double r, double ta,
                        double tb)
{
    double t = 0.0;
    switch (op) {
    case KP_OP_ADD:
        return ta + tb;
    case KP_OP_SUB:
        return ta - tb;
    case KP_OP_MUL:
        if (ta != 0.0)
            t += ta * b;
        if (tb != 0.0)
            t += a * tb;
        return t;
    case KP_OP_DIV:
        if (ta != 0.0)
            t += ta / b;
        if (tb != 0.0)
            t -= r * tb / b;
        return t;
    case KP_OP_POW:
        if (ta != 0.0 && b != 0.0) /* x**0 is flat even where x**-1 is not */
            t += b * pow(a, b - 1.0) * ta;
        if (tb != 0.0 && r != 0.0) /* 0**b is flat in b for b > 0 */
            t += r * log(a) * tb;
        return t;
    case KP_OP_NEG:
        return -ta;
    default:
        break;
    }
    if (ta == 0.0)
        return 0.0;
    switch (op) {
    case KP_OP_SQRT:
        return 0.5 * ta / r;
    case KP_OP_EXP:
        return r * ta;
    case KP_OP_LOG:
        return ta / a;
    case KP_OP_SIN:
        return cos(a) * ta;
    case KP_OP_COS:
        return -sin(a) * ta;
    case KP_OP_TAN:
        return (1.0 + r * r) * ta;
    case KP_OP_ASIN:
        return ta / sqrt((1.0 - a) * (1.0 + a));
    case KP_OP_ACOS:
        return -ta / sqrt((1.0 - a) * (1.0 + a));
    case KP_OP_ATAN:
        return ta / (1.0 + a * a);
    case KP_OP_SINH:
        return cosh(a) * ta;
    case KP_OP_COSH:
        return sinh(a) * ta;
    case KP_OP_TANH:
        return ta / (cosh(a) * cosh(a));
    case KP_OP_ABS:
        return a > 0 ? ta : a < 0 ? -ta : 0.0;
    default:
        return 0.0;
    }
}

/* Value and derivative w.r.t. free constant k of the constant subtree at
   pos, with the same kp_op_apply calls that folded it. */
static void fold_dual(const cctx_t *cx, int pos, int k, double *v, double *t)
{
    const kp_expr_t *e = cx->e;
    int tk = e->tok[pos];
    if (tk == KP_TOK_CONST) {
        int j = cx->kidx[pos];
        *v = e->c[j].value;
        *t = cx->ford[j] == k ? 1.0 : 0.0;
        return;
    }
    int ar = kp_tok_arity((kp_tok_t)tk);
    double a = 0, ta = 0, b = 0, tb = 0;
    if (ar >= 1)
        fold_dual(cx, pos + 1, k, &a, &ta);
    if (ar == 2)
        fold_dual(cx, pos + 1 + cx->size[pos + 1], k, &b, &tb);
    *v = kp_op_apply(tk, a, b);
    *t = ar ? dual_rule(tk, a, b, *v, ta, tb) : 0.0;
}

/* ------------------------------------------------------------------ */
/* Kernels                                                             */

/* Jacobian: one instruction whose partial derivatives need buffers; d[x]
   is the buffer (in units of a block) for the partial w.r.t. term x, or
   -1. Terms: 0 is the vector operand a, 1 the operand b or the constant. */
typedef struct {
    uint8_t code, op;
    uint16_t r, a, b;
    int32_t d[2];
    double c;
} pins_t;

/* Jacobian: one tangent operation, dst = sum_x t[x] * p[x] over nterm
   terms. A NULL t is the scalar ts; a NULL p is register preg (when >= 0,
   resolved per block: it may be an input column) or else the scalar ps.
   pmask: the term also vanishes where p == 0 (partials that are defined
   as 0 where the derivative does not exist). */
typedef struct {
    double *dst;
    const double *t[2], *p[2];
    double ts[2], ps[2];
    int preg[2];
    int nterm;
    uint8_t pmask[2];
} top_t;

typedef void (*run_fn)(const ins_t *ins, int nins, double *const *ptr,
                       size_t n8);
typedef void (*loss_fn)(double *acc, double *wacc, const double *p,
                        const double *y, const double *w, size_t n);
typedef void (*part_fn)(const pins_t *pl, int np, double *const *ptr,
                        double *D, size_t jb, size_t n8);
typedef void (*tang_fn)(const top_t *ops, int nops, double *const *ptr,
                        size_t n8);

#define KP_EVAL_KERNEL 1
#include "kp_eval.c"
#undef KP_EVAL_KERNEL
#if KP_EVAL_X86
#define KP_EVAL_KERNEL 2
#include "kp_eval.c"
#undef KP_EVAL_KERNEL
#define KP_EVAL_KERNEL 3
#include "kp_eval.c"
#undef KP_EVAL_KERNEL
#endif

typedef struct {
    run_fn run;
    loss_fn loss;
    part_fn part;
    tang_fn tang;
} kern_t;

int kp_eval_isa_available(int isa)
{
    switch (isa) {
    case KP_EVAL_ISA_AUTO:
    case KP_EVAL_ISA_GENERIC:
        return 1;
#if KP_EVAL_X86
    case KP_EVAL_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case KP_EVAL_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    default:
        return 0;
    }
}

int kp_eval_isa_best(void)
{
    if (kp_eval_isa_available(KP_EVAL_ISA_AVX512))
        return KP_EVAL_ISA_AVX512;
    if (kp_eval_isa_available(KP_EVAL_ISA_AVX2))
        return KP_EVAL_ISA_AVX2;
    return KP_EVAL_ISA_GENERIC;
}

const char *kp_eval_isa_name(int isa)
{
    switch (isa) {
    case KP_EVAL_ISA_AUTO:
        return "auto";
    case KP_EVAL_ISA_GENERIC:
        return KP_EVAL_X86 ? "generic (sse2)" : "generic";
    case KP_EVAL_ISA_AVX2:
        return "avx2";
    case KP_EVAL_ISA_AVX512:
        return "avx512f";
    default:
        return "?";
    }
}

static kern_t kern_get(int isa)
{
    kern_t k = {run_generic, loss_generic, partials_generic,
                tangents_generic};
    if (isa == KP_EVAL_ISA_AUTO)
        isa = kp_eval_isa_best();
#if KP_EVAL_X86
    if (isa == KP_EVAL_ISA_AVX2) {
        k = (kern_t){run_avx2, loss_avx2, partials_avx2, tangents_avx2};
    } else if (isa == KP_EVAL_ISA_AVX512) {
        k = (kern_t){run_avx512, loss_avx512, partials_avx512,
                     tangents_avx512};
    }
#endif
    return k;
}

/* ------------------------------------------------------------------ */
/* Drivers                                                             */

static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Rows per block when each block needs nbuf buffers besides the 8-row
   tail buffers: as many as fit in the stack budget, a multiple of 8. */
static size_t block_rows(int nbuf, int ntail)
{
    size_t avail = WS_DOUBLES - (size_t)ntail * 8;
    size_t b = nbuf > 0 ? avail / (size_t)nbuf : BLK;
    if (b > BLK)
        b = BLK;
    return b & ~(size_t)7;
}

/* Points the variable registers at rows [r0, r0 + n) of the columns, or for
   a tail (n < 8) at zero-padded copies in tail[j*8 ...]. */
static void set_vars(double **ptr, const prog_t *p, const double *const *cols,
                     size_t r0, size_t n, double *tail)
{
    for (int j = 0; j < p->nvar; j++) {
        const double *col = cols[p->varmap[j]] + r0;
        if (n % 8 == 0) {
            ptr[REG_VAR0 + j] = (double *)(uintptr_t)col;
        } else {
            double *t = tail + (size_t)j * 8;
            memset(t, 0, 8 * sizeof *t);
            memcpy(t, col, n * sizeof *t);
            ptr[REG_VAR0 + j] = t;
        }
    }
}

static int eval_isa(double *out, const kp_expr_t *e, const double *const *cols,
                    size_t nrows, int isa)
{
    prog_t p;
    cctx_t cx;
    int rc = compile(&p, &cx, e, 0, 1);
    if (rc != KP_OK)
        return rc;
    if (p.root.kind == OPD_CONST) {
        for (size_t i = 0; i < nrows; i++)
            out[i] = p.root.c;
        return KP_OK;
    }
    if (nrows > 0 && !is_slot(p.root.reg) && p.root.reg != REG_OUT) {
        memcpy(out, cols[p.varmap[p.root.reg - REG_VAR0]], nrows * sizeof *out);
        return KP_OK;
    }
    if (nrows == 0)
        return KP_OK;
    kern_t k = kern_get(isa);
    double *ptr[NREGS];
    _Alignas(64) double ws[WS_DOUBLES];
    size_t blk = block_rows(p.nslots, p.nvar + 1);
    for (int s = 0; s < p.nslots; s++)
        ptr[s] = ws + (size_t)s * blk;
    double *tail = ws + (size_t)p.nslots * blk;
    double *otail = tail + (size_t)p.nvar * 8;
    size_t nfull = nrows & ~(size_t)7;
    for (size_t r0 = 0; r0 < nfull; r0 += blk) {
        size_t n = nfull - r0 < blk ? nfull - r0 : blk;
        set_vars(ptr, &p, cols, r0, n, tail);
        ptr[REG_OUT] = out + r0;
        k.run(p.ins, p.nins, ptr, n);
    }
    if (nfull < nrows) {
        size_t n = nrows - nfull;
        set_vars(ptr, &p, cols, nfull, n, tail);
        ptr[REG_OUT] = otail;
        k.run(p.ins, p.nins, ptr, 8);
        memcpy(out + nfull, otail, n * sizeof *out);
    }
    return KP_OK;
}

int kp_eval(double *out, const kp_expr_t *e, const double *const *cols,
            size_t nrows)
{
    return eval_isa(out, e, cols, nrows, KP_EVAL_ISA_AUTO);
}

int kp_eval_with_isa(double *out, const kp_expr_t *e,
                     const double *const *cols, size_t nrows, int isa)
{
    if (!kp_eval_isa_available(isa))
        return KP_EINPUT;
    return eval_isa(out, e, cols, nrows, isa);
}

/* Sum of 8 lanes in a fixed tree order. */
static double sum8(const double *a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

double kp_eval_mse_rows(const kp_expr_t *e, const double *const *cols,
                        const double *y, const double *w, const size_t *idx,
                        size_t n)
{
    prog_t p;
    cctx_t cx;
    if (compile(&p, &cx, e, 0, 0) != KP_OK)
        return NAN;
    if (n == 0)
        return 0.0;
    kern_t k = kern_get(KP_EVAL_ISA_AUTO);
    double *ptr[NREGS];
    _Alignas(64) double ws[WS_DOUBLES];
    /* Buffers: slots, then (row list only) gathered variables, y and w,
       then a constant-prediction buffer, then 8-row tails. */
    int gather = idx != NULL;
    int ngb = gather ? p.nvar + 2 : 0;
    size_t blk = block_rows(p.nslots + ngb + 1, p.nvar);
    for (int s = 0; s < p.nslots; s++)
        ptr[s] = ws + (size_t)s * blk;
    double *gb = ws + (size_t)p.nslots * blk;
    double *cbuf = gb + (size_t)ngb * blk;
    double *tail = cbuf + blk;
    if (p.root.kind == OPD_CONST)
        for (size_t i = 0; i < blk; i++)
            cbuf[i] = p.root.c;
    double acc[8] = {0}, wacc[8] = {0};
    for (size_t r0 = 0; r0 < n; r0 += blk) {
        size_t m = n - r0 < blk ? n - r0 : blk;
        size_t m8 = round8(m);
        const double *yb, *wb = NULL;
        if (gather) {
            /* Copy the listed rows; zero padding keeps the last vector
               defined. */
            for (int j = 0; j < p.nvar; j++) {
                const double *col = cols[p.varmap[j]];
                double *g = gb + (size_t)j * blk;
                for (size_t i = 0; i < m; i++)
                    g[i] = col[idx[r0 + i]];
                for (size_t i = m; i < m8; i++)
                    g[i] = 0.0;
                ptr[REG_VAR0 + j] = g;
            }
            double *gy = gb + (size_t)p.nvar * blk;
            double *gw = gy + blk;
            for (size_t i = 0; i < m; i++)
                gy[i] = y[idx[r0 + i]];
            if (w)
                for (size_t i = 0; i < m; i++)
                    gw[i] = w[idx[r0 + i]];
            yb = gy;
            wb = w ? gw : NULL;
            if (p.nins)
                k.run(p.ins, p.nins, ptr, m8);
        } else {
            /* A contiguous block: whole vectors read the columns in place,
               the last m % 8 rows go through padded copies. */
            size_t mf = m & ~(size_t)7;
            yb = y + r0;
            wb = w ? w + r0 : NULL;
            if (mf) {
                set_vars(ptr, &p, cols, r0, mf, tail);
                if (p.nins)
                    k.run(p.ins, p.nins, ptr, mf);
            }
            if (mf < m) {
                /* Run the tail into the block buffers after the full part,
                   at offset mf, by shifting the slot pointers. */
                double *save[MAX_SLOTS];
                for (int s = 0; s < p.nslots; s++) {
                    save[s] = ptr[s];
                    ptr[s] += mf;
                }
                set_vars(ptr, &p, cols, r0 + mf, m - mf, tail);
                if (p.nins)
                    k.run(p.ins, p.nins, ptr, 8);
                for (int s = 0; s < p.nslots; s++)
                    ptr[s] = save[s];
            }
            /* The loss reads only the first m rows of y, w and the
               predictions; a variable root is read from its column. */
        }
        const double *pred;
        if (p.root.kind == OPD_CONST)
            pred = cbuf;
        else if (is_slot(p.root.reg))
            pred = ptr[p.root.reg];
        else if (gather)
            pred = ptr[p.root.reg];
        else
            pred = cols[p.varmap[p.root.reg - REG_VAR0]] + r0;
        k.loss(acc, wacc, pred, yb, wb, m);
        if (!isfinite(sum8(acc)))
            return INFINITY;
    }
    double s = sum8(acc);
    double d = w ? sum8(wacc) : (double)n;
    double r = s / d;
    return isfinite(r) ? r : INFINITY;
}

double kp_eval_mse(const kp_expr_t *e, const double *const *cols,
                   const double *y, size_t nrows)
{
    return kp_eval_mse_rows(e, cols, y, NULL, NULL, nrows);
}

void kp_eval_mse_many(double *loss, const kp_expr_t *exprs, size_t n,
                      const double *const *cols, const double *y,
                      size_t nrows, int nthreads)
{
#ifdef _OPENMP
    if (nthreads <= 0)
        nthreads = omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if (n > 1)
    for (size_t j = 0; j < n; j++)
        loss[j] = kp_eval_mse(&exprs[j], cols, y, nrows);
#else
    (void)nthreads;
    for (size_t j = 0; j < n; j++)
        loss[j] = kp_eval_mse(&exprs[j], cols, y, nrows);
#endif
}

/* ------------------------------------------------------------------ */
/* Jacobian                                                            */

/* Forward mode over the tape (one buffer per instruction): per block, run
   the values with the usual kernels, then fill the buffers of the local
   partial derivatives that need transcendental functions or divisions
   (once, whatever the number of constants), then for each free constant k
   propagate the tangents through the instructions that depend on k, with
   multiply-adds only. Everything is lane-wise, so a row's derivatives do not
   depend on the block either. */

#define JWS_DOUBLES 12288 /* stack budget for Jacobian block buffers: 96 KB */
#define JMAX_OPS 256      /* tangent operations kept on the stack */
#define JMIN_BLK 32       /* below this many rows per block, use the heap */

enum { PK_SCALAR, PK_REG, PK_BUF };

/* One term of an instruction's tangent, p * t: t is the tangent of an
   operand (instruction src, or the constant operand when src < 0), p the
   partial derivative of the result w.r.t. that operand. */
typedef struct {
    uint64_t tdep; /* constants t depends on; 0: no term */
    int src;
    int kind;      /* PK_*: p is ps, the register preg, or a buffer */
    int preg;
    int pmask;
    double ps;
} jterm_t;

static void jt_scalar(jterm_t *t, double v)
{
    t->kind = PK_SCALAR;
    t->ps = v;
}

static void jt_reg(jterm_t *t, int reg)
{
    t->kind = PK_REG;
    t->preg = reg;
}

static void jt_buf(jterm_t *t, int pmask)
{
    t->kind = PK_BUF;
    t->pmask = pmask;
}

/* The two terms of instruction j (term 0: the vector operand a; term 1: the
   operand b or the constant). With r the result, the partials are
   a+b: 1, 1; a-b: 1, -1; a*b: b, a; a/b: 1/b, -r * (1/b); a**b: b a**(b-1) and
   r log a, each 0 where b == 0 resp. r == 0 (x**0 is flat in x even where
   x**-1 is not, 0**b is flat in b) and masked there; -a: -1; |a|: the sign
   of a (0 at 0, masked); sqrt: 0.5/r; exp: r; log: 1/a; sin: cos a;
   cos: -sin a; tan: 1 + r^2; asin, acos: +-1/sqrt((1 - a)(1 + a)); atan:
   1/(1 + a^2); sinh: cosh a; cosh: sinh a; tanh: 1/cosh(a)^2. These are
   the rules of dual_rule, vectorised, but for asin, acos and tanh, whose
   forms here do not lose the derivative to cancellation near |a| = 1 or
   for large |a|. K(partials) computes the PK_BUF ones. */
static void jac_terms(const prog_t *p, const cctx_t *cx, int j, jterm_t t[2])
{
    const ins_t *in = &p->ins[j];
    memset(t, 0, 2 * sizeof *t);
    t[0].src = in->a;
    t[0].tdep = is_slot(in->a) ? p->dep[in->a] : 0;
    t[1].src = -1;
    switch (in->code) {
    case I_ADD_VV:
    case I_SUB_VV:
    case I_MUL_VV:
    case I_DIV_VV:
    case I_POW_VV:
        t[1].src = in->b;
        t[1].tdep = is_slot(in->b) ? p->dep[in->b] : 0;
        break;
    case I_ADD_VC:
    case I_SUB_VC:
    case I_SUB_CV:
    case I_MUL_VC:
    case I_DIV_VC:
    case I_DIV_CV:
    case I_POW_VC:
    case I_POW_CV:
        t[1].tdep = p->cpos[j] >= 0 ? cx->dep[p->cpos[j]] : 0;
        break;
    default:
        break;
    }
    switch (in->code) {
    case I_ADD_VV:
    case I_ADD_VC:
        jt_scalar(&t[0], 1.0);
        jt_scalar(&t[1], 1.0);
        break;
    case I_SUB_VV:
    case I_SUB_VC:
        jt_scalar(&t[0], 1.0);
        jt_scalar(&t[1], -1.0);
        break;
    case I_SUB_CV:
        jt_scalar(&t[0], -1.0);
        jt_scalar(&t[1], 1.0);
        break;
    case I_MUL_VV:
        jt_reg(&t[0], in->b);
        jt_reg(&t[1], in->a);
        break;
    case I_MUL_VC:
        jt_scalar(&t[0], in->c);
        jt_reg(&t[1], in->a);
        break;
    case I_DIV_VC:
        jt_scalar(&t[0], 1.0 / in->c);
        jt_buf(&t[1], 0);
        break;
    case I_DIV_VV:
    case I_DIV_CV:
        jt_buf(&t[0], 0);
        jt_buf(&t[1], 0);
        break;
    case I_POW_VV:
    case I_POW_VC:
    case I_POW_CV:
        jt_buf(&t[0], 1);
        jt_buf(&t[1], 1);
        break;
    case I_POW0: /* constant 1 */
        t[0].tdep = t[1].tdep = 0;
        break;
    case I_NEG:
        jt_scalar(&t[0], -1.0);
        break;
    case I_ABS:
        jt_buf(&t[0], 1);
        break;
    case I_MAP:
        if (in->op == KP_OP_EXP)
            jt_reg(&t[0], j); /* slot j holds the result */
        else
            jt_buf(&t[0], 0);
        break;
    default: /* I_POWHALF */
        jt_buf(&t[0], 0);
        break;
    }
}

/* The Jacobian plan: the partial-derivative instructions and the tangent
   operations (constant by constant), with the buffers they use. */
typedef struct {
    int nd, ndb, np, nops;
    int16_t tix[MAX_INS];    /* tangent buffer of instruction j, or -1 */
    int16_t dix[MAX_INS][2]; /* partial buffers of its terms, or -1 */
} jplan_t;

static void jac_count(jplan_t *pl, const prog_t *p, const cctx_t *cx)
{
    pl->nd = pl->ndb = pl->np = pl->nops = 0;
    for (int j = 0; j < p->nins; j++) {
        pl->tix[j] = pl->dix[j][0] = pl->dix[j][1] = -1;
        if (!p->dep[j])
            continue;
        pl->tix[j] = (int16_t)pl->nd++;
        pl->nops += __builtin_popcountll(p->dep[j]);
        jterm_t t[2];
        jac_terms(p, cx, j, t);
        int used = 0;
        for (int x = 0; x < 2; x++)
            if (t[x].tdep && t[x].kind == PK_BUF) {
                pl->dix[j][x] = (int16_t)pl->ndb++;
                used = 1;
            }
        pl->np += used;
    }
}

/* Fills pins and ops for buffers T (tangents), D (partials), R (the
   root's tangent for each constant), each jb rows per buffer. */
static void jac_build(pins_t *pins, top_t *ops, const jplan_t *pl,
                      const prog_t *p, const cctx_t *cx, double *T, double *D,
                      double *R, size_t jb)
{
    int np = 0, no = 0, root = p->root.reg;
    for (int j = 0; j < p->nins; j++) {
        if (pl->dix[j][0] < 0 && pl->dix[j][1] < 0)
            continue;
        const ins_t *in = &p->ins[j];
        pins_t *q = &pins[np++];
        q->code = in->code;
        q->op = in->op;
        q->r = (uint16_t)j;
        q->a = in->a;
        q->b = in->b;
        q->c = in->c;
        q->d[0] = pl->dix[j][0];
        q->d[1] = pl->dix[j][1];
    }
    for (int k = 0; k < cx->nfree; k++)
        for (int j = 0; j < p->nins; j++) {
            if (!(p->dep[j] >> k & 1))
                continue;
            jterm_t t[2];
            jac_terms(p, cx, j, t);
            top_t *o = &ops[no++];
            memset(o, 0, sizeof *o);
            o->dst = j == root ? R + (size_t)k * jb : T + (size_t)pl->tix[j] * jb;
            int n = 0;
            for (int x = 0; x < 2; x++) {
                if (!(t[x].tdep >> k & 1))
                    continue;
                if (t[x].src >= 0) {
                    o->t[n] = T + (size_t)pl->tix[t[x].src] * jb;
                } else {
                    double v;
                    fold_dual(cx, p->cpos[j], k, &v, &o->ts[n]);
                }
                o->preg[n] = -1;
                if (t[x].kind == PK_SCALAR)
                    o->ps[n] = t[x].ps;
                else if (t[x].kind == PK_REG)
                    o->preg[n] = t[x].preg;
                else
                    o->p[n] = D + (size_t)pl->dix[j][x] * jb;
                o->pmask[n] = (uint8_t)t[x].pmask;
                n++;
            }
            o->nterm = n;
        }
}

static int jacobian_isa(double *out, double *jac, const kp_expr_t *e,
                        const double *const *cols, size_t nrows, int isa)
{
    prog_t p;
    cctx_t cx;
    int rc = compile(&p, &cx, e, 1, 0);
    if (rc != KP_OK)
        return rc;
    int nf = cx.nfree, ni = p.nins;

    if (p.root.kind == OPD_CONST || !is_slot(p.root.reg)) {
        /* A leaf or folded root: no instructions to run. */
        for (int k = 0; k < nf; k++) {
            double v = 0, t = 0;
            if (p.root.kind == OPD_CONST && (p.root.dep >> k & 1))
                fold_dual(&cx, p.root.pos, k, &v, &t);
            for (size_t i = 0; i < nrows; i++)
                jac[(size_t)k * nrows + i] = t;
        }
        if (p.root.kind == OPD_CONST)
            for (size_t i = 0; i < nrows; i++)
                out[i] = p.root.c;
        else
            memcpy(out, cols[p.varmap[p.root.reg - REG_VAR0]],
                   nrows * sizeof *out);
        return KP_OK;
    }
    if (nrows == 0)
        return KP_OK;

    jplan_t pl;
    jac_count(&pl, &p, &cx);
    /* Per row: values, tangents, partials, root tangents. */
    size_t perrow = (size_t)ni + (size_t)pl.nd + (size_t)pl.ndb + (size_t)nf;
    size_t fixed = (size_t)p.nvar * 8;
    size_t jb = fixed < JWS_DOUBLES ? (JWS_DOUBLES - fixed) / perrow : 0;
    jb = jb > BLK ? BLK : jb & ~(size_t)7;
    _Alignas(64) double stk[JWS_DOUBLES];
    top_t ops_stk[JMAX_OPS];
    pins_t pins_stk[JMAX_OPS / 2];
    double *ws = stk;
    top_t *ops = ops_stk;
    pins_t *pins = pins_stk;
    void *heap = NULL;
    if (jb < JMIN_BLK || pl.nops > JMAX_OPS || pl.np > JMAX_OPS / 2) {
        /* Large expressions: one allocation for everything. */
        if (jb < JMIN_BLK)
            jb = 2 * JMIN_BLK;
        size_t nws = fixed + jb * perrow;
        size_t bytes = nws * sizeof(double) + (size_t)pl.nops * sizeof(top_t) +
                       (size_t)pl.np * sizeof(pins_t);
        heap = malloc(bytes);
        if (!heap)
            return KP_ENOMEM;
        ws = heap;
        ops = (top_t *)(ws + nws);
        pins = (pins_t *)(ops + pl.nops);
    }
    double *tail = ws;
    double *V = tail + fixed;
    double *T = V + (size_t)ni * jb;
    double *D = T + (size_t)pl.nd * jb;
    double *R = D + (size_t)pl.ndb * jb;
    jac_build(pins, ops, &pl, &p, &cx, T, D, R, jb);

    double *ptr[NREGS];
    for (int j = 0; j < ni; j++)
        ptr[j] = V + (size_t)j * jb;
    kern_t kern = kern_get(isa);
    int root = p.root.reg;
    for (size_t r0 = 0; r0 < nrows;) {
        /* Whole vectors read the columns in place; the last nrows % 8 rows
           go through zero-padded copies. */
        size_t n = nrows - r0, n8 = 8;
        if (n >= 8) {
            n = n > jb ? jb : n & ~(size_t)7;
            n8 = n;
        }
        set_vars(ptr, &p, cols, r0, n, tail);
        kern.run(p.ins, ni, ptr, n8);
        if (pl.np)
            kern.part(pins, pl.np, ptr, D, jb, n8);
        if (pl.nops)
            kern.tang(ops, pl.nops, ptr, n8);
        memcpy(out + r0, ptr[root], n * sizeof *out);
        for (int k = 0; k < nf; k++) {
            double *jk = jac + (size_t)k * nrows + r0;
            if (p.dep[root] >> k & 1)
                memcpy(jk, R + (size_t)k * jb, n * sizeof *jk);
            else
                memset(jk, 0, n * sizeof *jk);
        }
        r0 += n;
    }
    free(heap);
    return KP_OK;
}

int kp_eval_jacobian(double *out, double *jac, const kp_expr_t *e,
                     const double *const *cols, size_t nrows)
{
    return jacobian_isa(out, jac, e, cols, nrows, KP_EVAL_ISA_AUTO);
}

int kp_eval_jacobian_with_isa(double *out, double *jac, const kp_expr_t *e,
                              const double *const *cols, size_t nrows, int isa)
{
    if (!kp_eval_isa_available(isa))
        return KP_EINPUT;
    return jacobian_isa(out, jac, e, cols, nrows, isa);
}

#else /* KP_EVAL_KERNEL: one instance of the kernels */

/* The kernels pass 64-byte vectors between static functions that are all
   inlined into run/loss, so the warnings about their calling convention on
   narrower targets do not concern us. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

#if KP_EVAL_KERNEL == 1
#define K(name) name##_generic
#define KTGT
#elif KP_EVAL_KERNEL == 2
#define K(name) name##_avx2
#define KTGT __attribute__((target("avx2,fma")))
#else
#define K(name) name##_avx512
#define KTGT __attribute__((target("avx512f,avx2,fma,prefer-vector-width=512")))
#endif

/* One SLEEF function over 8 lanes, in place. The AVX2 and AVX-512
   prototypes are declared here because <sleef.h> only shows them when the
   whole file is compiled for those targets. Vectors travel by pointer
   (and loads/stores are macros) so that no 64-byte vector crosses a call
   boundary on the narrower targets. */
#if KP_EVAL_KERNEL == 3
#define KFN1(fn, acc)                                                        \
    extern __m512d Sleef_##fn##d8_##acc##avx512f(__m512d);                   \
    static inline KTGT void K(v##fn)(v8d *x)                                 \
    {                                                                        \
        *x = (v8d)Sleef_##fn##d8_##acc##avx512f((__m512d)*x);                \
    }
#define KFN2(fn, acc)                                                        \
    extern __m512d Sleef_##fn##d8_##acc##avx512f(__m512d, __m512d);          \
    static inline KTGT void K(v##fn)(v8d *x, const v8d *y)                   \
    {                                                                        \
        *x = (v8d)Sleef_##fn##d8_##acc##avx512f((__m512d)*x, (__m512d)*y);   \
    }
#elif KP_EVAL_KERNEL == 2
#define KFN1(fn, acc)                                                        \
    extern __m256d Sleef_##fn##d4_##acc##avx2(__m256d);                      \
    static inline KTGT void K(v##fn)(v8d *x)                                 \
    {                                                                        \
        __m256d h[2];                                                        \
        memcpy(h, x, sizeof h);                                              \
        h[0] = Sleef_##fn##d4_##acc##avx2(h[0]);                             \
        h[1] = Sleef_##fn##d4_##acc##avx2(h[1]);                             \
        memcpy(x, h, sizeof h);                                              \
    }
#define KFN2(fn, acc)                                                        \
    extern __m256d Sleef_##fn##d4_##acc##avx2(__m256d, __m256d);             \
    static inline KTGT void K(v##fn)(v8d *x, const v8d *y)                   \
    {                                                                        \
        __m256d h[2], g[2];                                                  \
        memcpy(h, x, sizeof h);                                              \
        memcpy(g, y, sizeof g);                                              \
        h[0] = Sleef_##fn##d4_##acc##avx2(h[0], g[0]);                       \
        h[1] = Sleef_##fn##d4_##acc##avx2(h[1], g[1]);                       \
        memcpy(x, h, sizeof h);                                              \
    }
#elif KP_EVAL_X86
#define KFN1(fn, acc)                                                        \
    static inline void K(v##fn)(v8d *x)                                      \
    {                                                                        \
        __m128d h[4];                                                        \
        memcpy(h, x, sizeof h);                                              \
        for (int l = 0; l < 4; l++)                                          \
            h[l] = Sleef_##fn##d2_##acc##sse2(h[l]);                         \
        memcpy(x, h, sizeof h);                                              \
    }
#define KFN2(fn, acc)                                                        \
    static inline void K(v##fn)(v8d *x, const v8d *y)                        \
    {                                                                        \
        __m128d h[4], g[4];                                                  \
        memcpy(h, x, sizeof h);                                              \
        memcpy(g, y, sizeof g);                                              \
        for (int l = 0; l < 4; l++)                                          \
            h[l] = Sleef_##fn##d2_##acc##sse2(h[l], g[l]);                   \
        memcpy(x, h, sizeof h);                                              \
    }
#else /* not x86-64: the C library, lane by lane */
#define KFN1(fn, acc)                                                        \
    static inline void K(v##fn)(v8d *x)                                      \
    {                                                                        \
        for (int l = 0; l < 8; l++)                                          \
            (*x)[l] = fn((*x)[l]);                                           \
    }
#define KFN2(fn, acc)                                                        \
    static inline void K(v##fn)(v8d *x, const v8d *y)                        \
    {                                                                        \
        for (int l = 0; l < 8; l++)                                          \
            (*x)[l] = fn((*x)[l], (*y)[l]);                                  \
    }
#endif

/* Square roots use the hardware instruction, which is correctly rounded
   (SLEEF's SSE2 sqrt is not, at the top of the range). */
#if KP_EVAL_KERNEL == 3
static inline KTGT void K(vsqrt)(v8d *x)
{
    *x = (v8d)_mm512_sqrt_pd((__m512d)*x);
}
#elif KP_EVAL_KERNEL == 2
static inline KTGT void K(vsqrt)(v8d *x)
{
    __m256d h[2];
    memcpy(h, x, sizeof h);
    h[0] = _mm256_sqrt_pd(h[0]);
    h[1] = _mm256_sqrt_pd(h[1]);
    memcpy(x, h, sizeof h);
}
#elif KP_EVAL_X86
static inline void K(vsqrt)(v8d *x)
{
    __m128d h[4];
    memcpy(h, x, sizeof h);
    for (int l = 0; l < 4; l++)
        h[l] = _mm_sqrt_pd(h[l]);
    memcpy(x, h, sizeof h);
}
#else
KFN1(sqrt, u05)
#endif
KFN1(exp, u10)
KFN1(log, u10)
KFN1(sin, u10)
KFN1(cos, u10)
KFN1(tan, u10)
KFN1(asin, u10)
KFN1(acos, u10)
KFN1(atan, u10)
KFN1(sinh, u10)
KFN1(cosh, u10)
KFN1(tanh, u10)
KFN2(pow, u10)
#undef KFN1
#undef KFN2

#ifndef KLD
#define KLD(p) ({ v8d v_; memcpy(&v_, (p), sizeof v_); v_; })
#define KST(p, v) do { v8d w_ = (v); memcpy((p), &w_, sizeof w_); } while (0)
#define KSPLAT(c) ((v8d){(c), (c), (c), (c), (c), (c), (c), (c)})
#endif

#define KLOOP(expr)                                                          \
    for (size_t i = 0; i < n8; i += 8)                                       \
        KST(d + i, (expr))
/* y = f(x) for a unary SLEEF wrapper f. */
#define KMAP(f)                                                              \
    for (size_t i = 0; i < n8; i += 8) {                                     \
        v8d x_ = LA;                                                         \
        f(&x_);                                                              \
        KST(d + i, x_);                                                      \
    }
#define KPOW(X, Y)                                                           \
    for (size_t i = 0; i < n8; i += 8) {                                     \
        v8d x_ = (X), y_ = (Y);                                              \
        K(vpow)(&x_, &y_);                                                   \
        KST(d + i, x_);                                                      \
    }
#define LA KLD(a + i)
#define LB KLD(b + i)

/* sinh or cosh (op) in place. SLEEF overflows past |x| = 709 although the
   result is finite up to 710.47: use exp(|x|/2)^2 / 2 there, one lane at a
   time (rare). */
static inline KTGT void K(vhyp)(v8d *v, int op)
{
    v8d x = *v, r = x;
    int big = 0;
    if (op == KP_OP_SINH)
        K(vsinh)(&r);
    else
        K(vcosh)(&r);
    for (int l = 0; l < 8; l++)
        big |= fabs(x[l]) > 709.0;
    if (big)
        for (int l = 0; l < 8; l++)
            if (fabs(x[l]) > 709.0 && isfinite(x[l])) {
                double h = exp(0.5 * fabs(x[l]));
                double w = (0.5 * h) * h;
                r[l] = op == KP_OP_SINH ? copysign(w, x[l]) : w;
            }
    *v = r;
}

/* Runs the instruction list on n8 rows (a multiple of 8). */
static KTGT void K(run)(const ins_t *ins, int nins, double *const *ptr,
                        size_t n8)
{
    for (int j = 0; j < nins; j++) {
        const ins_t *in = &ins[j];
        double *d = ptr[in->dst];
        const double *a = ptr[in->a];
        const double *b = ptr[in->b];
        const v8d c = KSPLAT(in->c);
        switch (in->code) {
        case I_ADD_VV: KLOOP(LA + LB); break;
        case I_ADD_VC: KLOOP(LA + c); break;
        case I_SUB_VV: KLOOP(LA - LB); break;
        case I_SUB_VC: KLOOP(LA - c); break;
        case I_SUB_CV: KLOOP(c - LA); break;
        case I_MUL_VV: KLOOP(LA * LB); break;
        case I_MUL_VC: KLOOP(LA * c); break;
        case I_DIV_VV: KLOOP(LA / LB); break;
        case I_DIV_VC: KLOOP(LA / c); break;
        case I_DIV_CV: KLOOP(c / LA); break;
        case I_POW_VV: KPOW(LA, LB); break;
        case I_POW_VC: KPOW(LA, c); break;
        case I_POW_CV: KPOW(c, LA); break;
        case I_NEG: KLOOP(-LA); break;
        case I_POW0: KLOOP(KSPLAT(1.0)); break;
        case I_ABS: {
            const v8l m = (v8l)KSPLAT(-0.0);
            KLOOP((v8d)((v8l)LA & ~m));
            break;
        }
        case I_POWHALF: {
            /* pow(-0, .5) = +0 and pow(-inf, .5) = +inf, unlike sqrt;
               adding +0 turns -0 into +0. */
            const v8d ninf = KSPLAT(-INFINITY), pinf = KSPLAT(INFINITY);
            const v8d zero = KSPLAT(0.0);
            for (size_t i = 0; i < n8; i += 8) {
                v8d x = LA, r = x;
                v8l m = x == ninf;
                K(vsqrt)(&r);
                r = r + zero;
                KST(d + i, (v8d)(((v8l)r & ~m) | ((v8l)pinf & m)));
            }
            break;
        }
        case I_MAP:
            switch (in->op) {
            case KP_OP_SQRT: KMAP(K(vsqrt)); break;
            case KP_OP_EXP: KMAP(K(vexp)); break;
            case KP_OP_LOG: KMAP(K(vlog)); break;
            case KP_OP_SIN: KMAP(K(vsin)); break;
            case KP_OP_COS: KMAP(K(vcos)); break;
            case KP_OP_TAN: KMAP(K(vtan)); break;
            case KP_OP_ASIN: KMAP(K(vasin)); break;
            case KP_OP_ACOS: KMAP(K(vacos)); break;
            case KP_OP_ATAN: KMAP(K(vatan)); break;
            case KP_OP_SINH:
            case KP_OP_COSH:
                for (size_t i = 0; i < n8; i += 8) {
                    v8d x = LA;
                    K(vhyp)(&x, in->op);
                    KST(d + i, x);
                }
                break;
            case KP_OP_TANH: KMAP(K(vtanh)); break;
            default: KLOOP(KSPLAT(NAN)); break;
            }
            break;
        default:
            break;
        }
    }
}

/* Adds (w_i) (p_i - y_i)^2 into lane i % 8 of acc (and w_i into wacc) for
   i < n. Whole vectors first; the scalar tail only ever covers a list's
   last n % 8 rows, so each row meets the same arithmetic whatever the
   block size. */
static KTGT void K(loss)(double *acc, double *wacc, const double *p,
                         const double *y, const double *w, size_t n)
{
    size_t i = 0;
    v8d s = KLD(acc);
    if (w) {
        v8d sw = KLD(wacc);
        for (; i + 8 <= n; i += 8) {
            v8d d = KLD(p + i) - KLD(y + i);
            v8d wi = KLD(w + i);
            s += wi * (d * d);
            sw += wi;
        }
        KST(wacc, sw);
    } else {
        for (; i + 8 <= n; i += 8) {
            v8d d = KLD(p + i) - KLD(y + i);
            s += d * d;
        }
    }
    KST(acc, s);
    for (; i < n; i++) {
        double d = p[i] - y[i];
        if (w) {
            acc[i & 7] += w[i] * (d * d);
            wacc[i & 7] += w[i];
        } else {
            acc[i & 7] += d * d;
        }
    }
}

/* Keeps the lanes of x where m is set, zeroes the others. */
#define KSEL(x, m) ((v8d)((v8l)(x) & (m)))
/* dst[i] = expr over n8 rows, with A, B, R the operands and the result. */
#define PLOOP(dst, expr)                                                     \
    if (dst)                                                                 \
        for (size_t i = 0; i < n8; i += 8) {                                 \
            v8d A = LA, B = LB, R = KLD(r + i);                              \
            (void)A, (void)B, (void)R;                                       \
            KST((dst) + i, (expr));                                          \
        }
/* f(x) and pow(x, y) as expressions. */
#define KAPPLY(f, x) ({ v8d u_ = (x); f(&u_); u_; })
#define KPOW2(x, y) ({ v8d u_ = (x), w_ = (y); K(vpow)(&u_, &w_); u_; })

/* Fills the partial-derivative buffers of the Jacobian plan (see
   jac_terms for the formulas) on n8 rows. */
static KTGT void K(partials)(const pins_t *pl, int np, double *const *ptr,
                             double *D, size_t jb, size_t n8)
{
    const v8d z = KSPLAT(0.0), one = KSPLAT(1.0), half = KSPLAT(0.5);
    for (int j = 0; j < np; j++) {
        const pins_t *in = &pl[j];
        const double *a = ptr[in->a], *b = ptr[in->b], *r = ptr[in->r];
        double *d0 = in->d[0] >= 0 ? D + (size_t)in->d[0] * jb : NULL;
        double *d1 = in->d[1] >= 0 ? D + (size_t)in->d[1] * jb : NULL;
        const v8d c = KSPLAT(in->c), cm1 = KSPLAT(in->c - 1.0);
        switch (in->code) {
        case I_DIV_VV:
        case I_DIV_CV: {
            /* 1/v and -r/v = -r * (1/v), v the divisor: one division */
            const double *v = in->code == I_DIV_VV ? b : a;
            double *dr = in->code == I_DIV_VV ? d0 : d1;
            double *dq = in->code == I_DIV_VV ? d1 : d0;
            for (size_t i = 0; i < n8; i += 8) {
                v8d q = one / KLD(v + i);
                if (dr)
                    KST(dr + i, q);
                if (dq)
                    KST(dq + i, -(KLD(r + i) * q));
            }
            break;
        }
        case I_DIV_VC:
            PLOOP(d1, -(R / c));
            break;
        case I_POW_VV:
            PLOOP(d0, KSEL(B * KPOW2(A, B - one), B != z));
            PLOOP(d1, KSEL(R * KAPPLY(K(vlog), A), R != z));
            break;
        case I_POW_VC:
            PLOOP(d0, KSEL(c * KPOW2(A, cm1), c != z));
            PLOOP(d1, KSEL(R * KAPPLY(K(vlog), A), R != z));
            break;
        case I_POW_CV: {
            v8d lc = c;
            K(vlog)(&lc);
            PLOOP(d0, KSEL(R * lc, R != z));
            PLOOP(d1, KSEL(A * KPOW2(c, A - one), A != z));
            break;
        }
        case I_POWHALF:
            PLOOP(d0, half / R);
            break;
        case I_ABS:
            PLOOP(d0, KSEL(one, A > z) - KSEL(one, A < z));
            break;
        case I_MAP:
            switch (in->op) {
            case KP_OP_SQRT: PLOOP(d0, half / R); break;
            case KP_OP_LOG: PLOOP(d0, one / A); break;
            case KP_OP_SIN: PLOOP(d0, KAPPLY(K(vcos), A)); break;
            case KP_OP_COS: PLOOP(d0, -KAPPLY(K(vsin), A)); break;
            case KP_OP_TAN: PLOOP(d0, one + R * R); break;
            case KP_OP_ASIN:
                PLOOP(d0, one / KAPPLY(K(vsqrt), (one - A) * (one + A)));
                break;
            case KP_OP_ACOS:
                PLOOP(d0, -(one / KAPPLY(K(vsqrt), (one - A) * (one + A))));
                break;
            case KP_OP_ATAN: PLOOP(d0, one / (one + A * A)); break;
            case KP_OP_SINH:
            case KP_OP_COSH:
                for (size_t i = 0; i < n8; i += 8) {
                    v8d x = LA;
                    K(vhyp)(&x, in->op == KP_OP_SINH ? KP_OP_COSH : KP_OP_SINH);
                    KST(d0 + i, x);
                }
                break;
            case KP_OP_TANH:
                for (size_t i = 0; i < n8; i += 8) {
                    v8d x = LA;
                    K(vhyp)(&x, KP_OP_COSH);
                    KST(d0 + i, one / (x * x));
                }
                break;
            default: PLOOP(d0, z); break;
            }
            break;
        default:
            break;
        }
    }
}

/* Runs a list of tangent operations on n8 rows: dst = sum over the terms
   of t * p, a term counting only where t != 0 (and p != 0 when pmask), so
   that a zero tangent never meets an infinite or NaN partial. Scalars are
   splatted into a small buffer read with index mask 0. */
static KTGT void K(tangents)(const top_t *ops, int nops, double *const *ptr,
                             size_t n8)
{
    _Alignas(64) double sb[4][8];
    const v8d z = KSPLAT(0.0);
    const v8l all = {-1, -1, -1, -1, -1, -1, -1, -1};
    for (int o = 0; o < nops; o++) {
        const top_t *op = &ops[o];
        double *d = op->dst;
        const double *t[2] = {sb[0], sb[1]}, *p[2] = {sb[2], sb[3]};
        size_t tm[2] = {0, 0}, pm[2] = {0, 0};
        v8l pk[2];
        for (int x = 0; x < op->nterm; x++) {
            if (op->t[x]) {
                t[x] = op->t[x];
                tm[x] = ~(size_t)0;
            } else {
                for (int l = 0; l < 8; l++)
                    sb[x][l] = op->ts[x];
            }
            if (op->p[x] || op->preg[x] >= 0) {
                p[x] = op->p[x] ? op->p[x] : ptr[op->preg[x]];
                pm[x] = ~(size_t)0;
            } else {
                for (int l = 0; l < 8; l++)
                    sb[2 + x][l] = op->ps[x];
            }
            pk[x] = op->pmask[x] ? (v8l)z : all;
        }
        switch (op->nterm) {
        case 0:
            for (size_t i = 0; i < n8; i += 8)
                KST(d + i, z);
            break;
        case 1:
            for (size_t i = 0; i < n8; i += 8) {
                v8d t0 = KLD(t[0] + (i & tm[0])), p0 = KLD(p[0] + (i & pm[0]));
                KST(d + i, KSEL(t0 * p0, (t0 != z) & ((p0 != z) | pk[0])));
            }
            break;
        default:
            for (size_t i = 0; i < n8; i += 8) {
                v8d t0 = KLD(t[0] + (i & tm[0])), p0 = KLD(p[0] + (i & pm[0]));
                v8d t1 = KLD(t[1] + (i & tm[1])), p1 = KLD(p[1] + (i & pm[1]));
                KST(d + i, KSEL(t0 * p0, (t0 != z) & ((p0 != z) | pk[0])) +
                               KSEL(t1 * p1, (t1 != z) & ((p1 != z) | pk[1])));
            }
            break;
        }
    }
}
#undef KSEL
#undef PLOOP
#undef KAPPLY
#undef KPOW2

#undef KLOOP
#undef KMAP
#undef KPOW
#undef LA
#undef LB
#undef K
#undef KTGT
#pragma GCC diagnostic pop

#endif /* KP_EVAL_KERNEL */
