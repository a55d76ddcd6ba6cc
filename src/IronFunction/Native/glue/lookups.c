/*
 * Lookups.
 *
 * 10. dlsym and dlvsym are exported here, so that every way of looking a hooked function up hands out
 *     the library's entry: dlsym or dlvsym on any handle (dlopen("libc.so.6"), ctypes.CDLL), a versioned
 *     lookup (an unversioned export never matches one), RTLD_NEXT from a module loaded after start (it
 *     searches that module's own dependencies: libc). Names the library does not export go to libc's own
 *     dlsym by a tail jump, so RTLD_NEXT still searches from the caller's return address. The library's
 *     own lookups (iron_native_resolve, the runtime, OpenSSL's loading) and an interposer loaded at start
 *     between this library and libc chaining with RTLD_NEXT (LD_PRELOAD=ours:other) get libc's answer.
 *
 * dlopen is exported too, to drop RTLD_DEEPBIND when some control blocks (a module loaded with it binds its own
 * references to libc before this library's exports), and, with dlmopen, to judge the file it loads: loading code
 * is reading it (read_write_tmp, read_handler). A name without a slash is the file ld.so would find for the
 * caller: an object already loaded under that name reads nothing, else the first directory of the caller's
 * search path (RTLD_DI_SERINFO: its RPATH, LD_LIBRARY_PATH as the process started, its RUNPATH, $ORIGIN
 * expanded, the system directories) that holds the name.
 *
 * libc's dlsym, dlvsym and dlopen are found in libc's dynamic symbol table: the library's own references to
 * dlsym bind to its export, and so would a call to dlsym for them.
 */
#include "glue.h"
#include <elf.h>
#include <link.h>

/* libc's dlsym, dlvsym, dlopen and dlmopen, where the exports jump (found once, any thread may find them again) */
IRON_SHARED void *iron_real_dlsym, *iron_real_dlvsym, *iron_real_dlopen, *iron_real_dlmopen;
extern IRON_SHARED unsigned char iron_control_files;
/* The managed judge (Hooks/FileHooks.Indirect.cs): 1 to go on, 0 denied with errno EACCES. */
extern int iron_files_dlopen(const char *path, int dlmopen);
/* Some control blocks: dlopen drops RTLD_DEEPBIND, which binds a module's own references to libc first. On the locked
   page (locked.c): set at start, read-only after it. */
extern IRON_SHARED unsigned char iron_strip_deepbind;

__attribute__((visibility("hidden"))) void iron_native_set_strip_deepbind(int on) { iron_strip_deepbind = on != 0; }

struct image
{
    uintptr_t base, low, high;
    const ElfW(Dyn) *dynamic;
};

static struct image own, libc;
/* Objects loaded at start between this library and libc in the search order: interposers that may chain on. */
#define IRON_MAX_BETWEEN 32
static struct link_map *between[IRON_MAX_BETWEEN];
static int between_count;
static volatile int lookups_ready;

static uint32_t gnu_hash(const char *name)
{
    uint32_t h = 5381;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) h = h * 33 + *c;
    return h;
}

/* ld.so relocates most objects' dynamic entries in place, not all of them (a read-only dynamic section). */
static uintptr_t dyn_ptr(uintptr_t base, uintptr_t value) { return value < base ? base + value : value; }

