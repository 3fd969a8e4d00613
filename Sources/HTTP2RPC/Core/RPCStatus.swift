/// The outcome of a call: a gRPC status code and a human-readable message.
///
/// Every call ends with exactly one status, sent in the `grpc-status` and `grpc-message`
/// trailers. `RPCStatus.ok` is the only success.
public struct RPCStatus: Sendable, Hashable, CustomStringConvertible {
    /// The gRPC status codes, numbered as in grpc's `doc/statuscodes.md`.
    public enum Code: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case ok = 0
        case cancelled = 1
        case unknown = 2
        case invalidArgument = 3
        case deadlineExceeded = 4
        case notFound = 5
        case alreadyExists = 6
        case permissionDenied = 7
        case resourceExhausted = 8
        case failedPrecondition = 9
        case aborted = 10
        case outOfRange = 11
        case unimplemented = 12
        case `internal` = 13
        case unavailable = 14
        case dataLoss = 15
        case unauthenticated = 16

        /// Parses the decimal form used in the `grpc-status` trailer. Values the
        /// specification does not define map to `unknown`, as the spec requires of clients.
        public init(wireValue: Substring) {
            if let number = UInt8(wireValue), let code = Code(rawValue: number) {
                self = code
            } else {
                self = .unknown
            }
        }

        /// The decimal form sent in the `grpc-status` trailer.
        var wireValue: StaticString {
            switch self {
            case .ok: "0"
            case .cancelled: "1"
            case .unknown: "2"
            case .invalidArgument: "3"
            case .deadlineExceeded: "4"
            case .notFound: "5"
            case .alreadyExists: "6"
            case .permissionDenied: "7"
            case .resourceExhausted: "8"
            case .failedPrecondition: "9"
            case .aborted: "10"
            case .outOfRange: "11"
            case .unimplemented: "12"
            case .internal: "13"
            case .unavailable: "14"
            case .dataLoss: "15"
            case .unauthenticated: "16"
            }
        }

        public var description: String {
            switch self {
            case .ok: "OK"
            case .cancelled: "CANCELLED"
            case .unknown: "UNKNOWN"
            case .invalidArgument: "INVALID_ARGUMENT"
            case .deadlineExceeded: "DEADLINE_EXCEEDED"
            case .notFound: "NOT_FOUND"
            case .alreadyExists: "ALREADY_EXISTS"
            case .permissionDenied: "PERMISSION_DENIED"
            case .resourceExhausted: "RESOURCE_EXHAUSTED"
            case .failedPrecondition: "FAILED_PRECONDITION"
            case .aborted: "ABORTED"
            case .outOfRange: "OUT_OF_RANGE"
            case .unimplemented: "UNIMPLEMENTED"
            case .internal: "INTERNAL"
            case .unavailable: "UNAVAILABLE"
            case .dataLoss: "DATA_LOSS"
            case .unauthenticated: "UNAUTHENTICATED"
            }
        }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String = "") {
        self.code = code
        self.message = message
    }

    public static let ok = RPCStatus(.ok)

    public var description: String {
        message.isEmpty ? code.description : "\(code): \(message)"
    }
}
