import EventSourcing
import EventSourcingTesting
import EventStore
import Foundation
import Testing

/// The account's business rules as given events / when a command / then events or a rejection.
@Suite struct AggregateTests {
    private let owner = UUID()
    private var scenario: AggregateScenario<Account> { AggregateScenario<Account>() }

    @Test func openingANewAccountEmitsOpened() throws {
        let state = try scenario.given([]).when { try $0.open(owner: owner, overdraft: 50) }
            .then([.opened(owner: owner, overdraft: 50)])
        #expect(state.isOpen && state.owner == owner && state.overdraft == 50)
    }

    @Test func openingTwiceIsRejected() throws {
        let rejection = try scenario.given([.opened(owner: owner, overdraft: 0)])
            .when { try $0.open(owner: owner) }
            .thenRejects(CommandRejection.self)
        #expect(rejection.code == .alreadyExists)
    }

    @Test func depositAndWithdrawWithinTheOverdraft() throws {
        let state = try scenario.given([.opened(owner: owner, overdraft: 20), .deposited(amount: 100)])
            .when { account in
                try account.withdraw(110)
                try account.deposit(5)
            }
            .then([.withdrawn(amount: 110), .deposited(amount: 5)])
        #expect(state.balance == -5)
    }

    @Test func withdrawingPastTheOverdraftIsRejectedAndEmitsNothing() throws {
        let rejection = try scenario.given([.opened(owner: owner, overdraft: 20), .deposited(amount: 100)])
            .when { try $0.withdraw(121) }
            .thenRejects(CommandRejection.self) { $0.code == .failedPrecondition }
        #expect(rejection.message.contains("insufficient funds"))
    }

    @Test func aClosedAccountRefusesDeposits() throws {
        try scenario.given([.opened(owner: owner, overdraft: 0), .closed])
            .when { try $0.deposit(1) }
            .thenRejects(CommandRejection.self) { $0.message.contains("not open") }
    }

    @Test func invalidAmountsAreRejected() throws {
        for amount in [0, -3] {
            try scenario.given([.opened(owner: owner, overdraft: 0)])
                .when { try $0.deposit(amount) }
                .thenRejects(CommandRejection.self) { $0.code == .invalidArgument }
        }
    }

    @Test func aScenarioFailsWhenTheEventsDiffer() throws {
        #expect(throws: ScenarioFailure.self) {
            try scenario.given([.opened(owner: owner, overdraft: 0)])
                .when { try $0.deposit(5) }
                .then([.deposited(amount: 6)])
        }
    }

    @Test func aRejectionAfterEmittingFailsTheScenario() throws {
        let failure = try #require(throws: ScenarioFailure.self) {
            try scenario.given([.opened(owner: owner, overdraft: 0)])
                .when { account in
                    try account.deposit(5)
                    try account.deposit(-1)
                }
                .thenRejects(CommandRejection.self)
        }
        #expect(failure.message.contains("emitted 1 event(s)"))
    }

    @Test func applyIsAPureFoldOfTheEvents() {
        let events: [AccountEvent] = [
            .opened(owner: owner, overdraft: 0), .deposited(amount: 7), .withdrawn(amount: 2),
        ]
        var first = Account(id: UUID())
        var second = Account(id: first.id)
        for event in events {
            first.apply(event)
            second.apply(event)
        }
        #expect(first == second)
        #expect(first.balance == 5)
    }

    @Test func theRootTracksVersionsAndUncommittedEvents() throws {
        var root = AggregateRoot<Account>(id: UUID())
        #expect(root.isNew && root.version == nil && root.expectedVersion == .noStream)
        try root.open(owner: owner)
        try root.deposit(3)
        #expect(root.uncommittedEvents == [.opened(owner: owner, overdraft: 0), .deposited(amount: 3)])
        #expect(root.version == 1 && root.loadedVersion == nil)
        #expect(root.balance == 3, "state properties read through the root")
        root.execute { state in state.balance > 0 ? [.withdrawn(amount: state.balance)] : [] }
        #expect(root.balance == 0 && root.version == 2)
        #expect(try root.streamName().rawValue == "account-\(root.id.uuidString.lowercased())")
    }
}
