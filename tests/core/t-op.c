#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "kp_op.h"

Test(op, table_is_complete_and_names_round_trip)
{
    for (int op = 0; op < KP_OP_COUNT; op++) {
        const kp_op_info_t *info = &kp_op_table[op];
        cr_assert_not_null(info->name, "op %d has no name", op);
        cr_assert(info->arity >= 0 && info->arity <= 2);
        cr_assert_eq(kp_op_lookup(info->name, -1), op, "%s", info->name);
        cr_assert_not_null(info->latex);
        cr_assert_not_null(info->c);
    }
    cr_assert_eq(kp_op_lookup("ln", -1), KP_OP_LOG);
    cr_assert_eq(kp_op_lookup("arcsin", -1), KP_OP_ASIN);
    cr_assert_eq(kp_op_lookup("sinx", 3), KP_OP_SIN);
    cr_assert_eq(kp_op_lookup("frobnicate", -1), -1);
}

Test(op, reference_semantics_and_domain_errors)
{
    cr_assert_eq(kp_op_apply(KP_OP_ADD, 2, 3), 5);
    cr_assert_eq(kp_op_apply(KP_OP_POW, 2, 10), 1024);
    cr_assert(isnan(kp_op_apply(KP_OP_LOG, -1, 0)));
    cr_assert(isnan(kp_op_apply(KP_OP_SQRT, -1, 0)));
    cr_assert(isnan(kp_op_apply(KP_OP_ASIN, 2, 0)));
    cr_assert(!isfinite(kp_op_apply(KP_OP_DIV, 1, 0)));
    cr_assert(fabs(kp_op_apply(KP_OP_SIN, kp_op_apply(KP_OP_PI, 0, 0) / 6, 0)
                   - 0.5) < 1e-15);
}
