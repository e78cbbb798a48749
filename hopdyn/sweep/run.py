"""Running a sweep: every cell of a :class:`~hopdyn.sweep.grid.Grid` through a
:class:`~hopdyn.sweep.network.Cell`, on Dask distributed (an embedded ``LocalCluster`` of
processes, or the scheduler at an address) or in a plain loop in this process (the reference the
tests compare against). Dask schedules; this module only submits cells, collects them as they
complete, records each finished one (:mod:`hopdyn.sweep.store`) and assembles the result
(:mod:`hopdyn.sweep.result`).
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .grid import NETWORK_PARAMETERS, Grid, cell_key
from .network import Cell, NetworkSpec
from .result import save_result, to_dataset
from .store import CellStore, store_path

#: ``scheduler=`` value for the plain in-process loop (no Dask).
LOOP = "loop"
#: ``scheduler=`` value for an embedded LocalCluster of processes (the default).
LOCAL = "local"
#: Dask settings of the embedded LocalCluster. Dask's nannies start workers with
#: ``MALLOC_TRIM_THRESHOLD_=65536``, which turns off glibc's adaptive mmap threshold: every
#: tensor of more than 128 KiB is then mmapped and unmapped, and a basin-fraction cell ran 1.5-2x
#: slower in a worker than in a plain process (measured, same thread counts); unset, they match.
#: The statistical profiler (which samples every thread's stack every 10 ms, for a dashboard
#: the embedded cluster does not start) is off too.
EMBEDDED_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
}


@dataclass(frozen=True)
class CellFailure:
    """A cell that raised (after Dask's retries): its parameters and the exception's one line."""

    params: dict
    seed: int
    error: str

    def __str__(self) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{where}{', ' if where else ''}seed={self.seed}: {self.error}"


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns: the labelled ``dataset`` (failed cells NaN), the
    ``failures``, how many cells were computed now and how many came from an earlier, interrupted
    run (``n_resumed``), where the result was written, and the wall time."""

    dataset: Any
    failures: list[CellFailure]
    n_cells: int
    n_computed: int
    n_resumed: int
    path: Path | None
    seconds: float
    scheduler: str
    cell_seconds: list[float] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not self.failures


def _timed(cell: Cell, params: dict, seed: int) -> tuple[dict, float]:
    t0 = time.perf_counter()
    out = cell(params, seed)
    return out, time.perf_counter() - t0


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _loop(cell: Cell, todo: Sequence[tuple[dict, int]], retries: int) -> Iterator[tuple[dict, int, Any]]:
    for params, seed in todo:
        for _ in range(retries + 1):
            try:
                res = _timed(cell, params, seed)
                break
            except Exception as exc:  # noqa: BLE001 - a failed cell is reported, the others run
                res = exc
        yield params, seed, res


#: How often a finished cell whose result was lost with its worker is submitted again.
RESUBMITS = 3


def _dask(client, cell: Cell, todo: Sequence[tuple[dict, int]], retries: int) -> Iterator[tuple[dict, int, Any]]:
    from distributed import as_completed

    tag = uuid.uuid4().hex[:8]
    cells: dict[str, tuple[dict, int, int, int]] = {}  # key -> (params, seed, index, submissions)
    live: dict[str, Any] = {}  # key -> future, until its result is in

    def submit(params: dict, seed: int, i: int, n: int = 1):
        key = f"hopdyn-cell-{tag}-{i}-{n}"
        cells[key] = (params, seed, i, n)
        live[key] = client.submit(_timed, cell, params, seed, key=key, retries=retries, pure=False)
        return live[key]

    pending = as_completed([submit(p, s, i) for i, (p, s) in enumerate(todo)])
    try:
        for fut in pending:
            params, seed, i, n = cells[fut.key]
            live.pop(fut.key, None)
            if fut.status == "finished":
                try:
                    res, lost = fut.result(), False
                except Exception as exc:  # noqa: BLE001 - the result was lost with its worker
                    # (dask reschedules such a key, but a future whose state was reset can no longer
                    # be waited on from here)
                    res, lost = exc, True
            elif fut.status == "error":  # the cell raised, after Dask's retries
                try:
                    res, lost = fut.exception(), False
                except Exception as exc:  # noqa: BLE001 - the error was lost with the scheduler's state
                    res, lost = exc, True
            else:  # "cancelled": the scheduler lost the key (e.g. with a killed worker)
                res, lost = RuntimeError(f"cell {fut.status}"), True
            if lost and n <= RESUBMITS:
                # the same cell, submitted anew
                fut.release()
                pending.add(submit(params, seed, i, n + 1))
                continue
            fut.release()
            yield params, seed, res
    finally:  # Ctrl-C or a lost client: what has not run is not left running
        pending.clear()
        if live:
            client.cancel(list(live.values()))


def share_cores(cores: int, n_cells: int, n_workers: int | None = None, threads_per_worker: int = 1,
                torch_threads: int | None = None) -> tuple[int, int]:
    """Worker processes and torch threads per worker of the embedded cluster: by default one
    worker per core (no more than there are cells) and the cores left over shared out as torch
    threads, so that workers × Dask threads × torch threads never exceed the cores."""
    n = max(1, min(n_cells, cores // threads_per_worker)) if n_workers is None else n_workers
    threads = max(1, cores // (n * threads_per_worker)) if torch_threads is None else torch_threads
    return n, threads


@contextmanager
def embedded_client(n_workers: int, threads_per_worker: int = 1, torch_threads: int = 1):
    """A client on a new LocalCluster of ``n_workers`` processes (``threads_per_worker`` Dask
    threads and ``torch_threads`` torch threads each, :data:`EMBEDDED_CONFIG`), closed on exit:
    the cluster ``run_sweep(scheduler="local")`` starts. Its processes log nothing below
    CRITICAL (a worker's heartbeat racing the shutdown logs a traceback otherwise): what goes
    wrong in a cell comes back through its future and is reported with the cell."""
    import dask
    from distributed import Client, LocalCluster

    from ._plugin import TorchThreads

    with dask.config.set(EMBEDDED_CONFIG), \
            LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
                         dashboard_address=None, silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        client.register_plugin(TorchThreads(torch_threads), name=TorchThreads.name)
        yield client


@contextmanager
def _client(scheduler, n_cells: int, n_workers: int | None, threads_per_worker: int, torch_threads: int | None):
    """A Dask client on the embedded LocalCluster (``"local"``), at an address, or the user's own."""
    from distributed import Client

    from ._plugin import TorchThreads

    if isinstance(scheduler, Client):
        if torch_threads is not None:
            scheduler.register_plugin(TorchThreads(torch_threads), name=TorchThreads.name)
        yield scheduler
        return
    if scheduler == LOCAL:
        n, threads = share_cores(os.cpu_count() or 1, n_cells, n_workers, threads_per_worker, torch_threads)
        with embedded_client(n, threads_per_worker, threads) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise OSError(f"cannot reach the Dask scheduler at {scheduler} ({_one_line(exc)})") from exc
    try:
        # a cluster not ours: one torch thread per Dask thread unless told otherwise (never more threads than it has)
        client.register_plugin(TorchThreads(torch_threads or 1), name=TorchThreads.name)
        yield client
    finally:
        client.close()


def _describe(scheduler) -> str:
    if isinstance(scheduler, str):
        return scheduler
    return str(getattr(getattr(scheduler, "scheduler", None), "address", "a Dask client"))


def run_sweep(
    analysis: str | Callable[..., Mapping[str, Any]],
    grid: Grid,
    *,
    network: NetworkSpec | None = None,
    options: Mapping[str, Any] | None = None,
    out: str | os.PathLike | None = None,
    scheduler: Any = LOCAL,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    torch_threads: int | None = None,
    retries: int = 1,
    fresh: bool = False,
    progress: bool | None = None,
) -> SweepResult:
    """Run ``analysis`` (a name of :data:`~hopdyn.sweep.analyses.ANALYSES` or
    ``fn(net, *, seed, **options) -> {name: number}``) on the network ``network`` at every cell
    of ``grid``, and return the labelled result (written atomically to ``out``, ``.nc`` or
    ``.zarr``, when given).

    ``scheduler``: ``"local"`` (default) starts an embedded ``LocalCluster`` of ``n_workers``
    processes (default: one per core, at most one per cell) with ``threads_per_worker`` Dask
    threads and ``torch_threads`` torch threads each (default: the cores shared out, so that
    nothing is oversubscribed); an address (``"tcp://host:8786"``) or a ``distributed.Client``
    uses an existing cluster (one torch thread per Dask thread unless ``torch_threads`` says
    otherwise); ``"loop"`` runs the cells one after the other in this process. A cell that
    raises is retried ``retries`` times (Dask also reruns the cells of a worker that died), then
    reported in ``failures`` with its parameters, and the other cells still complete.

    With ``out``, each finished cell is recorded in ``<out>.cells/`` as it completes; a sweep
    interrupted (Ctrl-C, a kill, a lost cluster) and run again with the same analysis, network
    and options computes only the cells that are missing (``fresh=True`` starts over). The
    folder is removed once every cell has finished.

    Dask starts its worker processes by spawning fresh interpreters, which import the calling
    script again: in a script, call ``run_sweep`` under ``if __name__ == "__main__":``.
    """
    cell = Cell(analysis, NetworkSpec() if network is None else network, dict(options or {}))
    if not isinstance(grid, Grid):
        raise ValueError(f"grid must be a hopdyn.sweep.Grid, got {type(grid).__name__}")
    for name in grid.names:
        if name in cell.network.fixed():
            raise ValueError(f"{name} cannot be swept with memories={cell.network.memories!r} (its memories are fixed)")
    grid.check_names(cell.parameters(), cell.name)
    for name in cell.options:
        if name not in cell.option_names():
            raise ValueError(f"unknown option {name!r} for {cell.name}: choose from {', '.join(cell.option_names())}")
    for name, what in (("retries", retries), ("threads_per_worker", threads_per_worker)):
        if isinstance(what, bool) or not isinstance(what, int) or what < (0 if name == "retries" else 1):
            raise ValueError(f"{name} must be an integer >= {0 if name == 'retries' else 1}, got {what!r}")
    for name, what in (("n_workers", n_workers), ("torch_threads", torch_threads)):
        if what is not None and (isinstance(what, bool) or not isinstance(what, int) or what < 1):
            raise ValueError(f"{name} must be a positive integer, got {what!r}")
    if n_workers is not None and scheduler != LOCAL:
        raise ValueError(f"n_workers applies to the embedded cluster (scheduler='local') only, not to {_describe(scheduler)}")
    if out is not None and Path(out).suffix not in (".nc", ".zarr"):
        raise ValueError(f"out must end in .nc (netCDF) or .zarr, got {out}")
    # the first cell's network is built here, so that a bad recipe fails before any cluster starts
    first = next(grid.cells())
    cell.network.build({k: v for k, v in first[0].items() if k in NETWORK_PARAMETERS}, first[1])

    t0 = time.perf_counter()
    settings = cell.settings()
    store = CellStore(store_path(out), settings, fresh=fresh) if out is not None else None
    values: dict[str, dict] = dict(store.done) if store else {}
    todo = [(p, s) for p, s in grid.cells() if cell_key(p, s) not in values]
    n_resumed = len(grid) - len(todo)
    failures: list[CellFailure] = []
    seconds: list[float] = []
    show = len(todo) > 1 if progress is None else bool(progress)
    try:
        if todo:
            with tqdm(total=len(todo), desc=f"sweep {cell.name}", disable=not show, leave=False) as bar, \
                    _executor(scheduler, cell, todo, n_workers, threads_per_worker, torch_threads, retries) as results:
                for params, seed, res in results:
                    if isinstance(res, BaseException):
                        failures.append(CellFailure(params, seed, _one_line(res)))
                        bar.set_postfix(failed=len(failures))
                    else:
                        numbers, took = res
                        key = cell_key(params, seed)
                        values[key] = numbers
                        seconds.append(took)
                        if store is not None:
                            store.add(key, params, seed, numbers)
                    bar.update()
    finally:
        if store is not None:
            store.close()
    from .. import __version__

    ds = to_dataset(grid, values, {
        "analysis": cell.name, "network": settings["network"], "options": settings["options"],
        "n_failed": len(failures), "failed": [{"params": f.params, "seed": f.seed, "error": f.error} for f in failures],
        "hopdyn_version": __version__,
    })
    path = None
    if out is not None:
        path = save_result(ds, out)
        if not failures:
            store.clear()
    return SweepResult(ds, failures, len(grid), len(todo), n_resumed, path, time.perf_counter() - t0,
                       _describe(scheduler), seconds)


@contextmanager
def _executor(scheduler, cell: Cell, todo, n_workers, threads_per_worker, torch_threads, retries):
    if scheduler == LOOP:
        yield _loop(cell, todo, retries)
        return
    if not (scheduler == LOCAL or isinstance(scheduler, str) or hasattr(scheduler, "submit")):
        raise ValueError(f"scheduler must be 'local', 'loop', an address or a distributed.Client, got {scheduler!r}")
    with _client(scheduler, len(todo), n_workers, threads_per_worker, torch_threads) as client:
        results = _dask(client, cell, todo, retries)
        try:
            yield results
        finally:  # cancel what is left (Ctrl-C) while the client is still open
            results.close()