/* The default definition of name in an object's dynamic symbol table (its GNU hash table), or NULL. */
static void *elf_lookup(uintptr_t base, const ElfW(Dyn) *dynamic, const char *name)
{
    const uint32_t *hash = NULL;
    const ElfW(Sym) *symbols = NULL;
    const char *strings = NULL;
    const ElfW(Half) *versions = NULL;
    if (!dynamic) return NULL;
    for (const ElfW(Dyn) *d = dynamic; d->d_tag != DT_NULL; d++)
    {
        if (d->d_tag == DT_GNU_HASH) hash = (const uint32_t *)dyn_ptr(base, d->d_un.d_ptr);
        else if (d->d_tag == DT_SYMTAB) symbols = (const ElfW(Sym) *)dyn_ptr(base, d->d_un.d_ptr);
        else if (d->d_tag == DT_STRTAB) strings = (const char *)dyn_ptr(base, d->d_un.d_ptr);
        else if (d->d_tag == DT_VERSYM) versions = (const ElfW(Half) *)dyn_ptr(base, d->d_un.d_ptr);
    }
    if (!hash || !symbols || !strings || hash[0] == 0) return NULL;
    uint32_t buckets = hash[0], offset = hash[1], blooms = hash[2];
    const uint32_t *bucket = (const uint32_t *)((const ElfW(Addr) *)&hash[4] + blooms);
    const uint32_t *chain = bucket + buckets;
    uint32_t h = gnu_hash(name);
    for (uint32_t i = bucket[h % buckets]; i >= offset && i != 0; i++)
    {
        uint32_t c = chain[i - offset];
        const ElfW(Sym) *s = &symbols[i];
        if ((c | 1) == (h | 1) && s->st_shndx != SHN_UNDEF && s->st_value != 0
            && !(versions && (versions[i] & 0x8000)) && strcmp(strings + s->st_name, name) == 0)
            return (void *)(base + s->st_value);
        if (c & 1) break;
    }
    return NULL;
}

static int inside(const struct image *m, const void *p) { return (uintptr_t)p >= m->low && (uintptr_t)p < m->high; }

static int find_images(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    (void)data;
    struct image m = { info->dlpi_addr, UINTPTR_MAX, 0, NULL };
    for (int i = 0; i < info->dlpi_phnum; i++)
    {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type == PT_DYNAMIC) m.dynamic = (const ElfW(Dyn) *)(info->dlpi_addr + p->p_vaddr);
        if (p->p_type != PT_LOAD) continue;
        if (info->dlpi_addr + p->p_vaddr < m.low) m.low = info->dlpi_addr + p->p_vaddr;
        if (info->dlpi_addr + p->p_vaddr + p->p_memsz > m.high) m.high = info->dlpi_addr + p->p_vaddr + p->p_memsz;
    }
    const char *slash = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;
    const char *file = slash ? slash + 1 : info->dlpi_name;
    if (inside(&m, (const void *)&find_images)) own = m;
    else if (file && strcmp(file, "libc.so.6") == 0 && !libc.dynamic) libc = m;
    return 0;
}

static void lookups_init(void)
{
    if (lookups_ready) return;
    dl_iterate_phdr(find_images, NULL);
    void *s = elf_lookup(libc.base, libc.dynamic, "dlsym"), *v = elf_lookup(libc.base, libc.dynamic, "dlvsym");
    void *o = elf_lookup(libc.base, libc.dynamic, "dlopen"), *m = elf_lookup(libc.base, libc.dynamic, "dlmopen");
    if (!s || !v || !o || !m) return; /* no libc found (never seen) */
    Dl_info info;
    struct link_map *me = NULL, *l;
    int n = 0;
    if (dladdr1((void *)&find_images, &info, (void **)&me, RTLD_DL_LINKMAP) && me)
    {
        for (l = me->l_next; l && l->l_addr != libc.base && n < IRON_MAX_BETWEEN; l = l->l_next) between[n++] = l;
        if (!l || l->l_addr != libc.base) n = 0; /* libc comes first: nothing sits between */
    }
    between_count = n;
    iron_real_dlsym = s;
    iron_real_dlvsym = v;
    iron_real_dlopen = o;
    iron_real_dlmopen = m;
    __atomic_store_n(&lookups_ready, 1, __ATOMIC_RELEASE);
}

/* For dlopen before anything else was looked up. */
__attribute__((visibility("hidden"), used)) void iron_lookups_init(void) { lookups_init(); }

static struct link_map *object_of(const void *p)
{
    Dl_info info;
    struct link_map *m = NULL;
    return dladdr1(p, &info, (void **)&m, RTLD_DL_LINKMAP) ? m : NULL;
}

/* A libc of its own in another namespace (dlmopen(LM_ID_NEWLM, "libc.so.6")) has no library in front of it. */
static int is_libc(const struct link_map *m)
{
    const char *slash = m && m->l_name ? strrchr(m->l_name, '/') : NULL;
    return m && m->l_name && strcmp(slash ? slash + 1 : m->l_name, "libc.so.6") == 0;
}

