import EventStore
import Foundation

/// Why ``QueryBus/ask(_:consistency:)`` did not return an answer.
public struct QueryBusError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure. New codes may be added; switch over them with a `default`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: String, Sendable, Hashable {
            case noHandler = "no handler"
            case rejected = "rejected"
            case readModelBehind = "read model behind"
            case positionNotCommitted = "position not committed"
            case handlerFailed = "handler failed"
            case cancelled = "cancelled"
        }

        private let wrapped: Wrapped

        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// No handler is registered for the query's type.
        public static let noHandler = Code(.noHandler)
        /// The handler answered with a refusal (``QueryBusError/rejection``), such as not found.
        public static let rejected = Code(.rejected)
        /// A read model did not reach the query's minimum position in time.
        public static let readModelBehind = Code(.readModelBehind)
        /// The query's minimum position is past the end of the log: no commit has it, so no read
        /// model can reach it (a position from another store, or a typo).
        public static let positionNotCommitted = Code(.positionNotCommitted)
        /// The handler failed.
        public static let handlerFailed = Code(.handlerFailed)
        /// The caller's task was cancelled.
        public static let cancelled = Code(.cancelled)

        public var description: String { wrapped.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// The query's type (or, for a read model that was behind, the projection's name).
    public let queryType: String
    /// What happened.
    public let message: String
    /// The refusal, for ``Code/rejected``.
    public let rejection: CommandRejection?
    /// The error underneath, if any.
    public let underlying: (any Error)?
    /// The facts of the failure, by name (for a read model behind: the position asked for and the
    /// one reached), for callers to act on without reading the message.
    public let facts: [String: String]

    /// Makes an error.
    public init(
        _ code: Code, queryType: String, message: String, rejection: CommandRejection? = nil,
        underlying: (any Error)? = nil, facts: [String: String] = [:]
    ) {
        self.code = code
        self.queryType = queryType
        self.message = message
        self.rejection = rejection
        self.underlying = underlying
        self.facts = facts
    }

    public var description: String { "\(queryType): \(code): \(message)" }
}

extension QueryBusError {
    /// Throws ``Code/positionNotCommitted`` when `target` is past the end of `store`'s log: a
    /// read model waiting for it would wait for ever. Read from the store itself, not from what
    /// this process has seen published, so a position another server committed counts.
    static func requireCommitted(_ target: Int64, in store: any EventStore, by name: String) async throws(Self) {
        guard let head = try? await store.headPosition(), target > head else { return }
        throw QueryBusError(
            .positionNotCommitted, queryType: name, message: "the log has no position \(target): nothing committed it",
            facts: ["min_position": "\(target)", "head_position": "\(head)"])
    }
}

/// Routes each query to its one handler, optionally waiting for read models to catch up first.
public final class QueryBus: Sendable {
    private struct Registration: Sendable {
        let handler: any QueryHandler
        let projections: [String]
    }

    /// The read models handlers read from.
    public let readModels: any ProjectionStore
    private let handlers: [String: Registration]
    private let progress: [String: any ReadModelProgress]
    private let services: HandlerServices

    /// Makes a bus with no handlers (for handlers that ask nothing).
    public convenience init(readModels: any ProjectionStore) {
        self.init(registered: [:], readModels: readModels, progress: [:], services: HandlerServices())
    }

    /// Makes a bus and checks its handlers.
    ///
    /// - Parameters:
    ///   - handlers: one handler per query type.
    ///   - queries: every query type the bus must answer (`nil`: check only for duplicates).
    ///   - readModels: the store the projections write and the handlers read.
    ///   - progress: the projections, so queries can wait for them; every projection a handler
    ///     names must be among them.
    /// - Throws: ``HandlerRegistrationError`` naming what does not match.
    public convenience init(
        handlers: [any QueryHandler],
        queries: [any Query.Type]? = nil,
        readModels: any ProjectionStore,
        progress: [any ReadModelProgress] = [],
        services: HandlerServices = HandlerServices()
    ) throws(HandlerRegistrationError) {
        let known = Set(progress.map(\.projectionName))
        var unknown: [String: [String]] = [:]
        for handler in handlers {
            let missing = handler.projections.filter { !known.contains($0) }
            if !missing.isEmpty { unknown[String(describing: type(of: handler))] = missing }
        }
        let table = try HandlerTable.build(
            kind: "query",
            handlers: handlers.map { Self.tableEntry($0) },
            expected: queries?.map { ($0.queryType, String(reflecting: $0)) },
            unknownProjections: unknown
        )
        self.init(
            registered: table, readModels: readModels,
            progress: Dictionary(progress.map { ($0.projectionName, $0) }, uniquingKeysWith: { first, _ in first }),
            services: services)
    }

    private init(
        registered: [String: Registration],
        readModels: any ProjectionStore,
        progress: [String: any ReadModelProgress],
        services: HandlerServices
    ) {
        self.handlers = registered
        self.readModels = readModels
        self.progress = progress
        self.services = services
    }

    private static func tableEntry<H: QueryHandler>(_ handler: H) -> HandlerTable<Registration>.Handler {
        HandlerTable.Handler(
            typeName: H.Handled.queryType,
            swiftType: String(reflecting: H.Handled.self),
            handlerName: String(describing: H.self),
            entry: Registration(handler: handler, projections: handler.projections)
        )
    }

    /// Answers a query.
    ///
    /// - Throws: ``QueryBusError``: `.noHandler`, `.readModelBehind` (a minimum position not reached
    ///   in time), `.rejected`, `.handlerFailed`, `.cancelled`.
    public func ask<Q: Query>(
        _ query: Q, consistency: ReadConsistency = .eventual
    ) async throws(QueryBusError) -> Q.Result {
        let queryType = Q.queryType
        guard let registration = handlers[queryType], let handler = registration.handler as? any QueryHandler<Q>
        else {
            throw QueryBusError(
                .noHandler, queryType: queryType, message: "no handler is registered for \(queryType)")
        }
        if case .atLeast(let position, let timeout) = consistency {
            // One deadline for all the read models the query reads, not a full timeout each.
            let deadline = ContinuousClock.now + timeout
            for name in registration.projections {
                guard let progress = progress[name] else { continue }
                try await progress.waitUntil(position: position, timeout: max(deadline - ContinuousClock.now, .zero))
            }
        }
        do {
            return try await handler.handle(query, context: QueryContext(readModels: readModels, services: services))
        } catch let error as QueryBusError {
            throw error
        } catch let error as any CommandRejectionConvertible {
            throw QueryBusError(
                .rejected, queryType: queryType, message: error.rejection.description, rejection: error.rejection)
        } catch is CancellationError {
            throw QueryBusError(.cancelled, queryType: queryType, message: "the query was cancelled")
        } catch {
            throw QueryBusError(
                .handlerFailed, queryType: queryType, message: "the handler failed: \(error)", underlying: error)
        }
    }
}
