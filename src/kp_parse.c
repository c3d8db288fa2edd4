/* kp_parse.c: being written. */
