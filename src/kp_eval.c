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
   infinite or NaN (a constant factor stays a constant). */
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
        return ta / sqrt(1.0 - a * a);
    case KP_OP_ACOS:
        return -ta / sqrt(1.0 - a * a);
    case KP_OP_ATAN:
        return ta / (1.0 + a * a);
    case KP_OP_SINH:
        return cosh(a) * ta;
    case KP_OP_COSH:
        return sinh(a) * ta;
    case KP_OP_TANH:
        return (1.0 - r * r) * ta;
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

typedef void (*run_fn)(const ins_t *ins, int nins, double *const *ptr,
                       size_t n8);
typedef void (*loss_fn)(double *acc, double *wacc, const double *p,
                        const double *y, const double *w, size_t n);

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
    kern_t k = {run_generic, loss_generic};
    if (isa == KP_EVAL_ISA_AUTO)
        isa = kp_eval_isa_best();
#if KP_EVAL_X86
    if (isa == KP_EVAL_ISA_AVX2) {
        k.run = run_avx2;
        k.loss = loss_avx2;
    } else if (isa == KP_EVAL_ISA_AVX512) {
        k.run = run_avx512;
        k.loss = loss_avx512;
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

/* Tangent of one instruction over n rows. Operands are given with a stride
   so constants and zero tangents need no buffer. */
static void tangent_loop(int op, double *t, const double *a, size_t sa,
                         const double *b, size_t sb, const double *r,
                         const double *ta, size_t sta, const double *tb,
                         size_t stb, size_t n)
{
    for (size_t i = 0; i < n; i++)
        t[i] = dual_rule(op, a[i * sa], b[i * sb], r[i], ta[i * sta],
                         tb[i * stb]);
}

int kp_eval_jacobian(double *out, double *jac, const kp_expr_t *e,
                     const double *const *cols, size_t nrows)
{
    prog_t *p = malloc(sizeof *p);
    cctx_t *cx = malloc(sizeof *cx);
    if (!p || !cx) {
        free(p);
        free(cx);
        return KP_ENOMEM;
    }
    int rc = compile(p, cx, e, 1, 0);
    if (rc != KP_OK) {
        free(p);
        free(cx);
        return rc;
    }
    int nf = cx->nfree, ni = p->nins;
    const double zero = 0.0;

    if (p->root.kind == OPD_CONST || !is_slot(p->root.reg)) {
        /* A leaf or folded root: no instructions to run. */
        for (int k = 0; k < nf; k++) {
            double v = 0, t = 0;
            if (p->root.kind == OPD_CONST && (p->root.dep >> k & 1))
                fold_dual(cx, p->root.pos, k, &v, &t);
            for (size_t i = 0; i < nrows; i++)
                jac[(size_t)k * nrows + i] = t;
        }
        if (p->root.kind == OPD_CONST)
            for (size_t i = 0; i < nrows; i++)
                out[i] = p->root.c;
        else
            memcpy(out, cols[p->varmap[p->root.reg - REG_VAR0]],
                   nrows * sizeof *out);
        free(p);
        free(cx);
        return KP_OK;
    }

    /* Rows per block: values and tangents of every instruction. */
    size_t jb = round8((size_t)(65536 / (ni + 1)));
    if (jb > BLK)
        jb = BLK;
    if (jb < 8)
        jb = 8;
    size_t nws = 2 * (size_t)ni * jb + (size_t)p->nvar * 8 + 8;
    double *V = malloc(nws * sizeof *V);
    double *ctan = malloc(((size_t)ni * (size_t)(nf ? nf : 1)) * sizeof *ctan);
    double **ptr = malloc(NREGS * sizeof *ptr);
    uint8_t *tz = malloc((size_t)ni);
    if (!V || !ctan || !ptr || !tz) {
        free(V);
        free(ctan);
        free(ptr);
        free(tz);
        free(p);
        free(cx);
        return KP_ENOMEM;
    }
    double *T = V + (size_t)ni * jb;
    double *tail = T + (size_t)ni * jb;
    for (int j = 0; j < ni; j++) {
        ptr[j] = V + (size_t)j * jb;
        for (int k = 0; k < nf; k++) {
            double v = 0, t = 0;
            if (p->cpos[j] >= 0 && (p->dep[j] >> k & 1))
                fold_dual(cx, p->cpos[j], k, &v, &t);
            ctan[(size_t)j * nf + k] = t;
        }
    }
    kern_t kern = kern_get(KP_EVAL_ISA_AUTO);
    int root = p->root.reg;
    for (size_t r0 = 0; r0 < nrows; r0 += jb) {
        size_t n = nrows - r0 < jb ? nrows - r0 : jb;
        size_t nf8 = n & ~(size_t)7;
        /* Values: whole vectors in place, then the padded tail. */
        if (nf8) {
            set_vars(ptr, p, cols, r0, nf8, tail);
            kern.run(p->ins, ni, ptr, nf8);
        }
        if (nf8 < n) {
            for (int j = 0; j < ni; j++)
                ptr[j] += nf8;
            set_vars(ptr, p, cols, r0 + nf8, n - nf8, tail);
            kern.run(p->ins, ni, ptr, 8);
            for (int j = 0; j < ni; j++)
                ptr[j] -= nf8;
        }
        /* The tangent loops read n rows of the variables in place. */
        for (int j = 0; j < p->nvar; j++)
            ptr[REG_VAR0 + j] = (double *)(uintptr_t)(cols[p->varmap[j]] + r0);
        memcpy(out + r0, ptr[root], n * sizeof *out);
        for (int k = 0; k < nf; k++) {
            for (int j = 0; j < ni; j++) {
                const ins_t *in = &p->ins[j];
                if (!(p->dep[j] >> k & 1)) {
                    tz[j] = 1;
                    continue;
                }
                tz[j] = 0;
                const double *A = ptr[in->a], *B = ptr[in->b];
                const double *TA = &zero, *TB = &zero;
                size_t sa = 1, sb = 1, sta = 0, stb = 0;
                const double *ct = &ctan[(size_t)j * nf + k];
                if (is_slot(in->a) && !tz[in->a]) {
                    TA = T + (size_t)in->a * jb;
                    sta = 1;
                }
                if (is_slot(in->b) && !tz[in->b]) {
                    TB = T + (size_t)in->b * jb;
                    stb = 1;
                }
                switch (in->code) {
                case I_ADD_VC:
                case I_SUB_VC:
                case I_MUL_VC:
                case I_DIV_VC:
                case I_POW_VC:
                case I_POW0:
                    B = &in->c;
                    sb = 0;
                    TB = ct;
                    stb = 0;
                    break;
                case I_SUB_CV:
                case I_DIV_CV:
                case I_POW_CV:
                    /* The constant is the left operand. */
                    B = A;
                    TB = TA;
                    stb = sta;
                    A = &in->c;
                    sa = 0;
                    TA = ct;
                    sta = 0;
                    break;
                default:
                    break;
                }
                tangent_loop(in->op, T + (size_t)j * jb, A, sa, B, sb,
                             ptr[j], TA, sta, TB, stb, n);
            }
            double *jk = jac + (size_t)k * nrows + r0;
            if (tz[root])
                memset(jk, 0, n * sizeof *jk);
            else
                memcpy(jk, T + (size_t)root * jb, n * sizeof *jk);
        }
    }
    free(V);
    free(ctan);
    free(ptr);
    free(tz);
    free(p);
    free(cx);
    return KP_OK;
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
                    v8d x = LA, r = x;
                    int big = 0;
                    if (in->op == KP_OP_SINH)
                        K(vsinh)(&r);
                    else
                        K(vcosh)(&r);
                    for (int l = 0; l < 8; l++)
                        big |= fabs(x[l]) > 709.0;
                    /* SLEEF overflows past |x| = 709 although the result
                       is finite up to 710.47: use exp(|x|/2)^2 / 2 there,
                       one lane at a time (rare). */
                    if (big)
                        for (int l = 0; l < 8; l++)
                            if (fabs(x[l]) > 709.0 && isfinite(x[l])) {
                                double h = exp(0.5 * fabs(x[l]));
                                double v = (0.5 * h) * h;
                                r[l] = in->op == KP_OP_SINH ? copysign(v, x[l]) : v;
                            }
                    KST(d + i, r);
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

#undef KLOOP
#undef KMAP
#undef KPOW
#undef LA
#undef LB
#undef K
#undef KTGT
#pragma GCC diagnostic pop

#endif /* KP_EVAL_KERNEL */
