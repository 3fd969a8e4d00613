import EventStore
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The writer: appends gathered into batches, each sent as one call of `append_batch`.
///
/// Appends that arrive while a batch is being written wait for the next one, so under load a batch
/// carries many appends and one commit. The function writes each append that fits and reports the
/// others; those are resolved with ``AppendRules`` from what the store holds after the commit (a
/// retry of a committed append gets its first result, a conflict its current version and the
/// events since, a repeated command its first record). An append that turns out to fit after all
/// (the stream was created meanwhile by another server, for one that expected it to exist) goes
/// back into the queue.
extension PostgresEventStore {
    @discardableResult
    public func append(_ request: AppendRequest) async throws -> AppendResult {
        try AppendRules.validate(request, limits: configuration.options.limits)
        try checkOpen()
        return try await withCheckedThrowingContinuation { continuation in
            enqueue([PendingAppend(request: request, continuation: continuation)])
        }
    }

    /// Queues appends, and starts a writer task unless one is running. (After ``close()`` the
    /// writer fails what it takes with `.closed`.)
    func enqueue(_ appends: [PendingAppend]) {
        let start = writer.withLock { state -> Bool in
            state.queue += appends
            guard !state.isWriting else { return false }
            state.isWriting = true
            return true
        }
        if start { Task { await self.writeBatches() } }
    }

    /// Writes batches until the queue is empty, then wakes whoever waits for it to drain.
    private func writeBatches() async {
        while true {
            let (batch, drained) = writer.withLock { state -> ([PendingAppend], [CheckedContinuation<Void, Never>]) in
                var events = 0
                var count = 0
                for append in state.queue {
                    guard count < configuration.maxAppendsPerBatch,
                        count == 0 || events + append.request.events.count <= configuration.maxEventsPerBatch
                    else { break }
                    events += append.request.events.count
                    count += 1
                }
                guard count > 0 else {
                    state.isWriting = false
                    defer { state.drainedWaiters = [] }
                    return ([], state.drainedWaiters)
                }
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(count)
                return (batch, [])
            }
            guard !batch.isEmpty else {
                for waiter in drained { waiter.resume() }
                return
            }
            await write(batch)
        }
    }

    /// One batch: one call of `append_batch`, then each append answered.
    private func write(_ batch: [PendingAppend]) async {
        let query: PostgresQuery
        do {
            query = try Self.appendBatchQuery(batch.map(\.request), origin: origin)
        } catch {
            for append in batch {
                append.continuation.resume(
                    throwing: EventStoreError(code: .storageFailure, message: "could not encode an append: \(error)"))
            }
            return
        }
        let outcomes: [(written: Bool, firstVersion: Int64?, firstPosition: Int64?)]
        let started = ContinuousClock.now
        do {
            outcomes = try await run("appending \(batch.count) append(s)") { client, logger in
                var outcomes: [(written: Bool, firstVersion: Int64?, firstPosition: Int64?)] = []
                outcomes.reserveCapacity(batch.count)
                for try await row in try await client.query(query, logger: logger).decode((Bool, Int64?, Int64?).self) {
                    outcomes.append(row)
                }
                return outcomes
            }
        } catch {
            // The commit may or may not have happened: a retry with the same event ids finds out.
            let failure =
                (error as? EventStoreError).map {
                    $0.code == .closed
                        ? $0
                        : EventStoreError(
                            code: $0.code,
                            message: "\($0.message); the appends may or may not be committed: retry them with the "
                                + "same event ids to find out")
                } ?? EventStoreError(code: .storageFailure, message: "\(error)")
            for append in batch { append.continuation.resume(throwing: failure) }
            return
        }
        guard outcomes.count == batch.count else {
            for append in batch {
                append.continuation.resume(
                    throwing: EventStoreError(
                        code: .storageFailure,
                        message: "append_batch answered \(outcomes.count) rows for \(batch.count) appends"))
            }
            return
        }
        var committed: [RecordedEvent] = []
        var answers: [(PendingAppend, AppendResult)] = []
        var unresolved: [PendingAppend] = []
        for (append, outcome) in zip(batch, outcomes) {
            guard outcome.written, let firstVersion = outcome.firstVersion, let firstPosition = outcome.firstPosition
            else {
                unresolved.append(append)
                continue
            }
            let request = append.request
            let result = AppendResult(
                stream: request.stream, firstVersion: firstVersion,
                positions: (0..<Int64(request.events.count)).map { firstPosition + $0 })
            for (offset, event) in request.events.enumerated() {
                committed.append(
                    RecordedEvent(
                        id: event.id, stream: request.stream, version: firstVersion + Int64(offset),
                        position: firstPosition + Int64(offset), type: event.type, data: event.data,
                        metadata: event.metadata))
            }
            answers.append((append, result))
        }
        metrics.committed(answers.count, in: ContinuousClock.now - started)
        // Published before anyone is acknowledged, so a caller that subscribes after its append
        // returns sees it (or reads it from storage).
        offerCommitted(committed)
        for (append, result) in answers { append.continuation.resume(returning: result) }
        for append in unresolved { await resolve(append) }
    }

