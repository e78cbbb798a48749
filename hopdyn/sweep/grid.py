"""What a sweep runs over: a grid (or a list) of parameter values times seeds, cell by cell.

A cell is one ``(params, seed)`` pair. Its :func:`cell_key` is a canonical JSON text of the pair,
so the same parameters name the same cell across runs, grids that grow, and processes; the
finished-cell store (:mod:`hopdyn.sweep.store`) is keyed by it.
"""
from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Parameters of the network itself (:class:`~hopdyn.sweep.network.NetworkSpec`); any other swept
#: name must be a keyword option of the analysis.
NETWORK_PARAMETERS = ("beta", "gamma", "log_gamma", "n_memories", "n_features")
_POSITIVE = ("beta", "gamma")
_INTEGER = ("n_memories", "n_features")


def _value(name: str, x: Any) -> float | int | str:
    """One parameter value, normalised so that equal values give equal keys (4 and 4.0 for β)."""
    if isinstance(x, (bool, np.bool_)):
        raise ValueError(f"{name}: expected a number, got {x!r}")
    if isinstance(x, np.generic):
        x = x.item()
    if name in _INTEGER:
        if not isinstance(x, int) and not (isinstance(x, float) and x.is_integer()):
            raise ValueError(f"{name} must be a positive integer, got {x!r}")
        if int(x) < 1:
            raise ValueError(f"{name} must be a positive integer, got {x!r}")
        return int(x)
    if name in NETWORK_PARAMETERS:
        if not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ValueError(f"{name} must be a finite number, got {x!r}")
        if name in _POSITIVE and x <= 0:
            raise ValueError(f"{name} must be > 0, got {x!r}")
        return float(x)
    if isinstance(x, (int, float, str)):
        return x
    raise ValueError(f"{name}: expected a number or a string, got {type(x).__name__}")


def cell_key(params: Mapping[str, Any], seed: int) -> str:
    """Canonical text naming the cell ``(params, seed)`` (sorted names; floats as their shortest repr)."""
    return json.dumps({"params": dict(sorted(params.items())), "seed": int(seed)}, sort_keys=True, allow_nan=False)


@dataclass(frozen=True)
class Grid:
    """The cells of a sweep: ``points`` (parameter dicts, all with the same names) times ``seeds``.

    Build it as a product, ``Grid.product(beta=[1, 2], gamma=[10, 100], seeds=3)`` (dimensions
    ``beta, gamma, seed`` of the result), or from a list, ``Grid.from_list([{...}, ...], seeds=...)``
    (dimensions ``point, seed``, the parameters as coordinates along ``point``). ``seeds`` is a
    count (0..n-1) or the seeds themselves.
    """

    names: tuple[str, ...]
    points: tuple[tuple, ...]  # one tuple of values (in the order of names) per point
    seeds: tuple[int, ...]
    axes: tuple[tuple, ...] | None = None  # the values per name when the grid is a product

    @classmethod
    def product(cls, seeds: int | Sequence[int] = 1, **values: Sequence) -> "Grid":
        names = tuple(values)
        axes = []
        for name, vals in values.items():
            vals = [vals] if isinstance(vals, (int, float, str)) else list(vals)
            if not vals:
                raise ValueError(f"{name}: no values given (the grid is empty)")
            vals = [_value(name, v) for v in vals]
            if len(set(vals)) != len(vals):
                raise ValueError(f"{name}: repeated values {vals}")
            axes.append(tuple(vals))
        return cls(names, tuple(itertools.product(*axes)), _seeds(seeds), tuple(axes))

    @classmethod
    def from_list(cls, points: Sequence[Mapping[str, Any]], seeds: int | Sequence[int] = 1) -> "Grid":
        points = list(points)
        if not points:
            raise ValueError("the list of parameter points is empty")
        names = tuple(points[0])
        rows = []
        for i, p in enumerate(points):
            if not isinstance(p, Mapping) or set(p) != set(names):
                raise ValueError(f"point {i}: every point must set the same parameters {list(names)}, got {p!r}")
            rows.append(tuple(_value(n, p[n]) for n in names))
        if len(set(rows)) != len(rows):
            raise ValueError("the list of parameter points repeats a point")
        return cls(names, tuple(rows), _seeds(seeds))

    @property
    def dims(self) -> tuple[str, ...]:
        return (*self.names, "seed") if self.axes is not None else ("point", "seed")

    @property
    def shape(self) -> tuple[int, ...]:
        sizes = [len(a) for a in self.axes] if self.axes is not None else [len(self.points)]
        return (*sizes, len(self.seeds))

    def __len__(self) -> int:
        return len(self.points) * len(self.seeds)

    def cells(self) -> Iterator[tuple[dict, int]]:
        """``(params, seed)`` of every cell, in C order of :attr:`shape`."""
        for row in self.points:
            for s in self.seeds:
                yield dict(zip(self.names, row)), s

    def check_names(self, allowed: Sequence[str], analysis: str) -> None:
        """``ValueError`` naming the first parameter that neither the network nor ``analysis`` takes."""
        for n in self.names:
            if n in ("seed", "point"):
                raise ValueError(f"{n!r} is a dimension of every sweep, not a parameter (use seeds=)")
            if n not in allowed:
                raise ValueError(f"unknown parameter {n!r} for {analysis}: choose from {', '.join(allowed)}")
        if "gamma" in self.names and "log_gamma" in self.names:
            raise ValueError("sweep gamma or log_gamma, not both")


def _seeds(seeds: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive count or a list of seeds, got {seeds}")
        return tuple(range(int(seeds)))
    out = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"seeds must be integers >= 0, got {s!r}")
        out.append(int(s))
    if not out:
        raise ValueError("no seeds given (the grid is empty)")
    if len(set(out)) != len(out):
        raise ValueError(f"repeated seeds {out}")
    return tuple(out)
