import EventSourcing
import Foundation
import Testing
import TradeCoreMessages

@testable import TradeCoreDomain

@Suite struct VirtualBrokerBooksTests {
    @Test(arguments: [false, true])
    func aFillIsBookedOnceAndTheFirstBookingStands(stored: Bool) async throws {
        let books: any VirtualBrokerBooks =
            stored ? StoredVirtualBrokerBooks(storage: InMemoryProjectionStore()) : InMemoryVirtualBrokerBooks()
        let opening = VirtualBrokerLedger(cash: ExactDecimal(1_000))
        let fillID = UUID()
        let first = VirtualBrokerFill(quantity: ExactDecimal(2), price: ExactDecimal(100), executedAt: 1)
        let spend: @Sendable (inout VirtualBrokerLedger) -> String? = { ledger in
            guard ledger.cash >= ExactDecimal(200) else { return "not enough cash" }
            ledger.cash = ledger.cash.subtracting(ExactDecimal(200)) ?? ledger.cash
            ledger.holdings["AAPL", default: .init()].quantity = ExactDecimal(2)
            return nil
        }
        #expect(try await books.ledger(of: "A-1") == nil)
        #expect(try await books.book(first, id: fillID, on: "A-1", opening: opening, spend) == .booked(first))
        // Booked again, even with other figures: nothing changes, and the first booking is returned.
        let again = VirtualBrokerFill(quantity: ExactDecimal(3), price: ExactDecimal(90), executedAt: 2)
        #expect(try await books.book(again, id: fillID, on: "A-1", opening: opening, spend) == .booked(first))
        let ledger = try #require(try await books.ledger(of: "A-1"))
        #expect(ledger.cash == ExactDecimal(800))
        #expect(ledger.holdings["AAPL"]?.quantity == ExactDecimal(2))
        // Another fill id is booked.
        let second = VirtualBrokerFill(quantity: ExactDecimal(1), price: ExactDecimal(100), executedAt: 3)
        #expect(try await books.book(second, id: UUID(), on: "A-1", opening: opening, spend) == .booked(second))
        #expect(try await books.ledger(of: "A-1")?.cash == ExactDecimal(600))
        // A booking the ledger refuses changes no ledger and books no fill; the refusal stands, so
        // the same execution is refused again even once the account could take it.
        let refusedID = UUID()
        let poor = VirtualBrokerLedger(cash: .zero)
        #expect(
            try await books.book(second, id: refusedID, on: "B-1", opening: poor, spend) == .refused("not enough cash"))
        #expect(try await books.ledger(of: "B-1") == nil)
        let rich = VirtualBrokerLedger(cash: ExactDecimal(500))
        #expect(
            try await books.book(second, id: refusedID, on: "B-1", opening: rich, spend) == .refused("not enough cash"))
        #expect(try await books.ledger(of: "B-1") == nil)
        #expect(try await books.book(second, id: UUID(), on: "B-1", opening: rich, spend) == .booked(second))
        #expect(try await books.ledger(of: "B-1")?.cash == ExactDecimal(300))
    }

    /// A store may run a write's body more than once, the first time against rows it has not
    /// fetched yet (PostgreSQL's does): the booking is what the last run decided.
    @Test func aBookingIsWhatTheLastRunOfTheBodyDecided() async throws {
        let books = StoredVirtualBrokerBooks(storage: ProbingProjectionStore())
        let spend: @Sendable (inout VirtualBrokerLedger) -> String? = { ledger in
            guard ledger.cash >= ExactDecimal(200) else { return "not enough cash" }
            ledger.cash = ledger.cash.subtracting(ExactDecimal(200)) ?? ledger.cash
            return nil
        }
        let fill = VirtualBrokerFill(quantity: ExactDecimal(2), price: ExactDecimal(100), executedAt: 1)
        // The first booking leaves 100: the probe run of the next one sees the opening 1,000 and
        // would book it; the run that counts refuses.
        let opening = VirtualBrokerLedger(cash: ExactDecimal(300))
        #expect(try await books.book(fill, id: UUID(), on: "A-1", opening: opening, spend) == .booked(fill))
        let rich = VirtualBrokerLedger(cash: ExactDecimal(1_000))
        #expect(
            try await books.book(fill, id: UUID(), on: "A-1", opening: rich, spend) == .refused("not enough cash"))
        #expect(try await books.ledger(of: "A-1")?.cash == ExactDecimal(100))
        // And the other way round: the probe run refuses (it sees no ledger and a poor opening), the
        // run that counts books.
        let poor = VirtualBrokerLedger(cash: .zero)
        let topUp: @Sendable (inout VirtualBrokerLedger) -> String? = { ledger in
            guard ledger.cash > .zero else { return "no ledger yet" }
            ledger.cash = ledger.cash.adding(ExactDecimal(1)) ?? ledger.cash
            return nil
        }
        #expect(try await books.book(fill, id: UUID(), on: "A-1", opening: poor, topUp) == .booked(fill))
        #expect(try await books.ledger(of: "A-1")?.cash == ExactDecimal(101))
    }
}

/// A projection store whose `write` first runs the body against a writer that holds nothing and
/// keeps nothing, then for real, as a store that replays a transaction does.
private final class ProbingProjectionStore: ProjectionStore {
    private let inner = InMemoryProjectionStore()

    private struct Blank: ReadModelWriter {
        func value(in collection: String, key: String) throws -> Data? { nil }
        func entries(in collection: String, prefix: String, after: String?, limit: Int) throws -> [ReadModelEntry] {
            []
        }
        func put(_ value: Data, in collection: String, key: String) throws {}
        func remove(from collection: String, key: String) throws {}
    }

    func checkpoint(of projection: String) async throws -> Int64 { try await inner.checkpoint(of: projection) }

    func commit(
        _ projection: String, from expected: Int64, to position: Int64,
        _ body: @escaping @Sendable (any ReadModelWriter) throws -> Void
    ) async throws {
        try await inner.commit(projection, from: expected, to: position, body)
    }

    func write(_ body: @escaping @Sendable (any ReadModelWriter) throws -> Void) async throws {
        try body(Blank())
        try await inner.write(body)
    }

    func reset(_ projection: String, collections: [String]) async throws {
        try await inner.reset(projection, collections: collections)
    }

    func read<Result: Sendable>(
        _ body: @escaping @Sendable (any ReadModelReader) throws -> Result
    ) async throws -> Result {
        try await inner.read(body)
    }
}
