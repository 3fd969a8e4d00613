import EventSourcing
import EventStore
import Foundation
import Testing
import TradeCoreMessages

@testable import TradeCoreDomain

/// The list queries of the read models, through the query bus on the real SQLite store.
@Suite(.timeLimit(.minutes(2)))
struct ReadModelQueryTests {
    @Test func listOrdersPagesOldestFirstLeavesDeletedOutAndRefusesACursorThatIsNotTheUsers() async throws {
        try await withDomain { domain in
            let user = UUID()
            let cash = try await domain.connectedCashAccount(user: user)
            var created: [UUID] = []
            var last: Int64 = 0
            for _ in 0..<5 {
                let outcome = try await domain.commands.send(
                    CreateOrder(
                        userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(1), orderType: .limit,
                        limitPrice: ExactDecimal(1), accountID: cash.accountID))
                created.append(outcome.result.orderID)
                last = try #require(outcome.position)
            }
            // The second is cancelled, the third cancelled and deleted.
            for id in created[1...2] {
                last = try #require(
                    try await domain.commands.send(CancelOrder(orderID: id, userID: user, reason: "test")).position)
            }
            last = try #require(
                try await domain.commands.send(DeleteOrder(orderID: created[2], userID: user)).position)

            func page(after: UUID?, statuses: [OrderStatus] = []) async throws -> OrderList {
                try await domain.queries.ask(
                    ListOrders(userID: user, statuses: statuses, pageSize: 2, afterOrderID: after),
                    consistency: .atLeast(last))
            }
            let first = try await page(after: nil)
            #expect(first.orders.map(\.orderID) == [created[0], created[1]])
            #expect(first.nextAfterOrderID == created[1])
            let second = try await page(after: first.nextAfterOrderID)
            #expect(second.orders.map(\.orderID) == [created[3], created[4]])
            let third = try await page(after: second.nextAfterOrderID)
            #expect(third.orders.isEmpty)
            #expect(third.nextAfterOrderID == nil)

            let cancelled = try await page(after: nil, statuses: [.cancelled])
            #expect(cancelled.orders.map(\.orderID) == [created[1]])
            #expect(cancelled.nextAfterOrderID == nil)
            // The deleted order is still a cursor a client may hold.
            let afterDeleted = try await page(after: created[2])
            #expect(afterDeleted.orders.map(\.orderID) == [created[3], created[4]])

            // A made-up id, or another user's order, is not a place in this user's list.
            let other = UUID()
            let otherCash = try await domain.connectedCashAccount(user: other)
            let theirs = try await domain.commands.send(
                CreateOrder(
                    userID: other, symbol: "AAPL", side: .buy, quantity: ExactDecimal(1), orderType: .limit,
                    limitPrice: ExactDecimal(1), accountID: otherCash.accountID))
            last = try #require(theirs.position)
            for cursor in [UUID(), theirs.result.orderID] {
                let error = try await #require(throws: QueryBusError.self) { try await page(after: cursor) }
                let rejection = try #require(error.rejection)
                let refusal = DomainError(rejection)
                #expect(refusal.is(.invalidArgument, "UNKNOWN_PAGE_CURSOR", field: "after_order_id"))
                #expect(refusal.message.contains(cursor.lowercasedText))
            }
        }
    }
}
