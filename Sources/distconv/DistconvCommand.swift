import ArgumentParser
import DistConv
import Foundation

#if canImport(Glibc)
import Glibc
#endif

@main
struct DistconvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distconv",
        abstract: "Train convolutional networks whose activations are split across MPI ranks.",
        discussion: """
            Examples:
              mpirun -n 4 distconv train
              mpirun -n 4 distconv doctor
              distconv partition --model examples/seed-tiled.json --ranks 4 --rank 1
              distconv report metrics.jsonl
            """,
        subcommands: [TrainCommand.self, ReportCommand.self, CheckpointCommand.self, Doctor.self, PartitionCommand.self, PlanCommand.self,
                      CalibrateCommand.self])

    /// Runs the command; every user error (a bad flag, a malformed file, a grid that does
    /// not fit) ends as one line on stderr and exit code 2, never a stack trace.
    static func main() {
        BLASCore.upgradeIfFellBack()
        let command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help, --version
            // Under mpirun every rank parses the same flags: rank 0 alone says what is wrong
            // (the others give it time to, since the first rank to exit ends the job).
            let env = ProcessInfo.processInfo.environment
            if let rank = env["OMPI_COMM_WORLD_RANK"] ?? env["PMI_RANK"], rank != "0" {
                sleep(5)
                Glibc.exit(2)
            }
            fail(message(for: error) + " (see 'distconv --help')")
        }
        do {
            var command = command
            try command.run()
        } catch let error as ExitCode {
            Glibc.exit(error.rawValue)
        } catch let error as ModelError {
            fail(error.description)
        } catch let error as CLIError {
            fail(error.description)
        } catch let error as DataError {
            fail(error.description)
        } catch let error as TrainingError {
            fail(error.description)
        } catch let error as CheckpointError {
            fail(error.description)
        } catch let error as MachineProfileError {
            fail(error.description)
        } catch let error as CalibrationError {
            fail(error.description)
        } catch {
            // --help and --version arrive here as errors that exit cleanly.
            if exitCode(for: error) == .success { exit(withError: error) }
            fail(String(describing: error))
        }
    }

    static func fail(_ message: String) -> Never {
        let line = "distconv: error: " + message.split(separator: "\n").joined(separator: "; ") + "\n"
        fflush(nil)
        _ = line.withCString { write(2, $0, strlen($0)) }
        Glibc.exit(2)
    }
}
