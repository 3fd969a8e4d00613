// What SQLite alone does, on this machine's disk, for the rows one durable CreateOrder writes: the
// ceiling of tradecore-server's CreateOrder rate, since SQLite lets one connection write at a time
// and every one of these rows goes through it. From C, one thread doing nothing else, orders taken
// `batch` at a time (the store's group commit and the projection's batch at their best):
//   events      the store's transaction: each order's stream row and event row (the store's schema,
//               hole-check trigger and foreign keys included), committed with synchronous=FULL;
//   read-models then the orders projection's transaction on a second connection with
//               synchronous=NORMAL (unsynced, as the server commits read models): each order's view
//               under its two keys (`id/<order>`, `user/<user>/<order>`) and the projection's
//               checkpoint.
//   table-views the same, but with a leaner shape than the server's key-value read models: one row
//               per order in a table of its own keyed by the 16-byte id, with an index on (user, id)
//               for a user's orders.
// Sizes are those the server writes for the benchmark's order: an 88-byte event, a 106-byte view,
// 42-character stream names; ids grow with time as UUIDv7 ids do.
//
// Usage: command_floor <events|read-models|table-views> [store|lean] [seconds=3] [batch=512]
//   store  the store's schema
//   lean   without the hole-check trigger and foreign keys: only the uniqueness the store's
//          semantics need (positions, stream names, (stream, version), event ids)
// Prints orders/s and CPU µs per order.
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "floor_common.h"

static const char *read_model_tables =
    "CREATE TABLE projection_checkpoints (projection TEXT PRIMARY KEY NOT NULL, "
    "position INTEGER NOT NULL CHECK (position >= 0)) WITHOUT ROWID;"
    "CREATE TABLE read_models (collection TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
    "PRIMARY KEY (collection, key)) WITHOUT ROWID;"
    "CREATE TABLE order_views (id BLOB PRIMARY KEY NOT NULL, user BLOB NOT NULL, value BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX order_views_by_user ON order_views (user, id);";

