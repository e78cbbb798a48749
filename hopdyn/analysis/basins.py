"""Basins of attraction: Monte Carlo basin fractions with Wilson intervals, basin maps on a
plane, their boundaries and the basin entropy.

Everything runs the discrete adiabatic map (eq 12) of the user's network with
:func:`hopdyn.iterate` to convergence over whole batches (``keep="last"``, chunked), so memory
stays bounded; basin maps stop a state once it is in a certified ball of a known attractor
(:mod:`~hopdyn.analysis.certify`), with the same labels. Labels are integers indexing an
:class:`~hopdyn.analysis.attractors.Attractors` set; ``-1`` marks a state that did not
converge. Known attractors (the origin and the memories that survive,
:func:`~hopdyn.analysis.attractors.memory_attractors`) keep their ids, so labels mean the same
across maps, samplers and parameter values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .._chunks import chunk_rows, chunks
from .._validate import ArrayLike, as_tensor, positive, positive_int
from ..core.discrete import iterate
from ..core.network import MHN
from ..stats import SAMPLERS, Sampler, generator, sample, wilson_interval
from .attractors import (
    Attractors, Labeller, WithAttractors, default_label_tol, default_tol, memory_attractors, scale_of,
)
from .certify import certified_labels
from .geometry import Extent, Grid, Plane, plane_grid

__all__ = [
    "BasinEntropy",
    "BasinFractions",
    "BasinMap",
    "basin_entropy",
    "basin_fractions",
    "basin_map",
    "boundary_cells",
]


# -- Monte Carlo basin fractions ------------------------------------------------------------------
@dataclass(frozen=True)
class BasinFractions(WithAttractors):
    """Fractions of sampled initial states ending at each attractor, with 95 % Wilson intervals.

    ``counts[a]`` of ``n`` states ended at attractor ``a`` of ``attractors``; ``n_unconverged``
    did not converge within the step cap; ``mean_steps[a]`` is the mean convergence time.
    ``sampler`` describes where the states came from.
    """

    attractors: Attractors
    counts: torch.Tensor
    n: int
    n_unconverged: int
    fractions: torch.Tensor
    ci_low: torch.Tensor
    ci_high: torch.Tensor
    mean_steps: torch.Tensor
    sampler: str

    def fraction(self, name: str) -> float:
        """Fraction of the basin of the attractor shown as ``name`` (0 if it was never reached)."""
        return float(self.fractions[self.names.index(name)]) if name in self.names else 0.0


def basin_fractions(
    net: MHN,
    sampler: Sampler | ArrayLike = "box",
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
    """Monte Carlo basin fractions of the network ``net``: ``n`` initial states from ``sampler``,
    run to convergence with its own map (eq 12) chunk by chunk (only counts are kept, never the
    trajectories).

    ``sampler`` is ``"box"`` (uniform in ``center ± scale`` per coordinate), ``"ball"`` (uniform
    in the ball of radius ``scale``), ``"gaussian"`` (``N(center, scale²)``), see
    :func:`hopdyn.stats.sample`, or an array of the user's states (then ``n`` is ignored).
    Default ``scale``: 1.5 × the largest memory norm; ``center``: the origin. States are drawn
    in the dtype of ``net.xi`` from :func:`hopdyn.stats.generator` ``(seed, "basin_fractions")``.
    """
    xi = net.xi
    n_v = net.n_features
    data = None
    if isinstance(sampler, str):
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be 'box', 'ball', 'gaussian' or an array of states, got {sampler!r}")
        n = positive_int(n, "n")
        scale = 1.5 * float(xi.norm(dim=-1).max()) if scale is None else positive(scale, "scale")
        c = torch.zeros(n_v, dtype=xi.dtype) if center is None else as_tensor(center, "center", like=xi, last_dim=n_v).to(xi.dtype)
        desc = f"{sampler}(center={'0' if center is None else 'given'}, scale={scale:.4g}, n={n}, seed={seed})"
    else:
        data = net.check_v(sampler, "sampler").reshape(-1, n_v)
        n, desc = data.shape[0], f"data(n={data.shape[0]})"
    scale_xi = scale_of(net)
    tol = default_tol(xi.dtype, scale_xi) if tol is None else positive(tol, "tol")
    label_tol = default_label_tol(scale_xi) if label_tol is None else positive(label_tol, "label_tol")
    lab = Labeller(memory_attractors(net.replace(xi=xi.to(torch.float64))) if known is None else known, label_tol)
    g = generator(seed, "basin_fractions")
    rows = 2 * chunk_rows(n_v + net.n_memories, chunk_size)
    counts = torch.zeros(0, dtype=torch.long)
    steps_sum = torch.zeros(0, dtype=torch.float64)
    n_unconverged = 0
    for sl in chunks(n, rows, progress, "basin fractions"):
        if data is not None:
            v0 = data[sl]
        else:
            v0 = sample(sampler, sl.stop - sl.start, n_v, scale, center=c, generator=g, dtype=xi.dtype)
        run = iterate(net, v0, steps=steps, tol=tol, keep="last", chunk_size=chunk_size, progress=False)
        labels = lab(run.final, run.converged)
        n_unconverged += int((labels < 0).sum())
        ok = labels >= 0
        k = len(lab.names)
        counts = torch.cat([counts, counts.new_zeros(k - counts.numel())]) + torch.bincount(labels[ok], minlength=k)
        steps_sum = torch.cat([steps_sum, steps_sum.new_zeros(k - steps_sum.numel())]) + torch.bincount(
            labels[ok], weights=run.n_steps[ok].to(torch.float64), minlength=k)
    ci = [wilson_interval(int(c_), n) for c_ in counts.tolist()]
    return BasinFractions(
        lab.attractors(xi), counts, n, n_unconverged, counts.to(torch.float64) / n,
        torch.tensor([a for a, _ in ci], dtype=torch.float64), torch.tensor([b for _, b in ci], dtype=torch.float64),
        steps_sum / counts.clamp_min(1), desc,
    )


# -- grid maps on a plane -------------------------------------------------------------------------
@dataclass(frozen=True)
class BasinMap(WithAttractors):
    """Basins on a grid of a plane: ``labels[j, i]`` is the attractor (an index of
    ``attractors``) reached from ``grid.points[j, i]``, at plane coordinates ``(xs[i], ys[j])``
    (``-1``: not converged); ``n_steps[j, i]`` how many steps it took until its label was certain
    (its convergence time, or fewer when it entered a certified ball first). ``points_2d`` are the
    attractors' projections, which lie off the plane when ``off_plane`` > 0; ``memories_2d`` the
    projected memories. ``params`` names the network (memory Lagrangian, N_H, N_V)."""

    grid: Grid
    labels: torch.Tensor
    n_steps: torch.Tensor
    attractors: Attractors
    points_2d: torch.Tensor
    off_plane: torch.Tensor
    memories_2d: torch.Tensor
    params: dict = field(default_factory=dict)

    @property
    def xs(self) -> torch.Tensor:
        return self.grid.s

    @property
    def ys(self) -> torch.Tensor:
        return self.grid.t

    @property
    def plane(self) -> Plane:
        return self.grid.plane

    @property
    def shares(self) -> torch.Tensor:
        """Share of the grid in each attractor's basin, ``(A,)`` float64."""
        total = self.labels.numel()
        ok = self.labels >= 0
        return torch.bincount(self.labels[ok].flatten(), minlength=len(self.attractors)).to(torch.float64) / total

    @property
    def unconverged(self) -> float:
        """Share of the grid that did not converge."""
        return float((self.labels < 0).sum()) / self.labels.numel()

    def fractions(self) -> dict[str, float]:
        """Share of the grid in each basin by display name (and ``"unconverged"``)."""
        out = dict(zip(self.names, self.shares.tolist()))
        out["unconverged"] = self.unconverged
        return out


