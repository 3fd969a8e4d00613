import NIOCore
import Testing

@testable import HTTP2RPC

/// A cleartext connection's first bytes: HTTP/2 goes on, an HTTP/1 request gets a readable answer.
@Suite("HTTP/1 requests on the HTTP/2 port")
struct HTTP1RefusalTests {
    @Test(
        "the first bytes decide: the preface, an HTTP/1 method and a space, anything else",
        arguments: [
            ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HTTP1Refusal.FirstBytes.http2),
            ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\u{4}", .http2),
            ("PRI * HTTP/2.0\r\n", .undecided),
            ("P", .undecided),
            ("GET / HTTP/1.1\r\n", .http1),
            ("POST /tradecore.api.v1.CommandService/CreateOrder HTTP/1.1", .http1),
            ("OPTIONS ", .http1),
            ("PRI * HTTP/1.1\r\n", .http1),
            ("GE", .undecided),
            ("get / HTTP/1.1", .other),
            (" GET", .other),
            ("\u{16}\u{3}\u{1}\0\u{a5}\u{1}", .other),
            ("ABCDEFGHIJKLMNOPQ", .other),
            ("ABCDEFGHIJKLMNOP", .undecided),
        ])
    func classify(_ bytes: String, _ expected: HTTP1Refusal.FirstBytes) {
        #expect(HTTP1Refusal.classify(Array(bytes.utf8)) == expected)
    }

    @Test("an HTTP/1.1 request gets a plain-text 505 and nothing of HTTP/2 before it, then the connection ends")
    func http1RequestIsAnswered() throws {
        let connection = try RawServerConnection(router: makeTestRouter(), handshake: false, refusingHTTP1: true)
        #expect(connection.output.isEmpty, "the server's SETTINGS wait for the client's first bytes")
        try connection.send(bytes: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let text = String(decoding: connection.output, as: UTF8.self)
        #expect(text == HTTP1Refusal.answer)
        #expect(text.hasPrefix("HTTP/1.1 505 HTTP Version Not Supported\r\n"))
        let (head, body) = try #require(text.split(separator: "\r\n\r\n", maxSplits: 1).twoParts)
        #expect(head.contains("content-length: \(body.utf8.count)"))
        #expect(body.contains("speaks HTTP/2 only"))
        #expect(!connection.isOpen)
    }

    @Test("a preface that arrives in pieces is served as HTTP/2, the server's SETTINGS first")
    func prefaceInPieces() throws {
        let connection = try RawServerConnection(router: makeTestRouter(), handshake: false, refusingHTTP1: true)
        try connection.send(bytes: Array(RawFrame.preface.prefix(3)))
        try connection.send(bytes: Array(RawFrame.preface[3..<20]))
        #expect(connection.output.isEmpty)
        try connection.send(bytes: Array(RawFrame.preface[20...]) + RawFrame.settings().bytes)
        #expect(connection.received.first?.kind == .settings)
        try connection.send(RawFrame(.settings, flags: RawFrame.ack))
        try connection.send(RawFrame.headers(stream: 1, RawFrame.grpcRequestFields(path: TestMethod.echo)))
        try connection.send(RawFrame.data(stream: 1, RawFrame.grpcMessage([7]), endStream: true))
        #expect(connection.statusCode(stream: 1) == .ok)
        #expect(connection.frames(.data, stream: 1).flatMap(\.payload) == RawFrame.grpcMessage([7]))
    }

    @Test("bytes that are neither HTTP/2 nor HTTP/1 get the HTTP/2 answer: GOAWAY with PROTOCOL_ERROR")
    func otherBytesGetAGoaway() throws {
        let connection = try RawServerConnection(router: makeTestRouter(), handshake: false, refusingHTTP1: true)
        try connection.send(bytes: [0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00])
        #expect(connection.received.first?.kind == .settings)
        #expect(connection.frames(.goaway).last?.errorCode == HTTP2ErrorCode.protocolError.rawValue)
        #expect(!connection.isOpen)
    }

    @Test("a connection that never sends a byte is still closed with GOAWAY when it idles out")
    func silentConnectionIdlesOut() throws {
        var configuration = RPCServerConfiguration()
        configuration.idleTimeout = .seconds(2)
        let connection = try RawServerConnection(
            router: makeTestRouter(), configuration: configuration, handshake: false, refusingHTTP1: true)
        connection.advanceTime(by: .seconds(1))
        #expect(connection.isOpen)
        #expect(connection.output.isEmpty)
        // The idle timeout, then the grace the last frames get before the close.
        connection.advanceTime(by: .seconds(4))
        #expect(connection.frames(.goaway).last?.errorCode == 0)
        #expect(!connection.isOpen)
    }
}

extension Array where Element == Substring {
    fileprivate var twoParts: (Substring, Substring)? { count == 2 ? (self[0], self[1]) : nil }
}
