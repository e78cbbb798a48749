"""hopdyn: dynamics of modern Hopfield networks (Lagrangian MHNs, RecLag, OOD detection).

The public surface is small: Lagrangians, the network :class:`MHN`, two simulators
(:func:`iterate`, :func:`integrate`) returning a :class:`Trajectory` (all in ``hopdyn.core``),
and the rooms built on them, imported when first used:

- ``hopdyn.analysis`` — basins, fixed points, continuation, landscapes, Theorems 1–3
  (also reachable as ``hopdyn.theorems``, ``hopdyn.landscape`` and ``hopdyn.basins``);
- ``hopdyn.ood`` — OOD detection; ``hopdyn.mha`` — hidden-state attention
  (``hopdyn.collapse``); ``hopdyn.continual``; ``hopdyn.adaptive`` — A-Hop;
- ``hopdyn.experiments`` — the source papers' experiments; ``hopdyn.datasets``; ``hopdyn.plots``.
"""
from __future__ import annotations

import importlib
from typing import Any

from .core import (
    Abs, GateCrossingWarning, GatedLagrangian, Lagrangian, LogSumExp, MHN, Polynomial, Quadratic, RecLag, SmoothRecLag,
    Trajectory, WeightedLogSumExp, integrate, iterate, iterate_two_variable,
)
from .mha.attention import HopfieldAttention, HopfieldAttentionStack, HopfieldMultiheadAttention, KVCache
from .mha.block import HopfieldTransformerBlock

__version__ = "0.1.0"

#: Subpackages and the promised short names, imported on first access so that ``import hopdyn``
#: costs torch and nothing more (scipy, scikit-learn, matplotlib load with the rooms that use them).
_LAZY = {
    "adaptive": "hopdyn.adaptive",
    "analysis": "hopdyn.analysis",
    "basins": "hopdyn.analysis",
    "collapse": "hopdyn.mha.collapse",
    "continual": "hopdyn.continual",
    "datasets": "hopdyn.datasets",
    "experiments": "hopdyn.experiments",
    "landscape": "hopdyn.analysis.landscape",
    "mha": "hopdyn.mha",
    "mha_experiments": "hopdyn.experiments.mha",
    "ood": "hopdyn.ood",
    "plots": "hopdyn.plots",
    "sweep": "hopdyn.sweep",
    "theorems": "hopdyn.analysis.theorems",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'hopdyn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "Abs",
    "GateCrossingWarning",
    "GatedLagrangian",
    "HopfieldAttention",
    "HopfieldAttentionStack",
    "HopfieldMultiheadAttention",
    "HopfieldTransformerBlock",
    "KVCache",
    "Lagrangian",
    "LogSumExp",
    "MHN",
    "Polynomial",
    "Quadratic",
    "RecLag",
    "SmoothRecLag",
    "Trajectory",
    "WeightedLogSumExp",
    "integrate",
    "iterate",
    "iterate_two_variable",
    *_LAZY,
]
