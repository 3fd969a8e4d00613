import ArgumentParser
import Foundation
import HTTP2RPC
import Histogram
import Synchronization
import TradeCoreClient
import TradeCoreMessages

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Send N calls at concurrency C over M connections; print throughput, latency percentiles and errors.",
        discussion: """
            Methods: ping (the transport's echo), create-order (a durable command: give --user and \
            --account; each call a new order, with its own command id), get-order (a query: give \
            --user and --order). Calls are not retried. A progress bar goes to stderr when it is a \
            terminal.
            """)

    enum Method: String, ExpressibleByArgument, CaseIterable {
        case ping
        case createOrder = "create-order"
        case getOrder = "get-order"
    }

    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print the figures as one JSON object.") var json = false
    @Option(help: "ping, create-order or get-order.") var method: Method = .ping
    @Option(name: [.customShort("n"), .long], parsing: .unconditional, help: "Calls in all.") var requests = 10_000
    @Option(name: [.customShort("c"), .long], parsing: .unconditional, help: "Calls in flight at once.")
    var concurrency = 32
    @Option(
        name: [.customShort("m"), .long], parsing: .unconditional,
        help: "Connections the calls share (default: 4, or --concurrency when that is less).")
    var connections: Int?

    /// The connections to open: as asked, else 4 but never more than calls in flight.
    private var connectionCount: Int { connections ?? min(4, concurrency) }
    @Option(parsing: .unconditional, help: "Bytes of the ping's payload.") var payloadSize = 100
    @Option(help: "With create-order or get-order (needed there): the user.") var user: UUID?
    @Option(help: "With create-order (needed there): the user's account to trade through.") var account: UUID?
    @Option(help: "With get-order (needed there): the user's order to read.") var order: UUID?

    func validate() throws {
        guard requests > 0 else { throw ValidationError("--requests must be positive") }
        // A ping's message carries at most 4 MiB, the server's limit.
        guard (0...4_000_000).contains(payloadSize) else {
            throw ValidationError("--payload-size must be 0 to 4000000 bytes, not \(payloadSize)")
        }
        guard concurrency > 0, concurrency <= 10_000 else { throw ValidationError("--concurrency must be 1 to 10000") }
        guard connectionCount > 0, connectionCount <= concurrency else {
            throw ValidationError("--connections must be 1 to --concurrency")
        }
        switch method {
        case .ping: break
        case .createOrder:
            guard user != nil, account != nil else { throw ValidationError("create-order needs --user and --account") }
        case .getOrder:
            guard user != nil, order != nil else { throw ValidationError("get-order needs --user and --order") }
        }
    }

    private struct Figures: Sendable {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000)
        var failures: [RPCStatus.Code: Int] = [:]

        /// The failures by status name, in name order.
        var namedFailures: [(name: String, count: Int)] {
            failures.map { (name: "\($0.key)", count: $0.value) }.sorted { $0.name < $1.name }
        }
    }

    func run() async throws {
        let clients = try (0..<connectionCount).map { _ in try connection.client(attempts: 1) }
        defer { Task { for client in clients { await client.close() } } }
        // One warm-up call per connection, so the figures do not count connecting.
        for client in clients {
            _ = try await calling { try await client.health() }
        }
        let payload = [UInt8](repeating: 0x70, count: payloadSize)
        let next = Tally()
        let done = Tally()
        let clock = ContinuousClock()
        let started = clock.now
        let progress = isatty(STDERR_FILENO) == 1 ? Task { await showProgress(done, started: started) } : nil
        let figures = await withTaskGroup(of: Figures.self) { group in
            for worker in 0..<concurrency {
                let client = clients[worker % clients.count]
                group.addTask {
                    // Each worker runs on its connection's thread: a call needs no hop between threads.
                    do {
                        return try await client.onConnectionLoop {
                            var figures = Figures()
                            while next.take() < requests {
                                let began = clock.now
                                do {
                                    try await call(client, payload: payload)
                                    let elapsed = clock.now - began
                                    _ = figures.histogram.record(UInt64(max(elapsed / .nanoseconds(1), 1)))
                                } catch {
                                    figures.failures[TradeCoreError(error).code, default: 0] += 1
                                }
                                _ = done.take()
                            }
                            return figures
                        }
                    } catch {
                        var figures = Figures()
                        figures.failures[TradeCoreError(error).code, default: 0] += 1
                        return figures
                    }
                }
            }
            var all = Figures()
            for await figures in group {
                all.histogram.add(figures.histogram)
                all.failures.merge(figures.failures, uniquingKeysWith: +)
            }
            return all
        }
        let elapsed = (clock.now - started) / .seconds(1)
        progress?.cancel()
        if progress != nil { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        report(figures, elapsed: elapsed)
        // Figures are printed whatever happened; a run with failed calls still fails, with the
        // status most of them ended with, so a script sees it.
        let commonest = figures.failures.max { ($0.value, $1.key.rawValue) < ($1.value, $0.key.rawValue) }
        if let (code, count) = commonest {
            let failed = figures.failures.values.reduce(0, +)
            throw CLIError(
                "\(failed) of \(requests) calls failed (the most, \(count), with \(code))",
                exitCode: Int32(code.rawValue))
        }
    }

    private func call(_ client: TradeCoreClient, payload: [UInt8]) async throws {
        switch method {
        case .ping:
            _ = try await client.ping(payload)
        case .createOrder:
            guard let user, let account else { return }
            _ = try await client.createOrder(
                CreateOrder(
                    userID: user, symbol: "AAPL", side: .buy, quantity: ExactDecimal(1), orderType: .limit,
                    limitPrice: ExactDecimal(1), accountID: account))
        case .getOrder:
            guard let user, let order else { return }
            _ = try await client.getOrder(GetOrder(orderID: order, userID: user))
        }
    }

    private func showProgress(_ done: Tally, started: ContinuousClock.Instant) async {
        let width = 30
        while !Task.isCancelled {
            let count = done.count
            let fraction = Double(count) / Double(requests)
            let filled = Int(fraction * Double(width))
            let seconds = (ContinuousClock.now - started) / .seconds(1)
            let rate = seconds > 0 ? Double(count) / seconds : 0
            let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
            FileHandle.standardError.write(
                Data(
                    String(format: "\r[%@] %3.0f%%  %d/%d  %.0f calls/s", bar, fraction * 100, count, requests, rate)
                        .utf8))
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private func report(_ figures: Figures, elapsed: Double) {
        let histogram = figures.histogram
        let succeeded = Int(histogram.totalCount)
        func microseconds(_ percentile: Double) -> Double { Double(histogram.valueAtPercentile(percentile)) / 1_000 }
        let rate = Double(succeeded) / elapsed
        if json {
            let errors = figures.namedFailures.map { "\"\($0.name)\":\($0.count)" }.joined(
                separator: ",")
            // Latencies are of the calls that succeeded: with none, there are none (null).
            let latencies =
                succeeded == 0
                ? "\"p50_us\":null,\"p90_us\":null,\"p99_us\":null,\"p999_us\":null,\"max_us\":null"
                : String(
                    format: "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f",
                    microseconds(50), microseconds(90), microseconds(99), microseconds(99.9),
                    Double(histogram.max) / 1_000)
            print(
                String(
                    format:
                        "{\"method\":\"%@\",\"requests\":%d,\"succeeded\":%d,\"seconds\":%.3f,\"calls_per_second\":%.1f,"
                        + "%@,\"errors\":{%@}}",
                    method.rawValue, requests, succeeded, elapsed, rate, latencies, errors))
            return
        }
        print("\(method.rawValue): \(requests) calls, concurrency \(concurrency), \(connectionCount) connection(s)")
        print(String(format: "  %.2f s, %.0f calls/s, %d succeeded", elapsed, rate, succeeded))
        if succeeded == 0 {
            print("  latency  none: no call succeeded")
        } else {
            print(
                String(
                    format: "  latency  p50 %.1f µs  p90 %.1f µs  p99 %.1f µs  p99.9 %.1f µs  max %.1f µs",
                    microseconds(50),
                    microseconds(90), microseconds(99), microseconds(99.9), Double(histogram.max) / 1_000))
        }
        if figures.failures.isEmpty {
            print("  errors: none")
        } else {
            print(
                "  errors: "
                    + figures.namedFailures.map { "\($0.name) \($0.count)" }.joined(separator: ", "))
        }
    }
}

/// A count shared by the bench's tasks.
final class Tally: Sendable {
    private let value = Atomic<Int>(0)

    var count: Int { value.load(ordering: .relaxed) }

    /// Counts one; returns the count before.
    func take() -> Int { value.wrappingAdd(1, ordering: .relaxed).oldValue }
}
