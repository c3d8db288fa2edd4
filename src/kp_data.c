/* kp_data.c: being written. */
