import DistConv
import Foundation
import Testing

/// `MachineProfile`: the JSON `distconv calibrate` writes, its lookup, and its errors.
@Suite struct MachineProfileTests {
    static func conv(_ c: Int, _ s: Int, block: Int = 16) -> KernelWork {
        KernelWork(kind: .convolutionForward, input: [1, c, s + 2, s + 2], output: [1, c, s, s], window: [3, 3, 1, 1],
                   block: block)
    }

    /// Two 16-channel convolutions at 1 and 4 GFLOP/s... per second of work, a 64-channel
    /// one, an element-wise sample, and links.
    static func handMade() -> MachineProfile {
        let small = conv(16, 8), large = conv(16, 64), wide = conv(64, 32)
        return MachineProfile(
            machine: "hand-made", ranksPerNode: 2, copy: LinkCost(alpha: 1e-7, beta: 1e-10),
            intraNode: LinkCost(alpha: 1e-6, beta: 2e-10), interNode: LinkCost(alpha: 2e-6, beta: 1e-9),
            kernels: [
                .init(work: small, seconds: small.work / 1e9),
                .init(work: large, seconds: large.work / 4e9),
                .init(work: wide, seconds: wide.work / 50e9),
                .init(work: KernelWork(kind: .elementwiseForward, input: [1, 16, 8, 8], output: [1, 16, 8, 8], block: 16,
                                       variant: "relu"), seconds: 1e-6),
            ])
    }

    @Test func theWorkCountsFlopsOfAConvolution() {
        // 2 * outputs (16 * 8 * 8) * patch (16 * 3 * 3).
        #expect(Self.conv(16, 8).work == 2 * 1024 * 144)
    }

