/// Decides which server runs each background part (a projection, a saga, a poller) when several
/// servers share one store: each part is a *role*, led by one server at a time.
public protocol Leadership: Sendable {
    /// Runs `body` whenever this server leads `role`, until the calling task is cancelled: waits to
    /// lead, runs `body`, and when the lead is lost (the server's link to the others broke) cancels
    /// `body` and waits to lead again. Returns when `body` returns on its own (the store closed).
    ///
    /// - Throws: what `body` throws while this server leads; `CancellationError` is not thrown.
    func whileLeading(_ role: String, _ body: @escaping @Sendable () async throws -> Void) async throws
}

/// The ``Leadership`` of a server that shares its store with no one (the embedded SQLite store):
/// it leads every role, always.
public struct SoleServer: Leadership {
    public init() {}

    public func whileLeading(_ role: String, _ body: @escaping @Sendable () async throws -> Void) async throws {
        try await body()
    }
}
