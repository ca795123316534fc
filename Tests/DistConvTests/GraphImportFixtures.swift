import DistConv
import Foundation
import TestSupport

/// Graph dumps for the import and planning tests.
enum GraphFixtures {
    /// The VGG-19 dump shipped in examples/.
    static var vggPath: String { packageRoot.appendingPathComponent("examples/vgg19.graph").path }

    static func vgg(_ options: GraphImportOptions = .init()) throws -> ImportedGraph {
        try ImportedGraph.load(path: vggPath, options: options)
    }

    /// A five-op network, ops listed out of order as Chainer writes them: images
    /// [2, 1, 4, 4] -> conv 3x3 pad 1 to 2 channels -> ReLU -> Reshape [2, -1] ->
    /// linear to 3 classes -> softmax cross-entropy; plus the ReLU's backward op.
    static let tiny = """
        11 6
        0 128 0
        1 8 1
        2 72 /predictor/c/W
        3 8 /predictor/c/b
        4 256 _
        5 256 _
        6 256 _
        7 384 /predictor/fc/W
        8 12 /predictor/fc/b
        9 24 _
        10 4 _
        forward
        1 1
        5 _
        6
        Reshape
        {"shape": [2, -1], "rank": 2}
        forward
        3 1
        0 _
        2 _
        3 _
        4
        Convolution2DFunction
        {"sy": 1, "sx": 1, "ph": 1, "pw": 1, "cover_all": false, "rank": 0}
        forward
        2 1
        9 _
        1 _
        10
        SoftmaxCrossEntropy
        {"rank": 4}
        forward
        1 1
        4 _
        5
        ReLU
        {"rank": 1}
        forward
        3 1
        6 _
        7 _
        8 _
        9
        LinearFunction
        {"rank": 3}
        backward
        2 1
        5 gradient
        5 output
        4
        ReLU
        {"rank": 1}

        """

    /// `tiny` with line `number` (1-based) replaced.
    static func tiny(replacingLine number: Int, with text: String) -> String {
        var lines = tiny.components(separatedBy: "\n")
        lines[number - 1] = text
        return lines.joined(separator: "\n")
    }
}
