import ArgumentParser

@main
struct DistconvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distconv",
        abstract: "Train convolutional networks whose activations are split across MPI ranks.",
        discussion: """
            Examples:
              mpirun -n 4 distconv doctor
              distconv partition --model examples/seed-tiled.json --ranks 4 --rank 1
            """,
        subcommands: [Doctor.self])
}
