import ArgumentParser
import Comm
import DistConv
import Foundation

extension TrainCommand {
    /// Ends the job with exit code 2 and one line (from rank 0) when the ranks were
    /// started with different flags, models, grids or data (`ConfigurationAgreement`).
    /// Collective; before any data moves.
    func agreeOnConfiguration(_ comm: Communicator, model: Model, data: DataSource) throws {
        var fields = Self.flags(of: self) + Self.flags(of: source)
        fields.append(ConfigurationField("the model description", "\(model.source): \(model.name) #\(model.descriptionHash)"))
        fields.append(ConfigurationField(
            "the grids", model.ops.map { "\($0.name) \($0.grid)" }.joined(separator: ", ")))
        fields.append(ConfigurationField("the data", data.identity))
        guard let mismatch = try ConfigurationAgreement.check(fields, communicator: comm) else { return }
        if comm.rank == 0 { throw mismatch }
        throw ExitCode(2)
    }

    /// Every option and flag of a command as `--name` and its parsed value, found by
    /// reflection so that a new flag is compared without being listed here.
    static func flags(of command: Any) -> [ConfigurationField] {
        let renamed = ["initialParameters": "init"]
        return Mirror(reflecting: command).children.compactMap { child in
            guard let label = child.label, label.hasPrefix("_"), !(child.value is OptionGroup<ModelSource>) else { return nil }
            let property = String(label.dropFirst())
            let name = renamed[property] ?? property.reduce(into: "") { name, c in
                if c.isUppercase { name += "-" + c.lowercased() } else { name.append(c) }
            }
            var value = String(describing: child.value)
            if value.hasPrefix("Optional("), value.hasSuffix(")") { value = String(value.dropFirst(9).dropLast()) }
            if value == "nil" { value = "none" }
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return ConfigurationField("--" + name, value)
        }
    }
}
