"""Attractors and their basins, batched: labelling end states, grid maps on a plane, Monte Carlo
basin fractions, basin entropy, fixed points with their stability, and continuation in β or γ.

Everything runs the discrete adiabatic map (eq 12) with :func:`hopdyn.iterate` to convergence
over whole batches (``keep="last"``, chunked), so memory stays bounded. Labels are integers
indexing ``names``/``points``; ``-1`` marks a state that did not converge. Known attractors (the
origin and the memories that survive, see :func:`memory_attractors`) keep their names, so labels
mean the same across maps, samplers and parameter values.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from .._chunks import chunk_rows, chunks
from .._validate import ArrayLike, as_tensor, positive, positive_int
from ..core.lagrangians import LogSumExp, RecLag
from ..core.network import MHN
from ..core.discrete import iterate

__all__ = [
    "AttractorLabels",
    "Attractors",
    "BasinEntropy",
    "BasinFractions",
    "BasinMap",
    "Continuation",
    "FixedPoints",
    "MemoryFates",
    "MemorySwallowedWarning",
    "Plane",
    "basin_entropy",
    "basin_fractions",
    "basin_map",
    "boundary_cells",
    "continuation",
    "find_attractors",
    "fixed_points",
    "generator",
    "memory_attractors",
    "memory_fates",
    "sample_ball",
    "wilson_interval",
]


class MemorySwallowedWarning(UserWarning):
    """γ is so large that the gate is shut at some memories' fixed points: they are no longer
    attractors, and their basins have joined the origin's."""


# -- attractors and labels ------------------------------------------------------------------------
@dataclass(frozen=True)
class Attractors:
    """Named point attractors of a network: ``names[i]`` sits at ``points[i]``."""

    names: list[str]
    points: torch.Tensor  # (A, N_V)

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
        """Name of the attractor within ``tol`` of each state (``"other"`` when none is)."""
        return [self.names[i] if i >= 0 else "other" for i in self.index(states, tol).tolist()]


def memory_attractors(net: MHN, steps: int = 2000, tol: float = 1e-12) -> Attractors:
    """The origin (when it is a fixed point) and the fixed point reached from each memory that
    stays nearest to it (with the gate open there, for RecLag: the rule of :func:`memory_fates`).
    A memory whose own trajectory ends elsewhere — at the origin, say, when γ is large, or at
    another memory — is not listed."""
    xi = net.xi
    ends = iterate(net, xi, steps=steps, tol=tol, keep="last", progress=False).final
    names, points = [], []
    zero = torch.zeros(1, net.n_features, dtype=xi.dtype, device=xi.device)
    if bool((net._step(zero) == 0).all()):
        names.append("origin")
        points.append(zero[0])
    nearest = torch.cdist(ends, xi).argmin(-1)
    # the rule of memory_fates: a nonzero end nearest its own memory, with the gate open there
    ok = ends.norm(dim=-1) > 0
    if isinstance(net.memory, RecLag):
        ok &= net.memory.G(net.hidden(ends)) >= 0
    for k in range(net.n_memories):
        if int(nearest[k]) == k and bool(ok[k]):
            names.append(f"memory {k}")
            points.append(ends[k])
    return Attractors(names, torch.stack(points) if points else zero[:0])


def _scale(net: MHN) -> float:
    return max(float(net.xi.abs().max()), 1e-300)


def _default_tol(dtype: torch.dtype, scale: float) -> float:
    """Convergence tolerance of the map: a few hundred ulps of the state's scale."""
    return (1e-5 if dtype == torch.float32 else 1e-10) * max(scale, 1.0)


class _Labeller:
    """Assigns end states to attractors, discovering new ones as it goes (batched: one pass
    over the batch per new attractor, not per state)."""

    MAX_NEW = 256

    def __init__(self, known: Attractors, tol: float):
        self.names = list(known.names)
        self.points = [p for p in known.points]
        self.tol = tol
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
            self.names.append(f"attractor {len(self.names)}")
            self.points.append(centre.clone())
            todo &= ~near
        return labels

    def attractors(self, like: torch.Tensor) -> Attractors:
        pts = torch.stack(self.points).to(like) if self.points else like.new_zeros(0, like.shape[-1])
        return Attractors(list(self.names), pts)


