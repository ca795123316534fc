import CMPI
import Comm

/// The reference: the same messages as a redistribution's plan (same peers, same sizes),
/// from pre-packed buffers with plain `MPI_Irecv`/`MPI_Isend`/`MPI_Waitall` — what the
/// exchange costs with packing and bookkeeping taken away.
final class RawExchange {
    private let receives: [(peer: Int32, count: Int32, buffer: UnsafeMutablePointer<Float>)]
    private let sends: [(peer: Int32, count: Int32, buffer: UnsafeMutablePointer<Float>)]
    private let requests: UnsafeMutablePointer<MPI_Request?>
    private let world = cmpi_comm_world()

    init(plan: RedistributionPlan) {
        func buffers(_ transfers: [RedistributionPlan.Transfer]) -> [(Int32, Int32, UnsafeMutablePointer<Float>)] {
            transfers.map { t in
                let buffer = UnsafeMutablePointer<Float>.allocate(capacity: t.count)
                buffer.initialize(repeating: Float(t.peer), count: t.count)
                return (Int32(t.peer), Int32(t.count), buffer)
            }
        }
        receives = buffers(plan.receives)
        sends = buffers(plan.sends)
        requests = .allocate(capacity: max(1, receives.count + sends.count))
        requests.initialize(repeating: cmpi_request_null(), count: max(1, receives.count + sends.count))
    }

    deinit {
        for m in receives + sends { m.buffer.deallocate() }
        requests.deallocate()
    }

    /// Number of bytes sent per exchange.
    var sentBytes: Int { sends.reduce(0) { $0 + Int($1.count) } * MemoryLayout<Float>.stride }

    /// One exchange; MPI errors end the job.
    func run() {
        var n: Int32 = 0
        var code: Int32 = 0
        for m in receives {
            code |= MPI_Irecv(m.buffer, m.count, cmpi_float(), m.peer, 1, world, requests + Int(n))
            n += 1
        }
        for m in sends {
            code |= MPI_Isend(m.buffer, m.count, cmpi_float(), m.peer, 1, world, requests + Int(n))
            n += 1
        }
        code |= MPI_Waitall(n, requests, cmpi_statuses_ignore())
        if code != 0 { MPI_Abort(world, 3) }
    }
}
