"""The network of a sweep cell: a recipe (:class:`NetworkSpec`) that every worker turns into the
user's :class:`~hopdyn.MHN` at the cell's parameters, and :class:`Cell`, the picklable function
``(params, seed) -> {name: number}`` that the executors run.

The recipe travels to the workers instead of the network so that seeded memory sets
(``gaussian``, ``digits``) are drawn per cell, and a swept ``n_memories`` or ``n_features``
changes the memories themselves.
"""
from __future__ import annotations

import hashlib
import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .grid import NETWORK_PARAMETERS

#: Memory sets a spec can name: the built-in ones of :mod:`hopdyn.datasets`, or ``"array"`` (the user's xi).
MEMORIES = ("planar", "gaussian", "digits", "cluster", "array")
#: Memory Lagrangians a spec can name: RecLag(β, γ), or the vanilla LogSumExp(β).
LAGRANGIANS = ("reclag", "vanilla")
_DEFAULT_SIZES = {"gaussian": (16, 8), "digits": (32, 64), "cluster": (12, 50)}


@dataclass(frozen=True)
class NetworkSpec:
    """How to build the network of a cell: ``memories`` (a :mod:`hopdyn.datasets` set, or
    ``"array"`` with the user's ``xi``), the memory Lagrangian (``"reclag"``: ``RecLag(β, γ)`` or
    ``RecLag(β, log_gamma=…)``; ``"vanilla"``: ``LogSumExp(β)``) and the values of β, γ,
    ``n_memories``, ``n_features`` that the grid does not sweep.

    Seeded sets draw their memories with the cell's seed: ``gaussian`` (i.i.d. normal
    ``(n_memories, n_features)``), ``digits`` (``n_memories`` digit images, N_V = 64); ``planar``
    (5 memories in 2-D), ``cluster`` (:func:`~hopdyn.datasets.cluster_and_outlier`) and
    ``array`` are the same in every cell. Everything is float64.
    """

    memories: str = "planar"
    lagrangian: str = "reclag"
    beta: float = 4.0
    gamma: float | None = 1000.0
    log_gamma: float | None = None
    n_memories: int | None = None
    n_features: int | None = None
    xi: np.ndarray | None = field(default=None, repr=False, compare=False)
    source: str = ""  # where xi came from (a file name), for the record

    def __post_init__(self) -> None:
        if self.memories not in MEMORIES:
            raise ValueError(f"memories must be one of {', '.join(MEMORIES)}, got {self.memories!r}")
        if self.lagrangian not in LAGRANGIANS:
            raise ValueError(f"lagrangian must be 'reclag' or 'vanilla', got {self.lagrangian!r}")
        if (self.memories == "array") != (self.xi is not None):
            raise ValueError("memories='array' needs xi (and xi needs memories='array')")
        if self.xi is not None:
            xi = np.asarray(self.xi, dtype=np.float64)
            if xi.ndim != 2 or not xi.size:
                raise ValueError(f"xi must be a non-empty (N_H, N_V) matrix, got shape {xi.shape}")
            if not np.isfinite(xi).all():
                raise ValueError("xi holds NaN or inf")
            object.__setattr__(self, "xi", xi)

    def settings(self) -> dict:
        """JSON-able description (the user's xi by its SHA-256), to tell one sweep from another."""
        out = {k: getattr(self, k) for k in ("memories", "lagrangian", "beta", "gamma", "log_gamma", "n_memories",
                                             "n_features", "source")}
        if self.xi is not None:
            out["xi_sha256"] = hashlib.sha256(np.ascontiguousarray(self.xi).tobytes()).hexdigest()
            out["xi_shape"] = list(self.xi.shape)
        return out

    def fixed(self) -> tuple[str, ...]:
        """Parameters this memory set cannot vary."""
        if self.memories in ("planar", "array"):
            return ("n_memories", "n_features")
        if self.memories == "digits":
            return ("n_features",)
        return ()

    def build(self, params: Mapping[str, Any] | None = None, seed: int = 0):
        """The network at ``params`` (overriding the spec's values) for the cell's ``seed``."""
        from .. import datasets
        from ..core.lagrangians import LogSumExp, RecLag
        from ..core.network import MHN

        p = {k: getattr(self, k) for k in NETWORK_PARAMETERS}
        given = dict(params or {})
        for name in given:
            if name in self.fixed():
                raise ValueError(f"{name} cannot be swept with memories={self.memories!r} (its memories are fixed)")
        if "gamma" in given:
            p["log_gamma"] = None
        if "log_gamma" in given:
            p["gamma"] = None
        p.update(given)
        default_n, default_d = _DEFAULT_SIZES.get(self.memories, (None, None))
        n = p["n_memories"] or default_n
        d = p["n_features"] or default_d
        if self.memories == "planar":
            xi = datasets.planar_memories()
        elif self.memories == "gaussian":
            xi = datasets.gaussian_memories(n, d, seed=seed, dtype=torch.float64)
        elif self.memories == "digits":
            xi = datasets.digits_memories(n, seed=seed, dtype=torch.float64)
        elif self.memories == "cluster":
            xi = datasets.cluster_and_outlier(n, d)
        else:
            xi = torch.from_numpy(self.xi.copy())
        beta = float(p["beta"])
        if self.lagrangian == "vanilla":
            if given.keys() & {"gamma", "log_gamma"}:
                raise ValueError("the vanilla network has no gamma: sweep gamma with lagrangian='reclag'")
            return MHN(xi, memory=LogSumExp(beta))
        if p["log_gamma"] is not None:
            return MHN(xi, memory=RecLag(beta, log_gamma=float(p["log_gamma"])))
        if p["gamma"] is None:
            raise ValueError("a RecLag network needs gamma or log_gamma")
        return MHN(xi, memory=RecLag(beta, float(p["gamma"])))


