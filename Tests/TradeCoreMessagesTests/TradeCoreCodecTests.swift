import Testing
import TradeCoreMessages
import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

private func decodeError<M: ProtoMessage>(_ type: M.Type, _ bytes: [UInt8]) -> ProtoDecodingError? {
    do {
        _ = try M(protoBytes: bytes)
        return nil
    } catch {
        return error
    }
}

@Suite struct TradeCoreCodecTests {
    let userID = UUID(uuid: (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16))
    let automationID = UUID(uuid: (0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xEE))

    func createOrder() throws -> CreateOrder {
        let quantity = try #require(ExactDecimal("100"))
        let limitPrice = try #require(ExactDecimal("150.25"))
        return CreateOrder(
            userID: userID, automationID: automationID, symbol: "AAPL", side: .buy, quantity: quantity,
            orderType: .limit, limitPrice: limitPrice, timeInForce: .goodTillCancelled, accountID: automationID)
    }

    @Test func createOrderHasTheDocumentedEncoding() throws {
        var expected: [UInt8] = [0x0A, 16] + (1...16)
        expected += [0x12, 16, 0xFF] + [UInt8](repeating: 0, count: 14) + [0xEE]
        expected += [0x1A, 4] + Array("AAPL".utf8)
        expected += [0x20, 1, 0x2A, 3] + Array("100".utf8)
        expected += [0x30, 2, 0x3A, 6] + Array("150.25".utf8)
        expected += [0x48, 2]
        expected += [0x5A, 16, 0xFF] + [UInt8](repeating: 0, count: 14) + [0xEE]
        let order = try createOrder()
        #expect(order.protoBytes == expected)
        #expect(try CreateOrder(protoBytes: expected) == order)
    }

    @Test func missingRequiredFieldNamesMessageAndField() throws {
        var order = try createOrder().protoBytes
        order.removeFirst(18)  // user_id
        let error = decodeError(CreateOrder.self, order)
        #expect(error?.reason == .missingRequiredField)
        #expect(error?.messageName == "tradecore.order.v1.CreateOrder")
        #expect(error?.fieldName == "user_id")
        #expect(error?.fieldNumber == 1)
    }

    @Test func uuidsMustBeSixteenBytes() {
        var writer = ProtoWriter()
        writer.writeBytesField(1, [UInt8](repeating: 7, count: 15))
        let error = decodeError(GetOrder.self, writer.bytes)
        #expect(error?.reason == .invalidValue("a UUID must be 16 bytes, not 15"))
        #expect(error?.fieldName == "order_id")
    }

