import EventSourcing
import EventStore
import Foundation
import TradeCoreMessages
import WireFormat

// The queries of `QueryService` are the query bus's queries, answered from the read models. Each
// is asked for a user; a view of another user's is PERMISSION_DENIED, one that does not exist
// NOT_FOUND.

extension GetOrder: Query {
    public typealias Result = OrderView
    public static var queryType: String { "GetOrder" }
}

extension ListOrders: Query {
    public typealias Result = OrderList
    public static var queryType: String { "ListOrders" }
}

extension GetAutomation: Query {
    public typealias Result = AutomationView
    public static var queryType: String { "GetAutomation" }
}

extension ListAutomations: Query {
    public typealias Result = AutomationList
    public static var queryType: String { "ListAutomations" }
}

extension GetBrokerConnection: Query {
    public typealias Result = BrokerConnectionView
    public static var queryType: String { "GetBrokerConnection" }
}

extension FindBrokerConnection: Query {
    public typealias Result = BrokerConnectionView
    public static var queryType: String { "FindBrokerConnection" }
}

extension GetAccountsByUser: Query {
    public typealias Result = BrokerAccountList
    public static var queryType: String { "GetAccountsByUser" }
}

extension GetAccountsByConnection: Query {
    public typealias Result = BrokerAccountList
    public static var queryType: String { "GetAccountsByConnection" }
}

/// The orders working at one broker, for the fill poller.
public struct ListWorkingOrders: Query {
    public typealias Result = [WorkingOrder]
    public static var queryType: String { "ListWorkingOrders" }

    public var brokerID: String

    public init(brokerID: String) {
        self.brokerID = brokerID
    }
}

struct GetOrderHandler: QueryHandler {
    var projections: [String] { [OrdersProjection.name] }

    func handle(_ query: GetOrder, context: QueryContext) async throws -> OrderView {
        let key = "id/\(query.orderID.key)"
        let view = try await context.readModels.read {
            try $0.message(OrderView.self, in: OrdersProjection.collection, key: key)
        }
        guard let view else { throw DomainError.notInReadModel("order", query.orderID, reason: "ORDER_NOT_FOUND") }
        try Rules.owner(view.userID, is: query.userID, "order", query.orderID, reason: "ORDER_NOT_OWNED")
        return view
    }
}

struct ListOrdersHandler: QueryHandler {
    static let defaultPageSize = 100
    static let maxPageSize = 1_000

    /// An order's view keeps up to a hundred fills, so a thousand orders can pass the response
    /// limit: a page ends at this many bytes (see ``UserPages``).
    var maxPageBytes = 2 << 20
    /// Orders one call looks at, at most, and read at a time (see ``UserPages``).
    var maxScannedOrders = 4_096
    var scanChunk = 256

    var projections: [String] { [OrdersProjection.name] }

    /// Oldest first, filtered by status (every status but DELETED when none is named), a page at a
    /// time as ``UserPages`` reads them.
    func handle(_ query: ListOrders, context: QueryContext) async throws -> OrderList {
        let wanted = Set(query.statuses)
        let pages = UserPages(
            collection: OrdersProjection.collection, maxPageBytes: maxPageBytes, maxScanned: maxScannedOrders,
            scanChunk: scanChunk, defaultPageSize: Self.defaultPageSize, maxPageSize: Self.maxPageSize)
        let page = try await pages.read(
            OrderView.self, of: query.userID, pageSize: query.pageSize, after: query.afterOrderID,
            afterField: "after_order_id", kind: "orders", in: context.readModels, id: \.orderID
        ) { view in wanted.isEmpty ? view.status != .deleted : wanted.contains(view.status) }
        return OrderList(orders: page.views, nextAfterOrderID: page.next)
    }
}

/// Pages of one user's views in a collection keyed `user/<user id>/<id>`, oldest first (ids are
/// UUIDv7), those `keep` takes: the next page's cursor is set when the page is full, by count
/// (`page_size`) or by size (`maxPageBytes`; a page always holds at least one view), and when the
/// call stopped after looking at `maxScanned` views with more left — then it names the last view
/// looked at, and the page may hold fewer views than asked, or none. A cursor must be one of the
/// user's (a page's next cursor always is): a mistyped or another user's id is refused, where it
/// would otherwise read as a page past the end.
struct UserPages {
    let collection: String
    /// The most bytes of views a page holds: half the server's default response limit (4 MiB).
    let maxPageBytes: Int
    /// The most views one call looks at: a filter that few views pass would otherwise read a
    /// user's whole history in one call, unbounded work for one request (and on PostgreSQL a
    /// failure past 64 reads: each read of rows not fetched yet runs the read's body again, and a
    /// body is given 64 runs).
    let maxScanned: Int
    /// Views read at a time while looking (at least the page size).
    let scanChunk: Int
    let defaultPageSize: Int
    let maxPageSize: Int

