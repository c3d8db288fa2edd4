/* kp_expr.c: being written. */
