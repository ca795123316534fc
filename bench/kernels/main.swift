// Kernel benchmark (issue 5): arrives with the convolution kernels.
print("bench-kernels: not built yet")
