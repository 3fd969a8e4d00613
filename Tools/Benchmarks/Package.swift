// swift-tools-version:6.1
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder, which differs between checkouts (a CI clone,
// a worktree), so the main package's identity is read off the path rather than spelled out.
let mainPackage = URL(fileURLWithPath: Context.packageDirectory)
    .deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

// Micro-benchmarks of the wire codecs and of the command bus, kept out of the main package so its
// builds stay light. Run from this folder: swift package benchmark (see each target's file).
let package = Package(
    name: "TradeCoreBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../.."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "WireBenchmarks",
            dependencies: [
                .product(name: "TradeCoreMessages", package: mainPackage),
                .product(name: "WireFormat", package: mainPackage),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/WireBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "EventSourcingBenchmarks",
            dependencies: [
                .product(name: "EventSourcing", package: mainPackage),
                .product(name: "EventStore", package: mainPackage),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/EventSourcingBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
