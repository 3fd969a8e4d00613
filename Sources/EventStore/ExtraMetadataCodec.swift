import Foundation

/// The compact encoding of an event's extra metadata in the `extra` column.
///
/// Pairs sorted by key, each as a varint length and UTF-8 bytes for the key, then for the value,
/// after a leading varint count. Empty metadata is stored as NULL. Decoding never traps: a damaged
/// value throws.
package enum ExtraMetadataCodec {
    package static func encode(_ extra: [String: String]) -> Data? {
        guard !extra.isEmpty else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(extra.reduce(4) { $0 + $1.key.utf8.count + $1.value.utf8.count + 4 })
        appendVarint(UInt64(extra.count), to: &bytes)
        for key in extra.keys.sorted() {
            let value = extra[key] ?? ""
            appendVarint(UInt64(key.utf8.count), to: &bytes)
            bytes.append(contentsOf: key.utf8)
            appendVarint(UInt64(value.utf8.count), to: &bytes)
            bytes.append(contentsOf: value.utf8)
        }
        return Data(bytes)
    }

    package static func decode(_ data: Data?) throws -> [String: String] {
        guard let data, !data.isEmpty else { return [:] }
        var reader = Reader(bytes: [UInt8](data))
        let count = try reader.varint()
        guard count <= UInt64(data.count) else { throw reader.damaged("pair count \(count)") }
        var extra: [String: String] = [:]
        extra.reserveCapacity(Int(count))
        for _ in 0..<count {
            let key = try reader.string()
            extra[key] = try reader.string()
        }
        guard reader.isAtEnd else { throw reader.damaged("trailing bytes") }
        return extra
    }

    private static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var isAtEnd: Bool { index == bytes.count }

        func damaged(_ what: String) -> EventStoreError {
            EventStoreError(code: .corruptStore, message: "damaged extra metadata in the store: \(what)")
        }

        mutating func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while index < bytes.count, shift < 64 {
                let byte = bytes[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
            throw damaged("truncated length")
        }

        mutating func string() throws -> String {
            let length = try varint()
            guard length <= UInt64(bytes.count - index) else { throw damaged("length \(length) past the end") }
            let end = index + Int(length)
            defer { index = end }
            guard let string = String(validating: bytes[index..<end], as: UTF8.self) else {
                throw damaged("invalid UTF-8")
            }
            return string
        }
    }
}
