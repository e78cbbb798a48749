"""Attractors of a network and the labelling of end states.

An :class:`Attractors` set names point attractors with integer ids: ``kinds[a]`` is
``"origin"``, ``"memory"`` (then ``memory[a]`` is the memory's index, else -1) or ``"other"``,
``names[a]`` is for display only ("origin", "memory 3", "attractor 7"); code reads the fields,
never the names. The known attractors of a network (:func:`memory_attractors`: the origin and
the memories that survive) keep their ids, so labels mean the same across maps, samplers and
parameter values. :func:`find_attractors` runs the discrete map (eq 12) to convergence and labels
where each state ends; :func:`memory_fates` says which memories a RecLag network keeps and which
its gate swallows (Theorem 3).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import torch

from .._validate import ArrayLike, positive, positive_int
from ..core.discrete import iterate
from ..core.lagrangians import LogSumExp, RecLag
from ..core.network import MHN

__all__ = [
    "AttractorLabels",
    "Attractors",
    "MemoryFates",
    "MemorySwallowedWarning",
    "find_attractors",
    "memory_attractors",
    "memory_fates",
]

Kind = Literal["origin", "memory", "other"]
KINDS = ("origin", "memory", "other")


class MemorySwallowedWarning(UserWarning):
    """γ is so large that the gate is shut at some memories' fixed points: they are no longer
    attractors, and their basins have joined the origin's."""


# -- attractors and labels ------------------------------------------------------------------------
@dataclass(frozen=True)
class Attractors:
    """Point attractors of a network: attractor ``a`` sits at ``points[a]``, is of kind
    ``kinds[a]`` (``"origin"``, ``"memory"`` or ``"other"``), retrieves memory ``memory[a]``
    (``-1`` unless it is a memory's) and is shown as ``names[a]``."""

    names: list[str]
    points: torch.Tensor  # (A, N_V)
    kinds: list[str]
    memory: torch.Tensor  # (A,) long

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(self.kinds) != n or self.points.shape[0] != n or self.memory.shape != (n,):
            raise ValueError(f"names, points, kinds and memory must describe the same {n} attractors, got "
                             f"{len(self.kinds)} kinds, {self.points.shape[0]} points, memory {tuple(self.memory.shape)}")
        bad = [k for k in self.kinds if k not in KINDS]
        if bad:
            raise ValueError(f"kinds must be 'origin', 'memory' or 'other', got {bad[0]!r}")

    @classmethod
    def empty(cls, n_features: int, dtype: torch.dtype = torch.float64) -> "Attractors":
        """No attractors known (in ``n_features`` dimensions)."""
        return cls([], torch.zeros(0, n_features, dtype=dtype), [], torch.zeros(0, dtype=torch.long))

    def __len__(self) -> int:
        return len(self.names)

    @property
    def origin(self) -> int:
        """Index of the origin attractor, ``-1`` when it is not one."""
        return self.kinds.index("origin") if "origin" in self.kinds else -1

    def of_memory(self, mu: int) -> int:
        """Index of memory ``mu``'s attractor, ``-1`` when the memory has none."""
        hit = (self.memory == mu).nonzero().flatten()
        return int(hit[0]) if hit.numel() else -1

    def index(self, states: torch.Tensor, tol: float) -> torch.Tensor:
        """Index of the attractor within ``tol`` of each state, ``-1`` when none is."""
        if not self.names:
            return torch.full(states.shape[:1], -1, dtype=torch.long, device=states.device)
        points = self.points.to(states)
        best = torch.cdist(states, points).argmin(-1)
        # cdist's matmul route (‖a‖² + ‖b‖² − 2a·b) loses all digits of small distances between
        # float32 states of norm ~10 in high dimension: measure the distance to the chosen one
        # directly, and redo the few rows that miss in float64
        dist = (states - points[best]).norm(dim=-1)
        miss = dist > tol
        if bool(miss.any()):
            d64 = torch.cdist(states[miss].to(torch.float64), points.to(torch.float64))
            d_miss, best[miss] = d64.min(-1)
            dist[miss] = d_miss.to(dist.dtype)
        return torch.where(dist <= tol, best, torch.full_like(best, -1))

    def label(self, states: torch.Tensor, tol: float) -> list[str]:
        """Name of the attractor within ``tol`` of each state (``"other"`` when none is), for display."""
        return [self.names[i] if i >= 0 else "other" for i in self.index(states, tol).tolist()]


