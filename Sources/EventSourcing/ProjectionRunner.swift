import EventStore
import Foundation
import Logging

/// Runs one ``Projection``: catches up from its checkpoint, follows the live log, and tells queries
/// how far its read model is.
///
/// Events arrive through a subscription to the whole log into a bounded queue; the runner takes
/// whatever has gathered (up to a batch) and applies it in one transaction with the checkpoint,
/// so under load many events share one commit, and a restart resumes exactly after the last
/// committed batch. A batch with no event the projection handles is not written at once; its
/// position is kept in memory (queries waiting for it here are answered) and the checkpoint catches
/// up with the next write, or after ``Configuration/checkpointInterval`` skipped positions, or
/// ``Configuration/skippedCheckpointDelay`` after the last write, whichever comes first (also when
/// no further event comes): servers that share the read models and do not run the projection see
/// its progress only in the stored checkpoint, and their queries wait for it.
public final class ProjectionRunner: ReadModelProgress, Sendable {
    /// Batching and checkpointing.
    public struct Configuration: Sendable {
        /// The most events applied in one transaction.
        public var batchSize: Int
        /// The most events waiting to be applied.
        public var bufferCapacity: Int
        /// The most positions skipped (events the projection does not handle) before the
        /// checkpoint is written anyway, bounding the re-reading after a restart.
        public var checkpointInterval: Int64
        /// How long skipped positions may stay unwritten after the last write of the checkpoint.
        public var skippedCheckpointDelay: Duration

        /// Makes a configuration.
        public init(
            batchSize: Int = 256, bufferCapacity: Int = 2_048, checkpointInterval: Int64 = 4_096,
            skippedCheckpointDelay: Duration = .milliseconds(50)
        ) {
            self.batchSize = max(batchSize, 1)
            self.bufferCapacity = max(bufferCapacity, 1)
            self.checkpointInterval = max(checkpointInterval, 1)
            self.skippedCheckpointDelay = max(skippedCheckpointDelay, .milliseconds(1))
        }
    }

    private struct Progress: Sendable {
        /// Every event up to here is reflected in the read model (applied, or not handled).
        var position: Int64 = 0
        /// Bumped by a reset, so a loop started before it cannot move the position.
        var generation: UInt64 = 0
        /// Whether ``run()`` is following the log: only then is `position` this read model's, as
        /// far as queries go. A runner that stopped (another server leads the projection now) may
        /// be behind a reset made elsewhere; queries then go by the stored checkpoint.
        var following = false

        /// Whether queries may take `position` as the read model's.
        func reached(_ target: Int64) -> Bool { following && position >= target }
    }

    /// Where one loop stands.
    private struct Cursor {
        var persisted: Int64
        var generation: UInt64
        /// When the checkpoint was last written (or the loop started).
        var persistedAt = ContinuousClock.now
        /// The last position applied or skipped.
        var reached: Int64

        init(persisted: Int64, generation: UInt64) {
            self.persisted = persisted
            self.generation = generation
            self.reached = persisted
        }
    }

    /// The projection run.
    public let projection: any Projection
    private let events: any EventStore
    private let readModels: any ProjectionStore
    private let configuration: Configuration
    private let logger: Logger
    private let progress = Monitor(Progress())

