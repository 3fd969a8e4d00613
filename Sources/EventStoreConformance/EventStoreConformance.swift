import EventStore
import Foundation

/// Makes a fresh, empty store with the given options. The suite closes every store it made.
public typealias EventStoreFactory = @Sendable (EventStoreOptions) async throws -> any EventStore

/// The one conformance suite every event store backend must pass.
///
/// Each ``Case`` is a plain async function that throws ``ConformanceFailure`` (or the store's own
/// error) when the backend misbehaves, so any test framework can run it: a backend's test target
/// calls ``run(_:makeStore:)`` once per case, in a test named after it.
public enum EventStoreConformance {
    /// The cases; adding one means adding a test for it in every backend's test target.
    public enum Case: String, CaseIterable, Sendable, CustomStringConvertible {
        // Expected versions.
        case noStreamCreatesStream
        case noStreamConflictsWithExistingStream
        case anyAppendsWhateverTheState
        case streamExistsRequiresStream
        case exactVersionAppendsOnMatch
        case exactVersionBehindConflictsWithEventsSince
        case exactVersionAheadConflicts
        case conflictEventsAreCappedAtLimit
        // Idempotent retries.
        case retryReturnsOriginalResult
        case partialRetryConflicts
        case retryWithMismatchedExpectationConflicts
        case eventIDInAnotherStreamIsRejected
        // Atomicity and isolation.
        case multiEventAppendIsAtomic
        case failingAppendDoesNotFailNeighbours
        case concurrentWritersOneWinnerPerVersion
        // Reads.
        case readStreamForwardAndBackward
        case readAllPagesInPositionOrder
        case readAllFilters
        case metadataRoundTrips
        // Bad input.
        case invalidAppendsAreRejected
        // Snapshots.
        case snapshotsKeepNewestPerShape
        case loadUsesSnapshotAndLaterEvents
        case snapshotSchedulerSavesInBackground
        // Subscriptions.
        case subscriptionCatchesUpThenGoesLive
        case subscriptionStartsFromPositionOrEnd
        case streamSubscriptionStartsFromVersion
        case filteredSubscription
        case slowSubscriberKeepsMemoryBounded
        case liveSubscriberThatFallsBehindRejoins
        case hundredSubscribersSeeTheWholeLog
        case idleSubscriberGetsCheckpoints
        case cancellingConsumerFreesSubscription
        case closingStoreEndsSubscriptionsAndAppends
        // Command records.
        case commandRecordCommitsWithEvents
        case duplicateCommandWritesNothing
        case retryOfAppendWithCommandReturnsOriginalResult
        case commandRecordedWithoutEvents
        case refusedAppendRecordsNoCommand
        case concurrentDuplicateCommandsOneWins
        case commandRecordsArePurgedByAge
        // Fencing tokens.
        case fencingTokensGrowPerKey
        case staleFencingTokenIsRejected

        public var description: String { rawValue }
    }

    /// Runs one case against stores made by `makeStore`.
    public static func run(_ testCase: Case, makeStore: @escaping EventStoreFactory) async throws {
        let harness = Harness(makeStore: makeStore)
        do {
            try await body(of: testCase)(harness)
        } catch {
            await harness.closeAll()
            throw error
        }
        await harness.closeAll()
    }

    private static func body(of testCase: Case) -> @Sendable (Harness) async throws -> Void {
        switch testCase {
        case .noStreamCreatesStream: noStreamCreatesStream
        case .noStreamConflictsWithExistingStream: noStreamConflictsWithExistingStream
        case .anyAppendsWhateverTheState: anyAppendsWhateverTheState
        case .streamExistsRequiresStream: streamExistsRequiresStream
        case .exactVersionAppendsOnMatch: exactVersionAppendsOnMatch
        case .exactVersionBehindConflictsWithEventsSince: exactVersionBehindConflictsWithEventsSince
        case .exactVersionAheadConflicts: exactVersionAheadConflicts
        case .conflictEventsAreCappedAtLimit: conflictEventsAreCappedAtLimit
        case .retryReturnsOriginalResult: retryReturnsOriginalResult
        case .partialRetryConflicts: partialRetryConflicts
        case .retryWithMismatchedExpectationConflicts: retryWithMismatchedExpectationConflicts
        case .eventIDInAnotherStreamIsRejected: eventIDInAnotherStreamIsRejected
        case .multiEventAppendIsAtomic: multiEventAppendIsAtomic
        case .failingAppendDoesNotFailNeighbours: failingAppendDoesNotFailNeighbours
        case .concurrentWritersOneWinnerPerVersion: concurrentWritersOneWinnerPerVersion
        case .readStreamForwardAndBackward: readStreamForwardAndBackward
        case .readAllPagesInPositionOrder: readAllPagesInPositionOrder
        case .readAllFilters: readAllFilters
        case .metadataRoundTrips: metadataRoundTrips
        case .invalidAppendsAreRejected: invalidAppendsAreRejected
        case .snapshotsKeepNewestPerShape: snapshotsKeepNewestPerShape
        case .loadUsesSnapshotAndLaterEvents: loadUsesSnapshotAndLaterEvents
        case .snapshotSchedulerSavesInBackground: snapshotSchedulerSavesInBackground
        case .subscriptionCatchesUpThenGoesLive: subscriptionCatchesUpThenGoesLive
        case .subscriptionStartsFromPositionOrEnd: subscriptionStartsFromPositionOrEnd
        case .streamSubscriptionStartsFromVersion: streamSubscriptionStartsFromVersion
        case .filteredSubscription: filteredSubscription
        case .slowSubscriberKeepsMemoryBounded: slowSubscriberKeepsMemoryBounded
        case .liveSubscriberThatFallsBehindRejoins: liveSubscriberThatFallsBehindRejoins
        case .hundredSubscribersSeeTheWholeLog: hundredSubscribersSeeTheWholeLog
        case .idleSubscriberGetsCheckpoints: idleSubscriberGetsCheckpoints
        case .cancellingConsumerFreesSubscription: cancellingConsumerFreesSubscription
        case .closingStoreEndsSubscriptionsAndAppends: closingStoreEndsSubscriptionsAndAppends
        case .commandRecordCommitsWithEvents: commandRecordCommitsWithEvents
        case .duplicateCommandWritesNothing: duplicateCommandWritesNothing
        case .retryOfAppendWithCommandReturnsOriginalResult: retryOfAppendWithCommandReturnsOriginalResult
        case .commandRecordedWithoutEvents: commandRecordedWithoutEvents
        case .refusedAppendRecordsNoCommand: refusedAppendRecordsNoCommand
        case .concurrentDuplicateCommandsOneWins: concurrentDuplicateCommandsOneWins
        case .commandRecordsArePurgedByAge: commandRecordsArePurgedByAge
        case .fencingTokensGrowPerKey: fencingTokensGrowPerKey
        case .staleFencingTokenIsRejected: staleFencingTokenIsRejected
        }
    }
}

/// A conformance case found the backend misbehaving.
public struct ConformanceFailure: Error, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    /// Where in the suite it was checked.
    public let location: String

    public var description: String { "\(location): \(message)" }
}
