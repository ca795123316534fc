/// The shapes of a tiled locally connected layer (DESIGN.md §4), whose weights are untied
/// per output position:
/// `out[n, co, ty*SY + sy, tx*SX + sx] = sum_{ci, kh, kw} W[co, sy, sx, ci, kh, kw, ty, tx] * in[n, ci, ty*S + kh, tx*S + kw]`
/// for `TY x TX` tiles of `SY x SX` outputs each, tile stride `S`, no padding. The
/// reference dump's `L0` is 41x41, Cin 1, Cout 16, KH = KW = 10, S = 2, SY = SX = 4,
/// 16x16 tiles (64x64 out); `L1` is 64x64, Cin 16, Cout 16, 28x28 tiles (112x112 out).
public struct LocallyConnectedGeometry: Hashable, Sendable {
    public let layer: String
    public let inChannels: Int
    public let outChannels: Int
    /// Global input height and width.
    public let height: Int
    public let width: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let tileStride: Int
    /// Outputs per tile: SY rows, SX columns.
    public let tileHeight: Int
    public let tileWidth: Int
    /// Tiles: TY rows of tiles, TX columns of tiles.
    public let tilesY: Int
    public let tilesX: Int

    /// Checks the shapes; throws naming `layer` when the tiles read past the input.
    public init(
        layer: String = "LocallyConnected", inChannels: Int, outChannels: Int, height: Int, width: Int,
        kernelHeight: Int, kernelWidth: Int, tileStride: Int, tileHeight: Int, tileWidth: Int,
        tilesY: Int, tilesX: Int
    ) throws(KernelShapeError) {
        for (name, value) in [("in channels", inChannels), ("out channels", outChannels), ("height", height),
                              ("width", width), ("kernel height", kernelHeight), ("kernel width", kernelWidth),
                              ("tile stride", tileStride), ("tile height", tileHeight), ("tile width", tileWidth),
                              ("tiles", tilesY), ("tiles", tilesX)] {
            try requireAtLeast(value, 1, layer: layer, name: name)
        }
        guard (tilesY - 1) * tileStride + kernelHeight <= height else {
            throw .tilesExceedInput(layer: layer, axis: "height", tiles: tilesY, tileStride: tileStride,
                                    kernel: kernelHeight, input: height)
        }
        guard (tilesX - 1) * tileStride + kernelWidth <= width else {
            throw .tilesExceedInput(layer: layer, axis: "width", tiles: tilesX, tileStride: tileStride,
                                    kernel: kernelWidth, input: width)
        }
        self.layer = layer
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.height = height
        self.width = width
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.tileStride = tileStride
        self.tileHeight = tileHeight
        self.tileWidth = tileWidth
        self.tilesY = tilesY
        self.tilesX = tilesX
    }

    /// Output height and width: `TY*SY`, `TX*SX`.
    public var outputHeight: Int { tilesY * tileHeight }
    public var outputWidth: Int { tilesX * tileWidth }
    /// Outputs of one tile over all output channels, `Cout*SY*SX` (rows of a tile's
    /// weight matrix).
    public var tileOutputs: Int { outChannels * tileHeight * tileWidth }
    /// Inputs one tile reads, `Cin*KH*KW` (columns of a tile's weight matrix).
    public var patchSize: Int { inChannels * kernelHeight * kernelWidth }
    /// Weight elements of a shard of `tiles` tiles.
    public func weightCount(tiles: Int) -> Int { tileOutputs * patchSize * tiles }

    /// Two times the multiply-adds of one pass over `batch` images and `tiles` tiles.
    public func flops(batch: Int, tiles: Int) -> Double {
        2 * Double(batch) * Double(tileOutputs) * Double(patchSize) * Double(tiles)
    }
}

/// The tiles a rank computes (`tileRows x tileCols`, global tile indices) and the global
/// input rows and columns its local input buffer covers (at least the tiles' receptive
/// field, `ty*S ..< (ty_last)*S + KH`). Its output is rows `tileRows*SY`, columns
/// `tileCols*SX`; its weight shard is `[Cout, SY, SX, Cin, KH, KW, tileRows, tileCols]`.
public struct TileShard: Hashable, Sendable {
    public var tileRows: Range<Int>
    public var tileCols: Range<Int>
    public var inputRows: Range<Int>
    public var inputCols: Range<Int>

    public init(tileRows: Range<Int>, tileCols: Range<Int>, inputRows: Range<Int>, inputCols: Range<Int>) {
        self.tileRows = tileRows
        self.tileCols = tileCols
        self.inputRows = inputRows
        self.inputCols = inputCols
    }

    /// Every tile, the whole input.
    public static func whole(_ g: LocallyConnectedGeometry) -> TileShard {
        TileShard(tileRows: 0..<g.tilesY, tileCols: 0..<g.tilesX, inputRows: 0..<g.height, inputCols: 0..<g.width)
    }

    public var tiles: Int { tileRows.count * tileCols.count }
    public var inputPlane: Int { inputRows.count * inputCols.count }
}
