/* kp_grammar.c: being written. */
