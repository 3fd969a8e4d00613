import Testing
import WireFormat

@Suite struct ProtoDecodingErrorTests {
    @Test func pathNamesMessagesAndFieldsOutermostFirst() {
        let error = ProtoDecodingError(.invalidUTF8)
            .within(message: "tradecore.automation.v1.StopLoss", fieldNumber: 2, fieldName: "value")
            .within(message: "tradecore.automation.v1.CreateAutomation", fieldNumber: 9, fieldName: "stop_loss")
        #expect(error.messageName == "tradecore.automation.v1.StopLoss")
        #expect(error.fieldNumber == 2)
        #expect(error.fieldName == "value")
        #expect(error.path.first?.message == "tradecore.automation.v1.CreateAutomation")
        #expect(
            error.description
                == "tradecore.automation.v1.CreateAutomation.stop_loss (field 9) > "
                + "tradecore.automation.v1.StopLoss.value (field 2): string is not valid UTF-8")
    }

    @Test func reasonsCompareByKindAndDetail() {
        #expect(ProtoDecodingError.Reason.valueOutOfRange("int32") == .valueOutOfRange("int32"))
        #expect(ProtoDecodingError.Reason.valueOutOfRange("int32") != .valueOutOfRange("uint32"))
        #expect(ProtoDecodingError.Reason.truncated != .varintTooLong)
        #expect(ProtoDecodingError(.truncated).description == "truncated input")
    }
}
