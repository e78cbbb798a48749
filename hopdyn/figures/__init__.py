"""Figure recipes for ``hopdyn figures``: each runs an analysis with fixed (seeded) settings and
hands the data to a drawing function in :mod:`hopdyn.plots`.

A recipe is ``make(out_dir: Path) -> list[Path]`` registered with :func:`figure`; it returns the
files it wrote (use :func:`save` so that PNG and PDF are written atomically).

:mod:`hopdyn.figures.network` is the one drawing path of the network figures (landscapes, phase
portraits, basin maps, Theorem 1's radii, continuation): the planar recipes of ``paper`` and ``theory``
call it, and ``hopdyn figures --xi FILE`` runs it on the user's memories.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .._io import atomic_path


@dataclass(frozen=True)
class FigureSpec:
    name: str
    caption: str  # what the figure shows, for figures/README.md
    make: Callable[[Path], list[Path]]


FIGURES: dict[str, FigureSpec] = {}

#: Modules of hopdyn.figures that register recipes.
MODULES: tuple[str, ...] = ("paper", "theory", "mha", "continual", "ood", "adaptive")


def figure(name: str, caption: str):
    def register(make: Callable[[Path], list[Path]]) -> Callable[[Path], list[Path]]:
        FIGURES[name] = FigureSpec(name, caption, make)
        return make

    return register


def load_all() -> dict[str, FigureSpec]:
    for mod in MODULES:
        importlib.import_module(f"hopdyn.figures.{mod}")
    return FIGURES


def save(fig, out_dir: Path, name: str, formats: tuple[str, ...] = ("png", "pdf"), dpi: int = 150) -> list[Path]:
    """Save a matplotlib figure as ``out_dir/name.{png,pdf}`` atomically and close it."""
    import matplotlib.pyplot as plt

    paths = []
    for ext in formats:
        path = Path(out_dir) / f"{name}.{ext}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=dpi, bbox_inches="tight", metadata={"CreationDate": None} if ext == "pdf" else None)
        paths.append(path)
    plt.close(fig)
    return paths
