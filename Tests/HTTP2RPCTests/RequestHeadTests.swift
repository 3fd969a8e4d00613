import NIOCore
import Testing

@testable import HTTP2RPC

/// The judgement of a complete request header block, as a pure function: accept (route and
/// deadline), reject (a status), or an HTTP error (405, 415).
@Suite("Request head verdict")
struct RequestHeadTests {
    private static let now = NIODeadline.uptimeNanoseconds(5_000_000_000)

    private func router() throws -> RPCRouter {
        var router = RPCRouter()
        try router.unary("/test.Test/Echo") { RPCServerResponse(message: $0.message) }
        return router
    }

    private func validHead() -> RequestHead {
        var head = RequestHead()
        head.methodIsPost = true
        head.path = "/test.Test/Echo"
        head.contentTypeAccepted = true
        head.metadata.add("x-trace", "abc")
        return head
    }

    private func verdict(
        _ head: RequestHead, draining: Bool = false, router: RPCRouter? = nil
    ) throws -> RequestHead.Verdict {
        head.verdict(router: try router ?? self.router(), draining: draining, headerListLimit: 8192, now: Self.now)
    }

    private func rejection(_ verdict: RequestHead.Verdict) -> (code: RPCStatus.Code, message: String, abusive: Bool)? {
        guard case .reject(let error, let abusive) = verdict else { return nil }
        return (error.code, error.message, abusive)
    }

    @Test("a valid head is accepted with its route, metadata and the deadline its grpc-timeout gives")
    func accepted() throws {
        var head = validHead()
        head.timeout = "250m"
        head.encoding = "identity"
        guard case .accept(let call) = try verdict(head) else {
            Issue.record("refused")
            return
        }
        #expect(call.path == "/test.Test/Echo")
        #expect(call.deadline == Self.now + .milliseconds(250))
        #expect(call.metadata.first("x-trace") == "abc")
        #expect(call.handler.waitsForWholeRequest, "a unary method waits for its request")
    }

    @Test("without grpc-timeout there is no deadline; a route already known needs no lookup")
    func knownRoute() throws {
        var head = validHead()
        head.knownHandler = RPCRouter.Handler(
            waitsForWholeRequest: false, run: RPCServerExecutor.bidirectional { _, _, _ in [:] })
        guard case .accept(let call) = try verdict(head, router: RPCRouter()) else {
            Issue.record("refused")
            return
        }
        #expect(call.deadline == nil)
        #expect(!call.handler.waitsForWholeRequest, "the known handler, not a lookup")
    }

    @Test("a method other than POST, or none, is HTTP 405 naming POST")
    func notPost() throws {
        for method in [false, nil] as [Bool?] {
            var head = validHead()
            head.methodIsPost = method
            guard case .httpError(let status, let field, let text) = try verdict(head) else {
                Issue.record("not an HTTP error for \(String(describing: method))")
                continue
            }
            #expect("\(status)" == "405" && "\(field.name)" == "allow" && "\(field.value)" == "POST")
            #expect("\(text)".contains("POST requests with content-type application/grpc"))
        }
    }

    @Test("a content type other than gRPC is HTTP 415 naming application/grpc")
    func wrongContentType() throws {
        var head = validHead()
        head.contentTypeAccepted = false
        guard case .httpError(let status, let field, let text) = try verdict(head) else {
            Issue.record("not an HTTP error")
            return
        }
        #expect("\(status)" == "415" && "\(field.name)" == "accept" && "\(field.value)" == "application/grpc")
        #expect("\(text)".contains("content-type application/grpc"))
    }

    @Test("gzip and deflate are read; identity or none means plain messages")
    func encodings() throws {
        for (named, expected) in [
            ("gzip", MessageEncoding.gzip), ("deflate", .deflate), ("identity", nil), (nil, nil),
        ] as [(String?, MessageEncoding?)] {
            var head = validHead()
            head.encoding = named
            guard case .accept(let call) = try verdict(head) else {
                Issue.record("grpc-encoding \(named ?? "(none)") was refused")
                continue
            }
            #expect(call.encoding == expected, "grpc-encoding \(named ?? "(none)")")
        }
    }

    @Test("refusals carry their status; only an oversized header list counts as abuse")
    func refusals() throws {
        var unknown = validHead()
        unknown.path = "/test.Test/Nothing"
        var noPath = validHead()
        noPath.path = nil
        var compressed = validHead()
        compressed.encoding = "br"
        var badTimeout = validHead()
        badTimeout.timeout = "soon"
        var tooLarge = validHead()
        tooLarge.tooLarge = true

        let cases: [(RequestHead.Verdict, RPCStatus.Code, String, Bool)] = [
            (try verdict(unknown), .unimplemented, "unknown method /test.Test/Nothing", false),
            (try verdict(noPath), .unimplemented, "unknown method (none)", false),
            (
                try verdict(compressed), .unimplemented,
                "message encoding br is not supported (the server reads identity,deflate,gzip)", false
            ),
            (try verdict(badTimeout), .internal, "malformed grpc-timeout \"soon\"", false),
            (try verdict(tooLarge), .resourceExhausted, "request headers exceed the limit of 8192 bytes", true),
            (try verdict(validHead(), draining: true), .unavailable, "the server is shutting down", false),
        ]
        for (verdict, code, message, abusive) in cases {
            let refused = rejection(verdict)
            #expect(refused?.code == code, "\(message)")
            #expect(refused?.message == message)
            #expect(refused?.abusive == abusive, "\(message)")
        }
    }

    @Test("a draining server refuses even a head that is not gRPC, before judging it")
    func drainingFirst() throws {
        var head = validHead()
        head.methodIsPost = false
        #expect(rejection(try verdict(head, draining: true))?.code == .unavailable)
    }
}
