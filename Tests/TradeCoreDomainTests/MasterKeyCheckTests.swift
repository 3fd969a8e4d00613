import EventSourcing
import EventStore
import Testing

@testable import TradeCoreDomain

/// A store remembers the master key it was first used with and refuses any other.
struct MasterKeyCheckTests {
    private func secrets(_ seed: UInt8) throws -> ServerSecrets {
        try ServerSecrets(masterKeyBytes: (0..<32).map { UInt8($0) &+ seed })
    }

    @Test("the key check is HKDF-SHA256's first 16 bytes in hex (stored: it must never change)")
    func theKeyCheckIsStable() throws {
        // Computed apart from this code, with Python's hmac: HKDF (RFC 5869, no salt) of the bytes
        // 0...31 with info "tradecore key check v1".
        #expect(try secrets(0).keyCheck == "d82ed0bcb72c6d188a13f3e00dfa3ffc")
    }

    @Test func ofServersStartingTogetherOnANewStoreOneKeyIsRecordedAndTheOthersAreRefused() async throws {
        let store = InMemoryProjectionStore()
        let lock = InProcessLock(store: InMemoryEventStore())
        let keys = try (1...4).map { try secrets($0) }
        let accepted = await withTaskGroup(of: Int?.self) { group in
            for (index, key) in keys.enumerated() {
                group.addTask {
                    do {
                        try await key.checkMasterKey(in: store, lock: lock)
                        return index
                    } catch {
                        #expect(error is MasterKeyMismatch, "\(error)")
                        return nil
                    }
                }
            }
            return await group.compactMap { $0 }.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(accepted.count == 1, "\(accepted)")
        // The one recorded goes on starting; the others stay refused.
        for (index, key) in keys.enumerated() {
            if accepted.contains(index) {
                try await key.checkMasterKey(in: store)
            } else {
                await #expect(throws: MasterKeyMismatch.self) { try await key.checkMasterKey(in: store) }
            }
        }
    }

    @Test func aStoreFromBeforeTheCheckAcceptsOnlyTheKeyItsCredentialsOpenWith() async throws {
        let store = InMemoryProjectionStore()
        let original = try secrets(1)
        try await CredentialVault(storage: store, secrets: original)
            .store(.apiKey("vbk_key", secret: "s"), reference: "broker_connection/x")
        let error = await #expect(throws: MasterKeyMismatch.self) { try await secrets(2).checkMasterKey(in: store) }
        #expect(error?.recorded == nil)
        #expect(error?.description.contains("do not open") == true)
        // Refused, it recorded nothing: the right key is still accepted, and then recorded.
        try await original.checkMasterKey(in: store)
        let later = await #expect(throws: MasterKeyMismatch.self) { try await secrets(2).checkMasterKey(in: store) }
        #expect(later?.recorded != nil)
    }
}
