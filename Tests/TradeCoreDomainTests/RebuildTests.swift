import EventSourcing
import EventSourcingSQLite
import EventStore
import EventStoreSQLite
import Foundation
import Testing

@testable import TradeCoreDomain

/// A server under which another server leads every role, as when the servers sharing a database
/// were not stopped.
private struct AnotherServerLeads: Leadership {
    func whileLeading(_ role: String, _ body: @escaping @Sendable () async throws -> Void) async throws {
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
    }
}

/// A store in a directory of its own, and the domain over it.
private struct TemporaryStore {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tradecore-rebuild-\(UUID())")

    func open(
        rebuildLeadWait: Duration, leadership: any Leadership = SoleServer()
    ) async throws -> (SQLiteEventStore, SQLiteProjectionStore, TradeCoreApplication) {
        let store = try await SQLiteEventStore.open(.init(directory: directory, integrityCheck: .none))
        let readModels = SQLiteProjectionStore(store: store)
        let app = try TradeCoreApplication(
            store: store, readModels: readModels, secrets: try ServerSecrets(masterKeyBytes: DomainHarness.masterKey),
            brokers: BrokerRegistry([VirtualBroker()]), configuration: .init(rebuildLeadWait: rebuildLeadWait),
            leadership: leadership)
        return (store, readModels, app)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

@Suite struct RebuildTests {
    /// A rebuild resets a read model under the lead of its projection's role: one reset while
    /// another server runs the projection would go unseen there, and its queries would answer from
    /// rows that are gone. So it refuses, and resets nothing.
    @Test func aRebuildWhileAnotherServerRunsAProjectionRefusesAndResetsNothing() async throws {
        let directory = TemporaryStore()
        defer { directory.remove() }
        let (store, readModels, app) = try await directory.open(
            rebuildLeadWait: .milliseconds(200), leadership: AnotherServerLeads())
        let first = try #require(app.projections.first).projectionName
        try await readModels.commit(first, from: 0, to: 7) { writer in
            try writer.put(Data("kept".utf8), in: "probe", key: "row")
        }
        let error = await #expect(throws: ReadModelsInUse.self) { try await app.rebuildReadModels() }
        #expect(error?.role == "projection:\(first)")
        #expect(error?.description.contains("stop every other server") == true)
        #expect(try await readModels.checkpoint(of: first) == 7, "nothing was reset")
        #expect(try await readModels.read { try $0.value(in: "probe", key: "row") } == Data("kept".utf8))
        await store.close()
    }

    /// The wait for the lead is given up only while it is a wait: a rebuild that runs longer than
    /// it runs to its end.
    @Test func aRebuildLongerThanTheWaitForTheLeadRunsToItsEnd() async throws {
        let directory = TemporaryStore()
        defer { directory.remove() }
        let (store, readModels, app) = try await directory.open(rebuildLeadWait: .milliseconds(1))
        let other = try StreamName(type: "other", id: UUID())
        for _ in 0..<20 {
            try await store.append(
                to: other, expected: .any, events: (0..<100).map { _ in NewEvent(type: "Noise", data: Data()) })
        }
        let started = ContinuousClock.now
        try await app.rebuildReadModels()
        #expect(ContinuousClock.now - started > .milliseconds(1), "the rebuild outlasted the wait")
        for runner in app.projections {
            #expect(try await readModels.checkpoint(of: runner.projectionName) == 2_000)
        }
        await store.close()
    }
}
