import HTTP2RPC
import ServiceLifecycle

/// Runs the RPC server under swift-service-lifecycle: SERVING once bound; on SIGTERM/SIGINT
/// health turns NOT_SERVING and the server drains its calls before the process exits.
struct RPCServerService: Service {
    let server: RPCServer
    let health: HealthStatus

    func run() async throws {
        try await server.start()
        health.set(.serving)
        try await withGracefulShutdownHandler {
            try await server.waitUntilClosed()
        } onGracefulShutdown: {
            health.setAllNotServing()
            server.beginShutdown()
        }
    }
}
