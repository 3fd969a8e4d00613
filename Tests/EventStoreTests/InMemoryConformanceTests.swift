import EventStore
import EventStoreConformance
import Testing

/// The conformance suite on the in-memory backend: every case, each reported under its name.
@Suite(.timeLimit(.minutes(2)))
struct InMemoryConformanceTests {
    @Test(arguments: EventStoreConformance.Case.allCases)
    func conformance(_ testCase: EventStoreConformance.Case) async throws {
        try await EventStoreConformance.run(testCase) { options in InMemoryEventStore(options: options) }
    }
}
