/* kp_simplify.c: being written. */
