import EventSourcing
import EventSourcingTesting
import EventStore
import Foundation
import Testing
import TradeCoreMessages

@testable import TradeCoreDomain

@Suite struct BrokerConnectionTests {
    let user = UUID()
    let other = UUID()
    let now = Fixtures.now
    let broker = VirtualBroker()
    var id: UUID { BrokerConnection.id(user: user, brokerID: "virtual", environment: .paper) }
    var scenario: AggregateScenario<BrokerConnection> { AggregateScenario(id: id) }

    func initiate(
        method: AuthMethod? = nil, key: String? = nil, secret: String = "s", user: UUID? = nil,
        broker: String = "virtual",
        endpoint: String = "", redirect: String = ""
    ) -> InitiateBrokerConnection {
        InitiateBrokerConnection(
            userID: user ?? self.user, brokerID: broker, apiEndpointOverride: endpoint, authMethod: method,
            apiKeyCredentials: key.map { ApiKeyCredentials(apiKey: $0, apiSecret: secret) }, oauthRedirectURI: redirect)
    }

    var initiated: BrokerConnectionEvent {
        .initiated(
            BrokerConnectionInitiated(
                brokerConnectionID: id, userID: user, brokerID: "virtual", environment: .paper, authMethod: .oauth,
                initiatedAt: now))
    }

    func oauthStarted(state: String, at time: Int64? = nil) -> BrokerConnectionEvent {
        let started = time ?? now
        return .oauthStarted(
            BrokerOAuthStarted(
                brokerConnectionID: id, oauthStateSHA256: ServerSecrets.digest(state), redirectURI: "urn:x",
                startedAt: started, expiresAt: started + BrokerConnection.oauthStateLifetime.nanoseconds))
    }

    var connected: [BrokerConnectionEvent] {
        [
            initiated, oauthStarted(state: "s1"),
            .credentialsStored(
                BrokerCredentialsStored(
                    brokerConnectionID: id, authMethod: .oauth, credentialsRef: "ref", storedAt: now)),
            .established(BrokerConnectionEstablished(brokerConnectionID: id, connectedAt: now)),
        ]
    }

    func runInitiate(_ command: InitiateBrokerConnection) -> (inout AggregateRoot<BrokerConnection>) throws -> Void {
        { root in _ = try root.initiate(command, broker: broker, knownBrokers: ["virtual"], now: now) }
    }

    @Test func theIDDerivesFromUserBrokerAndEnvironment() {
        #expect(BrokerConnection.id(user: user, brokerID: "virtual", environment: .paper) == id)
        #expect(BrokerConnection.id(user: user, brokerID: "virtual", environment: .live) != id)
        #expect(BrokerConnection.id(user: other, brokerID: "virtual", environment: .paper) != id)
    }

    @Test func initiateCreatesANewConnectionWithTheBrokersDefaultMethod() throws {
        var root = AggregateRoot<BrokerConnection>(id: id)
        let method = try root.initiate(initiate(), broker: broker, knownBrokers: ["virtual"], now: now)
        #expect(method == .oauth)
        #expect(root.uncommittedEvents == [initiated])
    }

