import EventStore
import EventStoreSQLite
import Foundation
import HTTP2RPC
import NIOCore
import Testing
import TradeCoreAPI
import TradeCoreDomain
import TradeCoreMessages
import WireFormat

@Suite(.timeLimit(.minutes(2)))
struct TradeCoreAPITests {
    /// Every method of the command and query services, with a valid request naming `user`.
    static func methods(user: UUID) -> [(service: String, method: String)] {
        [
            "CreateOrder", "PlaceOrder", "AddFill", "UpdateOrder", "CancelOrder", "RejectOrder", "DeleteOrder",
            "CreateAutomation", "UpdateAutomation", "ActivateAutomation", "DeactivateAutomation", "DeleteAutomation",
            "InitiateBrokerConnection", "CompleteOAuth", "DisconnectBroker", "RefreshAccountDataFromBroker",
            "RefreshAllAccounts",
        ].map { ("CommandService", $0) }
            + [
                "GetOrder", "ListOrders", "GetAutomation", "ListAutomations", "GetBrokerConnection",
                "FindBrokerConnection", "GetAccountsByUser", "GetAccountsByConnection",
            ].map { ("QueryService", $0) } + [("EventStreamService", "ReadStream")]
    }

    @Test func everyMethodAnswersBadInputWithAClearStatusAndStoresNothing() async throws {
        try await withAPI { api in
            let head = try await api.store.headPosition()
            for (service, method) in Self.methods(user: api.alice) {
                let name = "\(service)/\(method)"
                // Truncated: a length-delimited field whose bytes never come.
                var error = await api.failure(service, method, bytes: [0x0A, 0x10, 0x01], metadata: api.asService)
                #expect(error?.code == .invalidArgument, "\(name) truncated: \(String(describing: error))")
                #expect(error?.details?.errorInfo?.reason == "MALFORMED_REQUEST", "\(name)")
                #expect(error?.message.contains("is not a valid") == true, "\(name): \(error?.message ?? "")")
                // Mistyped: field 1 sent as a varint.
                error = await api.failure(service, method, bytes: [0x08, 0x01], metadata: api.asService)
                #expect(error?.code == .invalidArgument, "\(name) mistyped")
                #expect(error?.details?.badRequest?.fieldViolations.isEmpty == false, "\(name) names the field")
                // Empty: the required fields are missing, and the error names one.
                error = await api.failure(service, method, bytes: [], metadata: api.asService)
                #expect(error?.code == .invalidArgument, "\(name) empty")
                #expect(error?.details?.badRequest?.fieldViolations.first?.field.isEmpty == false, "\(name)")
                // Unauthorised: no token, and a wrong one.
                error = await api.failure(service, method, bytes: [], metadata: [:])
                #expect(error?.code == .unauthenticated, "\(name) without a token")
                error = await api.failure(
                    service, method, bytes: [], metadata: APIHarness.bearer("not-a-known-token-xyz"))
                #expect(error?.code == .unauthenticated, "\(name) with a wrong token")
            }
            // Oversized: past the server's message limit.
            let oversized = await api.failure(
                "CommandService", "CreateOrder", bytes: [UInt8](repeating: 0x0A, count: 5 << 20),
                metadata: api.asService)
            #expect(oversized?.code == .resourceExhausted)
            #expect(try await api.store.headPosition() == head, "nothing was stored")
            // The server still answers.
            let accounts = try await api.call(
                "QueryService", "GetAccountsByUser", GetAccountsByUser(userID: api.alice), as: BrokerAccountList.self,
                metadata: api.asAlice)
            #expect(accounts.accounts.isEmpty)
        }
    }

