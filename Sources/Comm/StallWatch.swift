import CMPI

#if canImport(Glibc)
    import Glibc
#endif

/// Ends the job when a wait lasts longer than `timeout` seconds, naming the ranks that
/// have not arrived and what the others wait in (`--stall-timeout`).
///
/// Every wait of `Communicator` (point-to-point completions and collectives, made
/// non-blocking) polls through `wait`. When a rank's wait passes the deadline it
/// *reports*: it sends its `Activity` label to every other rank on a communicator of its
/// own (a duplicate of the world, so no message of the job can match it), and collects
/// the others' reports for `window` seconds. A rank that is itself waiting sees the first
/// report within 10 ms (it probes that communicator while it polls) and answers with its
/// own, whatever its own deadline. Ranks that never answer are the missing ones: dead,
/// stopped, or stuck outside MPI. The lowest rank that reported prints the one line and
/// ends the job with `MPI_Abort` (mpirun then kills the rest, a stopped rank included).
///
/// With `timeout` 0 the waits are MPI's blocking ones, as before.
public enum StallWatch {
    /// Seconds a wait may last; 0 turns the watch off.
    nonisolated(unsafe) public private(set) static var timeout: Double = 0
    nonisolated(unsafe) static var watch: MPI_Comm?
    nonisolated(unsafe) static var rank = 0
    nonisolated(unsafe) static var size = 1
    /// Exit code of a job ended by a stall (as a failed MPI call's, `Redistribution.abortCode`).
    public static let exitCode: Int32 = 3
    static let tag: Int32 = 7301
    static let reportBytes = 128

    /// Starts watching `communicator`'s waits with `timeout` seconds (0: off).
    /// Collective: every rank must call it, with the same timeout.
    public static func start(timeout: Double, on communicator: Communicator) throws(CommError) {
        precondition(timeout >= 0 && timeout.isFinite, "stall timeout \(timeout)")
        if watch == nil {
            var dup: MPI_Comm?
            try check(MPI_Comm_dup(communicator.handle, &dup), "MPI_Comm_dup", rank: communicator.rank)
            watch = dup
        }
        rank = communicator.rank
        size = communicator.size
        self.timeout = timeout
    }

    /// Seconds the reporting ranks collect each other's reports.
    static var window: Double { Swift.min(2, Swift.max(0.5, timeout / 2)) }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Calls `test` until it says the operation is done. It spins (yielding the core) for
    /// the first millisecond, then sleeps between tests, 50 us doubling to 1 ms, so a long
    /// wait does not burn a core. Past the deadline, or when another rank reports a
    /// stall, this rank reports and the job ends here.
    ///
    /// - Parameter test: one `MPI_Test*` call: its return code and whether it completed.
    /// - Returns: MPI's success code, or the first failing code of `test`.
    static func poll(_ test: () -> (code: Int32, done: Bool)) -> Int32 {
        let started = now()
        var nextLook = started + 0.01
        var pause = 50_000
        while true {
            let (code, done) = test()
            if code != cmpi_success() || done { return code }
            let t = now()
            if t - started < 1e-3 {
                sched_yield()
                continue
            }
            if t >= nextLook {
                nextLook = t + 0.01
                if t - started >= timeout || reportArrived() { report(waited: t - started) }
            }
            var pauseSpec = timespec(tv_sec: 0, tv_nsec: pause)
            nanosleep(&pauseSpec, nil)
            pause = Swift.min(pause * 2, 1_000_000)
        }
    }

    static func reportArrived() -> Bool {
        guard let watch else { return false }
        var flag: Int32 = 0
        var status = MPI_Status()
        MPI_Iprobe(cmpi_any_source(), tag, watch, &flag, &status)
        return flag != 0
    }

    /// One rank's report: where it waits, since when.
    struct Report: Equatable {
        var rank: Int
        var step: Int
        var waitedMilliseconds: Int
        var label: String

