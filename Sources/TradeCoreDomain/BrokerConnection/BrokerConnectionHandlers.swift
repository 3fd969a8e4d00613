import EventSourcing
import EventStore
import Foundation
import TradeCoreMessages

/// The seed's two-phase InitiateBrokerConnection, as one atomic write.
///
/// Under the lock on (user, broker, environment) — 60 s to live, waiting at most 30 s, held across
/// the call to the broker and released after the commit — phase one creates the connection (or
/// resets it) and phase two authenticates: an OAuth flow is started (its state derived from the
/// connection and this command, only its digest recorded), or the API credentials are checked with
/// the broker and kept in the vault. Both phases' events are appended together, fenced by the lease.
struct InitiateBrokerConnectionHandler: CommandHandler {
    static let lockTTL = Duration.seconds(60)
    static let lockWait = Duration.seconds(30)

    func handle(
        _ command: InitiateBrokerConnection, context: CommandContext
    ) async throws -> InitiateBrokerConnectionResult {
        let domain = try context.domain
        let environment = command.environment ?? .paper
        let lease = try await context.lock(
            BrokerConnection.lockKey(user: command.userID, brokerID: command.brokerID, environment: environment),
            ttl: Self.lockTTL, timeout: Self.lockWait)
        let id = BrokerConnection.id(user: command.userID, brokerID: command.brokerID, environment: environment)
        var connection = try await context.loadIfPresent(BrokerConnection.self, id: id) ?? AggregateRoot(id: id)
        let adapter = domain.brokers.adapter(for: command.brokerID)
        let method = try connection.initiate(
            command, broker: adapter, knownBrokers: domain.brokers.brokerIDs, now: context.now)
        guard let adapter else { throw DomainError.invalid("broker_id", "unknown broker") }
        switch method {
        case .oauth:
            let challenge = OAuthChallenge(
                command: command, connectionID: id, commandID: context.commandID, adapter: adapter,
                secrets: domain.secrets)
            connection.startOAuth(
                stateDigest: ServerSecrets.digest(challenge.state), redirectURI: challenge.redirectURI,
                now: context.now)
        case .apiKey:
            let key = command.apiKeyCredentials?.apiKey ?? ""
            let secret = command.apiKeyCredentials?.apiSecret ?? ""
            let verified: BrokerCredentials?
            do throws(BrokerError) {
                verified = try await adapter.verifyAPIKey(key, secret: secret, environment: environment)
            } catch {
                verified = nil
                connection.fail(reason: error.message, now: context.now)
            }
            if let verified {
                let reference = BrokerConnection.credentialsReference(id)
                try await domain.vault.store(verified, reference: reference)
                connection.connect(credentials: verified, reference: reference, now: context.now)
            }
        }
        try context.save(connection, fencedBy: lease)
        return InitiateBrokerConnectionResult(
            brokerConnectionID: id, status: connection.status, version: UInt64(connection.version ?? 0),
            statusReason: connection.status == .failed ? connection.statusReason : "")
    }
}

/// What a user needs to authorize a connection through OAuth: the URL to visit and the state the
/// broker echoes back. Both derive from the connection and the command that started the flow, so
/// the handler (which records the state's digest) and the API (which hands them to the caller,
/// also when a repeated command id is answered from its recorded outcome) compute the same, and
/// neither is ever stored.
public struct OAuthChallenge: Sendable {
    public let state: String
    public let redirectURI: String
    public let authorizationURL: String

    public init(
        command: InitiateBrokerConnection, connectionID: UUID, commandID: UUID, adapter: any BrokerAdapter,
        secrets: ServerSecrets
    ) {
        state = secrets.oauthState(connection: connectionID, command: commandID)
        redirectURI =
            command.oauthRedirectURI.isEmpty ? BrokerConnection.outOfBandRedirectURI : command.oauthRedirectURI
        authorizationURL = adapter.authorizationURL(
            state: state, redirectURI: redirectURI, environment: command.environment ?? .paper)
    }
}

