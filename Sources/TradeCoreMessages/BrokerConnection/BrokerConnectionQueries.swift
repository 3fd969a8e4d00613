import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `tradecore.broker.v1.GetBrokerConnection`.
public struct GetBrokerConnection: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Wait until the read model has reached this log position.
    /// Field 3, `min_position`.
    public var minPosition: UInt64

    /// Creates the message.
    public init(
        brokerConnectionID: UUID,
        userID: UUID,
        minPosition: UInt64 = 0
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.userID = userID
        self.minPosition = minPosition
    }
}

extension GetBrokerConnection: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            brokerConnectionID: .protoPlaceholder,
            userID: .protoPlaceholder,
            minPosition: 0)
    }

    public static let protoSchema = ProtoSchema<GetBrokerConnection>(
        "tradecore.broker.v1.GetBrokerConnection",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("min_position", 3, ProtoUInt64.self, \.minPosition),
        ])
}

/// `tradecore.broker.v1.BrokerConnectionView`.
public struct BrokerConnectionView: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `broker_id`.
    public var brokerID: String
    /// Field 4, `environment`.
    public var environment: BrokerEnvironment
    /// Field 5, `api_endpoint_override`.
    public var apiEndpointOverride: String
    /// Field 6, `auth_method`.
    public var authMethod: AuthMethod
    /// Field 7, `status`.
    public var status: BrokerConnectionStatus
    /// Why it failed or was disconnected.
    /// Field 8, `status_reason`.
    public var statusReason: String
    /// Field 9, `connected_at`.
    public var connectedAt: Int64
    /// Field 10, `created_at`.
    public var createdAt: Int64
    /// Field 11, `updated_at`.
    public var updatedAt: Int64
    /// Field 12, `version`.
    public var version: UInt64

    /// Creates the message.
    public init(
        brokerConnectionID: UUID,
        userID: UUID,
        brokerID: String,
        environment: BrokerEnvironment,
        apiEndpointOverride: String = "",
        authMethod: AuthMethod,
        status: BrokerConnectionStatus,
        statusReason: String = "",
        connectedAt: Int64 = 0,
        createdAt: Int64,
        updatedAt: Int64,
        version: UInt64 = 0
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.userID = userID
        self.brokerID = brokerID
        self.environment = environment
        self.apiEndpointOverride = apiEndpointOverride
        self.authMethod = authMethod
        self.status = status
        self.statusReason = statusReason
        self.connectedAt = connectedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}

extension BrokerConnectionView: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            brokerConnectionID: .protoPlaceholder,
            userID: .protoPlaceholder,
            brokerID: "",
            environment: .paper,
            apiEndpointOverride: "",
            authMethod: .oauth,
            status: .pending,
            statusReason: "",
            connectedAt: 0,
            createdAt: 0,
            updatedAt: 0,
            version: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerConnectionView>(
        "tradecore.broker.v1.BrokerConnectionView",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("broker_id", 3, ProtoString.self, \.brokerID, required: true),
            .field("environment", 4, ProtoEnumCodec<BrokerEnvironment>.self, \.environment),
            .field("api_endpoint_override", 5, ProtoString.self, \.apiEndpointOverride),
            .field("auth_method", 6, ProtoEnumCodec<AuthMethod>.self, \.authMethod),
            .field("status", 7, ProtoEnumCodec<BrokerConnectionStatus>.self, \.status),
            .field("status_reason", 8, ProtoString.self, \.statusReason),
            .field("connected_at", 9, ProtoInt64.self, \.connectedAt),
            .field("created_at", 10, ProtoInt64.self, \.createdAt, required: true),
            .field("updated_at", 11, ProtoInt64.self, \.updatedAt, required: true),
            .field("version", 12, ProtoUInt64.self, \.version),
        ])
}

/// The connection of a user to a broker in an environment (there is at most one).
public struct FindBrokerConnection: Sendable, Hashable {
    /// Field 1, `user_id`.
    public var userID: UUID
    /// Field 2, `broker_id`.
    public var brokerID: String
    /// Absent: PAPER.
    /// Field 3, `environment`.
    public var environment: BrokerEnvironment?
    /// Field 4, `min_position`.
    public var minPosition: UInt64

    /// Creates the message.
    public init(userID: UUID, brokerID: String, environment: BrokerEnvironment? = nil, minPosition: UInt64 = 0) {
        self.userID = userID
        self.brokerID = brokerID
        self.environment = environment
        self.minPosition = minPosition
    }
}

extension FindBrokerConnection: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(userID: .protoPlaceholder, brokerID: "")
    }

    public static let protoSchema = ProtoSchema<FindBrokerConnection>(
        "tradecore.broker.v1.FindBrokerConnection",
        [
            .field("user_id", 1, ProtoUUID.self, \.userID),
            .field("broker_id", 2, ProtoString.self, \.brokerID, required: true),
            .field("environment", 3, ProtoEnumCodec<BrokerEnvironment>.self, \.environment),
            .field("min_position", 4, ProtoUInt64.self, \.minPosition),
        ])
}
