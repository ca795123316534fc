import Geometry

/// An exchange started by `Redistribution.start` whose messages may still be travelling.
/// `finish()` waits for them and completes the destination; until then the caller may
/// compute, but must not touch
/// - the destination's `incomingRegions` (they are written, or added to, by the exchange;
///   in copy mode Open MPI may be writing some of them already), nor
/// - the source's `outgoingRegions` (a message that is one contiguous run of the source is
///   sent straight from it).
/// Everything else of the destination is final once `start` returns (the rank's own part
/// was copied there), and everything else of both buffers is the caller's.
///
/// Not copyable, so that it is finished once. Dropping it unfinished finishes it (waits).
/// Both buffers must stay valid until then.
public struct PendingRedistribution<T: MPIScalar>: ~Copyable {
    let redistribution: Redistribution
    let destination: UnsafeMutablePointer<T>?

    /// Waits for every message, then unpacks into the destination: in copy mode each
    /// message as it arrives, in accumulate mode all of them added in ascending peer rank
    /// (after the rank's own part), so that the same run gives the same bits whether or not
    /// the caller computed in between.
    ///
    /// Aborts the job, with one line naming the rank and the call, when an MPI call fails.
    public consuming func finish() {
        let redistribution = redistribution
        let destination = destination
        redistribution.orAbort { () throws(CommError) in
            try redistribution.complete(into: destination)
        }
    }

    deinit {
        guard redistribution.inFlight else { return }
        let redistribution = redistribution
        let destination = destination
        redistribution.orAbort { () throws(CommError) in
            try redistribution.complete(into: destination)
        }
    }
}

extension Redistribution {
    /// Starts an exchange in place (see `execute(_:)`): posts every receive, packs and
    /// posts every send, and returns. Finish it with `finish()` on the result, before any
    /// other exchange of this redistribution starts.
    ///
    /// - Precondition: `sourceStorage == targetStorage`; no exchange of this
    ///   redistribution is in flight.
    public func start<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>) -> PendingRedistribution<T> {
        start(buffer, call: "Redistribution.start")
    }

    /// Starts an exchange from `source` into `destination` (see `execute(from:into:)`):
    /// posts every receive, packs and posts every send, copies the rank's own part, and
    /// returns. Finish it with `finish()` on the result.
    ///
    /// - Precondition: the buffers do not overlap; no exchange of this redistribution is
    ///   in flight.
    public func start<T: MPIScalar>(
        from source: UnsafeBufferPointer<T>, into destination: UnsafeMutableBufferPointer<T>
    ) -> PendingRedistribution<T> {
        start(from: source, into: destination, call: "Redistribution.start")
    }

    func start<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>, call: String) -> PendingRedistribution<T> {
        precondition(
            sourceStorage == targetStorage,
            "in-place redistribution with source storage \(sourceStorage) and target \(targetStorage)")
        orAbort { () throws(CommError) in
            try validate(buffer.count, sourceStorage, "buffer", call)
            try begin(source: UnsafePointer(buffer.baseAddress), destination: buffer.baseAddress, inPlace: true)
        }
        return PendingRedistribution(redistribution: self, destination: buffer.baseAddress)
    }

    func start<T: MPIScalar>(
        from source: UnsafeBufferPointer<T>, into destination: UnsafeMutableBufferPointer<T>, call: String
    ) -> PendingRedistribution<T> {
        if let s = source.baseAddress, let d = destination.baseAddress, !source.isEmpty, !destination.isEmpty {
            let sourceBytes = UnsafeRawPointer(s)..<UnsafeRawPointer(s + source.count)
            let destinationBytes = UnsafeRawPointer(d)..<UnsafeRawPointer(d + destination.count)
            precondition(
                !sourceBytes.overlaps(destinationBytes),
                "redistribution source and destination buffers overlap; execute in place instead")
        }
        orAbort { () throws(CommError) in
            try validate(source.count, sourceStorage, "source buffer", call)
            try validate(destination.count, targetStorage, "destination buffer", call)
            try begin(source: source.baseAddress, destination: destination.baseAddress, inPlace: false)
        }
        return PendingRedistribution(redistribution: self, destination: destination.baseAddress)
    }

    /// Posts every receive (before any send, so that a message finds its buffer), packs
    /// and posts every send, and copies the local part while the messages travel.
    func begin<T: MPIScalar>(source: UnsafePointer<T>?, destination: UnsafeMutablePointer<T>?, inPlace: Bool)
        throws(CommError)
    {
        precondition(!inFlight, "redistribution started again before its exchange was finished")
        let (sendScratch, receiveScratch) = scratch(for: T.self)
        let bytes = MemoryLayout<T>.stride
        for message in program.receives {
            let start: UnsafeMutablePointer<T>? =
                if program.receivesInPlace(message), let offset = message.contiguousOffset {
                    destination.map { $0 + offset }
                } else {
                    receiveScratch.map { $0 + message.offset }
                }
            try communicator.irecv(
                UnsafeMutableRawBufferPointer(start: start, count: message.count * bytes),
                from: message.peer, tag: tag, requests: requests)
        }
        if let source {
            for message in program.sends {
                let start: UnsafePointer<T>?
                if let offset = message.contiguousOffset {
                    start = source + offset
                } else {
                    guard let sendScratch else {
                        preconditionFailure("no send scratch for \(program.sendCount) elements")
                    }
                    program.pack(message, from: source, into: sendScratch)
                    start = UnsafePointer(sendScratch + message.offset)
                }
                try communicator.isend(
                    UnsafeRawBufferPointer(start: start, count: message.count * bytes),
                    to: message.peer, tag: tag, requests: requests)
            }
        }
        if !inPlace, let source, let destination {
            program.copyLocal(from: source, into: destination)
        }
        inFlight = true
    }

    /// Waits for the messages of the exchange in flight and unpacks those that landed in
    /// scratch.
    func complete<T: MPIScalar>(into destination: UnsafeMutablePointer<T>?) throws(CommError) {
        precondition(inFlight, "finishing a redistribution that was not started")
        inFlight = false
        let receiveScratch = scratch(for: T.self).receive
        let receiveCount = program.receives.count
        func unpack(_ index: Int) {
            guard index < receiveCount, let receiveScratch, let destination else { return }
            let message = program.receives[index]
            if program.receivesInPlace(message) { return }
            program.unpack(message, from: receiveScratch, into: destination)
        }
        if plan.mode == .accumulate {
            // Sums are added in a fixed order (the rank's own part first, then peers by
            // rank), not as messages arrive: float addition is not associative, and the
            // same run must give the same bits.
            try communicator.waitAll(requests)
            for index in 0..<receiveCount { unpack(index) }
            return
        }
        // Unpack each message as it arrives (receives were posted first, so their
        // requests come first), overlapping unpacking with the messages still in flight.
        while let index = try communicator.waitAny(requests) { unpack(index) }
    }
}
