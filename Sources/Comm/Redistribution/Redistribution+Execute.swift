import Geometry

extension Redistribution {
    /// Exchanges in place: `buffer` stores `sourceStorage` (equal to `targetStorage`),
    /// row-major; what this rank writes is read from it and what it reads is written into
    /// it. The rank's own part stays where it is (in accumulate mode it counts as this
    /// rank's contribution, once).
    ///
    /// Aborts the job, with one line naming the rank and the call, when the buffer's
    /// count is not the storage's volume or an MPI call fails.
    ///
    /// - Precondition: `sourceStorage == targetStorage`.
    public func execute<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>) {
        precondition(
            sourceStorage == targetStorage,
            "in-place redistribution with source storage \(sourceStorage) and target \(targetStorage)")
        orAbort { () throws(CommError) in
            try validate(buffer.count, sourceStorage, "buffer")
            try run(source: UnsafePointer(buffer.baseAddress), destination: buffer.baseAddress, inPlace: true)
        }
    }

    /// Exchanges from `source` (storing `sourceStorage`) into `destination` (storing
    /// `targetStorage`). Elements of the destination outside what this rank reads are left
    /// alone; in accumulate mode every contribution is added to what is there, so zero
    /// the destination first for a plain sum.
    ///
    /// - Precondition: the buffers do not overlap.
    public func execute<T: MPIScalar>(
        from source: UnsafeBufferPointer<T>, into destination: UnsafeMutableBufferPointer<T>
    ) {
        if let s = source.baseAddress, let d = destination.baseAddress, !source.isEmpty, !destination.isEmpty {
            let sourceBytes = UnsafeRawPointer(s)..<UnsafeRawPointer(s + source.count)
            let destinationBytes = UnsafeRawPointer(d)..<UnsafeRawPointer(d + destination.count)
            precondition(
                !sourceBytes.overlaps(destinationBytes),
                "redistribution source and destination buffers overlap; execute in place instead")
        }
        orAbort { () throws(CommError) in
            try validate(source.count, sourceStorage, "source buffer")
            try validate(destination.count, targetStorage, "destination buffer")
            try run(source: source.baseAddress, destination: destination.baseAddress, inPlace: false)
        }
    }

    /// In place on an array storing `sourceStorage`.
    public func execute<T: MPIScalar>(_ values: inout [T]) {
        values.withUnsafeMutableBufferPointer { execute($0) }
    }

    /// From an array storing `sourceStorage` into one storing `targetStorage`.
    public func execute<T: MPIScalar>(from source: [T], into destination: inout [T]) {
        source.withUnsafeBufferPointer { s in
            destination.withUnsafeMutableBufferPointer { d in execute(from: s, into: d) }
        }
    }

    /// Posts every receive, packs and posts every send, copies the local part while the
    /// messages travel, then waits, unpacking each message that landed in scratch as it
    /// arrives.
    func run<T: MPIScalar>(source: UnsafePointer<T>?, destination: UnsafeMutablePointer<T>?, inPlace: Bool)
        throws(CommError)
    {
        let (sendScratch, receiveScratch) = scratch(for: T.self)
        let receiveTypes = try receiveDatatypes(for: T.self)
        let bytes = MemoryLayout<T>.stride
        for (i, message) in program.receives.enumerated() {
            // Receive i starts at offset + i in scratch: one spare element per message.
            let start: UnsafeMutablePointer<T>? =
                switch receiveTypes.placements[i] {
                case .inPlace: destination
                case .scratch: receiveScratch.map { $0 + message.offset + i }
                }
            try communicator.irecv(
                start, datatype: receiveTypes.types[i], from: message.peer, tag: tag, requests: requests)
        }
        if let sendScratch, let source {
            for message in program.sends {
                program.pack(message, from: source, into: sendScratch)
                let buffer = UnsafeRawBufferPointer(start: sendScratch + message.offset, count: message.count * bytes)
                try communicator.isend(buffer, to: message.peer, tag: tag, requests: requests)
            }
        }
        if !inPlace, let source, let destination {
            program.copyLocal(from: source, into: destination)
        }
        let receiveCount = program.receives.count
        func unpack(_ index: Int) {
            guard index < receiveCount, case .scratch = receiveTypes.placements[index], let receiveScratch,
                let destination
            else { return }
            let message = program.receives[index]
            let base = receiveScratch + index
            // The last element arrived one slot further on (see `ReceiveDatatypes`).
            base[message.offset + message.count - 1] = base[message.offset + message.count]
            program.unpack(message, from: base, into: destination)
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

    private func validate(_ count: Int, _ storage: Rect, _ what: String) throws(CommError) {
        guard count == storage.volume else {
            throw CommError.invalidArgument(
                call: "Redistribution.execute", rank: communicator.rank,
                reason: "\(what) holds \(count) elements but its storage rect \(storage) has \(storage.volume)")
        }
    }

    /// Runs `body`; on an error ends the job with one line naming the rank and the call.
    private func orAbort(_ body: () throws(CommError) -> Void) {
        do {
            try body()
        } catch {
            communicator.abort(error)
        }
    }
}
