/* kp_eval.h: being written. */
#ifndef KP_EVAL_H
#define KP_EVAL_H
#endif
