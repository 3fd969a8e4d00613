// What the SQLite floor tools (sqlite_floor.c, command_floor.c) share: the event store's tables
// and hole-check trigger as the store creates them, and a clock.
#ifndef TRADECORE_FLOOR_COMMON_H
#define TRADECORE_FLOOR_COMMON_H

#include <time.h>

static inline double seconds_now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

// The store's streams and events tables.
static const char *store_tables =
    "CREATE TABLE streams (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL);"
    "CREATE TABLE events (position INTEGER PRIMARY KEY CHECK (position > 0), "
    "stream_id INTEGER NOT NULL REFERENCES streams (id), version INTEGER NOT NULL CHECK (version >= 0), "
    "event_id BLOB NOT NULL UNIQUE CHECK (length(event_id) = 16), event_type TEXT NOT NULL, "
    "data BLOB NOT NULL, causation_id BLOB, correlation_id BLOB, saga_id BLOB, user_id BLOB, "
    "command_type TEXT, time INTEGER NOT NULL, extra BLOB, UNIQUE (stream_id, version));";

// The store's trigger since schema v3.
static const char *hole_trigger =
    "CREATE TRIGGER events_have_no_holes BEFORE INSERT ON events BEGIN "
    "SELECT RAISE(ABORT, 'position') WHERE NEW.position > 1 AND NOT EXISTS "
    "(SELECT 1 FROM events WHERE position = NEW.position - 1); "
    "SELECT RAISE(ABORT, 'version') WHERE NEW.version > 0 AND NOT EXISTS "
    "(SELECT 1 FROM events WHERE stream_id = NEW.stream_id AND version = NEW.version - 1); END;";

#endif
