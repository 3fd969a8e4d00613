import EventStore
import Foundation
import GRDB

/// The store's schema: versioned migrations, and the marks that tell our file from any other.
///
/// Invariants live in the schema, not only in the code: the global position is the primary key,
/// (stream, version) is unique, event ids are unique, and a trigger refuses any event whose
/// position or stream version is not directly preceded by an existing event (other than the first
/// of the log or of its stream), so no bug can leave a hole. Events can be neither updated nor
/// deleted.
enum Schema {
    /// `PRAGMA application_id` of every TradeCore event store file: "TCEV".
    static let applicationID: Int32 = 0x5443_4556
    /// The value of the `format` row of `store_metadata`.
    static let format = "tradecore-eventstore"
    /// `PRAGMA user_version` after the newest migration: the schema version.
    static let version = 3

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: streams, events, snapshots") { db in
            try db.execute(
                sql: """
                    CREATE TABLE store_metadata (
                        key TEXT PRIMARY KEY NOT NULL,
                        value TEXT NOT NULL
                    ) WITHOUT ROWID;

                    CREATE TABLE streams (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE,
                        type TEXT NOT NULL
                    );

                    CREATE TABLE events (
                        position INTEGER PRIMARY KEY CHECK (position > 0),
                        stream_id INTEGER NOT NULL REFERENCES streams (id),
                        version INTEGER NOT NULL CHECK (version >= 0),
                        event_id BLOB NOT NULL UNIQUE CHECK (length(event_id) = 16),
                        event_type TEXT NOT NULL,
                        data BLOB NOT NULL,
                        causation_id BLOB,
                        correlation_id BLOB,
                        saga_id BLOB,
                        user_id BLOB,
                        command_type TEXT,
                        time INTEGER NOT NULL,
                        extra BLOB,
                        UNIQUE (stream_id, version)
                    );

                    CREATE TRIGGER events_have_no_holes BEFORE INSERT ON events
                    BEGIN
                        SELECT RAISE(ABORT, 'event position must directly follow the head of the log')
                        WHERE NEW.position IS NOT (SELECT COALESCE(MAX(position), 0) + 1 FROM events);
                        SELECT RAISE(ABORT, 'event version must directly follow the head of its stream')
                        WHERE NEW.version IS NOT
                            (SELECT COALESCE(MAX(version), -1) + 1 FROM events WHERE stream_id = NEW.stream_id);
                    END;
                    CREATE TRIGGER events_are_immutable BEFORE UPDATE ON events
                    BEGIN
                        SELECT RAISE(ABORT, 'committed events are immutable');
                    END;
                    CREATE TRIGGER events_are_permanent BEFORE DELETE ON events
                    BEGIN
                        SELECT RAISE(ABORT, 'committed events cannot be deleted');
                    END;

                    CREATE TABLE snapshots (
                        stream_id INTEGER NOT NULL REFERENCES streams (id),
                        shape_version INTEGER NOT NULL,
                        version INTEGER NOT NULL CHECK (version >= 0),
                        data BLOB NOT NULL,
                        time INTEGER NOT NULL,
                        PRIMARY KEY (stream_id, shape_version)
                    ) WITHOUT ROWID;
                    """
            )
            try db.execute(
                sql: "INSERT INTO store_metadata (key, value) VALUES ('format', ?), ('created_at', ?), ('store_id', ?)",
                arguments: [format, String(UnixTime.nowNanoseconds()), UUID().lowercasedText]
            )
            // Header fields: written in the same transaction, so a file is marked ours exactly when
            // it holds our schema. PRAGMA takes no bound parameters; both values are constants.
            try db.execute(sql: "PRAGMA application_id = \(applicationID)")
            try db.execute(sql: "PRAGMA user_version = 1")
        }
        migrator.registerMigration("v2: commands, fencing tokens, projections") { db in
            // commands: the outcome of each command by its id, written in the transaction of the append
            // it rode on (stream_id and the versions and positions of that append), or on its own (NULLs).
            // fencing_tokens: the newest token issued per lock key; appends carrying an older one are refused.
            // projection_checkpoints, read_models: read models kept by projectors in this database, each
            // projector's checkpoint committed in the same transaction as its rows.
            try db.execute(
                sql: """
                    CREATE TABLE commands (
                        command_id BLOB PRIMARY KEY NOT NULL CHECK (length(command_id) = 16),
                        command_type TEXT NOT NULL,
                        outcome BLOB NOT NULL,
                        time INTEGER NOT NULL,
                        stream_id INTEGER REFERENCES streams (id),
                        first_version INTEGER CHECK (first_version >= 0),
                        first_position INTEGER CHECK (first_position > 0),
                        event_count INTEGER CHECK (event_count > 0),
                        CHECK ((stream_id IS NULL) = (first_position IS NULL))
                    ) WITHOUT ROWID;
                    CREATE INDEX commands_by_time ON commands (time);

                    CREATE TABLE fencing_tokens (
                        key TEXT PRIMARY KEY NOT NULL,
                        token INTEGER NOT NULL CHECK (token > 0)
                    ) WITHOUT ROWID;

                    CREATE TABLE projection_checkpoints (
                        projection TEXT PRIMARY KEY NOT NULL,
                        position INTEGER NOT NULL CHECK (position >= 0)
                    ) WITHOUT ROWID;

                    CREATE TABLE read_models (
                        collection TEXT NOT NULL,
                        key BLOB NOT NULL,
                        value BLOB NOT NULL,
                        PRIMARY KEY (collection, key)
                    ) WITHOUT ROWID;
                    """
            )
            try db.execute(sql: "PRAGMA user_version = 2")
        }
        migrator.registerMigration("v3: a cheaper hole check") { db in
            // The same invariant as v1's trigger, checked by looking up the one predecessor of the
            // new event instead of computing the log's and the stream's maxima: with positions and
            // (stream, version) unique and no event ever deleted, "the previous one exists" for
            // every event means no holes. It costs the writer a third of what v1's did.
            try db.execute(
                sql: """
                    DROP TRIGGER events_have_no_holes;
                    CREATE TRIGGER events_have_no_holes BEFORE INSERT ON events
                    BEGIN
                        SELECT RAISE(ABORT, 'event position must directly follow the head of the log')
                        WHERE NEW.position > 1 AND NOT EXISTS (SELECT 1 FROM events WHERE position = NEW.position - 1);
                        SELECT RAISE(ABORT, 'event version must directly follow the head of its stream')
                        WHERE NEW.version > 0 AND NOT EXISTS
                            (SELECT 1 FROM events WHERE stream_id = NEW.stream_id AND version = NEW.version - 1);
                    END;
                    """
            )
            try db.execute(sql: "PRAGMA user_version = 3")
        }
        return migrator
    }

    /// Why an existing file must not be used, checked before anything writes to it.
    ///
    /// Throws ``EventStoreError`` with `.foreignStore` (not ours), `.incompatibleStore` (a newer
    /// schema) or `.corruptStore` (damaged). Returns normally for our store or an empty database.
    static func validate(_ db: Database, path: String, integrityCheck: SQLiteEventStore.IntegrityCheck) throws {
        let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        let tables = try String.fetchAll(
            db,
            sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        if applicationID == 0 && tables.isEmpty {
            return  // An empty SQLite database: the migrations will make it a store.
        }
        guard applicationID == Self.applicationID else {
            throw EventStoreError(
                code: .foreignStore,
                message: "\(path) is a SQLite database of another application (application_id \(applicationID), "
                    + "tables: \(tables.prefix(8).joined(separator: ", "))); refusing to use it as the event store"
            )
        }
        let userVersion = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        let migrator = Self.migrator
        let superseded = try db.tableExists("grdb_migrations") && migrator.hasBeenSuperseded(db)
        guard userVersion <= version, !superseded else {
            throw EventStoreError(
                code: .incompatibleStore,
                message: "\(path) was written by a newer version of TradeCore (schema \(userVersion), this version "
                    + "knows up to \(version)); refusing to open it"
            )
        }
        if try db.tableExists("store_metadata") {
            let storedFormat = try String.fetchOne(db, sql: "SELECT value FROM store_metadata WHERE key = 'format'")
            guard storedFormat == format else {
                throw EventStoreError(
                    code: .corruptStore,
                    message: "\(path) is marked as an event store but its metadata says format "
                        + "'\(storedFormat ?? "missing")'; refusing to open it"
                )
            }
        }
        let check: String
        switch integrityCheck {
        case .none: return
        case .quick: check = "PRAGMA quick_check(10)"
        case .full: check = "PRAGMA integrity_check(10)"
        }
        let problems = try String.fetchAll(db, sql: check)
        guard problems == ["ok"] else {
            throw EventStoreError(
                code: .corruptStore,
                message: "\(path) failed its integrity check: \(problems.joined(separator: "; ")); refusing to open it "
                    + "(restore it from a backup)"
            )
        }
    }

    /// Checks the first bytes of an existing file before SQLite touches it.
    static func checkHeader(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw EventStoreError(code: .storageFailure, message: "cannot read \(path)")
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        guard header.isEmpty || header == Data("SQLite format 3\0".utf8) else {
            throw EventStoreError(
                code: .foreignStore,
                message: "\(path) is not a SQLite database (its first bytes are not the SQLite header): another "
                    + "kind of file, or a store damaged beyond use; refusing to use or overwrite it"
            )
        }
    }
}
