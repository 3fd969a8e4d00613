import EventStore
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Feeding the subscription hub with the one log, in position order, on every server.
///
/// A server hands its own batches to the hub as soon as they commit, when they follow directly on
/// what the hub has (the usual case). Anything else (another server's commits, or this server's
/// when another's came between) is read from the database by position: the follower reads from
/// the hub's head on, woken by the notification each batch sends on commit, by a batch of this
/// server's that did not follow on, and every poll interval in case a notification was lost.
/// Positions are gap-free (see ``PostgresSchema``), so reading from the head on never skips one.
extension PostgresEventStore {
    /// Hands this server's committed events to the hub, or wakes the follower when they do not
    /// follow directly on what the hub has.
    func offerCommitted(_ events: [RecordedEvent]) {
        guard !events.isEmpty else { return }
        if follower.publish(events, to: subscriptions) == .gap { follower.wake() }
    }

    /// Reads what the hub has not seen, whenever woken, until the store closes.
    func followLog() async {
        let pageSize = 1_000
        var failing = false
        while !Task.isCancelled {
            await follower.waitForWake(timeout: configuration.pollInterval)
            guard !Task.isCancelled else { return }
            do {
                while !Task.isCancelled {
                    let from = follower.published + 1
                    let page = try await readAll(from: from, filter: .all, limit: pageSize)
                    guard !page.isEmpty else { break }
                    _ = follower.publish(page, to: subscriptions)
                    if page.count < pageSize { break }
                }
                if failing {
                    failing = false
                    logger.notice("reading the log from the database again")
                }
            } catch {
                if Task.isCancelled || (error as? EventStoreError)?.code == .closed { return }
                if !failing {
                    failing = true
                    logger.warning(
                        "cannot read the log from the database; subscribers wait until it answers",
                        metadata: ["eventstore.error": "\(error)"])
                }
            }
        }
    }

    /// Listens for the notifications of committed batches on a connection of its own, and wakes
    /// the follower for each that goes beyond what the hub has. Reconnects after a failure.
    func listenForCommits() async {
        let channel = PostgresSchema.channel(schema)
        var failures = 0
        while !Task.isCancelled {
            let (client, generation) = currentPool
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        failures = 0
                        // Anything committed while no one listened is read now.
                        follower.wake()
                        for try await notification in notifications {
                            // "<head> <origin>": this server publishes its own batches as they
                            // commit (and wakes the follower itself if another's came between).
                            let parts = notification.payload.split(separator: " ", maxSplits: 1)
                            if parts.count == 2, parts[1] == origin { continue }
                            if let head = parts.first.flatMap({ Int64($0) }), head <= follower.published { continue }
                            follower.wake()
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                // This session ends first when the server goes down: the first sign that it did.
                if Self.meansUnreachable(error) {
                    markUnreachable("\(Self.map(error, doing: "listening", configuration))", generation: generation)
                }
                failures += 1
                if failures == 1 {
                    logger.warning(
                        "lost the notifications of other servers' commits; polling until they are back",
                        metadata: ["eventstore.error": "\(error)"])
                }
                try? await Task.sleep(for: .milliseconds(min(100 * (1 << min(failures, 6)), 5_000)))
            }
        }
    }

    /// Runs `body` within `timeout`; past it, fails with an error saying the database did not answer.
    static func withDeadline<T: Sendable>(
        _ timeout: Duration, doing operation: String, _ configuration: Configuration,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await Deadline.run(timeout, body) {
            EventStoreError(
                code: .storageFailure,
                message: "PostgreSQL at \(configuration.redactedURL) did not answer \(operation) within \(timeout)")
        }
    }