def memory_attractors(net: MHN, steps: int = 2000, tol: float = 1e-12) -> Attractors:
    """The origin (when it is a fixed point) and the fixed point reached from each memory that
    stays nearest to it (with the gate open there, for RecLag: the rule of :func:`memory_fates`).
    A memory whose own trajectory ends elsewhere — at the origin, say, when γ is large, or at
    another memory — is not listed."""
    xi = net.xi
    ends = iterate(net, xi, steps=steps, tol=tol, keep="last", progress=False).final
    names, points, memory = [], [], []
    zero = torch.zeros(1, net.n_features, dtype=xi.dtype, device=xi.device)
    if bool((net.step(zero) == 0).all()):
        names.append("origin")
        points.append(zero[0])
        memory.append(-1)
    nearest = torch.cdist(ends, xi).argmin(-1)
    # the rule of memory_fates: a nonzero end nearest its own memory, with the gate open there
    ok = ends.norm(dim=-1) > 0
    if net.has_gate:
        ok &= net.gate_value(ends) >= 0
    for k in range(net.n_memories):
        if int(nearest[k]) == k and bool(ok[k]):
            names.append(f"memory {k}")
            points.append(ends[k])
            memory.append(k)
    kinds = ["origin" if m < 0 else "memory" for m in memory]
    return Attractors(names, torch.stack(points) if points else zero[:0], kinds, torch.tensor(memory, dtype=torch.long))


def scale_of(net: MHN) -> float:
    """The memories' scale ``max|xi|``, which sets every tolerance of the analyses."""
    return max(float(net.xi.abs().max()), 1e-300)


def default_tol(dtype: torch.dtype, scale: float) -> float:
    """Convergence tolerance of the map: a few hundred ulps of the state's scale."""
    return (1e-5 if dtype == torch.float32 else 1e-10) * max(scale, 1.0)


def default_label_tol(scale: float) -> float:
    """Distance within which an end state belongs to an attractor: ``1e-3·max(scale, 1)``."""
    return 1e-3 * max(scale, 1.0)


class Labeller:
    """Assigns end states to attractors, discovering new ones as it goes (batched: one pass
    over the batch per new attractor, not per state). New attractors are of kind ``"other"``
    and shown as ``"{other} k"`` (k their index)."""

    MAX_NEW = 256

    def __init__(self, known: Attractors, tol: float, other: str = "attractor"):
        self.names = list(known.names)
        self.kinds = list(known.kinds)
        self.memory = known.memory.tolist()
        self.points = [p for p in known.points]
        self.tol = tol
        self.other = other
        self.limit = len(self.names) + self.MAX_NEW

    def __call__(self, ends: torch.Tensor, converged: torch.Tensor) -> torch.Tensor:
        att = self.attractors(ends)
        labels = att.index(ends, self.tol) if self.names else torch.full(ends.shape[:1], -1, dtype=torch.long)
        labels[~converged] = -1
        todo = (labels < 0) & converged
        while bool(todo.any()) and len(self.names) < self.limit:
            first = int(todo.nonzero()[0])
            centre = ends[first]
            near = todo & ((ends - centre).norm(dim=-1) <= self.tol)
            labels[near] = len(self.names)
            self.names.append(f"{self.other} {len(self.names)}")
            self.kinds.append("other")
            self.memory.append(-1)
            self.points.append(centre.clone())
            todo &= ~near
        return labels

    def attractors(self, like: torch.Tensor) -> Attractors:
        pts = torch.stack(self.points).to(like) if self.points else like.new_zeros(0, like.shape[-1])
        return Attractors(list(self.names), pts, list(self.kinds), torch.tensor(self.memory, dtype=torch.long))


class WithAttractors:
    """For results that hold an ``attractors`` field: its ``names`` and ``points`` at hand."""

    attractors: Attractors

    @property
    def names(self) -> list[str]:
        return self.attractors.names

    @property
    def points(self) -> torch.Tensor:
        return self.attractors.points


@dataclass(frozen=True)
class AttractorLabels(WithAttractors):
    """Where each initial state ends: ``labels`` index ``attractors`` (``-1``: did not
    converge), with the steps it took (``n_steps``) and the end states."""

    labels: torch.Tensor
    attractors: Attractors
    n_steps: torch.Tensor
    ends: torch.Tensor


