/// A secret as printing and reflection show it.
struct RedactedValue: CustomStringConvertible, CustomDebugStringConvertible {
    var description: String { "<redacted>" }
    var debugDescription: String { description }
}

/// Messages that carry secrets (API keys, OAuth codes and state, webhook tokens) print, debug-print
/// and `dump` with those fields redacted, so that logging a command or a result cannot leak them.
/// Each conformer lists its children in `customMirror`, with `RedactedValue` in place of secrets.
protocol RedactingDescription: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {}

extension RedactingDescription {
    public var description: String {
        let fields = customMirror.children.map { child in
            "\(child.label ?? "_"): \(String(reflecting: child.value))"
        }
        return "\(Self.self)(\(fields.joined(separator: ", ")))"
    }

    public var debugDescription: String { description }
}

extension ApiKeyCredentials: RedactingDescription {
    public var customMirror: Mirror {
        Mirror(self, children: ["apiKey": RedactedValue(), "apiSecret": RedactedValue()], displayStyle: .struct)
    }
}

extension InitiateBrokerConnection: RedactingDescription {
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "userID": userID, "brokerID": brokerID, "environment": environment as Any,
                "apiEndpointOverride": apiEndpointOverride, "authMethod": authMethod as Any,
                "apiKeyCredentials": apiKeyCredentials as Any, "oauthRedirectURI": oauthRedirectURI,
                "sagaID": sagaID as Any,
            ],
            displayStyle: .struct)
    }
}

extension CompleteOAuth: RedactingDescription {
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "brokerConnectionID": brokerConnectionID, "userID": userID, "authorizationCode": RedactedValue(),
                "state": RedactedValue(), "sagaID": sagaID as Any,
            ],
            displayStyle: .struct)
    }
}

extension InitiateBrokerConnectionResult: RedactingDescription {
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "brokerConnectionID": brokerConnectionID, "status": status, "authorizationURL": RedactedValue(),
                "oauthState": RedactedValue(), "version": version,
            ],
            displayStyle: .struct)
    }
}

extension CreateAutomationResult: RedactingDescription {
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "automationID": automationID, "webhookURL": webhookURL, "webhookToken": RedactedValue(),
                "status": status, "version": version,
            ],
            displayStyle: .struct)
    }
}
