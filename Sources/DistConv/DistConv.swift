// Local math on buffers: im2col, convolution, pooling, ... (DESIGN.md §4).
