/*
 * Locked state.
 *
 * 18. What decides whether a hook judges (the ready flag, the per-list flags, the process control's
 *     configuration, each control's action) lives on a page of its own, made read-only once the
 *     constructor has started the library: code in the process that writes memory (ctypes, a native
 *     module) gets a fault instead of switching judging off. read_handler's armed flag has a page of its
 *     own, locked when it arms. The names the rest of the glue uses are symbols at fixed offsets of the
 *     page (the trampolines' assembly reads them %rip-relative, as before).
 */
#include "glue.h"
#include <stddef.h>
#include <sys/mman.h>

#define IRON_PAGE 4096

struct iron_locked_state
{
    volatile unsigned char hooks_ready;     /* 0 */
    unsigned char process_protect_tree;     /* 1 */
    unsigned char control_files;            /* 2 */
    unsigned char control_network;          /* 3 */
    unsigned char control_lifecycle;        /* 4 */
    unsigned char control_process;          /* 5 */
    unsigned char actions[4];               /* 6: read_write_tmp, create_child_process, read_handler, outbound_connectivity */
    unsigned char strip_deepbind;           /* 10: dlopen drops RTLD_DEEPBIND (lookups.c) */
    struct iron_process_config process_cfg; /* 16 */
};

IRON_SHARED union { struct iron_locked_state s; char page[IRON_PAGE]; } iron_locked __attribute__((aligned(IRON_PAGE))) =
    { .s = { .control_files = 1, .control_network = 1, .control_lifecycle = 1, .control_process = 1 } };

_Static_assert(offsetof(struct iron_locked_state, hooks_ready) == 0, "iron_hooks_ready");
_Static_assert(offsetof(struct iron_locked_state, process_protect_tree) == 1, "iron_process_protect_tree");
_Static_assert(offsetof(struct iron_locked_state, control_files) == 2, "iron_control_files");
_Static_assert(offsetof(struct iron_locked_state, control_network) == 3, "iron_control_network");
_Static_assert(offsetof(struct iron_locked_state, control_lifecycle) == 4, "iron_control_lifecycle");
_Static_assert(offsetof(struct iron_locked_state, control_process) == 5, "iron_control_process");
_Static_assert(offsetof(struct iron_locked_state, strip_deepbind) == 10, "iron_strip_deepbind");
_Static_assert(offsetof(struct iron_locked_state, process_cfg) == 16, "iron_process_cfg");

#define IRON_LOCKED_NAME(name, offset) \
    __asm__(".globl " #name "\n.hidden " #name "\n.type " #name ",@object\n.set " #name ", iron_locked + " #offset "\n");
IRON_LOCKED_NAME(iron_hooks_ready, 0)
IRON_LOCKED_NAME(iron_process_protect_tree, 1)
IRON_LOCKED_NAME(iron_control_files, 2)
IRON_LOCKED_NAME(iron_control_network, 3)
IRON_LOCKED_NAME(iron_control_lifecycle, 4)
IRON_LOCKED_NAME(iron_control_process, 5)
IRON_LOCKED_NAME(iron_strip_deepbind, 10)
IRON_LOCKED_NAME(iron_process_cfg, 16)

/* read_handler's armed flag: written once, at arming, then locked */
static union { volatile unsigned char armed; char page[IRON_PAGE]; } handler_page __attribute__((aligned(IRON_PAGE)));

/* From the managed start: each control's action (IRON_ALLOW, IRON_ALERT, IRON_BLOCK), before the page is locked. */
IRON_SHARED void iron_native_set_actions(int tmp, int child, int handler, int outbound)
{
    iron_locked.s.actions[0] = (unsigned char)tmp;
    iron_locked.s.actions[1] = (unsigned char)child;
    iron_locked.s.actions[2] = (unsigned char)handler;
    iron_locked.s.actions[3] = (unsigned char)outbound;
}

IRON_SHARED int iron_native_action(int control) { return (unsigned)control < 4 ? iron_locked.s.actions[control] : IRON_BLOCK; }

/* The end of the constructor: nothing in the page changes afterwards. A failure leaves it writable (said in the log). */
IRON_SHARED int iron_lock_state(void) { return mprotect(&iron_locked, IRON_PAGE, PROT_READ) | iron_prefilter_lock(); }

IRON_SHARED int iron_native_handler_armed(void) { return handler_page.armed; }

IRON_SHARED int iron_native_arm_handler(void)
{
    if (handler_page.armed) return 0;
    handler_page.armed = 1;
    return mprotect(&handler_page, IRON_PAGE, PROT_READ);
}
