"""Recipes for the theorem and basin figures on the planar network (β = 4): basin maps, Theorem 1's
three radii and Theorem 2's sweep, drawn from the reports of :mod:`hopdyn.analysis.theorems` and the maps
of :mod:`hopdyn.analysis.basins`, coloured by attractor id."""

from __future__ import annotations

from pathlib import Path

import torch

from ..analysis.theorems import check_theorem2
from ..core.lagrangians import RecLag
from ..datasets import PLANAR_BETA, planar_memories
from . import figure, save
from .network import DPI, basins_figure, continuation_figure, radii_figure
from .paper import planar, seeded_starts

#: A γ large enough that memory 1 of the planar network is swallowed by the origin's basin.
SWALLOW_GAMMA = 100000.0


@figure(
    "basin_maps",
    "Basins of attraction of the discrete map (eq 12) on a 240 x 240 grid of the planar network (beta = 4), "
    "coloured by the attractor reached, boundaries in black, each basin's share of the square in the legend: "
    "vanilla MHN (five memories), RecLag with gamma = 1000 (the origin's basin, grey, contains B0, dashed) "
    "and with gamma = 100000, where memory 1 has fallen into B0 and is no longer an attractor.",
)
def basins(out_dir: Path) -> list[Path]:
    net = planar()
    swallow = net.reclag.replace(memory=RecLag(PLANAR_BETA, SWALLOW_GAMMA))
    fig = basins_figure(net, 240, extra=[(swallow, "RecLag(beta=4, gamma=100000)")])
    return save(fig, out_dir, "basin_maps", dpi=DPI)


@figure(
    "theorem1_radii",
    "Theorem 1 on the planar network (RecLag, beta = 4, gamma = 1000) over its energy: circles of the paper's "
    "radius eps (eq 39, dotted), the Cauchy-Schwarz radius eps_CS (dashed) and the exact radius r* (solid), "
    "which touches the boundary of B0 (white) at the cross; every point inside a circle is sent to 0 in one step.",
)
def radii(out_dir: Path) -> list[Path]:
    return save(radii_figure(planar(), extent=(-1.5, 1.5, -1.5, 1.5)), out_dir, "theorem1_radii", dpi=DPI)


@figure(
    "theorem2_sweep",
    "Theorem 2 on the planar network (beta = 4): the largest distance between the RecLag and the vanilla "
    "trajectory (discrete map) from three seeded starts, against gamma/gamma* (gamma* = the smallest "
    "sum_mu exp(beta xi_mu . v) along the vanilla trajectory). It is exactly 0 for every gamma < gamma* "
    "and jumps once gamma passes gamma*.",
)
def sweep(out_dir: Path) -> list[Path]:
    from ..plots.landscape import theorem2_sweep

    xi = planar_memories()
    starts = seeded_starts(3, 2.0, seed=2)
    ratios = (
        torch.cat(
            [
                torch.logspace(-2, 2, 33, dtype=torch.float64),
                torch.tensor([0.99, 0.999, 1.001, 1.01], dtype=torch.float64),
            ]
        )
        .sort()
        .values
    )
    reports = [check_theorem2(xi, PLANAR_BETA, v0, ratios=ratios) for v0 in starts]
    labels = [f"start ({v[0]:+.2f}, {v[1]:+.2f})" for v in starts.tolist()]
    return save(theorem2_sweep(reports, labels), out_dir, "theorem2_sweep", dpi=DPI)


@figure(
    "continuation_gamma",
    "Continuation in gamma of the planar network (RecLag, beta = 4): the basin fraction of every attractor "
    "(4000 seeded states uniform in the square of the basin maps, the same at every gamma; 95 % Wilson bands) "
    "from gamma = N_H/2 to 10^5, and how many attractors of each kind exist. The origin becomes an attractor "
    "once gamma > N_H = 5 (Theorem 1) and its basin grows with gamma; memory 1 is swallowed between 10^4 and 10^5.",
)
def continuation_gamma(out_dir: Path) -> list[Path]:
    return save(continuation_figure(planar(), "gamma"), out_dir, "continuation_gamma", dpi=DPI)
