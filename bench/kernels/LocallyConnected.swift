import Kernels
func benchLocallyConnected(into results: inout [Figure], checks: inout [String: [Float]]) {}
