"""Parameter sweeps on Dask distributed: a grid (or a list) of parameters × seeds over any
analysis that takes an MHN, on an embedded ``LocalCluster`` or an existing cluster, with results
as a labelled xarray Dataset that resumes after an interrupt.

>>> from hopdyn.sweep import Grid, NetworkSpec, run_sweep
>>> grid = Grid.product(beta=[1, 2, 4, 8], gamma=[10, 100, 1e3, 1e4], seeds=1)
>>> res = run_sweep("basins", grid, network=NetworkSpec("planar"), options={"n": 2000}, out="basins.nc")
>>> res.dataset.origin_fraction.sel(seed=0)          # doctest: +SKIP

Rooms: :mod:`~hopdyn.sweep.grid` (cells and their keys), :mod:`~hopdyn.sweep.network` (the
network recipe and the cell function), :mod:`~hopdyn.sweep.analyses` (built-in analyses),
:mod:`~hopdyn.sweep.run` (executors), :mod:`~hopdyn.sweep.store` (finished cells, resume),
:mod:`~hopdyn.sweep.result` (the Dataset on disk). Importing this package does not import Dask;
running a sweep on a cluster does.
"""
from __future__ import annotations

from .analyses import ANALYSES
from .grid import NETWORK_PARAMETERS, Grid, cell_key
from .network import Cell, NetworkSpec
from .result import load_result, save_result, seed_mean, to_dataset
from .run import LOCAL, LOOP, CellFailure, SweepResult, run_sweep
from .store import CellStore, store_path

__all__ = [
    "ANALYSES",
    "Cell",
    "CellFailure",
    "CellStore",
    "Grid",
    "LOCAL",
    "LOOP",
    "NETWORK_PARAMETERS",
    "NetworkSpec",
    "SweepResult",
    "cell_key",
    "load_result",
    "run_sweep",
    "save_result",
    "seed_mean",
    "store_path",
    "to_dataset",
]
