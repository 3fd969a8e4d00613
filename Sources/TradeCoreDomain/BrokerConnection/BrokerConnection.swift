import EventSourcing
import EventStore
import Foundation
import TradeCoreMessages
import WireFormat

/// The events of a broker connection, each a message of `Schemas/broker_connection.proto`.
public enum BrokerConnectionEvent: DomainEvents, Hashable {
    case initiated(BrokerConnectionInitiated)
    case reset(BrokerConnectionReset)
    case oauthStarted(BrokerOAuthStarted)
    case credentialsStored(BrokerCredentialsStored)
    case established(BrokerConnectionEstablished)
    case failed(BrokerConnectionFailed)
    case disconnected(BrokerDisconnected)
    case accountsSynced(BrokerAccountsSynced)

    public init?(message: any ProtoSchemaMessage) {
        switch message {
        case let event as BrokerConnectionInitiated: self = .initiated(event)
        case let event as BrokerConnectionReset: self = .reset(event)
        case let event as BrokerOAuthStarted: self = .oauthStarted(event)
        case let event as BrokerCredentialsStored: self = .credentialsStored(event)
        case let event as BrokerConnectionEstablished: self = .established(event)
        case let event as BrokerConnectionFailed: self = .failed(event)
        case let event as BrokerDisconnected: self = .disconnected(event)
        case let event as BrokerAccountsSynced: self = .accountsSynced(event)
        default: return nil
        }
    }

    public var message: any ProtoSchemaMessage {
        switch self {
        case .initiated(let event): event
        case .reset(let event): event
        case .oauthStarted(let event): event
        case .credentialsStored(let event): event
        case .established(let event): event
        case .failed(let event): event
        case .disconnected(let event): event
        case .accountsSynced(let event): event
        }
    }
}

/// A user's connection to a broker in one environment.
///
/// There is at most one per (user, broker, environment), and the event store itself enforces it:
/// the connection's id derives from that key (``BrokerConnection/id(user:brokerID:environment:)``)
/// and a new connection is appended expecting no stream, so two initiations that race create one.
public struct BrokerConnection: Aggregate {
    public static let streamType = "broker_connection"
    public static let eventCodec = ProtoEventCodec<BrokerConnectionEvent>()

    /// How long an OAuth state is accepted after the flow starts.
    public static let oauthStateLifetime = Duration.seconds(600)
    /// Where the broker sends the user back when the command names no redirect URI: the
    /// out-of-band URI, for a user who pastes the code back.
    public static let outOfBandRedirectURI = "urn:ietf:wg:oauth:2.0:oob"

    static let idNamespace = UUID(
        uuid: (0x91, 0x0E, 0x4B, 0x62, 0x3D, 0x7F, 0x48, 0x25, 0xB1, 0x9C, 0x06, 0xE4, 0x52, 0x8A, 0xF3, 0x17))

    /// The id of the connection of `user` to `brokerID` in `environment`.
    public static func id(user: UUID, brokerID: String, environment: BrokerEnvironment) -> UUID {
        NameBasedUUID.make(namespace: idNamespace, name: "\(user.lowercasedText)/\(brokerID)/\(environment.rawValue)")
    }

    /// The key of the lock that serialises initiating and completing this connection.
    public static func lockKey(user: UUID, brokerID: String, environment: BrokerEnvironment) -> String {
        "broker_connection/\(user.lowercasedText)/\(brokerID)/\(environment.rawValue)"
    }

    /// Where the vault keeps the connection's credentials.
    public static func credentialsReference(_ id: UUID) -> String { "broker_connection/\(id.lowercasedText)" }

    public let id: UUID
    public private(set) var exists = false
    public private(set) var userID = UUID.none
    public private(set) var brokerID = ""
    public private(set) var environment = BrokerEnvironment.paper
    public private(set) var apiEndpointOverride = ""
    public private(set) var authMethod = AuthMethod.oauth
    public private(set) var status = BrokerConnectionStatus.pending
    /// Why it failed or was disconnected.
    public private(set) var statusReason = ""
    public private(set) var oauthStateDigest: [UInt8] = []
    public private(set) var oauthRedirectURI = ""
    public private(set) var oauthExpiresAt: Int64 = 0
    public private(set) var credentialsReference = ""
    public private(set) var accountIDs: [UUID] = []

    public init(id: UUID) {
        self.id = id
    }

