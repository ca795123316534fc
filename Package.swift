// swift-tools-version:6.0
//
// Module layers (DESIGN.md §6); each arrow is the only way down:
//   CMPI, CBLAS, CDNNL (C shims), CKernels (C loops) -> Geometry -> Kernels (CBLAS, CDNNL,
//   CKernels) and Comm (CMPI)
//   -> DistConv -> distconv (CLI)
import PackageDescription

let package = Package(
    name: "distconv",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "distconv", targets: ["distconv"]),
        .library(name: "DistConv", targets: ["DistConv"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .target(name: "Geometry"),
        .target(name: "CKernels"),
        .target(name: "Kernels", dependencies: ["CBLAS", "CDNNL", "CKernels", "Geometry"]),
        .target(name: "Comm", dependencies: ["CMPI", "Geometry"]),
        .target(name: "DistConv", dependencies: ["Geometry", "Kernels", "Comm", "CZlib"]),
        .executableTarget(
            name: "distconv",
            dependencies: [
                "DistConv", "Comm", "Kernels", "Geometry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Benchmarks: release builds run by bench/run (never by the test suite).
        .executableTarget(
            name: "bench-halo", dependencies: ["Comm", "Geometry", "CMPI"], path: "bench/halo"),
        .executableTarget(
            name: "bench-kernels", dependencies: ["Kernels", "Geometry", "CBLAS", "CDNNL"],
            path: "bench/kernels"),

        // Tests. MPIChecks is a program the integration tests start under mpirun.
        .target(name: "TestSupport", dependencies: ["Geometry"], path: "Tests/TestSupport"),
        .executableTarget(
            name: "mpi-checks", dependencies: ["Comm", "Geometry", "DistConv", "Kernels"],
            path: "Tests/MPIChecks"),
        .testTarget(name: "GeometryTests", dependencies: ["Geometry", "TestSupport"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "Geometry", "TestSupport"]),
        .testTarget(name: "CommTests", dependencies: ["Comm", "Geometry", "TestSupport"]),
        .testTarget(
            name: "DistConvTests",
            dependencies: ["DistConv", "Kernels", "Geometry", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["distconv", "mpi-checks", "DistConv", "TestSupport"]),
    ]
)