def basin_map(
    net: MHN,
    resolution: int | tuple[int, int] = 256,
    *,
    extent: Extent | None = None,
    plane: Plane | None = None,
    steps: int = 1000,
    tol: float | None = None,
    label_tol: float | None = None,
    dtype: torch.dtype | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> BasinMap:
    """Basins of attraction of the network ``net`` on a ``resolution`` grid, in one batched run
    of its map (eq 12) to convergence.

    ``plane``: default the whole space when N_V = 2, else the plane through the origin and the
    first two memories (:func:`~hopdyn.analysis.geometry.default_plane`; :meth:`Plane.through`
    gives others). ``extent = (xmin, xmax, ymin, ymax)`` in plane coordinates, default 1.5 × the
    largest projected memory or anchor. ``dtype`` of the run (default the dtype of ``net.xi``;
    float32 is about twice as fast).

    A state stops as soon as it lies in a certified ball of a known attractor
    (:mod:`~hopdyn.analysis.certify`: a ball the map provably contracts into it, or RecLag's
    closed-gate ball about the origin) from which the plain run would stop, within ``steps``, at
    that attractor: the labels are those of running every state until its step is below ``tol``
    (:func:`~hopdyn.analysis.attractors.find_attractors`), at a fraction of the steps.
    """
    # plane coordinates in float64 whatever the run's dtype: the map's labels do not depend on it
    grid = plane_grid(net, plane, extent, resolution, margin=1.5, name="resolution", dtype=torch.float64)
    xi64 = net.xi.to(torch.float64)
    run_net = net if dtype is None or dtype == net.xi.dtype else net.replace(xi=net.xi.to(dtype))
    starts = _starts(grid, run_net.xi.dtype)
    scale = scale_of(run_net)  # the tolerances find_attractors would take on the run's network
    tol = default_tol(starts.dtype, scale) if tol is None else positive(tol, "tol")
    label_tol = default_label_tol(scale) if label_tol is None else positive(label_tol, "label_tol")
    res = certified_labels(run_net, starts, steps=positive_int(steps, "steps", minimum=0), tol=tol,
                           label_tol=label_tol, known=memory_attractors(net.replace(xi=xi64)),
                           chunk_size=chunk_size, progress=progress)
    att = res.attractors
    att = Attractors(att.names, att.points.to(torch.float64), att.kinds, att.memory)
    plane = grid.plane
    return BasinMap(grid, res.labels.reshape(grid.shape), res.n_steps.reshape(grid.shape), att,
                    plane.project(att.points), plane.distance(att.points), plane.project(xi64),
                    {"memory": repr(net.memory), "n_memories": net.n_memories, "n_features": net.n_features})


def _starts(grid: Grid, dtype: torch.dtype) -> torch.Tensor:
    """The grid's points as ``(n_t·n_s, N_V)`` states in ``dtype``. On the standard plane (the
    whole space of a 2-D network) they are the coordinates themselves: ``0 + xy @ I`` is exact,
    so casting the coordinates gives the same states without the float64 detour."""
    p = grid.plane
    if p.n_features == 2 and bool((p.origin == 0).all()) and torch.equal(p.basis, torch.eye(2, dtype=p.basis.dtype)):
        tt, ss = torch.meshgrid(grid.t.to(dtype), grid.s.to(dtype), indexing="ij")
        return torch.stack([ss, tt], dim=-1).reshape(-1, 2)
    return grid.points.reshape(-1, p.n_features).to(dtype)


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