    public mutating func apply(_ event: BrokerConnectionEvent) {
        switch event {
        case .initiated(let initiated):
            exists = true
            userID = initiated.userID
            brokerID = initiated.brokerID
            environment = initiated.environment
            apiEndpointOverride = initiated.apiEndpointOverride
            authMethod = initiated.authMethod
            status = .pending
        case .reset:
            status = .pending
            statusReason = ""
            oauthStateDigest = []
        case .oauthStarted(let started):
            authMethod = .oauth
            status = .awaitingOAuth
            oauthStateDigest = started.oauthStateSHA256
            oauthRedirectURI = started.redirectURI
            oauthExpiresAt = started.expiresAt
        case .credentialsStored(let stored):
            authMethod = stored.authMethod
            credentialsReference = stored.credentialsRef
            // The state did its one job.
            oauthStateDigest = []
        case .established:
            status = .connected
            statusReason = ""
        case .failed(let failed):
            status = .failed
            statusReason = failed.reason
            oauthStateDigest = []
        case .disconnected(let disconnected):
            status = .disconnected
            statusReason = disconnected.reason
            oauthStateDigest = []
        case .accountsSynced(let synced):
            accountIDs = synced.accountIDs
        }
    }
}

extension AggregateRoot where State == BrokerConnection {
    /// Phase one of InitiateBrokerConnection: creates the connection, or gets an existing one ready
    /// to authenticate again; returns the authentication method to use.
    ///
    /// - The broker must be one this server knows (`broker`).
    /// - OAuth takes no API credentials; API_KEY needs them (a key, and a secret of at most 256
    ///   characters). The method defaults to the broker's.
    /// - An endpoint override is an `https://` URL; a redirect URI is a URL or the out-of-band URI.
    /// - A connected connection is not initiated again (ALREADY_EXISTS: disconnect it first); a
    ///   failed or disconnected one is reset; a pending one, or one waiting for OAuth, starts its
    ///   authentication over.
    public mutating func initiate(
        _ command: InitiateBrokerConnection, broker: (any BrokerAdapter)?, knownBrokers: [String], now: Int64
    ) throws(DomainError) -> AuthMethod {
        guard let broker else {
            throw DomainError(
                .invalidArgument, reason: "UNKNOWN_BROKER",
                "this server does not know broker \"\(command.brokerID)\" (it knows \(knownBrokers.joined(separator: ", ")))",
                fieldViolations: [.init(field: "broker_id", description: "unknown broker \"\(command.brokerID)\"")])
        }
        let method = command.authMethod ?? broker.defaultAuthMethod
        switch method {
        case .apiKey:
            guard let credentials = command.apiKeyCredentials else {
                throw .invalid("api_key_credentials", "API_KEY authentication needs API credentials")
            }
            try Rules.text(credentials.apiKey, field: "api_key_credentials.api_key", maxLength: 256, required: true)
            try Rules.text(credentials.apiSecret, field: "api_key_credentials.api_secret", maxLength: 256)
        case .oauth:
            guard command.apiKeyCredentials == nil else {
                throw .invalid("api_key_credentials", "OAuth authentication takes no API credentials")
            }
        }
        if !command.apiEndpointOverride.isEmpty {
            try Rules.text(command.apiEndpointOverride, field: "api_endpoint_override", maxLength: 256)
            guard command.apiEndpointOverride.hasPrefix("https://") else {
                throw .invalid("api_endpoint_override", "must be an https:// URL")
            }
        }
        if !command.oauthRedirectURI.isEmpty {
            try Rules.text(command.oauthRedirectURI, field: "oauth_redirect_uri", maxLength: 512)
            guard command.oauthRedirectURI.contains(":") else {
                throw .invalid("oauth_redirect_uri", "must be a URL")
            }
        }
        if state.exists {
            try Rules.owner(state.userID, is: command.userID, "broker connection", id, reason: "CONNECTION_NOT_OWNED")
            switch state.status {
            case .connected:
                throw DomainError(
                    .alreadyExists, reason: "CONNECTION_EXISTS",
                    "the connection to \(state.brokerID) (\(state.environment.name)) is connected already; "
                        + "disconnect it first", facts: ["broker_connection": id.lowercasedText])
            case .failed, .disconnected:
                emit(.reset(BrokerConnectionReset(brokerConnectionID: id, resetAt: now)))
            case .pending, .awaitingOAuth:
                break
            }
        } else {
            emit(
                .initiated(
                    BrokerConnectionInitiated(
                        brokerConnectionID: id, userID: command.userID, brokerID: command.brokerID,
                        environment: command.environment ?? .paper, apiEndpointOverride: command.apiEndpointOverride,
                        authMethod: method, initiatedAt: now)))
        }
        return method
    }

