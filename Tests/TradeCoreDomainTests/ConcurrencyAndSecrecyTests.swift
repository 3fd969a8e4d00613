import EventSourcing
import EventSourcingTesting
import EventStore
import Foundation
import Testing
import TradeCoreMessages
import WireFormat

@testable import TradeCoreDomain

@Suite(.timeLimit(.minutes(2)))
struct ConcurrencyTests {
    @Test func fiftyConcurrentCancelsAndFillsLeaveAValidOrder() async throws {
        try await withDomain { domain in
            let user = UUID()
            let cash = try await domain.connectedCashAccount(user: user)
            let created = try await domain.commands.send(
                CreateOrder(
                    userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(100), orderType: .limit,
                    limitPrice: ExactDecimal(1), accountID: cash.accountID))
            let id = created.result.orderID
            _ = try await domain.commands.send(PlaceOrder(orderID: id, userID: user, brokerOrderID: "B-1"))

            enum Answer: Sendable { case applied(fill: Bool), refused(String), conflict }
            let answers = try await withThrowingTaskGroup(of: Answer.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        do {
                            if index % 2 == 0 {
                                _ = try await domain.commands.send(
                                    AddFill(
                                        orderID: id, userID: user, fillID: UUID(), quantity: ExactDecimal(7),
                                        price: ExactDecimal(Int64(index + 1)), filledAt: SystemClock().now()))
                            } else {
                                _ = try await domain.commands.send(
                                    CancelOrder(orderID: id, userID: user, reason: "race"))
                            }
                            return .applied(fill: index % 2 == 0)
                        } catch let error as CommandBusError where error.code == .rejected {
                            return .refused(
                                DomainError(error.rejection ?? CommandRejection(.failedPrecondition, "")).reason)
                        } catch let error as CommandBusError where error.code == .conflict {
                            return .conflict
                        }
                    }
                }
                return try await group.reduce(into: [Answer]()) { $0.append($1) }
            }
            #expect(answers.count == 50)
            let reasons = answers.compactMap { if case .refused(let reason) = $0 { reason } else { nil } }
            // Each call was applied or refused for a reason of the state it met.
            #expect(
                Set(reasons).isSubset(of: ["ORDER_NOT_CANCELLABLE", "ORDER_NOT_FILLABLE", "OVERFILL"]), "\(reasons)")
            #expect(answers.contains { if case .applied = $0 { true } else { false } })

            // Every stored event was valid for the state it was applied to: replay the stream and
            // check each event against the state before it.
            let events = try await domain.events(of: StreamName(type: "order", id: id))
            #expect(events.map(\.version) == Array(0..<Int64(events.count)))
            var state = Order(id: id)
            var filled = ExactDecimal.zero
            for event in events {
                let change = try event.domainEvent(OrderEvent.self)
                switch change {
                case .fillAdded(let fill):
                    #expect(
                        state.status == .placed || state.status == .partiallyFilled,
                        "a fill reached a \(state.status) order")
                    filled = filled.adding(fill.quantity) ?? filled
                    #expect(filled <= ExactDecimal(100))
                    #expect(fill.filledQuantity == filled)
                case .cancelled:
                    #expect(state.isWorking, "a cancel reached a \(state.status) order")
                case .filled:
                    #expect(filled == ExactDecimal(100))
                default:
                    break
                }
                state.apply(change)
            }
            // 25 fills of 7 can never fill 100 exactly: the order ends cancelled, or partly filled
            // when every cancel lost its race; and what was answered "applied" is what is stored.
            #expect(state.status == .cancelled || state.status == .partiallyFilled)
            let appliedFills = answers.filter { if case .applied(fill: true) = $0 { true } else { false } }.count
            let appliedCancels = answers.filter { if case .applied(fill: false) = $0 { true } else { false } }.count
            #expect(events.filter { $0.type == "FillAdded" }.count == appliedFills)
            #expect(events.filter { $0.type == "OrderCancelled" }.count == appliedCancels)
            #expect(appliedCancels <= 1)
            // The read model agrees with the stream.
            let view = try await domain.queries.ask(
                GetOrder(orderID: id, userID: user), consistency: .atLeast(try #require(events.last).position))
            #expect(view.status == state.status && view.filledQuantity == state.filledQuantity)
        }
    }

    @Test func twoConcurrentInitiationsForOneKeyLeaveOneConnection() async throws {
        try await withDomain { domain in
            let user = UUID()
            let results = try await withThrowingTaskGroup(of: InitiateBrokerConnectionResult.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        try await domain.commands.send(InitiateBrokerConnection(userID: user, brokerID: "virtual"))
                            .result
                    }
                }
                return try await group.reduce(into: [InitiateBrokerConnectionResult]()) { $0.append($1) }
            }
            #expect(Set(results.map(\.brokerConnectionID)).count == 1)
            let connections = try await domain.allEvents().filter { $0.stream.type == "broker_connection" }
            #expect(Set(connections.map(\.stream)).count == 1)
            #expect(connections.filter { $0.type == "BrokerConnectionInitiated" }.count == 1)
            // The second initiation started the OAuth flow over; each has its own state.
            #expect(connections.filter { $0.type == "BrokerOAuthStarted" }.count == 2)
        }
    }
}

