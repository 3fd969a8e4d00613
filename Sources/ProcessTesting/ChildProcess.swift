import Foundation

/// A program of this package run as a child process, as a user would run it.
public struct ChildProcess: Sendable {
    /// How a run ended.
    public struct Outcome: Sendable {
        public let status: Int32
        public let output: String
        public let errors: String
    }

    /// Runs a built executable to its end (at most `timeout`); returns its exit status, standard
    /// output and standard error. Output goes through files: reading a pipe with FileHandle can
    /// trap on EINTR.
    ///
    /// Every wait here suspends instead of blocking its thread: tests run on the few threads of
    /// Swift's cooperative pool, and one blocked there stalls every other test's tasks (a
    /// PostgreSQL store then fails to open in time).
    public static func run(
        _ name: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)
    ) async throws -> Outcome {
        let process = try start(name, arguments, environment: environment)
        if !(await process.waitForExit(timeout: timeout)) {
            // SIGKILL: a child may have been started with SIGTERM ignored (the test process's own
            // ignored signals are inherited), and then a polite stop would wait for ever.
            process.signal(SIGKILL)
            _ = await process.waitForExit(timeout: .seconds(60))
            throw ChildProcessError("\(name) \(arguments.joined(separator: " ")) did not end within \(timeout)")
        }
        return await process.finish()
    }

    /// Runs a program of the system (by path) to its end; returns its exit status.
    public static func runSystem(_ path: String, _ arguments: [String]) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        while process.isRunning { await pause() }
        return process.terminationStatus
    }

    /// Starts a built executable, or a program of the system given by its path (such as
    /// `/bin/sh`); ``Running/finish()`` collects its outcome.
    public static func start(
        _ name: String, _ arguments: [String], environment: [String: String] = [:]
    ) throws -> Running {
        let directory = FileManager.default.temporaryDirectory
        let output = directory.appendingPathComponent("child-\(UUID().uuidString).out")
        let errors = directory.appendingPathComponent("child-\(UUID().uuidString).err")
        for file in [output, errors] { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        let process = Process()
        process.executableURL = name.hasPrefix("/") ? URL(fileURLWithPath: name) : try builtExecutable(name)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TRADECORE_") }
            .merging(environment) { _, given in given }
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        try process.run()
        return Running(process: process, outputFile: output, errorFile: errors)
    }

    /// A child that is running.
    public final class Running: @unchecked Sendable {
        // @unchecked: Process is not Sendable; a test's own task owns this object and is the only
        // one to touch it.
        public let process: Process
        let outputFile: URL
        let errorFile: URL

        init(process: Process, outputFile: URL, errorFile: URL) {
            self.process = process
            self.outputFile = outputFile
            self.errorFile = errorFile
        }

        /// A child still running when its test lets go of it (the test failed, or threw, before
        /// stopping it) is killed, not left to outlive the test run.
        deinit {
            guard process.isRunning else { return }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: outputFile)
            try? FileManager.default.removeItem(at: errorFile)
        }

        /// What it wrote so far.
        public var output: String { (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "" }
        public var errors: String { (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "" }

        /// Sends it a signal.
        public func signal(_ signal: Int32) {
            kill(process.processIdentifier, signal)
        }

        /// Waits, at most `timeout`, for it to end; says whether it did. Polls without blocking a
        /// thread, and keeps waiting when the task is cancelled (a child must be reaped).
        @discardableResult
        public func waitForExit(timeout: Duration) async -> Bool {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning && ContinuousClock.now < deadline {
                await pause()
            }
            return !process.isRunning
        }

        /// Waits for it to end and collects what it wrote.
        public func finish() async -> Outcome {
            while process.isRunning { await pause() }
            let outcome = Outcome(status: process.terminationStatus, output: output, errors: errors)
            try? FileManager.default.removeItem(at: outputFile)
            try? FileManager.default.removeItem(at: errorFile)
            return outcome
        }
    }
}

/// Ten milliseconds between two looks at a child or a port: suspended, or, in a cancelled task
/// (where `Task.sleep` returns at once), slept, so that a loop never spins.
func pause() async {
    do {
        try await Task.sleep(for: .milliseconds(10))
    } catch {
        usleep(10_000)
    }
}

/// A child process that misbehaved.
public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A free TCP port on loopback (bound, read and released).
public func freePort() throws -> Int {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { throw ChildProcessError("cannot open a socket") }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            bind(socket, raw, length) == 0 && getsockname(socket, raw, &length) == 0
        }
    }
    guard bound else { throw ChildProcessError("cannot bind a socket") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
public func waitForPort(_ port: Int, timeout: Duration = .seconds(20)) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        close(socket)
        if connected { return }
        await pause()
    }
    throw ChildProcessError("nothing listens on port \(port)")
}
