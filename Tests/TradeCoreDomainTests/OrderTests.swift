import EventSourcing
import EventSourcingTesting
import Foundation
import Testing
import TradeCoreMessages

@testable import TradeCoreDomain

/// Given events, when a command, then events or a refusal: every order command, its success and
/// each of its rules broken.
@Suite struct OrderTests {
    let id = UUID()
    let user = UUID()
    let other = UUID()
    let now = Fixtures.now
    var scenario: AggregateScenario<Order> { AggregateScenario(id: id) }

    func d(_ text: String) -> ExactDecimal { Fixtures.decimal(text) }

    func create(
        type: OrderType = .market, quantity: String = "10", limit: String? = nil, stop: String? = nil,
        symbol: String = "AAPL", account accountID: UUID, automation: UUID? = nil, timeInForce: TimeInForce? = nil
    ) -> CreateOrder {
        CreateOrder(
            userID: user, automationID: automation, symbol: symbol, side: .buy, quantity: d(quantity), orderType: type,
            limitPrice: limit.map(d), stopPrice: stop.map(d), timeInForce: timeInForce, accountID: accountID,
            autoSubmit: true)
    }

    // MARK: - Create

    @Test func createEmitsOrderCreatedPendingWithDayAsDefault() throws {
        let account = Fixtures.account(user: user)
        let state =
            try scenario
            .when {
                try $0.create(
                    create(type: .limit, limit: "150.25", account: account.id), account: account, automation: nil,
                    now: now)
            }
            .then([
                .created(
                    OrderCreated(
                        orderID: id, userID: user, symbol: "AAPL", side: .buy, quantity: d("10"), orderType: .limit,
                        limitPrice: d("150.25"), timeInForce: .day, createdAt: now, accountID: account.id,
                        autoSubmit: true))
            ])
        #expect(state.status == .pending && state.autoSubmit)
    }

    @Test func createRefusesAnAccountThatIsMissingForeignUnlinkedOrRestricted() throws {
        let accountID = UUID()
        let cases: [(BrokerAccount?, CommandRejection.Code, String)] = [
            (nil, .notFound, "ACCOUNT_NOT_FOUND"),
            (Fixtures.account(id: accountID, user: other), .permissionDenied, "ACCOUNT_NOT_OWNED"),
            (Fixtures.account(id: accountID, user: user, unlinked: true), .failedPrecondition, "ACCOUNT_NOT_LINKED"),
            (
                Fixtures.account(id: accountID, user: user, refreshedStatus: .restricted), .failedPrecondition,
                "ACCOUNT_NOT_ACTIVE"
            ),
        ]
        for (account, code, reason) in cases {
            try scenario
                .when { try $0.create(create(account: accountID), account: account, automation: nil, now: now) }
                .thenRejects(DomainError.self) { $0.is(code, reason) }
        }
    }

    @Test func createThroughAnAutomationNeedsItOwnedActiveAndTradingTheAccount() throws {
        let account = Fixtures.account(user: user)
        let automationID = UUID()
        let cases: [(Automation?, CommandRejection.Code, String)] = [
            (nil, .notFound, "AUTOMATION_NOT_FOUND"),
            (
                Fixtures.automation(id: automationID, user: other, accounts: [account.id], active: true),
                .permissionDenied, "AUTOMATION_NOT_OWNED"
            ),
            (
                Fixtures.automation(id: automationID, user: user, accounts: [account.id], active: false),
                .failedPrecondition, "AUTOMATION_NOT_ACTIVE"
            ),
            // Deleted, it is there all the same: the same refusal as activating it gets.
            (
                Fixtures.automation(id: automationID, user: user, accounts: [account.id], active: true, deleted: true),
                .failedPrecondition, "AUTOMATION_DELETED"
            ),
            (
                Fixtures.automation(id: automationID, user: other, accounts: [account.id], active: true, deleted: true),
                .permissionDenied, "AUTOMATION_NOT_OWNED"
            ),
            (
                Fixtures.automation(id: automationID, user: user, accounts: [UUID()], active: true), .invalidArgument,
                "ACCOUNT_NOT_IN_AUTOMATION"
            ),
        ]
        for (automation, code, reason) in cases {
            try scenario
                .when {
                    try $0.create(
                        create(account: account.id, automation: automationID), account: account, automation: automation,
                        now: now)
                }
                .thenRejects(DomainError.self) { $0.is(code, reason) }
        }
        let active = Fixtures.automation(id: automationID, user: user, accounts: [account.id], active: true)
        let state =
            try scenario
            .when {
                try $0.create(
                    create(account: account.id, automation: automationID), account: account, automation: active,
                    now: now)
            }
            .then([
                Fixtures.orderCreated(id, user: user).withAutomation(automationID, account: account.id, quantity: "10")
            ])
        #expect(state.automationID == automationID)
    }

