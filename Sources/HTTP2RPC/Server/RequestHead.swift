import NIOCore

/// What a request's header block said, gathered field by field as nghttp2 hands them over.
struct RequestHead {
    /// RFC 9113 section 6.5.2: each field counts its name, its value and 32 bytes.
    var listBytes = 0
    /// Over the limit: the fields after that are not kept.
    var tooLarge = false
    /// `:method` was POST (nil: no `:method` seen).
    var methodIsPost: Bool?
    var path: String?
    /// The handler, when the path was recognised as the connection's last route without a lookup.
    var knownHandler: RPCRouter.Handler?
    var contentTypeAccepted = false
    var timeout: String?
    var encoding: String?
    var metadata = RPCMetadata()

    /// A call the server takes on.
    struct Accepted {
        var path: String
        var handler: RPCRouter.Handler
        /// From `grpc-timeout`, on the loop's clock.
        var deadline: NIODeadline?
        var metadata: RPCMetadata
        /// From `grpc-encoding`: how compressed request messages are to be inflated.
        var encoding: MessageEncoding?
    }

    enum Verdict {
        case accept(Accepted)
        /// Refused with a gRPC status in a trailers-only response. `abusive`: a refusal that costs
        /// the connection's control-frame budget (a stream of them closes it).
        case reject(RPCError, abusive: Bool)
        /// Not a gRPC request at all: an HTTP status with one header field saying what is wanted, and
        /// a line of text saying it to a person (`curl --http2-prior-knowledge` shows it).
        case httpError(status: StaticString, field: (name: StaticString, value: StaticString), text: StaticString)
    }

    /// Judges the complete header block: a pure function of the block, the routes, whether the
    /// server is draining, the header list limit and the time.
    func verdict(router: RPCRouter, draining: Bool, headerListLimit: Int, now: NIODeadline) -> Verdict {
        if draining {
            return .reject(RPCError(.unavailable, "the server is shutting down"), abusive: false)
        }
        if tooLarge {
            return .reject(
                RPCError(.resourceExhausted, "request headers exceed the limit of \(headerListLimit) bytes"),
                abusive: true)
        }
        guard methodIsPost == true else {
            return .httpError(
                status: "405", field: ("allow", "POST"),
                text: "This port serves gRPC: POST requests with content-type application/grpc.\n")
        }
        guard contentTypeAccepted else {
            return .httpError(
                status: "415", field: ("accept", "application/grpc"),
                text: "This port serves gRPC: requests with content-type application/grpc (or +proto).\n")
        }
        guard let path, let handler = knownHandler ?? router.handlers[path] else {
            return .reject(RPCError(.unimplemented, "unknown method \(path ?? "(none)")"), abusive: false)
        }
        var messageEncoding: MessageEncoding?
        if let encoding, encoding != "identity" {
            guard let known = MessageEncoding(rawValue: encoding) else {
                return .reject(
                    RPCError(
                        .unimplemented,
                        "message encoding \(encoding) is not supported (the server reads \(MessageEncoding.accepted))"),
                    abusive: false)
            }
            messageEncoding = known
        }
        var deadline: NIODeadline?
        if let timeout {
            guard let nanoseconds = GRPCTimeout.parse(Substring(timeout)) else {
                return .reject(RPCError(.internal, "malformed grpc-timeout \"\(timeout)\""), abusive: false)
            }
            deadline = now + .nanoseconds(nanoseconds)
        }
        return .accept(
            Accepted(path: path, handler: handler, deadline: deadline, metadata: metadata, encoding: messageEncoding))
    }

    /// `application/grpc`, optionally `+proto`, optionally with parameters.
    static func isGRPCProtoContentType(_ value: String) -> Bool {
        var mediaType = Substring(value)
        if let semicolon = mediaType.firstIndex(of: ";") { mediaType = mediaType[..<semicolon] }
        while mediaType.last == " " || mediaType.last == "\t" { mediaType.removeLast() }
        let lowered = mediaType.lowercased()
        return lowered == "application/grpc" || lowered == "application/grpc+proto"
    }
}