    @Test func jsonRoundTrip() throws {
        let p = Self.handMade()
        let back = try MachineProfile.decode(p.encoded(), file: "p.json")
        #expect(back == p)
        let object = try JSONSerialization.jsonObject(with: p.encoded()) as? [String: Any]
        #expect(object?["format"] as? String == "distconv-profile" && object?["ranks_per_node"] as? Int == 2)
        let first = (object?["kernels"] as? [[String: Any]])?.first
        #expect(first?["kind"] as? String == "conv_forward" && first?["window"] as? [Int] == [3, 3, 1, 1])
        // The wait at meeting points: written when measured, 0 when absent (older files).
        #expect(p.synchronisation == 0 && object?["synchronisation"] == nil)
        var waited = p
        waited.synchronisationSeconds = 1.5e-4
        let again = try MachineProfile.decode(waited.encoded(), file: "p.json")
        #expect(again == waited && again.synchronisation == 1.5e-4)
        var negative = waited
        negative.synchronisationSeconds = -1
        #expect(throws: MachineProfileError(file: "p.json", field: "synchronisation",
                                            "is -1.0, must be a finite number >= 0 (seconds)")) {
            try MachineProfile.decode(negative.encoded(), file: "p.json")
        }
    }

    @Test func exactSamplesTakeTheirMeasuredTime() {
        let p = Self.handMade()
        #expect(p.seconds(Self.conv(16, 8)) == Self.conv(16, 8).work / 1e9)
        #expect(p.seconds(p.kernels[3].work) == 1e-6)
    }

    @Test func otherWorksInterpolateTheRateInLogWork() {
        let p = Self.handMade()
        // Half way in log(work) between 8x8 (1 GFLOP/s) and 64x64 (4 GFLOP/s): work 8x that
        // of 8x8, so 2.5 GFLOP/s; the 64-channel sample is too far in channels to count.
        let middle = KernelWork(kind: .convolutionForward, input: [8, 16, 10, 10], output: [8, 16, 8, 8],
                                window: [3, 3, 1, 1], block: 16)
        #expect(abs(middle.work - 8 * Self.conv(16, 8).work) < 1e-6)
        let rate = middle.work / p.seconds(middle)
        #expect(abs(rate - 2.5e9) / 2.5e9 < 1e-9, "rate \(rate)")
        // Past the ends the end's rate holds.
        let huge = KernelWork(kind: .convolutionForward, input: [1, 16, 258, 258], output: [1, 16, 256, 256],
                              window: [3, 3, 1, 1], block: 16)
        #expect(abs(huge.work / p.seconds(huge) - 4e9) / 4e9 < 1e-9)
        // Near 64 channels the 64-channel sample decides.
        let wide = Self.conv(48, 32)
        #expect(abs(wide.work / p.seconds(wide) - 50e9) / 50e9 < 1e-9)
        // A kind with no sample costs nothing (the cost model then shows 0 for it).
        #expect(p.seconds(KernelWork(kind: .loss, input: [8, 10, 1, 1], output: [8, 1, 1, 1])) == 0)
    }

    @Test func aLinkIsAlphaPlusBytesTimesBeta() {
        let p = Self.handMade()
        #expect(p.intraNode.seconds(bytes: 1000) == 1e-6 + 1000 * 2e-10)
        #expect(p.intraNode.seconds(bytes: 0) == 0)
    }

    func error(_ edit: (inout [String: Any]) -> Void) throws -> String {
        var object = try #require(try JSONSerialization.jsonObject(with: Self.handMade().encoded()) as? [String: Any])
        edit(&object)
        let data = try JSONSerialization.data(withJSONObject: object)
        do {
            _ = try MachineProfile.decode(data, file: "bad.json")
        } catch {
            return error.description
        }
        Issue.record("decoded without an error")
        return ""
    }

    @Test func badFilesGiveOneLineNamingTheFileAndField() throws {
        #expect(try error { $0["format"] = "distconv-model" }.hasPrefix("bad.json: format: is 'distconv-model'"))
        #expect(try error { $0["version"] = 2 }.hasPrefix("bad.json: version: is 2"))
        #expect(try error { $0["ranks_per_node"] = 0 }.hasPrefix("bad.json: ranks_per_node: is 0"))
        #expect(try error { $0.removeValue(forKey: "intra_node") }.hasPrefix("bad.json: intra_node: required field"))
        #expect(try error { $0["copy"] = ["alpha": -1, "beta": 0] }.hasPrefix("bad.json: copy.alpha: is -1.0"))
        #expect(try error {
            var k = $0["kernels"] as! [[String: Any]]
            k[2]["seconds"] = 0
            $0["kernels"] = k
        }.hasPrefix("bad.json: kernels.2.seconds: is 0.0"))
        #expect(try error {
            var k = $0["kernels"] as! [[String: Any]]
            k[1]["kind"] = "teleport"
            $0["kernels"] = k
        }.hasPrefix("bad.json: kernels.1.kind:"))
        for message in [try error { $0["kernels"] = "none" }] {
            #expect(!message.contains("\n") && message.hasPrefix("bad.json: kernels:"), "\(message)")
        }
        do {
            _ = try MachineProfile.load(path: "/nonexistent/p.json")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.description == "/nonexistent/p.json: file: no such file")
        }
        do {
            _ = try MachineProfile.decode(Data("{not json".utf8), file: "x.json")
            Issue.record("decoded broken JSON")
        } catch {
            #expect(error.description.hasPrefix("x.json: (top level): not valid JSON"))
        }
    }

    @Test func theBuiltInProfileIsThisMachinesAndCoversEveryKind() {
        let p = MachineProfile.builtIn
        #expect(p.ranksPerNode >= 1)
        for kind in KernelWork.Kind.allCases {
            #expect(p.kernels.contains { $0.work.kind == kind }, "no \(kind.rawValue) sample")
        }
        #expect(p.kernels.allSatisfy { $0.seconds > 0 && $0.seconds.isFinite })
        #expect(p.intraNode.beta > 0 && p.copy.beta > 0)
    }

    @Test func calibrationListsTheRuntimesKernelCalls() throws {
        // The default model on one rank: data load, each layer's passes, the optimizer's
        // updates of conv1, conv2 and fc (weights and biases).
        let model = try Model(file: ModelFile(json: Data(ModelFile.defaultModelJSON.utf8), source: "default"),
                              source: "default")
        let works = try Calibration.works(of: model, data: "idx", rankCounts: [1])
        let kinds = Set(works.map(\.kind))
        #expect(kinds.isSuperset(of: [.dataLoad, .convolutionForward, .convolutionBackwardData, .convolutionBackwardWeights,
                                      .poolingForward, .poolingBackward, .elementwiseForward, .linearForward, .loss,
                                      .optimizerUpdate]))
        #expect(works.filter { $0.kind == .optimizerUpdate }.count == 6)
        // The first convolution has no input gradient (it reads the data).
        #expect(works.filter { $0.kind == .convolutionBackwardData }.count == 1)
        #expect(works.contains { $0.kind == .dataLoad && $0.output == [64, 1, 28, 28] && $0.variant == "idx" })
    }
}
