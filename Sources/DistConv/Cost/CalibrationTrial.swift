import Foundation
import Kernels

/// One `KernelWork` made runnable: its buffers allocated and filled, its kernel objects
/// built (oneDNN primitives are made here, not in `run`), and `run` making the one call
/// the runtime makes for it. `Calibration` times `run`; `CalibrationTrial+Make.swift` maps
/// each kind to its trial: a layer's kinds in that layer's file (`Layers/*.swift`, the
/// Kernels code the layer calls), reorders, data loads and optimizer updates there.
final class CalibrationTrial {
    private var floatBuffers: [UnsafeMutableBufferPointer<Float>] = []
    private var indexBuffers: [UnsafeMutableBufferPointer<Int32>] = []
    /// Objects `run` uses (oneDNN primitives, data sets), kept alive with the trial.
    var retained: [AnyObject] = []
    var run: () -> Void = {}

    deinit {
        floatBuffers.forEach { $0.deallocate() }
        indexBuffers.forEach { $0.deallocate() }
    }

    /// `count` floats in [-1, 1), the same every time (a fixed linear congruential sequence):
    /// kernels see ordinary data, no denormals, no NaN.
    func floats(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
        var state: UInt32 = 0x9E37_79B9
        for i in b.indices {
            state = state &* 1_664_525 &+ 1_013_904_223
            b[i] = Float(state >> 8) / Float(1 << 23) - 1
        }
        floatBuffers.append(b)
        return UnsafeMutableBufferPointer(rebasing: b[0..<count])
    }

    /// `count` indices (labels, argmax slots) in 0..<bound.
    func indices(_ count: Int, below bound: Int) -> UnsafeMutableBufferPointer<Int32> {
        let b = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(count, 1))
        for i in b.indices { b[i] = Int32(i % max(bound, 1)) }
        indexBuffers.append(b)
        return UnsafeMutableBufferPointer(rebasing: b[0..<count])
    }
}

/// A work the calibration cannot run: its shapes do not describe a kernel call.
public struct CalibrationError: Error, CustomStringConvertible {
    public var work: String
    public var problem: String

    public init(_ work: KernelWork, _ problem: String) {
        self.work = work.description
        self.problem = problem
    }

    public var description: String { "calibration of \(work): \(problem)" }
}
