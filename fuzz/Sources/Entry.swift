import Foundation

// libFuzzer's entry points (the binary is linked with -sanitize=fuzzer, which brings main).
// The reader comes from the environment, DISTCONV_FUZZ_READER, as fuzz/run sets it.

nonisolated(unsafe) private var reader = FuzzReader.model

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    let name = ProcessInfo.processInfo.environment["DISTCONV_FUZZ_READER"] ?? ""
    guard let chosen = FuzzReader(rawValue: name) else {
        let known = FuzzReader.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("DISTCONV_FUZZ_READER is '\(name)'; expected one of \(known)\n".utf8))
        exit(2)
    }
    reader = chosen
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    reader.run(bytes)
    return 0
}
