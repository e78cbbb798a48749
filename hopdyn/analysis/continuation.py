"""Continuation in β or γ: the user's network along a path of one parameter, its attractors
followed from value to value, with their basin fractions.

:func:`vary_memory` is the one rule for a memory Lagrangian at other parameters (it keeps the
kind: a smoothed RecLag its κ, a weighted log-sum-exp its masses, a RecLag given by ``log γ``
its exact ``log γ``); :func:`continuation` and the landscape sweep
(:func:`hopdyn.analysis.landscape.landscape_sweep`) both vary networks through it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import torch

from .._chunks import chunks
from .._validate import ArrayLike, as_tensor, positive
from ..core.lagrangians import Lagrangian, LogSumExp, RecLag, WeightedLogSumExp
from ..core.network import MHN
from ..stats import Sampler
from .attractors import Attractors, scale_of
from .basins import basin_fractions

__all__ = ["KEEP", "Continuation", "continuation", "match_attractors", "network_at", "vary_memory"]

Parameter = Literal["beta", "gamma", "log_gamma"]
PARAMETERS = ("beta", "gamma", "log_gamma")


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


#: Default of :func:`vary_memory`'s ``gamma``: keep the memory's gate as it is.
KEEP = _Keep()


def vary_memory(
    memory: Lagrangian, beta: float | None = None, gamma: float | None | _Keep = KEEP, *, log_gamma: float | None = None
) -> Lagrangian:
    """The memory Lagrangian ``memory`` at another ``β`` and/or ``γ``, keeping its kind.

    ``beta=None`` keeps its β. ``gamma``: :data:`KEEP` (the default) keeps the gate as it is
    (a RecLag its exact ``log γ``, beyond float range too; a vanilla memory stays vanilla);
    ``None`` gives the vanilla counterpart, ``LogSumExp(β)`` (a :class:`WeightedLogSumExp`
    keeps its masses); a number — or ``log_gamma=`` — the gated one: a RecLag keeps its class
    and fields (a :class:`hopdyn.SmoothRecLag` its κ), any other memory becomes ``RecLag(β, γ)``.
    """
    if not isinstance(memory, Lagrangian):
        raise ValueError(f"memory must be a hopdyn Lagrangian, got {memory!r}")
    if beta is None:
        if not isinstance(memory, (LogSumExp, WeightedLogSumExp, RecLag)):
            raise ValueError(f"memory {memory!r} has no beta to keep; give beta")
        beta = memory.beta
    beta = positive(beta, "beta")
    if log_gamma is not None:
        if gamma is not KEEP:
            raise ValueError(f"give gamma or log_gamma, not both (got gamma={gamma!r}, log_gamma={log_gamma!r})")
        if isinstance(memory, RecLag):
            return dataclasses.replace(memory, beta=beta, gamma=None, log_gamma=log_gamma)
        return RecLag(beta, log_gamma=log_gamma)
    if gamma is KEEP:
        if isinstance(memory, RecLag):
            return dataclasses.replace(memory, beta=beta, gamma=None, log_gamma=memory.log_gamma)
        if isinstance(memory, (LogSumExp, WeightedLogSumExp)):
            return dataclasses.replace(memory, beta=beta)
        raise ValueError(f"memory {memory!r} has no beta to vary")
    if gamma is None:
        if isinstance(memory, WeightedLogSumExp):
            return dataclasses.replace(memory, beta=beta)
        return LogSumExp(beta)
    if isinstance(memory, RecLag):
        return dataclasses.replace(memory, beta=beta, gamma=positive(gamma, "gamma"), log_gamma=None)
    return RecLag(beta, positive(gamma, "gamma"))


def network_at(net: MHN, parameter: Parameter, value: float) -> MHN:
    """``net`` with its memory's ``parameter`` (``"beta"``, ``"gamma"`` or ``"log_gamma"``) set to
    ``value`` by :func:`vary_memory`; everything else (feature Lagrangian, τ, kind of memory) kept."""
    if parameter == "beta":
        return net.replace(memory=vary_memory(net.memory, beta=value))
    if parameter == "gamma":
        return net.replace(memory=vary_memory(net.memory, gamma=value))
    if parameter == "log_gamma":
        return net.replace(memory=vary_memory(net.memory, log_gamma=value))
    raise ValueError(f"parameter must be 'beta', 'gamma' or 'log_gamma', got {parameter!r}")


# -- following attractors -------------------------------------------------------------------------
@dataclass
class _Track:
    kind: str
    memory: int
    name: str
    point: torch.Tensor  # where it was at the latest value it was present


def match_attractors(tracks: list[_Track], att: Attractors, tol: float) -> list[int]:
    """Which track each attractor of ``att`` continues (appending new tracks as needed).

    The matcher: an origin or memory attractor continues the track of the same kind and memory
    id (ids are stable across values); an attractor of kind ``"other"`` continues the nearest
    ``"other"`` track (at its latest point) within ``tol`` that no attractor of this value has
    claimed yet, else it starts a new track, shown as ``"attractor j"`` (j the track's index)."""
    out, claimed = [], set()
    for a in range(len(att)):
        kind, mem, point = att.kinds[a], int(att.memory[a]), att.points[a]
        j = -1
        if kind != "other":
            j = next((i for i, t in enumerate(tracks) if t.kind == kind and t.memory == mem), -1)
        else:
            cand = [(float((point - t.point).norm()), i) for i, t in enumerate(tracks)
                    if t.kind == "other" and i not in claimed]
            if cand and min(cand)[0] <= tol:
                j = min(cand)[1]
        if j < 0:
            name = att.names[a] if kind != "other" else f"attractor {len(tracks)}"
            tracks.append(_Track(kind, mem, name, point))
            j = len(tracks) - 1
        tracks[j].point = point
        claimed.add(j)
        out.append(j)
    return out


@dataclass(frozen=True)
class Continuation:
    """Attractors and basin fractions along a sweep of ``parameter`` (``"beta"``, ``"gamma"`` or
    ``"log_gamma"``) of one network.

    Attractor ``a`` is a track followed across ``values`` by :func:`match_attractors`: of kind
    ``kinds[a]`` (``"origin"``, ``"memory"``, ``"other"``), memory index ``memory[a]`` (or -1),
    shown as ``names[a]``. ``present[v, a]`` says whether it exists at ``values[v]``,
    ``points[v, a]`` where (NaN if absent), ``fractions``/``ci_low``/``ci_high`` its basin share
    (95 % Wilson interval) on the same sampled states at every value (common random numbers).
    ``base_memory`` is the memory Lagrangian at the first value (its kind is kept throughout)."""

    parameter: str
    values: torch.Tensor
    names: list[str]
    kinds: list[str]
    memory: torch.Tensor
    present: torch.Tensor
    points: torch.Tensor
    fractions: torch.Tensor
    ci_low: torch.Tensor
    ci_high: torch.Tensor
    base_memory: str = ""


def _from_arrays(xi: ArrayLike, parameter: str, beta: float | None, gamma: float | None) -> MHN:
    """The network of the ``continuation(xi, parameter, values, beta=, gamma=)`` convenience:
    RecLag(β, γ) with the swept parameter still to be set, or the vanilla network (γ None)."""
    xi = as_tensor(xi, "xi", min_dim=2).to(torch.float64)
    if parameter == "beta":
        if beta is not None:
            raise ValueError("a sweep over beta takes no fixed beta")
        return MHN(xi, memory=LogSumExp(1.0) if gamma is None else RecLag(1.0, positive(gamma, "gamma")))
    if beta is None:
        raise ValueError(f"a sweep over {parameter} needs beta")
    if gamma is not None:
        raise ValueError(f"a sweep over {parameter} takes no fixed gamma")
    return MHN(xi, memory=RecLag(positive(beta, "beta"), 1.0))


def continuation(
    net: MHN | ArrayLike,
    parameter: Parameter,
    values: ArrayLike,
    *,
    beta: float | None = None,
    gamma: float | None = None,
    sampler: Sampler | ArrayLike = "box",
    n: int = 20_000,
    scale: float | None = None,
    seed: int = 0,
    steps: int = 1000,
    match_tol: float | None = None,
    progress: bool | None = None,
) -> Continuation:
    """Sweep β, γ or log γ of the network ``net`` (:func:`network_at`: only that parameter of its
    memory changes, its kind, feature Lagrangian and τ stay) and follow the attractors and
    their basin fractions (:func:`~hopdyn.analysis.basins.basin_fractions` with ``sampler``,
    ``n``, ``scale``, ``seed``, ``steps`` at every value).

    Attractors are followed by :func:`match_attractors`, with ``match_tol`` (default
    ``0.1·max(max|xi|, 1)``) for those that are neither the origin nor a memory's.

    Convenience: ``continuation(xi, "gamma", values, beta=...)`` sweeps γ of ``RecLag(β, γ)``
    on ``MHN(xi)``, ``continuation(xi, "beta", values, gamma=...)`` β of ``RecLag(β, γ)``, or of
    the vanilla network when ``gamma`` is None.
    """
    if parameter not in PARAMETERS:
        raise ValueError(f"parameter must be 'beta', 'gamma' or 'log_gamma', got {parameter!r}")
    if isinstance(net, MHN):
        if beta is not None or gamma is not None:
            raise ValueError("continuation(net, ...) reads beta and gamma from net.memory; vary them with "
                             "net.replace(memory=...) (beta= and gamma= belong to the continuation(xi, ...) form)")
    else:
        net = _from_arrays(net, parameter, beta, gamma)
    vals = as_tensor(values, "values").to(torch.float64).reshape(-1)
    if parameter != "log_gamma" and not bool((vals > 0).all()):
        raise ValueError(f"values of {parameter} must be > 0, got {vals.tolist()}")
    nets = [network_at(net, parameter, float(x)) for x in vals]  # checks every value before any run
    match_tol = 0.1 * max(scale_of(net), 1.0) if match_tol is None else positive(match_tol, "match_tol")
    tracks: list[_Track] = []
    rows = []
    for sl in chunks(len(nets), 1, progress, f"continuation in {parameter}"):
        fr = basin_fractions(nets[sl.start], sampler, n, scale=scale, seed=seed, steps=steps, progress=False)
        rows.append((match_attractors(tracks, fr.attractors, match_tol), fr))
    V, A = vals.numel(), len(tracks)
    present = torch.zeros(V, A, dtype=torch.bool)
    points = torch.full((V, A, net.n_features), math.nan, dtype=torch.float64)
    stats = torch.zeros(3, V, A, dtype=torch.float64)
    for v, (ids, fr) in enumerate(rows):
        for k, a in enumerate(ids):
            present[v, a] = True
            points[v, a] = fr.points[k].to(torch.float64)
            stats[:, v, a] = torch.stack([fr.fractions[k], fr.ci_low[k], fr.ci_high[k]])
    return Continuation(parameter, vals, [t.name for t in tracks], [t.kind for t in tracks],
                        torch.tensor([t.memory for t in tracks], dtype=torch.long), present, points,
                        stats[0], stats[1], stats[2], repr(nets[0].memory))
