import Foundation
import HTTP2RPC
import Testing
import TradeCoreAPI

@Suite struct AuthenticatorTests {
    let token = "a-service-token-of-some-length"
    let authenticator: Authenticator

    init() throws {
        authenticator = try Authenticator(tokens: ["service:billing=\(token)"])
    }

    private func principal(_ header: String) -> Principal? {
        try? authenticator.principal(of: ["authorization": .string(header)])
    }

    @Test func theSchemeIsReadInAnyCaseAndSpacesBeforeTheTokenAreOne() {
        for header in [
            "Bearer \(token)", "bearer \(token)", "BEARER \(token)", "Bearer  \(token)", "Bearer   \(token)",
        ] {
            #expect(principal(header) == .service(name: "billing"), "\(header)")
        }
    }

    @Test func anotherSchemeNoTokenOrAnotherTokenIsRefused() {
        for header in ["Basic \(token)", "Bearer", "Bearer ", "Bearer\(token)", "\(token)", "Bearer \(token)x"] {
            #expect(principal(header) == nil, "\(header)")
        }
    }
}
