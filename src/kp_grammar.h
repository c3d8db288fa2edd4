/* kp_grammar.h: being written. */
#ifndef KP_GRAMMAR_H
#define KP_GRAMMAR_H
#endif
