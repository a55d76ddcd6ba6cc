/* lookup_module: dlopen'ed by lookup_probe after start, as a Python or Node native extension is. Its RTLD_NEXT
   searches its own dependencies (lookup_dep, libc), not the global scope. */
#define _GNU_SOURCE
#include <dlfcn.h>

void *lookup_next(const char *name) { return dlsym(RTLD_NEXT, name); }
void *lookup_nextv(const char *name, const char *version) { return dlvsym(RTLD_NEXT, name, version); }
