import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The result of every order command.
public struct OrderResult: Sendable, Hashable {
    /// Field 1, `order_id`.
    public var orderID: UUID
    /// Field 2, `status`.
    public var status: OrderStatus
    /// The order stream's version after the command (0 for the first event).
    /// Field 3, `version`.
    public var version: UInt64
    /// The global log position of the command's last event; 0 when it changed nothing.
    /// Field 4, `position`.
    public var position: UInt64

    /// Creates the message.
    public init(
        orderID: UUID,
        status: OrderStatus,
        version: UInt64 = 0,
        position: UInt64 = 0
    ) {
        self.orderID = orderID
        self.status = status
        self.version = version
        self.position = position
    }
}

extension OrderResult: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            orderID: .protoPlaceholder,
            status: .pending,
            version: 0,
            position: 0)
    }

    public static let protoSchema = ProtoSchema<OrderResult>(
        "tradecore.order.v1.OrderResult",
        [
            .field("order_id", 1, ProtoUUID.self, \.orderID),
            .field("status", 2, ProtoEnumCodec<OrderStatus>.self, \.status),
            .field("version", 3, ProtoUInt64.self, \.version),
            .field("position", 4, ProtoUInt64.self, \.position),
        ])
}
