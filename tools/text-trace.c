/*
 * Records which instructions of a library's text a process executes, for tools/method-order. Preloaded after the
 * library (LD_PRELOAD="lib_iron_function.so text-trace.so": its constructor runs first), it makes the library's
 * text PROT_NONE; each fault unprotects its page for one single-stepped instruction (the trap flag) and protects it
 * again, so every executed instruction is seen, not only the first of each page. Slow (tens of seconds for a
 * process start) and for measuring only. TRACE_LIB: a substring of the library's path; TRACE_OUT: the output
 * file's prefix (".<pid>" is appended): one hexadecimal offset from the library's base per line.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "text-trace single-steps with the x86-64 trap flag"
#endif

static uintptr_t lo, hi, base;
static unsigned char seen[1 << 22];
/* the pages unprotected for the instruction being stepped on this thread (one instruction may span two) */
static __thread uintptr_t pending[4];
static __thread int npending;
static struct sigaction next_segv, next_trap;
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

static int find(struct dl_phdr_info *info, size_t size, void *target)
{
    if (!info->dlpi_name || !strstr(info->dlpi_name, (const char *)target)) return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_X))
        {
            base = info->dlpi_addr;
            lo = (base + info->dlpi_phdr[i].p_vaddr) & ~4095UL;
            hi = (base + info->dlpi_phdr[i].p_vaddr + info->dlpi_phdr[i].p_memsz + 4095) & ~4095UL;
        }
    return 1;
}

static void chain(struct sigaction *next, int sig, siginfo_t *si, void *uc)
{
    if (next->sa_flags & SA_SIGINFO) { if (next->sa_sigaction) next->sa_sigaction(sig, si, uc); return; }
    if (next->sa_handler == SIG_DFL || next->sa_handler == SIG_IGN) { signal(sig, SIG_DFL); raise(sig); return; }
    next->sa_handler(sig);
}

static void on_segv(int sig, siginfo_t *si, void *context)
{
    ucontext_t *uc = context;
    uintptr_t address = (uintptr_t)si->si_addr;
    if (address < lo || address >= hi || npending >= 4) { chain(&next_segv, sig, si, context); return; }
    uintptr_t ip = uc->uc_mcontext.gregs[REG_RIP];
    if (ip >= lo && ip < hi && ip - base < sizeof seen * 8) seen[(ip - base) >> 3] |= 1 << ((ip - base) & 7);
    uintptr_t page = address & ~4095UL;
    mprotect((void *)page, 4096, PROT_READ | PROT_EXEC);
    pending[npending++] = page;
    uc->uc_mcontext.gregs[REG_EFL] |= 0x100;
}

static void on_trap(int sig, siginfo_t *si, void *context)
{
    ucontext_t *uc = context;
    if (!npending) { chain(&next_trap, sig, si, context); return; }
    for (int i = 0; i < npending; i++) mprotect((void *)pending[i], 4096, PROT_NONE);
    npending = 0;
    uc->uc_mcontext.gregs[REG_EFL] &= ~0x100UL;
}

/* the traced library's runtime installs its own SIGSEGV handler: it is kept behind this one, never in front */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (!real_sigaction) real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
    if (lo && (sig == SIGSEGV || sig == SIGTRAP))
    {
        struct sigaction *next = sig == SIGSEGV ? &next_segv : &next_trap;
        if (old) *old = *next;
        if (act) *next = *act;
        return 0;
    }
    return real_sigaction(sig, act, old);
}

__attribute__((constructor)) static void start(void)
{
    const char *target = getenv("TRACE_LIB");
    if (!target) return;
    real_sigaction = (int (*)(int, const struct sigaction *, struct sigaction *))dlsym(RTLD_NEXT, "sigaction");
    dl_iterate_phdr(find, (void *)target);
    if (!lo) return;
    struct sigaction s;
    memset(&s, 0, sizeof s);
    s.sa_flags = SA_SIGINFO | SA_NODEFER;
    s.sa_sigaction = on_segv;
    real_sigaction(SIGSEGV, &s, &next_segv);
    s.sa_sigaction = on_trap;
    real_sigaction(SIGTRAP, &s, &next_trap);
    mprotect((void *)lo, hi - lo, PROT_NONE);
}

__attribute__((destructor)) static void stop(void)
{
    if (!lo) return;
    mprotect((void *)lo, hi - lo, PROT_READ | PROT_EXEC);
    const char *prefix = getenv("TRACE_OUT");
    char path[4096];
    snprintf(path, sizeof path, "%s.%d", prefix ? prefix : "text-trace", (int)getpid());
    FILE *f = fopen(path, "w");
    if (!f) return;
    for (size_t i = 0; i < sizeof seen * 8; i++)
        if (seen[i >> 3] & (1 << (i & 7))) fprintf(f, "%zx\n", i);
    fclose(f);
}
