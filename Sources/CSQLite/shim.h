#include <sqlite3.h>

/// sqlite3_config is variadic, which Swift cannot call. Turning memory
/// statistics off spares a global mutex on every SQLite allocation; it must
/// run before SQLite initializes (later it returns SQLITE_MISUSE, harmlessly).
static inline int jitaudit_sqlite3_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

#include <sys/syscall.h>
#include <sys/resource.h>
#include <unistd.h>

/// Lowers the calling thread's CPU priority (Linux: nice is per thread).
/// Not SQLite's, but the store's only C shim: the index file's writer runs
/// at nice 10 so the threads that findings wait for come first.
static inline int jitaudit_nice_this_thread(int nice) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}
