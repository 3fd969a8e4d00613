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
        let spend: @Sendable (inout VirtualBrokerLedger) -> Void = { ledger in
            ledger.cash = ledger.cash.subtracting(ExactDecimal(200)) ?? ledger.cash
            ledger.holdings["AAPL", default: .init()].quantity = ExactDecimal(2)
        }
        #expect(try await books.ledger(of: "A-1") == nil)
        #expect(try await books.book(first, id: fillID, on: "A-1", opening: opening, spend) == first)
        // Booked again, even with other figures: nothing changes, and the first booking is returned.
        let again = VirtualBrokerFill(quantity: ExactDecimal(3), price: ExactDecimal(90), executedAt: 2)
        #expect(try await books.book(again, id: fillID, on: "A-1", opening: opening, spend) == first)
        let ledger = try #require(try await books.ledger(of: "A-1"))
        #expect(ledger.cash == ExactDecimal(800))
        #expect(ledger.holdings["AAPL"]?.quantity == ExactDecimal(2))
        // Another fill id is booked.
        let second = VirtualBrokerFill(quantity: ExactDecimal(1), price: ExactDecimal(100), executedAt: 3)
        #expect(try await books.book(second, id: UUID(), on: "A-1", opening: opening, spend) == second)
        #expect(try await books.ledger(of: "A-1")?.cash == ExactDecimal(600))
    }
}
