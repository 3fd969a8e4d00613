import Benchmark
import TradeCoreMessages
import WireFormat

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

// Encode and decode of the hot messages: a CreateOrder command, as every order request carries,
// and an event envelope with an OrderCreated payload, as every subscriber receives.
// Target on a 2-core machine: decoding CreateOrder in at most 1 µs and 3 allocations.

private enum Samples {
    static let userID = UUID(
        uuid: (0x01, 0x93, 0x5F, 0x3A, 0x7C, 0x11, 0x7D, 0x42, 0x8A, 0x10, 0x3B, 0x55, 0x6E, 0x01, 0x02, 0x03))
    static let automationID = UUID(
        uuid: (0x01, 0x93, 0x5F, 0x3A, 0x7C, 0x11, 0x7D, 0x42, 0x8A, 0x10, 0x3B, 0x55, 0x6E, 0x0A, 0x0B, 0x0C))

    static func createOrder() throws -> CreateOrder {
        guard let quantity = ExactDecimal("100"), let limit = ExactDecimal("150.25") else { throw SampleError() }
        return try CreateOrder(
            userID: userID, automationID: automationID, symbol: "AAPL", side: .buy, quantity: quantity,
            orderType: .limit, limitPrice: limit, timeInForce: .day, sagaID: automationID)
    }

    static func envelope() throws -> EventEnvelope {
        guard let quantity = ExactDecimal("100"), let limit = ExactDecimal("150.25") else { throw SampleError() }
        let created = OrderCreated(
            orderID: userID, userID: userID, automationID: automationID, symbol: "AAPL", side: .buy,
            quantity: quantity, orderType: .limit, limitPrice: limit, timeInForce: .day,
            createdAt: 1_764_288_000_123_456_789)
        return EventEnvelope(
            globalPosition: 1_234_567, stream: "order-01935f3a-7c11-7d42-8a10-3b556e010203", streamType: "order",
            version: 0, eventType: "OrderCreated", eventID: automationID, recordedAt: 1_764_288_000_123_456_789,
            metadata: EventMetadata(
                causationID: userID, correlationID: automationID, sagaID: nil, userID: userID,
                commandType: "tradecore.order.v1.CreateOrder"),
            payload: created.protoBytes)
    }

    struct SampleError: Error {}
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000_000
    )

    guard let order = try? Samples.createOrder(), let envelope = try? Samples.envelope() else {
        print("could not build the benchmark samples")
        return
    }
    let orderBytes = order.protoBytes
    let envelopeBytes = envelope.protoBytes

    Benchmark("CreateOrder decode") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? CreateOrder(protoBytes: orderBytes))
        }
    }

    Benchmark("CreateOrder encode") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(order.protoBytes)
        }
    }

    Benchmark("EventEnvelope decode") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? EventEnvelope(protoBytes: envelopeBytes))
        }
    }

    Benchmark("EventEnvelope encode") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(envelope.protoBytes)
        }
    }
}