/// Finishes an OAuth flow: under the connection's lock, checks the callback, exchanges the code
/// with the broker, keeps the tokens in the vault and records the connection established — or
/// records it failed when the broker refuses the code.
struct CompleteOAuthHandler: CommandHandler {
    func handle(_ command: CompleteOAuth, context: CommandContext) async throws -> BrokerConnectionResult {
        let domain = try context.domain
        var connection = try await context.connection(command.brokerConnectionID, command.expectedVersion)
        try connection.requireOwned(by: command.userID)
        let lease = try await context.lock(
            BrokerConnection.lockKey(
                user: connection.userID, brokerID: connection.brokerID, environment: connection.environment),
            ttl: InitiateBrokerConnectionHandler.lockTTL, timeout: InitiateBrokerConnectionHandler.lockWait)
        try connection.checkOAuthCallback(command, now: context.now)
        let adapter = try domain.adapter(for: connection.brokerID)
        let exchanged: BrokerCredentials?
        do throws(BrokerError) {
            exchanged = try await adapter.exchangeAuthorizationCode(
                command.authorizationCode, redirectURI: connection.oauthRedirectURI, environment: connection.environment
            )
        } catch {
            exchanged = nil
            connection.fail(reason: error.message, now: context.now)
        }
        if let exchanged {
            let reference = BrokerConnection.credentialsReference(connection.id)
            try await domain.vault.store(exchanged, reference: reference)
            connection.connect(credentials: exchanged, reference: reference, now: context.now)
        }
        try context.save(connection, fencedBy: lease)
        return connection.result
    }
}

/// Disconnects a connection, unlinks its accounts (one UnlinkBrokerAccount each, so they take no
/// more orders) and forgets its credentials.
struct DisconnectBrokerHandler: CommandHandler {
    func handle(_ command: DisconnectBroker, context: CommandContext) async throws -> BrokerConnectionResult {
        var connection = try await context.connection(command.brokerConnectionID, command.expectedVersion)
        try connection.disconnect(reason: command.reason, user: command.userID, now: context.now)
        // Before the save, as the credentials below: a disconnect that fails after this is sent
        // again and finds the accounts unlinked, where one saved first and interrupted would leave
        // them taking orders for a connection that is gone.
        let reason = command.reason.isEmpty ? "the broker connection was disconnected" : command.reason
        for accountID in connection.accountIDs {
            _ = try await context.send(
                UnlinkBrokerAccount(
                    accountID: accountID, userID: command.userID, reason: reason, sagaID: command.sagaID))
        }
        if !connection.credentialsReference.isEmpty {
            // Before the save: a secret outliving its connection is worse than a connection that
            // must be initiated again because its save failed.
            try await context.domain.vault.remove(reference: connection.credentialsReference)
        }
        try context.save(connection)
        return connection.result
    }
}

/// Links every account the broker gives a connected connection access to, one LinkBrokerAccount
/// per account, then records them on the connection. Sent by the connection onboarding saga.
public struct SyncBrokerAccounts: Command {
    public typealias Result = BrokerConnectionResult
    public static var commandType: String { "SyncBrokerAccounts" }

    public var brokerConnectionID: UUID
    public var userID: UUID
    public var sagaID: UUID?
    public var actingUserID: UUID? { userID }

    public init(brokerConnectionID: UUID, userID: UUID, sagaID: UUID?) {
        self.brokerConnectionID = brokerConnectionID
        self.userID = userID
        self.sagaID = sagaID
    }
}

struct SyncBrokerAccountsHandler: CommandHandler {
    func handle(_ command: SyncBrokerAccounts, context: CommandContext) async throws -> BrokerConnectionResult {
        let domain = try context.domain
        var connection = try await context.connection(command.brokerConnectionID, nil)
        try connection.requireConnected(by: command.userID)
        let adapter = try domain.adapter(for: connection.brokerID)
        let credentials = try await domain.vault.credentials(reference: connection.credentialsReference)
        let accounts = try await adapter.accounts(credentials: credentials, environment: connection.environment)
        var linked: [UUID] = []
        for account in accounts {
            let outcome = try await context.send(
                LinkBrokerAccount(
                    userID: command.userID, connectionID: connection.id, brokerID: connection.brokerID,
                    environment: connection.environment, description: account, sagaID: command.sagaID))
            linked.append(outcome.result.accountID)
        }
        try connection.recordAccountsSynced(linked, user: command.userID, now: context.now)
        try context.save(connection)
        return connection.result
    }
}

extension CommandContext {
    func connection(_ id: UUID, _ expectedVersion: UInt64?) async throws -> AggregateRoot<BrokerConnection> {
        try await existing(
            BrokerConnection.self, id, expectedVersion,
            or: .notFound("broker connection", id, reason: "CONNECTION_NOT_FOUND"))
    }
}
