import EventSourcing
import Foundation
import HashTreeCollections
import TradeCoreMessages
import WireFormat

/// The events of an order, each a message of `Schemas/order.proto`.
public enum OrderEvent: DomainEvents, Hashable {
    case created(OrderCreated)
    case placed(OrderPlaced)
    case fillAdded(FillAdded)
    case filled(OrderFilled)
    case updated(OrderUpdated)
    case cancelled(OrderCancelled)
    case rejected(OrderRejected)
    case deleted(OrderDeleted)

    public init?(message: any ProtoSchemaMessage) {
        switch message {
        case let event as OrderCreated: self = .created(event)
        case let event as OrderPlaced: self = .placed(event)
        case let event as FillAdded: self = .fillAdded(event)
        case let event as OrderFilled: self = .filled(event)
        case let event as OrderUpdated: self = .updated(event)
        case let event as OrderCancelled: self = .cancelled(event)
        case let event as OrderRejected: self = .rejected(event)
        case let event as OrderDeleted: self = .deleted(event)
        default: return nil
        }
    }

    public var message: any ProtoSchemaMessage {
        switch self {
        case .created(let event): event
        case .placed(let event): event
        case .fillAdded(let event): event
        case .filled(let event): event
        case .updated(let event): event
        case .cancelled(let event): event
        case .rejected(let event): event
        case .deleted(let event): event
        }
    }
}

/// An order: what the user asked to trade, through which account, and how far it has got.
///
/// The business rules are in `Order+Rules.swift`; this is the state they decide on, folded from the
/// events.
public struct Order: Aggregate {
    public static let streamType = "order"
    public static let eventCodec = ProtoEventCodec<OrderEvent>()

    /// Fraction digits of the average fill price: the filled notional divided by the filled
    /// quantity, rounded half to even. Eight places keep a cent-priced stock exact to the share and
    /// a crypto pair to its usual precision.
    public static let averagePriceScale = 8

    public let id: UUID
    /// Whether the order was created.
    public private(set) var exists = false
    public private(set) var userID = UUID.none
    public private(set) var accountID = UUID.none
    public private(set) var automationID: UUID?
    public private(set) var symbol = ""
    public private(set) var side = OrderSide.buy
    public private(set) var quantity = ExactDecimal.zero
    public private(set) var orderType = OrderType.market
    public private(set) var limitPrice: ExactDecimal?
    public private(set) var stopPrice: ExactDecimal?
    public private(set) var timeInForce = TimeInForce.day
    public private(set) var autoSubmit = false
    /// When it was created (Unix nanoseconds).
    public private(set) var createdAt: Int64 = 0
    public private(set) var status = OrderStatus.pending
    /// Why it was cancelled or rejected.
    public private(set) var statusReason = ""
    public private(set) var brokerOrderID: String?
    /// The sum of the fills' quantities.
    public private(set) var filledQuantity = ExactDecimal.zero
    /// The sum of quantity × price over the fills, exact.
    public private(set) var filledNotional = ExactDecimal.zero
    /// The terms of each fill recorded, by fill id, so a fill reported twice is recorded once and
    /// one reported again with other terms is told apart. A persistent map: a command works on a
    /// copy of the cached order, and adding to a copy shares all but one path of the tree instead
    /// of copying every fill, which would make each fill cost as much as all before it.
    public private(set) var fills: TreeDictionary<UUID, FillTerms> = [:]

    /// What a fill traded: its quantity at its price.
    public struct FillTerms: Sendable, Hashable {
        public var quantity: ExactDecimal
        public var price: ExactDecimal
    }

    public init(id: UUID) {
        self.id = id
    }

    /// The average fill price so far, `nil` before the first fill.
    public var averageFillPrice: ExactDecimal? {
        guard filledQuantity > .zero else { return nil }
        return filledNotional.divided(by: filledQuantity, scale: Self.averagePriceScale)
    }

    /// What is left to fill.
    public var remainingQuantity: ExactDecimal { quantity.subtracting(filledQuantity) ?? .zero }

    /// Whether the order can still trade: pending, placed or partially filled.
    public var isWorking: Bool { [.pending, .placed, .partiallyFilled].contains(status) }

    public mutating func apply(_ event: OrderEvent) {
        switch event {
        case .created(let created):
            exists = true
            userID = created.userID
            accountID = created.accountID
            automationID = created.automationID
            symbol = created.symbol
            side = created.side
            quantity = created.quantity
            orderType = created.orderType
            limitPrice = created.limitPrice
            stopPrice = created.stopPrice
            timeInForce = created.timeInForce
            autoSubmit = created.autoSubmit
            createdAt = created.createdAt
            status = .pending
        case .placed(let placed):
            status = .placed
            brokerOrderID = placed.brokerOrderID
        case .fillAdded(let fill):
            fills[fill.fillID] = FillTerms(quantity: fill.quantity, price: fill.price)
            filledQuantity = fill.filledQuantity
            // Folding the product keeps the notional exact; the event's average is rounded.
            if let product = fill.quantity.multiplied(by: fill.price), let sum = filledNotional.adding(product) {
                filledNotional = sum
            }
            status = fill.status
        case .filled:
            status = .filled
        case .updated(let updated):
            if let value = updated.quantity { quantity = value }
            if let value = updated.limitPrice { limitPrice = value }
            if let value = updated.stopPrice { stopPrice = value }
            if let value = updated.timeInForce { timeInForce = value }
        case .cancelled(let cancelled):
            status = .cancelled
            statusReason = cancelled.reason
        case .rejected(let rejected):
            status = .rejected
            statusReason = rejected.reason
        case .deleted:
            status = .deleted
        }
    }
}

extension AggregateRoot where State == Order {
    /// The result every order command returns.
    public var result: OrderResult {
        OrderResult(orderID: id, status: state.status, version: UInt64(version ?? 0))
    }
}
