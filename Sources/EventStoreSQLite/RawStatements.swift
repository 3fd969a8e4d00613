import EventStore
import Foundation
import GRDB
internal import GRDBSQLite

/// A statement from GRDB's cache, bound and stepped through SQLite's C API.
///
/// For the hottest statements only (the writer's, and read models' point reads and writes): GRDB's
/// general argument handling (an array of existentials converted to database values, UUIDs copied
/// into `Data`, a `Row` per result) cost more than SQLite's own work there. The statement is still
/// prepared once per connection by GRDB, and a failure becomes a `DatabaseError` exactly as GRDB
/// reports it. Every use starts with ``start()``, which clears what the previous use left.
package struct RawStatement {
    private let statement: Statement
    private let connection: OpaquePointer?
    private var handle: OpaquePointer { statement.sqliteStatement }

    package init(_ db: Database, sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
        connection = db.sqliteConnection
    }

    /// Resets the statement and its bindings (unbound parameters are NULL).
    package func start() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Ends the current use, so a query holds no read transaction open.
    package func reset() {
        sqlite3_reset(handle)
    }

    package func bind(_ value: Int64, at index: Int32) {
        sqlite3_bind_int64(handle, index, value)
    }

    package func bind(_ id: UUID?, at index: Int32) {
        guard let id else { return }
        withUnsafeBytes(of: id.uuid) { bytes in
            _ = sqlite3_bind_blob(handle, index, bytes.baseAddress, 16, transient)
        }
    }

    package func bind(_ text: String?, at index: Int32) {
        guard let text else { return }
        bindUTF8(of: text, at: index, asBlob: false)
    }

    package func bind(_ data: Data?, at index: Int32) {
        guard let data else { return }
        // A zero-length blob, not NULL: an empty buffer may have no base address.
        guard !data.isEmpty else {
            _ = sqlite3_bind_zeroblob(handle, index, 0)
            return
        }
        data.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), transient)
        }
    }

    /// Binds the UTF-8 bytes of `text` as a blob (a read-model key: blobs order by their bytes).
    package func bind(utf8Of text: String, at index: Int32) {
        bindUTF8(of: text, at: index, asBlob: true)
    }

    /// Binds `text` from the string's own UTF-8 storage, with its length: no C string is made for
    /// the call. Empty text binds '' or an empty blob, never NULL.
    private func bindUTF8(of text: String, at index: Int32, asBlob: Bool) {
        var text = text
        text.withUTF8 { bytes in
            guard let base = bytes.baseAddress else {
                if asBlob {
                    _ = sqlite3_bind_zeroblob(handle, index, 0)
                } else {
                    _ = sqlite3_bind_text(handle, index, "", 0, transient)
                }
                return
            }
            if asBlob {
                _ = sqlite3_bind_blob(handle, index, base, Int32(bytes.count), transient)
            } else {
                base.withMemoryRebound(to: CChar.self, capacity: bytes.count) { characters in
                    _ = sqlite3_bind_text(handle, index, characters, Int32(bytes.count), transient)
                }
            }
        }
    }

    /// Steps once: true when a row is available, false when the statement is done.
    package func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW:
            return true
        case SQLITE_DONE:
            return false
        default:
            let error = DatabaseError(
                resultCode: ResultCode(rawValue: sqlite3_extended_errcode(connection)),
                message: sqlite3_errmsg(connection).map { String(cString: $0) },
                sql: statement.sql
            )
            sqlite3_reset(handle)
            throw error
        }
    }

    /// The bytes in `column` of the current row, or nil for NULL.
    package func data(at column: Int32) -> Data? {
        guard sqlite3_column_type(handle, column) != SQLITE_NULL else { return nil }
        // The pointer first, then the length, as SQLite asks: asking for the length first could
        // convert the value under the pointer.
        let bytes = sqlite3_column_blob(handle, column)
        let count = Int(sqlite3_column_bytes(handle, column))
        guard let bytes, count > 0 else { return Data() }
        return Data(bytes: bytes, count: count)
    }

    /// The integer in `column` of the current row, or nil for NULL.
    package func int64(at column: Int32) -> Int64? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, column)
    }
}

/// SQLite copies the bound bytes (`SQLITE_TRANSIENT`), so the Swift buffers need not outlive the call.
private let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

/// The insert of one event row.
struct EventInsert {
    private let statement: RawStatement

    init(_ db: Database) throws {
        statement = try RawStatement(db, sql: EventRows.insertSQL)
    }

    func execute(_ event: NewEvent, position: Int64, streamID: Int64, version: Int64) throws {
        let metadata = event.metadata
        statement.start()
        statement.bind(position, at: 1)
        statement.bind(streamID, at: 2)
        statement.bind(version, at: 3)
        statement.bind(event.id, at: 4)
        statement.bind(event.type, at: 5)
        statement.bind(event.data, at: 6)
        statement.bind(metadata.causationID, at: 7)
        statement.bind(metadata.correlationID, at: 8)
        statement.bind(metadata.sagaID, at: 9)
        statement.bind(metadata.userID, at: 10)
        statement.bind(metadata.commandType, at: 11)
        statement.bind(metadata.time, at: 12)
        statement.bind(ExtraMetadataCodec.encode(metadata.extra), at: 13)
        _ = try statement.step()
    }
}

/// Finding and registering streams by name.
struct StreamRows {
    private let lookup: RawStatement
    private let insert: RawStatement

    init(_ db: Database) throws {
        lookup = try RawStatement(
            db,
            sql: """
                SELECT s.id, (SELECT MAX(e.version) FROM events e WHERE e.stream_id = s.id) \
                FROM streams s WHERE s.name = ?
                """
        )
        insert = try RawStatement(db, sql: "INSERT INTO streams (name, type) VALUES (?, ?)")
    }

    /// The stream's row id and current version, or `nil` if the stream does not exist.
    func state(of stream: StreamName) throws -> (id: Int64, version: Int64)? {
        lookup.start()
        defer { lookup.reset() }
        lookup.bind(stream.rawValue, at: 1)
        guard try lookup.step(), let id = lookup.int64(at: 0) else { return nil }
        guard let version = lookup.int64(at: 1) else {
            // A stream row is only ever inserted together with its first event.
            throw EventStoreError(code: .corruptStore, message: "the stream \(stream) is registered but has no events")
        }
        return (id, version)
    }

    /// Registers a stream; returns its row id.
    func insert(_ stream: StreamName, db: Database) throws -> Int64 {
        insert.start()
        insert.bind(stream.rawValue, at: 1)
        insert.bind(stream.type, at: 2)
        _ = try insert.step()
        return db.lastInsertedRowID
    }
}
