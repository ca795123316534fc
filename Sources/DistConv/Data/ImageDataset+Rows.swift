import Geometry

extension ImageDataset {
    /// Calls `body(sample, pixel, offset, length)` for each row (W run) of `region` in the
    /// batch `samples`: the data set's sample index, the row-major index within one image
    /// of the row's first pixel, the row's offset in the dense buffer over `region`, and its
    /// length. Rows come in buffer order. The one place that checks a load's arguments.
    @inline(__always)
    func forEachRow(
        samples: [Int], region: Rect, bufferCount: Int, _ body: (Int, Int, Int, Int) -> Void
    ) {
        let shape = imageShape
        let (channels, height, width) = (shape[0], shape[1], shape[2])
        precondition(region.dimensions == 4, "\(name): region \(region) is not 4-D [N, C, H, W]")
        precondition(
            bufferCount == region.volume,
            "\(name): buffer holds \(bufferCount) values, region \(region) has \(region.volume)")
        guard !region.isEmpty else { return }
        let n = region.range(0), c = region.range(1), h = region.range(2), w = region.range(3)
        precondition(
            n.lowerBound >= 0 && n.upperBound <= samples.count && c.lowerBound >= 0 && c.upperBound <= channels
                && h.lowerBound >= 0 && h.upperBound <= height && w.lowerBound >= 0 && w.upperBound <= width,
            "\(name): region \(region) outside the batch [\(samples.count), \(channels), \(height), \(width)]")
        let total = count
        var offset = 0
        for i in n {
            let sample = samples[i]
            precondition(sample >= 0 && sample < total, "\(name): sample \(sample) outside 0..<\(total)")
            for ci in c {
                for hi in h {
                    body(sample, (ci * height + hi) * width + w.lowerBound, offset, w.count)
                    offset += w.count
                }
            }
        }
    }
}
