import EventSourcing
import EventStore
import Foundation
import TradeCoreMessages

/// The orders read model: each order's view by id and by user, and the orders working at each
/// broker for the fill poller.
///
/// Keys of collection `orders`:
/// - `id/<order>` and `user/<user>/<order>`: the OrderView (order ids are time-ordered, so a
///   user's orders list oldest first), with its latest ``fillsKept`` fills;
/// - `working/<broker>/<order>`: a ``WorkingOrder`` (JSON) while the order is placed or partially filled;
/// - `account/<account>`: where an account trades (from BrokerAccountLinked), to route its orders.
struct OrdersProjection: Projection {
    static let name = "orders"
    static let collection = "orders"
    /// The fills a view keeps, the latest: the view is rewritten on every fill, so keeping them all
    /// would make an order's n-th fill cost as much as all before it (an order filled in thousands
    /// of slices). `fill_count` counts them all, and the order's stream holds every one.
    static let fillsKept = 100

    var name: String { Self.name }
    var collections: [String] { [Self.collection] }

    func handles(_ event: RecordedEvent) -> Bool {
        event.stream.type == Order.streamType || event.type == "BrokerAccountLinked"
    }

    func apply(_ event: RecordedEvent, to models: any ReadModelWriter) throws {
        let collection = Self.collection
        if event.stream.type == BrokerAccount.streamType {
            guard case .linked(let linked) = try event.domainEvent(BrokerAccountEvent.self) else { return }
            let route = AccountRoute(
                brokerID: linked.brokerID, connectionID: linked.brokerConnectionID,
                accountNumber: linked.brokerAccountNumber, environmentNumber: linked.environment.rawValue)
            try models.put(JSONEncoder().encode(route), in: collection, key: "account/\(linked.accountID.key)")
            return
        }
        let change = try event.domainEvent(OrderEvent.self)
        let time = event.metadata.time
        let version = UInt64(event.version)
        if case .created(let created) = change {
            let view = OrderView(
                orderID: created.orderID, userID: created.userID, automationID: created.automationID,
                symbol: created.symbol, side: created.side, quantity: created.quantity, orderType: created.orderType,
                limitPrice: created.limitPrice, stopPrice: created.stopPrice, timeInForce: created.timeInForce,
                status: .pending, filledQuantity: .zero, createdAt: created.createdAt, updatedAt: created.createdAt,
                version: version, accountID: created.accountID, autoSubmit: created.autoSubmit)
            try save(view, to: models)
            return
        }
        let id = event.stream.id
        guard var view = try models.message(OrderView.self, in: collection, key: "id/\(id.key)") else { return }
        view.version = version
        view.updatedAt = time
        let workingKey = try workingKey(of: view, in: models)
        switch change {
        case .created:
            return
        case .placed(let placed):
            view.status = .placed
            view.brokerOrderID = placed.brokerOrderID
            if let workingKey, let route = try route(of: view.accountID, in: models) {
                let working = WorkingOrder(
                    orderID: id, userID: view.userID, accountID: view.accountID, connectionID: route.connectionID,
                    brokerID: route.brokerID, environmentNumber: route.environmentNumber,
                    accountNumber: route.accountNumber, brokerOrderID: placed.brokerOrderID, symbol: view.symbol,
                    sideNumber: view.side.rawValue, quantity: view.quantity, orderTypeNumber: view.orderType.rawValue,
                    limitPrice: view.limitPrice, stopPrice: view.stopPrice, filledQuantity: .zero, fillCount: 0,
                    sagaID: event.metadata.sagaID, timeInForceNumber: view.timeInForce.rawValue)
                try models.put(JSONEncoder().encode(working), in: collection, key: workingKey)
            }
        case .fillAdded(let fill):
            view.status = fill.status
            view.filledQuantity = fill.filledQuantity
            view.averageFillPrice = fill.averageFillPrice
            // A view written before the count existed kept every fill: its list is its count.
            let before = max(Int(view.fillCount), view.fills.count)
            view.fillCount = UInt32(clamping: before + 1)
            view.fills.append(
                Fill(fillID: fill.fillID, quantity: fill.quantity, price: fill.price, filledAt: fill.filledAt))
            if view.fills.count > Self.fillsKept { view.fills.removeFirst(view.fills.count - Self.fillsKept) }
            try updateWorking(workingKey, in: models) { working in
                working.filledQuantity = fill.filledQuantity
                working.fillCount += 1
            }
        case .filled:
            view.status = .filled
        case .updated(let updated):
            if let value = updated.quantity { view.quantity = value }
            if let value = updated.limitPrice { view.limitPrice = value }
            if let value = updated.stopPrice { view.stopPrice = value }
            if let value = updated.timeInForce { view.timeInForce = value }
            try updateWorking(workingKey, in: models) { working in
                working.quantity = view.quantity
                working.limitPrice = view.limitPrice
                working.stopPrice = view.stopPrice
                working.timeInForceNumber = view.timeInForce.rawValue
            }
        case .cancelled(let cancelled):
            view.status = .cancelled
            view.statusReason = cancelled.reason
        case .rejected(let rejected):
            view.status = .rejected
            view.statusReason = rejected.reason
        case .deleted:
            view.status = .deleted
        }
        if ![.placed, .partiallyFilled].contains(view.status), let workingKey {
            try models.remove(from: collection, key: workingKey)
        }
        try save(view, to: models)
    }

    private func save(_ view: OrderView, to models: any ReadModelWriter) throws {
        try models.put(
            view, in: Self.collection, keys: ["id/\(view.orderID.key)", "user/\(view.userID.key)/\(view.orderID.key)"])
    }

    private func route(of account: UUID, in models: any ReadModelReader) throws -> AccountRoute? {
        try models.decode(AccountRoute.self, in: Self.collection, key: "account/\(account.key)")
    }

    /// The key of the order's working entry, when its account's broker is known.
    private func workingKey(of view: OrderView, in models: any ReadModelReader) throws -> String? {
        guard let route = try route(of: view.accountID, in: models) else { return nil }
        return Self.workingPrefix(route.brokerID) + view.orderID.key
    }

    private func updateWorking(
        _ key: String?, in models: any ReadModelWriter, _ change: (inout WorkingOrder) -> Void
    ) throws {
        guard let key, var working = try models.decode(WorkingOrder.self, in: Self.collection, key: key) else { return }
        change(&working)
        try models.put(JSONEncoder().encode(working), in: Self.collection, key: key)
    }

    static func workingPrefix(_ brokerID: String) -> String { "working/\(brokerID)/" }

    /// Where an account trades.
    struct AccountRoute: Codable {
        var brokerID: String
        var connectionID: UUID
        var accountNumber: String
        var environmentNumber: Int32
    }
}
