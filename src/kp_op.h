/* kp_op.h: the read-only operator table shared by every evaluator, printer,
   parser and grammar. An operator is identified by a small integer (enum
   kp_op) that is also its token id inside an expression. The fast evaluator
   (kp_eval), the exact evaluator (kp_exact) and the scalar reference
   kp_op_apply all implement exactly these operators; kp_exact is the oracle.
   Domain errors (log of a negative, division by zero, sqrt of a negative)
   give NaN, never a "protected" value. Reentrant. */
#ifndef KP_OP_H
#define KP_OP_H

#ifdef __cplusplus
extern "C" {
#endif

enum kp_op {
    /* binary */
    KP_OP_ADD,
    KP_OP_SUB,
    KP_OP_MUL,
    KP_OP_DIV,
    KP_OP_POW, /* a ** b; real power, NaN for a < 0 unless b is an integer */
    /* unary */
    KP_OP_NEG,
    KP_OP_SQRT,
    KP_OP_EXP,
    KP_OP_LOG, /* natural logarithm */
    KP_OP_SIN,
    KP_OP_COS,
    KP_OP_TAN,
    KP_OP_ASIN,
    KP_OP_ACOS,
    KP_OP_ATAN,
    KP_OP_SINH,
    KP_OP_COSH,
    KP_OP_TANH,
    KP_OP_ABS,
    /* nullary: named mathematical constants */
    KP_OP_PI,
    KP_OP_E,
    KP_OP_COUNT
};

/* How a printer writes an operator. */
enum kp_op_form {
    KP_FORM_INFIX,    /* a + b */
    KP_FORM_PREFIX,   /* -a */
    KP_FORM_FUNCTION, /* f(a) */
    KP_FORM_ATOM      /* pi */
};

typedef struct {
    const char *name;  /* grammar name, also the SymPy spelling: "+", "sqrt" */
    int arity;         /* 0, 1 or 2 */
    int commutative;   /* operands may be reordered (add, mul) */
    int form;          /* enum kp_op_form */
    int prec;          /* SymPy precedence for infix/prefix forms, higher
                          binds tighter: + - 10, * / 20, unary - 25, ** 30 */
    const char *latex; /* LaTeX spelling: "\\sin", "\\pi" */
    const char *c;     /* C99 <math.h> spelling: "sin", "M_PI" */
} kp_op_info_t;

/* The table, indexed by enum kp_op. */
extern const kp_op_info_t kp_op_table[KP_OP_COUNT];

/* The operator whose grammar name is name (length len, or -1 for a
   NUL-terminated name), or -1 if none. Also accepts the aliases "ln" (log),
   "arcsin", "arccos", "arctan" and "neg". */
int kp_op_lookup(const char *name, int len);

/* Scalar reference semantics in double precision: a for unary operators,
   a and b for binary ones, nothing for nullary ones. */
double kp_op_apply(int op, double a, double b);

#ifdef __cplusplus
}
#endif
#endif
