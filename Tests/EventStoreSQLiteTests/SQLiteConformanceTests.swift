import EventStore
import EventStoreConformance
import EventStoreSQLite
import ProcessTesting
import Testing

/// The conformance suite on the SQLite backend, each store in its own temporary directory:
/// every case, each reported under its name.
@Suite(.timeLimit(.minutes(3)))
struct SQLiteConformanceTests {
    @Test(arguments: EventStoreConformance.Case.allCases)
    func conformance(_ testCase: EventStoreConformance.Case) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await EventStoreConformance.run(testCase) { options in
            try await SQLiteEventStore.open(.init(directory: directory.subdirectory(), options: options))
        }
    }
}
