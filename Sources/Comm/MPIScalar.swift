import CMPI

/// Element types that collectives and redistributions move: `Float`, `Double`, `Int`.
///
/// Besides the MPI datatype, a scalar knows how to add strided rows of itself, the one
/// piece of arithmetic the accumulate mode of a `Redistribution` needs. The loop lives in
/// the conformance so that it is compiled for the concrete type (a generic loop called
/// across modules would dispatch every addition through a witness table).
public protocol MPIScalar: BitwiseCopyable {
    /// The MPI datatype of one element.
    static var mpiDatatype: MPI_Datatype { get }

    /// `destination[i * destinationStride + j] += source[i * sourceStride + j]` for
    /// `i < rows`, `j < length`; strides and lengths count elements. Zero rows or zero
    /// length does nothing.
    static func addRows(
        _ destination: UnsafeMutablePointer<Self>, destinationStride: Int,
        _ source: UnsafePointer<Self>, sourceStride: Int, rows: Int, length: Int)
}

extension Float: MPIScalar {
    public static var mpiDatatype: MPI_Datatype { cmpi_float() }
    public static func addRows(
        _ destination: UnsafeMutablePointer<Float>, destinationStride: Int,
        _ source: UnsafePointer<Float>, sourceStride: Int, rows: Int, length: Int
    ) {
        addStridedRows(destination, destinationStride, source, sourceStride, rows, length)
    }
}

extension Double: MPIScalar {
    public static var mpiDatatype: MPI_Datatype { cmpi_double() }
    public static func addRows(
        _ destination: UnsafeMutablePointer<Double>, destinationStride: Int,
        _ source: UnsafePointer<Double>, sourceStride: Int, rows: Int, length: Int
    ) {
        addStridedRows(destination, destinationStride, source, sourceStride, rows, length)
    }
}

extension Int: MPIScalar {
    public static var mpiDatatype: MPI_Datatype { cmpi_int64() }
    public static func addRows(
        _ destination: UnsafeMutablePointer<Int>, destinationStride: Int,
        _ source: UnsafePointer<Int>, sourceStride: Int, rows: Int, length: Int
    ) {
        addStridedRows(destination, destinationStride, source, sourceStride, rows, length)
    }
}

// Specialised at each call above; the inner loop is contiguous and vectorises.
@inline(__always)
private func addStridedRows<T: AdditiveArithmetic>(
    _ destination: UnsafeMutablePointer<T>, _ destinationStride: Int,
    _ source: UnsafePointer<T>, _ sourceStride: Int, _ rows: Int, _ length: Int
) {
    for i in 0..<rows {
        let d = destination + i * destinationStride
        let s = source + i * sourceStride
        for j in 0..<length { d[j] += s[j] }
    }
}
