/*
 * The resolver's configuration.
 *
 * 11. glibc's resolver builds the name it asks, and picks the server it asks, from more than the name a
 *     lookup is given: LOCALDOMAIN and RES_OPTIONS (the search list, ndots) when a resolver state is
 *     initialised, the file HOSTALIASES names at each lookup of a single-label name, and the thread's _res
 *     (name servers, search list, ndots) once a program changed it; the res_n* functions take a caller's
 *     res_state. The network hooks judge a name as the one asked only while all of these are as the system
 *     configured them: the variables' values at start (the function's configuration) and the system's
 *     resolver state (a private res_ninit at start, again after /etc/resolv.conf changes) are kept here, and
 *     iron_resolver_changed compares the live ones with them before each lookup. The res_ninit at start, while
 *     the process is single-threaded and the variables are the function's configuration, also has glibc load
 *     the configuration it keeps for every later resolver state (until /etc/resolv.conf changes) with them: a
 *     variable changed later can no longer slip into it.
 */
#include "glue.h"
#include <netinet/in.h>
#include <resolv.h>

enum { KNOB_LOCALDOMAIN = 1, KNOB_RES_OPTIONS = 2, KNOB_HOSTALIASES = 4, KNOB_RES_STATE = 8 };

#define SEARCH_TEXT 1536 /* MAXDNSRCH names and the default domain, each at most MAXDNAME */

/* What in a resolver state decides which names are asked and where. */
struct resolver_view
{
    int nscount;
    struct sockaddr_in6 servers[MAXNS]; /* family, port and address only; an IPv4 server in its sockaddr_in form */
    unsigned ndots;
    unsigned long search_options;       /* RES_DEFNAMES, RES_DNSRCH */
    char search[SEARCH_TEXT];           /* dnsrch, then defdname, each NUL-terminated */
};

static const char *const knob_names[] = { "LOCALDOMAIN", "RES_OPTIONS", "HOSTALIASES" };
static char *start_values[3];
static int start_set[3];
static int resolver_started;
static struct resolver_view *system_view; /* published with release, read with acquire, never freed */
static struct stat system_file;
static pthread_mutex_t resnapshot = PTHREAD_MUTEX_INITIALIZER;

static void append(char *text, size_t *used, const char *s)
{
    size_t n = s ? strnlen(s, MAXDNAME) : 0;
    if (*used + n + 1 > SEARCH_TEXT) return;
    if (n) memcpy(text + *used, s, n);
    text[*used + n] = 0;
    *used += n + 1;
}

static void view_of(const struct __res_state *s, struct resolver_view *v)
{
    memset(v, 0, sizeof *v);
    v->nscount = s->nscount;
    for (int i = 0; i < s->nscount && i < MAXNS; i++)
    {
        /* the server res_send uses (get_nsaddr): the IPv6 one when the IPv4 slot is empty */
        const struct sockaddr_in6 *six = s->_u._ext.nsaddrs[i];
        if (s->nsaddr_list[i].sin_family == 0 && six && !unreadable(six))
        {
            v->servers[i].sin6_family = six->sin6_family;
            v->servers[i].sin6_port = six->sin6_port;
            v->servers[i].sin6_addr = six->sin6_addr;
            v->servers[i].sin6_scope_id = six->sin6_scope_id;
        }
        else
        {
            struct sockaddr_in *four = (struct sockaddr_in *)&v->servers[i];
            four->sin_family = s->nsaddr_list[i].sin_family;
            four->sin_port = s->nsaddr_list[i].sin_port;
            four->sin_addr = s->nsaddr_list[i].sin_addr;
        }
    }
    v->ndots = s->ndots;
    v->search_options = s->options & (RES_DEFNAMES | RES_DNSRCH);
    size_t used = 0;
    for (int i = 0; i < MAXDNSRCH + 1 && s->dnsrch[i] && !unreadable(s->dnsrch[i]); i++) append(v->search, &used, s->dnsrch[i]);
    append(v->search, &used, "");
    append(v->search, &used, s->defdname);
}

static int same_view(const struct resolver_view *a, const struct resolver_view *b) { return memcmp(a, b, sizeof *a) == 0; }

/* The system's resolver state as a fresh res_ninit builds it; 0 when it cannot be built. */
static int system_state(struct resolver_view *v)
{
    struct __res_state state;
    memset(&state, 0, sizeof state);
    if (res_ninit(&state) != 0) return 0;
    view_of(&state, v);
    res_nclose(&state);
    return 1;
}

static int env_changed(void)
{
    int changed = 0;
    for (int i = 0; i < 3; i++)
    {
        const char *now = getenv(knob_names[i]);
        if ((now != NULL) != start_set[i] || (now && strcmp(now, start_values[i]) != 0)) changed |= 1 << i;
    }
    return changed;
}

/* Called once at start, single-threaded, when outbound_connectivity judges lookups. */
__attribute__((visibility("hidden"))) void iron_resolver_start(void)
{
    for (int i = 0; i < 3; i++)
    {
        const char *value = getenv(knob_names[i]);
        start_set[i] = value != NULL;
        start_values[i] = value ? strdup(value) : NULL;
        if (value && !start_values[i]) start_set[i] = 0;
    }
    static struct resolver_view first;
    if (stat(_PATH_RESCONF, &system_file) != 0) memset(&system_file, 0, sizeof system_file);
    if (system_state(&first)) __atomic_store_n(&system_view, &first, __ATOMIC_RELEASE);
    resolver_started = 1;
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* A state that differs from the kept one may follow a changed /etc/resolv.conf, which glibc reloads: only
   then is the system's state built again (with the variables as at start) and kept in its place. */
static int matches_new_system_state(const struct resolver_view *live)
{
    struct stat now;
    if (stat(_PATH_RESCONF, &now) != 0) memset(&now, 0, sizeof now);
    if (pthread_mutex_trylock(&resnapshot) != 0) return 0;
    int matches = 0;
    if (!same_file(&now, &system_file))
    {
        struct resolver_view *fresh = malloc(sizeof *fresh);
        /* the variables are read by res_ninit: a state built while they differ from start is not the system's */
        if (fresh && env_changed() == 0 && system_state(fresh) && env_changed() == 0)
        {
            system_file = now;
            __atomic_store_n(&system_view, fresh, __ATOMIC_RELEASE);
            matches = same_view(live, fresh);
        }
        else free(fresh);
    }
    pthread_mutex_unlock(&resnapshot);
    return matches;
}

/* Which knobs differ from the system's configuration (KNOB_* bits); state NULL is the thread's _res, which
   glibc's lookups use once initialised (an uninitialised one is built afresh from the variables). */
__attribute__((visibility("hidden"))) int iron_resolver_changed(const struct __res_state *state)
{
    if (!resolver_started) return 0;
    int changed = env_changed();
    const struct __res_state *s = state ? state : &_res;
    if (unreadable(s) || (!state && !(s->options & RES_INIT))) return changed;
    struct resolver_view live;
    view_of(s, &live);
    const struct resolver_view *kept = __atomic_load_n(&system_view, __ATOMIC_ACQUIRE);
    if (!kept || !same_view(&live, kept))
        if (!matches_new_system_state(&live)) changed |= KNOB_RES_STATE;
    return changed;
}
