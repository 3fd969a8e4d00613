import EventSourcing
import EventStore
import Foundation
import Synchronization

/// Fails the projection on the event at a given position, every time it is applied (a projection
/// must be deterministic: a store may run it more than once for one batch): a crash in the middle
/// of a batch. The restarted runner of a test gets a projection without it.
final class Fault: Sendable {
    struct Injected: Error {}

    private let position = Mutex<Int64?>(nil)

    func arm(at position: Int64) { self.position.withLock { $0 = position } }

    func check(_ event: RecordedEvent) throws {
        if position.withLock({ $0 == event.position }) { throw Injected() }
    }
}

/// Account balances, plus how many times each event was applied (which must be once).
struct BalanceProjection: Projection {
    static let balances = "balances"
    static let applied = "balances.applied"

    let name = "balances"
    let collections = [Self.balances, Self.applied]
    var version = 1
    var fault = Fault()

    func handles(_ event: RecordedEvent) -> Bool { event.stream.type == Account.streamType }

    func apply(_ event: RecordedEvent, to models: any ReadModelWriter) throws {
        try fault.check(event)
        let key = event.id.uuidString.lowercased()
        let count = try models.decode(Int.self, in: Self.applied, key: key) ?? 0
        try models.put(encoding: count + 1, in: Self.applied, key: key)
        let account = event.stream.id.uuidString.lowercased()
        let balance = try models.decode(Int.self, in: Self.balances, key: account) ?? 0
        switch event.type {
        case "AccountOpened":
            try models.put(encoding: 0, in: Self.balances, key: account)
        case "Deposited":
            try models.put(
                encoding: balance + (AccountEventCodec.amount(of: event.data) ?? 0), in: Self.balances, key: account)
        case "Withdrawn":
            try models.put(
                encoding: balance - (AccountEventCodec.amount(of: event.data) ?? 0), in: Self.balances, key: account)
        case "AccountClosed":
            try models.remove(from: Self.balances, key: account)
        default:
            break
        }
    }

    /// Every row of the projection's collections.
    static func rows(_ store: any ProjectionStore) async throws -> [String: [ReadModelEntry]] {
        try await store.read { reader in
            [balances: try reader.entries(in: balances), applied: try reader.entries(in: applied)]
        }
    }
}

struct GetBalance: Query {
    typealias Result = Int?
    static let queryType = "GetBalance"
    var accountID: UUID
}

struct GetBalanceHandler: QueryHandler {
    let projections = ["balances"]

    func handle(_ query: GetBalance, context: QueryContext) async throws -> Int? {
        let key = query.accountID.uuidString.lowercased()
        return try await context.readModels.read { reader in
            try reader.decode(Int.self, in: BalanceProjection.balances, key: key)
        }
    }
}
