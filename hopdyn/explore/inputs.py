"""The memories the explorer starts on: the built-in planar network, or the user's ``xi`` from a
``.npy``, ``.npz`` or ``.pt`` file (on the command line or uploaded in the page).

Every check raises ``ValueError`` (``FileNotFoundError`` for a missing file) with one line that
names the file, so that ``hopdyn explore`` exits 2 with it and the page shows it.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from .._validate import as_tensor
from ..cli._common import load_xi

__all__ = ["builtin_memories", "check_memories", "load_memories", "read_upload"]

SUFFIXES = (".npy", ".npz", ".pt", ".pth")


def builtin_memories() -> torch.Tensor:
    """The planar network of the RecLag paper's figures (5 memories in 2-D)."""
    from ..figures.paper import planar_memories

    return planar_memories().to(torch.float64)


def check_memories(xi: torch.Tensor, name: str) -> torch.Tensor:
    """``xi`` as float64 ``(N_H, N_V)`` with N_V ≥ 2 (a plane to draw), finite, not all zero, and
    at least 2 memories when N_V > 2 (the default plane runs through two of them)."""
    xi = as_tensor(xi, name, min_dim=2).to(torch.float64)
    if xi.dim() != 2:
        raise ValueError(f"{name}: xi must have shape (N_H, N_V), one memory per row; got shape {tuple(xi.shape)}")
    n_h, n_v = xi.shape
    if n_v < 2:
        raise ValueError(f"{name}: the explorer draws a plane of feature space, so N_V must be >= 2; got shape {tuple(xi.shape)}")
    if n_v > 2 and n_h < 2:
        raise ValueError(f"{name}: with N_V = {n_v} > 2 the plane needs at least 2 memories; got {n_h}")
    if not bool(xi.any()):
        raise ValueError(f"{name}: xi is all zeros: an all-zero interaction matrix has no memories")
    return xi


def load_memories(path: str | Path) -> torch.Tensor:
    """The memories in ``path`` (``.npy``, ``.npz`` or ``.pt``, through the command line's own
    reader :func:`hopdyn.cli._common.load_xi`), checked with :func:`check_memories`."""
    p = Path(path)
    if p.suffix not in SUFFIXES:
        raise ValueError(f"--xi: expected a .npy, .npz or .pt file, got {path}")
    return check_memories(load_xi(str(p)), f"--xi {p.name}")


def read_upload(filename: str, content: bytes) -> torch.Tensor:
    """The memories of a file the user uploaded in the page (same formats and checks)."""
    suffix = Path(filename or "").suffix
    if suffix not in SUFFIXES:
        raise ValueError(f"{filename}: expected a .npy, .npz or .pt file")
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"upload{suffix}"
        p.write_bytes(content)
        try:
            return load_memories(p)
        except ValueError as exc:  # name the user's file, not the temporary copy
            raise ValueError(str(exc).replace(str(p), filename).replace(p.name, filename)) from None

