import EventStore
import Foundation
import GRDB

/// How events map to rows of the `events` table.
enum EventRows {
    /// The event columns every read selects, in the order ``decode(_:stream:)`` expects.
    static let columns = """
        e.position, e.version, e.event_id, e.event_type, e.data, e.causation_id, e.correlation_id, \
        e.saga_id, e.user_id, e.command_type, e.time, e.extra
        """
    static let columnCount = 12

    static let insertSQL = """
        INSERT INTO events (position, stream_id, version, event_id, event_type, data, causation_id, \
        correlation_id, saga_id, user_id, command_type, time, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// Decodes the ``columns`` of a row. Throws (never traps) on a damaged value.
    static func decode(_ row: Row, stream: StreamName) throws -> RecordedEvent {
        RecordedEvent(
            id: try row.decode(UUID.self, atIndex: 2),
            stream: stream,
            version: try row.decode(Int64.self, atIndex: 1),
            position: try row.decode(Int64.self, atIndex: 0),
            type: try row.decode(String.self, atIndex: 3),
            data: try row.decode(Data?.self, atIndex: 4) ?? Data(),
            metadata: EventMetadata(
                causationID: try row.decode(UUID?.self, atIndex: 5),
                correlationID: try row.decode(UUID?.self, atIndex: 6),
                sagaID: try row.decode(UUID?.self, atIndex: 7),
                userID: try row.decode(UUID?.self, atIndex: 8),
                commandType: try row.decode(String?.self, atIndex: 9),
                time: try row.decode(Int64.self, atIndex: 10),
                extra: try ExtraMetadataCodec.decode(try row.decode(Data?.self, atIndex: 11))
            )
        )
    }

    /// The events of a stream with versions in `versions`, oldest first.
    static func read(
        _ db: Database, stream: StreamName, streamID: Int64, versions: ClosedRange<Int64>
    ) throws
        -> [RecordedEvent]
    {
        let statement = try db.cachedStatement(
            sql:
                "SELECT \(columns) FROM events e WHERE e.stream_id = ? AND e.version BETWEEN ? AND ? ORDER BY e.version"
        )
        return try fetch(statement, arguments: [streamID, versions.lowerBound, versions.upperBound]) {
            try decode($0, stream: stream)
        }
    }

    /// Runs a query and decodes each row as it is stepped (a cursor: no intermediate copy of the rows).
    static func fetch(
        _ statement: Statement,
        arguments: StatementArguments,
        _ decode: (Row) throws -> RecordedEvent
    ) throws -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try cursor.next() {
            events.append(try decode(row))
        }
        return events
    }
}

/// Turns stream names read from the database into ``StreamName``s, parsing each one once per read.
struct StreamNameCache {
    private var names: [Int64: StreamName] = [:]

    mutating func name(id: Int64, raw: String) throws -> StreamName {
        if let name = names[id] { return name }
        do {
            let name = try StreamName(raw)
            names[id] = name
            return name
        } catch {
            throw EventStoreError(
                code: .corruptStore, message: "the store holds an invalid stream name: \(error.message)")
        }
    }
}
