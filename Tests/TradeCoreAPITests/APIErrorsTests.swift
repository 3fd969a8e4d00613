import EventStore
import HTTP2RPC
import Testing

@testable import EventSourcing
@testable import TradeCoreAPI

/// How a command that failed in the store is told to its caller.
struct APIErrorsTests {
    private func storeFailure(_ code: EventStoreError.Code) -> CommandBusError {
        CommandBusError.wrapping(
            EventStoreError(code: code, message: "the disk said no"), commandType: "CreateOrder", commandID: nil,
            attempts: 1)
    }

    @Test func aFullStoreSaysNothingWasWrittenAndAnotherFailureSaysHowToFindOut() {
        let full = APIErrors.command(storeFailure(.storageFull), hadCommandID: false)
        #expect(full.code == .unavailable)
        #expect(full.message.contains("nothing of the command was written"), "\(full.message)")
        #expect(!full.message.contains("may or may not"), "\(full.message)")

        let withID = APIErrors.command(storeFailure(.storageFailure), hadCommandID: true)
        #expect(withID.code == .unavailable)
        #expect(withID.message.contains("send it again with the same tradecore-command-id"), "\(withID.message)")
        let withoutID = APIErrors.command(storeFailure(.storageFailure), hadCommandID: false)
        #expect(withoutID.message.contains("it had no tradecore-command-id"), "\(withoutID.message)")
    }
}