static int is_between(const struct link_map *m)
{
    for (int i = 0; m && i < between_count; i++)
        if (between[i] == m) return 1;
    return 0;
}

/*
 * Called by the dlsym and dlvsym exports with the caller's return address. 0: libc's lookup answers (the
 * export tail-jumps to it); 1: *result is the answer.
 */
__attribute__((visibility("hidden"), used)) int iron_lookup_decide(void *handle, const char *name, const char *version,
                                                                   void *caller, void **result)
{
    lookups_init();
    if (!lookups_ready)
    {
        *result = NULL;
        return 1;
    }
    if (inside(&own, caller) || unreadable(name)) return 0;
    /* the library exports exactly the hooked names (and dlsym, dlvsym): those are the ones to hand out */
    void *ours = elf_lookup(own.base, own.dynamic, name);
    if (!ours) return 0;
    struct link_map *from = between_count ? object_of(caller) : NULL;
    if (from && is_between(from) && elf_lookup(from->l_addr, from->l_ld, name)) return 0;
    if (handle == RTLD_NEXT)
    {
        *result = ours;
        return 1;
    }
    void *found = version ? ((void *(*)(void *, const char *, const char *))iron_real_dlvsym)(handle, name, version)
                          : ((void *(*)(void *, const char *))iron_real_dlsym)(handle, name);
    struct link_map *owner = found && !inside(&libc, found) ? object_of(found) : NULL;
    *result = found && (inside(&libc, found) || is_libc(owner) || is_between(owner)) ? ours : found;
    return 1;
}

/* The file a dlopen of name by caller reads, into out; 0 when it reads none (already loaded, not found). */
static int file_to_load(const char *name, void *caller, char *out, size_t cap)
{
    if (strchr(name, '/')) return strlen(name) < cap ? (memcpy(out, name, strlen(name) + 1), 1) : 0;
    void *loaded = ((void *(*)(const char *, int))iron_real_dlopen)(name, RTLD_LAZY | RTLD_NOLOAD);
    if (loaded) { dlclose(loaded); return 0; }
    struct link_map *from = object_of(caller);
    Dl_serinfo size;
    if (!from || dlinfo(from, RTLD_DI_SERINFOSIZE, &size) != 0 || size.dls_size > 65536) return 0;
    Dl_serinfo *paths = alloca(size.dls_size);
    memcpy(paths, &size, sizeof size);
    if (dlinfo(from, RTLD_DI_SERINFO, paths) != 0) return 0;
    for (unsigned i = 0; i < paths->dls_cnt; i++)
    {
        const char *dir = paths->dls_serpath[i].dls_name;
        size_t d = strlen(dir), n = strlen(name);
        if (!d || d + 1 + n >= cap) continue;
        memcpy(out, dir, d);
        out[d] = '/';
        memcpy(out + d + 1, name, n + 1);
        if (syscall(SYS_faccessat, AT_FDCWD, out, F_OK) == 0) return 1;
    }
    return 0;
}

/* Called by the dlopen and dlmopen exports: nonzero when loading name is denied (errno EACCES). */
__attribute__((visibility("hidden"), used)) int iron_dlopen_denied(const char *name, void *caller, int dlmopen)
{
    if (!iron_hooks_ready || !iron_control_files || !name || unreadable(name)) return 0;
    if (iron_in_vfork_child ? !iron_process_protect_tree : iron_hook_frame.active) return 0;
    lookups_init();
    if (!lookups_ready || inside(&own, caller)) return 0;
    int saved = errno;
    char path[PATH_MAX];
    int denied = 0;
    if (file_to_load(name, caller, path, sizeof path))
        denied = iron_in_vfork_child ? !iron_files_dlopen(path, dlmopen) : !IRON_MANAGED(iron_files_dlopen(path, dlmopen));
    if (!denied) errno = saved;
    return denied;
}

/* dlsym and dlvsym: ask iron_lookup_decide, and return its answer or tail-jump to libc's with the arguments
   and the caller's return address as they came. */
