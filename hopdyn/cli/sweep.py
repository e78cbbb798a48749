"""``hopdyn sweep``: a grid of parameters × seeds over an analysis of the user's network, on Dask
distributed (an embedded LocalCluster, or ``--scheduler ADDRESS``), saved as a labelled xarray
Dataset (netCDF) that resumes after an interrupt; ``hopdyn sweep plot`` draws a result.

Exit 0 when every cell finished (and, for the theorem checks, whatever the verdicts: they are
printed), 1 when a cell failed (listed with its parameters; the others are in the result), 2 on
bad input.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

import numpy as np

from .._io import format_table
from ._common import add_json_option, load_xi, maybe_write_json

#: One line of --help per built-in analysis (their docstrings are longer).
_HELP = {
    "basins": "Monte Carlo basin fractions (origin, memories, unconverged)",
    "theorem1": "Theorem 1 radii eps, eps_CS, r* and their ratios",
    "theorem2": "Theorem 2 (reduction to vanilla below gamma*) from a seeded start",
    "theorem3": "Theorem 3 (B0 = {p_H < delta}) on a ball",
    "continuation": "which attractors exist at each point (memories surviving, swallowed, merged)",
    "ood": "one OOD trial on a digits network (AUROC, FPR95 against noise and shuffled digits)",
}
_VERDICT = {"theorem1": "Theorem 1", "theorem2": "Theorem 2", "theorem3": "Theorem 3"}


def register(sub) -> None:
    p = sub.add_parser(
        "sweep", help="parameter sweeps on Dask (embedded LocalCluster or --scheduler ADDRESS)",
        description="Run an analysis over a grid of parameters x seeds on Dask distributed and save a labelled "
        "xarray Dataset (netCDF); an interrupted sweep resumes from its finished cells. "
        "'hopdyn sweep plot RESULT.nc --out DIR' draws a result.")
    from ..sweep.analyses import ANALYSES  # torch and the core only: no Dask, no xarray

    kinds = p.add_subparsers(dest="sweep_command", required=True, metavar="ANALYSIS|plot")
    for name, fn in ANALYSES.items():
        _add_run_parser(kinds, name, _HELP.get(name) or (fn.__doc__ or name).strip().split(".")[0])
    q = kinds.add_parser("plot", help="draw a sweep result (PNG files)",
                         description="Draw a sweep result: basin fractions as heatmaps and lines over beta x gamma, "
                         "Theorem 1's r*/eps ratios against N_H/gamma, panels for anything else (means over seeds).")
    q.add_argument("result", help="a result written by hopdyn sweep (.nc)")
    q.add_argument("--out", default="sweep_plots", help="folder for the PNG files (default %(default)s)")
    q.set_defaults(run=run_plot)


def _add_run_parser(kinds, name: str, what: str) -> None:
    p = kinds.add_parser(name, help=what, description=f"Sweep: {what}. Example: hopdyn sweep {name} "
                         "--grid beta=1,2,4,8 --grid gamma=log:10:1e4:4 --result out.nc")
    g = p.add_argument_group("the grid")
    g.add_argument("--grid", action="append", default=[], metavar="NAME=VALUES",
                   help="a swept parameter: a list 'beta=1,2,4', 'lin:A:B:N' or 'log:A:B:N' (N points); repeat for "
                   "each dimension. Names: beta, gamma, log_gamma, n_memories, n_features, or an option of the analysis")
    g.add_argument("--points", metavar="FILE.json", help="a list of parameter dicts instead of a grid "
                   "(dimensions point x seed)")
    g.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 per point (default %(default)s)")
    g.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a fixed option of the analysis, e.g. --set n=5000 (repeatable)")
    n = p.add_argument_group("the network (values the grid does not sweep)")
    n.add_argument("--memories", default="planar", choices=("planar", "gaussian", "digits", "cluster"),
                   help="a built-in memory set (default %(default)s; gaussian and digits are drawn per seed)")
    n.add_argument("--xi", help="your interaction matrix instead (.npy or .pt, shape N_H x N_V)")
    n.add_argument("--lagrangian", default="reclag", choices=("reclag", "vanilla"))
    n.add_argument("--beta", type=float, default=4.0)
    n.add_argument("--gamma", type=float, default=1000.0)
    n.add_argument("--n-memories", type=int)
    n.add_argument("--n-features", type=int)
    r = p.add_argument_group("running")
    r.add_argument("--result", default=f"sweep_{name}.nc", help="the result file, .nc (default %(default)s); "
                   "finished cells are kept in RESULT.cells/ until the sweep is complete")
    r.add_argument("--scheduler", default="local", help="'local' (an embedded LocalCluster of processes, default), "
                   "an address such as tcp://host:8786 (an existing Dask cluster), or 'loop' (no Dask)")
    r.add_argument("--workers", type=int, help="LocalCluster worker processes (default: one per core)")
    r.add_argument("--threads-per-worker", type=int, default=1)
    r.add_argument("--torch-threads", type=int, help="torch threads per worker (default: the cores shared out; "
                   "1 on an existing cluster)")
    r.add_argument("--retries", type=int, default=1, help="retries of a cell that raises (default %(default)s)")
    r.add_argument("--fresh", action="store_true", help="discard finished cells of an earlier run of RESULT")
    add_json_option(p)
    p.set_defaults(run=run, analysis=name, output_files=("result",))


def _number(text: str, flag: str):
    try:
        return int(text)
    except ValueError:
        pass
    try:
        x = float(text)
    except ValueError:
        return text
    if not math.isfinite(x):
        raise ValueError(f"{flag}: {text!r} is not a finite number")
    return x


def _values(spec: str) -> tuple[str, list]:
    """``NAME=1,2,4`` or ``NAME=lin:A:B:N`` / ``NAME=log:A:B:N``."""
    name, eq, rest = spec.partition("=")
    name = name.strip()
    if not eq or not name:
        raise ValueError(f"--grid: expected NAME=VALUES, got {spec!r}")
    flag = f"--grid {name}"
    if rest.startswith(("lin:", "log:")):
        parts = rest.split(":")
        if len(parts) != 4:
            raise ValueError(f"{flag}: expected {parts[0]}:A:B:N, got {rest!r}")
        a, b, k = _number(parts[1], flag), _number(parts[2], flag), _number(parts[3], flag)
        if not all(isinstance(v, (int, float)) for v in (a, b)) or not isinstance(k, int) or k < 1:
            raise ValueError(f"{flag}: expected numbers A, B and a count N >= 1 in {rest!r}")
        if parts[0] == "log" and (a <= 0 or b <= 0):
            raise ValueError(f"{flag}: log:A:B:N needs A, B > 0, got {rest!r}")
        vals = np.geomspace(a, b, k) if parts[0] == "log" else np.linspace(a, b, k)
        return name, [float(f"{v:.12g}") for v in vals]
    vals = [_number(v.strip(), flag) for v in rest.split(",") if v.strip()]
    if not vals:
        raise ValueError(f"{flag}: no values given (the grid is empty)")
    return name, vals


def _grid(args: argparse.Namespace):
    from ..sweep import Grid

    if args.points and args.grid:
        raise ValueError("give --grid or --points, not both")
    if args.points:
        path = Path(args.points)
        if not path.is_file():
            raise FileNotFoundError(f"--points: no such file: {args.points}")
        try:
            pts = json.loads(path.read_text())
        except ValueError as exc:
            raise ValueError(f"--points: {args.points} is not valid JSON ({exc})") from exc
        if not isinstance(pts, list):
            raise ValueError(f"--points: {args.points} must hold a list of parameter dicts")
        return Grid.from_list(pts, seeds=args.seeds)
    if not args.grid:
        raise ValueError("no grid: give --grid NAME=VALUES (e.g. --grid beta=1,2,4) or --points FILE.json")
    axes: dict[str, list] = {}
    for spec in args.grid:
        name, vals = _values(spec)
        if name in axes:
            raise ValueError(f"--grid {name} given twice")
        axes[name] = vals
    return Grid.product(seeds=args.seeds, **axes)


def _network(args: argparse.Namespace):
    from ..sweep import NetworkSpec

    common = dict(lagrangian=args.lagrangian, beta=args.beta, gamma=args.gamma, n_memories=args.n_memories,
                  n_features=args.n_features)
    if args.xi:
        return NetworkSpec("array", xi=load_xi(args.xi).numpy(), source=str(args.xi), **common)
    return NetworkSpec(args.memories, **common)


def _quiet_dask() -> None:
    """distributed logs every connection and worker restart at INFO/WARNING: one line per failed
    cell is what the user needs."""
    for name in ("distributed", "distributed.nanny", "distributed.worker", "distributed.scheduler",
                 "distributed.core", "distributed.client", "tornado"):
        logging.getLogger(name).setLevel(logging.ERROR)


def run(args: argparse.Namespace) -> int:
    from ..sweep import run_sweep

    grid = _grid(args)
    options = {}
    for spec in args.set:
        name, eq, value = spec.partition("=")
        if not eq or not name.strip():
            raise ValueError(f"--set: expected NAME=VALUE, got {spec!r}")
        options[name.strip()] = _number(value.strip(), f"--set {name.strip()}")
    _quiet_dask()
    res = run_sweep(args.analysis, grid, network=_network(args), options=options, out=args.result,
                    scheduler=args.scheduler, n_workers=args.workers, threads_per_worker=args.threads_per_worker,
                    torch_threads=args.torch_threads, retries=args.retries, fresh=args.fresh)
    ds = res.dataset
    cells = [(dict(p), s) for p, s in grid.cells()]
    print(f"{args.analysis}: {res.n_cells} cells ({' x '.join(f'{d}={n}' for d, n in zip(grid.dims, grid.shape))}) "
          f"on {res.scheduler}: {res.n_computed} computed, {res.n_resumed} from an earlier run, "
          f"{len(res.failures)} failed, {res.seconds:.1f} s")
    print(_table(ds, grid, cells))
    verdict = _verdict(ds, args.analysis)
    if verdict:
        print(verdict)
    print(f"wrote {res.path}")
    maybe_write_json(args, {
        "analysis": args.analysis, "result": str(res.path), "dims": dict(zip(grid.dims, grid.shape)),
        "n_cells": res.n_cells, "n_computed": res.n_computed, "n_resumed": res.n_resumed, "seconds": res.seconds,
        "failures": [{"params": f.params, "seed": f.seed, "error": f.error} for f in res.failures],
        "cells": [{"params": p, "seed": s, **{v: ds[v].values.reshape(-1)[i].item() for v in ds.data_vars}}
                  for i, (p, s) in enumerate(cells)],
    })
    for f in res.failures:
        print(f"failed cell: {f}", file=sys.stderr)
    if res.failures:
        print(f"hopdyn sweep: {len(res.failures)} of {res.n_cells} cells failed; run the same command again to "
              "retry only those", file=sys.stderr)
        return 1
    return 0


def _table(ds, grid, cells, limit: int = 40) -> str:
    """Every cell when there are few, else each variable's range over the cells."""
    names = list(ds.data_vars)
    if len(cells) <= limit:
        flat = {v: ds[v].values.reshape(-1) for v in names}
        rows = [[*p.values(), s, *(flat[v][i].item() for v in names)] for i, (p, s) in enumerate(cells)]
        return format_table([*grid.names, "seed", *names], rows)
    rows = [[v, float(np.nanmin(ds[v].values)), float(np.nanmean(ds[v].values)), float(np.nanmax(ds[v].values))]
            for v in names]
    return format_table(["variable", "min", "mean", "max"], rows)


