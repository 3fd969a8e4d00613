import EventStore
import Foundation
import Testing

struct StreamNameTests {
    @Test func parsesTypeAndLowercaseUUID() throws {
        let id = UUID()
        let name = try StreamName("order-\(id.uuidString.lowercased())")
        #expect(name.type == "order")
        #expect(name.id == id)
        #expect(name.rawValue == "order-\(id.uuidString.lowercased())")
        #expect(try StreamName(type: "order", id: id) == name)
    }

    @Test func uppercaseUUIDNamesTheSameStream() throws {
        let id = UUID()
        let upper = try StreamName("broker_account-\(id.uuidString.uppercased())")
        #expect(upper.rawValue == "broker_account-\(id.uuidString.lowercased())")
        #expect(upper == (try StreamName(type: "broker_account", id: id)))
    }

    @Test(arguments: [
        "",
        "order",
        "order-",
        "order-not-a-uuid",
        "-0190f7a4-0000-7000-8000-000000000000",
        "Order-0190f7a4-0000-7000-8000-000000000000",
        "9order-0190f7a4-0000-7000-8000-000000000000",
        "or der-0190f7a4-0000-7000-8000-000000000000",
        "order-0190f7a4-0000-7000-8000-000000000000-extra",
        "order-0190f7a400007000800000000000000",
        "order-{0190f7a4-0000-7000-8000-000000000000}",
        String(repeating: "a", count: 65) + "-0190f7a4-0000-7000-8000-000000000000",
    ])
    func rejectsInvalidNames(_ raw: String) {
        #expect(throws: EventStoreError.self) { try StreamName(raw) }
        do {
            _ = try StreamName(raw)
        } catch {
            #expect(error.code == .invalidStreamName)
            #expect(error.message.contains("invalid stream name"))
        }
    }

    @Test func typeRules() {
        #expect(StreamName.isValidType("order"))
        #expect(StreamName.isValidType("broker_connection2"))
        #expect(StreamName.isValidType(String(repeating: "a", count: 64)))
        #expect(!StreamName.isValidType(String(repeating: "a", count: 65)))
        #expect(!StreamName.isValidType("_order"))
        #expect(!StreamName.isValidType("order-x"))
        #expect(!StreamName.isValidType("ordér"))
        #expect(throws: EventStoreError.self) { try StreamName(type: "Order", id: UUID()) }
    }
}
