/// A grid of ranks over the dimensions of a tensor: `shape[d]` parts along dimension `d`,
/// `shape.reduce(1, *)` ranks in all.
///
/// Ranks are numbered with the first dimension fastest, as in the reference dump: on a
/// `[1, 1, 2, 2]` grid over NCHW, rank 1 has coordinates `[0, 0, 1, 0]`, so it owns rows
/// 32–63 and columns 0–31 of a 64x64 output.
public struct ProcessGrid: Hashable, Sendable, CustomStringConvertible {
    public let shape: [Int]

    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 1 }, "grid \(shape) has a dimension below 1")
        self.shape = shape
    }

    /// A grid of one part per dimension (everything on one rank, or replicated).
    public static func single(dimensions: Int) -> ProcessGrid { ProcessGrid(shape: Array(repeating: 1, count: dimensions)) }

    /// Number of ranks the grid spans.
    public var count: Int { shape.reduce(1, *) }

    /// The grid coordinates of a rank.
    public func coordinates(ofRank r: Int) -> [Int] {
        precondition(r >= 0 && r < count, "rank \(r) outside grid \(shape) of \(count) ranks")
        var rest = r
        return shape.map { n in
            defer { rest /= n }
            return rest % n
        }
    }

    /// The rank at grid coordinates.
    public func rank(at coordinates: [Int]) -> Int {
        precondition(coordinates.count == shape.count, "coordinates \(coordinates) for grid \(shape)")
        var r = 0
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            precondition(coordinates[d] >= 0 && coordinates[d] < shape[d], "coordinates \(coordinates) outside grid \(shape)")
            r = r * shape[d] + coordinates[d]
        }
        return r
    }

    /// The block of `whole` that `rank` owns.
    public func block(of whole: Rect, rank r: Int) -> Rect {
        whole.block(parts: shape, at: coordinates(ofRank: r))
    }

    public var description: String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}

extension ProcessGrid {
    /// The most square factorisation `a * b == n` with `a <= b` (4 -> (2, 2), 6 -> (2, 3),
    /// a prime p -> (1, p)): the 2-D grid that keeps halos shortest for n ranks.
    public static func squarestFactors(_ n: Int) -> (Int, Int) {
        precondition(n >= 1, "factorising \(n)")
        var a = 1
        var k = 1
        while k * k <= n {
            if n % k == 0 { a = k }
            k += 1
        }
        return (a, n / a)
    }
}
