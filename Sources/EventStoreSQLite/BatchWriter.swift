import EventStore
import Foundation
import GRDB

/// Writes one batch of appends inside one transaction, deciding each append on its own.
///
/// Each append is checked against the stream as the batch has left it so far; one that conflicts
/// or fails writes nothing and fails only its own caller. The writes of an append of several events
/// run inside a SAVEPOINT, so a failure half-way leaves nothing behind; a single-event append is
/// one INSERT, atomic by itself (plus its stream's row when it creates the stream, deleted again if
/// the event is refused). A command record is inserted before the events, so a command id already
/// recorded fails the append before anything else is written; a later failure deletes it again
/// (or rolls it back with the savepoint). Errors that leave the transaction in doubt (disk full,
/// I/O errors) abort the whole batch.
struct BatchWriter {
    /// What one append came to.
    enum Outcome {
        /// Written in this batch: the result and the events as recorded.
        case written(AppendResult, [RecordedEvent])
        /// Committed before: the original result; nothing written.
        case replayed(AppendResult)
    }

    let db: Database
    let limits: EventStoreLimits
    /// The position of the last event written so far, in this transaction.
    private(set) var head: Int64
    private let insert: EventInsert
    private let streamRows: StreamRows

    /// A writer for the open transaction; `knownHead` is the log's last position if the caller
    /// knows it (the schema refuses a wrong one), else it is read.
    init(db: Database, limits: EventStoreLimits, knownHead: Int64?) throws {
        self.db = db
        self.limits = limits
        if let knownHead {
            self.head = knownHead
        } else {
            self.head = try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(position) FROM events")) ?? 0
        }
        self.insert = try EventInsert(db)
        self.streamRows = try StreamRows(db)
    }

    /// Decides and writes `request`. Throws its conflict or failure; rethrows errors that abort the batch.
    mutating func append(_ request: AppendRequest, streams: inout StreamCache) throws -> Outcome {
        let state: (id: Int64, version: Int64)?
        if let cached = streams[request.stream] {
            state = (cached.id, cached.version)
        } else if request.expectedVersion == .noStream {
            // Taken as absent: inserting the stream's row below proves it (names are unique), and
            // the commonest append, one that creates its stream, saves a lookup. If the row exists
            // the insert fails and the append is decided on the stream's real state.
            state = nil
        } else {
            state = try streamRows.state(of: request.stream)
        }
        guard request.expectedVersion.isSatisfied(byCurrentVersion: state?.version) else {
            return try resolve(request, state: state, insertError: nil)
        }
        if let fencing = request.fencing, try CommandRows.latestToken(db, key: fencing.key) != fencing.token {
            return try resolve(request, state: state, insertError: nil)
        }
        // A savepoint costs about as much as an insert, so the commonest appends (one event) go
        // without: see the type's documentation.
        let needsSavepoint = request.events.count > 1
        if needsSavepoint { try db.cachedStatement(sql: "SAVEPOINT append").execute() }
        var createdStreamID: Int64?
        var insertedCommand = false
        do {
            let streamID: Int64
            if let state {
                streamID = state.id
            } else {
                streamID = try streamRows.insert(request.stream, db: db)
                createdStreamID = streamID
            }
            let firstVersion = (state?.version ?? -1) + 1
            let result = AppendResult(
                stream: request.stream,
                firstVersion: firstVersion,
                positions: (0..<Int64(request.events.count)).map { head + 1 + $0 }
            )
            // Before the events: a command id already recorded fails here, with nothing else written.
            if let command = request.command {
                try CommandRows.insert(db, command, streamID: streamID, append: result)
                insertedCommand = true
            }
            var recorded: [RecordedEvent] = []
            recorded.reserveCapacity(request.events.count)
            for (offset, event) in request.events.enumerated() {
                let position = result.positions[offset]
                let version = firstVersion + Int64(offset)
                try insert.execute(event, position: position, streamID: streamID, version: version)
                recorded.append(
                    RecordedEvent(
                        id: event.id,
                        stream: request.stream,
                        version: version,
                        position: position,
                        type: event.type,
                        data: event.data,
                        metadata: event.metadata
                    )
                )
            }
            if needsSavepoint { try db.cachedStatement(sql: "RELEASE SAVEPOINT append").execute() }
            head += Int64(recorded.count)
            streams[request.stream] = StreamCache.Entry(id: streamID, version: result.version)
            return .written(result, recorded)
        } catch let error where !StorageErrors.abortsTransaction(error) {
            // The cached state may be what made the schema refuse the insert: forget it.
            streams[request.stream] = nil
            if needsSavepoint {
                try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT append").execute()
                try db.cachedStatement(sql: "RELEASE SAVEPOINT append").execute()
            } else {
                if insertedCommand, let command = request.command {
                    try CommandRows.delete(db, commandID: command.commandID)
                }
                if let createdStreamID {
                    try db.cachedStatement(sql: "DELETE FROM streams WHERE id = ?").execute(arguments: [createdStreamID]
                    )
                }
            }
            // The expected version held (or the stream was taken as absent, which failed when it
            // exists), so a constraint failure means an event id or the command id is already
            // committed: the append is a retry, a partial retry, reuses another stream's id, or
            // repeats a recorded command.
            return try resolve(request, state: state ?? streamRows.state(of: request.stream), insertError: error)
        }
    }