    func read<View: ProtoMessage & Sendable>(
        _ type: View.Type, of user: UUID, pageSize: UInt32, after: UUID?, afterField: String, kind: String,
        in readModels: any ProjectionStore, id: @escaping @Sendable (View) -> UUID,
        keep: @escaping @Sendable (View) -> Bool
    ) async throws -> (views: [View], next: UUID?) {
        let size = pageSize == 0 ? defaultPageSize : Int(pageSize)
        guard size <= maxPageSize else {
            throw DomainError.invalid("page_size", "at most \(maxPageSize)")
        }
        let prefix = "user/\(user.key)/"
        let start = after.map { prefix + $0.key }
        let (collection, maxPageBytes, maxScanned, chunk) = (
            collection, maxPageBytes, max(maxScanned, 1), max(size, scanChunk, 1)
        )
        let page = try await readModels.read { reader -> (views: [View], next: UUID?)? in
            if let start, try reader.message(View.self, in: collection, key: start) == nil { return nil }
            var views: [View] = []
            var bytes = 0
            var full = false
            var cursor = start
            var scanned = 0
            var lastScanned: UUID?
            scan: while true {
                let entries = try reader.entries(in: collection, prefix: prefix, after: cursor, limit: chunk)
                for entry in entries {
                    scanned += 1
                    let view = try View(decoding: entry.value)
                    lastScanned = id(view)
                    guard keep(view) else { continue }
                    // Each view in the list costs its bytes and at most 6 of field tag and length.
                    bytes += entry.value.count + 6
                    if bytes > maxPageBytes, !views.isEmpty {
                        full = true
                        break scan
                    }
                    views.append(view)
                    if views.count == size {
                        full = true
                        break scan
                    }
                }
                guard entries.count == chunk, let last = entries.last else { break }
                if scanned >= maxScanned {
                    // More may follow: the next call goes on after the last view looked at.
                    return (views, lastScanned)
                }
                cursor = last.key
            }
            return (views, full ? views.last.map(id) : nil)
        }
        guard let page else {
            throw DomainError.invalid(
                afterField,
                "\(after?.lowercasedText ?? "") is not one of the user's \(kind) "
                    + "(pass the previous page's next_\(afterField))",
                reason: "UNKNOWN_PAGE_CURSOR")
        }
        return page
    }
}

struct GetAutomationHandler: QueryHandler {
    var projections: [String] { [AutomationsProjection.name] }

    func handle(_ query: GetAutomation, context: QueryContext) async throws -> AutomationView {
        let key = "id/\(query.automationID.key)"
        let view = try await context.readModels.read {
            try $0.message(AutomationView.self, in: AutomationsProjection.collection, key: key)
        }
        guard let view else {
            throw DomainError.notInReadModel("automation", query.automationID, reason: "AUTOMATION_NOT_FOUND")
        }
        try Rules.owner(view.userID, is: query.userID, "automation", query.automationID, reason: "AUTOMATION_NOT_OWNED")
        return view
    }
}

struct ListAutomationsHandler: QueryHandler {
    static let defaultPageSize = 100
    static let maxPageSize = 1_000

    /// An automation's view keeps up to 32 metadata entries of 256 characters, so a thousand of
    /// them can pass the response limit: a page ends at this many bytes (see ``UserPages``).
    var maxPageBytes = 2 << 20
    var maxScannedAutomations = 4_096
    var scanChunk = 256

    var projections: [String] { [AutomationsProjection.name] }

    /// Oldest first, without the deleted ones unless `include_deleted`, a page at a time as
    /// ``UserPages`` reads them.
    func handle(_ query: ListAutomations, context: QueryContext) async throws -> AutomationList {
        let includeDeleted = query.includeDeleted
        let pages = UserPages(
            collection: AutomationsProjection.collection, maxPageBytes: maxPageBytes,
            maxScanned: maxScannedAutomations, scanChunk: scanChunk, defaultPageSize: Self.defaultPageSize,
            maxPageSize: Self.maxPageSize)
        let page = try await pages.read(
            AutomationView.self, of: query.userID, pageSize: query.pageSize, after: query.afterAutomationID,
            afterField: "after_automation_id", kind: "automations", in: context.readModels, id: \.automationID
        ) { view in includeDeleted || view.status != .deleted }
        return AutomationList(automations: page.views, nextAfterAutomationID: page.next)
    }
}

