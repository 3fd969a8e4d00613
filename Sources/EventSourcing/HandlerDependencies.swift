import EventStore
import Foundation
import Logging
import Synchronization

/// What handlers are given instead of holding state: the seed's `HandlerDependencies`.
///
/// Handlers are stateless values; everything they use comes from here, through their
/// ``CommandContext``. The domain fills ``services`` with what this module does not know (the
/// broker adapter, for one).
public struct HandlerDependencies: Sendable {
    /// The event store.
    public var store: any EventStore
    /// A repository per aggregate type, sharing the store and the snapshot scheduler.
    public var repositories: Repositories
    /// Reads of read models, for handlers that check something outside their aggregate.
    public var queries: QueryBus
    /// The lock that serialises what must not run concurrently across the system.
    public var lock: any DistributedLock
    /// The clock that stamps events.
    public var clock: any EventSourcingClock
    /// Services the domain provides, by type.
    public var services: HandlerServices

    /// Makes the dependencies; what is not given gets a default over `store`: repositories with
    /// default settings, a query bus with no handlers over an in-memory read-model store, an
    /// in-process lock, and the system clock.
    public init(
        store: any EventStore,
        repositories: Repositories? = nil,
        queries: QueryBus? = nil,
        lock: (any DistributedLock)? = nil,
        clock: any EventSourcingClock = SystemClock(),
        services: HandlerServices = HandlerServices()
    ) {
        self.store = store
        self.repositories = repositories ?? Repositories(store: store)
        self.queries = queries ?? QueryBus(readModels: InMemoryProjectionStore())
        self.lock = lock ?? InProcessLock(store: store, clock: clock)
        self.clock = clock
        self.services = services
    }
}

/// Services by type: the slot through which the domain hands its handlers what this module knows
/// nothing about (a broker adapter, a notifier).
public struct HandlerServices: Sendable {
    private var services: [ObjectIdentifier: any Sendable] = [:]

    /// An empty registry.
    public init() {}

    /// Registers `service` under `type` (pass a protocol's existential, `(any BrokerAdapter).self`,
    /// to register an implementation under its protocol).
    public mutating func register<Service: Sendable>(_ service: Service, as type: Service.Type = Service.self) {
        services[ObjectIdentifier(type)] = service
    }

    /// The service registered under `type`, if any.
    public func service<Service>(_ type: Service.Type) -> Service? {
        services[ObjectIdentifier(type)] as? Service
    }

    /// The service registered under `type`.
    ///
    /// - Throws: ``MissingService`` when none is: a wiring mistake at start-up.
    public func require<Service>(_ type: Service.Type) throws -> Service {
        guard let service = service(type) else { throw MissingService(type: String(describing: type)) }
        return service
    }
}

/// A service a handler needs was not registered in ``HandlerServices``.
public struct MissingService: Error, Sendable, Hashable, CustomStringConvertible {
    /// The service's type name.
    public let type: String

    public var description: String { "no service of type \(type) is registered with the handlers" }
}

/// One ``Repository`` per aggregate type, made on first use, all over one store, with one
/// snapshot scheduler.
public final class Repositories: Sendable {
    /// The store.
    public let store: any EventStore
    /// Saves snapshots in the background for every repository.
    public let snapshots: SnapshotScheduler
    private let cacheCapacity: Int
    private let logger: Logger
    private let repositories = Mutex<[ObjectIdentifier: any Sendable]>([:])

    /// Makes the registry.
    ///
    /// - Parameters:
    ///   - cacheCapacity: the most warm aggregates each repository keeps.
    ///   - snapshotPolicy: when a snapshot of a ``SnapshottingAggregate`` is due.
    public init(
        store: any EventStore,
        cacheCapacity: Int = 1_000,
        snapshotPolicy: SnapshotPolicy = .every(100),
        logger: Logger = Logger(label: "tradecore.eventsourcing.repository")
    ) {
        self.store = store
        self.snapshots = SnapshotScheduler(store: store, policy: snapshotPolicy, logger: logger)
        self.cacheCapacity = cacheCapacity
        self.logger = logger
    }

    /// The repository of `type`.
    public func repository<State: Aggregate>(for type: State.Type) -> Repository<State> {
        repositories.withLock { repositories in
            let key = ObjectIdentifier(type)
            if let existing = repositories[key] as? Repository<State> { return existing }
            let made = Repository<State>(
                store: store, cacheCapacity: cacheCapacity, snapshots: snapshots, logger: logger)
            repositories[key] = made
            return made
        }
    }
}
