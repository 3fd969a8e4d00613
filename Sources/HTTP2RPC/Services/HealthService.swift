import NIOConcurrencyHelpers
import WireFormat

/// The serving status of the server ("") and of each named service, with watchers.
///
/// A server reports SERVING once it has started and NOT_SERVING as soon as it starts to
/// shut down, so load balancers stop sending before the listener closes.
public final class HealthStatus: Sendable {
    private struct State {
        var statuses: [String: HealthCheckResponse.ServingStatus] = [:]
        var watchers:
            [Int: (service: String, continuation: AsyncStream<HealthCheckResponse.ServingStatus>.Continuation)] = [:]
        var nextWatcher = 0
        var shutDown = false
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Sets a status; after ``shutDown()`` nothing changes any more.
    public func set(_ status: HealthCheckResponse.ServingStatus, for service: String = "") {
        let watchers = state.withLockedValue { state -> [AsyncStream<HealthCheckResponse.ServingStatus>.Continuation] in
            guard !state.shutDown else { return [] }
            state.statuses[service] = status
            return state.watchers.values.filter { $0.service == service }.map(\.continuation)
        }
        for watcher in watchers { watcher.yield(status) }
    }

    /// Marks the server and every named service SERVING, naming each service of `paths` (the
    /// router's `/package.Service/Method` paths), so that a probe may ask for a service by name.
    public func setServing(paths: [String]) {
        setAll(.serving, paths: paths)
    }

    /// Marks the server and every named service NOT_SERVING for now (what they need cannot be
    /// reached), without ending watches: ``setServing(paths:)`` turns them back.
    public func setNotServing(paths: [String]) {
        setAll(.notServing, paths: paths)
    }

    private func setAll(_ status: HealthCheckResponse.ServingStatus, paths: [String]) {
        set(status)
        for path in paths {
            let parts = path.split(separator: "/")
            if parts.count == 2 { set(status, for: String(parts[0])) }
        }
    }

    /// Marks the server and every named service NOT_SERVING for good, and ends every watch once
    /// its watcher has that status: a watch left open would hold the drain until its grace period
    /// ran out. A watch that starts afterwards gets the status and ends.
    public func shutDown() {
        // One lock: a watch that starts meanwhile sees NOT_SERVING, never SERVING and then the end.
        let watchers = state.withLockedValue { state in
            state.shutDown = true
            for service in Array(state.statuses.keys) + [""] { state.statuses[service] = .notServing }
            defer { state.watchers.removeAll() }
            return state.watchers.values.map(\.continuation)
        }
        for watcher in watchers {
            watcher.yield(.notServing)
            watcher.finish()
        }
    }

    /// Whether ``shutDown()`` was called.
    public var isShutDown: Bool { state.withLockedValue { $0.shutDown } }

    public func status(of service: String) -> HealthCheckResponse.ServingStatus? {
        state.withLockedValue { $0.statuses[service] }
    }

    /// The current status (SERVICE_UNKNOWN if none) and then every change, until cancelled.
    func watch(_ service: String) -> AsyncStream<HealthCheckResponse.ServingStatus> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: HealthCheckResponse.ServingStatus.self, bufferingPolicy: .bufferingNewest(1))
        let id = state.withLockedValue { state -> Int? in
            continuation.yield(state.statuses[service] ?? .serviceUnknown)
            // After the shutdown a watch hears the status and ends; nothing is left to tell it.
            guard !state.shutDown else { return nil }
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[id] = (service, continuation)
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLockedValue { _ = $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }
}

/// `grpc.health.v1.Health`: Check and Watch, byte-compatible with the standard probe.
public struct HealthService: RPCService {
    public static let checkPath = "/grpc.health.v1.Health/Check"
    public static let watchPath = "/grpc.health.v1.Health/Watch"

    public let status: HealthStatus

    public init(status: HealthStatus) { self.status = status }

    public func register(into router: inout RPCRouter) throws(RPCRouter.DuplicateMethodError) {
        let status = self.status
        try router.unary(Self.checkPath) { request in
            let check = try decode(HealthCheckRequest.self, request.message)
            guard let serving = status.status(of: check.service) else {
                throw RPCError(.notFound, "unknown service \"\(check.service)\"")
            }
            return RPCServerResponse(message: HealthCheckResponse(status: serving).protoBytes)
        }
        try router.serverStreaming(Self.watchPath) { request, writer in
            let check = try decode(HealthCheckRequest.self, request.message)
            // Only the newest status matters to a watcher, so a slow one skips stale values.
            for await serving in status.watch(check.service) {
                try await writer.write(HealthCheckResponse(status: serving).protoBytes)
            }
            if status.isShutDown { throw RPCError(.unavailable, "the server is shutting down") }
            throw RPCError(.cancelled, "the watch ended")
        }
    }
}

/// Decodes a request message, turning a malformed one into INVALID_ARGUMENT.
func decode<Message: ProtoMessage>(_ type: Message.Type, _ bytes: [UInt8]) throws(RPCError) -> Message {
    do {
        return try Message(protoBytes: bytes)
    } catch {
        throw RPCError(.invalidArgument, "malformed \(Message.protoMessageName): \(error)")
    }
}
