import Testing

@testable import DistConv

/// The parts of failure handling that need no MPI: the test fault's syntax, and the
/// finite check's vectorised scan against a plain one.
@Suite struct FailureHandlingTests {
    @Test func faultsParse() throws {
        #expect(try TestFault.parse("1:3:nan:conv2") == TestFault(rank: 1, step: 3, kind: .nan, op: "conv2"))
        #expect(try TestFault.parse("0:1:stop") == TestFault(rank: 0, step: 1, kind: .stop, op: nil))
        for bad in ["", "1:3", "1:0:kill", "-1:2:kill", "1:2:explode", "a:2:kill", "1:2:kill:x:y"] {
            #expect(throws: TrainingError.self, "\(bad)") { try TestFault.parse(bad) }
        }
    }

    @Test func theFiniteScanFindsEveryNonFiniteElement() {
        // Every length around the 16-lane blocks, a bad value at every position.
        for count in [0, 1, 15, 16, 17, 33, 64] {
            var values = (0..<count).map { Float($0) * 1e30 }
            #expect(values.withUnsafeBufferPointer { Network<Float>.allFinite($0) })
            for at in 0..<count {
                for bad in [Float.nan, .infinity, -.infinity] {
                    values[at] = bad
                    let found = values.withUnsafeBufferPointer { Network<Float>.allFinite($0) }
                    #expect(!found, "\(bad) at \(at) of \(count)")
                    values[at] = Float(at)
                }
            }
            let doubles = values.map(Double.init) + [.nan]
            #expect(!doubles.withUnsafeBufferPointer { Network<Double>.allFinite($0) })
        }
    }
}
