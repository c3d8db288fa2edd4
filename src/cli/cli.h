/* cli.h: what the kepler subcommands share: error reporting with the exit
   statuses of CONTRACT.md, the SIGINT/SIGTERM stop flag, and small parsing
   helpers. Only the CLI prints; it uses the library's public headers only. */
#ifndef KP_CLI_H
#define KP_CLI_H

#include <signal.h>
#include <stdio.h>

#include "kp_error.h"

#define KP_EXIT_OK 0
#define KP_EXIT_NOTFOUND 1
#define KP_EXIT_USAGE 2
#define KP_EXIT_INTERNAL 3

/* Set by the signal handler; search loops poll it through a pointer. */
extern volatile sig_atomic_t kp_cli_stop;

/* Installs the SIGINT/SIGTERM handlers that set kp_cli_stop. */
void kp_cli_catch_signals(void);

/* Prints "kepler: <file:line:col: message>" and returns the exit status for
   err->code. */
int kp_cli_report(const kp_error_t *err);

/* Prints "kepler SUB: message" plus a hint to --help; returns 2. */
int kp_cli_usage_error(const char *sub, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a non-negative integer option value (whole string); on failure
   reports a usage error naming opt and returns -1. */
long kp_cli_parse_count(const char *sub, const char *opt, const char *text,
                        long min, long max);

/* Parses a positive finite number of seconds; -1 on failure (reported). */
double kp_cli_parse_seconds(const char *sub, const char *opt, const char *text);

/* Subcommands: argc/argv start at the subcommand name. */
int kp_cli_eval(int argc, char **argv);
int kp_cli_fit(int argc, char **argv);
int kp_cli_search(int argc, char **argv);
int kp_cli_verify(int argc, char **argv);
int kp_cli_lean(int argc, char **argv);

#endif
