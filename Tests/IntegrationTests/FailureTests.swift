import Foundation
import Testing
import TestSupport

/// What a user sees when something goes wrong in `train`, over real mpirun jobs on this
/// machine (through `launch/local`, as users start them): each failure ends the whole
/// job, with a non-zero exit code and one `distconv: error:` line naming the rank and the
/// reason, within a deadline measured from the fault (`DISTCONV_TEST_FAULT`).
@Suite(.serialized) struct FailureTests {
    /// A short run on the built-in synthetic task (the same data on every machine).
    static let base = ["train", "--steps", "6", "--eval-samples", "64"]
    static let short = base + ["--data", "synthetic"]

    struct Outcome {
        let result: ProcessResult
        /// Seconds from the fault to the end of the job (nil when the fault did not fire).
        let afterFault: Double?
        /// The `distconv: error:` lines on stderr.
        let errors: [String]
    }

    /// Runs `short + flags` on `ranks` ranks with `fault` (RANK:STEP:KIND[:OP]) injected.
    static func run(ranks: Int, fault: String?, _ flags: [String] = [], timeout: Double = 90) throws -> Outcome {
        let log = Fixtures.folder("fault") + "/fired"
        var env = ["MPIRUN_FLAGS": "-x DISTCONV_TEST_FAULT -x DISTCONV_TEST_FAULT_LOG", "DISTCONV_TEST_FAULT_LOG": log]
        env["DISTCONV_TEST_FAULT"] = fault ?? ""
        let r = try runMPI(ranks: ranks, "distconv", short + flags, timeout: timeout, environment: env)
        let ended = Date().timeIntervalSince1970
        let fired = (try? String(contentsOfFile: log, encoding: .utf8))
            .flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("distconv: error: ") }.map(String.init)
        let outcome = Outcome(result: r, afterFault: fired.map { ended - $0 }, errors: errors)
        print("\(fault ?? "no fault") on \(ranks) ranks \(flags): exit \(r.status), "
            + String(format: "%.1f s after the fault, %.1f s in all: ", outcome.afterFault ?? -1, r.seconds)
            + (errors.first ?? "(no distconv line)"))
        return outcome
    }

    static func expectEnded(_ o: Outcome, within seconds: Double, _ what: String) {
        #expect(!o.result.timedOut, "\(what): the job hung\n\(o.result.stderr)")
        #expect(o.result.status != 0, "\(what): exit 0\n\(o.result.stderr)")
        #expect(o.afterFault != nil, "\(what): the fault did not fire\n\(o.result.stdout)\n\(o.result.stderr)")
        if let t = o.afterFault { #expect(t <= seconds, "\(what): \(t) s from the fault to the end") }
        #expect(!o.result.stderr.contains("Process received signal"), "\(what): Open MPI's backtrace\n\(o.result.stderr)")
    }

    // MARK: A rank that dies

    @Test func aRankThatThrowsEndsTheJobNamingItself() throws {
        let o = try Self.run(ranks: 2, fault: "1:2:throw")
        Self.expectEnded(o, within: 10, "throw")
        #expect(o.result.status == 3)
        #expect(o.errors == ["distconv: error: rank 1: DISTCONV_TEST_FAULT: an error thrown in the training loop at step 2"],
                "\(o.result.stderr)")
    }

    @Test func aRankThatTrapsEndsTheJob() throws {
        let o = try Self.run(ranks: 4, fault: "2:2:trap")
        Self.expectEnded(o, within: 10, "trap")
        #expect(o.errors.count == 1 && o.errors[0].hasPrefix("distconv: error: rank 2 crashed at step 2: SIGILL, a Swift trap"),
                "\(o.result.stderr)")
        #expect(o.result.stderr.contains("Precondition failed: DISTCONV_TEST_FAULT: a trap at step 2"))
        #expect(o.result.stderr.contains("process rank 2 with PID"), "mpirun names the rank too\n\(o.result.stderr)")
    }

    @Test func aRankOutOfMemoryEndsTheJob() throws {
        let o = try Self.run(ranks: 2, fault: "1:2:oom")
        Self.expectEnded(o, within: 10, "oom")
        #expect(o.errors.count == 1 && o.errors[0].hasPrefix("distconv: error: rank 1 crashed at step 2: SIGABRT"),
                "\(o.result.stderr)")
        #expect(o.result.stderr.contains("failed to allocate"), "\(o.result.stderr)")
    }

    /// SIGKILL leaves the rank no word: mpirun's own line names it and the signal.
    @Test func aKilledRankEndsTheJob() throws {
        let o = try Self.run(ranks: 4, fault: "3:2:kill")
        Self.expectEnded(o, within: 10, "kill")
        #expect(o.errors.isEmpty, "\(o.result.stderr)")
        let line = o.result.stderr.split(separator: "\n").first { $0.contains("process rank 3") }
        #expect(line?.contains("exited on signal 9 (Killed)") == true, "\(o.result.stderr)")
    }

    // MARK: A rank that stops

    /// Rank 1 stops itself (SIGSTOP) at step 3: the others wait for it in the halo
    /// exchange of conv2's input, and 5 s later the lowest waiting rank names it.
    @Test func aStoppedRankIsNamedAfterTheStallTimeout() throws {
        let o = try Self.run(ranks: 4, fault: "1:3:stop", ["--stall-timeout", "5"])
        Self.expectEnded(o, within: 10, "stop")
        #expect(o.result.status == 3)
        #expect(o.errors == ["distconv: error: stall: rank 1 has not arrived after 5 s; ranks 0, 2-3 wait in conv2 forward halo exchange (step 3)"],
                "\(o.result.stderr)")
    }

    /// When rank 0 is the one that stopped, rank 1 speaks.
    @Test func aStoppedRankZeroIsNamedByRankOne() throws {
        let o = try Self.run(ranks: 2, fault: "0:2:stop", ["--stall-timeout", "3"])
        Self.expectEnded(o, within: 8, "stop rank 0")
        #expect(o.errors.count == 1 && o.errors[0].hasPrefix("distconv: error: stall: rank 0 has not arrived after 3 s; rank 1 waits in "),
                "\(o.result.stderr)")
    }

    /// The watch changes how ranks wait, not what they compute: the same parameters,
    /// bit for bit, with waits polled (the default) and with MPI's blocking waits.
    @Test func pollingWaitsTrainTheSameBits() throws {
        var parameters: [Data] = []
        for timeout in ["0", "60"] {
            let dir = Fixtures.folder("watch-\(timeout)")
            let r = try runMPI(ranks: 4, "distconv", Self.short + ["--stall-timeout", timeout, "--checkpoint-dir", dir],
                               timeout: 120)
            #expect(r.status == 0, "\(r.stderr)")
            parameters.append((try? Data(contentsOf: URL(fileURLWithPath: dir + "/checkpoint-00000006/model.safetensors"))) ?? Data())
        }
        #expect(!parameters[0].isEmpty && parameters[0] == parameters[1])
    }

    // MARK: Ranks that disagree

    /// `mpirun -n 1 distconv train ... : -n 1 distconv train ...` (MPMD) with two files or
    /// flags that differ.
    static func mpmd(_ first: [String], _ second: [String], folders: (String, String)? = nil) throws -> ProcessResult {
        let launcher = packageRoot.appendingPathComponent("launch/local").path
        let binary = productsDirectory.appendingPathComponent("distconv").path
        let wdir = folders.map { (["-wdir", $0.0], ["-wdir", $0.1]) } ?? ([], [])
        let r = try runProcess(
            "/bin/bash",
            [launcher, "-n", "1"] + wdir.0 + [binary] + base + first + [":", "-n", "1"] + wdir.1 + [binary] + base + second,
            timeout: 60)
        #expect(!r.timedOut && r.status == 2, "exit \(r.status)\n\(r.stdout)\n\(r.stderr)")
        #expect(!r.stdout.contains("epoch"), "training started\n\(r.stdout)")
        print("mismatch \(first) vs \(second): exit \(r.status) in \(String(format: "%.1f", r.seconds)) s")
        return r
    }

    static func errors(_ r: ProcessResult) -> [String] {
        r.stderr.split(separator: "\n").filter { $0.hasPrefix("distconv: error: ") }.map(String.init)
    }

    @Test func ranksThatDisagreeOnAFlagStopAtOnce() throws {
        let r = try Self.mpmd(["--data", "synthetic", "--lr", "0.1"], ["--data", "synthetic", "--lr", "0.2"])
        #expect(Self.errors(r) == ["distconv: error: ranks 0 and 1 disagree on --lr (0.1 vs 0.2)"], "\(r.stderr)")
        #expect(r.seconds < 10)
    }

    /// The same flags on both ranks, but each rank starts in its own folder whose
    /// `model.json` or `images.npy` differ: as two hosts whose copies of a file differ.
    @Test func ranksThatDisagreeOnTheModelOrTheData() throws {
        let one = Fixtures.folder("host-a"), two = Fixtures.folder("host-b")
        let model = try String(contentsOf: packageRoot.appendingPathComponent("examples/fashion-cnn.json"), encoding: .utf8)
        try model.write(toFile: one + "/model.json", atomically: true, encoding: .utf8)
        try model.replacingOccurrences(of: "\"out_channels\": 16", with: "\"out_channels\": 8")
            .write(toFile: two + "/model.json", atomically: true, encoding: .utf8)
        _ = Fixtures.bandImages(count: 40, in: one)
        _ = Fixtures.bandImages(count: 41, in: two)
        let data = ["--data-npy", "images.npy", "labels.npy", "--batch", "4"]

        let m = try Self.mpmd(["--model", "model.json"] + data, ["--model", "model.json"] + data, folders: (one, two))
        let modelLine = Self.errors(m).first ?? ""
        #expect(Self.errors(m).count == 1
                && modelLine.hasPrefix("distconv: error: ranks 0 and 1 disagree on the model description (model.json: fashion-cnn #"),
                "\(m.stderr)")

        let d = try Self.mpmd(data, data, folders: (one, two))
        let dataLine = Self.errors(d).first ?? ""
        #expect(Self.errors(d).count == 1 && dataLine.hasPrefix("distconv: error: ranks 0 and 1 disagree on the data (images.npy ")
                && dataLine.contains(" vs images.npy "), "\(d.stderr)")
    }

    // MARK: NaN and infinity

    @Test func aNaNInAWeightIsTracedToItsOp() throws {
        let o = try Self.run(ranks: 2, fault: "1:3:nan:conv2")
        // The step, then its batch again op by op: 2.5 s alone, 7.7 s beside the whole suite.
        Self.expectEnded(o, within: 30, "nan")
        #expect(o.result.status == 1)
        #expect(o.errors.count == 1 && o.errors[0].hasPrefix("distconv: error: non-finite ")
                && o.errors[0].hasSuffix(" at step 3; first in conv2 forward output (rank 1)"), "\(o.result.stderr)")
    }

    @Test func aBlowUpStopsTraining() throws {
        let o = try Self.run(ranks: 2, fault: nil, ["--lr", "1e6", "--steps", "30"])
        #expect(o.result.status == 1, "\(o.result.stderr)")
        let line = o.errors.first ?? ""
        #expect(o.errors.count == 1 && line.contains("non-finite ") && line.contains("; first in ")
                && (line.contains(" forward output (rank ") || line.contains(" backward ")), "\(o.result.stderr)")
        #expect(!o.result.stdout.contains("epoch 1/"), "the run went on to the end\n\(o.result.stdout)")
    }

    @Test func theCheckShowsInTheStepTimes() throws {
        let r = try runMPI(ranks: 2, "distconv", Self.short + ["--timings"], timeout: 90)
        #expect(r.status == 0, "\(r.stderr)")
        let header = r.stdout.split(separator: "\n").first { $0.hasPrefix("time per step in ms") } ?? ""
        #expect(header.contains(", check,"), "\(r.stdout)")
    }

    // MARK: Missing and corrupt files

    /// Each input a run reads, missing and corrupt: exit 2 and one line naming the file,
    /// from one rank of 2, before any rank trains.
    @Test func missingAndCorruptFilesEndTheJobBeforeTraining() throws {
        let dir = Fixtures.folder("files")
        try "{\"name\": \"x\", \"ops\": [".write(toFile: dir + "/model.json", atomically: true, encoding: .utf8)
        try "garbage\n".write(toFile: dir + "/dump.graph", atomically: true, encoding: .utf8)
        var idx = [UInt8]([0, 0, 8, 3, 0, 0, 0xEA, 0x60, 0, 0, 0, 28, 0, 0, 0, 28])
        idx += [UInt8](repeating: 7, count: 100)
        try FileManager.default.createDirectory(atPath: dir + "/idx", withIntermediateDirectories: true)
        for name in ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"] {
            _ = FileManager.default.createFile(atPath: dir + "/idx/" + name, contents: Data(idx))
        }
        // A real checkpoint, then its parameters cut short.
        let made = try runMPI(ranks: 2, "distconv", Self.short + ["--steps", "1", "--checkpoint-dir", dir + "/ck"])
        #expect(made.status == 0, "\(made.stderr)")
        let parameters = dir + "/ck/checkpoint-00000001/model.safetensors"
        let whole = try Data(contentsOf: URL(fileURLWithPath: parameters))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: parameters))

        let cases: [(String, [String], String)] = [
            ("missing data", ["--data", dir + "/none"], dir + "/none/train-images-idx3-ubyte"),
            ("corrupt data", ["--data", dir + "/idx"], dir + "/idx/train-images-idx3-ubyte"),
            ("missing model", ["--model", dir + "/none.json"], dir + "/none.json: cannot read the file"),
            ("corrupt model", ["--model", dir + "/model.json"], dir + "/model.json: malformed model"),
            ("missing graph dump", ["--graph", dir + "/none.graph"], dir + "/none.graph: cannot read the file"),
            ("corrupt graph dump", ["--graph", dir + "/dump.graph"], dir + "/dump.graph: line 1:"),
            ("missing checkpoint", ["--resume", dir + "/none"], dir + "/none: no such checkpoint folder"),
            ("corrupt checkpoint", ["--resume", dir + "/ck"], parameters),
            ("missing parameters", ["--init", dir + "/none.safetensors"], dir + "/none.safetensors: cannot read the file"),
            ("corrupt parameters", ["--init", parameters], parameters),
        ]
        for (what, flags, named) in cases {
            let r = try runMPI(ranks: 2, "distconv", Self.short + flags, timeout: 60)
            let errors = Self.errors(r)
            print("\(what): exit \(r.status) in \(String(format: "%.1f", r.seconds)) s: \(errors.first ?? "(none)")")
            #expect(!r.timedOut && r.status == 2, "\(what): exit \(r.status)\n\(r.stderr)")
            #expect(errors.count == 1 && errors[0].contains(named), "\(what): \(r.stderr)")
            #expect(!r.stdout.contains("distconv train:") && !r.stdout.contains("epoch"), "\(what): training started\n\(r.stdout)")
        }
    }
}