    @Test func initiateChecksBrokerMethodCredentialsAndURLs() throws {
        var root = AggregateRoot<BrokerConnection>(id: id)
        #expect(throws: DomainError.self) {
            _ = try root.initiate(initiate(broker: "nope"), broker: nil, knownBrokers: ["virtual"], now: now)
        }
        let cases: [(InitiateBrokerConnection, String)] = [
            (initiate(method: .apiKey), "api_key_credentials"),
            (initiate(method: .apiKey, key: ""), "api_key_credentials.api_key"),
            (initiate(method: .oauth, key: "vbk_123456789"), "api_key_credentials"),
            (initiate(endpoint: "http://plain.example"), "api_endpoint_override"),
            (initiate(redirect: "not a url"), "oauth_redirect_uri"),
        ]
        for (command, field) in cases {
            try scenario.when(runInitiate(command))
                .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: field) }
        }
        try scenario.when {
            _ = try $0.initiate(initiate(broker: "nope"), broker: nil, knownBrokers: ["virtual"], now: now)
        }
        .thenRejects(DomainError.self) { $0.is(.invalidArgument, "UNKNOWN_BROKER", field: "broker_id") }
    }

    @Test func anExistingConnectionIsResetRestartedOrRefused() throws {
        try scenario.given(connected).when(runInitiate(initiate()))
            .thenRejects(DomainError.self) { $0.is(.alreadyExists, "CONNECTION_EXISTS") }
        for ending in [
            BrokerConnectionEvent.failed(BrokerConnectionFailed(brokerConnectionID: id, reason: "no", failedAt: now)),
            .disconnected(BrokerDisconnected(brokerConnectionID: id, disconnectedAt: now)),
        ] {
            try scenario.given(connected + [ending]).when(runInitiate(initiate()))
                .then([.reset(BrokerConnectionReset(brokerConnectionID: id, resetAt: now))])
        }
        // Waiting for OAuth: the flow starts over, with nothing to reset.
        try scenario.given([initiated, oauthStarted(state: "s1")]).when(runInitiate(initiate())).then([])
    }

    @Test func theOAuthCallbackMustCarryTheFlowsStateInTimeOnce() throws {
        let complete = { (state: String, user: UUID) in
            CompleteOAuth(brokerConnectionID: self.id, userID: user, authorizationCode: "code", state: state)
        }
        let waiting = [initiated, oauthStarted(state: "right")]
        var root = AggregateRoot<BrokerConnection>(id: id)
        root.emit(contentsOf: waiting)
        try root.checkOAuthCallback(complete("right", user), now: now + 1)
        #expect(throws: DomainError.self) { try root.checkOAuthCallback(complete("wrong", user), now: now + 1) }
        let expired = now + BrokerConnection.oauthStateLifetime.nanoseconds
        do {
            try root.checkOAuthCallback(complete("right", user), now: expired)
            Issue.record("an expired state was accepted")
        } catch {
            #expect(error.is(.failedPrecondition, "OAUTH_STATE_EXPIRED"))
        }
        do {
            try root.checkOAuthCallback(complete("right", other), now: now)
            Issue.record("another user completed the flow")
        } catch {
            #expect(error.is(.permissionDenied, "CONNECTION_NOT_OWNED"))
        }
        // Once connected, the same state is refused: it was single-use.
        var used = AggregateRoot<BrokerConnection>(id: id)
        used.emit(contentsOf: connected)
        do {
            try used.checkOAuthCallback(complete("s1", user), now: now)
            Issue.record("a used state was accepted")
        } catch {
            #expect(error.is(.failedPrecondition, "NOT_AWAITING_OAUTH"))
        }
    }

    @Test func connectRecordsOnlyAReferenceToTheCredentials() throws {
        let credentials = BrokerCredentials.oauth(accessToken: "secret-token", refreshToken: "r", expiresAt: 99)
        let state = try scenario.given([initiated, oauthStarted(state: "s")])
            .when { $0.connect(credentials: credentials, reference: "broker_connection/x", now: now) }
            .then([
                .credentialsStored(
                    BrokerCredentialsStored(
                        brokerConnectionID: id, authMethod: .oauth, credentialsRef: "broker_connection/x",
                        expiresAt: 99,
                        storedAt: now)),
                .established(BrokerConnectionEstablished(brokerConnectionID: id, connectedAt: now)),
            ])
        #expect(state.status == .connected && state.oauthStateDigest.isEmpty)
    }

    @Test func disconnectAndAccountsSyncedNeedTheRightState() throws {
        try scenario.given(connected).when { try $0.disconnect(reason: "bye", user: user, now: now) }
            .then([.disconnected(BrokerDisconnected(brokerConnectionID: id, reason: "bye", disconnectedAt: now))])
        let disconnected = connected + [.disconnected(BrokerDisconnected(brokerConnectionID: id, disconnectedAt: now))]
        try scenario.given(disconnected).when { try $0.disconnect(reason: "", user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "CONNECTION_DISCONNECTED") }
        try scenario.given(connected).when { try $0.disconnect(reason: "", user: other, now: now) }
            .thenRejects(DomainError.self) { $0.is(.permissionDenied, "CONNECTION_NOT_OWNED") }
        let account = UUID()
        try scenario.given(connected).when { try $0.recordAccountsSynced([account], user: user, now: now) }
            .then([.accountsSynced(BrokerAccountsSynced(brokerConnectionID: id, accountIDs: [account], syncedAt: now))])
        try scenario.given(disconnected).when { try $0.recordAccountsSynced([account], user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "CONNECTION_NOT_CONNECTED") }
    }
}