struct GetBrokerConnectionHandler: QueryHandler {
    var projections: [String] { [BrokerConnectionsProjection.name] }

    func handle(_ query: GetBrokerConnection, context: QueryContext) async throws -> BrokerConnectionView {
        try await BrokerConnectionsProjection.view(query.brokerConnectionID, for: query.userID, in: context.readModels)
    }
}

struct FindBrokerConnectionHandler: QueryHandler {
    var projections: [String] { [BrokerConnectionsProjection.name] }

    func handle(_ query: FindBrokerConnection, context: QueryContext) async throws -> BrokerConnectionView {
        let environment = query.environment ?? .paper
        let id = BrokerConnection.id(user: query.userID, brokerID: query.brokerID, environment: environment)
        do {
            return try await BrokerConnectionsProjection.view(id, for: query.userID, in: context.readModels)
        } catch let error as DomainError where error.code == .notFound {
            // The id is derived: name what the caller asked for instead.
            throw DomainError.notInReadModel(
                "user \(query.userID.lowercasedText) has no connection to broker \(query.brokerID) (\(environment.name))",
                reason: error.reason,
                facts: [
                    "user_id": query.userID.lowercasedText, "broker_id": query.brokerID,
                    "environment": environment.name,
                ])
        }
    }
}

extension BrokerConnectionsProjection {
    static func view(
        _ id: UUID, for user: UUID, in readModels: any ProjectionStore
    ) async throws -> BrokerConnectionView {
        let key = "id/\(id.key)"
        let view = try await readModels.read { try $0.message(BrokerConnectionView.self, in: collection, key: key) }
        guard let view else {
            throw DomainError.notInReadModel("broker connection", id, reason: "CONNECTION_NOT_FOUND")
        }
        try Rules.owner(view.userID, is: user, "broker connection", id, reason: "CONNECTION_NOT_OWNED")
        return view
    }
}

struct GetAccountsByUserHandler: QueryHandler {
    var projections: [String] { [BrokerAccountsProjection.name] }

    func handle(_ query: GetAccountsByUser, context: QueryContext) async throws -> BrokerAccountList {
        let prefix = "user/\(query.userID.key)/"
        let views = try await context.readModels.read {
            try $0.messages(BrokerAccountView.self, in: BrokerAccountsProjection.collection, prefix: prefix)
        }
        return BrokerAccountList(accounts: views.filter { query.includeUnlinked || $0.status != .unlinked })
    }
}

struct GetAccountsByConnectionHandler: QueryHandler {
    var projections: [String] { [BrokerAccountsProjection.name, BrokerConnectionsProjection.name] }

    /// A connection with no accounts yet lists none; one that does not exist (or is another
    /// user's) is NOT_FOUND (or PERMISSION_DENIED), not an empty list that reads as "no accounts".
    func handle(_ query: GetAccountsByConnection, context: QueryContext) async throws -> BrokerAccountList {
        let prefix = "connection/\(query.brokerConnectionID.key)/"
        let views = try await context.readModels.read {
            try $0.messages(BrokerAccountView.self, in: BrokerAccountsProjection.collection, prefix: prefix)
        }
        if let other = views.first(where: { $0.userID != query.userID }) {
            throw DomainError.notOwned(
                "broker connection", other.brokerConnectionID, reason: "CONNECTION_NOT_OWNED")
        }
        if views.isEmpty {
            _ = try await BrokerConnectionsProjection.view(
                query.brokerConnectionID, for: query.userID, in: context.readModels)
        }
        return BrokerAccountList(accounts: views.filter { query.includeUnlinked || $0.status != .unlinked })
    }
}

struct ListWorkingOrdersHandler: QueryHandler {
    var projections: [String] { [OrdersProjection.name] }

    func handle(_ query: ListWorkingOrders, context: QueryContext) async throws -> [WorkingOrder] {
        let prefix = OrdersProjection.workingPrefix(query.brokerID)
        return try await context.readModels.read { reader in
            try reader.entries(in: OrdersProjection.collection, prefix: prefix).map {
                try JSONDecoder().decode(WorkingOrder.self, from: $0.value)
            }
        }
    }
}
