/*
 * The environment.
 *
 * 7. The environment: the library and the runtime read and change it through libc's own getenv,
 *    setenv and unsetenv, never a host program's. bash defines all three over its shell variables;
 *    a setenv there before bash had imported its environment hid every other variable from the
 *    library's later reads (the policy path its children must keep, AWS_LAMBDA_RUNTIME_API).
 */
#include "glue.h"

/* 7. getenv walks the environment as libc's does; setenv and unsetenv are libc's (RTLD_NEXT skips
   the executable, which may define its own). */
__attribute__((visibility("hidden"))) char *__wrap_getenv(const char *name)
{
    if (!name || !environ) return NULL;
    size_t n = strlen(name);
    if (n == 0 || strchr(name, '=')) return NULL;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
    return NULL;
}

static int (*iron_libc_setenv)(const char *, const char *, int);
static int (*iron_libc_unsetenv)(const char *);

__attribute__((visibility("hidden"))) int __wrap_setenv(const char *name, const char *value, int overwrite)
{
    if (!iron_libc_setenv) iron_libc_setenv = (int (*)(const char *, const char *, int))dlsym(RTLD_NEXT, "setenv");
    return iron_libc_setenv(name, value, overwrite);
}

__attribute__((visibility("hidden"))) int __wrap_unsetenv(const char *name)
{
    if (!iron_libc_unsetenv) iron_libc_unsetenv = (int (*)(const char *))dlsym(RTLD_NEXT, "unsetenv");
    return iron_libc_unsetenv(name);
}
