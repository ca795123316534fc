extension ModelFile {
    /// `distconv train`'s model when none is given: `examples/fashion-cnn.json`, built in
    /// so the tool trains from any directory (a test checks the two are the same).
    public static let defaultModelName = "examples/fashion-cnn.json"
    public static let defaultModelJSON = """
        {
          "format": "distconv-model",
          "version": 1,
          "name": "fashion-cnn",
          "ops": [
            {"name": "data", "type": "data", "shape": [64, 1, 28, 28], "classes": 10, "grid": [1, 1, 2, 2]},
            {"name": "conv1", "type": "conv2d", "out_channels": 16, "kernel": [3, 3], "padding": [1, 1]},
            {"name": "relu1", "type": "relu"},
            {"name": "pool1", "type": "max_pool", "kernel": [2, 2], "stride": [2, 2]},
            {"name": "conv2", "type": "conv2d", "out_channels": 32, "kernel": [3, 3], "padding": [1, 1]},
            {"name": "relu2", "type": "relu"},
            {"name": "pool2", "type": "max_pool", "kernel": [2, 2], "stride": [2, 2]},
            {"name": "fc", "type": "linear", "out_features": 10},
            {"name": "loss", "type": "softmax_cross_entropy", "grid": [4, 1, 1, 1]},
            {"name": "evaluate", "type": "evaluate", "input": "loss.probability"}
          ]
        }

        """
}
