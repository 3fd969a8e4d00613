// What SQLite alone does on this machine for the event store's row: inserts of one event each,
// 256 per transaction, WAL with synchronous=FULL, from C (no Swift, no GRDB). The figure the
// store is compared against when its append rate is judged.
//
// Usage: sqlite_floor <variant> [seconds]
//   full     the events table of the store's schema, hole-check trigger included
//   notrig   the same without the trigger
//   minimal  position, stream, version and data only (no event id, type or metadata)
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double seconds_now(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static const char *events_table =
    "CREATE TABLE events (position INTEGER PRIMARY KEY CHECK (position > 0), "
    "stream_id INTEGER NOT NULL, version INTEGER NOT NULL CHECK (version >= 0), "
    "event_id BLOB NOT NULL UNIQUE CHECK (length(event_id) = 16), event_type TEXT NOT NULL, "
    "data BLOB NOT NULL, causation_id BLOB, correlation_id BLOB, saga_id BLOB, user_id BLOB, "
    "command_type TEXT, time INTEGER NOT NULL, extra BLOB, UNIQUE (stream_id, version));";

static const char *hole_trigger =
    "CREATE TRIGGER events_have_no_holes BEFORE INSERT ON events BEGIN "
    "SELECT RAISE(ABORT, 'position') WHERE NEW.position IS NOT "
    "(SELECT COALESCE(MAX(position), 0) + 1 FROM events); "
    "SELECT RAISE(ABORT, 'version') WHERE NEW.version IS NOT "
    "(SELECT COALESCE(MAX(version), -1) + 1 FROM events WHERE stream_id = NEW.stream_id); END;";

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s full|notrig|minimal [seconds]\n", argv[0]);
        return 2;
    }
    const char *variant = argv[1];
    double duration = argc > 2 ? atof(argv[2]) : 3;
    int minimal = strcmp(variant, "minimal") == 0;
    unlink("sqlite_floor.db");
    unlink("sqlite_floor.db-wal");
    unlink("sqlite_floor.db-shm");
    sqlite3 *db;
    if (sqlite3_open("sqlite_floor.db", &db) != SQLITE_OK) return 1;
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", 0, 0, 0);
    if (minimal) {
        sqlite3_exec(db, "CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id INTEGER NOT NULL, "
                         "version INTEGER NOT NULL, data BLOB NOT NULL, UNIQUE (stream_id, version));", 0, 0, 0);
    } else {
        sqlite3_exec(db, events_table, 0, 0, 0);
        if (strcmp(variant, "full") == 0) sqlite3_exec(db, hole_trigger, 0, 0, 0);
    }
    const char *sql = minimal
        ? "INSERT INTO events (position, stream_id, version, data) VALUES (?, ?, ?, ?)"
        : "INSERT INTO events (position, stream_id, version, event_id, event_type, data, causation_id, "
          "correlation_id, user_id, command_type, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *insert;
    if (sqlite3_prepare_v2(db, sql, -1, &insert, 0) != SQLITE_OK) {
        fprintf(stderr, "%s\n", sqlite3_errmsg(db));
        return 1;
    }
    unsigned char data[100], id[16];
    memset(data, 7, sizeof data);
    long long position = 0, versions[256];
    for (int stream = 0; stream < 256; stream++) versions[stream] = -1;
    double wall = seconds_now(CLOCK_MONOTONIC), cpu = seconds_now(CLOCK_PROCESS_CPUTIME_ID);
    long events = 0;
    while (seconds_now(CLOCK_MONOTONIC) - wall < duration) {
        sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0);
        for (int stream = 0; stream < 256; stream++) {
            position++;
            versions[stream]++;
            // Ids grow with the position, as UUIDv7 ids grow with time.
            memcpy(id, &position, 8);
            memset(id + 8, 9, 8);
            sqlite3_bind_int64(insert, 1, position);
            sqlite3_bind_int64(insert, 2, stream + 1);
            sqlite3_bind_int64(insert, 3, versions[stream]);
            if (minimal) {
                sqlite3_bind_blob(insert, 4, data, sizeof data, SQLITE_STATIC);
            } else {
                sqlite3_bind_blob(insert, 4, id, 16, SQLITE_TRANSIENT);
                sqlite3_bind_text(insert, 5, "OrderCreated", -1, SQLITE_STATIC);
                sqlite3_bind_blob(insert, 6, data, sizeof data, SQLITE_STATIC);
                sqlite3_bind_blob(insert, 7, id, 16, SQLITE_TRANSIENT);
                sqlite3_bind_blob(insert, 8, id, 16, SQLITE_TRANSIENT);
                sqlite3_bind_blob(insert, 9, id, 16, SQLITE_TRANSIENT);
                sqlite3_bind_text(insert, 10, "CreateOrder", -1, SQLITE_STATIC);
                sqlite3_bind_int64(insert, 11, 1700000000000000000LL);
            }
            if (sqlite3_step(insert) != SQLITE_DONE) {
                fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db));
                return 1;
            }
            sqlite3_reset(insert);
            events++;
        }
        sqlite3_exec(db, "COMMIT", 0, 0, 0);
    }
    wall = seconds_now(CLOCK_MONOTONIC) - wall;
    cpu = seconds_now(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    printf("%-8s %8.0f events/s, %5.1f us CPU per event (256 single-event inserts per transaction)\n",
        variant, events / wall, cpu / events * 1e6);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    unlink("sqlite_floor.db");
    unlink("sqlite_floor.db-wal");
    unlink("sqlite_floor.db-shm");
    return 0;
}
