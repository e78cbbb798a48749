"""Torch intra-op threads for small-tensor work.

hopdyn's analyses often loop over tensors of a few thousand entries. There, waking torch's OpenMP
pool costs more than a second thread saves, and on a loaded machine two threads measured 5–300×
slower than one (training steps, small ODE solves, figure recipes). Such loops run under
:func:`torch_threads`; the user's setting is restored afterwards.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ._validate import positive_int


@contextmanager
def torch_threads(n: int | None = 1) -> Iterator[None]:
    """Run a block (or, as a decorator, a function) with ``n`` torch threads (``None``: as is)."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(positive_int(n, "num_threads"))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def few_threads(work: int, threshold: int = 1 << 26):
    """:func:`torch_threads` sized by the work per operation: one thread below ``threshold``
    multiply-adds per op (default ~64M), where waking the OpenMP pool costs more than it saves and,
    on a loaded machine, two threads measured 20–25× slower (300 SFNN steps on digits: 0.8 s
    against 20 s; one epoch on 50 000 × 512 features with N_H = 250: 11 s against 240 s); the
    user's setting above it."""
    return torch_threads(1 if work < threshold else None)
