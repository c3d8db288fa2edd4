/* main.c: the kepler command line: dispatches to the subcommands of
   CONTRACT.md and holds the helpers they share (cli.h). */
#include "config.h"
#include "kp_commit.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

volatile sig_atomic_t kp_cli_stop = 0;

static void on_signal(int sig)
{
    (void)sig;
    kp_cli_stop = 1;
}

void kp_cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int kp_cli_report(const kp_error_t *err)
{
    char buf[KP_ERROR_MSG_MAX + KP_ERROR_FILE_MAX + 64];
    fprintf(stderr, "kepler: %s\n", kp_error_format(buf, sizeof buf, err));
    return kp_error_exit_status(err->code);
}

int kp_cli_usage_error(const char *sub, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "kepler%s%s: ", sub ? " " : "", sub ? sub : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'kepler %s%s--help')\n", sub ? sub : "",
            sub ? " " : "");
    return KP_EXIT_USAGE;
}

long kp_cli_parse_count(const char *sub, const char *opt, const char *text,
                        long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < min || v > max) {
        kp_cli_usage_error(sub, "%s expects an integer in [%ld, %ld], got '%s'",
                           opt, min, max, text);
        return -1;
    }
    return v;
}

double kp_cli_parse_seconds(const char *sub, const char *opt, const char *text)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end != '\0' || !isfinite(v) || v <= 0 ||
        v > 1e9) {
        kp_cli_usage_error(sub, "%s expects a positive number of seconds, got '%s'",
                           opt, text);
        return -1;
    }
    return v;
}

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} subcommands[] = {
    {"fit", kp_cli_fit, "find the formula behind a table of measurements"},
    {"eval", kp_cli_eval, "evaluate an expression, exactly or on every row of a CSV"},
    {"search", kp_cli_search, "search for a construction (cap sets, ...) and certify it"},
    {"verify", kp_cli_verify, "re-check a certificate with exact arithmetic"},
    {"lean", kp_cli_lean, "export a certificate or a fit as a Lean 4 proof"},
};

static void print_help(FILE *f)
{
    fprintf(f, "Usage: kepler SUBCOMMAND [options]\n\n"
               "Kepler discovers formulas and constructions and proves what it "
               "finds.\n\nSubcommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(f, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(f, "\nOptions:\n"
               "  -h, --help     show this help\n"
               "  -V, --version  show the version\n\n"
               "'kepler SUBCOMMAND --help' documents each subcommand.\n"
               "Exit status: 0 success, 1 nothing found, 2 bad usage or input, "
               "3 internal error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return KP_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        print_help(stdout);
        return KP_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("kepler %s (commit %s)\n", PACKAGE_VERSION, KP_COMMIT);
        return KP_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (!strcmp(argv[1], subcommands[i].name))
            return subcommands[i].run(argc - 1, argv + 1);
    return kp_cli_usage_error(NULL, "unknown subcommand '%s'", argv[1]);
}
