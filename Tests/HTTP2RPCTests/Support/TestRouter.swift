import NIOCore
import Synchronization

@testable import HTTP2RPC

/// Paths served by the test router.
enum TestMethod {
    static let echo = "/test.Test/Echo"
    static let fail = "/test.Test/Fail"
    static let crash = "/test.Test/Crash"
    static let convertible = "/test.Test/Convertible"
    static let hang = "/test.Test/Hang"
    static let stream = "/test.Test/Stream"
    static let streamThenFail = "/test.Test/StreamThenFail"
    static let burst = "/test.Test/Burst"
    static let bidiEcho = "/test.Test/BidiEcho"
    static let metadata = "/test.Test/Metadata"
}

struct DomainNotFound: RPCErrorConvertible {
    var rpcError: RPCError { RPCError(.notFound, "order 42 does not exist") }
}

struct SecretBug: Error, CustomStringConvertible {
    var description: String { "database password is hunter2" }
}

/// What handlers of the test router observed, readable from the test.
final class HandlerProbe: Sendable {
    let started = Atomic<Int>(0)
    let cancelled = Atomic<Int>(0)
    let written = Atomic<Int>(0)
}

/// Streaming requests encode the message count and size in the request: 4 bytes each.
func streamRequest(count: Int, size: Int) -> [UInt8] {
    func be(_ value: Int) -> [UInt8] {
        [UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
    return be(count) + be(size)
}

func makeTestRouter(probe: HandlerProbe = HandlerProbe()) -> RPCRouter {
    var router = RPCRouter()
    do {
        try router.unary(TestMethod.echo) { request in
            RPCServerResponse(message: request.message)
        }
        try router.unary(TestMethod.metadata) { request in
            // Echo the caller's metadata back, split between headers and trailers.
            var headers = RPCMetadata()
            var trailers = RPCMetadata()
            for entry in request.context.metadata where entry.key.hasPrefix("x-") {
                headers.add("echo-" + entry.key, entry.value)
                trailers.add("trailer-" + entry.key, entry.value)
            }
            return RPCServerResponse(message: request.message, metadata: headers, trailers: trailers)
        }
        try router.unary(TestMethod.fail) { request in
            throw RPCError(
                .failedPrecondition, String(decoding: request.message, as: UTF8.self),
                metadata: ["detail-bin": .binary([1, 2, 3])])
        }
        try router.unary(TestMethod.crash) { _ in throw SecretBug() }
        try router.unary(TestMethod.convertible) { _ in throw DomainNotFound() }
        try router.unary(TestMethod.hang) { _ in
            probe.started.add(1, ordering: .sequentiallyConsistent)
            do {
                try await Task.sleep(for: .seconds(3600))
            } catch {
                probe.cancelled.add(1, ordering: .sequentiallyConsistent)
                throw error
            }
            return RPCServerResponse(message: [])
        }
        try router.serverStreaming(TestMethod.stream) { request, writer in
            let bytes = request.message
            let count = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
            let size = Int(bytes[4]) << 24 | Int(bytes[5]) << 16 | Int(bytes[6]) << 8 | Int(bytes[7])
            probe.started.add(1, ordering: .sequentiallyConsistent)
            do {
                for index in 0..<count {
                    var message = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: size)
                    if size >= 4 {
                        message[0] = UInt8(index >> 24 & 0xFF)
                        message[1] = UInt8(index >> 16 & 0xFF)
                        message[2] = UInt8(index >> 8 & 0xFF)
                        message[3] = UInt8(index & 0xFF)
                    }
                    try await writer.write(message)
                    probe.written.add(1, ordering: .sequentiallyConsistent)
                }
            } catch {
                probe.cancelled.add(1, ordering: .sequentiallyConsistent)
                throw error
            }
            return ["x-count": .string("\(count)")]
        }
        try router.serverStreaming(TestMethod.streamThenFail) { _, writer in
            try await writer.write([1])
            try await writer.write([2])
            throw RPCError(.aborted, "stopped after two")
        }
        try router.serverStreaming(TestMethod.burst) { request, writer in
            // One write of several messages: each request byte is the size of one of them.
            try await writer.write(
                contentsOf: request.message.enumerated().map { index, size in
                    [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: Int(size))
                })
            return [:]
        }
        try router.bidirectional(TestMethod.bidiEcho) { requests, _, writer in
            var count = 0
            for try await message in requests {
                count += 1
                try await writer.write(message)
            }
            return ["x-received": .string("\(count)")]
        }
    } catch {
        preconditionFailure("test router: \(error)")
    }
    return router
}
