/// Reads the typed fields of a model-file op, with the defaults a user would expect
/// (stride 1, padding 0, dilation 1, groups 1, bias on) and one error per bad field.
struct OpParameters {
    let entry: ModelFile.OpEntry
    let builder: ModelBuilder

    init(entry: ModelFile.OpEntry, builder: ModelBuilder) {
        self.entry = entry
        self.builder = builder
    }

    /// The largest kernel, stride, padding, dilation, group count or tile a model may have:
    /// far past any real network, and small enough that window arithmetic on sizes up to
    /// `ModelBuilder.maximumElements` cannot overflow.
    static let maximumWindow = 1 << 20

    /// A pair such as kernel [3, 3]; a single number means both.
    func pair(_ value: [Int]?, _ field: String, default fallback: Int?, minimum: Int) throws -> [Int] {
        guard let value else {
            guard let fallback else { throw builder.error(entry, field, "is missing") }
            return [fallback, fallback]
        }
        let v = value.count == 1 ? [value[0], value[0]] : value
        guard v.count == 2 else { throw builder.error(entry, field, "has \(value.count) entries \(value), expected 2") }
        guard v.allSatisfy({ $0 >= minimum }) else { throw builder.error(entry, field, "\(value) has an entry below \(minimum)") }
        guard v.allSatisfy({ $0 <= Self.maximumWindow }) else {
            throw builder.error(entry, field, "\(value) has an entry above 2^20")
        }
        return v
    }

    func conv2d() throws -> Conv2DSpec {
        let e = entry
        guard let out = e.outChannels, out >= 1 else { throw builder.error(e, "out_channels", "is missing or below 1") }
        let groups = e.groups ?? 1
        guard groups >= 1 && groups <= Self.maximumWindow else {
            throw builder.error(e, "groups", "is \(groups), must be from 1 to 2^20")
        }
        return Conv2DSpec(
            outChannels: out, kernel: try pair(e.kernel, "kernel", default: nil, minimum: 1),
            stride: try pair(e.stride, "stride", default: 1, minimum: 1),
            padding: try pair(e.padding, "padding", default: 0, minimum: 0),
            dilation: try pair(e.dilation, "dilation", default: 1, minimum: 1), groups: groups,
            weights: e.weights ?? "\(e.name).W", bias: (e.hasBias ?? true) ? (e.bias ?? "\(e.name).b") : nil)
    }

    func locallyConnected() throws -> LocallyConnectedSpec {
        let e = entry
        guard let out = e.outChannels, out >= 1 else { throw builder.error(e, "out_channels", "is missing or below 1") }
        guard let s = e.tileStride, s >= 1 else { throw builder.error(e, "tile_stride", "is missing or below 1") }
        guard s <= Self.maximumWindow else { throw builder.error(e, "tile_stride", "is \(s), above 2^20") }
        return LocallyConnectedSpec(
            outChannels: out, kernel: try pair(e.kernel, "kernel", default: nil, minimum: 1), tileStride: s,
            tileSize: try pair(e.tileSize, "tile_size", default: nil, minimum: 1), weights: e.weights ?? "\(e.name).W")
    }

    func pool(mode: PoolSpec.Mode) throws -> PoolSpec {
        let kernel = try pair(entry.kernel, "kernel", default: nil, minimum: 1)
        let stride = entry.stride == nil ? kernel : try pair(entry.stride, "stride", default: nil, minimum: 1)
        let padding = try pair(entry.padding, "padding", default: 0, minimum: 0)
        return PoolSpec(mode: mode, kernel: kernel, stride: stride, padding: padding, coverAll: entry.coverAll ?? false)
    }
}