@Suite(.timeLimit(.minutes(2)))
struct SecrecyTests {
    /// After flows that handle every kind of secret, none of them is in the database's files
    /// (read as bytes: events, recorded outcomes, read models), in any event, or in any log line.
    @Test func noSecretReachesTheStoreTheEventsOrTheLogs() async throws {
        let logs = CapturedLogs()
        var secrets: [String] = []
        try await withDomain(logs: logs) { domain in
            let user = UUID()
            // OAuth: the code, the state and the tokens the code is exchanged for.
            let initiate = InitiateBrokerConnection(userID: user, brokerID: "virtual")
            let outcome = try await domain.commands.send(initiate)
            let state = OAuthChallenge(
                command: initiate, connectionID: outcome.result.brokerConnectionID, commandID: outcome.commandID,
                adapter: domain.broker, secrets: domain.secrets
            ).state
            let code = "oauth-code-7d1f0a2b9c"
            _ = try await domain.commands.send(
                CompleteOAuth(
                    brokerConnectionID: outcome.result.brokerConnectionID, userID: user, authorizationCode: code,
                    state: state))
            let tokens = try await domain.broker.exchangeAuthorizationCode(code, redirectURI: "", environment: .paper)
            secrets += [code, state, try #require(tokens.accessToken), try #require(tokens.refreshToken)]
            // API keys, including a refused one.
            let other = UUID()
            let key = "vbk_secretkey_93ab77"
            let apiSecret = "api-secret-5e1c44d0"
            _ = try await domain.commands.send(
                InitiateBrokerConnection(
                    userID: other, brokerID: "virtual", authMethod: .apiKey,
                    apiKeyCredentials: ApiKeyCredentials(apiKey: "refused-key-b81c2a", apiSecret: "refused-secret-0f9e")
                ))
            _ = try await domain.commands.send(
                InitiateBrokerConnection(
                    userID: other, brokerID: "virtual", environment: .live, authMethod: .apiKey,
                    apiKeyCredentials: ApiKeyCredentials(apiKey: key, apiSecret: apiSecret)))
            secrets += [key, apiSecret, "refused-key-b81c2a", "refused-secret-0f9e"]
            // A webhook token.
            let accounts = try await domain.linkedAccounts(user: user, count: 2)
            let automation = try await domain.commands.send(
                CreateAutomation(
                    userID: user, name: "A", symbol: "AAPL",
                    positionSizing: PositionSizing(method: .fixedQuantity, value: ExactDecimal(1)),
                    accountIDs: [accounts[0].accountID], assetType: .stock))
            secrets.append(domain.secrets.webhookToken(for: automation.result.automationID))
            _ = try await domain.linkedAccounts(user: other, count: 2)

            let events = try await domain.allEvents()
            #expect(events.count > 20)
            for event in events {
                let text = String(decoding: event.data, as: UTF8.self) + "\(event.metadata)"
                for secret in secrets {
                    #expect(!text.contains(secret), "event \(event.position) (\(event.type)) holds a secret")
                }
            }
            // Credentials are sealed in the vault and open again with the server's key.
            let connection = outcome.result.brokerConnectionID
            let kept = try await domain.app.services.vault.credentials(
                reference: BrokerConnection.credentialsReference(connection))
            #expect(kept.accessToken == tokens.accessToken)

            await domain.stop()
            let files = try FileManager.default.contentsOfDirectory(atPath: domain.directory.path)
            #expect(files.contains("events.sqlite"))
            for file in files {
                let bytes = try Data(contentsOf: domain.directory.appendingPathComponent(file))
                for secret in secrets {
                    #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(file) holds a secret")
                }
            }
        }
        let lines = logs.all
        #expect(!lines.isEmpty)
        for line in lines {
            for secret in secrets {
                #expect(!line.text.contains(secret), "a log line holds a secret: \(line.text)")
            }
        }
    }
}
