// swift-tools-version:6.0
// libFuzzer harnesses for jitaudit (issue 5). A sibling package, so the main
// manifest has no fuzz-only targets: build it with scripts/fuzz, which runs
//   swift build -c release --sanitize=fuzzer --sanitize=address --scratch-path .build-fuzz
// from this folder. See docs/fuzzing.md.
import PackageDescription

let core: Target.Dependency = .product(name: "JITAuditCore", package: "jitaudit")

let package = Package(
    name: "jitaudit-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "jitaudit", path: "..")],
    targets: [
        // Code the harnesses share, and the daemon's line framing compiled in
        // from its source (JITAuditDaemon is not a product of the main package).
        .target(name: "FuzzSupport", dependencies: [core]),
        .executableTarget(name: "FuzzDecoder", dependencies: ["FuzzSupport", core]),
        .executableTarget(name: "FuzzRules", dependencies: ["FuzzSupport", core]),
        .executableTarget(name: "FuzzFraming", dependencies: ["FuzzSupport"]),
    ]
)
