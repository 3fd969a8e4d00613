import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Connects the user to a broker, or resets a disconnected connection of the same user, broker
/// and environment. At most one connection exists per (user, broker, environment).
public struct InitiateBrokerConnection: Sendable, Hashable {
    /// Field 1, `user_id`.
    public var userID: UUID
    /// The broker's id, e.g. "alpaca"; "virtual" is the built-in paper broker.
    /// Field 2, `broker_id`.
    public var brokerID: String
    /// Absent: PAPER.
    /// Field 3, `environment`.
    public var environment: BrokerEnvironment?
    /// Field 4, `api_endpoint_override`.
    public var apiEndpointOverride: String
    /// Absent: the broker's default.
    /// Field 5, `auth_method`.
    public var authMethod: AuthMethod?
    /// With AUTH_METHOD_API_KEY.
    /// Field 6, `api_key_credentials`.
    public var apiKeyCredentials: ApiKeyCredentials?
    /// With AUTH_METHOD_OAUTH: where the broker sends the user back.
    /// Field 7, `oauth_redirect_uri`.
    public var oauthRedirectURI: String
    /// Field 8, `saga_id`.
    public var sagaID: UUID?

    /// Creates the command.
    public init(
        userID: UUID,
        brokerID: String,
        environment: BrokerEnvironment? = nil,
        apiEndpointOverride: String = "",
        authMethod: AuthMethod? = nil,
        apiKeyCredentials: ApiKeyCredentials? = nil,
        oauthRedirectURI: String = "",
        sagaID: UUID? = nil
    ) {
        self.userID = userID
        self.brokerID = brokerID
        self.environment = environment
        self.apiEndpointOverride = apiEndpointOverride
        self.authMethod = authMethod
        self.apiKeyCredentials = apiKeyCredentials
        self.oauthRedirectURI = oauthRedirectURI
        self.sagaID = sagaID
    }
}

extension InitiateBrokerConnection: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        userID = .protoPlaceholder
        brokerID = ""
        environment = nil
        apiEndpointOverride = ""
        authMethod = nil
        apiKeyCredentials = nil
        oauthRedirectURI = ""
        sagaID = nil
    }

    public static let protoSchema = ProtoSchema<InitiateBrokerConnection>(
        "tradecore.broker.v1.InitiateBrokerConnection",
        [
            .field("user_id", 1, ProtoUUID.self, \.userID),
            .field("broker_id", 2, ProtoString.self, \.brokerID, required: true),
            .field("environment", 3, ProtoEnumCodec<BrokerEnvironment>.self, \.environment),
            .field("api_endpoint_override", 4, ProtoString.self, \.apiEndpointOverride),
            .field("auth_method", 5, ProtoEnumCodec<AuthMethod>.self, \.authMethod),
            .field("api_key_credentials", 6, ProtoMessageCodec<ApiKeyCredentials>.self, \.apiKeyCredentials),
            .field("oauth_redirect_uri", 7, ProtoString.self, \.oauthRedirectURI),
            .field("saga_id", 8, ProtoUUID.self, \.sagaID),
        ])
}

/// Finishes an OAuth flow with the code the broker gave the user.
public struct CompleteOAuth: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// A secret: exchanged for tokens, never stored in an event.
    /// Field 3, `authorization_code`.
    public var authorizationCode: String
    /// The state returned by InitiateBrokerConnection, echoed by the broker.
    /// Field 4, `state`.
    public var state: String
    /// Field 5, `saga_id`.
    public var sagaID: UUID?
    /// The aggregate's version the caller read; if it has moved on, the call fails with ABORTED.
    /// Field 6, `expected_version`.
    public var expectedVersion: UInt64?

    /// Creates the command.
    public init(
        brokerConnectionID: UUID,
        userID: UUID,
        authorizationCode: String,
        state: String,
        sagaID: UUID? = nil,
        expectedVersion: UInt64? = nil
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.userID = userID
        self.authorizationCode = authorizationCode
        self.state = state
        self.sagaID = sagaID
        self.expectedVersion = expectedVersion
    }
}

extension CompleteOAuth: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        brokerConnectionID = .protoPlaceholder
        userID = .protoPlaceholder
        authorizationCode = ""
        state = ""
        sagaID = nil
        expectedVersion = nil
    }

    public static let protoSchema = ProtoSchema<CompleteOAuth>(
        "tradecore.broker.v1.CompleteOAuth",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("authorization_code", 3, ProtoString.self, \.authorizationCode, required: true),
            .field("state", 4, ProtoString.self, \.state, required: true),
            .field("saga_id", 5, ProtoUUID.self, \.sagaID),
            .optional("expected_version", 6, ProtoUInt64.self, \.expectedVersion),
        ])
}

/// `tradecore.broker.v1.DisconnectBroker`.
public struct DisconnectBroker: Sendable, Hashable {
    /// Field 1, `broker_connection_id`.
    public var brokerConnectionID: UUID
    /// Field 2, `user_id`.
    public var userID: UUID
    /// Field 3, `reason`.
    public var reason: String
    /// Field 4, `saga_id`.
    public var sagaID: UUID?
    /// The aggregate's version the caller read; if it has moved on, the call fails with ABORTED.
    /// Field 5, `expected_version`.
    public var expectedVersion: UInt64?

    /// Creates the command.
    public init(
        brokerConnectionID: UUID,
        userID: UUID,
        reason: String = "",
        sagaID: UUID? = nil,
        expectedVersion: UInt64? = nil
    ) {
        self.brokerConnectionID = brokerConnectionID
        self.userID = userID
        self.reason = reason
        self.sagaID = sagaID
        self.expectedVersion = expectedVersion
    }
}

extension DisconnectBroker: ProtoSchemaMessage {
    public init(protoPlaceholder placeholder: ProtoPlaceholder) {
        brokerConnectionID = .protoPlaceholder
        userID = .protoPlaceholder
        reason = ""
        sagaID = nil
        expectedVersion = nil
    }

    public static let protoSchema = ProtoSchema<DisconnectBroker>(
        "tradecore.broker.v1.DisconnectBroker",
        [
            .field("broker_connection_id", 1, ProtoUUID.self, \.brokerConnectionID),
            .field("user_id", 2, ProtoUUID.self, \.userID),
            .field("reason", 3, ProtoString.self, \.reason),
            .field("saga_id", 4, ProtoUUID.self, \.sagaID),
            .optional("expected_version", 5, ProtoUInt64.self, \.expectedVersion),
        ])
}