    @Test func createThroughAnAutomationTradesItsSymbolAndWholeContractsOfAFuture() throws {
        let account = Fixtures.account(user: user)
        let automationID = UUID()
        let stock = Fixtures.automation(id: automationID, user: user, accounts: [account.id], active: true)
        var futureConfig = Fixtures.automationConfig(accounts: [account.id], symbol: "ES")
        futureConfig.assetType = .future
        futureConfig.futureDetails = FutureDetails(
            contractSymbol: "ESZ5", expirationDate: "2030-12-20", multiplier: d("50"), tickSize: d("0.25"))
        let future = Fixtures.automation(
            id: automationID, user: user, accounts: [account.id], active: true, config: futureConfig)
        let refused: [(Automation, CreateOrder, String, String)] = [
            (
                stock, create(symbol: "MSFT", account: account.id, automation: automationID), "symbol",
                "SYMBOL_NOT_IN_AUTOMATION"
            ),
            (
                future, create(symbol: "AAPL", account: account.id, automation: automationID), "symbol",
                "SYMBOL_NOT_IN_AUTOMATION"
            ),
            (
                future, create(quantity: "0.5", symbol: "ESZ5", account: account.id, automation: automationID),
                "quantity", "FRACTIONAL_CONTRACTS"
            ),
        ]
        for (automation, command, field, reason) in refused {
            let error =
                try scenario
                .when { try $0.create(command, account: account, automation: automation, now: now) }
                .thenRejects(DomainError.self) { $0.is(.invalidArgument, reason) }
            #expect(error.fieldViolations.map(\.field) == [field])
        }
        // A change keeps an order through a future automation in whole contracts.
        let futureOrder = Fixtures.orderCreated(id, user: user).withAutomation(
            automationID, account: account.id, quantity: "2")
        try scenario.given([futureOrder])
            .when { try $0.update(update(quantity: "2.5"), account: account, automation: future, now: now) }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "FRACTIONAL_CONTRACTS") }
        try scenario.given([futureOrder])
            .when { try $0.update(update(quantity: "3"), account: account, automation: future, now: now) }
            .then([.updated(OrderUpdated(orderID: id, quantity: d("3"), updatedAt: now))])
        for symbol in ["ES", "ESZ5"] {
            let state =
                try scenario
                .when {
                    try $0.create(
                        create(quantity: "2", symbol: symbol, account: account.id, automation: automationID),
                        account: account, automation: future, now: now)
                }
                .then([
                    Fixtures.orderCreated(id, user: user).withAutomation(
                        automationID, account: account.id, quantity: "2"
                    )
                    .with(symbol: symbol, account: account.id, quantity: "2")
                ])
            #expect(state.symbol == symbol)
        }
    }

    @Test func createChecksSymbolQuantityAndThePricesEachTypeNeeds() throws {
        let account = Fixtures.account(user: user)
        let cases: [(CreateOrder, [String])] = [
            (create(symbol: "aapl", account: account.id), ["symbol"]),
            (create(symbol: "", account: account.id), ["symbol"]),
            (create(symbol: "TOOLONGSYMBOLNAME", account: account.id), ["symbol"]),
            (create(symbol: ".AAPL", account: account.id), ["symbol"]),
            (create(quantity: "0", account: account.id), ["quantity"]),
            (create(quantity: "-5", account: account.id), ["quantity"]),
            (create(quantity: "0.000000001", account: account.id), ["quantity"]),
            (create(quantity: "1000000000000", account: account.id), ["quantity"]),
            (create(type: .limit, limit: "1.123456789", account: account.id), ["limit_price"]),
            (create(type: .stop, stop: "10000000000", account: account.id), ["stop_price"]),
            (create(type: .market, limit: "10", account: account.id), ["limit_price"]),
            (create(type: .limit, account: account.id), ["limit_price"]),
            (create(type: .limit, limit: "0", account: account.id), ["limit_price"]),
            (create(type: .limit, limit: "10", stop: "9", account: account.id), ["stop_price"]),
            (create(type: .stop, account: account.id), ["stop_price"]),
            (create(type: .stopLimit, account: account.id), ["limit_price", "stop_price"]),
        ]
        for (command, fields) in cases {
            let error =
                try scenario
                .when { try $0.create(command, account: account, automation: nil, now: now) }
                .thenRejects(DomainError.self)
            #expect(error.code == .invalidArgument)
            #expect(error.fieldViolations.map(\.field) == fields, "\(command)")
        }
        for symbol in ["BRK.B", "BTC-USD", "ETH/USD", "ES"] {
            _ =
                try scenario
                .when {
                    try $0.create(
                        create(symbol: symbol, account: account.id), account: account, automation: nil, now: now)
                }
                .then([Fixtures.orderCreated(id, user: user).with(symbol: symbol, account: account.id, quantity: "10")])
        }
    }

    // MARK: - Place and reject

    @Test func placeMovesAPendingOrderToPlaced() throws {
        let state = try scenario.given([Fixtures.orderCreated(id, user: user)])
            .when { try $0.place(brokerOrderID: "B-7", placedAt: 0, user: user, now: now) }
            .then([.placed(OrderPlaced(orderID: id, brokerOrderID: "B-7", placedAt: now))])
        #expect(state.status == .placed && state.brokerOrderID == "B-7")
    }

    @Test func placeRefusesAnotherUserAMissingOrderANonPendingOneAndNoBrokerID() throws {
        try AggregateScenario<Order>(id: id).when {
            try $0.place(brokerOrderID: "B", placedAt: 0, user: user, now: now)
        }
        .thenRejects(DomainError.self) { $0.is(.notFound, "ORDER_NOT_FOUND") }
        try scenario.given([Fixtures.orderCreated(id, user: user)])
            .when { try $0.place(brokerOrderID: "B", placedAt: 0, user: other, now: now) }
            .thenRejects(DomainError.self) { $0.is(.permissionDenied, "ORDER_NOT_OWNED") }
        try scenario.given([Fixtures.orderCreated(id, user: user), Fixtures.placed(id)])
            .when { try $0.place(brokerOrderID: "B", placedAt: 0, user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "ORDER_NOT_PENDING") }
        try scenario.given([Fixtures.orderCreated(id, user: user)])
            .when { try $0.place(brokerOrderID: "", placedAt: 0, user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "broker_order_id") }
    }

    @Test func rejectTakesAPendingOrPlacedOrderWithAReason() throws {
        for history in [
            [Fixtures.orderCreated(id, user: user)], [Fixtures.orderCreated(id, user: user), Fixtures.placed(id)],
        ] {
            let state = try scenario.given(history)
                .when { try $0.reject(reason: "no buying power", user: user, now: now) }
                .then([.rejected(OrderRejected(orderID: id, reason: "no buying power", rejectedAt: now))])
            #expect(state.status == .rejected && state.statusReason == "no buying power")
        }
        try scenario.given([Fixtures.orderCreated(id, user: user)])
            .when { try $0.reject(reason: "", user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "reason") }
        try scenario.given(partiallyFilled())
            .when { try $0.reject(reason: "late", user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "ORDER_NOT_REJECTABLE") }
    }

    // MARK: - Fills

    func partiallyFilled(_ fill: UUID = UUID()) -> [OrderEvent] {
        [
            Fixtures.orderCreated(id, user: user), Fixtures.placed(id),
            Fixtures.fill(id, fill, quantity: "40", price: "10", filled: "40", average: "10", status: .partiallyFilled),
        ]
    }

    @Test func fillsTakeAnOrderToPartiallyFilledThenFilledWithAnExactAverage() throws {
        let first = UUID()
        let second = UUID()
        var state = try scenario.given([Fixtures.orderCreated(id, user: user), Fixtures.placed(id)])
            .when {
                try $0.addFill(fillID: first, quantity: d("40"), price: d("10"), filledAt: now, user: user, now: now)
            }
            .then([
                Fixtures.fill(
                    id, first, quantity: "40", price: "10", filled: "40", average: "10", status: .partiallyFilled)
            ])
        #expect(state.status == .partiallyFilled)
        // 40 × 10 + 60 × 10.01 = 1000.6 over 100: exactly 10.006.
        state = try scenario.given(partiallyFilled(first))
            .when {
                try $0.addFill(
                    fillID: second, quantity: d("60"), price: d("10.01"), filledAt: now, user: user, now: now)
            }
            .then([
                Fixtures.fill(
                    id, second, quantity: "60", price: "10.01", filled: "100", average: "10.006", status: .filled),
                .filled(
                    OrderFilled(orderID: id, filledQuantity: d("100"), averageFillPrice: d("10.006"), filledAt: now)),
            ])
        #expect(state.status == .filled && state.filledNotional == d("1000.6"))
    }

    @Test func theAverageIsRoundedHalfToEvenAtEightPlaces() throws {
        let fill = UUID()
        // 40 × 10 + 1 × 10.00000001 over 41 = 10.000000000243…: 10 at eight places.
        try scenario.given(partiallyFilled())
            .when {
                try $0.addFill(
                    fillID: fill, quantity: d("1"), price: d("10.00000001"), filledAt: now, user: user, now: now)
            }
            .then([
                Fixtures.fill(
                    id, fill, quantity: "1", price: "10.00000001", filled: "41", average: "10", status: .partiallyFilled
                )
            ])
        // 1 × 1 + 2 × 2 over 3 = 1.6666…: 1.66666667.
        let two = UUID()
        try scenario.given([
            Fixtures.orderCreated(id, user: user), Fixtures.placed(id),
            Fixtures.fill(id, UUID(), quantity: "1", price: "1", filled: "1", average: "1", status: .partiallyFilled),
        ])
        .when { try $0.addFill(fillID: two, quantity: d("2"), price: d("2"), filledAt: now, user: user, now: now) }
        .then([
            Fixtures.fill(
                id, two, quantity: "2", price: "2", filled: "3", average: "1.66666667", status: .partiallyFilled)
        ])
    }

    /// The bounds on quantities and prices exist so that whatever an order was accepted with, its
    /// executions can be recorded exactly: the largest order, filled at the largest price with
    /// the most decimal places, still fits.
    @Test func theLargestOrderAcceptedRecordsAFillAtTheLargestPrice() throws {
        let account = Fixtures.account(user: user)
        let quantity = "999999999999.99999999"
        let price = "9999999999.99999999"
        let created = scenario.when {
            try $0.create(
                create(type: .limit, quantity: quantity, limit: price, account: account.id), account: account,
                automation: nil, now: now)
        }
        #expect(created.root.state.status == .pending && created.root.state.quantity == d(quantity))
        let filled = scenario.given(created.root.uncommittedEvents + [Fixtures.placed(id)]).when {
            try $0.addFill(fillID: UUID(), quantity: d(quantity), price: d(price), filledAt: now, user: user, now: now)
        }
        let state = filled.root.state
        #expect(state.status == .filled)
        #expect(
            state.filledNotional == d("9999999999999999989900.0000000000000001"),
            "(10¹² − 10⁻⁸) × (10¹⁰ − 10⁻⁸), exactly")
    }

    /// A broker's times lie between the order's creation and now, give or take five minutes of
    /// clock difference: a fill dated before its order existed, or in the future, is refused.
    /// An order stored before quantities had at most 8 decimal places still records its fills.
    @Test func anOrderAcceptedWithMoreDecimalsBeforeTheBoundsStillRecordsItsFills() throws {
        let old = Fixtures.orderCreated(id, user: user).with(symbol: "AAPL", account: UUID(), quantity: "0.0000000001")
        let state = scenario.given([old, Fixtures.placed(id)]).when {
            try $0.addFill(
                fillID: UUID(), quantity: d("0.0000000001"), price: d("10"), filledAt: now, user: user, now: now)
        }.root.state
        #expect(state.status == .filled)
        // A new order of that size is refused.
        let account = Fixtures.account(user: user)
        try scenario
            .when {
                try $0.create(
                    create(quantity: "0.0000000001", account: account.id), account: account, automation: nil, now: now)
            }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "quantity") }
    }

    @Test func brokerTimesLieBetweenTheOrdersCreationAndNow() throws {
        let minute: Int64 = 60_000_000_000
        let later = now + 60 * minute
        for filledAt in [Int64(1_000_000_000), now - 6 * minute, later + 6 * minute] {
            try scenario.given(partiallyFilled())
                .when {
                    try $0.addFill(
                        fillID: UUID(), quantity: d("1"), price: d("10"), filledAt: filledAt, user: user, now: later)
                }
                .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "filled_at") }
        }
        for filledAt in [now - 4 * minute, now + 30 * minute, later + 4 * minute] {
            let state = scenario.given(partiallyFilled()).when {
                try $0.addFill(
                    fillID: UUID(), quantity: d("1"), price: d("10"), filledAt: filledAt, user: user, now: later)
            }.root.state
            #expect(state.filledQuantity == d("41"), "filled at \(filledAt)")
        }
        let created = [Fixtures.orderCreated(id, user: user)]
        try scenario.given(created)
            .when { try $0.place(brokerOrderID: "B-1", placedAt: later + 24 * 60 * minute, user: user, now: later) }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "placed_at") }
        try scenario.given(created)
            .when { try $0.place(brokerOrderID: "B-1", placedAt: now + minute, user: user, now: later) }
            .then([.placed(OrderPlaced(orderID: id, brokerOrderID: "B-1", placedAt: now + minute))])
    }

    @Test func aRepeatedFillIDChangesNothing() throws {
        let fill = UUID()
        try scenario.given(partiallyFilled(fill))
            .when {
                try $0.addFill(fillID: fill, quantity: d("40"), price: d("10"), filledAt: now, user: user, now: now)
            }
            .then([])
        // The same id for another trade: refused, naming what was recorded.
        try scenario.given(partiallyFilled(fill))
            .when {
                try $0.addFill(fillID: fill, quantity: d("5"), price: d("10"), filledAt: now, user: user, now: now)
            }
            .thenRejects(DomainError.self) {
                $0.is(.alreadyExists, "FILL_ID_REUSED", field: "fill_id") && $0.facts["recorded_quantity"] == "40"
            }
        try scenario.given(partiallyFilled(fill))
            .when {
                try $0.addFill(fillID: fill, quantity: d("40"), price: d("9.99"), filledAt: now, user: user, now: now)
            }
            .thenRejects(DomainError.self) { $0.is(.alreadyExists, "FILL_ID_REUSED") && $0.message.contains("9.99") }
    }

    @Test func fillsNeverPassTheQuantityNorReachAnOrderThatIsNotPlaced() throws {
        try scenario.given(partiallyFilled())
            .when {
                try $0.addFill(fillID: UUID(), quantity: d("61"), price: d("10"), filledAt: now, user: user, now: now)
            }
            .thenRejects(DomainError.self) {
                $0.is(.failedPrecondition, "OVERFILL") && $0.facts["filled_quantity"] == "40"
            }
        try scenario.given([Fixtures.orderCreated(id, user: user)])
            .when {
                try $0.addFill(fillID: UUID(), quantity: d("1"), price: d("10"), filledAt: now, user: user, now: now)
            }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "ORDER_NOT_FILLABLE") }
        try scenario.given(partiallyFilled())
            .when {
                try $0.addFill(fillID: UUID(), quantity: d("0"), price: d("10"), filledAt: now, user: user, now: now)
            }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "quantity") }
        try scenario.given(partiallyFilled())
            .when {
                try $0.addFill(fillID: UUID(), quantity: d("1"), price: d("-1"), filledAt: now, user: user, now: now)
            }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "price") }
        try scenario.given(partiallyFilled())
            .when {
                try $0.addFill(fillID: UUID(), quantity: d("1"), price: d("10"), filledAt: -5, user: user, now: now)
            }
            .thenRejects(DomainError.self) {
                $0.is(.invalidArgument, "INVALID_FIELD", field: "filled_at") && $0.message.contains("-5")
            }
        try scenario.given(partiallyFilled())
            .when {
                try $0.addFill(fillID: UUID(), quantity: d("1"), price: d("10"), filledAt: now, user: other, now: now)
            }
            .thenRejects(DomainError.self) { $0.is(.permissionDenied, "ORDER_NOT_OWNED") }
    }

    // MARK: - Update

    func update(
        quantity: String? = nil, limit: String? = nil, stop: String? = nil, timeInForce: TimeInForce? = nil,
        user: UUID? = nil
    ) -> UpdateOrder {
        UpdateOrder(
            orderID: id, userID: user ?? self.user, quantity: quantity.map(d), limitPrice: limit.map(d),
            stopPrice: stop.map(d),
            timeInForce: timeInForce)
    }

    @Test func updateEmitsOnlyTheFieldsThatChange() throws {
        let limitOrder = Fixtures.orderCreated(id, user: user, type: .limit, limit: "10")
        let state = try scenario.given([limitOrder])
            .when {
                try $0.update(
                    update(quantity: "100", limit: "11", timeInForce: .goodTillCancelled), account: nil, now: now)
            }
            .then([
                .updated(
                    OrderUpdated(orderID: id, limitPrice: d("11"), timeInForce: .goodTillCancelled, updatedAt: now))
            ])
        #expect(state.limitPrice == d("11") && state.timeInForce == .goodTillCancelled)
        try scenario.given([limitOrder]).when { try $0.update(update(limit: "10"), account: nil, now: now) }.then([])
    }

    @Test func updateChecksEachFieldAgainstTheOrder() throws {
        let limitOrder = Fixtures.orderCreated(id, user: user, type: .limit, limit: "10")
        try scenario.given([limitOrder]).when { try $0.update(update(), account: nil, now: now) }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "NOTHING_TO_UPDATE") }
        try scenario.given([limitOrder]).when { try $0.update(update(stop: "9"), account: nil, now: now) }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "stop_price") }
        try scenario.given([Fixtures.orderCreated(id, user: user)]).when {
            try $0.update(update(limit: "9"), account: nil, now: now)
        }
        .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "limit_price") }
        try scenario.given([limitOrder]).when { try $0.update(update(limit: "0"), account: nil, now: now) }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "limit_price") }
        try scenario.given(partiallyFilled()).when { try $0.update(update(quantity: "40"), account: nil, now: now) }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "QUANTITY_BELOW_FILLED", field: "quantity") }
        try scenario.given(partiallyFilled()).when { try $0.update(update(quantity: "41"), account: nil, now: now) }
            .then([.updated(OrderUpdated(orderID: id, quantity: d("41"), updatedAt: now))])
        try scenario.given(partiallyFilled() + [.cancelled(OrderCancelled(orderID: id, cancelledAt: now))])
            .when { try $0.update(update(quantity: "50"), account: nil, now: now) }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "ORDER_NOT_WORKING") }
        try scenario.given([limitOrder]).when {
            try $0.update(update(quantity: "5", user: other), account: nil, now: now)
        }
        .thenRejects(DomainError.self) { $0.is(.permissionDenied, "ORDER_NOT_OWNED") }
        // An account unlinked (its connection disconnected) takes no change, as it takes no new order.
        let unlinked = Fixtures.account(user: user, unlinked: true)
        try scenario.given([limitOrder]).when { try $0.update(update(limit: "9"), account: unlinked, now: now) }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "ACCOUNT_NOT_LINKED") }
        try scenario.given([limitOrder])
            .when { try $0.update(update(limit: "9"), account: Fixtures.account(user: user), now: now) }
            .then([.updated(OrderUpdated(orderID: id, limitPrice: d("9"), updatedAt: now))])
    }

    // MARK: - Cancel and delete

    @Test func cancelTakesAWorkingOrderOnly() throws {
        for history in [[Fixtures.orderCreated(id, user: user)], partiallyFilled()] {
            try scenario.given(history).when { try $0.cancel(reason: "changed my mind", user: user, now: now) }
                .then([.cancelled(OrderCancelled(orderID: id, reason: "changed my mind", cancelledAt: now))])
        }
        try scenario.given([
            Fixtures.orderCreated(id, user: user), .rejected(OrderRejected(orderID: id, reason: "x", rejectedAt: now)),
        ])
        .when { try $0.cancel(reason: "", user: user, now: now) }
        .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "ORDER_NOT_CANCELLABLE") }
        try scenario.given([Fixtures.orderCreated(id, user: user)])
            .when { try $0.cancel(reason: String(repeating: "x", count: 501), user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "reason") }
    }

    @Test func deleteTakesAFinishedOrderOnceAndThenNothingElse() throws {
        let cancelled: [OrderEvent] = [
            Fixtures.orderCreated(id, user: user), .cancelled(OrderCancelled(orderID: id, cancelledAt: now)),
        ]
        let state = try scenario.given(cancelled).when { try $0.delete(user: user, now: now) }
            .then([.deleted(OrderDeleted(orderID: id, deletedAt: now))])
        #expect(state.status == .deleted)
        try scenario.given([Fixtures.orderCreated(id, user: user)]).when { try $0.delete(user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "ORDER_STILL_WORKING") }
        let deleted = cancelled + [.deleted(OrderDeleted(orderID: id, deletedAt: now))]
        try scenario.given(deleted).when { try $0.delete(user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "ORDER_DELETED") }
        try scenario.given(deleted).when { try $0.cancel(reason: "", user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "ORDER_NOT_CANCELLABLE") }
    }
}

extension OrderEvent {
    /// The created event with another symbol, account and quantity.
    func with(symbol: String, account: UUID, quantity: String) -> OrderEvent {
        guard case .created(var created) = self else { return self }
        created.symbol = symbol
        created.accountID = account
        created.quantity = Fixtures.decimal(quantity)
        created.autoSubmit = true
        return .created(created)
    }

    /// The created event through an automation.
    func withAutomation(_ automation: UUID, account: UUID, quantity: String) -> OrderEvent {
        guard case .created(var created) = with(symbol: "AAPL", account: account, quantity: quantity) else {
            return self
        }
        created.automationID = automation
        return .created(created)
    }
}
