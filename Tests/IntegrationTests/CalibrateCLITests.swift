import DistConv
import Foundation
import TestSupport
import Testing

/// `distconv calibrate` as a user runs it: the built binary under `launch/local`.
@Suite(.serialized) struct CalibrateCLITests {
    func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("calibrate-\(UUID().uuidString)-\(name)").path
    }

    @Test func quickOnTwoRanksWritesAProfileThatLoads() throws {
        let path = temporaryPath("profile.json")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try runMPI(ranks: 2, "distconv", ["calibrate", "--quick", "--output", path], timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("ranks per node 2") && r.stdout.contains("wrote \(path)"), "\(r.stdout)")
        let p = try MachineProfile.load(path: path)
        #expect(p.ranksPerNode == 2)
        for kind in KernelWork.Kind.allCases {
            #expect(p.kernels.contains { $0.work.kind == kind }, "no \(kind.rawValue) sample")
        }
        #expect(p.kernels.allSatisfy { $0.seconds > 0 && $0.seconds.isFinite })
        // Messages were timed between the two ranks: a latency and a bandwidth.
        #expect(p.intraNode.alpha > 0 && p.intraNode.beta > 0 && p.copy.beta > 0)
        #expect(p.interNode == Calibration.typicalInterNode)
        // No temporary file is left beside it.
        let dir = (path as NSString).deletingLastPathComponent, name = (path as NSString).lastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(name + ".tmp") }.isEmpty)
    }

    @Test func oneRankTimesNoMessages() throws {
        let path = temporaryPath("one.json")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try runMPI(ranks: 1, "distconv", ["calibrate", "--quick", "--output", path, "--inter-node", "5,3"],
                           timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let p = try MachineProfile.load(path: path)
        #expect(p.ranksPerNode == 1 && p.intraNode == LinkCost(alpha: 0, beta: 0))
        #expect(abs(p.interNode.alpha - 5e-6) < 1e-15 && abs(p.interNode.beta - 1 / 3e9) < 1e-20)
    }

    @Test func badFlagsAndUnwritableOutputExitTwoWithOneLine() throws {
        let cases: [([String], String)] = [
            (["--inter-node", "fast"], "--inter-node is 'fast'"),
            (["--inter-node", "2,0"], "--inter-node is '2,0'"),
            (["--model-ranks", "0"], "--model-ranks is '0'"),
            (["--data", "tape"], "--data is 'tape'"),
            (["--output", "/nonexistent/dir/p.json"], "--output /nonexistent/dir/p.json: cannot write there"),
            (["--model", "/nonexistent/m.json"], "/nonexistent/m.json"),
        ]
        for (flags, message) in cases {
            let r = try runProduct("distconv", ["calibrate", "--quick"] + flags, timeout: 60)
            #expect(r.status == 2, "\(flags): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains(message), "\(flags): \(r.stderr)")
        }
    }

    @Test func planReadsTheProfileAndBadProfilesExitTwo() throws {
        let bad = temporaryPath("bad.json")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        try Data(#"{"format": "distconv-profile", "version": 1, "machine": "m"}"#.utf8).write(to: URL(fileURLWithPath: bad))
        let r = try runProduct("distconv", ["plan", "--model", "examples/conv-stack.json", "--ranks", "2", "--grid",
                                            "spatial", "--profile", bad])
        #expect(r.status == 2 && r.stderr.contains(bad) && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }
}
