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
        if let interNode { profile.interNode = try Self.link(interNode) }
        if let ranksPerNode {
            guard ranksPerNode >= 1 else { throw CLIError("--ranks-per-node is \(ranksPerNode); it must be at least 1") }
            profile.ranksPerNode = ranksPerNode
        }
        return (profile, name)
    }

    private var profile_: String? { profile }

    /// `--inter-node ALPHA_US,GBPS` (plan, train and calibrate) as a link.
    static func link(_ text: String) throws -> LinkCost {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let alpha = parts[0], let gbps = parts[1], alpha.isFinite, alpha >= 0, gbps.isFinite,
              gbps > 0
        else {
            throw CLIError("--inter-node is '\(text)'; give ALPHA_US,GBPS, e.g. 2,12.5 (latency >= 0, bandwidth > 0)")
        }
        return LinkCost(alpha: alpha * 1e-6, beta: 1 / (gbps * 1e9))
    }

    /// The links in one line, for the reader of a prediction.
    static func links(_ p: MachineProfile) -> String {
        func f(_ l: LinkCost) -> String {
            String(format: "%.2f us + %.2f GB/s", l.alpha * 1e6, l.beta > 0 ? 1 / l.beta / 1e9 : .infinity)
        }
        return "intra-node \(f(p.intraNode)), inter-node \(f(p.interNode)), \(p.ranksPerNode) ranks per node, "
            + String(format: "%.1f us waiting at each meeting point", p.synchronisation * 1e6)
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

/// A flag's `1,2,4,...`: rank counts from 1 to 4096 (`plan --project`, `calibrate
/// --model-ranks`), increasing when `increasing`.
func rankCounts(_ text: String, flag: String, increasing: Bool) throws -> [Int] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
        throw CLIError("\(flag) is '\(text)'; give rank counts separated by commas, e.g. 1,2,4,8")
    }
    let counts = parts.compactMap { $0 }
    guard counts.allSatisfy({ (1...4096).contains($0) }) else {
        throw CLIError("\(flag) is '\(text)'; every rank count must be from 1 to 4096")
    }
    guard !increasing || zip(counts, counts.dropFirst()).allSatisfy({ $0 < $1 }) else {
        throw CLIError("\(flag) is '\(text)'; rank counts must increase")
    }
    return counts
}
