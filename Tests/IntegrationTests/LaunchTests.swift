import Foundation
import Testing
import TestSupport

/// The launch scripts under the launchers they are written for: `launch/slurm.sbatch` under
/// a real Slurm (slurmctld, slurmd and munge started here, on one node and on two), and
/// `launch/hostfile` across two "hosts". The hosts are network namespaces joined by a veth
/// pair, each with its own address (10.77.0.1 and .2, only inside them); the ranks talk
/// over Open MPI's TCP transport between them, and mpirun reaches the second with an
/// ssh-like agent (hostfile) or srun (Slurm). The shell parts are in `Tests/launch/`. Each
/// test is skipped, saying why, only where its daemons or namespaces cannot be made (not
/// root, binaries missing, namespaces not permitted).
@Suite(.serialized) struct LaunchTests {
    static let scripts = packageRoot.appendingPathComponent("Tests/launch").path
    static let distconv = productsDirectory.appendingPathComponent("distconv").path
    /// A short training every launch runs; small enough for a debug build.
    static let training = ["train", "--steps", "5", "--batch", "16", "--eval-samples", "64"]
    /// What each rank prints when the launched program is `/bin/sh -c show`: where it is and
    /// the environment the launch script gave it.
    static let show = "echo rank $OMPI_COMM_WORLD_RANK of $OMPI_COMM_WORLD_SIZE"
        + " at $(ip -o -4 addr show dev ${DCV:-lo} | awk '{print $4}'):"
        + " OMP_NUM_THREADS=$OMP_NUM_THREADS OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS"
        + " sigkill_timeout=$OMPI_MCA_odls_base_sigkill_timeout"

    /// The lines `show` prints when rank i is at `addresses[i]` with the launch scripts'
    /// environment (one thread each, a failed rank ending the job at once).
    static func shown(at addresses: [String]) -> Set<String> {
        Set(addresses.enumerated().map { rank, address in
            "rank \(rank) of \(addresses.count) at \(address): "
                + "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 sigkill_timeout=0"
        })
    }

    /// Runs a script with bash from the repository root.
    static func bash(_ script: String, _ arguments: [String], environment: [String: String] = [:],
                     timeout: Double = 60) throws -> ProcessResult {
        try runProcess("/bin/bash", [script] + arguments, environment: environment, timeout: timeout,
                       currentDirectory: packageRoot)
    }

