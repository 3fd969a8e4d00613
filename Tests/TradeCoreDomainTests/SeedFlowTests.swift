import EventSourcing
import EventStore
import Foundation
import TradeCoreMessages
import Testing

@testable import TradeCoreDomain

/// The seed's flows end to end, in process, on the real SQLite store.
@Suite(.timeLimit(.minutes(2)))
struct SeedFlowTests {
    @Test func connectionAutomationAndOrderFilledByTheVirtualBroker() async throws {
        try await withDomain { domain in
            let user = UUID()
            let connection = try await domain.connectThroughOAuth(user: user)
            let accounts = try await domain.linkedAccounts(user: user, count: 2)
            let cash = try #require(accounts.first { $0.brokerAccountNumber.hasSuffix("-C") })
            #expect(accounts.allSatisfy { $0.lastSyncedAt > 0 && $0.brokerConnectionID == connection })

            let automation = try await domain.commands.send(
                CreateAutomation(
                    userID: user, name: "Breakout", symbol: "AAPL",
                    positionSizing: PositionSizing(method: .fixedQuantity, value: ExactDecimal(10)),
                    accountIDs: [cash.accountID], assetType: .stock, autoSubmit: true)
            ).result
            #expect(automation.status == .inactive)
            _ = try await domain.commands.send(ActivateAutomation(automationID: automation.automationID, userID: user))

            domain.broker.setPrice("AAPL", ExactDecimal(200))
            let created = try await domain.commands.send(
                CreateOrder(
                    userID: user, automationID: automation.automationID, symbol: "AAPL", side: .buy,
                    quantity: ExactDecimal(150), orderType: .market, accountID: cash.accountID, autoSubmit: true))
            let orderID = created.result.orderID
            #expect(created.result.status == .pending)

            // The execution saga submits it; the poller fills it, 100 then 50.
            try await domain.eventually("the order is filled") {
                let view = try? await domain.queries.ask(
                    GetOrder(orderID: orderID, userID: user), consistency: .atLeast(0))
                return view?.status == .filled
            }
            let order = try await domain.queries.ask(GetOrder(orderID: orderID, userID: user))
            #expect(order.fills.map(\.quantity) == [ExactDecimal(100), ExactDecimal(50)])
            #expect(order.averageFillPrice == ExactDecimal(200))
            #expect(order.brokerOrderID.hasPrefix("VB-"))

            let types = try await domain.events(of: StreamName(type: "order", id: orderID)).map(\.type)
            #expect(types == ["OrderCreated", "OrderPlaced", "FillAdded", "FillAdded", "OrderFilled"])
            let saga = SagaManager<OrderExecutionSaga>.sagaID(
                startedBy: try #require(try await domain.events(of: StreamName(type: "order", id: orderID)).first).id)
            let finished = try await domain.app.orderExecution.waitUntilFinished(saga, timeout: .seconds(10))
            #expect(finished.status == .completed)
        }
    }
}

extension DomainHarness {
    /// Initiates a virtual-broker connection through OAuth and completes it; returns its id once
    /// the onboarding saga has linked and refreshed its accounts.
    func connectThroughOAuth(user: UUID, code: String = "alice") async throws -> UUID {
        let initiate = InitiateBrokerConnection(userID: user, brokerID: "virtual")
        let outcome = try await commands.send(initiate)
        #expect(outcome.result.status == .awaitingOAuth)
        let challenge = OAuthChallenge(
            command: initiate, connectionID: outcome.result.brokerConnectionID, commandID: outcome.commandID,
            adapter: broker, secrets: secrets)
        let completed = try await commands.send(
            CompleteOAuth(
                brokerConnectionID: outcome.result.brokerConnectionID, userID: user, authorizationCode: code,
                state: challenge.state))
        #expect(completed.result.status == .connected)
        return outcome.result.brokerConnectionID
    }

    /// The user's accounts once `count` are linked and refreshed.
    func linkedAccounts(user: UUID, count: Int) async throws -> [BrokerAccountView] {
        var accounts: [BrokerAccountView] = []
        try await eventually("\(count) accounts are linked and refreshed") {
            accounts = try await queries.ask(GetAccountsByUser(userID: user)).accounts
            return accounts.count == count && accounts.allSatisfy { $0.lastSyncedAt > 0 }
        }
        return accounts
    }
}
