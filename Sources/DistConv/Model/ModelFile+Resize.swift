extension ModelFile {
    /// The same network for another batch size, image size or number of classes: the data
    /// op's shape and classes, and the out_features of the linear layer that feeds a loss.
    /// Everything else is re-inferred when the result is checked (`Model(file:source:)`).
    public func resized(batch: Int? = nil, imageSize: Int? = nil, classes: Int? = nil) -> ModelFile {
        var file = self
        guard let d = file.ops.firstIndex(where: { $0.type == "data" }) else { return file }
        if var shape = file.ops[d].shape, shape.count == 4 {
            if let batch { shape[0] = batch }
            if let imageSize { shape[2] = imageSize; shape[3] = imageSize }
            file.ops[d].shape = shape
        }
        guard let classes else { return file }
        file.ops[d].classes = classes
        for (i, op) in file.ops.enumerated() where op.type == "softmax_cross_entropy" || op.type == "multiclass_svm" {
            let source = op.input.flatMap { name in file.ops.firstIndex { $0.name == name } } ?? (i - 1)
            if source >= 0, file.ops[source].type == "linear" { file.ops[source].outFeatures = classes }
        }
        return file
    }

    /// True when every op's grid spans exactly `ranks` ranks (or none is written).
    public func gridsSpan(ranks: Int) -> Bool {
        let grids = ops.compactMap(\.grid)
        return !grids.isEmpty && grids.allSatisfy { $0.reduce(1, *) == ranks }
    }
}
