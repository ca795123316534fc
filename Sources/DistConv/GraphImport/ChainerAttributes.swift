/// `Convolution2DFunction`'s attributes, as Chainer names them.
public struct ConvolutionAttributes: Decodable, Sendable, Equatable {
    public var sy: Int
    public var sx: Int
    public var ph: Int
    public var pw: Int
    public var dy: Int?
    public var dx: Int?
    public var groups: Int?
    public var coverAll: Bool?

    enum CodingKeys: String, CodingKey {
        case sy, sx, ph, pw, dy, dx, groups, coverAll = "cover_all"
    }

    /// The first attribute outside what a model may hold (strides, dilations and groups
    /// from 1, paddings from 0, all up to 2^20, as `OpParameters` checks), as `field is value`.
    var rangeProblem: String? {
        let limit = OpParameters.maximumWindow
        let fields = [("sy", sy, 1), ("sx", sx, 1), ("ph", ph, 0), ("pw", pw, 0), ("dy", dy ?? 1, 1),
                      ("dx", dx ?? 1, 1), ("groups", groups ?? 1, 1)]
        return fields.first { !($0.2...limit).contains($0.1) }.map { "\($0.0) is \($0.1), expected \($0.2) to 2^20" }
    }
}

/// `MaxPooling2D`'s attributes, as Chainer names them.
public struct PoolingAttributes: Decodable, Sendable, Equatable {
    public var kh: Int
    public var kw: Int
    public var sy: Int
    public var sx: Int
    public var ph: Int
    public var pw: Int
    public var coverAll: Bool

    enum CodingKeys: String, CodingKey {
        case kh, kw, sy, sx, ph, pw, coverAll = "cover_all"
    }

    /// As `ConvolutionAttributes.rangeProblem`: kernels and strides from 1, paddings from 0.
    var rangeProblem: String? {
        let limit = OpParameters.maximumWindow
        let fields = [("kh", kh, 1), ("kw", kw, 1), ("sy", sy, 1), ("sx", sx, 1), ("ph", ph, 0), ("pw", pw, 0)]
        return fields.first { !($0.2...limit).contains($0.1) }.map { "\($0.0) is \($0.1), expected \($0.2) to 2^20" }
    }
}

/// Attributes every function carries; `rank` is Chainer's generation.
struct CommonAttributes: Decodable {
    var rank: Int?
}

struct DropoutAttributes: Decodable {
    var dropoutRatio: Double
    enum CodingKeys: String, CodingKey { case dropoutRatio = "dropout_ratio" }
}

struct ReshapeAttributes: Decodable {
    var shape: [Int]
}
