/*
 * 19. The library's own log messages (not events) are formatted by a second NativeAOT image,
 * lib_iron_function_log.so beside the library (Microsoft.Extensions.Logging over Serilog, src/IronFunction.Log).
 * It is loaded the first time a message passes its level: a quiet process never maps it nor starts its
 * runtime, and the library's own image stays small (its start and memory follow its size). Two NativeAOT
 * runtimes coexist: each chains the signals it does not own to the handler installed before it.
 */
#include "glue.h"

/* lookups.c: libc's own dlopen/dlsym, so that loading the image is not judged as the function's dlopen */
IRON_SHARED void iron_lookups_init(void);
extern IRON_SHARED void *iron_real_dlsym, *iron_real_dlopen;

typedef int (*format_fn)(const char *levels, intptr_t levels_length, const char *area, intptr_t area_length, int level,
                         const char *message, intptr_t message_length, void (*write_line)(const char *, size_t));

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static format_fn formatter;

static void load(void)
{
    Dl_info info;
    if (!dladdr((void *)&load, &info) || !info.dli_fname) return;
    const char *slash = strrchr(info.dli_fname, '/');
    /* a library found by bare name: its directory is unknown, and the caller writes the line itself */
    if (!slash) return;
    static const char image[] = "/lib_iron_function_log.so";
    size_t dir = (size_t)(slash - info.dli_fname);
    char path[PATH_MAX];
    if (dir + sizeof image > sizeof path) return;
    memcpy(path, info.dli_fname, dir);
    memcpy(path + dir, image, sizeof image);
    iron_lookups_init();
    if (!iron_real_dlopen || !iron_real_dlsym) return;
    int saved = errno;
    void *handle = ((void *(*)(const char *, int))iron_real_dlopen)(path, RTLD_NOW | RTLD_LOCAL);
    if (handle) formatter = (format_fn)((void *(*)(void *, const char *))iron_real_dlsym)(handle, "iron_log_format");
    errno = saved;
}

/* 0: the image wrote the message's lines to the log stream; -1: no image here, a vfork child, or it failed (the caller
   writes the line itself). */
int iron_log_image_write(const char *levels, size_t levels_length, const char *area, size_t area_length, int level,
                         const char *message, size_t message_length)
{
    /* a vfork child shares its parent's memory: a second runtime is neither started nor entered there */
    if (iron_in_vfork_child) return -1;
    pthread_once(&load_once, load);
    if (!formatter) return -1;
    return formatter(levels, (intptr_t)levels_length, area, (intptr_t)area_length, level, message, (intptr_t)message_length,
                     iron_log_line);
}
