/* b-data-load.c: throughput and peak memory of kp_data_load_csv on a large
   generated CSV (default 10,000,000 rows x 10 columns).

   The file is generated deterministically (kp_rng, fixed seed) in /tmp the
   first time or when --regen is given. Its columns mix what real data looks
   like: a row index, short fixed decimals, small integers, exponent
   notation and one full-precision %.17g column (which exercises the slower
   exact paths of the number reader).

   Usage: bench/data-load [--rows N] [--runs R] [--path FILE] [--regen]
   Prints seconds (median and min of R loads), rows/s, MB/s and the peak
   resident set size against the size of the loaded doubles. */
#include "config.h"
#include "kp_commit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "kp_data.h"
#include "kp_rng.h"

#define NCOLS 10

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds (user + system) used so far: the machine may be shared, so
   wall time alone can overstate the cost. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Appends the decimal form of k / 10^dec (k may be negative). */
static char *put_fixed(char *p, long k, int dec)
{
    char tmp[32];
    int n = 0;
    unsigned long u;

    if (k < 0) {
        *p++ = '-';
        u = (unsigned long)-k;
    } else {
        u = (unsigned long)k;
    }
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0 || n <= dec);
    while (n > 0) {
        if (n == dec)
            *p++ = '.';
        *p++ = tmp[--n];
    }
    return p;
}

static int generate(const char *path, long rows)
{
    char tmp[4096];
    kp_rng_t r;
    size_t cap = 1 << 20, k = 0;
    char *buf = malloc(cap);
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (f == NULL || buf == NULL) {
        perror(tmp);
        return 1;
    }
    kp_rng_init(&r, 20240601);
    k += (size_t)sprintf(buf, "# kepler bench data, %ld rows\n"
                              "i,a,b,c,d,e,n1,n2,s,y\n", rows);
    for (long i = 0; i < rows; i++) {
        char *p = buf + k;
        p = put_fixed(p, i, 0);
        for (int j = 0; j < 5; j++) {
            *p++ = ',';
            p = put_fixed(p, (long)kp_rng_below(&r, 20000) - 10000, 2 + j % 2);
        }
        *p++ = ',';
        p = put_fixed(p, (long)kp_rng_below(&r, 100), 0);
        *p++ = ',';
        p = put_fixed(p, (long)kp_rng_below(&r, 10000), 0);
        *p++ = ',';
        p = put_fixed(p, 10 + (long)kp_rng_below(&r, 90), 1);
        p += sprintf(p, "e%d", (int)kp_rng_below(&r, 21) - 10);
        *p++ = ',';
        p += sprintf(p, "%.17g", kp_rng_normal(&r));
        *p++ = '\n';
        k = (size_t)(p - buf);
        if (cap - k < 512) {
            if (fwrite(buf, 1, k, f) != k) {
                perror(tmp);
                return 1;
            }
            k = 0;
        }
    }
    if (fwrite(buf, 1, k, f) != k || fclose(f) != 0 || rename(tmp, path)) {
        perror(path);
        return 1;
    }
    free(buf);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long rows = 10000000;
    int runs = 3, regen = 0;
    char path[1024] = "";
    struct stat st;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
            rows = atol(argv[++i]);
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--path") == 0 && i + 1 < argc)
            snprintf(path, sizeof path, "%s", argv[++i]);
        else if (strcmp(argv[i], "--regen") == 0)
            regen = 1;
        else {
            fprintf(stderr, "usage: %s [--rows N] [--runs R] [--path FILE] "
                            "[--regen]\n", argv[0]);
            return 2;
        }
    }
    if (rows < 1 || runs < 1) {
        fprintf(stderr, "--rows and --runs must be positive\n");
        return 2;
    }
    if (path[0] == '\0')
        snprintf(path, sizeof path, "/tmp/kepler-bench-data-%ldx%d.csv", rows,
                 NCOLS);
    if (regen || stat(path, &st) != 0) {
        double t0 = now();
        printf("generating %s ...\n", path);
        fflush(stdout);
        if (generate(path, rows) != 0)
            return 3;
        printf("generated in %.2f s\n", now() - t0);
    }
    if (stat(path, &st) != 0) {
        perror(path);
        return 3;
    }

    char cpu[600] = "unknown";
    FILE *ci = fopen("/proc/cpuinfo", "r");
    if (ci) {
        char line[512];
        while (fgets(line, sizeof line, ci))
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                snprintf(cpu, sizeof cpu, "%s", c ? c + 2 : line);
                cpu[strcspn(cpu, "\n")] = '\0';
                break;
            }
        fclose(ci);
    }
    printf("cpu: %s\ncompiler: %s\ncommit: %s\n", cpu, __VERSION__,
           KP_COMMIT);
    printf("file: %s (%.1f MB)\n", path, (double)st.st_size / 1e6);

    long rss0 = peak_rss_kb();
    double *secs = malloc((size_t)runs * sizeof *secs);
    double *cpus = malloc((size_t)runs * sizeof *cpus);
    size_t nrows = 0;
    int ncols = 0;
    for (int k = 0; k < runs; k++) {
        kp_data_t d;
        kp_error_t err;
        kp_data_init(&d);
        double t0 = now(), c0 = cpu_seconds();
        int rc = kp_data_load_csv(&d, path, &err);
        secs[k] = now() - t0;
        cpus[k] = cpu_seconds() - c0;
        if (rc != KP_OK) {
            char msg[1024];
            fprintf(stderr, "%s\n", kp_error_format(msg, sizeof msg, &err));
            return 3;
        }
        /* column 0 is the row index: a cheap end-to-end check */
        for (size_t i = 0; i < d.nrows; i++)
            if (d.cols[0][i] != (double)i) {
                fprintf(stderr, "row %zu: index column reads %.17g\n", i,
                        d.cols[0][i]);
                return 3;
            }
        nrows = d.nrows;
        ncols = d.ncols;
        printf("run %d: %.3f s wall, %.3f s cpu\n", k + 1, secs[k], cpus[k]);
        kp_data_clear(&d);
    }
    qsort(secs, (size_t)runs, sizeof *secs, cmp_double);
    qsort(cpus, (size_t)runs, sizeof *cpus, cmp_double);
    double med = secs[runs / 2], mn = secs[0];
    double cmed = cpus[runs / 2], cmn = cpus[0];
    double data_mb = (double)nrows * ncols * sizeof(double) / 1e6;
    long rss = peak_rss_kb();
    printf("rows %zu x cols %d\n", nrows, ncols);
    printf("load wall: median %.3f s, min %.3f s\n", med, mn);
    printf("load cpu:  median %.3f s, min %.3f s\n", cmed, cmn);
    printf("throughput (median wall): %.2f Mrows/s, %.1f MB/s of CSV\n",
           (double)nrows / med / 1e6, (double)st.st_size / med / 1e6);
    printf("throughput (median cpu):  %.2f Mrows/s, %.1f MB/s of CSV\n",
           (double)nrows / cmed / 1e6, (double)st.st_size / cmed / 1e6);
    printf("peak RSS: %.1f MB (%.1f MB before loading); doubles: %.1f MB; "
           "ratio peak/doubles %.2f\n",
           rss / 1e3, rss0 / 1e3, data_mb, rss / 1e3 / data_mb);
    free(secs);
    free(cpus);
    return 0;
}
