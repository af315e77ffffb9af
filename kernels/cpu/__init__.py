"""Numba CPU kernels: one module per kernel family."""

