/// `[N, C, H, W]` viewed as `[N, C*H*W, 1, 1]` in C, H, W order (PyTorch's flatten). Its
/// grid splits only the batch, so a rank's input block holds whole images and the
/// element order of input and output is the same.
struct FlattenLayer: ShardLayer {
    func forward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) -> Double {
        io.y.update(fromContentsOf: io.x)
        return 0
    }

    func backward<T: RuntimeScalar>(_ io: LayerIO<T>, _ context: StepContext) {
        io.dx?.update(fromContentsOf: io.cdy)
    }
}
