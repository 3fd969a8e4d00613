import NIOCore
import Testing

@testable import HTTP2RPC

@Suite("gRPC message framing")
struct DeframerTests {
    private func framed(_ messages: [[UInt8]]) -> [UInt8] {
        var buffer = ByteBuffer()
        for message in messages { GRPCFraming.frame(message, into: &buffer) }
        return Array(buffer.readableBytesView)
    }

    private func deframe(_ bytes: [UInt8], splitAt cuts: [Int], maximum: Int = 1 << 20) throws -> [[UInt8]] {
        var deframer = GRPCMessageDeframer(maximumMessageSize: maximum)
        var messages: [[UInt8]] = []
        var start = 0
        for end in cuts + [bytes.count] {
            bytes[start..<end].withUnsafeBytes { deframer.append($0) }
            while let message = try deframer.next() { messages.append(message) }
            start = end
        }
        #expect(deframer.isAtMessageBoundary)
        return messages
    }

    @Test("messages are recovered whatever byte boundary splits the input")
    func everySplit() throws {
        let messages: [[UInt8]] = [[], [1], Array(0..<200), [7, 7, 7]]
        let bytes = framed(messages)
        for cut in 0...bytes.count {
            #expect(try deframe(bytes, splitAt: [cut]) == messages, "split at \(cut)")
        }
        #expect(try deframe(bytes, splitAt: Array(1..<bytes.count)) == messages, "byte by byte")
    }

    @Test("a length over the limit fails before the payload is buffered")
    func oversized() throws {
        var deframer = GRPCMessageDeframer(maximumMessageSize: 10)
        let prefix: [UInt8] = [0, 0, 0, 0, 11]
        prefix.withUnsafeBytes { deframer.append($0) }
        do {
            _ = try deframer.next()
            Issue.record("an oversized length was accepted")
        } catch {
            #expect(error.code == .resourceExhausted)
        }
        var exact = GRPCMessageDeframer(maximumMessageSize: 10)
        framed([Array(repeating: 1, count: 10)]).withUnsafeBytes { exact.append($0) }
        #expect(try exact.next()?.count == 10)
    }

    @Test("the compressed flag without negotiated encoding, and unknown flags, are errors")
    func flags() {
        for flag: UInt8 in [1, 2, 0x80] {
            var deframer = GRPCMessageDeframer(maximumMessageSize: 100)
            [flag, 0, 0, 0, 1, 42].withUnsafeBytes { deframer.append($0) }
            do {
                _ = try deframer.next()
                Issue.record("flag \(flag) was accepted")
            } catch {
                #expect(error.code == .internal)
                #expect(error.message.contains(flag == 1 ? "compressed" : "flags"))
            }
        }
    }

    @Test("compressed messages are inflated wherever the input splits, each with its length on the wire")
    func compressedMessages() throws {
        let big = [UInt8](repeating: 3, count: 10_000)
        let compressed = Deflate.compress(big, gzip: true)
        var bytes: [UInt8] = [1] + withUnsafeBytes(of: UInt32(compressed.count).bigEndian, Array.init) + compressed
        bytes += framed([[5, 6]])
        for cut in stride(from: 0, through: bytes.count, by: 7) {
            var deframer = GRPCMessageDeframer(maximumMessageSize: 1 << 20)
            deframer.inflate = { payload throws(RPCError) in try MessageEncoding.gzip.inflate(payload, limit: 1 << 20) }
            var delivered: [([UInt8], Int)] = []
            for part in [Array(bytes[..<cut]), Array(bytes[cut...])] {
                let fed = part.withUnsafeBytes { input in
                    Result { () throws(RPCError) in
                        try deframer.process(input) { message, wireLength in
                            delivered.append((message, wireLength))
                            return true
                        }
                    }
                }
                try fed.get()
            }
            #expect(delivered.map(\.0) == [big, [5, 6]], "split at \(cut)")
            #expect(delivered.map(\.1) == [5 + compressed.count, 7], "split at \(cut)")
        }
    }

    @Test("a partial message is reported as not at a boundary")
    func partial() throws {
        var deframer = GRPCMessageDeframer(maximumMessageSize: 100)
        ([0, 0, 0, 0, 3, 1] as [UInt8]).withUnsafeBytes { deframer.append($0) }
        #expect(try deframer.next() == nil)
        #expect(!deframer.isAtMessageBoundary)
        #expect(deframer.bufferedBytes == 1)
    }
}
