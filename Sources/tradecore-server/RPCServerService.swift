import EventStore
import Glibc
import HTTP2RPC
import Logging
import NIOCore
import ServiceLifecycle
import TradeCoreAPI
import TradeCoreDomain

/// Runs the RPC server under swift-service-lifecycle: SERVING once bound. On SIGTERM/SIGINT health
/// turns NOT_SERVING, long calls (subscriptions) are told the server drains and send their last
/// checkpoint, then every connection gets GOAWAY and the calls in flight finish. When the group
/// cancels it instead (another service failed: the domain cannot run), the server shuts down the
/// same way, without the pause for subscribers, so the process ends with that service's error
/// rather than listening on with nothing behind it.
struct RPCServerService: Service {
    let server: RPCServer
    let health: HealthStatus
    /// The methods served, whose services health reports by name.
    let paths: [String]
    let shutdown: ShutdownSignal
    /// Where it listens, and the settings that chose it, for the error when it cannot.
    let address: String

    func run() async throws {
        try await listening(on: address) { try await server.start() }
        health.setServing(paths: paths)
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await server.waitUntilClosed()
            } onCancel: {
                health.shutDown()
                server.beginShutdown()
            }
        } onGracefulShutdown: {
            health.shutDown()
            shutdown.trigger()
            Task {
                await shutdown.waitUntilDrained(timeout: .seconds(2))
                server.beginShutdown()
            }
        }
    }
}

/// Runs the domain's projections, sagas and fill poller until the graceful shutdown reaches it
/// (after the RPC server has drained, as services stop in reverse order).
struct DomainService: Service {
    let app: TradeCoreApplication

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await app.run()
        }
    }
}

/// Serves the admin endpoint until the graceful shutdown.
struct AdminService: Service {
    let admin: AdminServer
    /// Where it listens, and the settings that chose it.
    let address: String

    func run() async throws {
        _ = try await listening(on: address) { try await admin.start() }
        try? await gracefulShutdown()
        await admin.stop()
    }
}

/// The server could not listen: the address, the settings that chose it and why.
struct ListenError: Error, CustomStringConvertible {
    let description: String
}

/// Runs `bind`; a socket error becomes a ``ListenError`` naming `address` (NIO's own names only
/// the system call).
func listening<Result>(on address: String, _ bind: () async throws -> Result) async throws -> Result {
    do {
        return try await bind()
    } catch let error as IOError {
        let reason =
            switch error.errnoCode {
            case EADDRINUSE: "the address is already in use (another server, or another process, listens there)"
            case EACCES: "permission denied (ports below 1024 need privileges)"
            case EADDRNOTAVAIL: "this machine has no such address"
            default: "\(error)"
            }
        throw ListenError(description: "cannot listen on \(address): \(reason)")
    } catch let error as SocketAddressError.UnknownHost {
        throw ListenError(
            description: "cannot listen on \(address): the host name \"\(error.host)\" does not resolve to an address "
                + "(\(error.errorDescription))")
    } catch let error as SocketAddressError {
        let reason =
            switch error {
            case .unknown(let host, _): "the host name \"\(host)\" does not resolve to an address"
            default: "\(error)"
            }
        throw ListenError(description: "cannot listen on \(address): \(reason)")
    }
}

/// Binds a socket to `host`:`port` as the server will (SO_REUSEADDR, no listen) and closes it at
/// once: an address that is taken, foreign or unresolvable stops the start before the store opens
/// and a master key is made, instead of after, leaving a new store behind. Port 0 is always free.
func checkCanListen(host: String, port: Int, address: String) async throws {
    guard port != 0 else { return }
    try await listening(on: address) {
        let socketAddress = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let descriptor = Glibc.socket(socketAddress.protocol.rawValue, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        defer { close(descriptor) }
        var one: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = socketAddress.withSockAddr { pointer, length in bind(descriptor, pointer, socklen_t(length)) }
        guard bound == 0 else { throw IOError(errnoCode: errno, reason: "bind") }
    }
}

/// Asks the event store every second, once the server serves, whether it can take appends: while
/// it cannot (PostgreSQL down, or SQLite's appends stopped after a failed fsync), health says
/// NOT_SERVING for the server and its services — every command would only fail — and SERVING
/// again once it can, so a load balancer's probe sees what the calls see.
struct StoreHealthService: Service {
    let store: any EventStore
    let health: HealthStatus
    /// The methods served, whose services health reports by name.
    let paths: [String]
    let logger: Logger
    var interval: Duration = .seconds(1)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                // Not yet serving, or shutting down: health is the server's to say.
                guard let current = health.status(of: ""), !health.isShutDown else { continue }
                let reachable: Bool
                do {
                    try await store.checkAppendable()
                    reachable = true
                } catch {
                    reachable = false
                    if current == .serving {
                        logger.warning(
                            "the event store cannot take appends: health says NOT_SERVING until it can",
                            metadata: ["eventstore.error": "\(error)"])
                    }
                }
                if reachable && current == .notServing {
                    logger.notice("the event store takes appends again: health says SERVING")
                    health.setServing(paths: paths)
                } else if !reachable && current == .serving {
                    health.setNotServing(paths: paths)
                }
            }
        }
    }
}