def _verdict(ds, analysis: str) -> str:
    """The claim's verdict over the finished cells, said plainly (theorem checks only)."""
    if analysis not in _VERDICT or "holds" not in ds:
        return ""
    flat = {v: ds[v].values.reshape(-1).astype(float) for v in ("holds", "counterexample", "untested") if v in ds}
    done = np.isfinite(flat["holds"])
    claim = _VERDICT[analysis]
    if analysis == "theorem1" and "counterexample" in flat:
        # γ ≤ N_H is outside the theorem: there it must fail (the counter-example)
        inside = done & (flat["counterexample"] == 0)
        k, n = int((flat["holds"][inside] == 1).sum()), int(inside.sum())
        c = int((done & (flat["counterexample"] == 1)).sum())
        line = f"verdict: {claim} holds in {k} of {n} cells with gamma > N_H"
        line += f" (FAILS in {n - k})" if k < n else ""
        return line + (f"; {c} cells with gamma <= N_H show the counter-example step(0) = mean memory, as they must"
                       if c else "")
    k, n = int((flat["holds"][done] == 1).sum()), int(done.sum())
    line = f"verdict: {claim} holds in {k} of {n} cells"
    if "untested" in flat:
        u = int(np.nansum(flat["untested"]))
        line += f" ({u} untested: no sampled point in B0)" if u else ""
    return line + (f"; it FAILS in {n - k - int(np.nansum(flat.get('untested', [0])))}" if k < n else "")


