import EventStore
import Foundation
import GRDB

/// How command records and fencing tokens map to rows of the `commands` and `fencing_tokens` tables.
enum CommandRows {
    /// Inserts a record; `streamID` and `append` describe the append it rides on, `nil` for a record
    /// written on its own. Fails with a constraint error when the command id is already recorded.
    static func insert(_ db: Database, _ record: CommandRecord, streamID: Int64?, append: AppendResult?) throws {
        try db.cachedStatement(
            sql: """
                INSERT INTO commands (command_id, command_type, outcome, time, stream_id, first_version, \
                first_position, event_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            record.commandID, record.commandType, record.outcome, record.time, streamID, append?.firstVersion,
            append?.positions.first, append.map { $0.positions.count },
        ])
    }

    /// Deletes a record inserted earlier in the same transaction, when its append is refused after all.
    static func delete(_ db: Database, commandID: UUID) throws {
        try db.cachedStatement(sql: "DELETE FROM commands WHERE command_id = ?").execute(arguments: [commandID])
    }

    /// The record stored under `commandID`, if any.
    static func find(_ db: Database, commandID: UUID) throws -> RecordedCommand? {
        let statement = try db.cachedStatement(
            sql: """
                SELECT c.command_type, c.outcome, c.time, s.name, c.first_version, c.first_position, c.event_count \
                FROM commands c LEFT JOIN streams s ON s.id = c.stream_id WHERE c.command_id = ?
                """
        )
        guard let row = try Row.fetchOne(statement, arguments: [commandID]) else { return nil }
        let record = CommandRecord(
            commandID: commandID,
            commandType: try row.decode(String.self, atIndex: 0),
            outcome: try row.decode(Data?.self, atIndex: 1) ?? Data(),
            time: try row.decode(Int64.self, atIndex: 2)
        )
        guard let rawStream = try row.decode(String?.self, atIndex: 3) else {
            return RecordedCommand(record: record, append: nil)
        }
        guard
            let firstVersion = try row.decode(Int64?.self, atIndex: 4),
            let firstPosition = try row.decode(Int64?.self, atIndex: 5),
            let count = try row.decode(Int64?.self, atIndex: 6)
        else {
            throw EventStoreError(
                code: .corruptStore,
                message: "the record of command \(commandID.lowercasedText) names a stream but not its append"
            )
        }
        var names = StreamNameCache()
        let stream = try names.name(id: 0, raw: rawStream)
        let append = AppendResult(
            stream: stream, firstVersion: firstVersion, positions: Array(firstPosition..<(firstPosition + count)))
        return RecordedCommand(record: record, append: append)
    }

    /// The newest fencing token issued for `key`, or `nil` if none was.
    static func latestToken(_ db: Database, key: String) throws -> Int64? {
        try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT token FROM fencing_tokens WHERE key = ?"), arguments: [key])
    }

    /// Issues the next fencing token for `key`.
    static func issueToken(_ db: Database, key: String) throws -> Int64 {
        let statement = try db.cachedStatement(
            sql: """
                INSERT INTO fencing_tokens (key, token) VALUES (?, 1) \
                ON CONFLICT (key) DO UPDATE SET token = token + 1 RETURNING token
                """
        )
        guard let token = try Int64.fetchOne(statement, arguments: [key]) else {
            throw EventStoreError(
                code: .storageFailure, message: "issuing a fencing token for '\(key)' returned nothing")
        }
        return token
    }
}
