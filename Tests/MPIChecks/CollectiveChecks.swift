import Comm

/// Broadcast, allgather and allreduce for Float, Double and Int, and a ring of
/// non-blocking sends and receives.
func checkCollectives(_ comm: Communicator, _ args: [String]) throws -> [String] {
    var failures: [String] = []
    let (rank, size) = (comm.rank, comm.size)
    let root = size - 1
    failures += try collectives(comm, Float.self, root: root)
    failures += try collectives(comm, Double.self, root: root)
    failures += try collectives(comm, Int.self, root: root)

    // Ring: send 3 + rank values to the right, receive from the left.
    let right = (rank + 1) % size, left = (rank + size - 1) % size
    let outgoing = (0..<(3 + rank)).map { Float(rank * 100 + $0) }
    var incoming = [Float](repeating: -1, count: 3 + left)
    let requests = RequestSet(capacity: 1)
    try outgoing.withUnsafeBufferPointer { out in
        try incoming.withUnsafeMutableBufferPointer { inc in
            try comm.irecv(inc, from: left, tag: 9, requests: requests)
            try comm.isend(out, to: right, tag: 9, requests: requests)
            if requests.count != 2 { failures.append("request set holds \(requests.count), expected 2") }
            try comm.waitAll(requests)
        }
    }
    let expected = (0..<(3 + left)).map { Float(left * 100 + $0) }
    if incoming != expected { failures.append("ring from \(left): \(incoming), expected \(expected)") }
    if requests.count != 0 { failures.append("request set not emptied by waitAll") }

    // The same ring completed one request at a time: each index comes back once.
    var again = [Float](repeating: -1, count: 3 + left)
    var completed: [Int] = []
    try outgoing.withUnsafeBufferPointer { out in
        try again.withUnsafeMutableBufferPointer { inc in
            try comm.irecv(inc, from: left, tag: 10, requests: requests)
            try comm.isend(out, to: right, tag: 10, requests: requests)
            while let index = try comm.waitAny(requests) { completed.append(index) }
        }
    }
    if completed.sorted() != [0, 1] { failures.append("waitAny returned \(completed), expected 0 and 1 once each") }
    if again != expected { failures.append("waitAny ring from \(left): \(again), expected \(expected)") }
    if requests.count != 0 { failures.append("request set not emptied after waitAny") }
    return failures
}

private func collectives<T: CheckScalar & Comparable>(_ comm: Communicator, _: T.Type, root: Int) throws -> [String] {
    var failures: [String] = []
    let (rank, size) = (comm.rank, comm.size)
    var values = (0..<5).map { T(checkValue: Double(rank * 10 + $0)) }
    try comm.broadcast(&values, root: root)
    let fromRoot = (0..<5).map { T(checkValue: Double(root * 10 + $0)) }
    if values != fromRoot { failures.append("\(T.self) broadcast: \(values), expected \(fromRoot)") }
    let one = try comm.broadcast(T(checkValue: Double(rank + 1)), root: 0)
    if one != T(checkValue: 1) { failures.append("\(T.self) scalar broadcast: \(one)") }

    let gathered = try comm.allgather([T(checkValue: Double(rank)), T(checkValue: Double(2 * rank))])
    let allExpected = (0..<size).flatMap { [T(checkValue: Double($0)), T(checkValue: Double(2 * $0))] }
    if gathered != allExpected { failures.append("\(T.self) allgather: \(gathered), expected \(allExpected)") }
    if try comm.allgather([T]()) != [] { failures.append("\(T.self) empty allgather not empty") }

    let sum = try comm.allreduce(T(checkValue: Double(rank + 1)), .sum)
    if sum != T(checkValue: Double(size * (size + 1) / 2)) { failures.append("\(T.self) allreduce sum: \(sum)") }
    var maxima = [T(checkValue: Double(rank)), T(checkValue: Double(-rank))]
    try comm.allreduce(&maxima, .max)
    if maxima != [T(checkValue: Double(size - 1)), T(checkValue: 0)] {
        failures.append("\(T.self) allreduce max: \(maxima)")
    }
    return failures
}
