#include <sqlite3.h>

/// sqlite3_config is variadic, which Swift cannot call. Turning memory
/// statistics off spares a global mutex on every SQLite allocation; it must
/// run before SQLite initializes (later it returns SQLITE_MISUSE, harmlessly).
static inline int jitaudit_sqlite3_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <unistd.h>

/// Names the calling thread (as `top -H` and /proc show it; at most 15
/// bytes) and lowers its CPU priority (Linux: nice is per thread). Not
/// SQLite's, but the store's only C shim: the index file's writer runs at
/// nice 10 so the threads that findings wait for come first. Returns
/// setpriority's result (-1 where a seccomp filter denies it).
static inline int jitaudit_background_thread(const char *name, int nice) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}
