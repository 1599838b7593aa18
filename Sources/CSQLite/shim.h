#include <sqlite3.h>

/// sqlite3_config is variadic, which Swift cannot call. Turning memory
/// statistics off spares a global mutex on every SQLite allocation; it must
/// run before SQLite initializes (later it returns SQLITE_MISUSE, harmlessly).
static inline int jitaudit_sqlite3_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
