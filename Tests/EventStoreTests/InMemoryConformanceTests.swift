import EventStore
import EventStoreConformance
import Testing

/// The conformance suite on the in-memory backend, one test per case so a failure names its case.
@Suite(.timeLimit(.minutes(2)))
struct InMemoryConformanceTests {
    private func run(_ testCase: EventStoreConformance.Case) async throws {
        try await EventStoreConformance.run(testCase) { options in InMemoryEventStore(options: options) }
    }

    @Test func everyCaseHasATest() throws {
        #expect(try EventStoreConformance.casesNotRun(inTestFile: #filePath) == [])
    }

    @Test func noStreamCreatesStream() async throws { try await run(.noStreamCreatesStream) }
    @Test func noStreamConflictsWithExistingStream() async throws {
        try await run(.noStreamConflictsWithExistingStream)
    }
    @Test func anyAppendsWhateverTheState() async throws { try await run(.anyAppendsWhateverTheState) }
    @Test func streamExistsRequiresStream() async throws { try await run(.streamExistsRequiresStream) }
    @Test func exactVersionAppendsOnMatch() async throws { try await run(.exactVersionAppendsOnMatch) }
    @Test func exactVersionBehindConflictsWithEventsSince() async throws {
        try await run(.exactVersionBehindConflictsWithEventsSince)
    }
    @Test func exactVersionAheadConflicts() async throws { try await run(.exactVersionAheadConflicts) }
    @Test func conflictEventsAreCappedAtLimit() async throws { try await run(.conflictEventsAreCappedAtLimit) }
    @Test func retryReturnsOriginalResult() async throws { try await run(.retryReturnsOriginalResult) }
    @Test func partialRetryConflicts() async throws { try await run(.partialRetryConflicts) }
    @Test func retryWithMismatchedExpectationConflicts() async throws {
        try await run(.retryWithMismatchedExpectationConflicts)
    }
    @Test func eventIDInAnotherStreamIsRejected() async throws { try await run(.eventIDInAnotherStreamIsRejected) }
    @Test func multiEventAppendIsAtomic() async throws { try await run(.multiEventAppendIsAtomic) }
    @Test func failingAppendDoesNotFailNeighbours() async throws { try await run(.failingAppendDoesNotFailNeighbours) }
    @Test func concurrentWritersOneWinnerPerVersion() async throws {
        try await run(.concurrentWritersOneWinnerPerVersion)
    }
    @Test func readStreamForwardAndBackward() async throws { try await run(.readStreamForwardAndBackward) }
    @Test func readAllPagesInPositionOrder() async throws { try await run(.readAllPagesInPositionOrder) }
    @Test func readAllFilters() async throws { try await run(.readAllFilters) }
    @Test func metadataRoundTrips() async throws { try await run(.metadataRoundTrips) }
    @Test func invalidAppendsAreRejected() async throws { try await run(.invalidAppendsAreRejected) }
    @Test func snapshotsKeepNewestPerShape() async throws { try await run(.snapshotsKeepNewestPerShape) }
    @Test func loadUsesSnapshotAndLaterEvents() async throws { try await run(.loadUsesSnapshotAndLaterEvents) }
    @Test func snapshotSchedulerSavesInBackground() async throws { try await run(.snapshotSchedulerSavesInBackground) }
    @Test func subscriptionCatchesUpThenGoesLive() async throws { try await run(.subscriptionCatchesUpThenGoesLive) }
    @Test func subscriptionStartsFromPositionOrEnd() async throws {
        try await run(.subscriptionStartsFromPositionOrEnd)
    }
    @Test func streamSubscriptionStartsFromVersion() async throws {
        try await run(.streamSubscriptionStartsFromVersion)
    }
    @Test func filteredSubscription() async throws { try await run(.filteredSubscription) }
    @Test func slowSubscriberKeepsMemoryBounded() async throws { try await run(.slowSubscriberKeepsMemoryBounded) }
    @Test func liveSubscriberThatFallsBehindRejoins() async throws {
        try await run(.liveSubscriberThatFallsBehindRejoins)
    }
    @Test func hundredSubscribersSeeTheWholeLog() async throws { try await run(.hundredSubscribersSeeTheWholeLog) }
    @Test func idleSubscriberGetsCheckpoints() async throws { try await run(.idleSubscriberGetsCheckpoints) }
    @Test func cancellingConsumerFreesSubscription() async throws {
        try await run(.cancellingConsumerFreesSubscription)
    }
    @Test func closingStoreEndsSubscriptionsAndAppends() async throws {
        try await run(.closingStoreEndsSubscriptionsAndAppends)
    }
    @Test func commandRecordCommitsWithEvents() async throws { try await run(.commandRecordCommitsWithEvents) }
    @Test func duplicateCommandWritesNothing() async throws { try await run(.duplicateCommandWritesNothing) }
    @Test func retryOfAppendWithCommandReturnsOriginalResult() async throws {
        try await run(.retryOfAppendWithCommandReturnsOriginalResult)
    }
    @Test func commandRecordedWithoutEvents() async throws { try await run(.commandRecordedWithoutEvents) }
    @Test func refusedAppendRecordsNoCommand() async throws { try await run(.refusedAppendRecordsNoCommand) }
    @Test func concurrentDuplicateCommandsOneWins() async throws { try await run(.concurrentDuplicateCommandsOneWins) }
    @Test func commandRecordsArePurgedByAge() async throws { try await run(.commandRecordsArePurgedByAge) }
    @Test func fencingTokensGrowPerKey() async throws { try await run(.fencingTokensGrowPerKey) }
    @Test func staleFencingTokenIsRejected() async throws { try await run(.staleFencingTokenIsRejected) }
}
