"""CUDA kernels under Numba's CUDA simulator; collected only with NUMBA_ENABLE_CUDASIM=1."""
