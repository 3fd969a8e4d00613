import EventSourcing
import Foundation

/// The test aggregate: a bank account with an overdraft limit.
enum AccountEvent: Sendable, Hashable, Codable {
    case opened(owner: UUID, overdraft: Int)
    case deposited(amount: Int)
    case withdrawn(amount: Int)
    case closed
}

struct Account: SnapshottingAggregate, Codable, Hashable {
    static let streamType = "account"
    static let eventCodec = AccountEventCodec()
    static let snapshotShapeVersion = 1

    let id: UUID
    var owner: UUID?
    var balance = 0
    var overdraft = 0
    var isOpen = false
    var isClosed = false

    init(id: UUID) {
        self.id = id
    }

    init(id: UUID, snapshot: Data) throws {
        self = try JSONDecoder().decode(Account.self, from: snapshot)
    }

    func encodeSnapshot() throws -> Data {
        try JSONEncoder().encode(self)
    }

    mutating func apply(_ event: AccountEvent) {
        switch event {
        case .opened(let owner, let overdraft):
            self.owner = owner
            self.overdraft = overdraft
            isOpen = true
        case .deposited(let amount):
            balance += amount
        case .withdrawn(let amount):
            balance -= amount
        case .closed:
            isOpen = false
            isClosed = true
        }
    }
}

/// Business rules: checked against the state, then emitted.
extension AggregateRoot where State == Account {
    mutating func open(owner: UUID, overdraft: Int = 0) throws {
        guard isNew, !state.isOpen else { throw CommandRejection(.alreadyExists, "account \(id) exists") }
        guard overdraft >= 0 else { throw CommandRejection(.invalidArgument, "the overdraft cannot be negative") }
        emit(.opened(owner: owner, overdraft: overdraft))
    }

    mutating func deposit(_ amount: Int) throws {
        try requireOpen()
        guard amount > 0 else { throw CommandRejection(.invalidArgument, "a deposit must be positive, not \(amount)") }
        emit(.deposited(amount: amount))
    }

    mutating func withdraw(_ amount: Int) throws {
        try requireOpen()
        guard amount > 0 else { throw CommandRejection(.invalidArgument, "a withdrawal must be positive") }
        guard state.balance - amount >= -state.overdraft else {
            throw CommandRejection(
                .failedPrecondition, "insufficient funds: balance \(state.balance), withdrawal \(amount)")
        }
        emit(.withdrawn(amount: amount))
    }

    mutating func close() throws {
        try requireOpen()
        guard state.balance == 0 else { throw CommandRejection(.failedPrecondition, "the balance is not zero") }
        emit(.closed)
    }

    private func requireOpen() throws {
        guard state.isOpen else { throw CommandRejection(.failedPrecondition, "account \(id) is not open") }
    }
}

/// Event type name plus a JSON payload: the shape the domain's protobuf codecs will have.
struct AccountEventCodec: EventCodec {
    private struct Amount: Codable { var amount: Int }
    private struct Opened: Codable {
        var owner: UUID
        var overdraft: Int
    }

    struct UnknownEventType: Error { var type: String }

    func encode(_ event: AccountEvent) throws -> EncodedEvent {
        let encoder = JSONEncoder()
        switch event {
        case .opened(let owner, let overdraft):
            return EncodedEvent(
                type: "AccountOpened", data: try encoder.encode(Opened(owner: owner, overdraft: overdraft)))
        case .deposited(let amount):
            return EncodedEvent(type: "Deposited", data: try encoder.encode(Amount(amount: amount)))
        case .withdrawn(let amount):
            return EncodedEvent(type: "Withdrawn", data: try encoder.encode(Amount(amount: amount)))
        case .closed:
            return EncodedEvent(type: "AccountClosed", data: Data())
        }
    }

    func decode(_ encoded: EncodedEvent) throws -> AccountEvent {
        let decoder = JSONDecoder()
        switch encoded.type {
        case "AccountOpened":
            let opened = try decoder.decode(Opened.self, from: encoded.data)
            return .opened(owner: opened.owner, overdraft: opened.overdraft)
        case "Deposited": return .deposited(amount: try decoder.decode(Amount.self, from: encoded.data).amount)
        case "Withdrawn": return .withdrawn(amount: try decoder.decode(Amount.self, from: encoded.data).amount)
        case "AccountClosed": return .closed
        default: throw UnknownEventType(type: encoded.type)
        }
    }

    /// The amount a Deposited or Withdrawn event carries, for projections and sagas.
    static func amount(of data: Data) -> Int? {
        try? JSONDecoder().decode(Amount.self, from: data).amount
    }
}
