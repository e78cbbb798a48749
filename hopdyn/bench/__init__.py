"""Benchmarks (apart from the tests): each reports its time against a baseline measured in the
same run, as a ratio, and whether it meets its target.

A benchmark is a function ``fn(quick: bool) -> dict`` registered with :func:`benchmark`; the
dict holds its numbers and at least ``ratio``, ``target`` (a readable condition) and ``ok``.
Run them with ``hopdyn bench``.
"""
from __future__ import annotations

import importlib
import statistics
import time
from collections.abc import Callable

BENCHMARKS: dict[str, Callable[[bool], dict]] = {}

#: Modules of hopdyn.bench that register benchmarks.
MODULES = ("core", "analysis", "ood", "mha", "adaptive", "sweep", "explore", "threads")


def benchmark(name: str):
    def register(fn: Callable[[bool], dict]) -> Callable[[bool], dict]:
        BENCHMARKS[name] = fn
        return fn

    return register


def load_all() -> dict[str, Callable[[bool], dict]]:
    for mod in MODULES:
        importlib.import_module(f"hopdyn.bench.{mod}")
    return BENCHMARKS


def timeit(fn: Callable[[], object], repeats: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(fns: dict[str, Callable[[], object]], repeats: int = 7) -> dict[str, float]:
    """Median times of several functions measured in alternation, so that a slow phase of the
    machine hits all of them alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def paired_ratio(base: Callable[[], object], other: Callable[[], object], repeats: int = 15) -> tuple[float, float, float]:
    """``(ratio, base_s, other_s)``: the median over alternating pairs of ``time(other) /
    time(base)``, and the median time of each. Each ratio is taken within one pair, so a slow
    phase of the machine cancels out of it (medians of separate runs swung ±0.2 on a 2-core VM
    where this swings ±0.03)."""
    base(), other()
    ratios, t_base, t_other = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        base()
        t1 = time.perf_counter()
        other()
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
        t_base.append(t1 - t0)
        t_other.append(t2 - t1)
    return statistics.median(ratios), statistics.median(t_base), statistics.median(t_other)
