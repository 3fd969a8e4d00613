import EventStore
import EventStoreSQLite
import Foundation
import HTTP2RPC
import NIOCore
import ProcessTesting
import Testing
import TradeCoreClient
import TradeCoreMessages

@Suite(.timeLimit(.minutes(2)))
struct TradeCoreClientTests {
    @Test func aCommandSentWhileTheServerIsDownIsRetriedWithItsIDAndAppliedOnce() async throws {
        let port = try freePort()
        let client = TradeCoreClient(
            configuration: .init(
                port: port, token: APIHarness.serviceToken, attempts: 5, retryDelay: .milliseconds(200)))
        defer { Task { await client.close() } }
        let user = UUID()
        let commandID = UUID()
        let connect = InitiateBrokerConnection(userID: user, brokerID: "virtual")
        // The first attempt finds nothing listening; the server comes up before the retries run out.
        let sent = Task { try await client.initiateBrokerConnection(connect, commandID: commandID) }
        try await Task.sleep(for: .milliseconds(100))
        try await withAPI(port: port) { api in
            let first = try await sent.value
            #expect(first.status == .awaitingOAuth)
            // The same id again: the first result, and one connection started once.
            let again = try await client.initiateBrokerConnection(connect, commandID: commandID)
            #expect(again.brokerConnectionID == first.brokerConnectionID && again.oauthState == first.oauthState)
            #expect(again.position == first.position)
            let types = try await api.store.readAll(from: 1, filter: .all, limit: 100).map(\.type)
            #expect(types == ["BrokerConnectionInitiated", "BrokerOAuthStarted"])
        }
    }

    @Test func refusalsArriveTypedWithTheirDetails() async throws {
        try await withAPI { api in
            let client = TradeCoreClient(
                configuration: .init(port: try #require(api.server.localAddress?.port), token: api.aliceToken))
            defer { Task { await client.close() } }
            do throws(TradeCoreError) {
                _ = try await client.getOrder(GetOrder(orderID: UUID(), userID: api.bob))
                Issue.record("Alice read as Bob")
            } catch {
                #expect(error.code == .permissionDenied && error.reason == "NOT_YOUR_USER")
            }
            do throws(TradeCoreError) {
                _ = try await client.createOrder(
                    CreateOrder(
                        userID: api.alice, symbol: "aapl", side: .buy, quantity: ExactDecimal(1), orderType: .market,
                        accountID: UUID()))
                Issue.record("a lowercase symbol was accepted")
            } catch {
                #expect(error.code == .invalidArgument && error.fieldViolations.map(\.field) == ["symbol"])
            }
            // The event stream as an async sequence: an empty log is caught up at once (a checkpoint
            // may come first on a slow machine: the interval is short).
            var iterator = client.subscribe(SubscribeRequest(checkpointIntervalMs: 100)).makeAsyncIterator()
            var first = try await iterator.next()
            while case .checkpoint(let checkpoint)? = first {
                #expect(checkpoint.position == 0)
                first = try await iterator.next()
            }
            if case .caughtUp? = first {
            } else {
                Issue.record("expected caught-up first, got \(String(describing: first))")
            }
        }
    }
}
