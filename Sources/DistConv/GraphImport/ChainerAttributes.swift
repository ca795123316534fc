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