#if defined(__aarch64__)
/* aarch64: the caller's return address is x30, given back before the tail jump */
__asm__(".text\n"
        ".globl dlsym\n"
        ".type dlsym,@function\n"
        "dlsym:\n"
        "    stp x29, x30, [sp, #-48]!\n"
        "    mov x29, sp\n"
        "    stp x0, x1, [sp, #16]\n"
        "    mov x2, xzr\n"
        "    mov x3, x30\n"
        "    add x4, sp, #32\n"
        "    bl iron_lookup_decide\n"
        "    cbz w0, 1f\n"
        "    ldr x0, [sp, #32]\n"
        "    ldp x29, x30, [sp], #48\n"
        "    ret\n"
        "1:  ldp x0, x1, [sp, #16]\n"
        "    ldp x29, x30, [sp], #48\n"
        IRON_A64_LOAD("ldr", "x16", "iron_real_dlsym")
        "    br x16\n"
        ".size dlsym, .-dlsym\n"
        ".globl dlvsym\n"
        ".type dlvsym,@function\n"
        "dlvsym:\n"
        "    stp x29, x30, [sp, #-64]!\n"
        "    mov x29, sp\n"
        "    stp x0, x1, [sp, #16]\n"
        "    str x2, [sp, #32]\n"
        "    mov x3, x30\n"
        "    add x4, sp, #40\n"
        "    bl iron_lookup_decide\n"
        "    cbz w0, 1f\n"
        "    ldr x0, [sp, #40]\n"
        "    ldp x29, x30, [sp], #64\n"
        "    ret\n"
        "1:  ldp x0, x1, [sp, #16]\n"
        "    ldr x2, [sp, #32]\n"
        "    ldp x29, x30, [sp], #64\n"
        IRON_A64_LOAD("ldr", "x16", "iron_real_dlvsym")
        "    br x16\n"
        ".size dlvsym, .-dlvsym\n"
        ".globl dlopen\n"
        ".type dlopen,@function\n"
        "dlopen:\n"
        IRON_A64_LOAD("ldrb", "w16", "iron_strip_deepbind")
        "    cbz w16, 1f\n"
        "    and w1, w1, #0xfffffff7\n"
        "1:  stp x29, x30, [sp, #-32]!\n"
        "    mov x29, sp\n"
        "    stp x0, x1, [sp, #16]\n"
        IRON_A64_LOAD("ldr", "x16", "iron_real_dlopen")
        "    cbnz x16, 2f\n"
        "    bl iron_lookups_init\n"
        "2:  ldr x0, [sp, #16]\n"
        "    ldr x1, [sp, #8]\n"
        "    mov w2, #0\n"
        "    bl iron_dlopen_denied\n"
        "    cbnz w0, 9f\n"
        "    ldp x0, x1, [sp, #16]\n"
        "    ldp x29, x30, [sp], #32\n"
        IRON_A64_LOAD("ldr", "x16", "iron_real_dlopen")
        "    br x16\n"
        "9:  ldp x29, x30, [sp], #32\n"
        "    mov x0, xzr\n"
        "    ret\n"
        ".size dlopen, .-dlopen\n"
        /* dlmopen: the same, for a namespace of the caller's choosing */
        ".globl dlmopen\n"
        ".type dlmopen,@function\n"
        "dlmopen:\n"
        IRON_A64_LOAD("ldrb", "w16", "iron_strip_deepbind")
        "    cbz w16, 1f\n"
        "    and w2, w2, #0xfffffff7\n"
        "1:  stp x29, x30, [sp, #-48]!\n"
        "    mov x29, sp\n"
        "    stp x0, x1, [sp, #16]\n"
        "    str x2, [sp, #32]\n"
        IRON_A64_LOAD("ldr", "x16", "iron_real_dlmopen")
        "    cbnz x16, 2f\n"
        "    bl iron_lookups_init\n"
        "2:  ldr x0, [sp, #24]\n"
        "    ldr x1, [sp, #8]\n"
        "    mov w2, #1\n"
        "    bl iron_dlopen_denied\n"
        "    cbnz w0, 9f\n"
        "    ldp x0, x1, [sp, #16]\n"
        "    ldr x2, [sp, #32]\n"
        "    ldp x29, x30, [sp], #48\n"
        IRON_A64_LOAD("ldr", "x16", "iron_real_dlmopen")
        "    br x16\n"
        "9:  ldp x29, x30, [sp], #48\n"
        "    mov x0, xzr\n"
        "    ret\n"
        ".size dlmopen, .-dlmopen\n");
