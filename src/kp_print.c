/* kp_print.c: being written. */
