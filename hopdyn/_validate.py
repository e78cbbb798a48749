"""Input checks shared by the public API.

Every public function turns arrays into tensors here, so that bad input fails with a
``ValueError`` that names the argument, before it can reach torch.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

ArrayLike = Any  # numpy array, torch tensor, or nested sequence of numbers


def as_tensor(
    x: ArrayLike,
    name: str,
    *,
    like: torch.Tensor | None = None,
    min_dim: int = 1,
    last_dim: int | None = None,
    allow_empty: bool = False,
    finite: bool = True,
) -> torch.Tensor:
    """Return ``x`` as a floating tensor, checking shape and values.

    Floating inputs keep their dtype and device; integer inputs take the dtype and device
    of ``like`` (or torch's default float type). Half precision (float16, bfloat16 and
    smaller) is refused: the ODE solver asserts on it and the dynamics overflow to NaN.
    """
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be an array of numbers, got {type(x).__name__}") from exc
    if t.is_floating_point() and t.element_size() < 4:
        raise ValueError(f"{name} has dtype {t.dtype}: float16/bfloat16 are not supported: use float32 or float64")
    if not (t.is_floating_point() or t.dtype in (torch.bool, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise ValueError(f"{name} must hold real numbers, got dtype {t.dtype}")
    if not t.is_floating_point():
        t = t.to(dtype=like.dtype if like is not None else torch.get_default_dtype(),
                 device=like.device if like is not None else t.device)
    if t.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimension(s), got shape {tuple(t.shape)}")
    if last_dim is not None and t.shape[-1] != last_dim:
        raise ValueError(
            f"{name} must have last dimension {last_dim} (the number of neurons), got shape {tuple(t.shape)}"
        )
    if not allow_empty and t.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)}); expected at least one sample")
    if finite and t.numel():
        # min and max are finite iff every entry is (NaN propagates); one fast reduction pass,
        # where isfinite(t).all() would cost a sixth of a network step on large batches
        lo, hi = t.aminmax()
        if not (bool(torch.isfinite(lo)) and bool(torch.isfinite(hi))):
            raise ValueError(f"{name} contains NaN or inf; expected finite numbers")
    return t


def positive(value: float, name: str) -> float:
    """Check a scalar parameter is a finite number > 0 and return it as a float."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number > 0, got {value!r}") from exc
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def positive_int(value: int, name: str, minimum: int = 1) -> int:
    """Check an integer parameter is at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def interval(lo: float, hi: float, name: str) -> tuple[float, float]:
    """Check ``(lo, hi)`` is a finite interval with ``lo < hi`` and return it as floats."""
    try:
        a, b = float(lo), float(hi)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be two numbers lo < hi, got ({lo!r}, {hi!r})") from exc
    if not (math.isfinite(a) and math.isfinite(b)) or a >= b:
        raise ValueError(f"{name} must be finite with lo < hi, got ({lo!r}, {hi!r})")
    return a, b
