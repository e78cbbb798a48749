"""Row-wise reductions on ``(B, D)`` tensors that torch's generic kernels make slow."""
from __future__ import annotations

import torch


def rowdot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise dot product of two ``(B, D)`` tensors, as a matrix-vector product (torch's sum
    over a short last dimension is several times slower). Operands laid out differently (one
    transposed, as a short softmax returns it) are made row-major first: the elementwise product
    of mismatched layouts crawls (10 000 × 5 float64: 750 µs against 20 µs)."""
    if a.stride() != b.stride():
        a, b = a.contiguous(), b.contiguous()
    return (a * b) @ torch.ones(a.shape[-1], dtype=a.dtype, device=a.device)
