import Geometry

extension Redistribution {
    /// Exchanges in place: `buffer` stores `sourceStorage` (equal to `targetStorage`),
    /// row-major; what this rank writes is read from it and what it reads is written into
    /// it. The rank's own part stays where it is (in accumulate mode it counts as this
    /// rank's contribution, once). The same as `start(buffer).finish()`.
    ///
    /// Aborts the job, with one line naming the rank and the call, when the buffer's
    /// count is not the storage's volume or an MPI call fails.
    ///
    /// - Precondition: `sourceStorage == targetStorage`; no exchange of this
    ///   redistribution is in flight.
    public func execute<T: MPIScalar>(_ buffer: UnsafeMutableBufferPointer<T>) {
        start(buffer, call: "Redistribution.execute").finish()
    }

    /// Exchanges from `source` (storing `sourceStorage`) into `destination` (storing
    /// `targetStorage`). Elements of the destination outside what this rank reads are left
    /// alone; in accumulate mode every contribution is added to what is there, so zero
    /// the destination first for a plain sum. The same as
    /// `start(from: source, into: destination).finish()`.
    ///
    /// - Precondition: the buffers do not overlap; no exchange of this redistribution is
    ///   in flight.
    public func execute<T: MPIScalar>(
        from source: UnsafeBufferPointer<T>, into destination: UnsafeMutableBufferPointer<T>
    ) {
        start(from: source, into: destination, call: "Redistribution.execute").finish()
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

    func validate(_ count: Int, _ storage: Rect, _ what: String, _ call: String) throws(CommError) {
        guard count == storage.volume else {
            throw CommError.invalidArgument(
                call: call, rank: communicator.rank,
                reason: "\(what) holds \(count) elements but its storage rect \(storage) has \(storage.volume)")
        }
    }

    /// Runs `body`; on an error ends the job with one line naming the rank and the call.
    func orAbort(_ body: () throws(CommError) -> Void) {
        do {
            try body()
        } catch {
            communicator.abort(error)
        }
    }
}
