/* cem-run.c: runs the cross-entropy method (kp_cem) once and prints one
   line of what the end-to-end tests compare: best score (exact bits),
   verified, reached, generations, score calls and a hash of the best
   string. Built by `make check` for tests/e2e/cem.sh and mpi.sh, which
   run it alone and under mpirun (until `kepler search` has a method for
   the CEM, this is how its checkpoints and ranks are exercised).
   Usage: cem-run PROBLEM N SEED GENS [--threads T] [--topology ring|random]
          [--checkpoint F] [--resume F] [--target V] [--seconds S]
   Exit status: 0 done, 2 bad usage or a refused checkpoint (message on
   stderr, one line). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "kp_cem.h"
#include "kp_mpi.h"
#include "kp_problems.h"

int main(int argc, char **argv)
{
    if (argc < 5)
        return 2;
    int owner;
    kp_mpi_init(&owner);
    const kp_problem_t *p = kp_problem_builtin(argv[1]);
    kp_cem_params_t cp;
    kp_cem_params_default(&cp);
    cp.max_gens = atol(argv[4]);
    cp.threads = 1;
    for (int i = 5; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            cp.threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--topology"))
            cp.topology = kp_topology_parse(argv[i + 1]);
        else if (!strcmp(argv[i], "--checkpoint"))
            cp.checkpoint = argv[i + 1];
        else if (!strcmp(argv[i], "--resume"))
            cp.resume = argv[i + 1];
        else if (!strcmp(argv[i], "--seconds"))
            cp.seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--target")) {
            cp.has_target = 1;
            cp.target = atof(argv[i + 1]);
        }
    }
    cp.checkpoint_every = 0.5;
    kp_rng_t rng;
    kp_rng_init(&rng, strtoull(argv[3], NULL, 10));
    kp_cem_result_t r;
    kp_error_t err;
    kp_error_init(&err);
    int rc = p ? kp_cem_run(&r, p, atoi(argv[2]), &cp, &rng, &err) : KP_EINPUT;
    int status = 0;
    char buf[KP_ERROR_MSG_MAX + KP_ERROR_FILE_MAX + 64];
    if (rc != KP_OK) {
        if (kp_mpi_rank() == 0)
            fprintf(stderr, "cem-run: %s\n",
                    kp_error_format(buf, sizeof buf, &err));
        status = 2;
    } else if (kp_mpi_rank() == 0) {
        unsigned long long bits;
        memcpy(&bits, &r.best_score, sizeof bits);
        printf("best %.17g (bits %016llx) verified %d reached %d gens %ld "
               "evals %ld string %016llx ranks %d\n",
               r.best_score, bits, r.verified, r.reached, r.gens, r.evals,
               (unsigned long long)XXH3_64bits(r.best, r.len), r.nranks);
    }
    if (rc == KP_OK)
        kp_cem_result_clear(&r);
    kp_mpi_finalize(owner);
    return status;
}
