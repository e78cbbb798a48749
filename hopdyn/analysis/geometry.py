"""Planes and grids in feature space: where landscapes and basin maps are drawn.

A :class:`Plane` is a 2-D affine plane of ``R^{N_V}`` with an orthonormal basis; a :class:`Grid`
is a regular grid of plane coordinates on it. For ``N_V = 2`` the default plane is the space
itself, otherwise the plane through the origin and the first two memories (it holds RecLag's
origin attractor and two memory attractors). :func:`plane_grid` resolves the defaults and checks
the extent, once for every analysis on a plane.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .._validate import ArrayLike, as_tensor, interval, positive_int
from ..core.network import MHN

__all__ = ["Extent", "Grid", "Plane", "check_extent", "check_plane", "default_extent", "default_plane", "plane_grid"]

Extent = tuple[float, float, float, float]  # (s_min, s_max, t_min, t_max) in plane coordinates


@dataclass(frozen=True)
class Plane:
    """A 2-D plane in feature space: ``v = origin + s·basis[0] + t·basis[1]`` (orthonormal basis).

    ``anchor_names``/``anchors`` are the points that define it (e.g. the origin and two
    memories), ``anchors_2d`` their in-plane coordinates."""

    origin: torch.Tensor
    basis: torch.Tensor
    anchor_names: list[str]
    anchors: torch.Tensor
    anchors_2d: torch.Tensor

    @classmethod
    def through(cls, a: ArrayLike, b: ArrayLike, c: ArrayLike, names: Sequence[str] = ("a", "b", "c")) -> "Plane":
        """The plane through three points, with ``a`` at (0, 0) and ``b`` on the positive s axis."""
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
    def pca(cls, points: ArrayLike) -> "Plane":
        """The plane through the origin spanned by the top two principal directions of ``points``
        ``(N, N_V)`` (e.g. the memories; centred at their mean), each direction's largest entry positive."""
        x = as_tensor(points, "points", min_dim=2).to(torch.float64)
        _, sv, vh = torch.linalg.svd(x - x.mean(0), full_matrices=False)
        if sv.numel() < 2 or float(sv[1]) <= 1e-12 * max(float(sv[0]), 1e-300):
            raise ValueError(f"the {x.shape[0]} points vary along fewer than two directions; a PCA plane needs "
                             "points that span a plane (at least 3, not on one line)")
        d = vh[:2] * torch.sign(vh[:2].gather(1, vh[:2].abs().argmax(1, keepdim=True)))
        return cls.through(torch.zeros_like(d[0]), d[0], d[1], ("origin", "PC 1", "PC 2"))

    @classmethod
    def standard(cls, dtype: torch.dtype = torch.float64) -> "Plane":
        """The whole space of a 2-D network."""
        eye = torch.eye(2, dtype=dtype)
        return cls(torch.zeros(2, dtype=dtype), eye, ["origin"], eye.new_zeros(1, 2), eye.new_zeros(1, 2))

    @property
    def n_features(self) -> int:
        """The dimension ``N_V`` of the space the plane lives in."""
        return self.origin.shape[-1]

    def project(self, v: torch.Tensor) -> torch.Tensor:
        """In-plane coordinates of points ``(..., N_V)`` (their orthogonal projection)."""
        return (v - self.origin.to(v)) @ self.basis.to(v).T

    def embed(self, xy: torch.Tensor) -> torch.Tensor:
        """Feature-space points of in-plane coordinates ``(..., 2)``."""
        return self.origin.to(xy) + xy @ self.basis.to(xy)

    def distance(self, v: torch.Tensor) -> torch.Tensor:
        """Euclidean distance of points ``(..., N_V)`` from the plane, shape ``(...)``."""
        return (v - self.embed(self.project(v))).norm(dim=-1)


