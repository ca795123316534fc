/// The two halves of a data set the trainer reads: one to train on, one to evaluate.
public struct DataSplit: Sendable {
    public var train: any ImageDataset
    public var test: any ImageDataset

    public init(train: any ImageDataset, test: any ImageDataset) {
        self.train = train
        self.test = test
    }
}