    @Test func decimalsMustBeCanonical() throws {
        for text in ["1.0", "+1", "1e3", "01", "-0", "١"] {
            var writer = ProtoWriter()
            writer.writeBytesField(1, (1...16).map { UInt8($0) })
            writer.writeBytesField(2, (1...16).map { UInt8($0) })
            writer.writeBytesField(3, (1...16).map { UInt8($0) })
            writer.writeStringField(4, text)
            writer.writeStringField(5, "1")
            writer.writeInt64Field(6, 1)
            let error = decodeError(AddFill.self, writer.bytes)
            #expect(
                error?.reason == .invalidValue("not a decimal in canonical form: \(ExactDecimal.canonicalForm)"),
                "\(text)")
            #expect(error?.fieldName == "quantity")
        }
    }

    @Test func unspecifiedEnumIsAbsentAndUnknownEnumIsRejected() throws {
        var bytes = try createOrder().protoBytes
        // side = 0 appended: a later occurrence wins, and 0 means absent.
        let unspecified = decodeError(CreateOrder.self, bytes + [0x20, 0x00])
        #expect(unspecified?.reason == .missingRequiredField)
        #expect(unspecified?.fieldName == "side")
        bytes += [0x20, 0x09]
        let unknown = decodeError(CreateOrder.self, bytes)
        #expect(unknown?.reason == .invalidValue("unknown tradecore.common.v1.OrderSide value 9"))
        // An optional enum at 0 reads as nil.
        let order = try CreateOrder(protoBytes: try createOrder().protoBytes + [0x48, 0x00])
        #expect(order.timeInForce == nil)
    }

    @Test func nestedErrorsCarryThePathThroughTheEnvelope() throws {
        var metadata = ProtoWriter()
        metadata.writeBytesField(4, [1, 2, 3])  // user_id, 3 bytes
        var envelope = ProtoWriter()
        envelope.writeStringField(2, "order-x")
        envelope.writeStringField(3, "order")
        envelope.writeStringField(5, "OrderCreated")
        envelope.writeBytesField(6, (1...16).map { UInt8($0) })
        envelope.writeInt64Field(7, 1)
        envelope.writeBytesField(8, metadata.bytes)
        let error = decodeError(EventEnvelope.self, envelope.bytes)
        #expect(error?.path.map(\.fieldName) == ["metadata", "user_id"])
        #expect(
            error?.path.map(\.message) == ["tradecore.events.v1.EventEnvelope", "tradecore.events.v1.EventMetadata"])
    }

    @Test func subscribeResponseIsAOneof() throws {
        let checkpoint = SubscribeResponse(
            message: .checkpoint(SubscriptionCheckpoint(position: 7, headPosition: .max)))
        #expect(try SubscribeResponse(protoBytes: checkpoint.protoBytes) == checkpoint)
        let caughtUp = SubscribeResponse(message: .caughtUp(SubscriptionCaughtUp()))
        // An empty member message is still present: tag 3, length 0.
        #expect(caughtUp.protoBytes == [0x1A, 0x00])
        #expect(try SubscribeResponse(protoBytes: caughtUp.protoBytes) == caughtUp)
        #expect(try SubscribeResponse(protoBytes: []).message == nil)
    }

    @Test func automationWithEveryFieldRoundTrips() throws {
        let command = CreateAutomation(
            userID: userID, name: "Breakout ✨", symbol: "ES",
            positionSizing: PositionSizing(method: .riskPercent, value: try #require(ExactDecimal("0.5"))),
            accountIDs: [userID, automationID], assetType: .future,
            optionDetails: OptionDetails(
                optionType: .put, strikePrice: ExactDecimal("4500.5"), expirationDate: "2026-12-18",
                maxDaysToExpiration: .max, contractMultiplier: 100),
            futureDetails: FutureDetails(
                contractSymbol: "ESZ6", expirationDate: "2026-12-18", multiplier: ExactDecimal("50"),
                tickSize: ExactDecimal("0.25"), exchange: "CME"),
            sidePreference: .longOnly,
            stopLoss: StopLoss(offsetType: .percent, value: try #require(ExactDecimal("2")), trailing: true),
            takeProfit: TakeProfit(offsetType: .amount, value: try #require(ExactDecimal("12.75"))),
            orderPreferences: OrderPreferences(
                orderType: .stopLimit, timeInForce: .day, limitOffset: ExactDecimal("0.01"), extendedHours: true),
            autoSubmit: true, metadata: ["source": "tradingview", "": "", "ключ": "значение"], sagaID: automationID)
        #expect(try CreateAutomation(protoBytes: command.protoBytes) == command)
    }
}

@Suite struct EventPayloadTests {
    let id = UUID(uuid: (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16))

    func envelope(eventType: String, payload: [UInt8]) -> EventEnvelope {
        EventEnvelope(
            stream: "order-x", streamType: "order", eventType: eventType, eventID: id, recordedAt: 1, payload: payload)
    }

    @Test func payloadDecodesAsTheEventItsTypeNames() throws {
        let placed = OrderPlaced(orderID: id, brokerOrderID: "B-1", placedAt: 42)
        let decoded = try envelope(eventType: "OrderPlaced", payload: placed.protoBytes).decodedPayload()
        #expect(decoded as? OrderPlaced == placed)
        #expect(TradeCoreSchema.domainEventTypesByName.count == TradeCoreSchema.domainEventTypes.count)
    }

    @Test func unknownEventTypeAndBadPayloadNameTheEnvelopeField() {
        do {
            _ = try envelope(eventType: "OrderExploded", payload: []).decodedPayload()
            Issue.record("decoded an unknown event type")
        } catch {
            #expect(error.fieldName == "event_type")
        }
        do {
            _ = try envelope(eventType: "OrderPlaced", payload: [0x0A, 0x01, 0x00]).decodedPayload()
            Issue.record("decoded a 1-byte order id")
        } catch {
            #expect(error.path.map(\.fieldName) == ["payload", "order_id"])
        }
    }

    @Test func decodingErrorsNameTheFieldByItsPath() throws {
        var writer = ProtoWriter()
        writer.writeBytesField(1, [UInt8](repeating: 1, count: 16))
        writer.writeStringField(2, "x")
        writer.writeMessageField(3) { (nested: inout ProtoWriter) in
            nested.writeInt32Field(1, 1)
            nested.writeStringField(2, "1.50")
        }
        do {
            _ = try AutomationConfig(protoBytes: writer.bytes)
            Issue.record("accepted a non-canonical decimal")
        } catch {
            #expect(error.fieldPath == "position_sizing.value")
            #expect(error.reason.description == "not a decimal in canonical form: \(ExactDecimal.canonicalForm)")
        }
        #expect(ProtoDecodingError(.truncated).fieldPath == nil)
    }
}
