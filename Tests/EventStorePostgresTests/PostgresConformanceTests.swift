import EventStore
import EventStoreConformance
import EventStorePostgres
import Testing

/// The conformance suite on the PostgreSQL backend, each store in a schema of its own: every case,
/// each reported under its name. One case at a time: all at once, with every other suite running
/// too, they queued on the machine's two cores until stores failed to open within their timeout.
@Suite(.enabled(if: TestDatabase.enabled, TestDatabase.skipReason), .serialized, .timeLimit(.minutes(3)))
struct PostgresConformanceTests {
    @Test(arguments: EventStoreConformance.Case.allCases)
    func conformance(_ testCase: EventStoreConformance.Case) async throws {
        let schemas = Schemas()
        do {
            try await EventStoreConformance.run(testCase) { options in
                try await PostgresEventStore.open(TestDatabase.configuration(schema: schemas.fresh(), options: options))
            }
        } catch {
            await schemas.dropAll()
            throw error
        }
        await schemas.dropAll()
    }
}
