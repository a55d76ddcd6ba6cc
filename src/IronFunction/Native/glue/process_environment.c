/*
 * The environment a new program gets: when some control is not allow it keeps LD_PRELOAD naming this library
 * and the kept variables, whatever environment its caller passed. In C: a vfork child builds it, on its stack.
 */
#include "glue.h"

/* ---- the protected environment ---- */

static int is_var(const char *entry, const char *name, size_t n) { return strncmp(entry, name, n) == 0; }

#define LD_PRELOAD_EQ "LD_PRELOAD="

/* Is the entry a definition of the name (NAME=...)? */
static int defines(const char *entry, const char *name)
{
    size_t n = strlen(name);
    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

/* The kept variable an entry defines, or -1. */
static int kept(const char *entry)
{
    for (int k = 0; k < iron_process_cfg.keep_count; k++)
        if (defines(entry, iron_process_cfg.keep_names[k])) return k;
    return -1;
}

/* Does an LD_PRELOAD value name this library? ld.so splits it on ':' and ' '. */
static int names_library(const char *value)
{
    const char *p = value;
    while (*p)
    {
        while (*p == ':' || *p == ' ') p++;
        const char *start = p;
        while (*p && *p != ':' && *p != ' ') p++;
        size_t n = (size_t)(p - start);
        if (n == 0) continue;
        if (strlen(iron_process_cfg.library) == n && memcmp(start, iron_process_cfg.library, n) == 0) return 1;
        if (iron_process_cfg.library_as_loaded && strlen(iron_process_cfg.library_as_loaded) == n && memcmp(start, iron_process_cfg.library_as_loaded, n) == 0)
            return 1;
    }
    return 0;
}

void iron_plan_env(char *const *envp, struct env_plan *plan)
{
    size_t preloads = 0, seen[IRON_MAX_KEEP] = { 0 }, right[IRON_MAX_KEEP] = { 0 };
    plan->count = 0;
    plan->last_preload = NULL;
    for (char *const *e = envp; e && *e; e++)
    {
        plan->count++;
        if (unreadable(*e)) continue;
        if (is_var(*e, LD_PRELOAD_EQ, sizeof LD_PRELOAD_EQ - 1)) { preloads++; plan->last_preload = *e + sizeof LD_PRELOAD_EQ - 1; continue; }
        int k = kept(*e);
        if (k >= 0) { seen[k]++; right[k] += iron_process_cfg.keep_entries[k] && strcmp(*e, iron_process_cfg.keep_entries[k]) == 0; }
    }
    plan->rebuild = !(preloads == 1 && names_library(plan->last_preload));
    for (int k = 0; k < iron_process_cfg.keep_count; k++)
        if (iron_process_cfg.keep_entries[k] ? seen[k] != 1 || right[k] != 1 : seen[k] != 0) plan->rebuild = 1;
}

/* Bytes iron_build_env needs: the pointer array, and a merged LD_PRELOAD entry when the caller set another. */
size_t iron_env_bytes(const struct env_plan *plan)
{
    size_t bytes = (plan->count + 2 + (size_t)iron_process_cfg.keep_count) * sizeof(char *);
    if (plan->last_preload && *plan->last_preload && !names_library(plan->last_preload))
        bytes += strlen(iron_preload_entry) + 1 + strlen(plan->last_preload) + 1;
    return bytes;
}

/* The caller's environment without its LD_PRELOAD and kept variables, then one LD_PRELOAD that names this
   library (in front of the caller's own preloads) and the kept variables as this process has them. */
char **iron_build_env(char *const *envp, const struct env_plan *plan, char *scratch)
{
    char **out = (char **)scratch;
    char *merged = scratch + (plan->count + 2 + (size_t)iron_process_cfg.keep_count) * sizeof(char *);
    size_t j = 0;
    for (char *const *e = envp; e && *e; e++)
    {
        if (!unreadable(*e) && (is_var(*e, LD_PRELOAD_EQ, sizeof LD_PRELOAD_EQ - 1) || kept(*e) >= 0))
            continue;
        out[j++] = *e;
    }
    if (plan->last_preload && names_library(plan->last_preload))
        out[j++] = (char *)plan->last_preload - (sizeof LD_PRELOAD_EQ - 1);
    else if (plan->last_preload && *plan->last_preload)
    {
        strcpy(merged, iron_preload_entry);
        strcat(merged, ":");
        strcat(merged, plan->last_preload);
        out[j++] = merged;
    }
    else
        out[j++] = iron_preload_entry;
    for (int k = 0; k < iron_process_cfg.keep_count; k++)
        if (iron_process_cfg.keep_entries[k]) out[j++] = (char *)iron_process_cfg.keep_entries[k];
    out[j] = NULL;
    return out;
}

/* system() and popen() hand the process's own environment to the shell and take no other: when the
   process removed the protection from it, it is put back (LD_PRELOAD and the kept variables only). */
void iron_protect_own_environment(void)
{
    if (!iron_process_protect_tree) return;
    struct env_plan plan;
    iron_plan_env(environ, &plan);
    if (!plan.rebuild) return;
    char *merged = NULL;
    if (plan.last_preload && *plan.last_preload && !names_library(plan.last_preload))
    {
        char *front = iron_joined(iron_process_cfg.library, ":");
        if (front) merged = iron_joined(front, plan.last_preload);
        free(front);
    }
    else if (plan.last_preload && *plan.last_preload)
        merged = strdup(plan.last_preload);
    unsetenv("LD_PRELOAD");
    setenv("LD_PRELOAD", merged ? merged : iron_process_cfg.library, 1);
    free(merged);
    for (int k = 0; k < iron_process_cfg.keep_count; k++)
    {
        unsetenv(iron_process_cfg.keep_names[k]);
        if (iron_process_cfg.keep_entries[k]) setenv(iron_process_cfg.keep_names[k], iron_process_cfg.keep_entries[k] + strlen(iron_process_cfg.keep_names[k]) + 1, 1);
    }
}
