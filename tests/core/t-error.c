#include <criterion/criterion.h>
#include <string.h>

#include "kp_error.h"

Test(error, formats_file_line_column)
{
    kp_error_t err;
    char buf[256];
    kp_error_init(&err);
    cr_assert_eq(err.code, KP_OK);
    int rc = kp_error_set(&err, KP_EINPUT, "data.csv", 3, 7, "bad %s", "cell");
    cr_assert_eq(rc, KP_EINPUT);
    cr_assert_str_eq(kp_error_format(buf, sizeof buf, &err),
                     "data.csv:3:7: bad cell");
    kp_error_set(&err, KP_EINPUT, NULL, 0, 4, "unexpected ')'");
    cr_assert_str_eq(kp_error_format(buf, sizeof buf, &err),
                     "column 4: unexpected ')'");
    cr_assert_eq(kp_error_set(NULL, KP_ENOMEM, NULL, 0, 0, "x"), KP_ENOMEM);
}

Test(error, exit_statuses_follow_the_contract)
{
    cr_assert_eq(kp_error_exit_status(KP_OK), 0);
    cr_assert_eq(kp_error_exit_status(KP_ENOTFOUND), 1);
    cr_assert_eq(kp_error_exit_status(KP_EINPUT), 2);
    cr_assert_eq(kp_error_exit_status(KP_ENOMEM), 3);
    cr_assert_eq(kp_error_exit_status(KP_EINTERNAL), 3);
}