    @Test func aUserActsOnlyForItselfAndAServiceForAnyone() async throws {
        try await withAPI { api in
            let cash = try await api.connect(api.alice, metadata: api.asAlice)
            let order = try await api.call(
                "CommandService", "CreateOrder",
                CreateOrder(
                    userID: api.alice, symbol: "AAPL", side: .buy, quantity: ExactDecimal(1), orderType: .limit,
                    limitPrice: ExactDecimal(1), accountID: cash.accountID), as: OrderResult.self, metadata: api.asAlice
            )
            // Bob for Alice: refused before anything runs.
            var error = await api.failure(
                "QueryService", "GetOrder", bytes: GetOrder(orderID: order.orderID, userID: api.alice).protoBytes,
                metadata: api.asBob)
            #expect(error?.code == .permissionDenied)
            #expect(error?.details?.errorInfo?.reason == "NOT_YOUR_USER")
            // Bob for himself, on Alice's order: the domain refuses it.
            error = await api.failure(
                "CommandService", "CancelOrder", bytes: CancelOrder(orderID: order.orderID, userID: api.bob).protoBytes,
                metadata: api.asBob)
            #expect(error?.code == .permissionDenied)
            #expect(error?.details?.errorInfo?.reason == "ORDER_NOT_OWNED")
            // On the event stream too: Alice reads her order's stream, Bob may not, and no user
            // reads a saga's stream (its events belong to no user, though they name users).
            let stream = "order-\(order.orderID.uuidString.lowercased())"
            let own = try await api.call(
                "EventStreamService", "ReadStream", ReadStreamRequest(stream: stream, fromVersion: 0, maxCount: 0),
                as: ReadStreamResponse.self, metadata: api.asAlice)
            #expect(own.events.map(\.eventType) == ["OrderCreated"])
            error = await api.failure(
                "EventStreamService", "ReadStream",
                bytes: ReadStreamRequest(stream: stream, fromVersion: 0, maxCount: 0).protoBytes, metadata: api.asBob)
            #expect(error?.code == .permissionDenied && error?.details?.errorInfo?.reason == "NOT_YOUR_STREAM")
            #expect(error?.message.contains(api.alice.uuidString.lowercased()) == false, "Alice is not named to Bob")
            // Nor a page past the stream's end, which would otherwise tell its length by being empty.
            error = await api.failure(
                "EventStreamService", "ReadStream",
                bytes: ReadStreamRequest(stream: stream, fromVersion: 50, maxCount: 0).protoBytes, metadata: api.asBob)
            #expect(error?.code == .permissionDenied && error?.details?.errorInfo?.reason == "NOT_YOUR_STREAM")
            let saga = try #require(
                try await api.store.readAll(from: 1, filter: .streamTypes(["saga"]), limit: 1).first?.stream)
            error = await api.failure(
                "EventStreamService", "ReadStream",
                bytes: ReadStreamRequest(stream: saga.rawValue, fromVersion: 0, maxCount: 0).protoBytes,
                metadata: api.asAlice)
            #expect(error?.code == .permissionDenied && error?.details?.errorInfo?.reason == "NOT_A_USER_STREAM")
            // A subscription a user may not make is refused with `reason` before it delivers anything
            // (one accepted would run until its deadline, and fail the test then).
            func expectRefused(_ request: SubscribeRequest, by metadata: RPCMetadata, _ reason: String) async throws {
                do {
                    try await api.client.serverStreaming(
                        APIHarness.path("EventStreamService", "Subscribe"), request.protoBytes, metadata: metadata,
                        timeout: .seconds(10)
                    ) { response in
                        for try await _ in response.messages {}
                    }
                    Issue.record("accepted: \(request)")
                } catch let refusal as RPCError {
                    #expect(
                        refusal.code == .permissionDenied && refusal.details?.errorInfo?.reason == reason,
                        "\(request): \(refusal)")
                }
            }
            // Nor subscribes to saga streams alone: that would wait for ever without a word.
            try await expectRefused(
                SubscribeRequest(filter: SubscriptionFilter(streamTypes: ["saga"])), by: api.asAlice,
                "NOT_A_USER_STREAM")
            // Nor names another user's stream in the filter: it would deliver nothing, for ever.
            try await expectRefused(
                SubscribeRequest(filter: SubscriptionFilter(streams: [stream])), by: api.asBob, "NOT_YOUR_STREAM")
            // Nor after a version of a stream not theirs: refused before the version is judged,
            // so neither the answer nor a caught-up position tells how long the stream is.
            for (stream, metadata, reason) in [
                (stream, api.asBob, "NOT_YOUR_STREAM"), (saga.rawValue, api.asAlice, "NOT_A_USER_STREAM"),
            ] {
                for version: UInt64 in [0, 50] {
                    try await expectRefused(
                        SubscribeRequest(start: .afterStreamVersion(StreamVersion(stream: stream, version: version))),
                        by: metadata, reason)
                }
            }
            let bySevice = try await api.call(
                "EventStreamService", "ReadStream",
                ReadStreamRequest(stream: saga.rawValue, fromVersion: 0, maxCount: 0), as: ReadStreamResponse.self,
                metadata: api.asService)
            #expect(!bySevice.events.isEmpty)
            // The service acts for Alice.
            let cancelled = try await api.call(
                "CommandService", "CancelOrder", CancelOrder(orderID: order.orderID, userID: api.alice),
                as: OrderResult.self, metadata: api.asService)
            #expect(cancelled.status == .cancelled)
        }
    }

    @Test func refusalsCarryTheStandardDetailsMatchingTheStatus() async throws {
        try await withAPI { api in
            let cash = try await api.connect(api.alice, metadata: api.asAlice)
            let error = await api.failure(
                "CommandService", "CreateOrder",
                bytes: CreateOrder(
                    userID: api.alice, symbol: "AAPL", side: .buy, quantity: ExactDecimal(1), orderType: .stopLimit,
                    accountID: cash.accountID
                ).protoBytes, metadata: api.asAlice)
            let details = try #require(error?.details)
            #expect(error?.code == .invalidArgument)
            // grpcio's from_call insists on these matching the status line.
            #expect(details.code == 3 && details.message == error?.message)
            #expect(details.errorInfo?.domain == "tradecore")
            #expect(details.badRequest?.fieldViolations.map(\.field) == ["limit_price", "stop_price"])
        }
    }

    /// A proxy's request id (nginx's is 32 hex digits) still ties the events to the request: a
    /// request id that is not a UUID becomes the correlation id through a UUID derived from it. A
    /// call refused for its token still gets its request id back, to find it in the log.
    @Test func requestIDsThatAreNotUUIDsCorrelateAndRefusedCallsGetTheirs() async throws {
        try await withAPI { api in
            let refused = await api.failure(
                "QueryService", "GetOrder", bytes: [], metadata: ["x-request-id": .string("probe-42")])
            #expect(refused?.code == .unauthenticated)
            #expect(refused?.metadata.first("x-request-id") == "probe-42")

            let cash = try await api.connect(api.alice, metadata: api.asAlice)
            let requestID = "0123456789abcdef0123456789abcdef"
            var metadata = api.asAlice
            metadata.add("x-request-id", requestID)
            var orders: [UUID] = []
            for _ in 0..<2 {
                orders.append(
                    try await api.call(
                        "CommandService", "CreateOrder",
                        CreateOrder(
                            userID: api.alice, symbol: "AAPL", side: .buy, quantity: ExactDecimal(1), orderType: .limit,
                            limitPrice: ExactDecimal(10), accountID: cash.accountID),
                        as: OrderResult.self, metadata: metadata
                    ).orderID)
            }
            var correlations: [UUID?] = []
            for order in orders {
                let events = try await api.store.readStream(
                    try StreamName(type: "order", id: order), from: 0, direction: .forward, limit: 1)
                correlations.append(events.first?.metadata.correlationID)
            }
            #expect(correlations[0] != nil && correlations[0] == correlations[1], "one request id, one correlation")
        }
    }

    @Test func commandIDsStaleVersionsAndReadYourWrites() async throws {
        try await withAPI { api in
            let cash = try await api.connect(api.alice, metadata: api.asAlice)
            let create = CreateOrder(
                userID: api.alice, symbol: "AAPL", side: .buy, quantity: ExactDecimal(5), orderType: .limit,
                limitPrice: ExactDecimal(10), accountID: cash.accountID)
            var withID = api.asAlice
            withID.add("tradecore-command-id", UUID().uuidString)
            let first = try await api.call(
                "CommandService", "CreateOrder", create, as: OrderResult.self, metadata: withID)
            let again = try await api.call(
                "CommandService", "CreateOrder", create, as: OrderResult.self, metadata: withID)
            #expect(first == again)
            #expect(first.position > 0)
            // The same id for another kind of command.
            var error = await api.failure(
                "CommandService", "CancelOrder",
                bytes: CancelOrder(orderID: first.orderID, userID: api.alice).protoBytes,
                metadata: withID)
            #expect(error?.code == .invalidArgument && error?.details?.errorInfo?.reason == "COMMAND_ID_REUSED")
            #expect(error?.details?.errorInfo?.metadata["command_type"] == "CancelOrder")
            #expect(error?.details?.errorInfo?.metadata["command_id"]?.isEmpty == false)
            // The same id for another command of the same kind: refused, not answered with the
            // first order, which the caller did not ask for.
            var other = create
            other.quantity = ExactDecimal(6)
            error = await api.failure("CommandService", "CreateOrder", bytes: other.protoBytes, metadata: withID)
            #expect(error?.code == .invalidArgument && error?.details?.errorInfo?.reason == "COMMAND_ID_REUSED")
            #expect(error?.message.contains("other content") == true)
            // And the first command, sent again after that, still gets its result.
            #expect(
                try await api.call("CommandService", "CreateOrder", create, as: OrderResult.self, metadata: withID)
                    == first)
            // Two ids, or two tokens: which one is meant is not guessed.
            var twoIDs = withID
            twoIDs.add("tradecore-command-id", UUID().uuidString)
            error = await api.failure("CommandService", "CreateOrder", bytes: create.protoBytes, metadata: twoIDs)
            #expect(error?.code == .invalidArgument && error?.message.contains("more than once") == true)
            var twoTokens = api.asAlice
            twoTokens.add("authorization", "Bearer \(api.bobToken)")
            error = await api.failure("CommandService", "CreateOrder", bytes: create.protoBytes, metadata: twoTokens)
            #expect(error?.code == .unauthenticated, "\(String(describing: error))")
            var badID = api.asAlice
            badID.add("tradecore-command-id", "not-a-uuid")
            error = await api.failure("CommandService", "CreateOrder", bytes: create.protoBytes, metadata: badID)
            #expect(
                error?.code == .invalidArgument
                    && error?.details?.badRequest?.fieldViolations.first?.field == "tradecore-command-id")
            // The nil UUID, what a client that forgot to set an id sends, is no command id and no user.
            var nilID = api.asService
            nilID.add("tradecore-command-id", "00000000-0000-0000-0000-000000000000")
            error = await api.failure("CommandService", "CreateOrder", bytes: create.protoBytes, metadata: nilID)
            #expect(
                error?.code == .invalidArgument && error?.message.contains("nil UUID") == true,
                "\(String(describing: error))")
            // The id as binary metadata is not read: refused, not run as a command without an id.
            var binaryID = api.asService
            binaryID.add("tradecore-command-id-bin", .binary(Array(UUID().uuidString.utf8)))
            error = await api.failure("CommandService", "CreateOrder", bytes: create.protoBytes, metadata: binaryID)
            #expect(
                error?.code == .invalidArgument
                    && error?.details?.badRequest?.fieldViolations.first?.field == "tradecore-command-id-bin",
                "\(String(describing: error))")
            var forNobody = create
            forNobody.userID = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
            error = await api.failure(
                "CommandService", "CreateOrder", bytes: forNobody.protoBytes, metadata: api.asService)
            #expect(
                error?.code == .invalidArgument
                    && error?.details?.badRequest?.fieldViolations.first?.field == "user_id",
                "\(String(describing: error))")

            // A stale expected version: ABORTED with both versions.
            _ = try await api.call(
                "CommandService", "UpdateOrder",
                UpdateOrder(orderID: first.orderID, userID: api.alice, quantity: ExactDecimal(6), expectedVersion: 0),
                as: OrderResult.self, metadata: api.asAlice)
            error = await api.failure(
                "CommandService", "UpdateOrder",
                bytes: UpdateOrder(
                    orderID: first.orderID, userID: api.alice, quantity: ExactDecimal(7), expectedVersion: 0
                )
                .protoBytes, metadata: api.asAlice)
            #expect(error?.code == .aborted)
            let facts = error?.details?.errorInfo?.metadata ?? [:]
            #expect(facts["expected_version"] == "0" && facts["current_version"] == "1", "\(facts)")

            // Read your writes: the position the command returned.
            let view = try await api.call(
                "QueryService", "GetOrder",
                GetOrder(orderID: first.orderID, userID: api.alice, minPosition: first.position),
                as: OrderView.self, metadata: api.asAlice)
            #expect(view.orderID == first.orderID)
            // A position past the end of the log is refused at once, not waited for until the deadline.
            let began = ContinuousClock.now
            error = await api.failure(
                "QueryService", "GetOrder",
                bytes: GetOrder(orderID: first.orderID, userID: api.alice, minPosition: 1_000_000).protoBytes,
                metadata: api.asAlice, timeout: .seconds(20))
            #expect(error?.code == .outOfRange)
            #expect(error?.details?.errorInfo?.reason == "POSITION_NOT_COMMITTED")
            #expect(error?.details?.errorInfo?.metadata["min_position"] == "1000000")
            #expect(error?.details?.errorInfo?.metadata["head_position"].flatMap { Int64($0) } ?? 0 > 0)
            #expect(ContinuousClock.now - began < .seconds(10))
            // One no log can reach is named as sent, not as the largest position there can be.
            error = await api.failure(
                "QueryService", "GetOrder",
                bytes: GetOrder(orderID: first.orderID, userID: api.alice, minPosition: .max).protoBytes,
                metadata: api.asAlice)
            #expect(
                error?.code == .outOfRange && error?.message.contains("\(UInt64.max)") == true,
                "\(String(describing: error))")
        }
    }

    @Test func aSubscriptionResumesFiltersChecksPointsAndEndsWithAResumePointOnShutdown() async throws {
        try await withAPI { api in
            _ = try await api.connect(api.alice, metadata: api.asAlice)
            _ = try await api.connect(api.bob, metadata: api.asBob)
            let head = try await api.store.headPosition()
            let path = APIHarness.path("EventStreamService", "Subscribe")

            // Alice's view: only her events, from after position 3, then live; checkpoints while idle.
            let request = SubscribeRequest(checkpointIntervalMs: 100, start: .afterPosition(3))
            let (events, checkpoint, status) = try await api.client.serverStreaming(
                path, request.protoBytes, metadata: api.asAlice
            ) { response in
                var events: [EventEnvelope] = []
                var checkpoint: SubscriptionCheckpoint?
                var status: RPCError?
                do {
                    for try await bytes in response.messages {
                        let message = try SubscribeResponse(protoBytes: bytes)
                        switch message.message {
                        case .event(let event)?: events.append(event)
                        case .checkpoint(let point)?:
                            checkpoint = point
                            // Idle and caught up: the server drains.
                            if point.position >= UInt64(head) { api.shutdown.trigger() }
                        default: break
                        }
                    }
                } catch let error as RPCError {
                    status = error
                }
                return (events, checkpoint, status)
            }
            #expect(!events.isEmpty)
            #expect(events.allSatisfy { $0.metadata?.userID == api.alice })
            #expect(events.map(\.globalPosition) == events.map(\.globalPosition).sorted())
            #expect((events.first?.globalPosition ?? 0) > 3)
            #expect(checkpoint.map { $0.position >= UInt64(head) } == true)
            #expect(status?.code == .unavailable)
            #expect(status?.details?.errorInfo?.reason == "SHUTTING_DOWN")
            #expect(
                status?.details?.errorInfo?.metadata["resume_after_position"] == checkpoint.map { "\($0.position)" })
        }
    }

    @Test func aFilteredSubscriptionThatMatchesNothingIsCheckpointedAtTheHead() async throws {
        try await withAPI { api in
            _ = try await api.connect(api.alice, metadata: api.asAlice)
            let head = try await api.store.headPosition()
            let path = APIHarness.path("EventStreamService", "Subscribe")
            // No automation was deleted: nothing matches, and the subscriber still learns that
            // everything up to the head is behind it (it was told 0, and re-read the log on resume).
            let request = SubscribeRequest(
                filter: SubscriptionFilter(eventTypes: ["AutomationDeleted"]), checkpointIntervalMs: 100)
            let (caughtUp, checkpoint) = try await api.client.serverStreaming(
                path, request.protoBytes, metadata: api.asService, timeout: .seconds(20)
            ) { response -> (UInt64?, UInt64?) in
                var caughtUp: UInt64?
                for try await bytes in response.messages {
                    let message = try SubscribeResponse(protoBytes: bytes)
                    switch message.message {
                    case .caughtUp(let point)?: caughtUp = point.position
                    // The first checkpoint after catching up (a slow catch-up has some on the way).
                    case .checkpoint(let point)? where caughtUp != nil: return (caughtUp, point.position)
                    default: break
                    }
                }
                return (caughtUp, nil)
            }
            // At or past the head read before (the onboarding saga may still be committing).
            #expect(caughtUp.map { $0 >= UInt64(head) } == true, "\(String(describing: caughtUp))")
            #expect(checkpoint.map { $0 >= UInt64(head) } == true, "\(String(describing: checkpoint))")
        }
    }

    @Test func subscriptionRequestsAreChecked() async throws {
        try await withAPI { api in
            let path = APIHarness.path("EventStreamService", "Subscribe")
            let bad: [(SubscribeRequest, String)] = [
                (SubscribeRequest(filter: SubscriptionFilter(streams: ["not a stream"])), "filter.streams"),
                // A misspelt stream type, which would match nothing for ever.
                (SubscribeRequest(filter: SubscriptionFilter(streamTypes: ["order", "ordr"])), "filter.stream_types"),
                // And a misspelt event type.
                (
                    SubscribeRequest(filter: SubscriptionFilter(eventTypes: ["OrderCreated", "OrderFiled"])),
                    "filter.event_types"
                ),
                (
                    SubscribeRequest(start: .afterStreamVersion(StreamVersion(stream: "order-x"))),
                    "after_stream_version.stream"
                ),
                (SubscribeRequest(checkpointIntervalMs: 1), "checkpoint_interval_ms"),
                (
                    SubscribeRequest(
                        filter: SubscriptionFilter(
                            streams: (0...1_000).map { _ in "order-\(UUID().uuidString.lowercased())" })),
                    "filter.streams"
                ),
                // A filter that leaves out the stream after whose version it reads: nothing, for ever.
                (
                    SubscribeRequest(
                        filter: SubscriptionFilter(streamTypes: ["automation"]),
                        start: .afterStreamVersion(StreamVersion(stream: "order-\(UUID().uuidString.lowercased())"))),
                    "filter.stream_types"
                ),
            ]
            for (request, field) in bad {
                do {
                    try await api.subscribeToTheEnd(path, request)
                    Issue.record("accepted a subscription with a bad \(field)")
                } catch let error as RPCError {
                    #expect(error.code == .invalidArgument)
                    #expect(error.details?.badRequest?.fieldViolations.first?.field == field, "\(error)")
                }
            }
            // Every type the server writes is accepted: the subscription catches up.
            let known = SubscribeRequest(
                filter: SubscriptionFilter(
                    streamTypes: TradeCoreApplication.streamTypes.sorted(),
                    eventTypes: TradeCoreApplication.eventTypes.sorted()),
                start: .afterPosition(UInt64(try await api.store.headPosition())))
            let caughtUp = try await api.client.serverStreaming(path, known.protoBytes, metadata: api.asService) {
                response in
                for try await bytes in response.messages {
                    if case .caughtUp? = try SubscribeResponse(protoBytes: bytes).message { return true }
                }
                return false
            }
            #expect(caughtUp)
        }
    }

    @Test func aSubscriptionAfterWhatIsCommittedIsRefusedInsteadOfSkippingWhatComesNext() async throws {
        try await withAPI { api in
            let connected = try await api.connect(api.alice, metadata: api.asAlice)
            let head = try await api.store.headPosition()
            let stream = "broker_account-\(connected.accountID.lowercasedText)"
            let version = try await api.store.streamVersion(try StreamName(stream)) ?? -1
            let path = APIHarness.path("EventStreamService", "Subscribe")
            let refused: [(SubscribeRequest, String, String)] = [
                // Far enough ahead that the onboarding saga, still at work, cannot reach them meanwhile.
                (SubscribeRequest(start: .afterPosition(UInt64(head) + 1_000)), "AFTER_THE_HEAD", "after_position"),
                (
                    SubscribeRequest(
                        start: .afterStreamVersion(StreamVersion(stream: stream, version: UInt64(version + 1_000)))),
                    "AFTER_THE_STREAM_END", "after_stream_version.version"
                ),
            ]
            for (request, reason, field) in refused {
                do {
                    try await api.subscribeToTheEnd(path, request)
                    Issue.record("accepted a subscription after what is committed: \(reason)")
                } catch let error as RPCError {
                    #expect(error.code == .outOfRange, "\(error)")
                    #expect(error.details?.errorInfo?.reason == reason)
                    #expect(error.details?.badRequest?.fieldViolations.first?.field == field)
                }
            }
            // At the head (or the stream's last version) is where a caught-up subscriber resumes:
            // accepted, and the next event arrives.
            let atHead = SubscribeRequest(checkpointIntervalMs: 100, start: .afterPosition(UInt64(head)))
            let next = try await api.client.serverStreaming(path, atHead.protoBytes, metadata: api.asService) {
                response in
                _ = try await api.connect(api.bob, metadata: api.asBob)
                for try await bytes in response.messages {
                    if case .event(let event)? = try SubscribeResponse(protoBytes: bytes).message {
                        return event.globalPosition
                    }
                }
                return UInt64(0)
            }
            #expect(next == UInt64(head) + 1)
        }
    }
}

extension APIHarness {
    /// Subscribes as the service and reads until the call ends; throws the call's status.
    func subscribeToTheEnd(_ path: String, _ request: SubscribeRequest) async throws {
        try await client.serverStreaming(path, request.protoBytes, metadata: asService) { response in
            for try await _ in response.messages {}
        }
    }
}
