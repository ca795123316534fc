// Kernel benchmark (issue 5): convolution and locally connected kernels in GFLOP/s at
// one thread, each next to cblas_sgemm on the same GEMM shapes measured in this run;
// then the default model's layers at its shapes (Model.swift).
import CBLAS
import Geometry
import Kernels

#if canImport(Glibc)
import Glibc
#endif

// Output is flushed per line by print; nothing to set up.
let options = BenchOptions(CommandLine.arguments.dropFirst())
printMachine()
var results: [Figure] = []
var checks: [String: [Float]] = [:]
benchPeak()
if options.runConv { benchConvolution(into: &results, checks: &checks) }
if options.runLC { benchLocallyConnected(into: &results, checks: &checks) }
if options.runModel { benchModel(into: &results, checks: &checks, options: options) }
compareOrSave(checks, figures: results, options: options)
if !results.isEmpty { printFigures(results) }
if options.runDNNL { benchDNNL(repeats: options.repeats) }
