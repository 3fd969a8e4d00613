import Testing

@testable import HTTP2RPC

@Suite struct HealthStatusTests {
    let paths = ["/tradecore.api.v1.CommandService/CreateOrder", "/grpc.health.v1.Health/Check"]

    /// A dependency that cannot be reached turns the server and its services NOT_SERVING for a
    /// while; once the server shuts down, nothing turns them back.
    @Test func notServingForAWhileThenServingButNothingAfterShutDown() {
        let health = HealthStatus()
        health.setServing(paths: paths)
        health.setNotServing(paths: paths)
        #expect(health.status(of: "") == .notServing)
        #expect(health.status(of: "tradecore.api.v1.CommandService") == .notServing)
        health.setServing(paths: paths)
        #expect(health.status(of: "") == .serving)
        #expect(health.status(of: "tradecore.api.v1.CommandService") == .serving)
        health.shutDown()
        health.setServing(paths: paths)
        #expect(health.status(of: "") == .notServing)
        #expect(health.status(of: "grpc.health.v1.Health") == .notServing)
    }
}
