extension Communicator {
    /// Ends the whole job after a failed call: prints `distconv: error: <error>` as one line on
    /// stderr (a `CommError` names the rank and the call) and aborts with
    /// `Redistribution.abortCode`.
    public func abort(_ error: any Error) -> Never {
        var text = "\(error)"
        if !(error is CommError) { text = "rank \(rank): \(text)" }
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        abort(code: Redistribution.abortCode, message: "distconv: error: " + line)
    }
}
