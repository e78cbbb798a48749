"""Benchmark of the live explorer: how long a view update takes at the grid the page uses."""
from __future__ import annotations

import torch

from .._threads import few_threads
from . import benchmark, interleaved


@benchmark("explore_view")
def explore_view(quick: bool) -> dict:
    """A view update of ``hopdyn explore`` at 200² grid points on a 20-memory 64-D network (the
    PCA plane): a new β (nothing cached) with the default layers (energy, B0, Theorem 1, memory
    fates) and with basins, computed and turned into the page's plotly JSON, against the energy
    layer alone (the least a view can compute) measured alongside."""
    from ..analysis import energy_landscape
    from ..explore.figure import view_figure
    from ..explore.state import State, network
    from ..explore.planes import view_plane
    from ..explore.view import compute_view

    g = torch.Generator().manual_seed(0)
    xi = torch.randn(20, 64, generator=g, dtype=torch.float64)
    n = 100 if quick else 200
    base = State(plane="pca", n=n)
    betas = iter(4.0 + 0.01 * k for k in range(10_000))  # a new β every call: nothing cached

    def update(**changes):
        state = base.with_(beta=next(betas), **changes)
        view = compute_view(state, xi)
        return view_figure(view, state.background, state.overlays).to_json()

    def energy_only():
        state = base.with_(beta=next(betas))
        net = network(state, xi)
        plane = view_plane(state, net)
        return energy_landscape(net, plane, (-3.0, 3.0, -3.0, 3.0), n)

    with few_threads(n * n * xi.numel()):
        t = interleaved({"default_layers": update, "with_basins": lambda: update(background="basins"),
                         "energy_only": energy_only}, repeats=3 if quick else 5)
    worst = max(t["default_layers"], t["with_basins"])
    return {"grid": f"{n}x{n}", "network": "20 memories, N_V = 64, PCA plane", **{f"{k}_s": v for k, v in t.items()},
            "ratio": t["default_layers"] / t["energy_only"],
            "target": "a view update (default layers, and with basins) <= 0.5 s at 200x200 on 2 cores; "
                      "ratio = default view / energy layer alone", "ok": worst <= 0.5}
