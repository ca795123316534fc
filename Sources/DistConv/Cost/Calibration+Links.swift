import Comm
import Foundation

extension Calibration {
    /// Message sizes of the ping-pong: 8 B to 16 MiB.
    var messageSizes: [Int] {
        options.quick ? [8, 1 << 10, 1 << 16, 1 << 20] : (0...10).map { 8 << (2 * $0) } + [16 << 20]
    }

    /// Packing halo pieces into a contiguous buffer, as the redistribution executor does:
    /// boxes of a blocked activation `[C/16, H, W, 16]` (a 16-channel block is 64 B per
    /// pixel) that are column strips (one 64-byte run per row, a halo of width 1 of a
    /// split over W) and row strips (one run per channel block, a halo over H), of 64 B to
    /// 4 MiB. Per size, the median time of one pack and one unpack, on every rank at once.
    func copyTimings() throws -> [(bytes: Int, seconds: Double)] {
        let blocks = 4, height = 512, width = 512, pixel = 16
        let count = blocks * height * width * pixel
        let tensor = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { tensor.deallocate(); buffer.deallocate() }
        tensor.initialize(repeating: 1)
        buffer.initialize(repeating: 0)
        // (channel blocks, rows, columns) of each box; its bytes are their product * 64.
        var boxes: [(Int, Int, Int)] = []
        for rows in options.quick ? [1, 64, 512] : [1, 4, 16, 64, 256, 512] { boxes.append((blocks, rows, 1)) }
        for rows in options.quick ? [1, 2] : [1, 2, 4] { boxes.append((blocks, rows, width)) }
        boxes.append((1, 1, 1))
        var points: [(bytes: Int, seconds: Double)] = []
        for (b, rows, cols) in boxes {
            let run = cols * pixel * MemoryLayout<Float>.size
            let pack = {
                var at = 0
                for blk in 0..<b {
                    for r in 0..<rows {
                        let from = ((blk * height + r) * width) * pixel
                        memcpy(buffer.baseAddress! + at, tensor.baseAddress! + from, run)
                        at += cols * pixel
                    }
                }
            }
            let unpack = {
                var at = 0
                for blk in 0..<b {
                    for r in 0..<rows {
                        let into = ((blk * height + r) * width + width - cols) * pixel
                        memcpy(tensor.baseAddress! + into, buffer.baseAddress! + at, run)
                        at += cols * pixel
                    }
                }
            }
            try communicator.barrier()
            pack()
            let once = Self.seconds { pack(); unpack() } / 2
            let calls = max(1, min(100_000, Int((callSeconds / max(try communicator.allreduce(once, .max), 1e-9)).rounded(.up))))
            var times: [Double] = []
            for _ in 0..<repetitions {
                times.append(Self.seconds { for _ in 0..<calls { pack(); unpack() } } / Double(2 * calls))
            }
            let median = try communicator.allreduce(times.sorted()[times.count / 2], .max)
            points.append((b * rows * cols * pixel * MemoryLayout<Float>.size, median))
        }
        return points
    }

    /// `MachineRates.synchronisation`: every rank runs the same segment of work (sweeps of
    /// the eviction buffer lasting about 2 ms, a layer's forward in the default model),
    /// then a barrier; the mean time a rank waits in it, over ranks and rounds, less a
    /// barrier's own time when all arrive together. What a rank of a step loses at each
    /// point where it meets the others; 0 on one rank.
    func synchronisationTiming() throws -> Double {
        let size = communicator.size
        guard size >= 2 else { return 0 }
        func timed(_ body: () throws -> Void) throws -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        }
        let segment = 2e-3, rounds = options.quick ? 40 : 200
        try communicator.barrier()
        let once = try communicator.allreduce(Self.seconds { evict() }, .max)
        let sweeps = max(1, Int((segment / max(once, 1e-9)).rounded()))
        var bare = 0.0, waited = 0.0
        try communicator.barrier()
        for _ in 0..<rounds { bare += try timed { try communicator.barrier() } }
        for _ in 0..<rounds {
            for _ in 0..<sweeps { evict() }
            waited += try timed { try communicator.barrier() }
        }
        let mean = try communicator.allreduce((waited - bare) / Double(rounds), .sum) / Double(size)
        return max(0, mean)
    }

    /// One-way message times between rank pairs (0-1, 2-3, ...) over Open MPI, all pairs
    /// at once, by ping-pong: half the round trip, the median of `repetitions` runs. Empty
    /// on one rank. Ranks here share a node, so this is `intraNode`.
    func messageTimings() throws -> [(bytes: Int, seconds: Double)] {
        let size = communicator.size, rank = communicator.rank
        guard size >= 2 else { return [] }
        let peer = rank % 2 == 0 ? rank + 1 : rank - 1
        let active = peer < size
        let largest = messageSizes.max() ?? 8
        let send = UnsafeMutableRawBufferPointer.allocate(byteCount: largest, alignment: 64)
        let receive = UnsafeMutableRawBufferPointer.allocate(byteCount: largest, alignment: 64)
        defer { send.deallocate(); receive.deallocate() }
        send.initializeMemory(as: UInt8.self, repeating: 1)
        receive.initializeMemory(as: UInt8.self, repeating: 0)
        let requests = RequestSet()
        func roundTrip(_ bytes: Int) throws {
            guard active else { return }
            let s = UnsafeRawBufferPointer(rebasing: send[0..<bytes]), r = UnsafeMutableRawBufferPointer(rebasing: receive[0..<bytes])
            if rank % 2 == 0 {
                try communicator.isend(s, to: peer, tag: 7, requests: requests)
                try communicator.waitAll(requests)
                try communicator.irecv(r, from: peer, tag: 7, requests: requests)
                try communicator.waitAll(requests)
            } else {
                try communicator.irecv(r, from: peer, tag: 7, requests: requests)
                try communicator.waitAll(requests)
                try communicator.isend(s, to: peer, tag: 7, requests: requests)
                try communicator.waitAll(requests)
            }
        }
        var points: [(bytes: Int, seconds: Double)] = []
        for bytes in messageSizes {
            try communicator.barrier()
            try roundTrip(bytes)
            var once = 0.0
            let start = DispatchTime.now().uptimeNanoseconds
            try roundTrip(bytes)
            once = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            // Both ends of a pair must make the same number of round trips.
            let trips = max(1, min(10_000, Int((callSeconds / max(try communicator.allreduce(once, .max), 1e-9)).rounded(.up))))
            var times: [Double] = []
            for _ in 0..<repetitions {
                try communicator.barrier()
                let t0 = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<trips { try roundTrip(bytes) }
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9 / Double(2 * trips))
            }
            points.append((bytes, try communicator.allreduce(times.sorted()[times.count / 2], .max)))
        }
        return points
    }
}
