import Foundation
import Testing
import TestSupport

/// The launch scripts under the launchers they are written for: `launch/slurm.sbatch` under
/// a real one-node Slurm (slurmctld, slurmd and munge started here), and `launch/hostfile`
/// across two "hosts" (network namespaces joined by a veth pair, Open MPI's TCP transport,
/// ssh replaced by an agent that enters the namespace). The shell parts are in
/// `Tests/launch/`. Each is skipped, saying why, only where its daemons or namespaces
/// cannot be made (not root, binaries missing, namespaces not permitted).
@Suite(.serialized) struct LaunchTests {
    static let scripts = packageRoot.appendingPathComponent("Tests/launch").path
    static let distconv = productsDirectory.appendingPathComponent("distconv").path

    /// Runs a script of `Tests/launch` (or the repository) with bash.
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

    /// Skips the test when a set-up script exits 3 (its one line says why it cannot run here).
    static func skipIfCannot(_ setUp: ProcessResult, _ what: String) throws {
        if setUp.status == 3 {
            let reason = "\(what): \(setUp.stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
            print("LaunchTests skipped: \(reason)")
            try Test.cancel(Comment(rawValue: reason))
        }
    }

    /// `sbatch --wait` of the real `launch/slurm.sbatch`, one node of this machine, 2 tasks:
    /// mpirun finds the 2 ranks in the allocation (no -n), training ends with exit 0 and
    /// its epoch line in the job's output file, and the ranks got the script's environment.
    @Test func slurmBatchScriptTrainsOnALocalCluster() throws {
        let dir = Fixtures.folder("slurm")
        let cluster = Self.scripts + "/slurm-localhost"
        defer {
            _ = try? Self.bash(cluster, ["stop", dir])
            try? FileManager.default.removeItem(atPath: dir)
        }
        let start = try Self.bash(cluster, ["start", dir])
        try Self.skipIfCannot(start, "Slurm cannot start")
        try #require(start.status == 0, "slurm-localhost start: \(start.stdout)\(start.stderr)")
        // OMP_NUM_THREADS and OPENBLAS_NUM_THREADS empty: the script's own defaults are checked.
        let env = ["SLURM_CONF": dir + "/slurm.conf", "DISTCONV": Self.distconv, "OMP_NUM_THREADS": "", "OPENBLAS_NUM_THREADS": ""]
        let sbatchOnOneNode = ["sbatch", "--nodes=1", "--ntasks-per-node=2"]

        // The environment each rank gets, one short line per rank (DISTCONV=/bin/sh).
        let show = "echo rank $OMPI_COMM_WORLD_RANK of $OMPI_COMM_WORLD_SIZE in job $SLURM_JOB_ID:"
            + " OMP_NUM_THREADS=$OMP_NUM_THREADS OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS"
            + " sigkill_timeout=$OMPI_MCA_odls_base_sigkill_timeout"
        let envJob = try runProcess(
            "/usr/bin/env", sbatchOnOneNode + ["--wait", "--output=\(dir)/env.out", "launch/slurm.sbatch", "-c", show],
            environment: env.merging(["DISTCONV": "/bin/sh"]) { $1 }, timeout: 60, currentDirectory: packageRoot)
        #expect(envJob.status == 0, "\(envJob.stdout)\(envJob.stderr)")
        let envJobID = envJob.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "?"
        let printed = (try? String(contentsOfFile: dir + "/env.out", encoding: .utf8)) ?? "(no output file)"
        let expected = (0..<2).map {
            "rank \($0) of 2 in job \(envJobID): OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 sigkill_timeout=0"
        }
        #expect(Set(printed.split(separator: "\n").map(String.init)) == Set(expected), "\(printed)")

        let metrics = dir + "/metrics.jsonl"
        let train = try runProcess(
            "/usr/bin/env", sbatchOnOneNode + ["--wait", "--output=\(dir)/train.out", "launch/slurm.sbatch",
             "train", "--steps", "5", "--batch", "16", "--eval-samples", "64", "--metrics", metrics],
            environment: env, timeout: 120, currentDirectory: packageRoot)
        let output = (try? String(contentsOfFile: dir + "/train.out", encoding: .utf8)) ?? "(no output file)"
        try #require(train.status == 0, "sbatch --wait: \(train.status) \(train.stderr)\njob output:\n\(output)")
        #expect(output.contains("on 2 ranks") && output.contains("data..fc [1, 1, 2, 1]"), "\(output)")
        #expect(output.contains("train loss") && output.contains("test accuracy"), "\(output)")
        let losses = try Self.losses(metrics)
        #expect(losses.count == 5 && losses.allSatisfy { $0.isFinite && $0 > 0 }, "\(losses)")
    }

