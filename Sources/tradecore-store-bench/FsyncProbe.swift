import Dispatch
import EventStore
import Foundation

/// The raw durability cost of the disk: a 256-byte write followed by fsync, in a loop, in the
/// directory under test.
///
/// Two variants, because they cost differently on most file systems: appending (the file grows, so
/// each fsync also writes the inode) and overwriting the same block (data only), which is what
/// SQLite's WAL does once it has reached its working size.
enum FsyncProbe {
    enum Mode: String {
        case append
        case overwrite
    }

    struct Result {
        var microseconds: Double
        var perSecond: Double
    }

    /// Both variants, half the time each, on a Dispatch thread: the probes block, so they stay off
    /// the cooperative pool the store's tasks run on.
    static func measureBoth(in directory: URL, seconds: Double) async throws -> (append: Result, overwrite: Result) {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Swift.Result {
                        (
                            try measure(in: directory, seconds: seconds / 2, mode: .append),
                            try measure(in: directory, seconds: seconds / 2, mode: .overwrite)
                        )
                    }
                )
            }
        }
    }

    static func measure(in directory: URL, seconds: Double, mode: Mode) throws -> Result {
        let path = directory.appendingPathComponent("fsync-probe-\(mode.rawValue)").path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ProbeError(message: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer {
            close(descriptor)
            unlink(path)
        }
        let block = [UInt8](repeating: 0x5A, count: 256)
        func writeBlock() throws {
            let written = block.withUnsafeBytes { buffer in
                mode == .append
                    ? write(descriptor, buffer.baseAddress, buffer.count)
                    : pwrite(descriptor, buffer.baseAddress, buffer.count, 0)
            }
            guard written == block.count, fsync(descriptor) == 0 else {
                throw ProbeError(message: "write or fsync failed on \(path): \(String(cString: strerror(errno)))")
            }
        }
        try writeBlock()
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int64(seconds * 1_000))
        var count = 0
        while clock.now < deadline {
            try writeBlock()
            count += 1
        }
        let elapsed = (clock.now - start).seconds
        return Result(microseconds: elapsed / Double(count) * 1_000_000, perSecond: Double(count) / elapsed)
    }
}

struct ProbeError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
