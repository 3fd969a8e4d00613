#ifndef CSQLITETUNING_H
#define CSQLITETUNING_H

// Process-wide SQLite settings that Swift cannot make itself (sqlite3_config is variadic).

// Turns off SQLite's memory statistics (SQLITE_CONFIG_MEMSTATUS), which take a process-wide
// mutex around every allocation and free SQLite makes. Only possible before SQLite is initialised
// (before the process opens its first connection); later it changes nothing. Returns an SQLite
// result code: SQLITE_OK, or SQLITE_MISUSE when SQLite was already initialised.
int tradecore_sqlite_disable_memory_statistics(void);

#endif
