/* kp_exact.c: being written. */
