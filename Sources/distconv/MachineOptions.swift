import ArgumentParser
import DistConv
import Foundation

/// The machine a prediction is for: a profile from `distconv calibrate` (or the built-in
/// one), with the inter-node link and the ranks per node optionally overridden (a
/// projection to a cluster this machine is not).
struct MachineOptions: ParsableArguments {
    @Option(help: "Machine profile (JSON written by distconv calibrate) for predictions.")
    var profile: String?

    @Option(help: "Inter-node link as ALPHA_US,GBPS (latency in microseconds, bandwidth in GB/s), e.g. 2,12.5.")
    var interNode: String?

    @Option(help: "Ranks per node (default: the profile's).")
    var ranksPerNode: Int?

    /// The profile with the overrides applied, and a line saying which it is.
    func load() throws -> (profile: MachineProfile, description: String) {
        var profile: MachineProfile
        var name: String
        if let path = profile_ {
            profile = try MachineProfile.load(path: path)
            name = "profile \(path)"
        } else {
            profile = MachineProfile.builtIn
            name = "built-in profile"
        }
        name += " (\(profile.machine))"
        if let interNode {
            let parts = interNode.split(separator: ",", omittingEmptySubsequences: false).map { Double($0) }
            guard parts.count == 2, let alpha = parts[0], let gbps = parts[1], alpha.isFinite, alpha >= 0, gbps.isFinite,
                  gbps > 0
            else {
                throw CLIError("--inter-node is '\(interNode)'; give ALPHA_US,GBPS, e.g. 2,12.5 (latency >= 0, bandwidth > 0)")
            }
            profile.interNode = LinkCost(alpha: alpha * 1e-6, beta: 1 / (gbps * 1e9))
        }
        if let ranksPerNode {
            guard ranksPerNode >= 1 else { throw CLIError("--ranks-per-node is \(ranksPerNode); it must be at least 1") }
            profile.ranksPerNode = ranksPerNode
        }
        return (profile, name)
    }

    private var profile_: String? { profile }

    /// The links in one line, for the reader of a prediction.
    static func links(_ p: MachineProfile) -> String {
        func f(_ l: LinkCost) -> String {
            String(format: "%.2f us + %.2f GB/s", l.alpha * 1e6, l.beta > 0 ? 1 / l.beta / 1e9 : .infinity)
        }
        return "intra-node \(f(p.intraNode)), inter-node \(f(p.interNode)), \(p.ranksPerNode) ranks per node"
    }
}

/// `24GiB`, `512MiB`, `1.5GB`, `1000000`: bytes. Nil when it does not parse.
func parseBytes(_ text: String) -> Int? {
    let units: [(String, Double)] = [
        ("kib", 1024), ("mib", 1024 * 1024), ("gib", 1024 * 1024 * 1024), ("tib", 1024 * 1024 * 1024 * 1024),
        ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("tb", 1e12), ("b", 1),
    ]
    let t = text.lowercased().trimmingCharacters(in: .whitespaces)
    var number = t, scale = 1.0
    for (suffix, s) in units where t.hasSuffix(suffix) {
        number = String(t.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
        scale = s
        break
    }
    guard let x = Double(number), x.isFinite, x > 0, x * scale < 9e18 else { return nil }
    return Int((x * scale).rounded())
}