    /// Decides an append that `append_batch` did not write, from what the store now holds.
    private func resolve(_ append: PendingAppend) async {
        let request = append.request
        do {
            let (stream, committed, recorded, token) = try await run("deciding an append to \(request.stream)") {
                client, logger in
                try await Self.facts(of: request, client: client, logger: logger)
            }
            let decision = AppendRules.decide(
                request, currentVersion: stream?.version, committed: committed, recordedCommand: recorded,
                latestToken: token)
            switch decision {
            case .write:
                guard append.retries < 3 else {
                    throw EventStoreError(
                        code: .storageFailure,
                        message: "an append to \(request.stream) was refused by the database although it fits; "
                            + "nothing was written")
                }
                var again = append
                again.retries += 1
                enqueue([again])
            case .alreadyCommitted(let result):
                append.continuation.resume(returning: result)
            case .duplicateCommand(let existing):
                throw DuplicateCommand(existing: existing)
            case .staleFencingToken(let latest):
                throw AppendRules.staleFencingTokenError(request, latest: latest)
            case .duplicateEventIDs(let ids):
                throw EventStoreError(
                    code: .duplicateEventID,
                    message: "event ids \(ids.map(\.lowercasedText)) of an append to \(request.stream) are already "
                        + "committed in other streams")
            case .conflict(let reason):
                var events: [RecordedEvent] = []
                var complete = true
                if let stream,
                    let (versions, isComplete) = AppendRules.conflictVersions(
                        expected: request.expectedVersion, currentVersion: stream.version,
                        limit: configuration.options.limits.maxConflictEvents)
                {
                    events = try await readStream(
                        request.stream, from: versions.lowerBound, direction: .forward, limit: versions.count)
                    complete = isComplete
                }
                throw VersionConflict(
                    stream: request.stream, expected: request.expectedVersion, currentVersion: stream?.version,
                    reason: reason, eventsSinceExpected: events, eventsSinceExpectedAreComplete: complete)
            }
        } catch {
            append.continuation.resume(throwing: error)
        }
    }

    /// What ``AppendRules/decide`` needs: the stream's version, where the append's event ids are
    /// committed, the record of its command id, the newest token of its fencing key.
    private static func facts(
        of request: AppendRequest, client: PostgresClient, logger: Logger
    ) async throws -> (
        stream: (id: Int64, version: Int64)?, committed: [UUID: AppendRules.CommittedEvent],
        recorded: RecordedCommand?, token: Int64?
    ) {
        var stream: (id: Int64, version: Int64)?
        for try await (id, version) in try await client.query(
            "SELECT id, version FROM streams WHERE name = \(request.stream.rawValue)", logger: logger
        ).decode((Int64, Int64).self) {
            stream = (id, version)
        }
        var committed: [UUID: AppendRules.CommittedEvent] = [:]
        let rows = try await client.query(
            """
            SELECT e.event_id, s.name, e.version, e.position FROM events e JOIN streams s ON s.id = e.stream_id \
            WHERE e.event_id = ANY(\(request.events.map(\.id)))
            """,
            logger: logger)
        for try await (id, name, version, position) in rows.decode((UUID, String, Int64, Int64).self) {
            guard let name = try? StreamName(name) else { continue }
            committed[id] = AppendRules.CommittedEvent(stream: name, version: version, position: position)
        }
        let recorded = try await request.command.asyncMap {
            try await recordedCommand($0.commandID, client: client, logger: logger)
        }
        var token: Int64?
        if let fencing = request.fencing {
            for try await value in try await client.query(
                "SELECT token FROM fencing_tokens WHERE key = \(fencing.key)", logger: logger
            ).decode(Int64.self) {
                token = value
            }
        }
        return (stream, committed, recorded ?? nil, token)
    }

