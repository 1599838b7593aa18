// swift-tools-version:6.0
// Benchmarks that need the engine's API rather than the binary (not built by
// CI; run through the scripts in ../scripts).
import Foundation
import PackageDescription

// A path dependency is named after its directory, whatever the checkout is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "jitaudit-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(
            name: "snapshot-stall",
            dependencies: [.product(name: "JITAuditCore", package: root)]
        ),
    ]
)
