import EventStore
import Foundation
import GRDB

/// Command records written on their own, their lookup and retention, and fencing tokens.
///
/// These writes go straight to the writer connection rather than through the append queue: they
/// are rare next to appends and need no ordering with them beyond what SQLite's single writer
/// gives. A fencing token issued here is committed before any append that the writer thread
/// decides afterwards, so from then on an append carrying an older token is refused.
extension SQLiteEventStore {
    @discardableResult
    public func recordCommand(_ record: CommandRecord) async throws -> RecordedCommand {
        try AppendRules.validate(record, limits: configuration.options.limits)
        let id = record.commandID.lowercasedText
        return try await write("recording command \(id)") { db in
            if let existing = try CommandRows.find(db, commandID: record.commandID) {
                throw DuplicateCommand(existing: existing)
            }
            try CommandRows.insert(db, record, streamID: nil, append: nil)
            return RecordedCommand(record: record, append: nil)
        }
    }

    public func recordedCommand(_ commandID: UUID) async throws -> RecordedCommand? {
        try await read("reading command \(commandID.lowercasedText)") { db in
            try CommandRows.find(db, commandID: commandID)
        }
    }

    @discardableResult
    public func purgeCommandRecords(recordedBefore time: Int64) async throws -> Int {
        try await write("purging command records") { db in
            try db.cachedStatement(sql: "DELETE FROM commands WHERE time < ?").execute(arguments: [time])
            return db.changesCount
        }
    }

    public func issueFencingToken(for key: String) async throws -> Int64 {
        try AppendRules.validateFencingKey(key)
        return try await write("issuing a fencing token for '\(key)'") { db in
            try CommandRows.issueToken(db, key: key)
        }
    }
}
