"""The plane the explorer shows, as a :class:`hopdyn.analysis.Plane`.

For ``N_V = 2`` it is the space itself. In more dimensions the user picks one of three planes, all
through the origin (where RecLag's attractor of Theorem 1 and the centre of its ball lie):

- ``"memories"``: through the origin and memories ``i`` and ``j`` (:meth:`Plane.through`);
- ``"pca"``: spanned by the memories' top-2 principal directions (:meth:`Plane.pca`);
- ``"directions"``: spanned by two directions the user types as ``N_V`` comma-separated numbers.
"""
from __future__ import annotations

import torch

from ..analysis.geometry import Plane
from ..core.network import MHN
from .state import State, _floats

__all__ = ["view_plane"]


def _direction(text: str, name: str, n_v: int) -> torch.Tensor:
    d = _floats(text, name)
    if len(d) != n_v:
        raise ValueError(f"direction {name} needs N_V = {n_v} comma-separated numbers, got {len(d)}")
    t = torch.tensor(d, dtype=torch.float64)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"direction {name} must be finite (no NaN or inf)")
    return t


def view_plane(state: State, net: MHN) -> Plane:
    """The plane of ``state`` in the feature space of ``net`` (float64)."""
    if net.n_features == 2:
        return Plane.standard()
    xi = net.xi.detach().to(torch.float64)
    zero = torch.zeros_like(xi[0])
    if state.plane == "memories":
        i, j = state.pair
        n_h = net.n_memories
        if not (0 <= i < n_h and 0 <= j < n_h) or i == j:
            raise ValueError(f"the plane needs two different memories in 0..{n_h - 1}, got {i} and {j}")
        return Plane.through(zero, xi[i], xi[j], ("origin", f"memory {i}", f"memory {j}"))
    if state.plane == "pca":
        return Plane.pca(xi)
    u, v = _direction(state.u, "u", net.n_features), _direction(state.v, "v", net.n_features)
    return Plane.through(zero, u, v, ("origin", "u", "v"))