@dataclass(frozen=True)
class Grid:
    """A regular grid on a plane: point ``[j, i]`` sits at plane coordinates ``(s[i], t[j])``."""

    plane: Plane
    s: torch.Tensor  # (n_s,)
    t: torch.Tensor  # (n_t,)

    @property
    def extent(self) -> Extent:
        return (float(self.s[0]), float(self.s[-1]), float(self.t[0]), float(self.t[-1]))

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_t, n_s)``: the shape of every value on the grid."""
        return (self.t.numel(), self.s.numel())

    @property
    def coords(self) -> torch.Tensor:
        """``(n_t, n_s, 2)`` plane coordinates."""
        tt, ss = torch.meshgrid(self.t, self.s, indexing="ij")
        return torch.stack([ss, tt], dim=-1)

    @property
    def points(self) -> torch.Tensor:
        """``(n_t, n_s, N_V)`` points of feature space."""
        return self.plane.embed(self.coords)


def default_plane(net: MHN) -> Plane:
    """The feature plane itself for ``N_V = 2``; otherwise the plane through the origin and the
    first two memories (it holds RecLag's origin attractor and two memory attractors)."""
    if net.n_features == 2:
        return Plane.standard()
    if net.n_memories < 2:
        raise ValueError("a network with N_V > 2 needs at least 2 memories for the default plane; pass "
                         "plane=hopdyn.analysis.Plane.through(a, b, c)")
    xi = net.xi.detach().to(torch.float64)
    return Plane.through(torch.zeros_like(xi[0]), xi[0], xi[1], ("origin", "memory 0", "memory 1"))


def check_plane(net: MHN, plane: Plane | None) -> Plane:
    """``plane``, or the :func:`default_plane` when None, checked against the network's ``N_V``."""
    plane = default_plane(net) if plane is None else plane
    if not isinstance(plane, Plane):
        raise ValueError(
            f"plane must be a hopdyn.analysis.Plane (e.g. Plane.through(a, b, c)), got {type(plane).__name__}"
        )
    if plane.n_features != net.n_features:
        raise ValueError(f"plane lives in {plane.n_features} dimensions but the network has N_V = {net.n_features}")
    return plane


def default_extent(net: MHN, plane: Plane, margin: float) -> Extent:
    """A square around the memories' projections and the plane's anchors, ``margin`` times the
    largest of their coordinates."""
    pts = torch.cat([plane.project(net.xi.detach().to(plane.basis)), plane.anchors_2d.to(plane.basis)])
    r = margin * max(float(pts.abs().max()), 1e-3)
    return (-r, r, -r, r)


def check_extent(extent: ArrayLike) -> Extent:
    """``(s_min, s_max, t_min, t_max)``, finite with ``s_min < s_max`` and ``t_min < t_max``."""
    try:
        values = [float(e) for e in extent]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"extent must be (s_min, s_max, t_min, t_max), got {extent!r}") from exc
    if len(values) != 4:
        raise ValueError(f"extent must be (s_min, s_max, t_min, t_max), got {extent!r}")
    s0, s1 = interval(values[0], values[1], "extent (s_min, s_max)")
    t0, t1 = interval(values[2], values[3], "extent (t_min, t_max)")
    return (s0, s1, t0, t1)


def plane_grid(
    net: MHN,
    plane: Plane | None = None,
    extent: Extent | None = None,
    n: int | tuple[int, int] = 101,
    *,
    margin: float = 1.35,
    name: str = "n",
    dtype: torch.dtype | None = None,
) -> Grid:
    """The grid of ``n`` (or ``(n_s, n_t)``) points on ``plane`` (default :func:`default_plane`)
    over ``extent`` (default :func:`default_extent` with ``margin``), in ``dtype`` (default that
    of ``net.xi``). ``name`` is the caller's name for ``n`` in error messages."""
    plane = check_plane(net, plane)
    s0, s1, t0, t1 = check_extent(default_extent(net, plane, margin) if extent is None else extent)
    n_s, n_t = (n, n) if isinstance(n, int) else tuple(n)
    n_s, n_t = positive_int(n_s, name, minimum=2), positive_int(n_t, name, minimum=2)
    kw = dict(dtype=net.xi.dtype if dtype is None else dtype, device=net.xi.device)
    return Grid(plane, torch.linspace(s0, s1, n_s, **kw), torch.linspace(t0, t1, n_t, **kw))