def run_plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._io import atomic_path
    from ..plots import sweep as draw
    from ..sweep import load_result, seed_mean

    ds = seed_mean(load_result(args.result))
    out = Path(args.out)
    figures = {}
    dims = list(ds.dims)
    if all(v in ds for v in draw.BASIN_VARIABLES[:2]):
        if {"beta", "gamma"} <= set(dims):
            two = ds.isel({d: 0 for d in dims if d not in ("beta", "gamma")})
            figures["basins_heatmaps"] = draw.basin_fraction_heatmaps(two, "beta", "gamma")
            figures["basins_vs_beta"] = draw.basin_fraction_lines(two, "beta", "gamma")
            figures["basins_vs_gamma"] = draw.basin_fraction_lines(two, "gamma", "beta")
        elif dims:
            x = next((d for d in ("beta", "gamma", "log_gamma") if d in dims), dims[0])
            hue = next((d for d in dims if d != x), None)
            figures[f"basins_vs_{x}"] = draw.basin_fraction_lines(ds, x, hue)
    if {"ratio_paper", "ratio_cs", "nh_over_gamma"} <= set(ds.data_vars):
        figures["theorem1_ratios"] = draw.radius_ratios(ds)
    if not figures:
        figures["sweep"] = draw.sweep_panels(ds, [v for v in ds.data_vars if v != "n_seeds"])
    for name, fig in figures.items():
        with atomic_path(out / f"{name}.png") as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
        plt.close(fig)
        print(f"wrote {out / f'{name}.png'}")
    return 0
