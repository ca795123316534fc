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
/// Open MPI moves a large message only inside MPI calls (see `Communicator.progress`):
/// call `progress()` now and then while computing (every few tens of microseconds of
/// work, e.g. between row blocks), so that the messages have arrived by `finish`.
///
/// Not copyable, so that it is finished once. Dropping it unfinished finishes it (waits).
/// Both buffers must stay valid until then.
public struct PendingRedistribution<T: MPIScalar>: ~Copyable {
    let redistribution: Redistribution
    let destination: UnsafeMutablePointer<T>?

    /// Lets MPI move this exchange's messages along without waiting (see
    /// `Communicator.progress`); the messages that arrive are unpacked by `finish`.
    /// Aborts the job, with one line naming the rank and the call, when MPI fails.
    public func progress() {
        let redistribution = redistribution
        redistribution.orAbort { () throws(CommError) in
            try redistribution.communicator.progress(tag: redistribution.tag)
        }
    }

    /// Waits for every message and unpacks it into the destination: in copy mode each
    /// message as it arrives; in accumulate mode added in ascending peer rank after the
    /// rank's own part (each as soon as it and every earlier one have arrived), so that the
    /// same run gives the same bits whether or not the caller computed in between.
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