        func encoded() -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: StallWatch.reportBytes)
            for (k, v) in [Int32(clamping: step), Int32(clamping: waitedMilliseconds)].enumerated() {
                withUnsafeBytes(of: v.littleEndian) { for i in 0..<4 { bytes[4 * k + i] = $0[i] } }
            }
            for (i, b) in label.utf8.prefix(StallWatch.reportBytes - 9).enumerated() { bytes[8 + i] = b }
            return bytes
        }

        init(rank: Int, step: Int, waitedMilliseconds: Int, label: String) {
            self.rank = rank
            self.step = step
            self.waitedMilliseconds = waitedMilliseconds
            self.label = label
        }

        init(rank: Int, bytes: [UInt8]) {
            func int(_ k: Int) -> Int {
                Int(Int32(bitPattern: (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[4 * k + $1]) << (8 * $1) }))
            }
            let text = bytes[8...].prefix { $0 != 0 }
            self.init(rank: rank, step: int(0), waitedMilliseconds: int(1), label: String(decoding: text, as: UTF8.self))
        }
    }

    /// Sends this rank's report to every other rank, collects theirs, and ends the job.
    static func report(waited: Double) -> Never {
        let mine = Report(rank: rank, step: Activity.step, waitedMilliseconds: Int(waited * 1000), label: Activity.label)
        var reports = [rank: mine]
        if let watch {
            // Sends are never completed: the job ends before they would matter, and a
            // stopped peer would never take them. Their buffer therefore outlives them.
            let out = UnsafeMutablePointer<UInt8>.allocate(capacity: reportBytes)
            out.initialize(from: mine.encoded(), count: reportBytes)
            for q in 0..<size where q != rank {
                var request: MPI_Request?
                MPI_Isend(out, Int32(reportBytes), cmpi_byte(), Int32(q), tag, watch, &request)
            }
            let end = now() + window
            var incoming = [UInt8](repeating: 0, count: reportBytes)
            while now() < end && reports.count < size {
                var flag: Int32 = 0
                var status = MPI_Status()
                MPI_Iprobe(cmpi_any_source(), tag, watch, &flag, &status)
                if flag == 0 {
                    var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
                    nanosleep(&pause, nil)
                    continue
                }
                let source = status.MPI_SOURCE
                MPI_Recv(&incoming, Int32(reportBytes), cmpi_byte(), source, tag, watch, cmpi_status_ignore())
                reports[Int(source)] = Report(rank: Int(source), bytes: incoming)
            }
        }
        let reporter = reports.keys.min() ?? rank
        if reporter == rank {
            writeStandardError("distconv: error: " + describe(Array(reports.values), size: size))
            MPI_Abort(cmpi_comm_world(), exitCode)
        } else {
            // The lowest reporting rank speaks; should it have died meanwhile, end anyway.
            sleep(UInt32(window) + 3)
            MPI_Abort(cmpi_comm_world(), exitCode)
        }
        exitProcess(exitCode)
    }

    /// The stall line from the reports of the ranks that answered, e.g. `stall: rank 3
    /// has not arrived after 5 s; ranks 0-2 wait in conv2 backward halo exchange (step 12)`.
    static func describe(_ reports: [Report], size: Int) -> String {
        let answered = Set(reports.map(\.rank))
        let missing = (0..<size).filter { !answered.contains($0) }
        let waited = Double(reports.map(\.waitedMilliseconds).max() ?? 0) / 1000
        let seconds = waited < 10 ? String(Int(waited.rounded(.down))) : String(Int(waited.rounded()))
        var groups: [(label: String, step: Int, ranks: [Int])] = []
        for r in reports.sorted(by: { $0.rank < $1.rank }) {
            if let g = groups.firstIndex(where: { $0.label == r.label && $0.step == r.step }) {
                groups[g].ranks.append(r.rank)
            } else {
                groups.append((r.label, r.step, [r.rank]))
            }
        }
        let waiting = groups.enumerated().map { k, g in
            let verb = k == 0 ? (g.ranks.count == 1 ? " waits in " : " wait in ") : " in "
            return rankList(g.ranks) + verb + g.label + (g.step > 0 ? " (step \(g.step))" : "")
        }.joined(separator: ", ")
        if missing.isEmpty {
            return "stall: every rank has waited for \(seconds) s, none can go on (a deadlock): " + waiting
        }
        return "stall: \(rankList(missing)) \(missing.count == 1 ? "has" : "have") not arrived after \(seconds) s; "
            + waiting
    }

    /// `rank 3`, `ranks 0-2`, `ranks 0, 2-3`.
    static func rankList(_ ranks: [Int]) -> String {
        var runs: [String] = []
        var k = 0
        let sorted = ranks.sorted()
        while k < sorted.count {
            var j = k
            while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
            runs.append(j == k ? "\(sorted[k])" : "\(sorted[k])-\(sorted[j])")
            k = j + 1
        }
        return (sorted.count == 1 ? "rank " : "ranks ") + runs.joined(separator: ", ")
    }
}
