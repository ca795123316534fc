import Comm
import Foundation

extension Trainer {
    /// Exit code of a run stopped by a NaN or an infinity (2 is bad input, 3 a failed rank
    /// or a stall).
    public static let nonFiniteExitCode: Int32 = 1

    /// Ends the job after optimizer step `step` (from 0) found a NaN or an infinity in
    /// its loss or gradients, before its update: runs the batch again op by op to find
    /// where it first appeared, and rank 0 prints one line, e.g. `distconv: error:
    /// non-finite loss at step 7; first in conv2 forward output (rank 1)`. Every rank
    /// exits with `nonFiniteExitCode`. Collective.
    func stopOnNonFinite(step: Int, samples: [Int], loss: Double) -> Never {
        network.load(samples: samples, from: data.train)
        let site = network.locateNonFinite(globalBatch: batch, step: step)
        if communicator.rank == 0 {
            let what = loss.isFinite ? "gradient" : "loss"
            let place = site.map { "first in \($0)" } ?? "every op's output and gradient was finite, the loss was not"
            let line = "distconv: error: non-finite \(what) at step \(step + 1); \(place)\n"
            fflush(nil)
            _ = line.withCString { write(2, $0, strlen($0)) }
        }
        exit(Self.nonFiniteExitCode)
    }
}