@dataclass(frozen=True)
class AttractorLabels:
    """Where each initial state ends: ``labels`` index ``names``/``points`` (``-1``: did not
    converge), with the steps it took (``n_steps``) and the end states."""

    labels: torch.Tensor
    names: list[str]
    points: torch.Tensor
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
    """Run the map to convergence from ``v0`` (shape ``(B, N_V)``) and label where each state ends.

    End states within ``label_tol`` (default ``1e-3·max|xi|``) of a ``known`` attractor
    (default :func:`memory_attractors`: the origin and surviving memories) take its name; the
    others are grouped within ``label_tol`` into new attractors named ``"attractor k"``.
    """
    v0 = net.check_v(v0, "v0").reshape(-1, net.n_features)
    scale = _scale(net)
    tol = _default_tol(v0.dtype, scale) if tol is None else positive(tol, "tol")
    label_tol = 1e-3 * max(scale, 1.0) if label_tol is None else positive(label_tol, "label_tol")
    known = memory_attractors(net.replace(xi=net.xi.to(torch.float64))) if known is None else known
    run = iterate(net, v0, steps=steps, tol=tol, keep="last", chunk_size=chunk_size, progress=progress)
    lab = _Labeller(known, label_tol)
    labels = lab(run.final, run.converged)
    att = lab.attractors(run.final)
    return AttractorLabels(labels, att.names, att.points, run.n_steps, run.final)


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
    scale = _scale(net)
    tol = 1e-12 * scale
    same = 1e-6 * max(scale, 1.0)
    vanilla = net64.replace(memory=LogSumExp(beta))

    def hidden(v: torch.Tensor) -> torch.Tensor:
        return net64.feature.activation(v) @ xi.T

    # the vanilla trajectory from every memory at once, with the smallest lse(β h) along it
    v = xi.clone()
    low = mem.G(hidden(v))
    G_memory = low.clone()
    conv = torch.zeros(xi.shape[0], dtype=torch.bool)
    for _ in range(positive_int(steps, "steps")):
        todo = (~conv).nonzero().flatten()
        if todo.numel() == 0:
            break
        nxt = vanilla._step(v[todo])
        conv[todo] = (nxt - v[todo]).abs().amax(-1) <= tol
        v[todo] = nxt
        low[todo] = torch.minimum(low[todo], mem.G(hidden(nxt)))
    own = _own_points(v, conv, xi, same)
    G = mem.G(hidden(v))
    limit = low + log_gamma
    run = iterate(net64, xi, steps=steps, tol=tol, keep="last", progress=False)
    ends = run.final
    nonzero = ends.norm(dim=-1) > 1e-9 * scale
    idx = torch.arange(xi.shape[0])
    survives = (run.converged & nonzero & (torch.cdist(ends, xi).argmin(-1) == idx)
                & (mem.G(hidden(ends)) >= 0))
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


