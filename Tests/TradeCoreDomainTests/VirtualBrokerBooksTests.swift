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
        // A booking the ledger refuses keeps nothing: neither the ledger's change nor the fill.
        let refusedID = UUID()
        let poor = VirtualBrokerLedger(cash: .zero)
        #expect(
            try await books.book(second, id: refusedID, on: "B-1", opening: poor, spend) == .refused("not enough cash"))
        #expect(try await books.ledger(of: "B-1") == nil)
        let rich = VirtualBrokerLedger(cash: ExactDecimal(500))
        #expect(try await books.book(second, id: refusedID, on: "B-1", opening: rich, spend) == .booked(second))
        #expect(try await books.ledger(of: "B-1")?.cash == ExactDecimal(300))
    }
}
