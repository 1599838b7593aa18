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
#include <sched.h>
#include <errno.h>

/// Names the calling thread (as `top -H` and /proc show it; at most 15
/// bytes) and makes it yield the CPU to every other thread of the host: the
/// index file's writer runs so, and the threads findings wait for come
/// first. Not SQLite's, but the store's only C shim.
///
/// Linux keeps the scheduling policy and nice per thread. `SCHED_IDLE`
/// (policy 5) runs the thread only on a core nothing else wants, and a
/// waking thread of the normal policy takes its core at once; where that is
/// denied (a seccomp filter without `sched_setscheduler`), nice `nice` is
/// the fallback. Returns 2 with `SCHED_IDLE`, 1 with the nice only, 0 with
/// neither. With `idle` 0 the thread only gets the nice (work that must not
/// starve on a busy host).
static inline int jitaudit_background_thread(const char *name, int nice, int idle) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
    int niced = setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice) == 0;
    if (!idle) return niced;
    struct sched_param none = { 0 };
    if (sched_setscheduler(0, 5 /* SCHED_IDLE, which <sched.h> shows only with _GNU_SOURCE */, &none) == 0) return 2;
    return niced;
}

/// The calling thread's id (what /proc/self/task lists).
static inline int jitaudit_gettid(void) { return (int)syscall(SYS_gettid); }

/// Lifts thread `tid` of this process out of `SCHED_IDLE`, to the normal
/// policy at the caller's nice, while a thread that findings wait for waits
/// on it: at `SCHED_IDLE` on a host saturated by other work it could take
/// minutes to finish what it started. Leaving `SCHED_IDLE` and lowering the
/// nice need `CAP_SYS_NICE` or an `RLIMIT_NICE` that allows the nice
/// (the unit's `LimitNICE=+0`). Returns 2 when both took, 1 when only the
/// policy did (the thread keeps its nice), 0 when neither.
static inline int jitaudit_boost_thread(int tid) {
    struct sched_param none = { 0 };
    if (sched_setscheduler(tid, SCHED_OTHER, &none) != 0) return 0;
    errno = 0;
    int mine = getpriority(PRIO_PROCESS, (id_t)jitaudit_gettid());
    if (errno != 0) return 1;
    return setpriority(PRIO_PROCESS, (id_t)tid, mine) == 0 ? 2 : 1;
}

/// Makes statements of `db` stop (SQLITE_INTERRUPT) once `*flag` is set
/// (``jitaudit_flag_set``): SQLite calls the check every 1,000 virtual
/// machine steps. Unlike `sqlite3_interrupt`, a flag set before a statement
/// starts stops it too. `flag` NULL removes the check.
static int jitaudit_flag_check(void *flag) { return __atomic_load_n((int *)flag, __ATOMIC_RELAXED); }
static inline void jitaudit_stop_when_flagged(sqlite3 *db, int *flag) {
    if (flag) sqlite3_progress_handler(db, 1000, jitaudit_flag_check, flag);
    else sqlite3_progress_handler(db, 0, 0, 0);
}
static inline void jitaudit_flag_set(int *flag) { __atomic_store_n(flag, 1, __ATOMIC_RELAXED); }
