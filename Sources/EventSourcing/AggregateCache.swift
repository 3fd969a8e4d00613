import Foundation
import Synchronization

/// What a repository did, for tests and metrics.
public struct RepositoryStatistics: Sendable, Hashable {
    /// Loads answered from the cache (brought up to date by reading only later events).
    public var cacheHits = 0
    /// Loads that read the aggregate from the store.
    public var cacheMisses = 0
    /// Events read from the store and folded, by all loads.
    public var eventsReplayed = 0
    /// Loads that started from a snapshot.
    public var snapshotsUsed = 0
    /// Snapshots that could not be decoded (the aggregate was rebuilt from its events instead).
    public var snapshotsUnreadable = 0
    /// Saves that appended events.
    public var saves = 0
}

/// A repository's warm aggregates (least recently used out) and its counters, under one lock: a
/// command takes it once to load and once to save.
///
/// Not generic: the aggregates are held type-erased, so the cache is one concrete type that the
/// compiler specialises here. A cache generic over the aggregate ran unspecialised (the aggregate
/// types live in other modules) and spent about a tenth of a command's CPU looking up generic
/// type metadata at run time.
final class AggregateCache: Sendable {
    /// A cached aggregate root and the version it was loaded or saved at.
    struct Entry: Sendable {
        var version: Int64
        /// A ``CachedRoot``. A save still allocates once (the class, where `any Sendable` took a
        /// heap box, a root being larger than an existential's three inline words); a hit now
        /// takes a class cast, where the cast of an `any Sendable` to the root type went through
        /// the runtime's general dynamic cast.
        var root: any AnyObject & Sendable
    }

    private struct Contents {
        var entries: LRUCache<UUID, Entry>
        var statistics = RepositoryStatistics()
    }

    private let contents: Mutex<Contents>

    init(capacity: Int) {
        contents = Mutex(Contents(entries: LRUCache(capacity: capacity)))
    }

    var statistics: RepositoryStatistics { contents.withLock { $0.statistics } }

    /// The entry for `id`, which becomes the most recently used; a hit is counted.
    func entry(for id: UUID) -> Entry? {
        contents.withLock { contents in
            let entry = contents.entries.value(forKey: id)
            if entry != nil { contents.statistics.cacheHits += 1 }
            return entry
        }
    }

    /// Keeps `root` at `version` for `id`, unless the cache already holds a newer version, and
    /// counts under the same lock.
    func remember(
        _ root: any AnyObject & Sendable, version: Int64, for id: UUID,
        counting count: (inout RepositoryStatistics) -> Void = { _ in }
    ) {
        contents.withLock { contents in
            contents.entries.setValue(Entry(version: version, root: root), forKey: id) { $0.version >= version }
            count(&contents.statistics)
        }
    }

    func count(_ body: (inout RepositoryStatistics) -> Void) {
        contents.withLock { body(&$0.statistics) }
    }

    func removeAll() {
        contents.withLock { $0.entries.removeAll() }
    }
}

/// An aggregate root as the cache holds it.
final class CachedRoot<State: Aggregate>: Sendable {
    let root: AggregateRoot<State>

    init(_ root: AggregateRoot<State>) { self.root = root }
}
