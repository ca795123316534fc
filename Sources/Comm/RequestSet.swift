import CMPI

/// Outstanding non-blocking operations, completed together by `Communicator.waitAll`.
///
/// A class so that its MPI request handles have exactly one owner. The buffers passed to
/// `isend`/`irecv` must stay valid, and untouched, until `waitAll` returns. The storage is
/// reused: after `waitAll` the set is empty again and posting more does not allocate
/// unless the set grows past its largest size so far.
public final class RequestSet {
    private(set) var handles: UnsafeMutablePointer<MPI_Request?>
    private var capacity: Int
    /// Number of operations posted since the last `waitAll`.
    public private(set) var count = 0

    /// An empty set with room for `capacity` requests before it grows.
    public init(capacity: Int = 8) {
        precondition(capacity >= 0, "request set capacity \(capacity)")
        self.capacity = Swift.max(capacity, 1)
        handles = .allocate(capacity: self.capacity)
        handles.initialize(repeating: cmpi_request_null(), count: self.capacity)
    }

    deinit {
        // Requests still pending here are a programmer error (their buffers may already
        // be gone); they cannot be completed safely, so the handles are only dropped.
        handles.deallocate()
    }

    /// The slot for the next request.
    func nextSlot() -> UnsafeMutablePointer<MPI_Request?> {
        if count == capacity {
            let larger = UnsafeMutablePointer<MPI_Request?>.allocate(capacity: capacity * 2)
            larger.initialize(repeating: cmpi_request_null(), count: capacity * 2)
            larger.update(from: handles, count: count)
            handles.deallocate()
            handles = larger
            capacity *= 2
        }
        return handles + count
    }

    /// Marks the slot returned by `nextSlot` as used.
    func commitSlot() { count += 1 }

    /// Forgets every request (after they completed).
    func clear() {
        handles.update(repeating: cmpi_request_null(), count: count)
        count = 0
    }
}
