import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `tradecore.broker.v1.InitiateBrokerConnectionResult`.
public struct InitiateBrokerConnectionResult: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `status`.
    public var status: BrokerConnectionStatus
    /// For OAuth: where to send the user to authorize.
    /// Field 3, `authorization_url`.
    public var authorizationURL: String
    /// For OAuth: the state CompleteOAuth must echo.
    /// Field 4, `oauth_state`.
    public var oauthState: String
    /// Field 5, `version`.
    public var version: UInt64
    /// Why the connection failed, when status is FAILED.
    /// Field 6, `status_reason`.
    public var statusReason: String
    /// The global log position of the command's last event; 0 when it changed nothing.
    /// Field 7, `position`.
    public var position: UInt64

    /// Creates the message.
    public init(
        brokerConnectionID: UUID,
        status: BrokerConnectionStatus,
        authorizationURL: String = "",
        oauthState: String = "",
        version: UInt64 = 0,
        statusReason: String = "",
        position: UInt64 = 0
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.status = status
        self.authorizationURL = authorizationURL
        self.oauthState = oauthState
        self.version = version
        self.statusReason = statusReason
        self.position = position
    }
}

extension InitiateBrokerConnectionResult: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            brokerConnectionID: .protoPlaceholder,
            status: .pending,
            authorizationURL: "",
            oauthState: "",
            version: 0,
            statusReason: "",
            position: 0)
    }

    public static let protoSchema = ProtoSchema<InitiateBrokerConnectionResult>(
        "tradecore.broker.v1.InitiateBrokerConnectionResult",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("status", 2, ProtoEnumCodec<BrokerConnectionStatus>.self, \.status),
            .field("authorization_url", 3, ProtoString.self, \.authorizationURL),
            .field("oauth_state", 4, ProtoString.self, \.oauthState),
            .field("version", 5, ProtoUInt64.self, \.version),
            .field("status_reason", 6, ProtoString.self, \.statusReason),
            .field("position", 7, ProtoUInt64.self, \.position),
        ])
}

/// The result of CompleteOAuth and DisconnectBroker.
public struct BrokerConnectionResult: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `status`.
    public var status: BrokerConnectionStatus
    /// Field 3, `version`.
    public var version: UInt64
    /// Field 4, `status_reason`.
    public var statusReason: String
    /// The global log position of the command's last event; 0 when it changed nothing.
    /// Field 5, `position`.
    public var position: UInt64

    /// Creates the message.
    public init(
        brokerConnectionID: UUID,
        status: BrokerConnectionStatus,
        version: UInt64 = 0,
        statusReason: String = "",
        position: UInt64 = 0
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.status = status
        self.version = version
        self.statusReason = statusReason
        self.position = position
    }
}

extension BrokerConnectionResult: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        self.init(
            brokerConnectionID: .protoPlaceholder,
            status: .pending,
            version: 0,
            statusReason: "",
            position: 0)
    }

    public static let protoSchema = ProtoSchema<BrokerConnectionResult>(
        "tradecore.broker.v1.BrokerConnectionResult",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("status", 2, ProtoEnumCodec<BrokerConnectionStatus>.self, \.status),
            .field("version", 3, ProtoUInt64.self, \.version),
            .field("status_reason", 4, ProtoString.self, \.statusReason),
            .field("position", 5, ProtoUInt64.self, \.position),
        ])
}
