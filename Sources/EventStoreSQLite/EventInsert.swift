import EventStore
import Foundation
import GRDB
internal import GRDBSQLite

/// The insert of one event row, bound and stepped through SQLite's C API.
///
/// This is the store's hottest statement: GRDB's general argument handling (an array of
/// existentials converted to database values, UUIDs copied into `Data`) cost more than SQLite's
/// own work here, so the writer binds the row's values directly. The statement itself is still
/// GRDB's cached statement, prepared once per connection, and a failure becomes a `DatabaseError`
/// exactly as GRDB reports it.
struct EventInsert {
    private let statement: Statement
    private let connection: OpaquePointer?

    init(_ db: Database) throws {
        statement = try db.cachedStatement(sql: EventRows.insertSQL)
        connection = db.sqliteConnection
    }

    func execute(_ event: NewEvent, position: Int64, streamID: Int64, version: Int64) throws {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        let metadata = event.metadata
        sqlite3_bind_int64(handle, 1, position)
        sqlite3_bind_int64(handle, 2, streamID)
        sqlite3_bind_int64(handle, 3, version)
        bind(event.id, at: 4)
        bind(event.type, at: 5)
        bind(event.data, at: 6)
        bind(metadata.causationID, at: 7)
        bind(metadata.correlationID, at: 8)
        bind(metadata.sagaID, at: 9)
        bind(metadata.userID, at: 10)
        if let commandType = metadata.commandType { bind(commandType, at: 11) }
        sqlite3_bind_int64(handle, 12, metadata.time)
        if let extra = ExtraMetadataCodec.encode(metadata.extra) { bind(extra, at: 13) }
        let code = sqlite3_step(handle)
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        guard code == SQLITE_DONE else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: sqlite3_extended_errcode(connection)),
                message: sqlite3_errmsg(connection).map { String(cString: $0) },
                sql: EventRows.insertSQL
            )
        }
    }

    private func bind(_ id: UUID?, at index: Int32) {
        guard let id else { return }  // Unbound parameters are NULL.
        withUnsafeBytes(of: id.uuid) { bytes in
            _ = sqlite3_bind_blob(statement.sqliteStatement, index, bytes.baseAddress, 16, transient)
        }
    }

    private func bind(_ text: String, at index: Int32) {
        _ = sqlite3_bind_text(statement.sqliteStatement, index, text, -1, transient)
    }

    private func bind(_ data: Data, at index: Int32) {
        // A zero-length blob, not NULL: an empty buffer may have no base address.
        guard !data.isEmpty else {
            _ = sqlite3_bind_zeroblob(statement.sqliteStatement, index, 0)
            return
        }
        data.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(statement.sqliteStatement, index, bytes.baseAddress, Int32(bytes.count), transient)
        }
    }
}

/// SQLite copies the bound bytes (`SQLITE_TRANSIENT`), so the Swift buffers need not outlive the call.
private let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
