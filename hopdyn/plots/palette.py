"""Colours for attractors that scale to many memories and set apart the attractors that are not memories.

Memory ``μ`` always gets ``memory_colors(μ + 1)[μ]``: the sequence is prefix-stable (the first nine are
tab10 without its grey, then a deterministic glasbey-like walk that picks, one at a time, the sRGB colour
farthest in CIELAB from every colour chosen so far and from the reserved greys, black and white), so a
memory keeps its colour across panels, figures, β and γ, for any number of memories.

Attractors that are not memories are drawn in greys, never in a hue: the origin (RecLag's attractor of
Theorem 1) light grey :data:`ORIGIN`, any other (spurious / mixture) attractor one of the dark greys of
:data:`OTHER` and, where a fill can carry it, the hatch :data:`OTHER_HATCH`. White (:data:`UNCONVERGED`)
is a state that did not converge, black a basin boundary. Everything is plain hex strings, usable by
matplotlib and plotly alike.

>>> attractor_colors(["origin", "memory", "memory", "other"], [-1, 0, 7, -1])
['#d9d9d9', '#1f77b4', '#bcbd22', '#525252']
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

__all__ = [
    "ORIGIN",
    "OTHER",
    "OTHER_HATCH",
    "UNCONVERGED",
    "BOUNDARY",
    "attractor_colors",
    "attractor_hatches",
    "memory_colors",
]

#: The origin attractor's colour (light grey).
ORIGIN = "#d9d9d9"
#: Colours of attractors that are neither the origin nor a memory (spurious / mixture states): dark greys,
#: used in turn.
OTHER = ("#525252", "#8c8c8c", "#363636", "#a8a8a8")
#: Hatch of those attractors' basins in matplotlib fills.
OTHER_HATCH = "xx"
#: States that did not converge.
UNCONVERGED = "#ffffff"
#: Basin boundaries.
BOUNDARY = "#000000"

# tab10 without its grey (#7f7f7f), which would read as a non-memory attractor
_SEED = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
# colours every memory colour must stay away from
_RESERVED = (ORIGIN, *OTHER, UNCONVERGED, BOUNDARY)
_MAX = 256


def _rgb(hexes: Sequence[str]) -> np.ndarray:
    return np.array([[int(h[i : i + 2], 16) for i in (1, 3, 5)] for h in hexes], dtype=np.float64) / 255.0


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB colours in [0, 1], shape (n, 3)."""
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


@lru_cache(maxsize=1)
def _sequence() -> tuple[str, ...]:
    """The memory colours in order (greedy farthest-point walk in CIELAB, deterministic)."""
    levels = np.arange(0, 256, 15) / 255.0
    cand = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    lab = _lab(cand)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    keep = (lab[:, 0] > 30) & (lab[:, 0] < 88) & (chroma > 30)  # no greys, nothing near black or white
    cand, lab = cand[keep], lab[keep]
    chosen = list(_SEED)
    dist = np.full(len(lab), np.inf)
    for ref in _lab(_rgb([*_RESERVED, *_SEED])):
        dist = np.minimum(dist, np.linalg.norm(lab - ref, axis=1))
    while len(chosen) < _MAX and np.isfinite(dist).any():
        k = int(np.argmax(dist))
        r, g, b = np.round(cand[k] * 255).astype(int)
        chosen.append(f"#{r:02x}{g:02x}{b:02x}")
        dist = np.minimum(dist, np.linalg.norm(lab - lab[k], axis=1))
        dist[k] = -np.inf
    return tuple(chosen)


def memory_colors(n: int) -> list[str]:
    """``n`` distinct colours for memories 0 … n-1 (hex; the same prefix for every ``n``; beyond
    256 memories the sequence repeats)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    seq = _sequence()
    return [seq[k % len(seq)] for k in range(n)]


def attractor_colors(kinds: Sequence[str], memory: Sequence[int] | None = None) -> list[str]:
    """One colour per attractor: memory attractors by their memory index (``memory[a]``; when
    ``memory`` is None, the memory attractors are numbered in order), the origin :data:`ORIGIN`, other
    attractors the greys of :data:`OTHER` in turn. ``kinds`` are ``"origin"``, ``"memory"`` or ``"other"``
    (as in :class:`hopdyn.analysis.attractors.Attractors`)."""
    if memory is None:
        memory, k = [], 0
        for kind in kinds:
            memory.append(k if kind == "memory" else -1)
            k += kind == "memory"
    memory = [int(m) for m in memory]
    if len(memory) != len(kinds):
        raise ValueError(f"kinds and memory must have the same length, got {len(kinds)} and {len(memory)}")
    mem = memory_colors(max([m + 1 for m, kd in zip(memory, kinds) if kd == "memory"], default=0))
    out, n_other = [], 0
    for kind, m in zip(kinds, memory):
        if kind == "origin":
            out.append(ORIGIN)
        elif kind == "memory":
            if m < 0:
                raise ValueError("a memory attractor needs its memory index (got -1)")
            out.append(mem[m])
        elif kind == "other":
            out.append(OTHER[n_other % len(OTHER)])
            n_other += 1
        else:
            raise ValueError(f"kinds must be 'origin', 'memory' or 'other', got {kind!r}")
    return out


def attractor_hatches(kinds: Sequence[str]) -> list[str | None]:
    """Hatch per attractor for matplotlib fills: :data:`OTHER_HATCH` for attractors that are neither
    the origin nor a memory, None otherwise."""
    return [OTHER_HATCH if k == "other" else None for k in kinds]
