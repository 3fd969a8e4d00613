import EventSourcing
import EventStore
import Foundation
import Testing
import TradeCoreMessages
import WireFormat

@testable import TradeCoreDomain

/// The list queries of the read models, through the query bus on the real SQLite store.
@Suite(.timeLimit(.minutes(2)))
struct ReadModelQueryTests {
    /// Five limit orders of `user`, oldest first, and the position of the last.
    private func fiveOrders(of user: UUID, in domain: DomainHarness) async throws -> ([UUID], Int64) {
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
        return (created, last)
    }

    @Test func listOrdersPagesOldestFirstLeavesDeletedOutAndRefusesACursorThatIsNotTheUsers() async throws {
        try await withDomain { domain in
            let user = UUID()
            let (created, fifth) = try await fiveOrders(of: user, in: domain)
            var last = fifth
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

    @Test func aPageOfOrdersStopsAtItsByteLimitOrItsReadLimitAndTheNextPageGoesOn() async throws {
        try await withDomain { domain in
            let user = UUID()
            let (created, fifth) = try await fiveOrders(of: user, in: domain)
            var last = fifth
            let all = try await domain.queries.ask(ListOrders(userID: user), consistency: .atLeast(last))
            #expect(all.orders.map(\.orderID) == created)
            let viewBytes = try #require(all.orders.map { $0.protoBytes.count }.max())
            let context = QueryContext(readModels: domain.app.readModels, services: HandlerServices())

            // Room for two orders but not three: pages of two, each naming where the next starts.
            let byTwo = ListOrdersHandler(maxPageBytes: 2 * (viewBytes + 6) + viewBytes / 2)
            var pages: [[UUID]] = []
            var after: UUID?
            repeat {
                let page = try await byTwo.handle(ListOrders(userID: user, afterOrderID: after), context: context)
                pages.append(page.orders.map(\.orderID))
                after = page.nextAfterOrderID
            } while after != nil && pages.count < 10
            #expect(pages == [Array(created[0..<2]), Array(created[2..<4]), [created[4]]])

            // A status filter that few orders match looks at a bounded number of orders per call;
            // the cursor then names the last order looked at, and following it finds the rest.
            last = try #require(
                try await domain.commands.send(CancelOrder(orderID: created[4], userID: user, reason: "test")).position)
            _ = try await domain.queries.ask(ListOrders(userID: user), consistency: .atLeast(last))
            let twoReads = ListOrdersHandler(maxScannedOrders: 2, scanChunk: 1)
            var found: [[UUID]] = []
            var cursors: [UUID?] = []
            after = nil
            repeat {
                let page = try await twoReads.handle(
                    ListOrders(userID: user, statuses: [.cancelled], pageSize: 1, afterOrderID: after), context: context
                )
                found.append(page.orders.map(\.orderID))
                cursors.append(page.nextAfterOrderID)
                after = page.nextAfterOrderID
            } while after != nil && found.count < 10
            #expect(found == [[], [], [created[4]], []])
            #expect(cursors == [created[1], created[3], created[4], nil])

            // A limit below one order still returns one at a time: a page always moves on.
            let tiny = ListOrdersHandler(maxPageBytes: 1)
            let first = try await tiny.handle(ListOrders(userID: user), context: context)
            #expect(first.orders.map(\.orderID) == [created[0]] && first.nextAfterOrderID == created[0])
        }
    }

    @Test func listAutomationsPagesOldestFirstByCountAndSizeAndLeavesDeletedOutUnlessAsked() async throws {
        try await withDomain { domain in
            let user = UUID()
            let account = try await domain.connectedCashAccount(user: user).accountID
            var created: [UUID] = []
            var last: Int64 = 0
            for index in 0..<4 {
                let outcome = try await domain.commands.send(
                    CreateAutomation(
                        userID: user, name: "A\(index)", symbol: "AAPL",
                        positionSizing: PositionSizing(method: .fixedQuantity, value: ExactDecimal(1)),
                        accountIDs: [account], assetType: .stock))
                created.append(outcome.result.automationID)
                last = try #require(outcome.position)
            }
            last = try #require(
                try await domain.commands.send(DeleteAutomation(automationID: created[1], userID: user)).position)

            func page(after: UUID?, size: UInt32 = 2, deleted: Bool = false) async throws -> AutomationList {
                try await domain.queries.ask(
                    ListAutomations(userID: user, includeDeleted: deleted, pageSize: size, afterAutomationID: after),
                    consistency: .atLeast(last))
            }
            let first = try await page(after: nil)
            #expect(first.automations.map(\.automationID) == [created[0], created[2]])
            #expect(first.nextAfterAutomationID == created[2])
            let second = try await page(after: first.nextAfterAutomationID)
            #expect(second.automations.map(\.automationID) == [created[3]] && second.nextAfterAutomationID == nil)
            let withDeleted = try await page(after: nil, size: 0, deleted: true)
            #expect(withDeleted.automations.map(\.automationID) == created && withDeleted.nextAfterAutomationID == nil)

            // A cursor that is not one of the user's is refused; so is a page past the maximum.
            let error = try await #require(throws: QueryBusError.self) { try await page(after: UUID()) }
            let refusal = DomainError(try #require(error.rejection))
            #expect(refusal.is(.invalidArgument, "UNKNOWN_PAGE_CURSOR", field: "after_automation_id"))
            let tooLarge = try await #require(throws: QueryBusError.self) { try await page(after: nil, size: 1_001) }
            #expect(
                DomainError(try #require(tooLarge.rejection)).is(.invalidArgument, "INVALID_FIELD", field: "page_size"))

            // By size: room for one automation, not two.
            let viewBytes = try #require(withDeleted.automations.map { $0.protoBytes.count }.max())
            let context = QueryContext(readModels: domain.app.readModels, services: HandlerServices())
            let byOne = ListAutomationsHandler(maxPageBytes: viewBytes + 6 + viewBytes / 2)
            var pages: [[UUID]] = []
            var after: UUID?
            repeat {
                let page = try await byOne.handle(
                    ListAutomations(userID: user, afterAutomationID: after), context: context)
                pages.append(page.automations.map(\.automationID))
                after = page.nextAfterAutomationID
            } while after != nil && pages.count < 10
            #expect(pages == [[created[0]], [created[2]], [created[3]]])
        }
    }
}