def find_attractors(
    net: MHN,
    v0: ArrayLike,
    *,
    steps: int = 1000,
    tol: float | None = None,
    label_tol: float | None = None,
    known: Attractors | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> AttractorLabels:
    """Run the map (eq 12) to convergence from ``v0`` (shape ``(B, N_V)``) and label where each state ends.

    End states within ``label_tol`` (default ``1e-3·max|xi|``) of a ``known`` attractor
    (default :func:`memory_attractors`: the origin and surviving memories) take its id; the
    others are grouped within ``label_tol`` into new attractors of kind ``"other"`` (shown as
    ``"attractor k"``).
    """
    v0 = net.check_v(v0, "v0").reshape(-1, net.n_features)
    scale = scale_of(net)
    tol = default_tol(v0.dtype, scale) if tol is None else positive(tol, "tol")
    label_tol = default_label_tol(scale) if label_tol is None else positive(label_tol, "label_tol")
    known = memory_attractors(net.replace(xi=net.xi.to(torch.float64))) if known is None else known
    run = iterate(net, v0, steps=steps, tol=tol, keep="last", chunk_size=chunk_size, progress=progress)
    lab = Labeller(known, label_tol)
    labels = lab(run.final, run.converged)
    return AttractorLabels(labels, lab.attractors(run.final), run.n_steps, run.final)


# -- memories swallowed by the origin -------------------------------------------------------------
@dataclass(frozen=True)
class MemoryFates:
    """What becomes of each memory ``mu`` in a RecLag network (SPEC, Theorem 3).

    The rule (one for :func:`memory_fates`, the basin maps and the explorer):

    * ``fixed_points[mu]``: where the VANILLA map (same β, no gate) goes from ``xi[mu]``, with
      ``G[mu]`` the gate value there. It is the memory's OWN fixed point
      (``has_own_fixed_point[mu]``) only if the iteration converged to a point whose nearest
      memory is ``mu`` and no fixed point reached from another memory lies nearer ``xi[mu]``.
      When the vanilla map takes ``xi[mu]`` to another memory or to a mixture, ``mu`` has no
      attractor of its own even without a gate: a gate open at that other point says nothing
      about ``mu``.
    * ``survives[mu]``: the RecLag map itself, iterated from ``xi[mu]``, converges to a nonzero
      point (``reclag_ends[mu]``) whose nearest memory is ``mu`` and where the gate is open
      (``G ≥ 0``): a stable fixed point of RecLag that retrieves ``mu``.
    * ``swallowed[mu]``: it does not survive AND the gate is the reason: it shuts somewhere on
      the vanilla trajectory from ``xi[mu]`` (``log γ > log_gamma_limit[mu]``), so RecLag leaves
      that trajectory for 0. A memory that merely has no own fixed point, with the gate open
      all the way, is not swallowed: it is ``merged`` (not an attractor of the vanilla network
      at this β either; no γ helps).

    ``G_memory[mu]`` is the gate at the memory itself, ``G(xi[mu])`` (< 0: ``xi[mu]`` lies in B0
    and is sent to 0 in one step). ``log_gamma_limit[mu]`` is the smallest ``lse(β h)`` along
    the vanilla trajectory from ``xi[mu]`` (its γ* of Theorem 2, in logs): for ``log γ`` up to it
    RecLag follows the vanilla trajectory exactly, so ``mu`` survives iff it has an own fixed
    point; for γ > N_H (0 attracts) and ``log γ`` above it, ``mu`` is swallowed.
    ``gamma`` may read ``inf`` (a RecLag built with ``log_gamma`` > 709); ``log_gamma`` is exact."""

    beta: float
    gamma: float
    fixed_points: torch.Tensor
    G: torch.Tensor  # noqa: N815
    log_gamma_limit: torch.Tensor
    survives: torch.Tensor
    swallowed: torch.Tensor
    log_gamma: float = math.nan
    G_memory: torch.Tensor | None = None  # noqa: N815
    has_own_fixed_point: torch.Tensor | None = None
    reclag_ends: torch.Tensor | None = None

    @property
    def n_swallowed(self) -> int:
        return int(self.swallowed.sum())

    @property
    def n_survive(self) -> int:
        return int(self.survives.sum())

    @property
    def merged(self) -> torch.Tensor:
        """Neither surviving nor swallowed: no attractor of its own even without the gate."""
        return ~self.survives & ~self.swallowed

    @property
    def n_merged(self) -> int:
        return int(self.merged.sum())


def _gamma_text(log_gamma: float) -> str:
    """``γ = …`` for a value given by its log (γ itself overflows a float above log γ ≈ 709)."""
    return f"γ = {math.exp(log_gamma):.4g}" if log_gamma < 709 else f"log γ = {log_gamma:.6g}"


def _own_points(ends: torch.Tensor, converged: torch.Tensor, xi: torch.Tensor, tol: float) -> torch.Tensor:
    """Which ``ends[mu]`` (reached from ``xi[mu]``) belong to memory ``mu``: converged, nearest
    to ``xi[mu]`` among the memories, and no other end lies nearer ``xi[mu]`` (beyond ``tol``)."""
    idx = torch.arange(xi.shape[0], device=xi.device)
    nearest = torch.cdist(ends, xi).argmin(-1) == idx
    d = torch.cdist(xi, torch.where(converged[:, None], ends, torch.full_like(ends, math.inf)))
    closest = d[idx, idx] <= d.min(-1).values + tol
    return converged & nearest & closest


def memory_fates(net: MHN, *, steps: int = 5000, warn: bool = True, stacklevel: int = 2) -> MemoryFates:
    """Which memories survive as attractors of the RecLag network ``net`` (SPEC, Theorem 3);
    :class:`MemoryFates` states the rule.

    A vanilla network has no gate, hence no B0 and nothing to swallow: it raises ``ValueError``.
    Warns with :class:`MemorySwallowedWarning` (``warn=True``) when some are swallowed;
    ``stacklevel`` is passed on to :func:`warnings.warn` (raise it by one per wrapper, so the
    warning points at the user's call).
    """
    mem = net.memory
    if not isinstance(mem, RecLag):
        raise ValueError(
            f"memory_fates needs a RecLag network (a gate); memory={mem!r} has no gate, hence no B0: "
            "nothing is swallowed"
        )
    xi = net.xi.to(torch.float64)
    net64 = net.replace(xi=xi)
    beta, log_gamma = mem.beta, mem.log_gamma
    scale = scale_of(net)
    tol = 1e-12 * scale
    same = 1e-6 * max(scale, 1.0)
    vanilla = net64.replace(memory=LogSumExp(beta))

    # the vanilla trajectory from every memory at once, with the smallest lse(β h) along it
    v = xi.clone()
    low = mem.G(net64.hidden(v))
    G_memory = low.clone()
    conv = torch.zeros(xi.shape[0], dtype=torch.bool)
    for _ in range(positive_int(steps, "steps")):
        todo = (~conv).nonzero().flatten()
        if todo.numel() == 0:
            break
        nxt = vanilla.step(v[todo])
        conv[todo] = (nxt - v[todo]).abs().amax(-1) <= tol
        v[todo] = nxt
        low[todo] = torch.minimum(low[todo], mem.G(net64.hidden(nxt)))
    own = _own_points(v, conv, xi, same)
    G = mem.G(net64.hidden(v))
    limit = low + log_gamma
    run = iterate(net64, xi, steps=steps, tol=tol, keep="last", progress=False)
    ends = run.final
    nonzero = ends.norm(dim=-1) > 1e-9 * scale
    idx = torch.arange(xi.shape[0])
    survives = (run.converged & nonzero & (torch.cdist(ends, xi).argmin(-1) == idx)
                & (mem.G(net64.hidden(ends)) >= 0))
    swallowed = ~survives & (low < 0)
    fates = MemoryFates(beta, mem.gamma, v, G, limit, survives, swallowed, log_gamma, G_memory, own, ends)
    if warn and fates.n_swallowed:
        idx_s = swallowed.nonzero().flatten().tolist()
        shown = ", ".join(map(str, idx_s[:10])) + (", ..." if len(idx_s) > 10 else "")
        keep = float(limit.min())
        lost = int((swallowed & ~own).sum())
        warnings.warn(
            f"{_gamma_text(log_gamma)} swallows {len(idx_s)} of {net.n_memories} memories ({shown}): the gate shuts "
            f"on the way from them to their fixed points and sends them to 0, so they are no longer attractors; "
            f"keep {_gamma_text(keep).replace('=', '≤')} so that the gate never acts on them"
            + (f" ({lost} of them have no fixed point of their own even in the vanilla network at β = {beta:g})"
               if lost else ""),
            MemorySwallowedWarning,
            stacklevel=stacklevel,
        )
    return fates