    /// The call of `append_batch` for `requests`: per-append and per-event columns as arrays.
    static func appendBatchQuery(_ requests: [AppendRequest], origin: String = "") throws -> PostgresQuery {
        var streams: [String] = []
        var types: [String] = []
        var expectedKinds: [Int16] = []
        var expectedVersions: [Int64] = []
        var counts: [Int32] = []
        var hasCommand: [Bool] = []
        var commandIDs: [UUID] = []
        var commandTypes: [String] = []
        var outcomes: [ByteBuffer] = []
        var commandTimes: [Int64] = []
        var hasFence: [Bool] = []
        var fenceKeys: [String] = []
        var fenceTokens: [Int64] = []
        var ids: [UUID] = []
        var eventTypes: [String] = []
        var data: [ByteBuffer] = []
        var hasCausation: [Bool] = []
        var causations: [UUID] = []
        var hasCorrelation: [Bool] = []
        var correlations: [UUID] = []
        var hasSaga: [Bool] = []
        var sagas: [UUID] = []
        var hasUser: [Bool] = []
        var users: [UUID] = []
        var hasCommandType: [Bool] = []
        var eventCommandTypes: [String] = []
        var times: [Int64] = []
        var extras: [ByteBuffer] = []
        let none = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        for request in requests {
            streams.append(request.stream.rawValue)
            types.append(request.stream.type)
            switch request.expectedVersion {
            case .any:
                expectedKinds.append(0)
                expectedVersions.append(0)
            case .noStream:
                expectedKinds.append(1)
                expectedVersions.append(0)
            case .streamExists:
                expectedKinds.append(2)
                expectedVersions.append(0)
            case .exact(let version):
                expectedKinds.append(3)
                expectedVersions.append(version)
            }
            counts.append(Int32(request.events.count))
            hasCommand.append(request.command != nil)
            commandIDs.append(request.command?.commandID ?? none)
            commandTypes.append(request.command?.commandType ?? "")
            outcomes.append(ByteBuffer(bytes: request.command?.outcome ?? Data()))
            commandTimes.append(request.command?.time ?? 0)
            hasFence.append(request.fencing != nil)
            fenceKeys.append(request.fencing?.key ?? "")
            fenceTokens.append(request.fencing?.token ?? 0)
            for event in request.events {
                let metadata = event.metadata
                ids.append(event.id)
                eventTypes.append(event.type)
                data.append(ByteBuffer(bytes: event.data))
                hasCausation.append(metadata.causationID != nil)
                causations.append(metadata.causationID ?? none)
                hasCorrelation.append(metadata.correlationID != nil)
                correlations.append(metadata.correlationID ?? none)
                hasSaga.append(metadata.sagaID != nil)
                sagas.append(metadata.sagaID ?? none)
                hasUser.append(metadata.userID != nil)
                users.append(metadata.userID ?? none)
                hasCommandType.append(metadata.commandType != nil)
                eventCommandTypes.append(metadata.commandType ?? "")
                times.append(metadata.time)
                extras.append(ByteBuffer(bytes: ExtraMetadataCodec.encode(metadata.extra) ?? Data()))
            }
        }
        var binds = PostgresBindings(capacity: 29)
        binds.append(streams, context: .default)
        binds.append(types, context: .default)
        binds.append(expectedKinds, context: .default)
        binds.append(expectedVersions, context: .default)
        binds.append(counts, context: .default)
        binds.append(hasCommand, context: .default)
        binds.append(commandIDs, context: .default)
        binds.append(commandTypes, context: .default)
        binds.append(outcomes, context: .default)
        binds.append(commandTimes, context: .default)
        binds.append(hasFence, context: .default)
        binds.append(fenceKeys, context: .default)
        binds.append(fenceTokens, context: .default)
        binds.append(ids, context: .default)
        binds.append(eventTypes, context: .default)
        binds.append(data, context: .default)
        binds.append(hasCausation, context: .default)
        binds.append(causations, context: .default)
        binds.append(hasCorrelation, context: .default)
        binds.append(correlations, context: .default)
        binds.append(hasSaga, context: .default)
        binds.append(sagas, context: .default)
        binds.append(hasUser, context: .default)
        binds.append(users, context: .default)
        binds.append(hasCommandType, context: .default)
        binds.append(eventCommandTypes, context: .default)
        binds.append(times, context: .default)
        binds.append(extras, context: .default)
        binds.append(origin)
        let placeholders = (1...29).map { "$\($0)" }.joined(separator: ", ")
        return PostgresQuery(unsafeSQL: "SELECT * FROM append_batch(\(placeholders))", binds: binds)
    }
}

extension Optional {
    fileprivate func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