@dataclass(frozen=True)
class Cell:
    """One cell's work: build the network of ``network`` at the cell's parameters, run
    ``analysis`` on it (a name of :data:`hopdyn.sweep.analyses.ANALYSES` or a function
    ``fn(net, *, seed, **options) -> {name: number}``) with ``options`` and the swept options
    (parameters that are not the network's), and return its numbers.

    Picklable (a module-level function, a spec and plain options), so it runs on any Dask
    worker. Warnings inside a cell are silenced: the numbers say what the warnings would
    (swallowed memories, say)."""

    analysis: str | Callable[..., Mapping[str, Any]]
    network: NetworkSpec = field(default_factory=NetworkSpec)
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def function(self) -> Callable[..., Mapping[str, Any]]:
        if callable(self.analysis):
            return self.analysis
        from .analyses import ANALYSES

        if self.analysis not in ANALYSES:
            raise ValueError(f"unknown analysis {self.analysis!r}: choose from {', '.join(ANALYSES)}")
        return ANALYSES[self.analysis]

    @property
    def name(self) -> str:
        fn = self.analysis
        return fn if isinstance(fn, str) else f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"

    def option_names(self) -> tuple[str, ...]:
        """Keyword options of the analysis (sweepable besides the network's parameters)."""
        sig = inspect.signature(self.function)
        return tuple(n for n, p in sig.parameters.items()
                     if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n not in ("net", "seed"))

    def parameters(self) -> tuple[str, ...]:
        """Every name a grid may sweep with this cell."""
        return (*(n for n in NETWORK_PARAMETERS if n not in self.network.fixed()), *self.option_names())

    def settings(self) -> dict:
        return {"analysis": self.name, "network": self.network.settings(), "options": dict(sorted(self.options.items()))}

    def __call__(self, params: Mapping[str, Any], seed: int) -> dict[str, float | int]:
        net_params = {k: v for k, v in params.items() if k in NETWORK_PARAMETERS}
        options = {**self.options, **{k: v for k, v in params.items() if k not in NETWORK_PARAMETERS}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self.function(self.network.build(net_params, seed), seed=seed, **options)
        return numbers(out, self.name)


def numbers(out: Mapping[str, Any], who: str) -> dict[str, float | int]:
    """An analysis's result as ``{name: int | float}`` (bools as 0/1, 0-d tensors and arrays as numbers)."""
    if not isinstance(out, Mapping) or not out:
        raise ValueError(f"{who} must return a non-empty dict of numbers, got {type(out).__name__}")
    res: dict[str, float | int] = {}
    for k, v in out.items():
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu().numpy()
        if isinstance(v, np.ndarray):
            if v.ndim:
                raise ValueError(f"{who}: {k!r} must be a number, got an array of shape {v.shape}")
            v = v.item()
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, bool):
            v = int(v)
        if isinstance(v, int):
            res[str(k)] = v
        elif isinstance(v, float):
            res[str(k)] = v
        else:
            raise ValueError(f"{who}: {k!r} must be a number, got {type(v).__name__}")
    return res