    /// Two ranks on two "hosts" through `launch/hostfile`: namespaces `NAME-a` (10.77.0.1,
    /// where mpirun runs) and `NAME-b` (10.77.0.2), Open MPI's TCP transport over the veth
    /// and its daemon started in `NAME-b` by the namespace agent. The per-step losses equal
    /// a one-host run on 2 ranks, and the training's traffic crossed the veth.
    @Test func hostfileRunAcrossTwoNamespacesMatchesOneHost() throws {
        let name = "distconv-\(getpid())"
        let pair = Self.scripts + "/netns-pair"
        let dir = Fixtures.folder("hosts")
        defer {
            _ = try? Self.bash(pair, ["down", name])
            try? FileManager.default.removeItem(atPath: dir)
        }
        let up = try Self.bash(pair, ["up", name])
        try Self.skipIfCannot(up, "network namespaces cannot be made")
        try #require(up.status == 0, "netns-pair up: \(up.stdout)\(up.stderr)")
        let hostfile = dir + "/hosts.txt"
        try "10.77.0.1 slots=1\n10.77.0.2 slots=1\n".write(toFile: hostfile, atomically: true, encoding: .utf8)
        let environment = [
            "DISTCONV_NETNS_HOSTS": "10.77.0.1=\(name)-a 10.77.0.2=\(name)-b",
            "MPIRUN_FLAGS": "--mca plm_rsh_agent \(Self.scripts)/netns-agent --mca btl tcp,self "
                + "--mca btl_tcp_if_include dcv0 --mca oob_tcp_if_include dcv0",
        ]
        let hostfileLauncher = packageRoot.appendingPathComponent("launch/hostfile").path
        func acrossHosts(_ program: String, _ arguments: [String]) throws -> ProcessResult {
            try runProcess(
                "/usr/bin/env", ["ip", "netns", "exec", "\(name)-a", "/bin/bash", hostfileLauncher, hostfile, "-n", "2", program] + arguments,
                environment: environment, timeout: 120, currentDirectory: packageRoot)
        }

        // Where the ranks are: each prints the address of its own dcv0.
        let whereabouts = try acrossHosts("/bin/sh", ["-c", "echo rank $OMPI_COMM_WORLD_RANK $(ip -o -4 addr show dcv0 | awk '{print $4}')"])
        #expect(whereabouts.status == 0, "\(whereabouts.stdout)\(whereabouts.stderr)")
        let places = Set(whereabouts.stdout.split(separator: "\n").map(String.init))
        #expect(places == ["rank 0 10.77.0.1/24", "rank 1 10.77.0.2/24"], "\(whereabouts.stdout)\(whereabouts.stderr)")

        func vethBytes() throws -> (rx: Int, tx: Int) {
            let r = try runProcess("/usr/bin/env", ["ip", "netns", "exec", "\(name)-a", "cat", "/proc/net/dev"])
            let fields = r.stdout.split(separator: "\n").first { $0.contains("dcv0:") }?
                .split(separator: ":").last?.split(separator: " ").compactMap { Int($0) } ?? []
            return fields.count >= 9 ? (fields[0], fields[8]) : (0, 0)
        }
        let flags = ["train", "--steps", "10", "--batch", "16", "--eval-samples", "64"]
        let before = try vethBytes()
        let twoHosts = try acrossHosts(Self.distconv, flags + ["--metrics", dir + "/two-hosts.jsonl"])
        let after = try vethBytes()
        try #require(twoHosts.status == 0, "\(twoHosts.stdout)\n\(twoHosts.stderr)")
        let oneHost = try runMPI(ranks: 2, "distconv", flags + ["--metrics", dir + "/one-host.jsonl"], timeout: 120)
        try #require(oneHost.status == 0, "\(oneHost.stdout)\n\(oneHost.stderr)")

        let a = try Self.losses(dir + "/two-hosts.jsonl"), b = try Self.losses(dir + "/one-host.jsonl")
        #expect(a.count == 10 && b.count == 10, "\(a.count), \(b.count) steps")
        var worst = 0.0
        for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) / abs(y)) }
        #expect(worst <= 1e-5, "per-step losses across two hosts differ from one host's by \(worst) relative")

        // Every step allreduces all gradients, so each direction of the veth carries at least
        // 10 steps of them ("parameters N + gradients N" bytes in the memory line).
        let gradientBytes = twoHosts.stdout.firstMatch(of: /gradients ([0-9,]+)/)
            .flatMap { Int($0.1.replacingOccurrences(of: ",", with: "")) } ?? 0
        #expect(gradientBytes > 0, "no gradient size in \(twoHosts.stdout)")
        let (rx, tx) = (after.rx - before.rx, after.tx - before.tx)
        #expect(rx >= 10 * gradientBytes && tx >= 10 * gradientBytes,
                "dcv0 carried \(rx) bytes in, \(tx) out; 10 steps of gradients are \(10 * gradientBytes)")
    }
}
