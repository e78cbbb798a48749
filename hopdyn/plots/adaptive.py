"""Drawing the A-Hop results (data from :mod:`hopdyn.experiments.adaptive`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def _yerr(mid, low, high) -> np.ndarray:
    """Error-bar lengths ``[mid − low, high − mid]``, clipped at 0 (a Wilson bound at 0 or 1
    can sit an ulp inside the estimate)."""
    mid, low, high = (np.asarray(v, dtype=float) for v in (mid, low, high))
    return np.clip(np.stack([mid - low, high - mid]), 0.0, None)


def sweep_figure(sweep, paper: dict | None = None):
    """(a) correct retrieval against difficulty per model, with the paper's points if given
    (``{label: (difficulty, accuracy)}``); (b) A-Hop's learned weight of each sorted dimension."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, acc in sweep.accuracy.items():
        style = dict(ls="--", color="k", lw=1.2) if name == "Bayes" else dict(ls="-", lw=2 if name == "A-Hop" else 1.2)
        ax.plot(sweep.difficulties, acc, marker="o", label=name if name != "Bayes" else "Bayes (true likelihood)", **style)
    for label, (t, a) in (paper or {}).items():
        ax.plot([t], [a], "k*", ms=10)
        ax.annotate(label, (t, a), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set(xlabel="difficulty t (mixed variants)", ylabel="correct retrieval", ylim=(0, 1.02),
           title=f"(a) correct retrieval, {sweep.setting}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    for base, w in sweep.footprint_weights.items():
        w = np.asarray(w)
        bx.plot(np.arange(1, len(w) + 1), w / np.abs(w).max(), "o-", ms=3, label=f"{base} (scaled by {np.abs(w).max():.2g})")
    bx.axhline(0, color="k", lw=0.6)
    bx.set(xlabel="rank k of the per-dimension similarity (1 = most consistent)",
           ylabel="learned weight of rank k (scaled)", title=f"(b) A-Hop footprint weights at t = {sweep.weights_difficulty:g}")
    bx.legend(fontsize=8)
    bx.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def kinds_figure(table):
    """Correct retrieval against difficulty, one panel per kind of variant, with the Wilson
    intervals of a :class:`~hopdyn.experiments.adaptive.KindTable`; the Bayes rule dashed."""
    kinds = list(dict.fromkeys(r.kind for r in table.rows))
    models = list(dict.fromkeys(r.model for r in table.rows))
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.4 * len(kinds), 3.4), sharey=True, squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        ts = sorted({r.difficulty for r in table.rows if r.kind == kind})
        shift = 0.012 * ((ts[-1] - ts[0]) or 0.1)  # side by side, so the intervals do not overlap
        for i, m in enumerate(models):
            rs = [r for r in table.rows if r.kind == kind and r.model == m]
            t = np.array([r.difficulty for r in rs]) + shift * (i - (len(models) - 1) / 2)
            acc = np.array([r.accuracy for r in rs])
            err = _yerr(acc, [r.low for r in rs], [r.high for r in rs])
            style = dict(ls="--", color="k", lw=1.2) if m == "Bayes" else dict(lw=2.2 if m == "A-Hop" else 1.1)
            ax.errorbar(t, acc, yerr=err, marker="o", ms=3, capsize=2, label=m, **style)
        ax.set(title=f"{kind} variants", xlabel="difficulty t", ylim=(0, 1.02))
        ax.set_xticks(ts, [f"{t:g}" for t in ts])
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("correct retrieval (95% CI)")
    axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Correct retrieval per kind of variant ({len(table.seeds)} seeds pooled)", fontsize=10)
    fig.tight_layout()
    return fig


def downstream_figure(results):
    """Accuracy with Wilson intervals per model, one panel per
    :class:`~hopdyn.experiments.adaptive.DownstreamResult` (tabular sets, digit bags)."""
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.6), squeeze=False)
    for ax, res in zip(axes[0], results):
        names = [r.model for r in res.rows]
        acc = np.array([r.accuracy for r in res.rows])
        err = _yerr(acc, [r.low for r in res.rows], [r.high for r in res.rows])
        colors = ["tab:red" if n == "A-Hop" else "tab:blue" if n.endswith("Hop") else "0.45" for n in names]
        for i, c in enumerate(colors):  # points, not bars: the axis does not start at 0
            ax.errorbar([i], acc[i:i + 1], yerr=err[:, i:i + 1], fmt="o", color=c, capsize=3, ms=6)
        ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
        lo = max(0.0, float((acc - err[0]).min()) - 0.05)
        ax.set(ylim=(lo, 1.01), ylabel="test accuracy (95% CI)", title=f"{res.task}, {len(res.seeds)} seeds")
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def energy_figure(rows):
    """Fraction of queries whose energy never rose along retrieval, per model and kind, with
    Wilson intervals (rows of :func:`~hopdyn.experiments.adaptive.energy_table`)."""
    kinds = list(dict.fromkeys(r.kind for r in rows))
    models = list(dict.fromkeys(r.model for r in rows))
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(kinds), 3.4))
    w = 0.8 / len(models)
    for i, m in enumerate(models):
        rs = [next(r for r in rows if r.kind == k and r.model == m) for k in kinds]
        x = np.arange(len(kinds)) + (i - (len(models) - 1) / 2) * w
        f = np.array([r.monotone for r in rs])
        err = _yerr(f, [r.monotone_low for r in rs], [r.monotone_high for r in rs])
        ax.bar(x, f, w, yerr=err, capsize=2, label=m)
    ax.set_xticks(range(len(kinds)), kinds)
    ax.set(ylim=(0, 1.05), ylabel="queries with monotone energy (95% CI)",
           title="Does E = -lse(s) decrease along retrieval? (paper: yes for noisy, biased)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
