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


#: Multiply-adds per operation below which :func:`few_threads` takes one thread. Measured by
#: ``hopdyn bench --only threads_crossover`` (network steps, N_V = 512, N_H = 250, 2 cores): on a
#: quiet machine two threads were 1.0–1.2× faster up to 8M, 1.3–1.4× at 33M and 1.7–2× at 131M;
#: with one core busy elsewhere two threads were 1.3–5.8× slower up to 8M, 1.3–1.4× slower at
#: 33M and even or 1.3× slower at 131M. One thread is the robust choice up to about 33M.
THREADS_THRESHOLD = 1 << 25


def few_threads(work: int, threshold: int = THREADS_THRESHOLD):
    """:func:`torch_threads` sized by the work per operation: one thread below ``threshold``
    multiply-adds per op (see :data:`THREADS_THRESHOLD`), where a second thread gains little
    on a quiet machine and loses up to several-fold on a loaded one (300 SFNN steps on digits:
    0.8 s against 20 s), the user's setting above it."""
    return torch_threads(1 if work < threshold else None)
