"""Fixed points of the discrete map (eq 12) by Newton's method, with their stability for the
map and for the flow (eqs 1–2 in the adiabatic limit)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .._validate import ArrayLike, positive, positive_int
from ..core.network import MHN
from ..stats import generator, sample_box
from .attractors import Attractors, Labeller, memory_attractors, scale_of

__all__ = ["FixedPoints", "fixed_points"]


def _jacobian(net: MHN) -> Callable[[torch.Tensor], torch.Tensor]:
    """``v (B, N_V) ↦`` the map's Jacobians ``(B, N_V, N_V)`` by reverse-mode autograd. Rows of a
    batch do not interact, so the Jacobian of the batch sum holds every row's own (one
    backward pass per output coordinate, batched by ``jacrev``)."""
    def jac(v: torch.Tensor) -> torch.Tensor:
        return torch.func.jacrev(lambda x: net.step(x).sum(0))(v).permute(1, 0, 2)

    return jac


@dataclass(frozen=True)
class FixedPoints:
    """Fixed points ``v = step(v)`` found by Newton's method from many seeds, deduplicated.

    ``eig_map`` are the eigenvalues of the map's Jacobian (autograd); ``kind_map`` is
    ``"stable"`` (all |λ| < 1), ``"unstable"`` (all > 1) or ``"saddle"``. ``kind_flow``
    classifies the same point for the flow ``τ_V dv/dt = step(v) − v`` (Re(λ − 1) < 0 stable).
    ``kinds``/``memory``/``names`` identify the known attractors among them as in
    :class:`~hopdyn.analysis.attractors.Attractors` (kind ``"origin"`` or ``"memory"`` with the
    memory's index); the others are of kind ``"other"``, shown as ``"fixed point k"``.
    ``residual`` is ‖step(v) − v‖∞.

    The search can be incomplete, and says how: ``n_seeds`` Newton runs, ``n_converged`` of
    which reached a fixed point; ``note`` describes the seeds and what they can miss."""

    points: torch.Tensor
    names: list[str]
    kinds: list[str]
    memory: torch.Tensor
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
        cloud = sample_box(n_random, n_v, box, generator=generator(seed, "fixed_points"), dtype=torch.float64)
        what.append(f"{n_random} random points in the box ±{box:.4g}")
    parts.append(cloud)
    # softmax-mixtures: the map's image of the cloud (Σ softmax(β xi v)_mu xi_mu for LSE), which
    # lands in the hull of the memories where the fixed points are
    with torch.no_grad():
        parts.append(net.step(cloud))
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
    throughout, on the network's own map (its memory and feature Lagrangians; τ_V only scales
    the flow, not its fixed points or their stability).
    """
    if not isinstance(net, MHN):
        raise ValueError(f"net must be a hopdyn.MHN, got {type(net).__name__}")
    max_iter = positive_int(max_iter, "max_iter")
    tol = positive(tol, "tol")
    xi = net.xi.to(torch.float64)
    net64 = net.replace(xi=xi)
    scale = scale_of(net)
    if seeds is None:
        v, what = _default_seeds(net64, xi, positive_int(n_random, "n_random"), seed)
        note = (f"Newton from {{n}} seeds ({what}); fixed points outside the seeded box, or whose Newton "
                "basins are smaller than the seed spacing, can be missed")
    else:
        v = net64.check_v(seeds, "seeds").to(torch.float64).reshape(-1, net.n_features).clone()
        note = "Newton from {n} given seeds; fixed points whose Newton basins hold none of them are missed"
    n_seeds = v.shape[0]
    eye = torch.eye(net.n_features, dtype=torch.float64)
    jac = _jacobian(net64)
    active = torch.arange(v.shape[0])
    for _ in range(max_iter):
        F = net64.step(v[active]) - v[active]
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
    res = (net64.step(v) - v).abs().amax(-1)
    v = v[res <= tol * scale * 10]
    n_converged = v.shape[0]
    same = 1e-6 * max(scale, 1.0)
    # deduplicate: group the converged seeds within `same` (the first of each group stands for it)
    lab = Labeller(Attractors.empty(net.n_features), same)
    lab.limit = v.shape[0] + 1  # every converged seed may be a fixed point of its own
    labels = lab(v, torch.ones(v.shape[0], dtype=torch.bool))
    first = [int((labels == k).nonzero()[0]) for k in range(len(lab.names))]
    pts = v[first] if first else v[:0]
    # identify the known attractors (origin, memories) among them by their ids
    known = memory_attractors(net64)
    idx = known.index(pts, same).tolist()
    names = [known.names[i] if i >= 0 else f"fixed point {k}" for k, i in enumerate(idx)]
    kinds = [known.kinds[i] if i >= 0 else "other" for i in idx]
    memory = torch.tensor([int(known.memory[i]) if i >= 0 else -1 for i in idx], dtype=torch.long)
    J = jac(pts) if pts.shape[0] else pts.new_zeros(0, net.n_features, net.n_features)
    eig = torch.linalg.eigvals(J)
    kind_map = _classify(eig, (eig.abs() < 1).all(-1), (eig.abs() > 1).all(-1))
    kind_flow = _classify(eig, (eig.real < 1).all(-1), (eig.real > 1).all(-1))
    return FixedPoints(pts, names, kinds, memory, eig, kind_map, kind_flow, (net64.step(pts) - pts).abs().amax(-1),
                       n_seeds, n_converged, note.format(n=n_seeds))
