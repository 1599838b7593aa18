// swift-tools-version:6.0
// libFuzzer harnesses for jitaudit (issue 5). A sibling package, so the main
// manifest has no fuzz-only targets; scripts/fuzz builds it with
//   swift build -c release --sanitize=fuzzer --sanitize=address \
//     -Xswiftc -sanitize=fuzzer,address --scratch-path ../.build-fuzz
// from this folder. See docs/fuzzing.md.
//
// The daemon's framing code is not in a library product, so the harnesses
// compile its files from their sources: the symlinks under Sources/FuzzSupport
// and Sources/FuzzSocketFraming point into ../Sources/JITAuditDaemon. A new
// dependency of those files needs its file linked here too.
import PackageDescription

let core: Target.Dependency = .product(name: "JITAuditCore", package: "jitaudit")

let package = Package(
    name: "jitaudit-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "jitaudit", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // Shared checks, and LineReader (file sources) from its source.
        .target(name: "FuzzSupport", dependencies: [core]),
        .executableTarget(name: "FuzzDecoder", dependencies: ["FuzzSupport", core]),
        .executableTarget(name: "FuzzRules", dependencies: ["FuzzSupport", core]),
        .executableTarget(name: "FuzzFraming", dependencies: ["FuzzSupport"]),
        // The socket source's LineFramingHandler with what it needs, from their sources.
        .executableTarget(name: "FuzzSocketFraming", dependencies: [
            core,
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    ]
)
