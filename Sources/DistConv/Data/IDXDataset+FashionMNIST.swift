#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension IDXDataset {
    /// Mean of Fashion-MNIST's training pixels scaled to [0, 1].
    public static let fashionMNISTMean = 0.2860
    /// Standard deviation of Fashion-MNIST's training pixels scaled to [0, 1].
    public static let fashionMNISTStd = 0.3530
    /// Where Debian's package `dataset-fashion-mnist` installs the files.
    public static let fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"

    /// Fashion-MNIST from `directory`: `train-images-idx3-ubyte.gz`,
    /// `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz` and
    /// `t10k-labels-idx1-ubyte.gz`, each also accepted without `.gz`. 60000 training and
    /// 10000 test images of 28x28, 10 classes.
    public static func fashionMNIST(directory: String) throws(DataError) -> DataSplit {
        func open(_ part: String, _ prefix: String) throws(DataError) -> IDXDataset {
            try IDXDataset(
                images: try find("\(prefix)-images-idx3-ubyte", in: directory),
                labels: try find("\(prefix)-labels-idx1-ubyte", in: directory),
                name: "fashion-mnist \(part) (\(directory))")
        }
        return DataSplit(train: try open("train", "train"), test: try open("test", "t10k"))
    }

    /// `directory/stem.gz`, else `directory/stem`.
    private static func find(_ stem: String, in directory: String) throws(DataError) -> String {
        let base = directory.hasSuffix("/") ? directory + stem : directory + "/" + stem
        for path in [base + ".gz", base] where access(path, F_OK) == 0 { return path }
        throw DataError(file: base + ".gz", field: "file", "no such file (nor \(stem) without .gz)")
    }
}
