/* main.c: the kepler command line (placeholder until the CLI lands). */
#include <stdio.h>
int main(void) { puts("kepler"); return 0; }
