import Foundation
import Synchronization

/// An outcome handed from the send that ran a command to the sends of the same id that waited.
struct SharedOutcome: Sendable {
    let commandType: String
    /// The fingerprint the command was sent with (``CommandOptions/fingerprint``).
    let fingerprint: [UInt8]?
    let result: Result<RecordedOutcome, CommandBusError>

    init(_ result: Result<RecordedOutcome, CommandBusError>, commandType: String, fingerprint: [UInt8]?) {
        self.commandType = commandType
        self.fingerprint = fingerprint
        self.result = result
    }

    init<R>(_ outcome: Result<CommandOutcome<R>, CommandBusError>, commandType: String, fingerprint: [UInt8]?) {
        self.commandType = commandType
        self.fingerprint = fingerprint
        switch outcome {
        case .failure(let error):
            result = .failure(error)
        case .success(let outcome):
            do {
                result = .success(
                    RecordedOutcome(
                        commandID: outcome.commandID, commandType: commandType,
                        status: .completed(try outcome.result.encodeCommandResult()), position: outcome.position,
                        recordedAt: 0, fingerprint: fingerprint))
            } catch {
                result = .failure(
                    CommandBusError.wrapping(error, commandType: commandType, commandID: outcome.commandID, attempts: 0)
                )
            }
        }
    }
}

/// The client-supplied command ids being handled in this process, so that concurrent sends of one
/// id run the handler once: the first send leads, the others wait for its outcome.
///
/// Only the leader runs; it finishes the entry when it has an outcome (or a failure), after the
/// outcome was recorded, so a send arriving later finds the record in the store instead.
final class InFlightCommands: Sendable {
    enum Admission: Sendable {
        case leader
        case follower(SharedOutcome)
    }

    private let waiters = Mutex<[UUID: [CheckedContinuation<Admission, Never>]]>([:])

    /// Leads the command id, or waits for the leader's outcome.
    func enter(_ id: UUID) async -> Admission {
        await withCheckedContinuation { continuation in
            let leads = waiters.withLock { waiters in
                if waiters[id] != nil {
                    waiters[id, default: []].append(continuation)
                    return false
                }
                waiters[id] = []
                return true
            }
            if leads { continuation.resume(returning: .leader) }
        }
    }

    /// How many sends of `id` wait for its leader.
    func waitingCount(for id: UUID) -> Int {
        waiters.withLock { $0[id]?.count ?? 0 }
    }

    /// Ends the leader's turn, handing `outcome` to every send that waited.
    func finish(_ id: UUID, with outcome: @autoclosure () -> SharedOutcome) {
        let waiting = waiters.withLock { $0.removeValue(forKey: id) } ?? []
        guard !waiting.isEmpty else { return }
        let shared = outcome()
        for waiter in waiting { waiter.resume(returning: .follower(shared)) }
    }

    /// Ends the leader's turn without an outcome to share (its own caller went away, which says
    /// nothing of the command): the first send that waited leads in its place, and the others
    /// wait on for that one.
    func passLead(_ id: UUID) {
        let next = waiters.withLock { waiters -> CheckedContinuation<Admission, Never>? in
            guard var waiting = waiters[id], !waiting.isEmpty else {
                waiters[id] = nil
                return nil
            }
            let next = waiting.removeFirst()
            waiters[id] = waiting
            return next
        }
        next?.resume(returning: .leader)
    }
}
