// What SQLite alone does on this machine for the event store's rows: single-event appends, 256
// per transaction (what 256 concurrent appenders give the store's group commit at best), WAL with
// synchronous=FULL and foreign keys on, from C (no Swift, no GRDB). The ceiling the store's append
// rate is judged against.
//
// Usage: sqlite_floor <schema> <workload> [seconds]
//   schema    store      the store's streams and events tables, hole-check trigger included
//             notrigger  the same without the trigger
//             minimal    position, stream, version and data only; no streams table
//   workload  new        each append creates its stream (a stream row and an event)
//             hot        256 streams, each appended to once per transaction
//             single     one append (creating its stream) per transaction: one appender's
//                        latency, printed beside the mean of a 256-byte write + fdatasync
//                        appended to a file on the same disk, measured right after
// Event ids grow with the position in their leading bytes, as UUIDv7 ids grow with time.
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "floor_common.h"

enum { batch = 256 };

static const char *minimal_table =
    "CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id INTEGER NOT NULL, "
    "version INTEGER NOT NULL, data BLOB NOT NULL, UNIQUE (stream_id, version));";

static sqlite3 *db;

// The mean time of a 256-byte write plus fdatasync, appending to a fresh file, over `seconds`.
static double fsync_probe_us(double seconds) {
    int fd = open("sqlite_floor.probe", O_CREAT | O_TRUNC | O_WRONLY, 0600);
    if (fd < 0) return -1;
    char block[256];
    memset(block, 1, sizeof block);
    long count = 0;
    double start = seconds_now(CLOCK_MONOTONIC);
    while (seconds_now(CLOCK_MONOTONIC) - start < seconds) {
        if (write(fd, block, sizeof block) != (ssize_t)sizeof block || fdatasync(fd) != 0) break;
        count++;
    }
    double elapsed = seconds_now(CLOCK_MONOTONIC) - start;
    close(fd);
    unlink("sqlite_floor.probe");
    return count ? elapsed / count * 1e6 : -1;
}

static sqlite3_stmt *prepare(const char *sql) {
    sqlite3_stmt *statement;
    if (sqlite3_prepare_v2(db, sql, -1, &statement, 0) != SQLITE_OK) {
        fprintf(stderr, "%s\n", sqlite3_errmsg(db));
        exit(1);
    }
    return statement;
}

static void step(sqlite3_stmt *statement) {
    if (sqlite3_step(statement) != SQLITE_DONE) {
        fprintf(stderr, "insert: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_reset(statement);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s store|notrigger|minimal new|hot|single [seconds]\n", argv[0]);
        return 2;
    }
    const char *schema = argv[1];
    int minimal = strcmp(schema, "minimal") == 0, hot = strcmp(argv[2], "hot") == 0;
    int single = strcmp(argv[2], "single") == 0, per_transaction_count = single ? 1 : batch;
    double duration = argc > 3 ? atof(argv[3]) : 3;
    unlink("sqlite_floor.db");
    unlink("sqlite_floor.db-wal");
    unlink("sqlite_floor.db-shm");
    if (sqlite3_open("sqlite_floor.db", &db) != SQLITE_OK) return 1;
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", 0, 0, 0);
    sqlite3_exec(db, minimal ? minimal_table : store_tables, 0, 0, 0);
    if (strcmp(schema, "store") == 0) sqlite3_exec(db, hole_trigger, 0, 0, 0);
    sqlite3_stmt *insert_event = prepare(
        minimal ? "INSERT INTO events (position, stream_id, version, data) VALUES (?, ?, ?, ?)"
                : "INSERT INTO events (position, stream_id, version, event_id, event_type, data, causation_id, "
                  "correlation_id, user_id, command_type, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    sqlite3_stmt *insert_stream = minimal ? 0 : prepare("INSERT INTO streams (name, type) VALUES (?, 'order')");

    unsigned char data[100], id[16];
    char name[64];
    memset(data, 7, sizeof data);
    long long position = 0, streams = 0, versions[batch];
    for (int slot = 0; slot < per_transaction_count; slot++) versions[slot] = -1;
    double wall = seconds_now(CLOCK_MONOTONIC), cpu = seconds_now(CLOCK_PROCESS_CPUTIME_ID);
    long events = 0, transactions = 0;
    while (seconds_now(CLOCK_MONOTONIC) - wall < duration) {
        sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0);
        for (int slot = 0; slot < per_transaction_count; slot++) {
            position++;
            long long stream = hot ? slot + 1 : position, version = hot ? ++versions[slot] : 0;
            if (insert_stream && (!hot || version == 0)) {
                // Names that grow like "order-<UUIDv7>".
                snprintf(name, sizeof name, "order-%016llx", (long long)++streams);
                sqlite3_bind_text(insert_stream, 1, name, -1, SQLITE_TRANSIENT);
                step(insert_stream);
                stream = sqlite3_last_insert_rowid(db);
            }
            for (int byte = 0; byte < 8; byte++) id[byte] = (unsigned char)(position >> (56 - 8 * byte));
            memset(id + 8, 9, 8);
            sqlite3_bind_int64(insert_event, 1, position);
            sqlite3_bind_int64(insert_event, 2, stream);
            sqlite3_bind_int64(insert_event, 3, version);
            if (minimal) {
                sqlite3_bind_blob(insert_event, 4, data, sizeof data, SQLITE_STATIC);
            } else {
                sqlite3_bind_blob(insert_event, 4, id, 16, SQLITE_TRANSIENT);
                sqlite3_bind_text(insert_event, 5, "OrderCreated", -1, SQLITE_STATIC);
                sqlite3_bind_blob(insert_event, 6, data, sizeof data, SQLITE_STATIC);
                sqlite3_bind_blob(insert_event, 7, id, 16, SQLITE_TRANSIENT);
                sqlite3_bind_blob(insert_event, 8, id, 16, SQLITE_TRANSIENT);
                sqlite3_bind_blob(insert_event, 9, id, 16, SQLITE_TRANSIENT);
                sqlite3_bind_text(insert_event, 10, "CreateOrder", -1, SQLITE_STATIC);
                sqlite3_bind_int64(insert_event, 11, 1700000000000000000LL);
            }
            step(insert_event);
            events++;
        }
        sqlite3_exec(db, "COMMIT", 0, 0, 0);
        transactions++;
    }
    wall = seconds_now(CLOCK_MONOTONIC) - wall;
    cpu = seconds_now(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    if (single) {
        double probe = fsync_probe_us(duration);
        double latency = wall / transactions * 1e6;
        printf("%-9s %-6s %6.1f us per one-append transaction; write+fdatasync %6.1f us; ratio %.2f\n", schema,
            argv[2], latency, probe, latency / probe);
    } else {
        printf("%-9s %-6s %8.0f events/s, %5.1f us CPU per event\n", schema, argv[2], events / wall,
            cpu / events * 1e6);
    }
    sqlite3_finalize(insert_event);
    sqlite3_finalize(insert_stream);
    sqlite3_close(db);
    unlink("sqlite_floor.db");
    unlink("sqlite_floor.db-wal");
    unlink("sqlite_floor.db-shm");
    return 0;
}