#else
__asm__(".text\n"
        ".globl dlsym\n"
        ".type dlsym,@function\n"
        "dlsym:\n"
        "    push %rdi\n"
        "    push %rsi\n"
        "    sub $24, %rsp\n"
        "    xor %edx, %edx\n"
        "    mov 40(%rsp), %rcx\n"
        "    mov %rsp, %r8\n"
        "    call iron_lookup_decide\n"
        "    test %eax, %eax\n"
        "    jz 1f\n"
        "    mov (%rsp), %rax\n"
        "    add $24, %rsp\n"
        "    pop %rsi\n"
        "    pop %rdi\n"
        "    ret\n"
        "1:  add $24, %rsp\n"
        "    pop %rsi\n"
        "    pop %rdi\n"
        "    jmp *iron_real_dlsym(%rip)\n"
        ".size dlsym, .-dlsym\n"
        ".globl dlvsym\n"
        ".type dlvsym,@function\n"
        "dlvsym:\n"
        "    push %rdi\n"
        "    push %rsi\n"
        "    push %rdx\n"
        "    sub $16, %rsp\n"
        "    mov 40(%rsp), %rcx\n"
        "    mov %rsp, %r8\n"
        "    call iron_lookup_decide\n"
        "    test %eax, %eax\n"
        "    jz 1f\n"
        "    mov (%rsp), %rax\n"
        "    add $16, %rsp\n"
        "    pop %rdx\n"
        "    pop %rsi\n"
        "    pop %rdi\n"
        "    ret\n"
        "1:  add $16, %rsp\n"
        "    pop %rdx\n"
        "    pop %rsi\n"
        "    pop %rdi\n"
        "    jmp *iron_real_dlvsym(%rip)\n"
        ".size dlvsym, .-dlvsym\n"
        /* dlopen: libc's, by a tail jump (it searches the caller's RUNPATH and namespace), without RTLD_DEEPBIND (8)
           when some control blocks (the library itself never asks for it), once the file it loads is judged */
        ".globl dlopen\n"
        ".type dlopen,@function\n"
        "dlopen:\n"
        "    cmpb $0, iron_strip_deepbind(%rip)\n"
        "    je 1f\n"
        "    and $-9, %esi\n"
        "1:  push %rdi\n"
        "    push %rsi\n"
        "    sub $8, %rsp\n"
        "    cmpq $0, iron_real_dlopen(%rip)\n"
        "    jne 2f\n"
        "    call iron_lookups_init\n"
        "2:  mov 16(%rsp), %rdi\n"
        "    mov 24(%rsp), %rsi\n"
        "    xor %edx, %edx\n"
        "    call iron_dlopen_denied\n"
        "    add $8, %rsp\n"
        "    pop %rsi\n"
        "    pop %rdi\n"
        "    test %eax, %eax\n"
        "    jnz 9f\n"
        "    jmp *iron_real_dlopen(%rip)\n"
        "9:  xor %eax, %eax\n"
        "    ret\n"
        ".size dlopen, .-dlopen\n"
        /* dlmopen: the same, for a namespace of the caller's choosing */
        ".globl dlmopen\n"
        ".type dlmopen,@function\n"
        "dlmopen:\n"
        "    cmpb $0, iron_strip_deepbind(%rip)\n"
        "    je 1f\n"
        "    and $-9, %edx\n"
        "1:  push %rdi\n"
        "    push %rsi\n"
        "    push %rdx\n"
        "    cmpq $0, iron_real_dlmopen(%rip)\n"
        "    jne 2f\n"
        "    call iron_lookups_init\n"
        "2:  mov 8(%rsp), %rdi\n"
        "    mov 24(%rsp), %rsi\n"
        "    mov $1, %edx\n"
        "    call iron_dlopen_denied\n"
        "    pop %rdx\n"
        "    pop %rsi\n"
        "    pop %rdi\n"
        "    test %eax, %eax\n"
        "    jnz 9f\n"
        "    jmp *iron_real_dlmopen(%rip)\n"
        "9:  xor %eax, %eax\n"
        "    ret\n"
        ".size dlmopen, .-dlmopen\n");
#endif
