import EventSourcing
import EventStore
import Foundation
import Synchronization
import TradeCoreMessages

/// An account's books at the virtual broker: its cash and what it holds.
public struct VirtualBrokerLedger: Sendable, Hashable {
    /// A position: how much is held and what it cost in all.
    public struct Holding: Sendable, Hashable {
        public var quantity: ExactDecimal
        public var cost: ExactDecimal

        public init(quantity: ExactDecimal = .zero, cost: ExactDecimal = .zero) {
            self.quantity = quantity
            self.cost = cost
        }
    }

    public var cash: ExactDecimal
    /// Positions by symbol.
    public var holdings: [String: Holding]

    public init(cash: ExactDecimal, holdings: [String: Holding] = [:]) {
        self.cash = cash
        self.holdings = holdings
    }
}

/// An execution the virtual broker booked: what its fill id stands for, once and for all.
public struct VirtualBrokerFill: Sendable, Hashable {
    public var quantity: ExactDecimal
    public var price: ExactDecimal
    /// When it executed, in Unix nanoseconds.
    public var executedAt: Int64

    public init(quantity: ExactDecimal, price: ExactDecimal, executedAt: Int64) {
        self.quantity = quantity
        self.price = price
        self.executedAt = executedAt
    }
}

/// What booking an execution came to.
public enum VirtualBrokerBooking: Sendable, Hashable {
    /// Booked, now or before: the fill as first booked.
    case booked(VirtualBrokerFill)
    /// Not booked, for this reason: the account cannot take it.
    case refused(String)
}

/// Where the virtual broker keeps its books, as a real broker keeps its own: each account's
/// ledger and every fill it executed.
public protocol VirtualBrokerBooks: Sendable {
    /// The account's ledger; `nil` before its first execution.
    func ledger(of account: String) async throws -> VirtualBrokerLedger?

    /// Books `fill` under `fillID` on `account` once: the first time, `update` checks and changes
    /// the ledger (`opening` when the account has none yet) and the fill is kept, in one step;
    /// after that, nothing changes and the fill first booked under the id is returned. When
    /// `update` returns a reason instead, the ledger is left as it was and the refusal is kept
    /// under the id: booking it again returns the same refusal, so an execution refused once (its
    /// order then cancelled) never executes later, when the account could take it.
    func book(
        _ fill: VirtualBrokerFill, id fillID: UUID, on account: String, opening: VirtualBrokerLedger,
        _ update: @escaping @Sendable (inout VirtualBrokerLedger) -> String?
    ) async throws -> VirtualBrokerBooking
}

/// Books in memory, gone when the process ends: for tests and demos.
public final class InMemoryVirtualBrokerBooks: VirtualBrokerBooks {
    private struct Contents {
        var ledgers: [String: VirtualBrokerLedger] = [:]
        var fills: [UUID: VirtualBrokerFill] = [:]
        var refusals: [UUID: String] = [:]
    }

    private let contents = Mutex(Contents())

    public init() {}

    public func ledger(of account: String) async throws -> VirtualBrokerLedger? {
        contents.withLock { $0.ledgers[account] }
    }

    public func book(
        _ fill: VirtualBrokerFill, id fillID: UUID, on account: String, opening: VirtualBrokerLedger,
        _ update: @escaping @Sendable (inout VirtualBrokerLedger) -> String?
    ) async throws -> VirtualBrokerBooking {
        contents.withLock { contents in
            if let booked = contents.fills[fillID] { return .booked(booked) }
            if let refusal = contents.refusals[fillID] { return .refused(refusal) }
            var ledger = contents.ledgers[account] ?? opening
            if let refusal = update(&ledger) {
                contents.refusals[fillID] = refusal
                return .refused(refusal)
            }
            contents.fills[fillID] = fill
            contents.ledgers[account] = ledger
            return .booked(fill)
        }
    }
}

/// Books beside the read models, in collections no projection owns (a rebuild keeps them): they
/// outlive a restart, and servers that share a database share them. A fill and the ledger it
/// changes are written in one transaction.
public struct StoredVirtualBrokerBooks: VirtualBrokerBooks {
    static let ledgers = "virtual_broker.ledgers"
    static let fills = "virtual_broker.fills"
    static let refusals = "virtual_broker.refusals"

    private let storage: any ProjectionStore

    public init(storage: any ProjectionStore) {
        self.storage = storage
    }

    public func ledger(of account: String) async throws -> VirtualBrokerLedger? {
        let data = try await storage.read { reader in try reader.value(in: Self.ledgers, key: account) }
        return try data.map(LedgerCoding.decodeLedger)
    }

    static let settings = "virtual_broker.settings"