    /// Decides an append that cannot simply be written, from where its event ids are committed.
    private func resolve(
        _ request: AppendRequest, state: (id: Int64, version: Int64)?, insertError: (any Error)?
    ) throws
        -> Outcome
    {
        let decision = AppendRules.decide(
            request,
            currentVersion: state?.version,
            committed: try lookUp(request.events.map(\.id)),
            recordedCommand: try request.command.flatMap { try CommandRows.find(db, commandID: $0.commandID) },
            latestToken: try request.fencing.flatMap { try CommandRows.latestToken(db, key: $0.key) }
        )
        switch decision {
        case .alreadyCommitted(let result):
            return .replayed(result)
        case .duplicateCommand(let existing):
            throw DuplicateCommand(existing: existing)
        case .staleFencingToken(let latest):
            throw AppendRules.staleFencingTokenError(request, latest: latest)
        case .conflict(let reason):
            var events: [RecordedEvent] = []
            var complete = true
            if let state,
                let (versions, isComplete) = AppendRules.conflictVersions(
                    expected: request.expectedVersion,
                    currentVersion: state.version,
                    limit: limits.maxConflictEvents
                )
            {
                events = try EventRows.read(db, stream: request.stream, streamID: state.id, versions: versions)
                complete = isComplete
            }
            throw VersionConflict(
                stream: request.stream,
                expected: request.expectedVersion,
                currentVersion: state?.version,
                reason: reason,
                eventsSinceExpected: events,
                eventsSinceExpectedAreComplete: complete
            )
        case .duplicateEventIDs(let ids):
            throw EventStoreError(
                code: .duplicateEventID,
                message: "event ids \(ids.map { $0.lowercasedText }) of an append to \(request.stream) are "
                    + "already committed in other streams"
            )
        case .write:
            if let insertError, StorageErrors.isTakenPosition(insertError) {
                // This writer numbers the log alone: a position already taken means another process
                // wrote to the file (its lock removed by hand, say). Every later append would fail
                // the same way, so the store stops taking them (see StorageErrors.abortsTransaction).
                throw LogPositionTaken(
                    failure: EventStoreError(
                        code: .storageFailure,
                        message: "log position \(head + 1) is already taken: another process has written to this "
                            + "store (was its lock file removed while this server ran?)",
                        underlying: SendableDescription(insertError)))
            }
            // Reached only when an insert failed for a reason other than a taken event id.
            throw EventStoreError(
                code: .storageFailure,
                message:
                    "an append to \(request.stream) was refused by the schema: \(insertError.map { "\($0)" } ?? "?")",
                underlying: insertError.map(SendableDescription.init)
            )
        }
    }

    /// Where each of `ids` is committed, if anywhere.
    private func lookUp(_ ids: [UUID]) throws -> [UUID: AppendRules.CommittedEvent] {
        var found: [UUID: AppendRules.CommittedEvent] = [:]
        var names = StreamNameCache()
        // Chunks keep the statement under SQLite's limit on bound parameters.
        for start in stride(from: 0, to: ids.count, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.count)])
            let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT e.event_id, s.id, s.name, e.version, e.position \
                    FROM events e JOIN streams s ON s.id = e.stream_id WHERE e.event_id IN (\(placeholders))
                    """,
                arguments: StatementArguments(chunk)
            )
            for row in rows {
                let id = try row.decode(UUID.self, atIndex: 0)
                found[id] = AppendRules.CommittedEvent(
                    stream: try names.name(
                        id: try row.decode(Int64.self, atIndex: 1), raw: try row.decode(String.self, atIndex: 2)),
                    version: try row.decode(Int64.self, atIndex: 3),
                    position: try row.decode(Int64.self, atIndex: 4)
                )
            }
        }
        return found
    }
}
