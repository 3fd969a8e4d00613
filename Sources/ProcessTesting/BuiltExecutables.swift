import Foundation

/// An executable of this package, next to the test binary in the build products directory
/// (`swift build --build-tests` builds them all).
public func builtExecutable(_ name: String) throws -> URL {
    var candidates: [URL] = []
    // The running test binary (…/debug/TradeCorePackageTests.xctest on Linux).
    if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        candidates.append(URL(fileURLWithPath: executable).deletingLastPathComponent())
    }
    // A test bundle (macOS: …/debug/TradeCorePackageTests.xctest/Contents/MacOS/…): its parent.
    for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
        candidates.append(bundle.bundleURL.deletingLastPathComponent())
    }
    candidates.append(Bundle.main.bundleURL)
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    for directory in candidates {
        let url = directory.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    throw ExecutableNotFound(
        message: "\(name) not found next to the tests (looked in \(candidates.map(\.path))); build it with "
            + "`swift build --build-tests`"
    )
}

public struct ExecutableNotFound: Error, CustomStringConvertible {
    let message: String
    public var description: String { message }
}
