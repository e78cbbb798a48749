"""Benchmarks of the basin analyses (issue: theorems and basins)."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import torch

from .. import MHN, RecLag, iterate
from ..analysis.attractors import find_attractors, memory_attractors
from ..analysis.basins import basin_map
from ..analysis.geometry import plane_grid
from . import benchmark, interleaved, timeit


def _hexagon(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    angles = torch.arange(6, dtype=torch.float64) * math.pi / 3 + 0.3
    radii = torch.tensor([2.0, 1.7, 2.2, 1.9, 2.1, 1.8], dtype=torch.float64)
    return torch.stack([radii * torch.cos(angles), radii * torch.sin(angles)], -1).to(dtype)


@benchmark("basin_map_1024")
def basin_map_1024(quick: bool) -> dict:
    """A 1024×1024 basin map (float32, run to convergence, labelled) of a 2-D RecLag network with
    6 memories, against the plain labelled run it replaces (every state iterated until its step
    is below tol, then matched: the map before certified balls), the bare batched iteration of
    the same grid, and a per-point loop (extrapolated from 200 points). The map's labels must
    equal the plain run's."""
    net = MHN(_hexagon(), memory=RecLag(4.0, 1000.0))
    n = 1024
    # the map's own starting points (a float64 grid cast to float32), so that labels compare
    grid = plane_grid(net, None, (-3.3, 3.3, -3.3, 3.3), n, dtype=torch.float64).points.reshape(-1, 2).float()
    known = memory_attractors(net.replace(xi=net.xi.to(torch.float64)))
    out = {}
    t = interleaved({
        "basin_map": lambda: out.__setitem__("map", basin_map(net, n, extent=(-3.3, 3.3, -3.3, 3.3), progress=False)),
        "plain_labels": lambda: out.__setitem__("plain", find_attractors(net, grid, known=known, progress=False)),
        "bare_iterate": lambda: iterate(net, grid, steps=1000, tol=1e-5 * 2.2, keep="last", progress=False),
    }, repeats=3)
    same = bool(torch.equal(out["map"].labels.flatten(), out["plain"].labels))
    m = 50 if quick else 200
    loop = timeit(lambda: [find_attractors(net, grid[i:i + 1]) for i in range(0, grid.shape[0], grid.shape[0] // m)],
                  repeats=1, warmup=0) / m * grid.shape[0]
    ratio = t["basin_map"] / t["bare_iterate"]
    return {"resolution": n, "basin_map_s": t["basin_map"], "plain_labels_s": t["plain_labels"],
            "bare_iterate_s": t["bare_iterate"], "ratio": ratio, "speedup_vs_plain": t["plain_labels"] / t["basin_map"],
            "labels_identical_to_plain": same,
            "mean_steps_map": float(out["map"].n_steps.float().mean()),
            "mean_steps_plain": float(out["plain"].n_steps.float().mean()),
            "per_point_loop_extrapolated_s": loop, "speedup_vs_loop": loop / t["basin_map"],
            "target": "1024x1024 map <= 0.25 s (float32, 2 cores; issue 15's goal), labels identical to the plain "
                      "run; ratio = map / bare iterate",
            "ok": t["basin_map"] <= 0.25 and same}


_MC_PROBE = """
import json, resource, sys, time, torch
from hopdyn import MHN, RecLag
from hopdyn.analysis.basins import basin_fractions
n = int(sys.argv[1])
g = torch.Generator().manual_seed(0)
xi = torch.randn(250, 512, generator=g)
xi = 10 * xi / xi.norm(dim=-1, keepdim=True)
net = MHN(xi, memory=RecLag(5.0, 300.0))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
fr = basin_fractions(net, "gaussian", n, scale=0.012, progress=False)
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
v = torch.randn(4096, 512, generator=g) * 0.012
t1 = time.perf_counter()
for _ in range(5):
    net.step(v)
step = (time.perf_counter() - t1) / 5 * n / 4096
steps = float((fr.mean_steps * fr.counts).sum() / fr.counts.sum())
print(json.dumps({"seconds": dt, "peak_gib": peak / 2**20, "before_gib": base / 2**20, "one_step_all_points_s": step,
                  "mean_steps": steps, "origin": fr.fraction("origin"), "n_unconverged": fr.n_unconverged,
                  "n_attractors_hit": int((fr.counts > 0).sum())}))
"""


@benchmark("mc_fractions_512d")
def mc_fractions_512d(quick: bool) -> dict:
    """Monte Carlo basin fractions over 10⁶ Gaussian initial states in the paper's setting
    (N_V = 512, N_H = 250, β = 5, γ = 300, memories of norm 10, float32), streamed in chunks:
    peak resident memory (ratio: against holding all end states), and time against the bare
    steps (mean steps × one step over all points)."""
    n = 100_000 if quick else 1_000_000
    out = subprocess.run([sys.executable, "-c", _MC_PROBE, str(n)], capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    held_gib = n * 512 * 4 / 2**30
    extra = res["peak_gib"] - res["before_gib"]
    floor = res["one_step_all_points_s"] * max(res["mean_steps"], 1.0)
    return {"n": n, **res, "all_end_states_gib": held_gib, "extra_peak_gib": extra,
            "time_vs_bare_steps": res["seconds"] / floor, "ratio": extra / held_gib,
            "target": "extra peak memory < 0.5 GiB (ratio: against holding all end states)", "ok": extra < 0.5}
