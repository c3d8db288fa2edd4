/* kp_problems.c: the table of built-in problems and the plugin loader
   (kp_problems.h). To add a built-in problem, add its constructor to
   builtins[]. */
#include "kp_problems.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static const kp_problem_t *(*const builtins[])(void) = {
    kp_problem_capset,
    kp_problem_wagner21, kp_problem_ramsey34, kp_problem_ramsey44,
};

const kp_problem_t *kp_problem_builtin_at(int i)
{
    if (i < 0 || (size_t)i >= sizeof builtins / sizeof builtins[0])
        return NULL;
    return builtins[i]();
}

const kp_problem_t *kp_problem_builtin(const char *name)
{
    const kp_problem_t *p;
    for (int i = 0; (p = kp_problem_builtin_at(i)) != NULL; i++)
        if (!strcmp(p->name, name))
            return p;
    return NULL;
}

int kp_problem_check(const kp_problem_t *p, const char *source,
                     kp_error_t *err)
{
    const char *what = NULL;
    if (p == NULL)
        what = "no problem (NULL)";
    else if (p->abi != KP_PROBLEM_ABI)
        what = "built against another version of kepler/problem.h (abi)";
    else if (p->name == NULL || p->name[0] == '\0')
        what = "problem has no name";
    else if (p->n_min < 1 || p->n_max < p->n_min)
        what = "problem has an empty or invalid size range n_min..n_max";
    else if (p->length == NULL || p->score == NULL || p->verify == NULL)
        what = "problem lacks one of the required hooks length, score, verify";
    else if ((p->features == NULL) != (p->nfeatures == NULL) ||
             (p->features == NULL) != (p->feature_name == NULL))
        what = "features, nfeatures and feature_name must come together";
    else if (p->kind < KP_OBJ_BITS || p->kind > KP_OBJ_F3SUBSET)
        what = "unknown object kind";
    if (what == NULL)
        return KP_OK;
    return kp_error_set(err, KP_EINPUT, source, 0, 0, "%s", what);
}

int kp_problem_plugin_open(kp_plugin_t *pl, const char *path, kp_error_t *err)
{
    pl->handle = NULL;
    pl->problem = NULL;
    /* dlopen searches the library path for a name without '/': a plugin
       given as "my.so" means the file in the current directory. */
    char buf[4096];
    if (strchr(path, '/') == NULL && strlen(path) + 3 < sizeof buf) {
        strcpy(buf, "./");
        strcat(buf, path);
    } else {
        snprintf(buf, sizeof buf, "%s", path);
    }
    void *h = dlopen(buf, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *why = dlerror();
        return kp_error_set(err, KP_EINPUT, path, 0, 0,
                            "cannot load plugin: %s", why ? why : "dlopen failed");
    }
    kp_problem_entry_t entry;
    /* POSIX's sanctioned way to turn a data pointer into a function. */
    *(void **)&entry = dlsym(h, KP_PROBLEM_SYMBOL);
    if (entry == NULL) {
        dlclose(h);
        return kp_error_set(err, KP_EINPUT, path, 0, 0,
                            "plugin does not export %s()", KP_PROBLEM_SYMBOL);
    }
    const kp_problem_t *p = entry();
    int rc = kp_problem_check(p, path, err);
    if (rc != KP_OK) {
        dlclose(h);
        return rc;
    }
    pl->handle = h;
    pl->problem = p;
    return KP_OK;
}

void kp_problem_plugin_close(kp_plugin_t *pl)
{
    if (pl->handle != NULL)
        dlclose(pl->handle);
    pl->handle = NULL;
    pl->problem = NULL;
}
