/* kp_problems.h: the built-in problems of `kepler search` and the loader of
   problem plugins (kepler/problem.h). Built-in problems are kp_problem_t
   values like any plugin's; this module lists them by name and opens
   shared objects with dlopen.

   Ownership: kp_problem_plugin_open/kp_problem_plugin_close. A problem
   pointer stays valid until its plugin is closed (built-ins: forever).
   Reentrant. */
#ifndef KP_PROBLEMS_H
#define KP_PROBLEMS_H

#include "kepler/problem.h"
#include "kp_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Built-in problems. */
const kp_problem_t *kp_problem_capset(void);
const kp_problem_t *kp_problem_wagner21(void); /* problems/graphs.c */
const kp_problem_t *kp_problem_ramsey34(void);
const kp_problem_t *kp_problem_ramsey44(void);

/* The i-th built-in problem (i >= 0), or NULL past the last. */
const kp_problem_t *kp_problem_builtin_at(int i);

/* The built-in problem called name, or NULL. */
const kp_problem_t *kp_problem_builtin(const char *name);

/* KP_OK if p is usable: abi matches, name non-empty, 1 <= n_min <= n_max,
   length, score and verify set, features/nfeatures/feature_name all set
   or all NULL. Otherwise KP_EINPUT naming the defect (source names the
   plugin file in the error, may be NULL). */
int kp_problem_check(const kp_problem_t *p, const char *source,
                     kp_error_t *err);

typedef struct {
    void *handle;               /* dlopen handle */
    const kp_problem_t *problem;
} kp_plugin_t;

/* Opens the shared object at path, calls its kepler_problem() and checks
   the result (kp_problem_check). KP_EINPUT with the file named in err if
   it cannot be loaded, lacks the symbol or describes a bad problem; pl is
   then empty. */
int kp_problem_plugin_open(kp_plugin_t *pl, const char *path,
                           kp_error_t *err);

/* Unloads the plugin; its problem pointer becomes invalid. */
void kp_problem_plugin_close(kp_plugin_t *pl);

#ifdef __cplusplus
}
#endif
#endif