# -- sampling and confidence intervals ------------------------------------------------------------
def sample_ball(
    n: int, dim: int, radius: float, *, center: torch.Tensor | None = None, generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """``n`` points uniform in the ball of ``radius`` in ``dim`` dimensions (Gaussian direction,
    radius ``R·U^{1/d}``)."""
    d = torch.randn(n, dim, generator=generator, dtype=dtype)
    d = d / d.norm(dim=-1, keepdim=True).clamp_min(1e-300)
    r = radius * torch.rand(n, 1, generator=generator, dtype=dtype) ** (1.0 / dim)
    return d * r + (0 if center is None else center)


def _sample(kind: str, n: int, center: torch.Tensor, scale: float, g: torch.Generator) -> torch.Tensor:
    dim, dtype = center.shape[-1], center.dtype
    if kind == "box":
        return center + scale * (2 * torch.rand(n, dim, generator=g, dtype=dtype) - 1)
    if kind == "ball":
        return sample_ball(n, dim, scale, center=center, generator=g, dtype=dtype)
    return center + scale * torch.randn(n, dim, generator=g, dtype=dtype)


def generator(seed: int, stream: str) -> torch.Generator:
    """A torch generator for ``seed`` whose stream differs from ``manual_seed(seed)``: users
    often draw ``xi`` with ``torch.manual_seed(0)``, and sampling states from that very stream
    would start them exactly on the memories."""
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


# -- Monte Carlo basin fractions ------------------------------------------------------------------
@dataclass(frozen=True)
class BasinFractions:
    """Fractions of sampled initial states ending at each attractor, with 95 % Wilson intervals.

    ``counts[i]`` of ``n`` states ended at ``names[i]`` (at ``points[i]``); ``n_unconverged``
    did not converge within the step cap; ``mean_steps[i]`` is the mean convergence time.
    ``sampler`` describes where the states came from.
    """

    names: list[str]
    points: torch.Tensor
    counts: torch.Tensor
    n: int
    n_unconverged: int
    fractions: torch.Tensor
    ci_low: torch.Tensor
    ci_high: torch.Tensor
    mean_steps: torch.Tensor
    sampler: str

    def fraction(self, name: str) -> float:
        """Fraction of the basin of the attractor called ``name`` (0 if it was never reached)."""
        return float(self.fractions[self.names.index(name)]) if name in self.names else 0.0


def basin_fractions(
    net: MHN,
    sampler: Literal["box", "ball", "gaussian"] | ArrayLike = "box",
    n: int = 100_000,
    *,
    scale: float | None = None,
    center: ArrayLike | None = None,
    seed: int = 0,
    steps: int = 1000,
    tol: float | None = None,
    label_tol: float | None = None,
    known: Attractors | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> BasinFractions:
    """Monte Carlo basin fractions: ``n`` initial states from ``sampler``, run to convergence
    chunk by chunk (only counts are kept, never the trajectories).

    ``sampler`` is ``"box"`` (uniform in ``center ± scale`` per coordinate), ``"ball"`` (uniform
    in the ball of radius ``scale``), ``"gaussian"`` (``N(center, scale²)``), or an array of the
    user's states (then ``n`` is ignored). Default ``scale``: 1.5 × the largest memory norm;
    ``center``: the origin. States are drawn in the dtype of ``net.xi``.
    """
    xi = net.xi
    n_v = net.n_features
    data = None
    if isinstance(sampler, str):
        if sampler not in ("box", "ball", "gaussian"):
            raise ValueError(f"sampler must be 'box', 'ball', 'gaussian' or an array of states, got {sampler!r}")
        n = positive_int(n, "n")
        scale = 1.5 * float(xi.norm(dim=-1).max()) if scale is None else positive(scale, "scale")
        c = torch.zeros(n_v, dtype=xi.dtype) if center is None else as_tensor(center, "center", like=xi, last_dim=n_v).to(xi.dtype)
        desc = f"{sampler}(center={'0' if center is None else 'given'}, scale={scale:.4g}, n={n}, seed={seed})"
    else:
        data = net.check_v(sampler, "sampler").reshape(-1, n_v)
        n, desc = data.shape[0], f"data(n={data.shape[0]})"
    scale_xi = _scale(net)
    tol = _default_tol(xi.dtype, scale_xi) if tol is None else positive(tol, "tol")
    label_tol = 1e-3 * max(scale_xi, 1.0) if label_tol is None else positive(label_tol, "label_tol")
    lab = _Labeller(memory_attractors(net.replace(xi=xi.to(torch.float64))) if known is None else known, label_tol)
    g = generator(seed, "basin_fractions")
    rows = 2 * chunk_rows(n_v + net.n_memories, chunk_size)
    counts = torch.zeros(0, dtype=torch.long)
    steps_sum = torch.zeros(0, dtype=torch.float64)
    n_unconverged = 0
    for sl in chunks(n, rows, progress, "basin fractions"):
        v0 = data[sl] if data is not None else _sample(sampler, sl.stop - sl.start, c, scale, g)
        run = iterate(net, v0, steps=steps, tol=tol, keep="last", chunk_size=chunk_size, progress=False)
        labels = lab(run.final, run.converged)
        n_unconverged += int((labels < 0).sum())
        ok = labels >= 0
        k = len(lab.names)
        counts = torch.cat([counts, counts.new_zeros(k - counts.numel())]) + torch.bincount(labels[ok], minlength=k)
        steps_sum = torch.cat([steps_sum, steps_sum.new_zeros(k - steps_sum.numel())]) + torch.bincount(
            labels[ok], weights=run.n_steps[ok].to(torch.float64), minlength=k)
    att = lab.attractors(xi)
    ci = [wilson_interval(int(c_), n) for c_ in counts.tolist()]
    return BasinFractions(
        att.names, att.points, counts, n, n_unconverged, counts.to(torch.float64) / n,
        torch.tensor([a for a, _ in ci], dtype=torch.float64), torch.tensor([b for _, b in ci], dtype=torch.float64),
        steps_sum / counts.clamp_min(1), desc,
    )


# -- grid maps on a plane -------------------------------------------------------------------------
@dataclass(frozen=True)
class Plane:
    """A 2-D plane in feature space: ``v = origin + x·basis[0] + y·basis[1]`` (orthonormal basis).

    ``anchor_names``/``anchors`` are the points that define it (e.g. the origin and two
    memories), ``anchors_2d`` their in-plane coordinates."""

    origin: torch.Tensor
    basis: torch.Tensor
    anchor_names: list[str]
    anchors: torch.Tensor
    anchors_2d: torch.Tensor

    @classmethod
    def through(cls, a: ArrayLike, b: ArrayLike, c: ArrayLike, names: Sequence[str] = ("a", "b", "c")) -> "Plane":
        """The plane through three points, with ``a`` at (0, 0) and ``b`` on the positive x axis."""
        a = as_tensor(a, "a")
        b, c = as_tensor(b, "b", like=a, last_dim=a.shape[-1]), as_tensor(c, "c", like=a, last_dim=a.shape[-1])
        e1 = b - a
        if float(e1.norm()) == 0:
            raise ValueError("the plane's points a and b coincide; give three points not on one line")
        e1 = e1 / e1.norm()
        e2 = (c - a) - ((c - a) @ e1) * e1
        if float(e2.norm()) <= 1e-12 * max(float((c - a).norm()), 1e-300):
            raise ValueError("the plane's three points lie on one line; give three points that span a plane")
        basis = torch.stack([e1, e2 / e2.norm()])
        anchors = torch.stack([a, b, c])
        return cls(a, basis, list(names), anchors, (anchors - a) @ basis.T)

    @classmethod
    def standard(cls, dtype: torch.dtype = torch.float64) -> "Plane":
        """The whole space of a 2-D network."""
        eye = torch.eye(2, dtype=dtype)
        return cls(torch.zeros(2, dtype=dtype), eye, ["origin"], eye.new_zeros(1, 2), eye.new_zeros(1, 2))

    def project(self, v: torch.Tensor) -> torch.Tensor:
        """In-plane coordinates of points ``(..., N_V)`` (their orthogonal projection)."""
        return (v - self.origin.to(v)) @ self.basis.to(v).T

    def embed(self, xy: torch.Tensor) -> torch.Tensor:
        """Feature-space points of in-plane coordinates ``(..., 2)``."""
        return self.origin.to(xy) + xy @ self.basis.to(xy)


@dataclass(frozen=True)
class BasinMap:
    """Basins on a grid of a plane: ``labels[j, i]`` is the attractor reached from
    ``plane.embed((xs[i], ys[j]))`` (``-1``: not converged), ``n_steps[j, i]`` how many steps it
    took. ``names``/``points`` are the attractors (``points_2d`` their projections, which lie off
    the plane when ``off_plane`` > 0), ``memories_2d`` the projected memories. ``params``
    names the network (memory Lagrangian, N_H, N_V)."""

    xs: torch.Tensor
    ys: torch.Tensor
    labels: torch.Tensor
    n_steps: torch.Tensor
    names: list[str]
    points: torch.Tensor
    points_2d: torch.Tensor
    off_plane: torch.Tensor
    memories_2d: torch.Tensor
    plane: Plane
    params: dict = field(default_factory=dict)

    def fractions(self) -> dict[str, float]:
        """Share of the grid in each basin (and ``"unconverged"``)."""
        total = self.labels.numel()
        out = {name: float((self.labels == i).sum()) / total for i, name in enumerate(self.names)}
        out["unconverged"] = float((self.labels < 0).sum()) / total
        return out


def basin_map(
    net: MHN,
    resolution: int | tuple[int, int] = 256,
    *,
    extent: tuple[float, float, float, float] | None = None,
    plane: Plane | None = None,
    steps: int = 1000,
    tol: float | None = None,
    label_tol: float | None = None,
    dtype: torch.dtype | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> BasinMap:
    """Basins of attraction on a ``resolution`` grid, in one batched run to convergence.

    ``plane``: default the whole space when N_V = 2, else the plane through the origin and the
    first two memories (:meth:`Plane.through` gives others). ``extent = (xmin, xmax, ymin,
    ymax)`` in plane coordinates, default 1.5 × the largest projected memory or anchor.
    ``dtype`` of the run (default the dtype of ``net.xi``; float32 is about twice as fast).
    """
    nx, ny = (resolution, resolution) if isinstance(resolution, int) else resolution
    nx, ny = positive_int(nx, "resolution"), positive_int(ny, "resolution")
    xi64 = net.xi.to(torch.float64)
    if plane is None:
        if net.n_features == 2:
            plane = Plane.standard()
        elif net.n_memories >= 2:
            plane = Plane.through(torch.zeros_like(xi64[0]), xi64[0], xi64[1], ("origin", "memory 0", "memory 1"))
        else:
            raise ValueError("basin_map needs a plane (hd.basins.Plane.through) when N_V > 2 and N_H < 2")
    elif plane.origin.shape[-1] != net.n_features:
        raise ValueError(f"plane lives in {plane.origin.shape[-1]} dimensions but the network has N_V = {net.n_features}")
    mem2d = plane.project(xi64)
    if extent is None:
        r = 1.5 * float(torch.cat([mem2d, plane.anchors_2d.to(mem2d)]).abs().max().clamp_min(1e-12))
        extent = (-r, r, -r, r)
    if len(extent) != 4 or not all(math.isfinite(float(e)) for e in extent) or extent[0] >= extent[1] or extent[2] >= extent[3]:
        raise ValueError(f"extent must be finite (xmin, xmax, ymin, ymax) with xmin < xmax and ymin < ymax, got {extent}")
    run_net = net if dtype is None or dtype == net.xi.dtype else net.replace(xi=net.xi.to(dtype))
    dt = run_net.xi.dtype
    xs = torch.linspace(float(extent[0]), float(extent[1]), nx, dtype=torch.float64)
    ys = torch.linspace(float(extent[2]), float(extent[3]), ny, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)
    res = find_attractors(run_net, plane.embed(grid).to(dt), steps=steps, tol=tol, label_tol=label_tol,
                          known=memory_attractors(net.replace(xi=xi64)), chunk_size=chunk_size, progress=progress)
    pts = res.points.to(torch.float64)
    p2 = plane.project(pts)
    off = (pts - plane.embed(p2)).norm(dim=-1)
    return BasinMap(xs, ys, res.labels.reshape(ny, nx), res.n_steps.reshape(ny, nx), res.names, pts, p2, off, mem2d,
                    plane, {"memory": repr(net.memory), "n_memories": net.n_memories, "n_features": net.n_features})


# -- boundaries and basin entropy -----------------------------------------------------------------
def boundary_cells(labels: torch.Tensor) -> torch.Tensor:
    """Grid cells with a 4-neighbour in another basin (bool, same shape as ``labels``)."""
    labels = torch.as_tensor(labels)
    out = torch.zeros_like(labels, dtype=torch.bool)
    dx = labels[:, 1:] != labels[:, :-1]
    dy = labels[1:, :] != labels[:-1, :]
    out[:, 1:] |= dx
    out[:, :-1] |= dx
    out[1:, :] |= dy
    out[:-1, :] |= dy
    return out


@dataclass(frozen=True)
class BasinEntropy:
    """Basin entropy (Daza et al. 2016) of a basin map cut into ``box``×``box`` cells:
    ``entropy`` (S_b) is the mean Gibbs entropy of the label mix over all boxes, ``boundary_entropy``
    (S_bb) its mean over the ``n_boundary_boxes`` boxes holding more than one basin.
    ``fractal_boundary`` is their sufficient condition S_bb > log 2."""

    box: int
    entropy: float
    boundary_entropy: float
    n_boxes: int
    n_boundary_boxes: int
    fractal_boundary: bool


def basin_entropy(labels: torch.Tensor, box: int = 5) -> BasinEntropy:
    """Basin entropy S_b and boundary basin entropy S_bb of a label grid (unconverged cells,
    label -1, count as a basin of their own)."""
    labels = torch.as_tensor(labels)
    if labels.dim() != 2:
        raise ValueError(f"labels must be a 2-D grid, got shape {tuple(labels.shape)}")
    box = positive_int(box, "box")
    by, bx = labels.shape[0] // box, labels.shape[1] // box
    if by == 0 or bx == 0:
        raise ValueError(f"box = {box} is larger than the grid {tuple(labels.shape)}")
    cut = labels[: by * box, : bx * box] + 1
    onehot = torch.nn.functional.one_hot(cut, int(cut.max()) + 1).to(torch.float64)
    p = onehot.reshape(by, box, bx, box, -1).sum((1, 3)) / (box * box)
    s = -(p * torch.log(torch.where(p > 0, p, torch.ones_like(p)))).sum(-1)
    boundary = (p > 0).sum(-1) > 1
    n_b = int(boundary.sum())
    s_bb = float(s[boundary].mean()) if n_b else 0.0
    return BasinEntropy(box, float(s.mean()), s_bb, by * bx, n_b, s_bb > math.log(2))


# -- fixed points and stability -------------------------------------------------------------------
@dataclass(frozen=True)
class FixedPoints:
    """Fixed points ``v = step(v)`` found by Newton's method from many seeds, deduplicated.

    ``eig_map`` are the eigenvalues of the map's Jacobian (autograd); ``kind_map`` is
    ``"stable"`` (all |λ| < 1), ``"unstable"`` (all > 1) or ``"saddle"``. ``kind_flow``
    classifies the same point for the flow ``τ_V dv/dt = step(v) − v`` (Re(λ − 1) < 0 stable).
    ``names`` match known attractors (the origin, memories) or read ``"fixed point k"``;
    ``residual`` is ‖step(v) − v‖∞.

    The search can be incomplete, and says how: ``n_seeds`` Newton runs, ``n_converged`` of
    which reached a fixed point; ``note`` describes the seeds and what they can miss."""

    points: torch.Tensor
    names: list[str]
    eig_map: torch.Tensor
    kind_map: list[str]
    kind_flow: list[str]
    residual: torch.Tensor
    n_seeds: int = 0
    n_converged: int = 0
    note: str = ""


def _classify(values: torch.Tensor, stable: torch.Tensor, unstable: torch.Tensor) -> list[str]:
    return ["stable" if s else "unstable" if u else "saddle" for s, u in zip(stable.tolist(), unstable.tolist())]


#: Points per axis of the default seed grid of :func:`fixed_points`, by N_V (regular grids up to 3-D).
_GRID = {1: 128, 2: 24, 3: 10}


def _default_seeds(net: MHN, xi: torch.Tensor, n_random: int, seed: int) -> tuple[torch.Tensor, str]:
    n_h, n_v = xi.shape
    box = 1.5 * float(xi.norm(dim=-1).max())
    parts = [xi, torch.zeros(1, n_v, dtype=torch.float64)]
    what = ["the memories", "the origin"]
    if n_h <= 32:
        # pairwise mixtures (1/4, 1/2, 3/4): saddles sit between memories, not always midway
        i, j = torch.triu_indices(n_h, n_h, 1)
        t = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)[:, None, None]
        parts.append(((1 - t) * xi[i] + t * xi[j]).reshape(-1, n_v))
        what.append("pairwise mixtures (1/4, 1/2, 3/4)")
    if n_v in _GRID:
        k = _GRID[n_v]
        axis = torch.linspace(-box, box, k, dtype=torch.float64)
        cloud = torch.stack(torch.meshgrid(*[axis] * n_v, indexing="ij"), -1).reshape(-1, n_v)
        spacing = 2 * box / (k - 1)
        what.append(f"a regular {'x'.join([str(k)] * n_v)} grid over the box ±{box:.4g} (spacing {spacing:.3g})")
    else:
        g = generator(seed, "fixed_points")
        cloud = box * (2 * torch.rand(n_random, n_v, generator=g, dtype=torch.float64) - 1)
        what.append(f"{n_random} random points in the box ±{box:.4g}")
    parts.append(cloud)
    # softmax-mixtures: the map's image of the cloud (Σ softmax(β xi v)_mu xi_mu for LSE), which
    # lands in the hull of the memories where the fixed points are
    with torch.no_grad():
        parts.append(net._step(cloud))
    what.append("the map's image of those (softmax-mixtures of the memories)")
    return torch.cat(parts), ", ".join(what)


def fixed_points(
    net: MHN,
    seeds: ArrayLike | None = None,
    *,
    n_random: int = 256,
    seed: int = 0,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> FixedPoints:
    """Solve ``v = step(v)`` (eq 12) by batched Newton iterations and classify each solution.

    Seeds default to the memories, the origin, mixtures of memory pairs (for N_H ≤ 32), a
    regular grid over the box ±1.5·max‖xi[mu]‖ when N_V ≤ 3 (else ``n_random`` random points
    in it) and the map's image of those points (softmax-mixtures). Newton finds only what its
    seeds lead to: ``FixedPoints.note`` says what was seeded and what can be missed. Float64
    throughout.
    """
    xi = net.xi.to(torch.float64)
    net64 = net.replace(xi=xi)
    scale = _scale(net)
    if seeds is None:
        v, what = _default_seeds(net64, xi, positive_int(n_random, "n_random"), seed)
        note = (f"Newton from {{n}} seeds ({what}); fixed points outside the seeded box, or whose Newton "
                "basins are smaller than the seed spacing, can be missed")
    else:
        v = net64.check_v(seeds, "seeds").to(torch.float64).reshape(-1, net.n_features).clone()
        note = "Newton from {n} given seeds; fixed points whose Newton basins hold none of them are missed"
    n_seeds = v.shape[0]
    eye = torch.eye(net.n_features, dtype=torch.float64)
    jac = torch.func.vmap(torch.func.jacrev(lambda x: net64._step(x[None])[0]))
    active = torch.arange(v.shape[0])
    for _ in range(max_iter):
        F = net64._step(v[active]) - v[active]
        active, F = active[F.abs().amax(-1) > tol * scale], F[F.abs().amax(-1) > tol * scale]
        if active.numel() == 0:
            break
        J = jac(v[active])
        delta = torch.linalg.lstsq(J - eye, -F[..., None]).solution[..., 0]
        # damped: a Newton step longer than the memories' scale has left the region where
        # the linearisation means anything
        norm = delta.norm(dim=-1, keepdim=True)
        delta = torch.where(torch.isfinite(norm), delta * (scale / norm.clamp_min(scale)), torch.zeros_like(delta))
        v[active] = v[active] + delta
    res = (net64._step(v) - v).abs().amax(-1)
    v = v[res <= tol * scale * 10]
    n_converged = v.shape[0]
    lab = _Labeller(Attractors([], v.new_zeros(0, net.n_features)), 1e-6 * max(scale, 1.0))
    lab.limit = v.shape[0] + 1  # every converged seed may be a fixed point of its own
    labels = lab(v, torch.ones(v.shape[0], dtype=torch.bool))
    first = [int((labels == k).nonzero()[0]) for k in range(len(lab.names))]
    pts = v[first] if first else v[:0]
    known = memory_attractors(net64)
    idx = known.index(pts, 1e-6 * max(scale, 1.0)).tolist()
    names = [known.names[i] if i >= 0 else f"fixed point {k}" for k, i in enumerate(idx)]
    J = jac(pts) if pts.shape[0] else pts.new_zeros(0, net.n_features, net.n_features)
    eig = torch.linalg.eigvals(J)
    kind_map = _classify(eig, (eig.abs() < 1).all(-1), (eig.abs() > 1).all(-1))
    kind_flow = _classify(eig, (eig.real < 1).all(-1), (eig.real > 1).all(-1))
    return FixedPoints(pts, names, eig, kind_map, kind_flow, (net64._step(pts) - pts).abs().amax(-1),
                       n_seeds, n_converged, note.format(n=n_seeds))


# -- continuation ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Continuation:
    """Attractors and basin fractions along a sweep of ``parameter`` (``"beta"`` or ``"gamma"``).

    Attractors are matched across ``values`` by name (the origin, memories) or, for others, by
    nearness to the previous value's. ``present[v, a]`` says whether attractor ``names[a]``
    exists at ``values[v]``, ``points[v, a]`` where (NaN if absent), ``fractions``/``ci_low``/
    ``ci_high`` its basin share on the same sampled states (common random numbers)."""

    parameter: str
    values: torch.Tensor
    names: list[str]
    present: torch.Tensor
    points: torch.Tensor
    fractions: torch.Tensor
    ci_low: torch.Tensor
    ci_high: torch.Tensor


def continuation(
    xi: ArrayLike,
    parameter: Literal["beta", "gamma"],
    values: ArrayLike,
    *,
    beta: float | None = None,
    gamma: float | None = None,
    sampler: Literal["box", "ball", "gaussian"] | ArrayLike = "box",
    n: int = 20_000,
    scale: float | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> Continuation:
    """Sweep β (at fixed ``gamma``) or γ (at fixed ``beta``) of a RecLag network — or β of the
    vanilla network when ``gamma`` is None — and follow attractors and their basin fractions."""
    xi = as_tensor(xi, "xi", min_dim=2).to(torch.float64)
    vals = as_tensor(values, "values").to(torch.float64).reshape(-1)
    if parameter not in ("beta", "gamma"):
        raise ValueError(f"parameter must be 'beta' or 'gamma', got {parameter!r}")
    if parameter == "gamma" and beta is None:
        raise ValueError("a sweep over gamma needs beta")
    if parameter == "beta" and beta is not None:
        raise ValueError("a sweep over beta takes no fixed beta")

    def make(x: float) -> MHN:
        b, g_ = (x, gamma) if parameter == "beta" else (beta, x)
        return MHN(xi, memory=LogSumExp(b) if g_ is None else RecLag(b, g_))

    names: list[str] = []
    rows = []
    scale_xi = float(xi.abs().max())
    for x in chunks(vals.numel(), 1, progress, f"continuation in {parameter}"):
        fr = basin_fractions(make(float(vals[x][0])), sampler, n, scale=scale, seed=seed, progress=False)
        renamed = list(fr.names)
        prev = rows[-1] if rows else None
        for k, name in enumerate(fr.names):
            if name.startswith("attractor") and prev is not None:
                # follow an unnamed attractor from the previous value: the nearest one there
                cand = [(float((fr.points[k] - p).norm()), nm) for nm, p in prev[0].items() if nm.startswith("attractor")]
                if cand and min(cand)[0] <= 0.1 * max(scale_xi, 1.0):
                    renamed[k] = min(cand)[1]
            if renamed[k] not in names:
                names.append(renamed[k])
        rows.append(({nm: fr.points[k] for k, nm in enumerate(renamed)},
                     {nm: (float(fr.fractions[k]), float(fr.ci_low[k]), float(fr.ci_high[k])) for k, nm in enumerate(renamed)}))
    V, A = vals.numel(), len(names)
    present = torch.zeros(V, A, dtype=torch.bool)
    points = torch.full((V, A, xi.shape[1]), math.nan, dtype=torch.float64)
    stats = torch.zeros(3, V, A, dtype=torch.float64)
    for v, (pts, frs) in enumerate(rows):
        for a, nm in enumerate(names):
            if nm in pts:
                present[v, a] = True
                points[v, a] = pts[nm]
                stats[:, v, a] = torch.tensor(frs[nm], dtype=torch.float64)
    return Continuation(parameter, vals, names, present, points, stats[0], stats[1], stats[2])
