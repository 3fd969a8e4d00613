import EventSourcing
import EventSourcingTesting
import EventStore
import Foundation
import Logging
import Testing
import TradeCoreMessages
import WireFormat

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
            let saga = OrderExecutionSaga.instanceID(order: orderID)
            let finished = try await domain.app.orderExecution.waitUntilFinished(saga, timeout: .seconds(30))
            #expect(finished.status == .completed)
        }
    }

    @Test func stoppingTheBackgroundPartsWhileTheyStartIsAStopNotAFailure() async throws {
        try await withDomain { domain in
            _ = try await domain.connectedCashAccount(user: UUID())
            for attempt in 0..<20 {
                // Started, then stopped at once or a little way into the start (the parts get
                // `attempt` turns on the executor first).
                try await domain.restart()
                for _ in 0..<attempt { await Task.yield() }
                let ended = await domain.stop()
                if case .failure(let error) = ended { Issue.record("attempt \(attempt): the parts threw \(error)") }
            }
            try await domain.restart()
        }
    }

    @Test func theVirtualBrokerFillsOnlyOrdersItAcceptedAndACashAccountCannotSellShort() async throws {
        try await withDomain { domain in
            let user = UUID()
            let cash = try await domain.connectedCashAccount(user: user)

            // Placed by hand with an id the broker never issued: a market order, yet nothing fills.
            let byHand = try await domain.commands.send(
                CreateOrder(
                    userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(10), orderType: .market,
                    accountID: cash.accountID)
            ).result.orderID
            let placed = try await domain.commands.send(
                PlaceOrder(orderID: byHand, userID: user, brokerOrderID: "FAKE-1"))
            _ = try await domain.queries.ask(
                GetOrder(orderID: byHand, userID: user), consistency: .atLeast(placed.position ?? 0))
            #expect(await domain.app.fills.pollOnce() == 0)
            let unfilled = try await domain.queries.ask(GetOrder(orderID: byHand, userID: user))
            #expect(unfilled.status == .placed)
            #expect(unfilled.fillCount == 0)

            // Selling what the cash account does not hold is refused by the broker, with its reason.
            let short = try await domain.commands.send(
                CreateOrder(
                    userID: user, symbol: "AAPL", side: .sell, quantity: ExactDecimal(5), orderType: .market,
                    accountID: cash.accountID, autoSubmit: true)
            ).result.orderID
            try await domain.eventually("the short sale is rejected") {
                let view = try? await domain.queries.ask(GetOrder(orderID: short, userID: user))
                return view?.status == .rejected
            }
            let rejected = try await domain.queries.ask(GetOrder(orderID: short, userID: user))
            #expect(rejected.statusReason.contains("cannot sell short"), "\(rejected.statusReason)")
            #expect(rejected.fillCount == 0)
        }
    }

    /// The virtual broker reserves nothing for the orders it accepted, so it checks every execution
    /// again when it books it: orders that together cost more than the cash, or an order changed
    /// after it was accepted, never take a cash account below zero or short; the order whose
    /// execution fails the check is cancelled with the broker's reason.
    @Test func theVirtualBrokerChecksEachExecutionAndCancelsAnOrderTheAccountCannotTake() async throws {
        try await withDomain { domain in
            let user = UUID()
            let cash = try await domain.connectedCashAccount(user: user)
            func order(_ side: OrderSide, _ quantity: Int64, limit: ExactDecimal) async throws -> UUID {
                let id = try await domain.commands.send(
                    CreateOrder(
                        userID: user, symbol: "AAPL", side: side, quantity: ExactDecimal(quantity), orderType: .limit,
                        limitPrice: limit, accountID: cash.accountID, autoSubmit: true)
                ).result.orderID
                try await domain.eventually("the order is placed") {
                    (try? await domain.queries.ask(GetOrder(orderID: id, userID: user)))?.status == .placed
                }
                return id
            }
            func view(_ id: UUID) async throws -> OrderView {
                try await domain.queries.ask(GetOrder(orderID: id, userID: user))
            }
            func isOver(_ id: UUID) async throws -> Bool {
                [.filled, .cancelled].contains(try await view(id).status)
            }
            func balances() async throws -> BrokerAccountBalances {
                try await domain.broker.balances(
                    accountNumber: cash.brokerAccountNumber, credentials: .apiKey("vbk_balances", secret: "s"),
                    environment: .paper)
            }

            // Two buys below the market, each affordable alone (60,000 of 100,000), then the price
            // comes down to both limits.
            let first = try await order(.buy, 400, limit: ExactDecimal(150))
            let second = try await order(.buy, 400, limit: ExactDecimal(150))
            domain.broker.setPrice("AAPL", ExactDecimal(150))
            try await domain.eventually("both orders are over") {
                let firstOver = try await isOver(first)
                let secondOver = try await isOver(second)
                return firstOver && secondOver
            }
            let ends = [try await view(first), try await view(second)]
            let cancelled = try #require(ends.first { $0.status == .cancelled }, "\(ends.map(\.status))")
            #expect(cancelled.statusReason.contains("insufficient buying power"), "\(cancelled.statusReason)")
            let bought = ends.reduce(ExactDecimal.zero) { $0.adding($1.filledQuantity) ?? $0 }
            #expect(bought == ExactDecimal(600), "100,000 buys 666 at 150, in executions of 100")
            #expect(try await balances().cash == ExactDecimal(10_000))

            // A sell of what it holds, changed to more after the broker accepted it: it sells what
            // the account holds and no more.
            domain.broker.setPrice("AAPL", ExactDecimal(100))
            let sell = try await order(.sell, 600, limit: ExactDecimal(1_000))
            _ = try await domain.commands.send(
                UpdateOrder(orderID: sell, userID: user, quantity: ExactDecimal(650), limitPrice: ExactDecimal(90)))
            try await domain.eventually("the sell is over") { try await isOver(sell) }
            let sold = try await view(sell)
            #expect(sold.status == .cancelled && sold.statusReason.contains("cannot sell short"), "\(sold)")
            #expect(sold.filledQuantity == ExactDecimal(600))
            let after = try await balances()
            #expect(after.cash == ExactDecimal(70_000) && after.positions.isEmpty, "\(after)")

            // An order changed to more than the broker takes is cancelled before it executes.
            let big = try await order(.buy, 1, limit: ExactDecimal(1))
            _ = try await domain.commands.send(
                UpdateOrder(
                    orderID: big, userID: user, quantity: ExactDecimal(5_000_000), limitPrice: ExactDecimal(200)))
            try await domain.eventually("the changed order is over") { try await isOver(big) }
            let refused = try await view(big)
            #expect(refused.status == .cancelled && refused.statusReason.contains("at most 1000000"), "\(refused)")
            #expect(refused.filledQuantity == .zero)
        }
    }

    @Test func theVirtualBrokerHonoursImmediateOrCancelAndFillOrKill() async throws {
        try await withDomain { domain in
            let user = UUID()
            let cash = try await domain.connectedCashAccount(user: user)
            func ended(
                _ quantity: Int64, _ timeInForce: TimeInForce, limit: ExactDecimal? = nil
            ) async throws -> OrderView {
                let id = try await domain.commands.send(
                    CreateOrder(
                        userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(quantity),
                        orderType: limit == nil ? .market : .limit, limitPrice: limit, timeInForce: timeInForce,
                        accountID: cash.accountID, autoSubmit: true)
                ).result.orderID
                try await domain.eventually("the \(timeInForce) order is over") {
                    let view = try? await domain.queries.ask(GetOrder(orderID: id, userID: user))
                    return view.map { [.filled, .cancelled, .rejected].contains($0.status) } ?? false
                }
                return try await domain.queries.ask(GetOrder(orderID: id, userID: user))
            }
            // Below the market (190.25): nothing executes, so it is cancelled at once.
            let unfilled = try await ended(10, .immediateOrCancel, limit: ExactDecimal(100))
            #expect(unfilled.status == .cancelled && unfilled.filledQuantity == .zero, "\(unfilled)")
            #expect(unfilled.statusReason.contains("IMMEDIATE_OR_CANCEL"), "\(unfilled.statusReason)")
            // 100 execute at once; the other 150 are cancelled.
            let partly = try await ended(250, .immediateOrCancel)
            #expect(partly.status == .cancelled && partly.filledQuantity == ExactDecimal(100), "\(partly)")
            #expect(partly.statusReason.contains("150 did not execute at once"), "\(partly.statusReason)")
            // All at once or nothing.
            let killed = try await ended(250, .fillOrKill)
            #expect(killed.status == .cancelled && killed.filledQuantity == .zero, "\(killed)")
            #expect(killed.statusReason.contains("FILL_OR_KILL"), "\(killed.statusReason)")
            let whole = try await ended(50, .fillOrKill)
            #expect(whole.status == .filled && whole.fillCount == 1, "\(whole)")
            // Good till cancelled works on below the market.
            let patient = try await domain.commands.send(
                CreateOrder(
                    userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(1), orderType: .limit,
                    limitPrice: ExactDecimal(100), timeInForce: .goodTillCancelled, accountID: cash.accountID,
                    autoSubmit: true))
            try await domain.eventually("the patient order is placed") {
                (try? await domain.queries.ask(GetOrder(orderID: patient.result.orderID, userID: user)))?.status
                    == .placed
            }
            for _ in 0..<3 { _ = await domain.app.fills.pollOnce() }
            #expect(
                try await domain.queries.ask(GetOrder(orderID: patient.result.orderID, userID: user)).status == .placed)
            // The broker booked exactly the executions the orders recorded: 100 + 50 at 190.25.
            let balances = try await domain.broker.balances(
                accountNumber: cash.brokerAccountNumber, credentials: .apiKey("vbk_balances", secret: "s"),
                environment: .paper)
            #expect(balances.cash == ExactDecimal("71462.5"), "\(balances)")
            #expect(balances.positions.first?.quantity == ExactDecimal(150), "\(balances)")
        }
    }

    /// A poll that runs behind an immediate-or-cancel order's cancellation (its read model has the
    /// first fill, not yet the cancellation) finds that fill booked, not a new execution.
    @Test func aPollBehindAnImmediateOrCancelOrdersCancellationExecutesNothingMore() async throws {
        try await withDomain { domain in
            let user = UUID()
            let cash = try await domain.connectedCashAccount(user: user)
            let id = try await domain.commands.send(
                CreateOrder(
                    userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(250), orderType: .market,
                    timeInForce: .immediateOrCancel, accountID: cash.accountID, autoSubmit: true)
            ).result.orderID
            try await domain.eventually("the order is cancelled") {
                (try? await domain.queries.ask(GetOrder(orderID: id, userID: user)))?.status == .cancelled
            }
            let order = try await domain.queries.ask(GetOrder(orderID: id, userID: user))
            let fill = try #require(order.fills.first)
            let credentials = BrokerCredentials.apiKey("vbk_lagging_poll", secret: "s")
            func booked() async throws -> ExactDecimal? {
                try await domain.broker.balances(
                    accountNumber: cash.brokerAccountNumber, credentials: credentials, environment: .paper
                ).cash
            }
            let before = try await booked()
            // The working order as a read model one event behind would still list it.
            let lagging = WorkingOrder(
                orderID: id, userID: user, accountID: cash.accountID, connectionID: cash.brokerConnectionID,
                brokerID: "virtual", environmentNumber: BrokerEnvironment.paper.rawValue,
                accountNumber: cash.brokerAccountNumber, brokerOrderID: order.brokerOrderID, symbol: "AAPL",
                sideNumber: OrderSide.buy.rawValue, quantity: ExactDecimal(250),
                orderTypeNumber: OrderType.market.rawValue, limitPrice: nil, stopPrice: nil,
                filledQuantity: ExactDecimal(100), fillCount: 1, sagaID: nil,
                timeInForceNumber: TimeInForce.immediateOrCancel.rawValue)
            let report = try await domain.broker.executions(of: lagging, credentials: credentials, environment: .paper)
            #expect(report.executions.map(\.fillID) == [fill.fillID], "\(report)")
            #expect(report.cancellation != nil)
            #expect(try await booked() == before, "nothing more was booked")
        }
    }

    /// A margin account may sell short, within its buying power: its positions, long and short,
    /// stay within twice its equity.
    @Test func aMarginAccountSellsShortUpToItsEquity() async throws {
        try await withDomain { domain in
            let user = UUID()
            _ = try await domain.connectThroughOAuth(user: user)
            let margin = try #require(
                try await domain.linkedAccounts(user: user, count: 2).first { $0.brokerAccountNumber.hasSuffix("-M") })
            func short(_ quantity: Int64) async throws -> OrderView {
                let id = try await domain.commands.send(
                    CreateOrder(
                        userID: user, symbol: "AAPL", side: .sell, quantity: ExactDecimal(quantity),
                        orderType: .market, accountID: margin.accountID, autoSubmit: true)
                ).result.orderID
                try await domain.eventually("the short sale is over", timeout: .seconds(30)) {
                    let view = try? await domain.queries.ask(GetOrder(orderID: id, userID: user))
                    return view.map { [.filled, .cancelled, .rejected].contains($0.status) } ?? false
                }
                return try await domain.queries.ask(GetOrder(orderID: id, userID: user))
            }
            // 1,100 at 190.25 is 209,275, more than twice the 100,000 of equity.
            let tooLarge = try await short(1_100)
            #expect(tooLarge.status == .rejected, "\(tooLarge)")
            #expect(
                tooLarge.statusReason.contains("insufficient buying power to sell short"), "\(tooLarge.statusReason)")
            // 500 is 95,125: it fills, in five executions each checked again.
            let within = try await short(500)
            #expect(within.status == .filled && within.fillCount == 5, "\(within)")
            // Its buying power is now 104,875: a buy of 300 MSFT (123,150) is refused, although the
            // cash the short sale brought in would pay for it.
            let buy = try await domain.commands.send(
                CreateOrder(
                    userID: user, symbol: "MSFT", side: .buy, quantity: ExactDecimal(300), orderType: .market,
                    accountID: margin.accountID, autoSubmit: true)
            ).result.orderID
            try await domain.eventually("the buy is rejected", timeout: .seconds(30)) {
                (try? await domain.queries.ask(GetOrder(orderID: buy, userID: user)))?.status == .rejected
            }
        }
    }

    @Test func theVirtualBrokersBooksOutliveARestart() async throws {
        try await withDomain { domain in
            let user = UUID()
            let cash = try await domain.connectedCashAccount(user: user)
            func filled(_ side: OrderSide) async throws -> UUID {
                let order = try await domain.commands.send(
                    CreateOrder(
                        userID: user, symbol: "MSFT", side: side, quantity: ExactDecimal(10), orderType: .market,
                        accountID: cash.accountID, autoSubmit: true)
                ).result.orderID
                try await domain.eventually("the \(side) order is filled") {
                    let view = try? await domain.queries.ask(GetOrder(orderID: order, userID: user))
                    return view?.status == .filled
                }
                return order
            }
            let bought = try await filled(.buy)
            let purchase = try await domain.queries.ask(GetOrder(orderID: bought, userID: user))
            let price = try #require(purchase.averageFillPrice)

            try await domain.restart()
            // The account's cash and position are the broker's, as booked before the restart.
            let refresh = try await domain.commands.send(
                RefreshAccountDataFromBroker(accountID: cash.accountID, userID: user))
            let account = try #require(
                try await domain.queries.ask(
                    GetAccountsByUser(userID: user), consistency: .atLeast(refresh.position ?? 0)
                ).accounts.first { $0.accountID == cash.accountID })
            #expect(account.positions.map(\.symbol) == ["MSFT"])
            #expect(account.positions.first?.quantity == ExactDecimal(10))
            let spent = try #require(price.multiplied(by: ExactDecimal(10)))
            #expect(account.cash == ExactDecimal(100_000).subtracting(spent))
            // So the cash account may sell what it bought before the restart.
            _ = try await filled(.sell)
        }
    }

    @Test func anExecutionTheOrderRefusesIsLoggedOnceAndNotSentAgain() async throws {
        let logs = CapturedLogs()
        try await withDomain(logs: logs) { domain in
            let user = UUID()
            let cash = try await domain.connectedCashAccount(user: user)
            // Nine decimal places: the broker executes at this price, but a fill's price has at most eight.
            domain.broker.setPrice("AAPL", try #require(ExactDecimal("200.000000001")))
            let orderID = try await domain.commands.send(
                CreateOrder(
                    userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(1), orderType: .market,
                    accountID: cash.accountID, autoSubmit: true)
            ).result.orderID
            let refusal = "refuses an execution its broker reported"
            try await domain.eventually("the refused execution is logged") {
                logs.contains(level: .error, refusal)
            }
            for _ in 0..<3 { #expect(await domain.app.fills.pollOnce() == 0) }
            #expect(logs.all.filter { $0.text.contains(refusal) }.count == 1)
            let order = try await domain.queries.ask(GetOrder(orderID: orderID, userID: user))
            #expect(order.status == .placed)
            #expect(order.fillCount == 0)
        }
    }

    /// A connection disconnected under working orders takes its credentials with it: the poller
    /// says so once, not for every order at every poll (ten times a second).
    @Test func workingOrdersWhoseCredentialsAreGoneAreLoggedOnceNotAtEveryPoll() async throws {
        let logs = CapturedLogs()
        try await withDomain(logs: logs) { domain in
            let user = UUID()
            let connectionID = try await domain.connectThroughOAuth(user: user)
            let cash = try #require(
                try await domain.linkedAccounts(user: user, count: 2).first { $0.brokerAccountNumber.hasSuffix("-C") })
            domain.broker.setPrice("AAPL", ExactDecimal(200))
            for _ in 0..<3 {
                let orderID = try await domain.commands.send(
                    CreateOrder(
                        userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(1), orderType: .limit,
                        limitPrice: ExactDecimal(100), accountID: cash.accountID, autoSubmit: true)
                ).result.orderID
                try await domain.eventually("the order works at its broker") {
                    let view = try? await domain.queries.ask(GetOrder(orderID: orderID, userID: user))
                    return view?.status == .placed
                }
            }
            _ = try await domain.commands.send(DisconnectBroker(brokerConnectionID: connectionID, userID: user))
            let gone = "cannot open a broker connection's credentials"
            for _ in 0..<4 { #expect(await domain.app.fills.pollOnce() == 0) }
            #expect(logs.all.filter { $0.text.contains(gone) }.count == 1, "\(logs.all.map(\.text))")
            #expect(logs.all.filter { $0.text.contains("could not record") }.isEmpty)
        }
    }

    @Test func anOrderFilledInManySlicesShowsItsLatestHundredFillsAndCountsThemAll() async throws {
        try await withDomain { domain in
            let user = UUID()
            let cash = try await domain.connectedCashAccount(user: user)
            let orderID = try await domain.commands.send(
                CreateOrder(
                    userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(1_000), orderType: .limit,
                    limitPrice: ExactDecimal(1), accountID: cash.accountID)
            ).result.orderID
            _ = try await domain.commands.send(PlaceOrder(orderID: orderID, userID: user, brokerOrderID: "B-1"))
            var fills: [UUID] = []
            var position: Int64 = 0
            for _ in 0..<150 {
                fills.append(UUID())
                let outcome = try await domain.commands.send(
                    AddFill(
                        orderID: orderID, userID: user, fillID: fills[fills.count - 1], quantity: ExactDecimal(1),
                        price: ExactDecimal(1), filledAt: SystemClock().now()))
                position = outcome.position ?? position
            }
            let view = try await domain.queries.ask(
                GetOrder(orderID: orderID, userID: user), consistency: .atLeast(position))
            #expect(view.fillCount == 150)
            #expect(view.fills.map(\.fillID) == Array(fills.suffix(OrdersProjection.fillsKept)))
            #expect(view.filledQuantity == ExactDecimal(150))
        }
    }

    @Test func anAPIKeyConnectionIsConnectedAtOnceAndARefusedKeyIsRecorded() async throws {
        try await withDomain { domain in
            let user = UUID()
            let refused = try await domain.commands.send(
                InitiateBrokerConnection(
                    userID: user, brokerID: "virtual", authMethod: .apiKey,
                    apiKeyCredentials: ApiKeyCredentials(apiKey: "wrong-key", apiSecret: "s")))
            #expect(refused.result.status == .failed)
            #expect(refused.result.statusReason.contains("refused the API key"))
            let connected = try await domain.commands.send(
                InitiateBrokerConnection(
                    userID: user, brokerID: "virtual", authMethod: .apiKey,
                    apiKeyCredentials: ApiKeyCredentials(apiKey: "vbk_0123456789", apiSecret: "s3cret")))
            #expect(connected.result.status == .connected)
            #expect(connected.result.brokerConnectionID == refused.result.brokerConnectionID)
            let accounts = try await domain.linkedAccounts(user: user, count: 2)
            #expect(Set(accounts.map(\.brokerAccountNumber)).count == 2)
            let types = try await domain.events(
                of: StreamName(type: "broker_connection", id: connected.result.brokerConnectionID)
            )
            .map(\.type)
            #expect(
                types == [
                    "BrokerConnectionInitiated", "BrokerConnectionFailed", "BrokerConnectionReset",
                    "BrokerCredentialsStored", "BrokerConnectionEstablished", "BrokerAccountsSynced",
                ])
        }
    }

    @Test func disconnectingUnlinksTheAccountsAndReconnectingLinksThemAgain() async throws {
        try await withDomain { domain in
            let user = UUID()
            let account = try await domain.connectedCashAccount(user: user)
            let order = CreateOrder(
                userID: user, symbol: "AAPL", side: .buy, quantity: Fixtures.decimal("1"), orderType: .market,
                accountID: account.accountID)
            _ = try await domain.commands.send(order)
            let connection = account.brokerConnectionID
            _ = try await domain.commands.send(DisconnectBroker(brokerConnectionID: connection, userID: user))
            for id in try await domain.events(of: StreamName(type: "broker_connection", id: connection))
                .compactMap({ event -> [UUID]? in
                    guard case .accountsSynced(let synced)? = try? event.domainEvent(BrokerConnectionEvent.self)
                    else { return nil }
                    return synced.accountIDs
                }).joined()
            {
                let types = try await domain.events(of: StreamName(type: "broker_account", id: id)).map(\.type)
                #expect(types.last == "BrokerAccountUnlinked", "account \(id): \(types)")
            }
            do {
                _ = try await domain.commands.send(order)
                Issue.record("an order was accepted on an account whose connection is disconnected")
            } catch {
                #expect("\(error)".contains("not linked"), "\(error)")
            }
            // Connecting again links the same accounts again, and they take orders.
            _ = try await domain.connectThroughOAuth(user: user)
            try await domain.eventually("the account is linked again") {
                let types = try await domain.events(of: StreamName(type: "broker_account", id: account.accountID))
                    .map(\.type).filter { $0 == "BrokerAccountLinked" || $0 == "BrokerAccountUnlinked" }
                return types == ["BrokerAccountLinked", "BrokerAccountUnlinked", "BrokerAccountLinked"]
            }
            _ = try await domain.commands.send(order)
        }
    }

    @Test func refreshAllAccountsReportsAFailingAccountCarriesOnAndRecordsItsRun() async throws {
        try await withDomain { domain in
            let user = UUID()
            let connection = try await domain.connectThroughOAuth(user: user)
            let accounts = try await domain.linkedAccounts(user: user, count: 2)
            let margin = try #require(accounts.first { $0.brokerAccountNumber.hasSuffix("-M") })
            let cash = try #require(accounts.first { $0.brokerAccountNumber.hasSuffix("-C") })

            // Synced just now by the onboarding saga: skipped unless forced.
            let skipped = try await domain.commands.send(
                RefreshAllAccounts(userID: user, brokerConnectionID: connection))
            #expect(skipped.result.total == 0 && skipped.result.skipped == 2, "\(skipped.result)")

            domain.broker.setRefreshFailing(true, accountNumber: margin.brokerAccountNumber)
            let saga = UUID()
            let outcome = try await domain.commands.send(
                RefreshAllAccounts(userID: user, forceRefresh: true, sagaID: saga))
            let result = outcome.result
            #expect(result.total == 2 && result.refreshed == 1 && result.failed == 1 && result.skipped == 0)
            #expect(result.errors.map(\.accountID) == [margin.accountID])
            #expect(result.errors.first?.error.contains("did not answer") == true)

            // The failure is recorded on the account, the success on the other.
            let marginEvents = try await domain.events(of: StreamName(type: "broker_account", id: margin.accountID))
            #expect(marginEvents.last?.type == "BrokerAccountRefreshFailed")
            #expect(marginEvents.last?.metadata.sagaID == saga)
            let cashEvents = try await domain.events(of: StreamName(type: "broker_account", id: cash.accountID))
            #expect(cashEvents.last?.type == "BrokerAccountDataRefreshed")

            // The run's figures, on a stream of its own, carrying the saga id.
            let completions = try await domain.allEvents().filter {
                $0.type == "AllAccountsRefreshCompleted" && $0.metadata.sagaID == saga
            }
            #expect(completions.count == 1)
            let completed = try AllAccountsRefreshCompleted(protoBytes: [UInt8](try #require(completions.first).data))
            #expect(completed.total == 2 && completed.refreshed == 1 && completed.failed == 1)
            #expect(completed.errors.map(\.accountID) == [margin.accountID])
            #expect(completions.first?.stream.type == "account_refresh")

            // Without a saga id, no run is recorded.
            let before = try await domain.allEvents().filter { $0.type == "AllAccountsRefreshCompleted" }.count
            _ = try await domain.commands.send(RefreshAllAccounts(userID: user, forceRefresh: true))
            #expect(try await domain.allEvents().filter { $0.type == "AllAccountsRefreshCompleted" }.count == before)
        }
    }

    /// The user cancels a working order without the saga: the cancellation carries no saga id,
    /// yet the order's instance sees it and ends instead of following the order for ever.
    @Test func aUserCancellingAWorkingOrderEndsItsExecutionSaga() async throws {
        try await withDomain { domain in
            let user = UUID()
            _ = try await domain.connectThroughOAuth(user: user)
            let accounts = try await domain.linkedAccounts(user: user, count: 2)
            let cash = try #require(accounts.first { $0.brokerAccountNumber.hasSuffix("-C") })
            domain.broker.setPrice("AAPL", ExactDecimal(200))
            let created = try await domain.commands.send(
                CreateOrder(
                    userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(10), orderType: .limit,
                    limitPrice: ExactDecimal(100), accountID: cash.accountID, autoSubmit: true))
            let id = created.result.orderID
            let saga = OrderExecutionSaga.instanceID(order: id)
            try await domain.eventually("the saga follows the placed order") {
                try await domain.app.orderExecution.instance(saga)?.state.stage == .working
            }

            _ = try await domain.commands.send(CancelOrder(orderID: id, userID: user, reason: "changed my mind"))
            let cancelled = try #require(
                try await domain.events(of: StreamName(type: "order", id: id)).last { $0.type == "OrderCancelled" })
            #expect(cancelled.metadata.sagaID == nil)
            let finished = try await domain.app.orderExecution.waitUntilFinished(saga, timeout: .seconds(30))
            #expect(finished.status == .completed)
        }
    }

    @Test func sagasInterruptedByARestartFinishAndApplyNothingTwice() async throws {
        try await withDomain { domain in
            let user = UUID()
            // Onboarding: restart right after the connection is established.
            let connection = try await domain.connectThroughOAuth(user: user)
            try await domain.restart()
            let accounts = try await domain.linkedAccounts(user: user, count: 2)
            let cash = try #require(accounts.first { $0.brokerAccountNumber.hasSuffix("-C") })

            // Execution: a limit order that cannot fill yet; restart while it works at the broker,
            // and once right after it is created.
            domain.broker.setPrice("AAPL", ExactDecimal(200))
            var orders: [UUID] = []
            for restartRightAway in [false, true] {
                let created = try await domain.commands.send(
                    CreateOrder(
                        userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(120), orderType: .limit,
                        limitPrice: ExactDecimal(100), accountID: cash.accountID, autoSubmit: true))
                let id = created.result.orderID
                orders.append(id)
                if !restartRightAway {
                    try await domain.eventually("the order is placed") {
                        try await domain.events(of: StreamName(type: "order", id: id)).contains {
                            $0.type == "OrderPlaced"
                        }
                    }
                }
                try await domain.restart()
                domain.broker.setPrice("AAPL", ExactDecimal(200))
            }
            domain.broker.setPrice("AAPL", ExactDecimal(99))
            for id in orders {
                try await domain.eventually("order \(id) is filled") {
                    try await domain.events(of: StreamName(type: "order", id: id)).contains { $0.type == "OrderFilled" }
                }
                let types = try await domain.events(of: StreamName(type: "order", id: id)).map(\.type)
                #expect(types == ["OrderCreated", "OrderPlaced", "FillAdded", "FillAdded", "OrderFilled"], "\(types)")
            }
            let connectionTypes = try await domain.events(of: StreamName(type: "broker_connection", id: connection))
                .map(\.type)
            #expect(connectionTypes.filter { $0 == "BrokerAccountsSynced" }.count == 1)
            let runs = try await domain.allEvents().filter { $0.type == "AllAccountsRefreshCompleted" }
            #expect(runs.count == 1)
            let linked = try await domain.allEvents().filter { $0.type == "BrokerAccountLinked" }
            #expect(linked.count == 2)
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

    /// Connects the virtual broker through OAuth for `user` and returns its cash account, once
    /// both accounts are linked and refreshed.
    func connectedCashAccount(user: UUID) async throws -> BrokerAccountView {
        _ = try await connectThroughOAuth(user: user)
        return try #require(
            try await linkedAccounts(user: user, count: 2).first { $0.brokerAccountNumber.hasSuffix("-C") })
    }
}

@Suite struct RegistryTests {
    /// A command type is spelled one way: its message's name without the package, as `event_type`
    /// names events and `Schemas/events.proto` documents `command_type`.
    @Test func everyCommandOfTheSchemaIsRegisteredUnderItsMessageName() {
        let registered = Set(TradeCoreApplication.commandTypes.map { $0.commandType })
        for message in TradeCoreSchema.commandTypes {
            let name = String(message.protoMessageName.split(separator: ".").last ?? "")
            #expect(registered.contains(name), "\(message.protoMessageName) is not registered as \(name)")
            if let command = message as? any Command.Type {
                #expect(command.commandType == name)
            } else {
                Issue.record("\(message.protoMessageName) is not a command of the bus")
            }
        }
    }
}