    /// Records the broker's seed with its books the first time; afterwards, throws
    /// ``VirtualBrokerSeedMismatch`` for another one. The broker knows the orders it accepted by ids
    /// derived from its seed: with another seed, a restarted server (or another server sharing the
    /// books) would not recognise them and never fill them.
    public func checkSeed(_ seed: UInt64) async throws {
        let recorded = Mutex<UInt64?>(nil)
        try await storage.write { writer in
            if let data = try writer.value(in: Self.settings, key: "seed") {
                recorded.withLock { $0 = UInt64(String(decoding: data, as: UTF8.self)) ?? 0 }
            } else {
                try writer.put(Data(String(seed).utf8), in: Self.settings, key: "seed")
            }
        }
        if let recorded = recorded.withLock({ $0 }), recorded != seed {
            throw VirtualBrokerSeedMismatch(recorded: recorded, given: seed)
        }
    }

    public func book(
        _ fill: VirtualBrokerFill, id fillID: UUID, on account: String, opening: VirtualBrokerLedger,
        _ update: @escaping @Sendable (inout VirtualBrokerLedger) -> String?
    ) async throws -> VirtualBrokerBooking {
        // Every path of the body says what it decided: a store may run the body more than once
        // (PostgreSQL's, first against rows it has not fetched yet), and only the last run counts.
        let booking = Mutex(VirtualBrokerBooking.booked(fill))
        try await storage.write { writer in
            let key = fillID.lowercasedText
            if let data = try writer.value(in: Self.fills, key: key) {
                let earlier = try LedgerCoding.decodeFill(data)
                booking.withLock { $0 = .booked(earlier) }
                return
            }
            if let data = try writer.value(in: Self.refusals, key: key) {
                booking.withLock { $0 = .refused(String(decoding: data, as: UTF8.self)) }
                return
            }
            var ledger = try writer.value(in: Self.ledgers, key: account).map(LedgerCoding.decodeLedger) ?? opening
            if let refusal = update(&ledger) {
                try writer.put(Data(refusal.utf8), in: Self.refusals, key: key)
                booking.withLock { $0 = .refused(refusal) }
                return
            }
            try writer.put(try LedgerCoding.encode(fill), in: Self.fills, key: key)
            try writer.put(try LedgerCoding.encode(ledger), in: Self.ledgers, key: account)
            booking.withLock { $0 = .booked(fill) }
        }
        return booking.withLock { $0 }
    }
}

/// The stored form of ledgers and fills: JSON, amounts as decimal strings (exact).
enum LedgerCoding {
    private struct StoredLedger: Codable {
        var cash: String
        var holdings: [String: StoredHolding]
    }

    private struct StoredHolding: Codable {
        var quantity: String
        var cost: String
    }

    private struct StoredFill: Codable {
        var quantity: String
        var price: String
        var executedAt: Int64
    }

    struct Unreadable: Error, CustomStringConvertible {
        let description: String
    }

    static func encode(_ ledger: VirtualBrokerLedger) throws -> Data {
        try JSONEncoder().encode(
            StoredLedger(
                cash: ledger.cash.description,
                holdings: ledger.holdings.mapValues {
                    StoredHolding(quantity: $0.quantity.description, cost: $0.cost.description)
                }))
    }

    static func encode(_ fill: VirtualBrokerFill) throws -> Data {
        try JSONEncoder().encode(
            StoredFill(quantity: fill.quantity.description, price: fill.price.description, executedAt: fill.executedAt))
    }

    static func decodeLedger(_ data: Data) throws -> VirtualBrokerLedger {
        let stored = try JSONDecoder().decode(StoredLedger.self, from: data)
        var holdings: [String: VirtualBrokerLedger.Holding] = [:]
        for (symbol, holding) in stored.holdings {
            holdings[symbol] = VirtualBrokerLedger.Holding(
                quantity: try amount(holding.quantity), cost: try amount(holding.cost))
        }
        return VirtualBrokerLedger(cash: try amount(stored.cash), holdings: holdings)
    }

    static func decodeFill(_ data: Data) throws -> VirtualBrokerFill {
        let stored = try JSONDecoder().decode(StoredFill.self, from: data)
        return VirtualBrokerFill(
            quantity: try amount(stored.quantity), price: try amount(stored.price), executedAt: stored.executedAt)
    }

    private static func amount(_ text: String) throws -> ExactDecimal {
        guard let value = ExactDecimal(text) else {
            throw Unreadable(description: "the virtual broker's books hold an amount that is not a decimal: \(text)")
        }
        return value
    }
}

/// The virtual broker was started with another seed than the one its books were kept with.
public struct VirtualBrokerSeedMismatch: Error, Sendable, CustomStringConvertible {
    public let recorded: UInt64
    public let given: UInt64

    public var description: String {
        "the virtual broker's books were kept with seed \(recorded), not \(given): the orders it accepted are known by "
            + "ids derived from the seed, so start with --virtual-broker-seed \(recorded) (every server sharing the "
            + "database must use the same)"
    }
}
