/// A request to read, answered by exactly one ``QueryHandler`` from read models.
public protocol Query: Sendable {
    /// What the handler returns.
    associatedtype Result: Sendable

    /// The name the query is registered under, such as `GetOrder`; unique among the queries of one bus.
    static var queryType: String { get }
}

/// Answers one type of query, from read models kept by projections.
public protocol QueryHandler<Handled>: Sendable {
    /// The query type answered.
    associatedtype Handled: Query

    /// The names of the projections whose read models the handler reads. A query asking for a
    /// minimum position waits until each of them has reached it.
    var projections: [String] { get }

    /// Answers one query. Throw a ``CommandRejection`` (`.notFound`, say) for an answer that is a
    /// refusal; it reaches the caller as ``QueryBusError/Code/rejected``.
    func handle(_ query: Handled, context: QueryContext) async throws -> Handled.Result
}

/// What a query handler reads from.
public struct QueryContext: Sendable {
    /// The read models.
    public let readModels: any ProjectionStore
    /// The domain's services.
    public let services: HandlerServices

    /// Makes a context; the query bus makes one for each query (tests may call a handler directly).
    public init(readModels: any ProjectionStore, services: HandlerServices) {
        self.readModels = readModels
        self.services = services
    }
}

/// How fresh a query's answer must be.
public enum ReadConsistency: Sendable, Hashable {
    /// Whatever the read models hold now.
    case eventual
    /// Read models that reflect every event up to this global position — the position a command
    /// returned (``CommandOutcome/position``), for read-your-writes. The query waits for them, at
    /// most `timeout`, then fails with ``QueryBusError/Code/readModelBehind``.
    case atLeast(position: Int64, timeout: Duration)

    /// Read models that reflect every event up to `position`, waiting at most 5 seconds.
    public static func atLeast(_ position: Int64) -> ReadConsistency {
        .atLeast(position: position, timeout: .seconds(5))
    }
}

/// Something that tells how far a projection's read model is, and waits for it: a
/// ``ProjectionRunner``.
public protocol ReadModelProgress: Sendable {
    /// The projection's name.
    var projectionName: String { get }

    /// Returns once the read model reflects every event up to `position`.
    ///
    /// - Throws: ``QueryBusError`` `.readModelBehind` when `timeout` passes first.
    func waitUntil(position: Int64, timeout: Duration) async throws(QueryBusError)
}

extension QueryHandler {
    /// No projections: the handler's queries never wait.
    public var projections: [String] { [] }
}
