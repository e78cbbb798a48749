"""Recipes for the RecLag paper's landscape figures (Figs 1 and 2), phase portraits and the
interactive explorer, all on the built-in planar network (:func:`hopdyn.datasets.planar_memories`,
β = 4, γ = 1000: five memory attractors, plus the origin for RecLag)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..analysis import landscape as land
from ..analysis.basins import basin_map
from ..analysis.continuation import vary_memory
from ..core.network import MHN
from ..datasets import PLANAR_BETA, PLANAR_GAMMA, planar_memories
from . import figure, save
from .network import DPI, FigureNetwork, b0_in_plane, landscapes_figure, phase_figure, surfaces_figure

#: Fig 1's test point: the vanilla MHN takes it to memory 4, RecLag to the origin
#: (tests/test_landscape.py checks both, for both simulators).
FIG1_START = (0.0, -0.85)
#: Theorem 3's ball for the normaliser Z of the density in Fig 2 (d); it holds every memory.
FIG2_RADIUS = 3.0



def seeded_starts(n: int, half_width: float, seed: int) -> torch.Tensor:
    """``n`` initial states uniform in the square ``[-half_width, half_width]²`` (float64, seeded)."""
    g = torch.Generator().manual_seed(seed)
    return (2 * torch.rand(n, 2, generator=g, dtype=torch.float64) - 1) * half_width


def planar() -> FigureNetwork:
    """The built-in network of the figures: the planar memories, β = 4, γ = 1000."""
    return FigureNetwork(planar_memories(), PLANAR_BETA, PLANAR_GAMMA, name="planar")


def planar_networks() -> tuple[MHN, MHN]:
    """The vanilla and the RecLag network of the paper figures."""
    net = planar()
    return net.vanilla, net.reclag


def explorer_memory_sets() -> dict[str, torch.Tensor]:
    """The explorer's memory sets: the planar example, a random set and a set close to the
    origin (which a large γ swallows: its memories fall into B0)."""
    g = torch.Generator().manual_seed(5)
    near = torch.tensor([[0.5, 0.1], [-0.2, 0.45], [-0.35, -0.4], [0.3, -0.5]], dtype=torch.float64)
    return {
        "planar, 5 memories": planar_memories(),
        "random, 7 memories (seed 5)": 1.4 * torch.randn(7, 2, generator=g, dtype=torch.float64),
        "close to the origin, 4 memories": 2.5 * near,
    }


@figure(
    "fig1_landscapes_3d",
    "RecLag paper Fig 1: 3-D energy surfaces of the vanilla MHN (left) and of RecLag (right) on the planar "
    "network (5 memories, beta = 4, gamma = 1000). The same test point (white diamonds along its ODE "
    "trajectory, large at the start) falls into a memory in the vanilla network and into the origin "
    "attractor (star) with RecLag.",
)
def fig1(out_dir: Path) -> list[Path]:
    return save(surfaces_figure(planar(), start=[FIG1_START]), out_dir, "fig1_landscapes_3d", dpi=DPI)


@figure(
    "fig2_energy_density",
    "RecLag paper Fig 2 (b)-(d) on the planar network (5 memories, beta = 4, gamma = 1000): (b) vanilla MHN "
    "energy with the memories (red), (c) RecLag energy with the origin attractor of Theorem 1 (yellow star), "
    "(d) log of the density p_H (eq 17, Theorem 3's normaliser over the ball |x| <= 3) with the boundary of "
    "B0 = {p_H < delta} in white, located by bisection on G = 0.",
)
def fig2(out_dir: Path) -> list[Path]:
    return save(landscapes_figure(planar(), R=FIG2_RADIUS), out_dir, "fig2_energy_density", dpi=DPI)


@figure(
    "phase_portraits",
    "Phase portraits of the planar network (beta = 4): stream lines of dv/dt for the vanilla MHN (left) and "
    "RecLag with gamma = 1000 (right, boundary of B0 in orange), with 8 seeded trajectories from both simulators "
    "(ODE solid, discrete map dotted, starts as diamonds) and, below, the energy along each of them.",
)
def phase(out_dir: Path) -> list[Path]:
    return save(phase_figure(planar(), starts=seeded_starts(8, 2.4, seed=1)), out_dir, "phase_portraits", dpi=DPI)


@figure(
    "explorer",
    "Interactive pages (open explorer/index.html in a browser, offline): sliders for beta and gamma (the "
    "leftmost gamma is the vanilla MHN) and a choice of three memory sets, redrawing the energy (or the basins "
    "of attraction of the discrete map, one colour per attractor, the origin light grey) with the boundary of B0 "
    "as a layer, and the discrete-map trajectories of 10 seeded starts; explorer/landscape_3d.html is Fig 1 as "
    "rotatable 3-D surfaces. Both load the one copy of plotly.js beside them (explorer/plotly.min.js).",
)
def explorer(out_dir: Path) -> list[Path]:
    from ..plots.interactive import landscape_3d, write_explorer, write_figure_page, write_plotlyjs

    folder = Path(out_dir) / "explorer"
    sweep = land.landscape_sweep(
        explorer_memory_sets(),
        betas=[1.0, 2.0, 4.0, 8.0],
        gammas=[None, 10.0, 100.0, 1000.0, 10000.0],
        n=45,
        n_starts=10,
        steps=30,
        seed=0,
    )
    basins, b0s = explorer_layers(sweep)
    nets = planar_networks()
    lands = [land.energy_landscape(n, n=61) for n in nets]
    paths = [land.landscape_paths(n, [FIG1_START], steps=40, t_max=10.0, n_times=41) for n in nets]
    fig3d = landscape_3d(lands, paths, planar().titles)
    return [
        write_explorer(sweep, folder / "index.html", basins=basins, b0=b0s),
        write_figure_page(fig3d, folder / "landscape_3d.html", div_id="landscape_3d"),
        write_plotlyjs(folder),
    ]


def explorer_layers(sweep: land.LandscapeSweep) -> tuple[dict, dict]:
    """The explorer's basin maps (on each memory set's energy grid) and B0 boundaries (None where
    the network has no gate or B0 does not hold the origin), by cell ``(set, β, γ)``."""
    basins, b0s = {}, {}
    for (si, bi, gi), grid in ((key, sweep.grids[key[0]]) for key in sweep.cells):
        base = MHN(sweep.memories[si])
        net = base.replace(memory=vary_memory(base.memory, sweep.betas[bi], sweep.gammas[gi]))
        basins[si, bi, gi] = basin_map(net, grid.shape[::-1], extent=grid.extent, progress=False)
        b0s[si, bi, gi] = b0_in_plane(net, grid.plane, n_angles=180)
    return basins, b0s
