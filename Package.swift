// swift-tools-version:6.0
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "jitaudit",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "jitaudit", targets: ["jitaudit"]),
        .library(name: "JITAuditCore", targets: ["JITAuditCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        .target(
            name: "JITAuditCore",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "JITAuditStore",
            dependencies: [
                "JITAuditCore", "CSQLite",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(
            name: "JITAuditDaemon",
            dependencies: [
                "JITAuditCore", "JITAuditStore", "CSystemd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "jitaudit",
            dependencies: [
                "JITAuditCore", "JITAuditStore", "JITAuditDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "JITAuditCoreTests", dependencies: ["JITAuditCore"], swiftSettings: strictSettings),
        .testTarget(name: "JITAuditStoreTests", dependencies: ["JITAuditStore"], swiftSettings: strictSettings),
        .testTarget(name: "JITAuditDaemonTests", dependencies: ["JITAuditDaemon"], swiftSettings: strictSettings),
        .testTarget(name: "jitauditTests", dependencies: ["JITAuditCore", "JITAuditDaemon"], swiftSettings: strictSettings),
    ]
)
