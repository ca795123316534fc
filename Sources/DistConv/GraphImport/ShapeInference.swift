import Geometry

/// Recovers layer hyper-parameters a graph dump leaves implicit, from tensor sizes (in
/// elements) and the function's attributes. Kernels and images are assumed square, as
/// Chainer's dump records neither; every candidate is checked against the output size, so
/// a wrong guess is an error, never a silently wrong model.
enum ShapeInference {
    struct Convolution: Equatable {
        var inputShape: [Int]
        var outChannels: Int
        var kernel: Int
    }

    /// Output channels and kernel side of a convolution whose input shape is known:
    /// `weights = Cout * Cin/groups * k * k`, `output = N * Cout * OH * OW`. Returns every
    /// consistent candidate (normally one).
    static func convolution(
        input: [Int], weights: Int, bias: Int?, output: Int, _ a: ConvolutionAttributes
    ) -> [Convolution] {
        candidates(batch: input[0], knownChannels: input[1], weights: weights, bias: bias, output: output, a) { cin in
            cin == input[1] ? input : nil
        }
    }

    /// The first convolution, reading an image of unknown channels and side: the image
    /// must hold `inputElements = N * Cin * H * H`.
    static func firstConvolution(
        batch: Int, inputElements: Int, weights: Int, bias: Int?, output: Int, _ a: ConvolutionAttributes
    ) -> [Convolution] {
        candidates(batch: batch, knownChannels: nil, weights: weights, bias: bias, output: output, a) { cin in
            // Sizes come from the dump: a product may overflow, and then fits nothing.
            guard let images = ModelBuilder.product([batch, cin]), inputElements % images == 0 else { return nil }
            let area = inputElements / images
            let side = integerSquareRoot(area)
            return side * side == area ? [batch, cin, side, side] : nil
        }
    }

    /// Tries every square kernel side; output channels come from the bias, else from the
    /// known input channels, else every divisor (only for a first layer without bias).
    private static func candidates(
        batch: Int, knownChannels: Int?, weights: Int, bias: Int?, output: Int, _ a: ConvolutionAttributes,
        input: (Int) -> [Int]?
    ) -> [Convolution] {
        let groups = a.groups ?? 1
        guard groups >= 1, weights >= 1, batch >= 1, a.sy >= 1, a.sx >= 1, a.ph >= 0, a.pw >= 0 else { return [] }
        var found: [Convolution] = []
        var k = 1
        while k * k <= weights {
            defer { k += 1 }
            guard weights % (k * k) == 0 else { continue }
            let perKernel = weights / (k * k)  // Cout * Cin/groups
            let couts: [Int]
            if let bias {
                couts = [bias]
            } else if let cin = knownChannels, cin % groups == 0, cin >= groups, perKernel % (cin / groups) == 0 {
                couts = [perKernel / (cin / groups)]
            } else {
                couts = knownChannels == nil ? divisors(perKernel) : []
            }
            for cout in couts where cout >= 1 && perKernel % cout == 0 && cout % groups == 0 {
                let cin = perKernel / cout * groups
                guard let shape = input(cin) else { continue }
                let oh = windowOutputLength(
                    inputLength: shape[2], kernel: k, stride: a.sy, padding: a.ph, dilation: a.dy ?? 1)
                let ow = windowOutputLength(
                    inputLength: shape[3], kernel: k, stride: a.sx, padding: a.pw, dilation: a.dx ?? 1)
                if oh >= 1, ow >= 1, ModelBuilder.product([batch, cout, oh, ow]) == output {
                    found.append(Convolution(inputShape: shape, outChannels: cout, kernel: k))
                }
            }
        }
        return found
    }

    static func divisors(_ n: Int) -> [Int] {
        var small: [Int] = [], large: [Int] = []
        var d = 1
        while d * d <= n {
            if n % d == 0 {
                small.append(d)
                if d * d != n { large.append(n / d) }
            }
            d += 1
        }
        return small + large.reversed()
    }

    static func integerSquareRoot(_ n: Int) -> Int {
        guard n > 0 else { return 0 }
        var r = Int(Double(n).squareRoot())
        while r * r > n { r -= 1 }
        while (r + 1) * (r + 1) <= n { r += 1 }
        return r
    }
}