    /// An error of postgres-nio (or ours) as an ``EventStoreError`` saying what went wrong.
    package static func map(_ error: any Error, doing operation: String, _ configuration: Configuration) -> any Error {
        switch error {
        case is EventStoreError, is VersionConflict, is DuplicateCommand, is CancellationError:
            return error
        case let error as CallerError:
            return error.error
        case let error as PostgresTransactionError:
            return map(
                error.closureError ?? error.commitError ?? error.beginError ?? error.rollbackError ?? error,
                doing: operation, configuration)
        case let error as PSQLError:
            let database = configuration.redactedURL
            if error.code == .server, let info = error.serverInfo {
                let state = info[.sqlState] ?? "?"
                let message = info[.message] ?? "an error"
                switch state {
                case "28P01", "28000":
                    return EventStoreError(
                        code: .storageFailure,
                        message: "PostgreSQL at \(database) refused the login: \(message) (check the user and password)"
                    )
                case "3D000":
                    return EventStoreError(
                        code: .storageFailure, message: "PostgreSQL at \(database): \(message) (create the database)")
                case "53100":
                    return EventStoreError(
                        code: .storageFull, message: "PostgreSQL at \(database) is out of disk space: \(message)")
                case "57014":
                    return EventStoreError(
                        code: .storageFailure,
                        message: "PostgreSQL at \(database) cancelled \(operation): \(message) (a statement timeout?)")
                default:
                    return EventStoreError(
                        code: .storageFailure,
                        message: "PostgreSQL at \(database) refused \(operation): \(message) (SQLSTATE \(state))")
                }
            }
            let cause = error.underlying.map { ": \($0)" } ?? ""
            return EventStoreError(
                code: .storageFailure,
                message: "cannot reach PostgreSQL at \(database) for \(operation) (\(error.code))\(cause)")
        default:
            return EventStoreError(code: .storageFailure, message: "\(operation) failed: \(error)")
        }
    }
}

/// An error of a caller's own code run inside ``PostgresEventStore/withConnection(_:_:)``: it reaches
/// the caller unchanged, where any other error becomes an ``EventStoreError``.
package struct CallerError: Error {
    package let error: any Error

    package init(_ error: any Error) {
        self.error = error
    }
}

/// What the hub has been given, and the follower's wake-up call.
final class LogFollower: Sendable {
    enum Offer {
        case published
        /// The events do not follow directly on what the hub has: read the log from the database.
        case gap
    }

    private struct State {
        var published: Int64
        var woken = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state: Mutex<State>

    init(published: Int64) {
        state = Mutex(State(published: published))
    }

    /// The position of the last event handed to the hub.
    var published: Int64 { state.withLock { $0.published } }

    /// Hands `events` (in position order, without holes) to `hub`, skipping those it has already
    /// seen; under the lock, so the hub gets the log in order whoever calls.
    func publish(_ events: [RecordedEvent], to hub: SubscriptionHub) -> Offer {
        state.withLock { state in
            guard let last = events.last, last.position > state.published else { return .published }
            let fresh =
                events.first.map { $0.position > state.published } == true
                ? events : events.filter { $0.position > state.published }
            guard fresh.first?.position == state.published + 1 else { return .gap }
            hub.publish(fresh)
            state.published = last.position
            return .published
        }
    }

    func wake() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.woken = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns when woken (or woken before, since the last return), after `timeout`, or on cancellation.
    func waitForWake(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: timeout) }
            group.addTask { await self.nextWake() }
            await group.next()
            group.cancelAll()
        }
    }

    private func nextWake() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.woken || Task.isCancelled {
                        state.woken = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}

/// Bounds how long a caller waits for the database.
///
/// Not a task group: a group returns only once all its children have, and a query on a connection
/// the server dropped without a word may never return, however cancelled. Here the work runs in a
/// task of its own; the caller gets the timeout error when the time is up (the work is cancelled,
/// and left to end when it can), or its result when it comes first.
package enum Deadline {
    package static func run<T: Sendable>(
        _ timeout: Duration, _ body: @escaping @Sendable () async throws -> T,
        timedOut: @escaping @Sendable () -> any Error
    ) async throws -> T {
        let outcome = Outcome<T>()
        let work = Task { outcome.finish(with: await Result(catching: body)) }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { outcome.finish(with: .failure(timedOut())) }
        }
        defer {
            timer.cancel()
            work.cancel()
        }
        return try await withTaskCancellationHandler {
            try await outcome.value()
        } onCancel: {
            outcome.finish(with: .failure(CancellationError()))
        }
    }

    /// The first of the work's result, the timeout and cancellation.
    private final class Outcome<T: Sendable>: Sendable {
        private let state = Mutex<(result: Result<T, any Error>?, waiter: CheckedContinuation<T, any Error>?)>(
            (nil, nil))

        func finish(with result: Result<T, any Error>) {
            let waiter = state.withLock { state -> CheckedContinuation<T, any Error>? in
                guard state.result == nil else { return nil }
                state.result = result
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(with: result)
        }

        func value() async throws -> T {
            try await withCheckedThrowingContinuation { continuation in
                let ready = state.withLock { state -> Result<T, any Error>? in
                    if let result = state.result { return result }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        }
    }
}

extension Result where Failure == any Error {
    fileprivate init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
