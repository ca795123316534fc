import CDNNL
#if canImport(Glibc)
import Glibc
#endif

// Thin owners of oneDNN handles: a memory object (its buffer either the library's or
// bound per call to the caller's pointer) and a primitive with its descriptor and the
// argument list it runs with. Built once per shape; a call binds pointers and runs.

/// A oneDNN memory object. `scratch` memories own their buffer (allocated once, by the
/// library); the others are bound to the caller's pointer on every call.
final class DNNLMemory {
    let handle: dnnl_memory_t
    let desc: dnnl_memory_desc_t

    init(_ desc: dnnl_memory_desc_t, scratch: Bool) {
        var md = desc
        var m: dnnl_memory_t?
        dnnlCheck(dnnl_memory_create(&m, &md, DNNLEngine.shared.engine,
                                     scratch ? distconv_dnnl_memory_allocate() : nil), "memory")
        handle = m!
        self.desc = desc
    }

    deinit { dnnl_memory_destroy(handle) }

    /// Points the memory at `pointer` (the base of the caller's buffer; a submemory's
    /// offset applies on top). oneDNN zeroes a blocked layout's padded channels here.
    @inline(__always)
    func bind(_ pointer: UnsafeRawPointer) {
        dnnlCheck(dnnl_memory_set_data_handle_v2(handle, UnsafeMutableRawPointer(mutating: pointer),
                                                 DNNLEngine.shared.stream), "bind memory")
    }

    /// The buffer of a scratch memory.
    var pointer: UnsafeMutableRawPointer {
        var p: UnsafeMutableRawPointer?
        dnnlCheck(dnnl_memory_get_data_handle(handle, &p), "memory handle")
        return p!
    }

    /// Bytes the descriptor spans.
    var bytes: Int { withUnsafePointer(to: desc) { Int(dnnl_memory_desc_get_size($0)) } }
}

/// A primitive, its implementation's name (e.g. "jit:avx512_core") and its arguments.
final class DNNLPrimitive {
    let pd: dnnl_primitive_desc_t
    let primitive: dnnl_primitive_t
    private var args: [dnnl_exec_arg_t] = []

    /// Takes ownership of `pd`.
    init(_ pd: dnnl_primitive_desc_t) {
        self.pd = pd
        var p: dnnl_primitive_t?
        dnnlCheck(dnnl_primitive_create(&p, pd), "primitive")
        primitive = p!
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(pd)
    }

    var implementation: String {
        var s: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s)
        return s.map { String(cString: $0) } ?? "unknown"
    }

    /// The memory descriptor the primitive chose for `what` (e.g. `dnnl_query_src_md`).
    func desc(_ what: dnnl_query_t, _ index: Int32 = 0) -> dnnl_memory_desc_t {
        guard let md = dnnl_primitive_desc_query_md(pd, what, index) else {
            preconditionFailure("oneDNN primitive \(implementation) has no memory for query \(what.rawValue)")
        }
        return md.pointee
    }

    /// Adds an argument; memories are retained by the caller (the plan that holds both).
    func set(_ arg: Int32, _ memory: DNNLMemory) {
        args.append(dnnl_exec_arg_t(arg: arg, memory: memory.handle))
    }

    /// Runs on the process's stream and waits.
    @inline(__always)
    func run() {
        let engine = DNNLEngine.shared
        args.withUnsafeBufferPointer { a in
            dnnlCheck(dnnl_primitive_execute(primitive, engine.stream, Int32(a.count), a.baseAddress), "execute \(implementation)")
        }
        engine.wait()
    }

    /// A reorder from `src` to `dst`; with `accumulate`, dst += src (a sum post-op).
    static func reorder(from src: dnnl_memory_desc_t, to dst: dnnl_memory_desc_t, accumulate: Bool = false) -> DNNLPrimitive {
        var s = src, d = dst
        var attr: dnnl_primitive_attr_t?
        dnnlCheck(dnnl_primitive_attr_create(&attr), "attributes")
        defer { dnnl_primitive_attr_destroy(attr) }
        if accumulate {
            var ops: dnnl_post_ops_t?
            dnnlCheck(dnnl_post_ops_create(&ops), "post-ops")
            defer { dnnl_post_ops_destroy(ops) }
            dnnlCheck(dnnl_post_ops_append_sum(ops, 1), "sum post-op")
            dnnlCheck(dnnl_primitive_attr_set_post_ops(attr, ops), "set post-ops")
        }
        var pd: dnnl_primitive_desc_t?
        let engine = DNNLEngine.shared.engine
        dnnlCheck(dnnl_reorder_primitive_desc_create(&pd, &s, engine, &d, engine, attr), "reorder descriptor")
        return DNNLPrimitive(pd!)
    }
}

/// A memory the caller binds, reordered (when its descriptor is not the primitive's) to
/// or from a scratch memory in the primitive's format. `memory` is what the primitive
/// uses: the user's memory itself when the formats agree.
final class DNNLStaged {
    let user: DNNLMemory
    let memory: DNNLMemory
    private let reorder: DNNLPrimitive?

    /// `input`: the user's data is read by the primitive (reorder before); otherwise
    /// written by it (reorder after, adding into the user's data with `accumulate`).
    init(user desc: dnnl_memory_desc_t, primitive wanted: dnnl_memory_desc_t, input: Bool, accumulate: Bool = false) {
        user = DNNLMemory(desc, scratch: false)
        var a = desc, b = wanted
        if !accumulate && dnnl_memory_desc_equal(&a, &b) != 0 {
            memory = user
            reorder = nil
        } else {
            memory = DNNLMemory(wanted, scratch: true)
            let r = input ? DNNLPrimitive.reorder(from: desc, to: wanted)
                          : DNNLPrimitive.reorder(from: wanted, to: desc, accumulate: accumulate)
            r.set(DNNL_ARG_FROM, input ? user : memory)
            r.set(DNNL_ARG_TO, input ? memory : user)
            reorder = r
        }
    }

    var isDirect: Bool { reorder == nil }

    /// Bytes of the scratch (0 when direct).
    var scratchBytes: Int { isDirect ? 0 : memory.bytes }

    /// Binds the user's pointer and, for an input, reorders it into the scratch.
    @inline(__always)
    func bindInput(_ pointer: UnsafeRawPointer) {
        user.bind(pointer)
        reorder?.run()
    }

    /// Binds the user's pointer before the primitive writes.
    @inline(__always)
    func bindOutput(_ pointer: UnsafeRawPointer) { user.bind(pointer) }

    /// After the primitive: reorders the scratch into the user's memory.
    @inline(__always)
    func finishOutput() { reorder?.run() }
}

/// A submemory of `parent` (dims and offsets in its logical order).
func subDescriptor(_ parent: dnnl_memory_desc_t, dims: [Int], offsets: [Int]) -> dnnl_memory_desc_t {
    var p = parent, md = dnnl_memory_desc_t()
    dnnlCheck(dnnl_memory_desc_init_submemory(&md, &p, dims.map(Int64.init), offsets.map(Int64.init)),
              "submemory \(dims) at \(offsets)")
    return md
}

/// A descriptor for `dims` with format `tag` (or any, letting the primitive choose).
func plainDescriptor(_ dims: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
    var md = dnnl_memory_desc_t()
    dnnlCheck(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), dims.map(Int64.init), dnnl_f32, tag),
              "memory descriptor \(dims)")
    return md
}