    /// Starts an OAuth flow: the connection waits for the callback whose state has this digest,
    /// until `now` + ``BrokerConnection/oauthStateLifetime``.
    public mutating func startOAuth(stateDigest: [UInt8], redirectURI: String, now: Int64) {
        emit(
            .oauthStarted(
                BrokerOAuthStarted(
                    brokerConnectionID: id, oauthStateSHA256: stateDigest, redirectURI: redirectURI, startedAt: now,
                    expiresAt: now + BrokerConnection.oauthStateLifetime.nanoseconds)))
    }

    /// Checks an OAuth callback before the code is exchanged: the connection is the user's, is
    /// waiting for OAuth, the state is the one its flow started with (single use) and has not expired,
    /// and there is a code.
    public func checkOAuthCallback(_ command: CompleteOAuth, now: Int64) throws(DomainError) {
        try requireOwned(by: command.userID)
        guard state.status == .awaitingOAuth else {
            throw .wrongState(
                "NOT_AWAITING_OAUTH",
                "the connection is \(state.status.name), not waiting for an OAuth callback (initiate it again)",
                facts: ["status": state.status.name])
        }
        try Rules.text(command.authorizationCode, field: "authorization_code", maxLength: 2048, required: true)
        guard ServerSecrets.matches(command.state, digest: state.oauthStateDigest) else {
            throw .invalid(
                "state", "is not the state of the OAuth flow this connection started", reason: "OAUTH_STATE_MISMATCH")
        }
        guard now < state.oauthExpiresAt else {
            throw .wrongState(
                "OAUTH_STATE_EXPIRED", "the OAuth flow expired; initiate the connection again",
                facts: ["expired_at": "\(state.oauthExpiresAt)"])
        }
    }

    /// Records credentials kept in the vault and the connection established.
    public mutating func connect(credentials: BrokerCredentials, reference: String, now: Int64) {
        emit(
            .credentialsStored(
                BrokerCredentialsStored(
                    brokerConnectionID: id, authMethod: credentials.method, credentialsRef: reference,
                    expiresAt: credentials.expiresAt ?? 0, storedAt: now)))
        emit(.established(BrokerConnectionEstablished(brokerConnectionID: id, connectedAt: now)))
    }

    /// Records that authentication failed, saying why.
    public mutating func fail(reason: String, now: Int64) {
        let text = reason.isEmpty ? "the broker refused the connection" : String(reason.prefix(Rules.maxTextLength))
        emit(.failed(BrokerConnectionFailed(brokerConnectionID: id, reason: text, failedAt: now)))
    }

    /// Disconnects the connection, whatever it is doing, unless it is disconnected already.
    public mutating func disconnect(reason: String, user: UUID, now: Int64) throws(DomainError) {
        try requireOwned(by: user)
        try Rules.text(reason, field: "reason")
        guard state.status != .disconnected else {
            throw .wrongState("CONNECTION_DISCONNECTED", "the connection is disconnected already")
        }
        emit(.disconnected(BrokerDisconnected(brokerConnectionID: id, reason: reason, disconnectedAt: now)))
    }

    /// The connection is the user's and connected: its credentials may be used.
    public func requireConnected(by user: UUID) throws(DomainError) {
        try requireOwned(by: user)
        guard state.status == .connected else {
            throw .wrongState(
                "CONNECTION_NOT_CONNECTED",
                "the connection to \(state.brokerID) is \(state.status.name), not connected",
                facts: ["status": state.status.name])
        }
    }

    /// Records the accounts linked for the connection.
    public mutating func recordAccountsSynced(_ accountIDs: [UUID], user: UUID, now: Int64) throws(DomainError) {
        try requireConnected(by: user)
        emit(.accountsSynced(BrokerAccountsSynced(brokerConnectionID: id, accountIDs: accountIDs, syncedAt: now)))
    }

    /// The connection exists and is the user's.
    public func requireOwned(by user: UUID) throws(DomainError) {
        guard state.exists else { throw .notFound("broker connection", id, reason: "CONNECTION_NOT_FOUND") }
        try Rules.owner(state.userID, is: user, "broker connection", id, reason: "CONNECTION_NOT_OWNED")
    }

    /// The result of CompleteOAuth and DisconnectBroker.
    public var result: BrokerConnectionResult {
        BrokerConnectionResult(
            brokerConnectionID: id, status: state.status, version: UInt64(version ?? 0),
            statusReason: state.status == .failed ? state.statusReason : "")
    }
}

extension BrokerConnectionStatus {
    /// The name people use.
    public var name: String {
        switch self {
        case .pending: "pending"
        case .awaitingOAuth: "waiting for OAuth"
        case .connected: "connected"
        case .failed: "failed"
        case .disconnected: "disconnected"
        }
    }
}

extension BrokerEnvironment {
    /// The name people use.
    public var name: String { self == .live ? "live" : "paper" }
}
