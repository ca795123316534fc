import CDNNL
#if canImport(Glibc)
import Glibc
#endif

/// Converts an `[n, c, h, w]` Float block between layouts (oneDNN's reorder primitive),
/// built once per shape and layout pair; for data in, flatten, checkpoints and tests.
/// A blocked destination gets its padded channels zeroed.
public final class ActivationReorder {
    public let n: Int, c: Int, h: Int, w: Int
    public let from: ActivationLayout
    public let to: ActivationLayout
    private let reorder: DNNLPrimitive
    private let src: DNNLMemory
    private let dst: DNNLMemory

    public init(n: Int, c: Int, h: Int, w: Int, from: ActivationLayout, to: ActivationLayout) {
        precondition(n >= 0 && c >= 1 && h >= 0 && w >= 0, "reorder of [\(n), \(c), \(h), \(w)]")
        self.n = n; self.c = c; self.h = h; self.w = w
        self.from = from
        self.to = to
        src = DNNLMemory(from.descriptor(n: n, c: c, h: h, w: w), scratch: false)
        dst = DNNLMemory(to.descriptor(n: n, c: c, h: h, w: w), scratch: false)
        reorder = DNNLPrimitive.reorder(from: src.desc, to: dst.desc)
        reorder.set(DNNL_ARG_FROM, src)
        reorder.set(DNNL_ARG_TO, dst)
    }

    /// Element counts of the source and destination buffers.
    public var sourceCount: Int { from.count(n: n, c: c, h: h, w: w) }
    public var destinationCount: Int { to.count(n: n, c: c, h: h, w: w) }

    public func callAsFunction(_ source: UnsafeBufferPointer<Float>, _ destination: UnsafeMutableBufferPointer<Float>) {
        precondition(source.count == sourceCount && destination.count == destinationCount,
                     "reorder [\(n), \(c), \(h), \(w)] \(from) -> \(to): buffers \(source.count) -> \(destination.count), expected \(sourceCount) -> \(destinationCount)")
        guard let s = source.baseAddress, let d = destination.baseAddress, n * h * w > 0 else { return }
        src.bind(s)
        dst.bind(d)
        reorder.run()
    }

    /// One reorder per shape and layout pair for the process (built on first use).
    public static func cached(n: Int, c: Int, h: Int, w: Int, from: ActivationLayout, to: ActivationLayout) -> ActivationReorder {
        let key = Key(n: n, c: c, h: h, w: w, from: from, to: to)
        return cache.withLock { table in
            if let r = table[key] { return r }
            let r = ActivationReorder(n: n, c: c, h: h, w: w, from: from, to: to)
            table[key] = r
            return r
        }
    }

    private struct Key: Hashable { var n, c, h, w: Int; var from, to: ActivationLayout }
    private static let cache = LockedTable<Key, ActivationReorder>()
}

/// A dictionary behind a mutex, for the process-wide primitive caches.
final class LockedTable<K: Hashable, V>: @unchecked Sendable {
    private var table: [K: V] = [:]
    private var mutex = pthread_mutex_t()

    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }

    func withLock<R>(_ body: (inout [K: V]) -> R) -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body(&table)
    }
}
