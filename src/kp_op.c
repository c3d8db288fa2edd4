/* kp_op.c: the operator table and its scalar reference semantics. */
#include "kp_op.h"

#include <math.h>
#include <string.h>

const kp_op_info_t kp_op_table[KP_OP_COUNT] = {
    [KP_OP_ADD] = {"+", 2, 1, KP_FORM_INFIX, 10, "+", "+"},
    [KP_OP_SUB] = {"-", 2, 0, KP_FORM_INFIX, 10, "-", "-"},
    [KP_OP_MUL] = {"*", 2, 1, KP_FORM_INFIX, 20, "\\,", "*"},
    [KP_OP_DIV] = {"/", 2, 0, KP_FORM_INFIX, 20, "\\frac", "/"},
    [KP_OP_POW] = {"**", 2, 0, KP_FORM_INFIX, 30, "^", "pow"},
    [KP_OP_NEG] = {"neg", 1, 0, KP_FORM_PREFIX, 25, "-", "-"},
    [KP_OP_SQRT] = {"sqrt", 1, 0, KP_FORM_FUNCTION, 0, "\\sqrt", "sqrt"},
    [KP_OP_EXP] = {"exp", 1, 0, KP_FORM_FUNCTION, 0, "\\exp", "exp"},
    [KP_OP_LOG] = {"log", 1, 0, KP_FORM_FUNCTION, 0, "\\log", "log"},
    [KP_OP_SIN] = {"sin", 1, 0, KP_FORM_FUNCTION, 0, "\\sin", "sin"},
    [KP_OP_COS] = {"cos", 1, 0, KP_FORM_FUNCTION, 0, "\\cos", "cos"},
    [KP_OP_TAN] = {"tan", 1, 0, KP_FORM_FUNCTION, 0, "\\tan", "tan"},
    [KP_OP_ASIN] = {"asin", 1, 0, KP_FORM_FUNCTION, 0, "\\arcsin", "asin"},
    [KP_OP_ACOS] = {"acos", 1, 0, KP_FORM_FUNCTION, 0, "\\arccos", "acos"},
    [KP_OP_ATAN] = {"atan", 1, 0, KP_FORM_FUNCTION, 0, "\\arctan", "atan"},
    [KP_OP_SINH] = {"sinh", 1, 0, KP_FORM_FUNCTION, 0, "\\sinh", "sinh"},
    [KP_OP_COSH] = {"cosh", 1, 0, KP_FORM_FUNCTION, 0, "\\cosh", "cosh"},
    [KP_OP_TANH] = {"tanh", 1, 0, KP_FORM_FUNCTION, 0, "\\tanh", "tanh"},
    [KP_OP_ABS] = {"Abs", 1, 0, KP_FORM_FUNCTION, 0, "\\left|", "fabs"},
    [KP_OP_PI] = {"pi", 0, 0, KP_FORM_ATOM, 0, "\\pi", "M_PI"},
    [KP_OP_E] = {"E", 0, 0, KP_FORM_ATOM, 0, "e", "M_E"},
};

static const struct {
    const char *alias;
    int op;
} op_aliases[] = {
    {"ln", KP_OP_LOG},     {"arcsin", KP_OP_ASIN}, {"arccos", KP_OP_ACOS},
    {"arctan", KP_OP_ATAN}, {"abs", KP_OP_ABS},    {"neg", KP_OP_NEG},
};

static int name_is(const char *name, int len, const char *s)
{
    return (int)strlen(s) == len && memcmp(name, s, (size_t)len) == 0;
}

int kp_op_lookup(const char *name, int len)
{
    if (len < 0)
        len = (int)strlen(name);
    for (int op = 0; op < KP_OP_COUNT; op++)
        if (name_is(name, len, kp_op_table[op].name))
            return op;
    for (size_t i = 0; i < sizeof op_aliases / sizeof op_aliases[0]; i++)
        if (name_is(name, len, op_aliases[i].alias))
            return op_aliases[i].op;
    return -1;
}

double kp_op_apply(int op, double a, double b)
{
    switch (op) {
    case KP_OP_ADD:
        return a + b;
    case KP_OP_SUB:
        return a - b;
    case KP_OP_MUL:
        return a * b;
    case KP_OP_DIV:
        return a / b;
    case KP_OP_POW:
        return pow(a, b);
    case KP_OP_NEG:
        return -a;
    case KP_OP_SQRT:
        return sqrt(a);
    case KP_OP_EXP:
        return exp(a);
    case KP_OP_LOG:
        return log(a);
    case KP_OP_SIN:
        return sin(a);
    case KP_OP_COS:
        return cos(a);
    case KP_OP_TAN:
        return tan(a);
    case KP_OP_ASIN:
        return asin(a);
    case KP_OP_ACOS:
        return acos(a);
    case KP_OP_ATAN:
        return atan(a);
    case KP_OP_SINH:
        return sinh(a);
    case KP_OP_COSH:
        return cosh(a);
    case KP_OP_TANH:
        return tanh(a);
    case KP_OP_ABS:
        return fabs(a);
    case KP_OP_PI:
        return 3.141592653589793238462643383279502884;
    case KP_OP_E:
        return 2.718281828459045235360287471352662498;
    default:
        return NAN;
    }
}
