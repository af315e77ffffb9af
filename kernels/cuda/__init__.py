"""numba.cuda kernels and their host launchers; imported only for CUDA arrays or the simulator."""

