import Foundation

/// A linear map from data values to pixels with "nice" ticks: the tick step is 1, 2 or 5
/// times a power of ten, chosen so that about `targetTicks` intervals cover the values,
/// and the domain is widened outward to whole steps, so the first and last ticks are the
/// axis's ends.
///
/// Edge cases: one value (or all equal) gets a domain one step either side of it (a
/// step of 1 at zero); `pixel` and `value(atPixel:)` are inverse for every domain, and
/// a y axis simply has `end < start` (SVG's y grows downward).
public struct Axis: Sendable, Equatable {
    /// The domain, `lower < upper`, both multiples of `step`.
    public let lower: Double
    public let upper: Double
    /// The pixels of `lower` and `upper`.
    public let start: Double
    public let end: Double
    public let step: Double

    /// An axis covering `lowest...highest` drawn from pixel `start` to `end`.
    public init(covering lowest: Double, _ highest: Double, pixels start: Double, _ end: Double, targetTicks: Int = 5) {
        precondition(lowest.isFinite && highest.isFinite && lowest <= highest,
                     "Axis: values \(lowest)...\(highest) are not a finite range")
        precondition(targetTicks >= 1 && start != end, "Axis: \(targetTicks) ticks over pixels \(start)...\(end)")
        var lo = lowest, hi = highest
        if lo == hi {
            let s = lo == 0 ? 1 : Self.niceStep(span: abs(lo), targetTicks: targetTicks)
            lo -= s
            hi += s
        }
        let step = Self.niceStep(span: hi - lo, targetTicks: targetTicks)
        self.step = step
        // A value a rounding error past a tick does not open a whole new interval.
        let slack = 1e-9
        lower = (lo / step + slack).rounded(.down) * step
        upper = (hi / step - slack).rounded(.up) * step
        self.start = start
        self.end = end
    }

    /// The nice step (1, 2 or 5 times a power of ten) closest above `span / targetTicks`.
    public static func niceStep(span: Double, targetTicks: Int) -> Double {
        precondition(span > 0 && span.isFinite, "Axis.niceStep: span \(span)")
        let raw = span / Double(targetTicks)
        let power = pow(10, (log10(raw)).rounded(.down))
        for m in [1.0, 2, 5, 10] where m * power >= raw * (1 - 1e-12) {
            return m * power
        }
        return 10 * power
    }

    /// The pixel of `value`.
    public func pixel(_ value: Double) -> Double {
        start + (value - lower) / (upper - lower) * (end - start)
    }

    /// The value at pixel `p` (the inverse of `pixel`).
    public func value(atPixel p: Double) -> Double {
        lower + (p - start) / (end - start) * (upper - lower)
    }

    /// The value one pixel spans.
    public var valuePerPixel: Double { (upper - lower) / abs(end - start) }

    /// Every multiple of `step` from `lower` to `upper`, computed from integers so that
    /// no rounding error accumulates.
    public var ticks: [Double] {
        let first = Int((lower / step).rounded()), last = Int((upper / step).rounded())
        return (first...last).map { Double($0) * step }
    }

    /// A tick's label, with as many decimals as the step needs (`0.25` never occurs:
    /// steps are 1, 2 or 5 times a power of ten, so one significant digit suffices).
    public func label(_ value: Double) -> String {
        let decimals = max(0, Int((-log10(step) - 1e-9).rounded(.up)))
        let text = String(format: "%.\(decimals)f", value)
        // "-0" and "-0.0" read as zero.
        return text.allSatisfy { "-0.".contains($0) } ? String(format: "%.\(decimals)f", 0.0) : text
    }
}
