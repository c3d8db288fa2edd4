/* kp_data.h: being written. */
#ifndef KP_DATA_H
#define KP_DATA_H
#endif
