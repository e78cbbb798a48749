"""Recipes for the OOD figures (RecLag paper Figs 3–5) on the offline digits demo, at a fixed
seed with one RecLag training (MC objective) so that all three take a few seconds together."""
from __future__ import annotations

import functools
from pathlib import Path

from .._threads import few_threads
from ..experiments.ood import OODDigitsResult, run_digits
from . import figure, save

DPI = 120


@functools.lru_cache(maxsize=1)
def demo() -> OODDigitsResult:
    """The digits demo as the figures use it: seed 0, one trial, 8 steps of dynamics."""
    with few_threads(0):  # features of width 64: one thread is fastest (see few_threads)
        return run_digits(trials=1, steps=8, seed=0, objectives=("mc",), progress=False)


@figure("ood_roc", "Digits demo (ID: digits 0-5 through a small MLP): ROC curves of every detector on each OOD "
        "set, FPR on a log axis, each panel's best AUROC and RecLag's in its title, reference rows dashed (RecLag paper "
        "Fig 3).")
def ood_roc(out_dir: Path) -> list[Path]:
    from ..plots.ood import plot_roc

    rep = demo().report
    fig = plot_roc({s: rep.roc_curves(s) for s in rep.ood_sets}, "digits demo, ID = digits 0-5", rep.references)
    return save(fig, out_dir, "ood_roc", dpi=DPI)


@figure("ood_scores_over_time", "Digits demo: distributions of the MHE and RecLag scores of ID test images and of "
        "held-out digits 6-9 along each network's own discrete dynamics, steps 0-8 (RecLag paper Fig 4).")
def ood_scores_over_time(out_dir: Path) -> list[Path]:
    from ..plots.ood import plot_scores_over_time

    fig = plot_scores_over_time(demo().evolution, steps=(0, 1, 2, 3, 4, 6, 8))
    return save(fig, out_dir, "ood_scores_over_time", dpi=DPI)


@figure("ood_metrics_over_time", "Digits demo: FPR95 and AUROC of MHE and RecLag (ID test vs digits 6-9) along "
        "each network's dynamics, steps 0-8 (RecLag paper Fig 5).")
def ood_metrics_over_time(out_dir: Path) -> list[Path]:
    from ..plots.ood import plot_metrics_over_time

    fig = plot_metrics_over_time(demo().evolution)
    return save(fig, out_dir, "ood_metrics_over_time", dpi=DPI)


def roc_curves_from_scores(scores, ood_sets, positive: str = "id") -> dict:
    """``{ood_set: {method: RocCurve}}`` from ``"method/set"`` score arrays (``"method/id_test"``
    for the ID test set), as in :meth:`hopdyn.ood.BenchmarkResult.scores`; skipped cells are left out."""
    from ..ood.metrics import roc_curve

    methods = list(dict.fromkeys(k.rsplit("/", 1)[0] for k in scores))
    out = {}
    for s in ood_sets:
        row = {m: roc_curve(scores[f"{m}/id_test"], scores[f"{m}/{s}"], positive) for m in methods
               if f"{m}/{s}" in scores and f"{m}/id_test" in scores}
        if row:
            out[s] = row
    return out


def write_report_figures(curves, evolution, out_dir: Path, title: str = "", references=()) -> list[Path]:
    """The figures of one ``hopdyn ood`` run in ``out_dir``: ``ood_roc.png`` (one panel per OOD
    set, from ``curves[ood_set][method]``) and, with a time evolution, ``ood_scores_over_time.png``
    and ``ood_metrics_over_time.png`` (on the evolution set)."""
    from ..plots.ood import plot_metrics_over_time, plot_roc, plot_scores_over_time

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    if curves:
        paths += save(plot_roc(curves, title, references), out_dir, "ood_roc", formats=("png",), dpi=DPI)
    if evolution is not None:
        k = list(evolution.steps)
        shown = k if len(k) <= 7 else sorted({k[round(i * (len(k) - 1) / 6)] for i in range(7)})
        paths += save(plot_scores_over_time(evolution, steps=shown), out_dir, "ood_scores_over_time",
                      formats=("png",), dpi=DPI)
        paths += save(plot_metrics_over_time(evolution), out_dir, "ood_metrics_over_time", formats=("png",), dpi=DPI)
    return paths
