/* kp_eval.c: being written. */