    /// Makes a runner; nothing happens until ``run()``, ``catchUp()`` or ``rebuild()``.
    public init(
        _ projection: any Projection,
        events: any EventStore,
        readModels: any ProjectionStore,
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "tradecore.eventsourcing.projections")
    ) {
        self.projection = projection
        self.events = events
        self.readModels = readModels
        self.configuration = configuration
        self.logger = logger
    }

    public var projectionName: String { projection.name }

    /// The global position the read model reflects (as far as this runner knows).
    public var position: Int64 { progress.read(\.position) }

    /// Runs until the task is cancelled: catches up from the stored checkpoint, then applies live
    /// events as they commit. After a rebuild (or another runner) moves the checkpoint, it starts
    /// again from there.
    ///
    /// First, a read model built by an older ``Projection/version`` is rebuilt (see ``rebuild()``).
    ///
    /// - Throws: ``ProjectionFailure`` when the projection throws (its batch is rolled back);
    ///   ``ProjectionVersionTooNew`` when a newer version of the projection built the read model;
    ///   the store's errors. Cancellation ends it without an error.
    public func run() async throws {
        try await prepare()
        // What this runner reached before (it led the projection earlier, here) may be gone: the
        // read model may have been reset and rebuilt elsewhere since. It starts from the stored
        // checkpoint, as a runner that never ran would.
        let checkpoint = try await readModels.checkpoint(of: projection.name)
        progress.update { progress in
            if progress.position != checkpoint {
                progress.position = checkpoint
                progress.generation += 1
            }
            progress.following = true
        }
        defer { progress.update { $0.following = false } }
        while !Task.isCancelled {
            let cursor = try await start()
            do {
                try await follow(from: cursor)
                return
            } catch let mismatch as CheckpointMismatch {
                logger.info(
                    "projection checkpoint moved; starting again from it",
                    metadata: ["projection.name": "\(projection.name)", "projection.checkpoint": "\(mismatch.found)"])
                // Moved back: the read model was reset under this runner (by another server); what
                // this runner had reached is gone with it.
                progress.update { progress in
                    guard mismatch.found < progress.position else { return }
                    progress.position = mismatch.found
                    progress.generation += 1
                }
            } catch is CancellationError {
                return
            } catch let error as EventStoreError where error.code == .closed {
                return
            }
        }
    }

    /// Applies every event committed so far, in batches, and returns the position reached. For
    /// tools and tests; ``run()`` does this and then goes on.
    @discardableResult
    public func catchUp() async throws -> Int64 {
        try await prepare()
        var cursor = try await start()
        let head = try await events.headPosition()
        var next = cursor.persisted + 1
        while next <= head {
            let page = try await events.readAll(from: next, filter: .all, limit: configuration.batchSize)
            guard let last = page.last else { break }
            do {
                try await apply(page, cursor: &cursor, force: last.position >= head)
                next = last.position + 1
            } catch is CheckpointMismatch {
                // A concurrent run() applied these first (or a rebuild reset): go on from the stored checkpoint.
                cursor = try await start()
                next = cursor.persisted + 1
            }
        }
        return progress.read(\.position)
    }

    /// Rebuilds the read model from position 0: empties its collections and checkpoint in one
    /// transaction, records this ``Projection/version`` as the one building it (whatever built it
    /// before), then replays the whole log; returns the position reached. A concurrent
    /// ``run()`` notices the reset and continues from the rebuilt state.
    @discardableResult
    public func rebuild() async throws -> Int64 {
        try await reset()
        logger.info("projection reset for a rebuild", metadata: ["projection.name": "\(projection.name)"])
        return try await catchUp()
    }

    /// The read-model collection that records which version of each projection built its rows
    /// (key: the projection's name; value: the version, in decimal). No projection owns it.
    public static let versionsCollection = "projection_versions"

    /// Makes sure the read model was built by this ``Projection/version`` before events are
    /// applied to it. Rows of an older version are dropped and rebuilt from the start of the log;
    /// rows of a newer one are left alone and ``ProjectionVersionTooNew`` is thrown. A read model
    /// with rows and no recorded version was built before versions were recorded: by version 1.
    /// An unreadable record is treated as an old version (a read model can always be rebuilt).
    private func prepare() async throws {
        let name = projection.name
        let running = projection.version
        let record = try await readModels.read { reader in try reader.value(in: Self.versionsCollection, key: name) }
        let built: Int?
        if let record {
            built = Int(String(decoding: record, as: UTF8.self)) ?? 0
        } else {
            built = try await readModels.checkpoint(of: name) > 0 ? 1 : nil
        }
        if let built {
            guard built <= running else {
                throw ProjectionVersionTooNew(projection: name, built: built, running: running)
            }
            if built == running && record != nil { return }
            if built < running {
                logger.notice(
                    "the read model was built by an older version of its projection; rebuilding it from the start of the log",
                    metadata: [
                        "projection.name": "\(name)", "projection.built_version": "\(built)",
                        "projection.version": "\(running)",
                    ])
                try await reset()
                return
            }
        }
        try await recordVersion()
    }

    /// Throws ``ProjectionVersionTooNew`` when the read model was built by a newer version of the
    /// projection than this one, and does nothing else: what a server asks when it starts, before
    /// it serves. Servers sharing a store run a projection on one of them, so an older server
    /// would otherwise serve until it came to lead the projection (a leader that died, in the
    /// middle of a rolling upgrade), and stop then.
    public func checkReadModelIsNotNewer() async throws {
        let name = projection.name
        let running = projection.version
        let record = try await readModels.read { reader in try reader.value(in: Self.versionsCollection, key: name) }
        guard let record, let built = Int(String(decoding: record, as: UTF8.self)), built > running else { return }
        throw ProjectionVersionTooNew(projection: name, built: built, running: running)
    }

    /// Empties the read model and its checkpoint, then records this version as the one building it
    /// (in that order: a crash in between leaves the old version recorded, so the next start
    /// empties it again).
    private func reset() async throws {
        try await readModels.reset(projection.name, collections: projection.collections)
        progress.update { progress in
            progress.position = 0
            progress.generation += 1
        }
        try await recordVersion()
    }

    private func recordVersion() async throws {
        let name = projection.name
        let version = Data(String(projection.version).utf8)
        try await readModels.write { writer in try writer.put(version, in: Self.versionsCollection, key: name) }
    }

    /// Returns once this runner (while it follows the log), or the stored checkpoint, has reached
    /// `target`. When several servers share the read models, one of them runs the projection: a
    /// server that does not (its runner waits for the lead) sees the others' progress in the stored
    /// checkpoint, which it reads at once and then every 25 ms while it waits.
    public func waitUntil(position target: Int64, timeout: Duration) async throws(QueryBusError) {
        let deadline = ContinuousClock.now + timeout
        // A read model already there answers, whatever time is left.
        guard !progress.read({ $0.reached(target) }) else { return }
        try await QueryBusError.requireCommitted(target, in: events, by: projection.name)
        // A runner that does not follow the log reads the stored checkpoint at once (another
        // server may run the projection); then it and the runner's progress are looked at every 25 ms.
        var reached = false
        if !progress.read(\.following) {
            reached = (try? await readModels.checkpoint(of: projection.name)).map { $0 >= target } ?? false
        }
        while !reached && !Task.isCancelled {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { break }
            reached = await progress.wait(until: { $0.reached(target) }) {
                try? await Task.sleep(for: min(left, .milliseconds(25)))
            }
            if !reached, let stored = try? await readModels.checkpoint(of: projection.name), stored >= target {
                reached = true
            }
        }
        // The last look: the time may have run out just as the read model got there (here, or on
        // the server that runs the projection).
        guard !reached, !progress.read({ $0.reached(target) }) else { return }
        if let stored = try? await readModels.checkpoint(of: projection.name), stored >= target { return }
        if Task.isCancelled {
            throw QueryBusError(.cancelled, queryType: projection.name, message: "cancelled while waiting")
        }
        let at = max(
            progress.read { $0.following ? $0.position : 0 },
            (try? await readModels.checkpoint(of: projection.name)) ?? 0)
        throw QueryBusError(
            .readModelBehind, queryType: projection.name,
            message: "projection \(projection.name) reached position \(at), not \(target), within \(timeout)",
            facts: ["projection": projection.name, "min_position": "\(target)", "read_model_position": "\(at)"])
    }

    // MARK: - Loops

    private func start() async throws -> Cursor {
        let checkpoint = try await readModels.checkpoint(of: projection.name)
        let generation = progress.update { progress -> UInt64 in
            progress.position = max(progress.position, checkpoint)
            return progress.generation
        }
        return Cursor(persisted: checkpoint, generation: generation)
    }

    /// Subscribes after the cursor and applies batches until cancelled or failed.
    private func follow(from start: Cursor) async throws {
        let queue = BatchQueue<RecordedEvent>(capacity: configuration.bufferCapacity)
        let subscription = events.subscribe(.position(start.persisted + 1))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await queue.fill(from: subscription) { message in
                    if case .event(let event) = message { event } else { nil }
                }
            }
            group.addTask {
                var cursor = start
                let delay = self.configuration.skippedCheckpointDelay
                try await queue.drain(
                    upTo: self.configuration.batchSize,
                    // Skipped positions not yet written: wake to write them if nothing else comes.
                    idle: { cursor.reached > cursor.persisted ? delay : nil }
                ) { batch in
                    try await self.apply(batch, cursor: &cursor, force: false)
                }
            }
            // The first loop to end (an error, or cancellation) ends the other.
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Applies one batch in one transaction with the checkpoint, or only notes its position when
    /// the projection handles none of its events and the checkpoint was written lately. An empty
    /// batch writes the checkpoint of the positions skipped since the last write.
    private func apply(_ batch: [RecordedEvent], cursor: inout Cursor, force: Bool) async throws {
        guard let last = batch.last?.position ?? (cursor.reached > cursor.persisted ? cursor.reached : nil) else {
            return
        }
        let projection = self.projection
        let generation = progress.read(\.generation)
        guard generation == cursor.generation else {
            // A rebuild reset the read model since this loop started: start again from its checkpoint.
            throw CheckpointMismatch(projection: projection.name, expected: cursor.persisted, found: 0)
        }
        let handled = batch.filter(projection.handles)
        if handled.isEmpty && !force && !batch.isEmpty && last - cursor.persisted < configuration.checkpointInterval
            && ContinuousClock.now - cursor.persistedAt < configuration.skippedCheckpointDelay
        {
            cursor.reached = last
            advance(to: last, generation: cursor.generation)
            return
        }
        try await readModels.commit(projection.name, from: cursor.persisted, to: last) { writer in
            for event in handled {
                do {
                    try projection.apply(event, to: writer)
                } catch let cancellation as CancellationError {
                    // The runner is being stopped (the read model's database gives up its write
                    // when the task is cancelled): not the projection's failure.
                    throw cancellation
                } catch {
                    throw ProjectionFailure(
                        projection: projection.name, position: event.position, eventType: event.type,
                        underlying: error)
                }
            }
        }
        cursor.persisted = last
        cursor.reached = last
        cursor.persistedAt = .now
        advance(to: last, generation: cursor.generation)
    }

    private func advance(to position: Int64, generation: UInt64) {
        progress.update { progress in
            guard progress.generation == generation, position > progress.position else { return }
            progress.position = position
        }
    }
}