    /// The per-step losses of a metrics JSONL file, in step order.
    static func losses(_ path: String) throws -> [Double] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard line.contains("\"step\""),
                  let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            else { return nil }
            return object["loss"] as? Double
        }
    }

    /// The losses of the same training on 2 ranks of this machine (`launch/local`).
    static func oneHostLosses(in dir: String) throws -> [Double] {
        let r = try runMPI(ranks: 2, "distconv", training + ["--metrics", dir + "/one-host.jsonl"], timeout: 120)
        try #require(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        return try losses(dir + "/one-host.jsonl")
    }

    /// Per-step losses equal to 1e-5 relative, as TrainTests compares rank counts.
    static func expectSameLosses(_ a: [Double], _ reference: [Double], _ what: String) {
        #expect(a.count == 5 && reference.count == 5, "\(what): \(a.count), \(reference.count) steps")
        var worst = 0.0
        for (x, y) in zip(a, reference) { worst = max(worst, abs(x - y) / abs(y)) }
        #expect(worst <= 1e-5, "\(what): per-step losses differ from one host's by \(worst) relative")
    }

    /// Skips the test when a set-up script exits 3 (its one line says why it cannot run here).
    static func skipIfCannot(_ setUp: ProcessResult, _ what: String) throws {
        if setUp.status == 3 {
            let reason = "\(what): \(setUp.stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
            print("LaunchTests skipped: \(reason)")
            try Test.cancel(Comment(rawValue: reason))
        }
    }

    /// Two network namespaces `NAME-a` (10.77.0.1) and `NAME-b` (10.77.0.2) for `body`,
    /// removed afterwards whatever happens.
    static func withTwoHosts(_ body: (_ name: String, _ dir: String) throws -> Void) throws {
        let name = "distconv-\(getpid())"
        let pair = scripts + "/netns-pair"
        let dir = Fixtures.folder("hosts")
        defer {
            _ = try? bash(pair, ["down", name])
            try? FileManager.default.removeItem(atPath: dir)
        }
        let up = try bash(pair, ["up", name])
        try skipIfCannot(up, "network namespaces cannot be made")
        try #require(up.status == 0, "netns-pair up: \(up.stdout)\(up.stderr)")
        try body(name, dir)
    }

    /// A Slurm cluster in `dir` for `body` (one node here, or one per namespace), its
    /// daemons stopped afterwards whatever happens.
    static func withSlurm(in dir: String, namespaces: [String] = [], _ body: () throws -> Void) throws {
        let cluster = scripts + "/slurm-localhost"
        defer { _ = try? bash(cluster, ["stop", dir]) }
        let start = try bash(cluster, ["start", dir] + namespaces)
        try skipIfCannot(start, "Slurm cannot start")
        try #require(start.status == 0, "slurm-localhost start: \(start.stdout)\(start.stderr)")
        try body()
    }

    /// `sbatch --wait` of the real `launch/slurm.sbatch` with the program `DISTCONV` and
    /// its arguments, in network namespace `netns` when given; the job's output file.
    static func sbatch(
        _ options: [String], program: String, _ arguments: [String], dir: String, output: String,
        netns: String? = nil
    ) throws -> String {
        // OMP_NUM_THREADS and OPENBLAS_NUM_THREADS empty: the script's own defaults are used.
        let environment = ["SLURM_CONF": dir + "/slurm.conf", "DISTCONV": program,
                           "OMP_NUM_THREADS": "", "OPENBLAS_NUM_THREADS": "", "DCV": netns == nil ? "lo" : "dcv0"]
        let enter = netns.map { ["nsenter", "--net=/run/netns/\($0)"] } ?? []
        let path = dir + "/" + output
        let r = try runProcess(
            "/usr/bin/env",
            enter + ["sbatch", "--wait", "--output=\(path)"] + options + ["launch/slurm.sbatch"] + arguments,
            environment: environment, timeout: 120, currentDirectory: packageRoot)
        let printed = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no output file)"
        // On failure, the daemons' logs say what Slurm saw.
        let logs: [String] = r.status == 0 ? [] : ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".log") }.sorted().map { log in
                let text = (try? String(contentsOfFile: dir + "/" + log, encoding: .utf8)) ?? ""
                return "--- \(log)\n" + text.split(separator: "\n").suffix(12).joined(separator: "\n")
            }
        try #require(
            r.status == 0,
            """
            sbatch --wait \(options) \(arguments.first ?? ""): status \(r.status)\(r.timedOut ? " (timed out)" : "")
            \(r.stdout)\(r.stderr)
            job output:
            \(printed)
            \(logs.joined(separator: "\n"))
            """)
        return printed
    }

    static func lines(_ text: String) -> Set<String> { Set(text.split(separator: "\n").map(String.init)) }

    /// A missing binary, hostfile or repository: exit 2 and one line naming it, before mpirun.
    @Test func launchScriptsRejectBadInputWithOneLine() throws {
        let root = packageRoot.path
        for (script, arguments, environment, named) in [
            ("launch/slurm.sbatch", ["doctor"], ["DISTCONV": "/nonexistent/distconv"],
             "/nonexistent/distconv: no such program"),
            ("launch/slurm.sbatch", ["doctor"], ["SLURM_SUBMIT_DIR": "/tmp"], "/tmp: not the repository"),
            ("launch/hostfile", ["/nonexistent/hosts.txt", "-n", "2", Self.distconv, "doctor"], [:],
             "/nonexistent/hosts.txt: cannot read the hostfile"),
            ("launch/hostfile", ["hosts.txt", Self.distconv], [:], "usage: launch/hostfile HOSTFILE -n N PROGRAM"),
            ("launch/local", ["-n", "2"], [:], "usage: launch/local -n N PROGRAM"),
        ] {
            let r = try Self.bash(root + "/" + script, arguments, environment: environment, timeout: 30)
            let lines = r.stderr.split(separator: "\n")
            #expect(r.status == 2 && lines.count == 1 && r.stderr.contains(named),
                    "\(script) \(arguments): \(r.status) \(r.stderr)")
        }
    }

    /// One node of this machine, 2 tasks: mpirun finds the 2 ranks in the allocation (no
    /// -n) with the script's environment, and the training ends with exit 0 and its epoch
    /// line in the job's output file.
    @Test func slurmBatchScriptTrainsOnALocalCluster() throws {
        let dir = Fixtures.folder("slurm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.withSlurm(in: dir) {
            let oneNode = ["--nodes=1", "--ntasks-per-node=2"]
            let shown = try Self.sbatch(oneNode, program: "/bin/sh", ["-c", Self.show], dir: dir, output: "show.out")
            #expect(Self.lines(shown) == Self.shown(at: ["127.0.0.1/8", "127.0.0.1/8"]), "\(shown)")

            let metrics = dir + "/metrics.jsonl"
            let output = try Self.sbatch(oneNode, program: Self.distconv, Self.training + ["--metrics", metrics],
                                         dir: dir, output: "train.out")
            #expect(output.contains("on 2 ranks") && output.contains("data..fc [1, 1, 2, 1]"), "\(output)")
            #expect(output.contains("train loss") && output.contains("test accuracy"), "\(output)")
            let losses = try Self.losses(metrics)
            #expect(losses.count == 5 && losses.allSatisfy { $0.isFinite && $0 > 0 }, "\(losses)")
        }
    }

    /// Two Slurm nodes, one per namespace, one task each: mpirun in the batch step on the
    /// first node starts its daemon on the second through srun (plm/slurm), each rank runs
    /// on its own node with the script's environment, and the losses equal one host's.
    @Test func slurmBatchScriptRunsOneRankOnEachOfTwoNodes() throws {
        try Self.withTwoHosts { name, dir in
            try Self.withSlurm(in: dir, namespaces: ["\(name)-a", "\(name)-b"]) {
                let twoNodes = ["--nodes=2", "--ntasks-per-node=1"]
                let shown = try Self.sbatch(twoNodes, program: "/bin/sh", ["-c", Self.show], dir: dir,
                                            output: "show.out", netns: "\(name)-a")
                #expect(Self.lines(shown) == Self.shown(at: ["10.77.0.1/24", "10.77.0.2/24"]), "\(shown)")

                let metrics = dir + "/two-nodes.jsonl"
                let output = try Self.sbatch(twoNodes, program: Self.distconv, Self.training + ["--metrics", metrics],
                                             dir: dir, output: "train.out", netns: "\(name)-a")
                #expect(output.contains("on 2 ranks"), "\(output)")
                Self.expectSameLosses(try Self.losses(metrics), try Self.oneHostLosses(in: dir), "two Slurm nodes")
            }
        }
    }

    /// Two ranks on two hosts through `launch/hostfile`: mpirun runs in `NAME-a`, starts its
    /// daemon in `NAME-b` with the namespace agent instead of ssh, and the ranks use Open
    /// MPI's TCP transport over the veth. The losses equal one host's, and the training's
    /// traffic crossed the veth.
    @Test func hostfileRunAcrossTwoHostsMatchesOneHost() throws {
        try Self.withTwoHosts { name, dir in
            let hostfile = dir + "/hosts.txt"
            try "10.77.0.1 slots=1\n10.77.0.2 slots=1\n".write(toFile: hostfile, atomically: true, encoding: .utf8)
            let environment = [
                "DISTCONV_NETNS_HOSTS": "10.77.0.1=\(name)-a 10.77.0.2=\(name)-b", "DCV": "dcv0",
                "OMP_NUM_THREADS": "", "OPENBLAS_NUM_THREADS": "",
                "MPIRUN_FLAGS": "--mca plm_rsh_agent \(Self.scripts)/netns-agent --mca btl tcp,self "
                    + "--mca btl_tcp_if_include dcv0 --mca oob_tcp_if_include dcv0",
            ]
            let launcher = packageRoot.appendingPathComponent("launch/hostfile").path
            func acrossHosts(_ program: String, _ arguments: [String]) throws -> ProcessResult {
                try runProcess(
                    "/usr/bin/env",
                    ["ip", "netns", "exec", "\(name)-a", "/bin/bash", launcher, hostfile, "-n", "2", program]
                        + arguments,
                    environment: environment, timeout: 120, currentDirectory: packageRoot)
            }

            let shown = try acrossHosts("/bin/sh", ["-c", Self.show])
            #expect(shown.status == 0 && Self.lines(shown.stdout) == Self.shown(at: ["10.77.0.1/24", "10.77.0.2/24"]),
                    "\(shown.stdout)\(shown.stderr)")

            func vethBytes() throws -> (rx: Int, tx: Int) {
                let r = try runProcess("/usr/bin/env", ["ip", "netns", "exec", "\(name)-a", "cat", "/proc/net/dev"])
                let fields = r.stdout.split(separator: "\n").first { $0.contains("dcv0:") }?
                    .split(separator: ":").last?.split(separator: " ").compactMap { Int($0) } ?? []
                return fields.count >= 9 ? (fields[0], fields[8]) : (0, 0)
            }
            let before = try vethBytes()
            let twoHosts = try acrossHosts(Self.distconv, Self.training + ["--metrics", dir + "/two-hosts.jsonl"])
            let after = try vethBytes()
            try #require(twoHosts.status == 0, "\(twoHosts.stdout)\n\(twoHosts.stderr)")
            let oneHost = try Self.oneHostLosses(in: dir)
            Self.expectSameLosses(try Self.losses(dir + "/two-hosts.jsonl"), oneHost, "two hosts")

            // Every step allreduces all gradients, so each direction of the veth carries at
            // least 5 steps of them ("gradients N" bytes in the memory line).
            let gradientBytes = twoHosts.stdout.firstMatch(of: /gradients ([0-9,]+)/)
                .flatMap { Int($0.1.replacingOccurrences(of: ",", with: "")) } ?? 0
            #expect(gradientBytes > 0, "no gradient size in \(twoHosts.stdout)")
            let (rx, tx) = (after.rx - before.rx, after.tx - before.tx)
            #expect(rx >= 5 * gradientBytes && tx >= 5 * gradientBytes,
                    "dcv0 carried \(rx) bytes in, \(tx) out; 5 steps of gradients are \(5 * gradientBytes)")
        }
    }
}
