import Logging
import Synchronization

/// Log records kept in memory, to check what a component told the operator (or that it never
/// logged a secret).
public final class CapturedLogs: Sendable {
    public struct Record: Sendable {
        public var level: Logger.Level
        public var text: String
    }

    private let records = Mutex<[Record]>([])

    public init() {}

    /// A logger that records into this capture.
    public func logger(label: String = "test") -> Logger {
        Logger(label: label) { _ in Handler(capture: self) }
    }

    public var all: [Record] { records.withLock { $0 } }

    public func contains(level minimum: Logger.Level, _ fragment: String) -> Bool {
        all.contains { $0.level >= minimum && $0.text.contains(fragment) }
    }

    fileprivate func append(_ record: Record) {
        records.withLock { $0.append(record) }
    }

    private struct Handler: LogHandler {
        let capture: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = (event.metadata ?? [:]).merging(metadata) { current, _ in current }
            let text = ([event.message.description] + fields.map { "\($0.key)=\($0.value)" }).joined(separator: " ")
            capture.append(Record(level: event.level, text: text))
        }
    }
}