@Suite struct BrokerAccountTests {
    let user = UUID()
    let connection = UUID()
    let now = Fixtures.now
    var id: UUID { BrokerAccount.id(connection: connection, accountNumber: "A-1") }
    var scenario: AggregateScenario<BrokerAccount> { AggregateScenario(id: id) }
    let description = BrokerAccountDescription(number: "A-1", type: .margin, currency: "USD")

    var linked: BrokerAccountEvent {
        .linked(
            BrokerAccountLinked(
                accountID: id, userID: user, brokerConnectionID: connection, brokerID: "virtual",
                brokerAccountNumber: "A-1", environment: .paper, accountType: .margin, currency: "USD", linkedAt: now))
    }

    func link(_ description: BrokerAccountDescription) -> (inout AggregateRoot<BrokerAccount>) throws -> Void {
        {
            try $0.link(
                user: user, connection: connection, brokerID: "virtual", environment: .paper, description: description,
                now: now)
        }
    }

    @Test func linkingIsIdempotentAndChecksTheDescription() throws {
        #expect(BrokerAccount.id(connection: connection, accountNumber: "A-1") == id)
        try scenario.when(link(description)).then([linked])
        try scenario.given([linked]).when(link(description)).then([])
        try scenario.given([linked, .unlinked(BrokerAccountUnlinked(accountID: id, unlinkedAt: now))]).when(
            link(description)
        )
        .then([linked])
        try scenario.when(link(BrokerAccountDescription(number: "A-1", type: nil, currency: "usd")))
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "currency") }
        try scenario.when(link(BrokerAccountDescription(number: "", type: nil, currency: "USD")))
            .thenRejects(DomainError.self) { $0.is(.invalidArgument, "INVALID_FIELD", field: "broker_account_number") }
    }

    @Test func unlinkingStopsTheAccountOnceAndNeedsItsOwner() throws {
        let unlinked = BrokerAccountEvent.unlinked(
            BrokerAccountUnlinked(accountID: id, reason: "disconnected", unlinkedAt: now))
        let state = try scenario.given([linked]).when { try $0.unlink(reason: "disconnected", user: user, now: now) }
            .then([unlinked])
        #expect(!state.isLinked)
        #expect(throws: DomainError.self) { try state.requireTradable() }
        try scenario.given([linked, unlinked]).when { try $0.unlink(reason: "again", user: user, now: now) }.then([])
        try scenario.given([linked]).when { try $0.unlink(reason: "", user: UUID(), now: now) }
            .thenRejects(DomainError.self) { $0.is(.permissionDenied, "ACCOUNT_NOT_OWNED") }
        try scenario.when { try $0.unlink(reason: "", user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.notFound, "ACCOUNT_NOT_FOUND") }
    }

    @Test func refreshesRecordBalancesOrTheFailure() throws {
        let balances = BrokerAccountBalances(
            cash: Fixtures.decimal("10"), equity: Fixtures.decimal("12"), buyingPower: Fixtures.decimal("24"),
            status: .active,
            positions: [BrokerPosition(symbol: "AAPL", quantity: Fixtures.decimal("1"))])
        let state = try scenario.given([linked]).when { try $0.recordRefresh(balances, user: user, now: now) }
            .then([
                .refreshed(
                    BrokerAccountDataRefreshed(
                        accountID: id, cash: balances.cash, equity: balances.equity, buyingPower: balances.buyingPower,
                        status: .active, syncedAt: now, positions: balances.positions))
            ])
        #expect(state.lastSyncedAt == now)
        try scenario.given([linked]).when { try $0.recordRefreshFailure("timeout", user: user, now: now) }
            .then([.refreshFailed(BrokerAccountRefreshFailed(accountID: id, error: "timeout", failedAt: now))])
        try scenario.given([linked]).when { try $0.recordRefresh(balances, user: UUID(), now: now) }
            .thenRejects(DomainError.self) { $0.is(.permissionDenied, "ACCOUNT_NOT_OWNED") }
        try scenario.when { try $0.recordRefresh(balances, user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.notFound, "ACCOUNT_NOT_FOUND") }
        try scenario.given([linked, .unlinked(BrokerAccountUnlinked(accountID: id, unlinkedAt: now))])
            .when { try $0.recordRefreshFailure("x", user: user, now: now) }
            .thenRejects(DomainError.self) { $0.is(.failedPrecondition, "ACCOUNT_NOT_LINKED") }
    }
}
