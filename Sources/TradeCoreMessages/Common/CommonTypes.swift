import WireFormat

/// Which way an order trades.
public enum OrderSide: Int32, ProtoEnum {
    /// `ORDER_SIDE_BUY`.
    case buy = 1
    /// `ORDER_SIDE_SELL`.
    case sell = 2

    public static var protoEnumName: String { "tradecore.common.v1.OrderSide" }
}

/// How an order is priced.
public enum OrderType: Int32, ProtoEnum {
    /// `ORDER_TYPE_MARKET`.
    case market = 1
    /// Needs a limit price.
    case limit = 2
    /// Needs a stop price.
    case stop = 3
    /// Needs a limit price and a stop price.
    case stopLimit = 4

    public static var protoEnumName: String { "tradecore.common.v1.OrderType" }
}

/// How long an order stays working.
public enum TimeInForce: Int32, ProtoEnum {
    /// `TIME_IN_FORCE_DAY`.
    case day = 1
    /// `TIME_IN_FORCE_GOOD_TILL_CANCELLED`.
    case goodTillCancelled = 2
    /// `TIME_IN_FORCE_IMMEDIATE_OR_CANCEL`.
    case immediateOrCancel = 3
    /// `TIME_IN_FORCE_FILL_OR_KILL`.
    case fillOrKill = 4

    public static var protoEnumName: String { "tradecore.common.v1.TimeInForce" }
}

/// What kind of instrument an automation trades.
public enum AssetType: Int32, ProtoEnum {
    /// `ASSET_TYPE_STOCK`.
    case stock = 1
    /// `ASSET_TYPE_OPTION`.
    case option = 2
    /// `ASSET_TYPE_FUTURE`.
    case future = 3
    /// `ASSET_TYPE_CRYPTO`.
    case crypto = 4

    public static var protoEnumName: String { "tradecore.common.v1.AssetType" }
}

/// The detail of a failed call, carried in the trailer `tradecore-error-details-bin`
/// (binary metadata: the serialized message, base64 on the wire as gRPC requires).
public struct ErrorDetails: Sendable, Hashable {
    /// A stable machine-readable reason, e.g. "VERSION_CONFLICT", "ORDER_NOT_FOUND".
    /// Field 1, `reason`.
    public internal(set) var reason: String
    /// For INVALID_ARGUMENT: what was wrong with which field of the request.
    /// Field 2, `field_violations`.
    public internal(set) var fieldViolations: [FieldViolation]
    /// For ABORTED after a version conflict: the stream's current version.
    /// Field 3, `current_version`.
    public internal(set) var currentVersion: UInt64?
    /// The stream the failure concerns, when there is one.
    /// Field 4, `stream`.
    public internal(set) var stream: String
    /// Anything else worth knowing, by name.
    /// Field 5, `metadata`.
    public internal(set) var metadata: [String: String]

    /// Creates the message.
    public init(
        reason: String = "",
        fieldViolations: [FieldViolation] = [],
        currentVersion: UInt64? = nil,
        stream: String = "",
        metadata: [String: String] = [:]
    ) {
        self.reason = reason
        self.fieldViolations = fieldViolations
        self.currentVersion = currentVersion
        self.stream = stream
        self.metadata = metadata
    }
}

extension ErrorDetails: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            reason: "",
            fieldViolations: [],
            currentVersion: nil,
            stream: "",
            metadata: [:])
    }

    public static let protoSchema = ProtoSchema<ErrorDetails>(
        "tradecore.common.v1.ErrorDetails",
        [
            .field("reason", 1, ProtoString.self, \.reason),
            .repeated("field_violations", 2, ProtoMessageCodec<FieldViolation>.self, \.fieldViolations),
            .optional("current_version", 3, ProtoUInt64.self, \.currentVersion),
            .field("stream", 4, ProtoString.self, \.stream),
            .map("metadata", 5, ProtoString.self, ProtoString.self, \.metadata),
        ])
}

/// One invalid field of a request.
public struct FieldViolation: Sendable, Hashable {
    /// The field's path in the request, e.g. "stop_loss.value".
    /// Field 1, `field`.
    public internal(set) var field: String
    /// What is wrong with it.
    /// Field 2, `description`.
    public internal(set) var description: String

    /// Creates the message.
    public init(
        field: String,
        description: String
    ) {
        self.field = field
        self.description = description
    }
}

extension FieldViolation: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            field: "",
            description: "")
    }

    public static let protoSchema = ProtoSchema<FieldViolation>(
        "tradecore.common.v1.FieldViolation",
        [
            .field("field", 1, ProtoString.self, \.field, required: true),
            .field("description", 2, ProtoString.self, \.description, required: true),
        ])
}
