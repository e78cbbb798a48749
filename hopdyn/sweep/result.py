"""A sweep's numbers as a labelled :class:`xarray.Dataset` (dimensions: the swept parameters and
``seed``, or ``point`` and ``seed`` for a list), saved atomically to netCDF (xarray's scipy
engine: no extra dependency) or to zarr when it is installed, and read back."""
from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .._io import atomic_path
from .grid import Grid, cell_key

#: Largest integer a netCDF-3 file holds (int32): larger counts are stored as float64.
_INT32 = 2**31 - 1


def to_dataset(grid: Grid, values: Mapping[str, Mapping[str, float | int]], attrs: Mapping | None = None):
    """The :class:`xarray.Dataset` of a sweep: ``values[cell_key]`` are a cell's numbers; a cell
    missing from ``values`` (it failed) reads NaN. A variable stays integer when every cell has
    it as an integer (counts compare exactly)."""
    import xarray as xr

    keys = [cell_key(p, s) for p, s in grid.cells()]
    names: list[str] = []
    for k in keys:
        for name in values.get(k, {}):
            if name not in names:
                names.append(name)
    data = {}
    for name in names:
        col = [values.get(k, {}).get(name) for k in keys]
        ints = all(isinstance(x, int) for x in col) and all(abs(x) <= _INT32 for x in col)
        arr = np.array(col, dtype=np.int64) if ints else np.array(
            [math.nan if x is None else float(x) for x in col], dtype=np.float64)
        data[name] = (grid.dims, arr.reshape(grid.shape))
    if grid.axes is not None:
        coords = {n: list(a) for n, a in zip(grid.names, grid.axes)}
    else:
        coords = {n: ("point", [row[i] for row in grid.points]) for i, n in enumerate(grid.names)}
        coords["point"] = np.arange(len(grid.points))
    coords["seed"] = list(grid.seeds)
    return xr.Dataset(data, coords=coords, attrs={k: _attr(v) for k, v in (attrs or {}).items()})


def _attr(v):
    """netCDF attributes hold numbers and strings: anything else as JSON text."""
    return v if isinstance(v, (str, int, float)) and not isinstance(v, bool) else json.dumps(v)


def save_result(ds, path: str | os.PathLike) -> Path:
    """Write ``ds`` to ``path`` atomically: ``.nc`` as netCDF-3 (scipy engine), ``.zarr`` with zarr."""
    path = Path(path)
    if path.suffix == ".zarr":
        try:
            import zarr  # noqa: F401
        except ImportError as exc:
            raise ValueError(f"{path}: zarr is not installed; write a .nc result instead") from exc
        tmp = path.with_name(f".{path.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            ds.to_zarr(tmp, mode="w")
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return path
    if path.suffix != ".nc":
        raise ValueError(f"result path must end in .nc (netCDF) or .zarr, got {path}")
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="scipy")
    return path


def load_result(path: str | os.PathLike):
    """Read a result written by :func:`save_result` (fully into memory; the file is closed)."""
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such sweep result: {path}")
    if path.suffix == ".zarr":
        return xr.open_zarr(path).load()
    try:
        with xr.open_dataset(path, engine="scipy") as ds:
            return ds.load()
    except (ValueError, TypeError, OSError) as exc:
        raise ValueError(f"{path} is not a readable netCDF sweep result ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from exc


def seed_mean(ds):
    """Mean over seeds (NaN cells, i.e. failed ones, left out), with ``n_seeds`` per point."""
    if "seed" not in ds.dims:
        return ds
    first = next(iter(ds.data_vars))
    out = ds.mean("seed", skipna=True, keep_attrs=True)
    out.attrs["n_seeds_total"] = ds.sizes["seed"]
    return out.assign(n_seeds=ds[first].notnull().sum("seed"))
