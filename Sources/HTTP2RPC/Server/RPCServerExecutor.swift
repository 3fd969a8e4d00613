/// Where a running call's answer goes: the connection (``ConnectionCallSink``), or a test's
/// recorder. Called from the call's task.
protocol RPCCallSink: Sendable {
    /// Queues response messages of a streaming call, in order; suspends while the peer does not
    /// read, and throws once the call has ended or a message may not be sent.
    func write(contentsOf messages: some Collection<[UInt8]> & Sendable) async throws
    /// Ends the call with its one response and status OK.
    func respond(_ response: RPCServerResponse)
    /// Ends the call with status OK and `trailers`, after the messages written.
    func complete(trailers: RPCMetadata)
    /// Ends the call with the status `error` maps to (``RPCError/from(_:)``).
    func fail(_ error: any Error)
}

/// What a call brings its handler.
enum RPCCallInbound: Sendable {
    /// The one request message of a unary or server-streaming call.
    case message([UInt8])
    /// The request messages of a bidirectional or client-streaming call, as they arrive.
    case stream(RPCRequestStream)
}

/// Runs a method's handler over a call's inbound and outbound halves, apart from any transport:
/// each handler shape (unary, server streaming, bidirectional) becomes one closure of the same
/// type when it is registered, so the connection starts every call the same way.
enum RPCServerExecutor {
    /// A registered method, erased: runs the call to its end, which it reports to the sink.
    typealias Run = @Sendable (RPCCallInbound, RPCServerContext, any RPCCallSink) async -> Void

    static func unary(_ body: @escaping RPCRouter.UnaryHandler) -> Run {
        { inbound, context, sink in
            guard case .message(let message) = inbound else {
                return sink.fail(RPCError(.internal, "a unary method was given a request stream"))
            }
            do {
                sink.respond(try await body(RPCServerRequest(message: message, context: context)))
            } catch {
                sink.fail(error)
            }
        }
    }

    static func serverStreaming(_ body: @escaping RPCRouter.ServerStreamingHandler) -> Run {
        { inbound, context, sink in
            guard case .message(let message) = inbound else {
                return sink.fail(RPCError(.internal, "a server-streaming method was given a request stream"))
            }
            do {
                let trailers = try await body(
                    RPCServerRequest(message: message, context: context), RPCResponseWriter(sink: sink))
                sink.complete(trailers: trailers)
            } catch {
                sink.fail(error)
            }
        }
    }

    static func bidirectional(_ body: @escaping RPCRouter.BidirectionalHandler) -> Run {
        { inbound, context, sink in
            guard case .stream(let requests) = inbound else {
                return sink.fail(RPCError(.internal, "a streaming method was given a single message"))
            }
            do {
                sink.complete(trailers: try await body(requests, context, RPCResponseWriter(sink: sink)))
            } catch {
                sink.fail(error)
            }
        }
    }
}
