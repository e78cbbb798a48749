"""Randomness and the statistics of sampled fractions: one home for seeded generators, the
samplers of initial states (box, ball, Gaussian), the Wilson interval of a fraction and bootstrap
intervals of means (paired, for comparing two policies on the same samples).

Randomness flows only through an explicit :class:`torch.Generator` (:func:`generator` makes one
from a seed and a stream name); nothing here touches torch's global stream.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ._validate import ArrayLike, as_tensor, positive, positive_int

__all__ = [
    "SAMPLERS", "Interval", "bootstrap_means", "generator", "paired_bootstrap", "sample", "sample_ball", "sample_box",
    "sample_gaussian", "wilson_interval",
]

#: The named samplers of :func:`sample`.
SAMPLERS = ("box", "ball", "gaussian")
Sampler = Literal["box", "ball", "gaussian"]


def generator(seed: int, stream: str) -> torch.Generator:
    """A torch generator for ``seed`` whose stream differs from ``manual_seed(seed)``: users
    often draw ``xi`` with ``torch.manual_seed(0)``, and sampling states from that very stream
    would start them exactly on the memories. Different ``stream`` names give independent streams."""
    mixed = np.random.SeedSequence([seed & 0xFFFFFFFF, *stream.encode()]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(mixed) & 0x7FFFFFFFFFFFFFFF)


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval (95 % by default) for a fraction ``k/n``; exact at 0 and n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _shift(x: torch.Tensor, center: torch.Tensor | None) -> torch.Tensor:
    return x if center is None else x + center.to(x)


def sample_box(
    n: int, dim: int, half_width: float, *, center: torch.Tensor | None = None,
    generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """``n`` points uniform in the box ``center ± half_width`` per coordinate, shape ``(n, dim)``."""
    return _shift(half_width * (2 * torch.rand(n, dim, generator=generator, dtype=dtype) - 1), center)


def sample_ball(
    n: int, dim: int, radius: float, *, center: torch.Tensor | None = None, generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """``n`` points uniform in the ball of ``radius`` in ``dim`` dimensions (Gaussian direction,
    radius ``R·U^{1/d}``)."""
    d = torch.randn(n, dim, generator=generator, dtype=dtype)
    d = d / d.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    r = radius * torch.rand(n, 1, generator=generator, dtype=dtype) ** (1.0 / dim)
    return _shift(d * r, center)


def sample_gaussian(
    n: int, dim: int, scale: float, *, center: torch.Tensor | None = None, generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """``n`` points from ``N(center, scale²·I)``."""
    return _shift(scale * torch.randn(n, dim, generator=generator, dtype=dtype), center)


def sample(
    kind: Sampler, n: int, dim: int, scale: float, *, center: torch.Tensor | None = None,
    generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """``n`` points from the sampler named ``kind`` (one of :data:`SAMPLERS`) with size ``scale``:
    the box's half width, the ball's radius or the Gaussian's standard deviation."""
    if kind not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(map(repr, SAMPLERS))}, got {kind!r}")
    draw = {"box": sample_box, "ball": sample_ball, "gaussian": sample_gaussian}[kind]
    return draw(positive_int(n, "n"), positive_int(dim, "dim"), positive(scale, "scale"), center=center,
                generator=generator, dtype=dtype)


# -- bootstrap intervals of means -----------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A mean with a bootstrap confidence interval ``[low, high]``."""

    mean: float
    low: float
    high: float


def paired_bootstrap(
    a: ArrayLike, b: ArrayLike, *, n_boot: int = 2000, level: float = 0.95, generator: torch.Generator | None = None
) -> tuple[Interval, Interval, Interval]:
    """Percentile bootstrap intervals for ``mean(a)``, ``mean(b)`` and ``mean(a − b)`` where
    ``a[i]`` and ``b[i]`` are paired (measured on the same draw ``i``): every resample draws the
    same indices for both, so the interval of the difference keeps their correlation."""
    a = as_tensor(a, "a")
    b = as_tensor(b, "b", like=a)
    if a.dim() != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D of equal length, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return tuple(bootstrap_means([a, b, a - b], n_boot=n_boot, level=level, generator=generator))


def bootstrap_means(
    samples: list[torch.Tensor], *, n_boot: int = 2000, level: float = 0.95, generator: torch.Generator | None = None
) -> list[Interval]:
    """Percentile bootstrap intervals for the means of equally long 1-D ``samples``, all resampled
    with the same indices (so they stay paired)."""
    n_boot = positive_int(n_boot, "n_boot")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    x = torch.stack([as_tensor(s, "samples") for s in samples])  # (n_series, n)
    if x.dim() != 2:
        raise ValueError(f"samples must be 1-D series of equal length, got shape {tuple(x.shape)}")
    idx = torch.randint(0, x.shape[1], (n_boot, x.shape[1]), generator=generator).to(x.device)
    qs = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=x.dtype, device=x.device)
    lo, hi = torch.quantile(x[:, idx].mean(-1), qs, dim=1)  # resampled means: (n_series, n_boot)
    return [Interval(float(m), float(a), float(b)) for m, a, b in zip(x.mean(1), lo, hi)]
