import ArgumentParser
import DistConv
import Kernels

/// `--layout`: how activations are stored between layers (train and plan).
enum LayoutChoice: String, ExpressibleByArgument, CaseIterable {
    /// oneDNN's blocked nChw16c (nChw8c with AVX2) where the layers take it.
    case blocked
    /// Plain NCHW everywhere (oneDNN's kernels still; slower, to compare and debug).
    case nchw

    var kernels: ExecutionPlan.Kernels {
        switch self {
        case .blocked: return .preferred
        case .nchw: return .onednn(.nchw)
        }
    }
}
