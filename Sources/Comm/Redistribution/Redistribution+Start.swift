import Geometry

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

    /// Posts every receive (before any send, so that a message finds its buffer), then the
    /// sends that need no packing (straight from the buffer: one contiguous run, or a
    /// message of several runs, one MPI message each), then packs and posts the rest, so
    /// that packing overlaps the transfer of what went first; copies the local part while
    /// the messages travel.
    func begin<T: MPIScalar>(source: UnsafePointer<T>?, destination: UnsafeMutablePointer<T>?, inPlace: Bool)
        throws(CommError)
    {
        precondition(!inFlight, "redistribution started again before its exchange was finished")
        let (sendScratch, receiveScratch) = scratch(for: T.self)
        let bytes = MemoryLayout<T>.stride
        for message in program.receives {
            let inBuffer = program.receivesInPlace(message)
            if let runs = message.runs {
                for run in runs {
                    let start: UnsafeMutablePointer<T>? =
                        inBuffer
                        ? destination.map { $0 + run.offset }
                        : receiveScratch.map { $0 + message.offset + run.position }
                    try communicator.irecv(
                        UnsafeMutableRawBufferPointer(start: start, count: run.count * bytes),
                        from: message.peer, tag: tag, requests: requests)
                }
                continue
            }
            let start: UnsafeMutablePointer<T>? =
                if inBuffer, let offset = message.contiguousOffset {
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
                if let runs = message.runs {
                    for run in runs {
                        try communicator.isend(
                            UnsafeRawBufferPointer(start: source + run.offset, count: run.count * bytes),
                            to: message.peer, tag: tag, requests: requests)
                    }
                } else if let offset = message.contiguousOffset {
                    try communicator.isend(
                        UnsafeRawBufferPointer(start: source + offset, count: message.count * bytes),
                        to: message.peer, tag: tag, requests: requests)
                }
            }
            for message in program.sends where message.runs == nil && message.contiguousOffset == nil {
                guard let sendScratch else {
                    preconditionFailure("no send scratch for \(program.sendCount) elements")
                }
                program.pack(message, from: source, into: sendScratch)
                try communicator.isend(
                    UnsafeRawBufferPointer(start: sendScratch + message.offset, count: message.count * bytes),
                    to: message.peer, tag: tag, requests: requests)
            }
        }
        if !inPlace, let source, let destination {
            program.copyLocal(from: source, into: destination)
        }
        // A peer that started first has sent its announcements by now: read its messages
        // before returning, rather than at the caller's first MPI call.
        if !program.receives.isEmpty { try communicator.progress(tag: tag) }
        inFlight = true
    }

    /// Waits for the messages of the exchange in flight and unpacks those that landed in
    /// scratch (a message of several runs once all of them are in).
    func complete<T: MPIScalar>(into destination: UnsafeMutablePointer<T>?) throws(CommError) {
        precondition(inFlight, "finishing a redistribution that was not started")
        inFlight = false
        let receiveScratch = scratch(for: T.self).receive
        let receiveCount = program.receives.count
        let receiveRequests = receiveRequestMessage.count
        for (k, message) in program.receives.enumerated() { partsLeft[k] = program.parts(message) }
        func unpack(_ index: Int) {
            guard let receiveScratch, let destination else { return }
            let message = program.receives[index]
            if program.receivesInPlace(message) { return }
            program.unpack(message, from: receiveScratch, into: destination)
        }
        /// The receive message whose last part request `index` was, if it was one.
        func completed(_ index: Int) -> Int? {
            guard index < receiveRequests else { return nil }
            let k = receiveRequestMessage[index]
            partsLeft[k] -= 1
            return partsLeft[k] == 0 ? k : nil
        }
        if plan.mode == .accumulate {
            // Sums are added in a fixed order (the rank's own part first, then peers by
            // rank), not in the order messages arrive: float addition is not associative,
            // and the same run must give the same bits. Each message is added as soon as
            // it and every message before it have arrived.
            arrived.update(repeating: false)
            var next = 0
            while let index = try communicator.waitAny(requests) {
                if let k = completed(index) { arrived[k] = true }
                while next < receiveCount && arrived[next] {
                    unpack(next)
                    next += 1
                }
            }
            precondition(next == receiveCount, "\(receiveCount - next) of \(receiveCount) receives never completed")
            return
        }
        // Unpack each message as it arrives (receives were posted first, so their
        // requests come first), overlapping unpacking with the messages still in flight.
        while let index = try communicator.waitAny(requests) {
            if let k = completed(index) { unpack(k) }
        }
    }
}