static sqlite3 *open_database(const char *synchronous, int foreign_keys) {
    sqlite3 *db;
    if (sqlite3_open("command_floor.db", &db) != SQLITE_OK) {
        fprintf(stderr, "open: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    char pragmas[256];
    // The store's settings: WAL, a 64 MiB page cache, temporary tables in memory.
    snprintf(pragmas, sizeof pragmas,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA foreign_keys=%s; PRAGMA cache_size=-65536; "
        "PRAGMA temp_store=MEMORY;",
        synchronous, foreign_keys ? "ON" : "OFF");
    sqlite3_exec(db, pragmas, 0, 0, 0);
    return db;
}

static void execute(sqlite3 *db, const char *sql) {
    char *error = 0;
    if (sqlite3_exec(db, sql, 0, 0, &error) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, error);
        exit(1);
    }
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
    sqlite3_stmt *statement;
    if (sqlite3_prepare_v2(db, sql, -1, &statement, 0) != SQLITE_OK) {
        fprintf(stderr, "%s\n", sqlite3_errmsg(db));
        exit(1);
    }
    return statement;
}

static void step(sqlite3 *db, sqlite3_stmt *statement) {
    if (sqlite3_step(statement) != SQLITE_DONE) {
        fprintf(stderr, "step: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_reset(statement);
}

// The text of a time-ordered UUID for order number `n`.
static void order_uuid(char *text, long long n) {
    snprintf(text, 37, "01a2%04llx-%04llx-7000-8000-%012llx", (n >> 32) & 0xffff, (n >> 16) & 0xffff, n & 0xffffffffffffLL);
}

int main(int argc, char **argv) {
    const char *schema = argc > 2 ? argv[2] : "store";
    if (argc < 2
        || (strcmp(argv[1], "events") != 0 && strcmp(argv[1], "read-models") != 0
            && strcmp(argv[1], "table-views") != 0)
        || (strcmp(schema, "store") != 0 && strcmp(schema, "lean") != 0)) {
        fprintf(stderr, "usage: %s events|read-models|table-views [store|lean] [seconds] [batch]\n", argv[0]);
        return 2;
    }
    int table_views = strcmp(argv[1], "table-views") == 0;
    int read_models = table_views || strcmp(argv[1], "read-models") == 0, lean = strcmp(schema, "lean") == 0;
    double duration = argc > 3 ? atof(argv[3]) : 3;
    int batch = argc > 4 ? atoi(argv[4]) : 512;
    if (batch < 1) batch = 1;
    unlink("command_floor.db");
    unlink("command_floor.db-wal");
    unlink("command_floor.db-shm");
    sqlite3 *store = open_database("FULL", !lean);
    execute(store, store_tables);
    if (!lean) execute(store, hole_trigger);
    execute(store, read_model_tables);
    sqlite3 *views = open_database("NORMAL", !lean);

    sqlite3_stmt *insert_stream = prepare(store, "INSERT INTO streams (name, type) VALUES (?, 'order')");
    sqlite3_stmt *insert_event = prepare(store,
        "INSERT INTO events (position, stream_id, version, event_id, event_type, data, causation_id, "
        "correlation_id, user_id, command_type, time) VALUES (?, ?, 0, ?, 'OrderCreated', ?, ?, ?, ?, "
        "'CreateOrder', ?)");
    sqlite3_stmt *put = prepare(views,
        "INSERT INTO read_models (collection, key, value) VALUES ('orders', ?, ?) "
        "ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value");
    sqlite3_stmt *put_view = prepare(views,
        "INSERT INTO order_views (id, user, value) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET value = excluded.value");
    sqlite3_stmt *checkpoint = prepare(views,
        "INSERT INTO projection_checkpoints (projection, position) VALUES ('orders', ?) "
        "ON CONFLICT (projection) DO UPDATE SET position = excluded.position");

    unsigned char event[88], view[106], id[16], user[16];
    memset(event, 7, sizeof event);
    memset(view, 5, sizeof view);
    memset(user, 3, sizeof user);
    const char *user_text = "44f4afa8-09d8-40b9-9768-ad96f155aca3";
    char uuid[40], name[64], key[128];
    long long position = 0, orders = 0;
    double wall = seconds_now(CLOCK_MONOTONIC), cpu = seconds_now(CLOCK_PROCESS_CPUTIME_ID);
    while (seconds_now(CLOCK_MONOTONIC) - wall < duration) {
        long long first = position;
        execute(store, "BEGIN IMMEDIATE");
        for (int slot = 0; slot < batch; slot++) {
            position++;
            order_uuid(uuid, position);
            snprintf(name, sizeof name, "order-%s", uuid);
            sqlite3_bind_text(insert_stream, 1, name, -1, SQLITE_TRANSIENT);
            step(store, insert_stream);
            for (int byte = 0; byte < 8; byte++) id[byte] = (unsigned char)(position >> (56 - 8 * byte));
            memset(id + 8, 9, 8);
            sqlite3_bind_int64(insert_event, 1, position);
            sqlite3_bind_int64(insert_event, 2, sqlite3_last_insert_rowid(store));
            sqlite3_bind_blob(insert_event, 3, id, 16, SQLITE_TRANSIENT);
            sqlite3_bind_blob(insert_event, 4, event, sizeof event, SQLITE_STATIC);
            sqlite3_bind_blob(insert_event, 5, id, 16, SQLITE_TRANSIENT);
            sqlite3_bind_blob(insert_event, 6, id, 16, SQLITE_TRANSIENT);
            sqlite3_bind_blob(insert_event, 7, user, 16, SQLITE_STATIC);
            sqlite3_bind_int64(insert_event, 8, 1700000000000000000LL + position);
            step(store, insert_event);
        }
        execute(store, "COMMIT");
        if (read_models) {
            execute(views, "BEGIN IMMEDIATE");
            for (long long order = first + 1; order <= position; order++) {
                if (table_views) {
                    for (int byte = 0; byte < 8; byte++) id[byte] = (unsigned char)(order >> (56 - 8 * byte));
                    memset(id + 8, 9, 8);
                    sqlite3_bind_blob(put_view, 1, id, 16, SQLITE_TRANSIENT);
                    sqlite3_bind_blob(put_view, 2, user, 16, SQLITE_STATIC);
                    sqlite3_bind_blob(put_view, 3, view, sizeof view, SQLITE_STATIC);
                    step(views, put_view);
                    continue;
                }
                order_uuid(uuid, order);
                int length = snprintf(key, sizeof key, "id/%s", uuid);
                sqlite3_bind_blob(put, 1, key, length, SQLITE_TRANSIENT);
                sqlite3_bind_blob(put, 2, view, sizeof view, SQLITE_STATIC);
                step(views, put);
                length = snprintf(key, sizeof key, "user/%s/%s", user_text, uuid);
                sqlite3_bind_blob(put, 1, key, length, SQLITE_TRANSIENT);
                sqlite3_bind_blob(put, 2, view, sizeof view, SQLITE_STATIC);
                step(views, put);
            }
            sqlite3_bind_int64(checkpoint, 1, position);
            step(views, checkpoint);
            execute(views, "COMMIT");
        }
        orders += position - first;
    }
    wall = seconds_now(CLOCK_MONOTONIC) - wall;
    cpu = seconds_now(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    printf("%-11s %-5s %8.0f orders/s, %5.1f us CPU per order (%d per transaction)\n", argv[1], schema,
        orders / wall, cpu / orders * 1e6, batch);
    sqlite3_finalize(insert_stream);
    sqlite3_finalize(insert_event);
    sqlite3_finalize(put);
    sqlite3_finalize(put_view);
    sqlite3_finalize(checkpoint);
    sqlite3_close(views);
    sqlite3_close(store);
    unlink("command_floor.db");
    unlink("command_floor.db-wal");
    unlink("command_floor.db-shm");
    return 0;
}
