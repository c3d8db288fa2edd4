/* kp_decimal.c: recovering written decimals from their doubles. */
#include "kp_decimal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kp_exact.h"

int kp_decimal_shortest(char *buf, double x)
{
    /* %.Ng with increasing N: the first that round-trips is the shortest,
       since every double is reached by 17 digits. */
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, 32, "%.*g", digits, x);
        if (strtod(buf, NULL) == x)
            return digits;
    }
    snprintf(buf, 32, "%.17g", x);
    return 17;
}

int kp_decimal_cell(fmpq_t q, double x, int max_digits)
{
    char buf[32];
    if (max_digits <= KP_DECIMAL_MAX_DIGITS) {
        kp_decimal_shortest(buf, x);
        if (kp_exact_fmpq_from_decimal(q, buf, NULL) == 0)
            return 1;
    }
    kp_exact_fmpq_from_double(q, x);
    return 0;
}
