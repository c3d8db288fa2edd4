/* kp_exact.h: being written. */
#ifndef KP_EXACT_H
#define KP_EXACT_H
#endif
