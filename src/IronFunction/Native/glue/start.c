/*
 * Start.
 *
 * 4. An ELF constructor starts the library while the process is still single-threaded.
 */
#include "glue.h"

__attribute__((constructor)) static void iron_function_preload_init(void)
{
    iron_log_init();
    iron_native_resolve();
    iron_function_start();
    iron_exit_fork_init();
    pthread_atfork(iron_before_fork, 0, iron_after_fork_child);
    atexit(iron_function_at_exit);
    iron_process_init();
    iron_hooks_ready = 1;
    /* from here on nothing that decides whether a hook judges may change */
    if (iron_lock_state() != 0) { static const char line[] = "iron-function WRN [lifecycle] cannot make the library's state read-only\n"; iron_log_line(line, sizeof line - 1); }
}
