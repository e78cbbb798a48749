"""Drawing OOD results: ROC curves (RecLag paper Fig 3), score distributions over the dynamics
(Fig 4) and FPR/AUROC over the dynamics (Fig 5). Data come from :mod:`hopdyn.ood`."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..ood.evolution import ScoreEvolution
from ..ood.metrics import RocCurve

ID_COLOR, OOD_COLOR = "tab:blue", "tab:orange"


def _method_colors(methods: Sequence[str]) -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {m: cycle[i % len(cycle)] for i, m in enumerate(methods)}


def plot_roc(curves: Mapping[str, Mapping[str, RocCurve]], title: str = "", references: Sequence[str] = ()):
    """One panel per OOD set: TPR against FPR on a log axis (Fig 3).

    ``curves[ood_set][method]`` is a :class:`~hopdyn.ood.metrics.RocCurve`; ``references`` are
    drawn dashed. One legend for all panels, below them, so that no panel's curves are covered;
    each panel's title names its best method and AUROC (thickest line), and the RecLag rows'
    AUROC. Points with FPR = 0 are drawn at the left edge of the axis (half the smallest positive FPR).
    """
    sets = list(curves)
    methods = list(dict.fromkeys(m for s in sets for m in curves[s]))
    colors = _method_colors(methods)
    ncol = min(3, len(sets))
    nrow = -(-len(sets) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.5 * nrow + 0.35 * (1 + len(methods) // 4)),
                             squeeze=False)
    for ax, s in zip(axes.flat, sets):
        positive = [c.fpr[c.fpr > 0].min() for c in curves[s].values() if (c.fpr > 0).any()]
        floor = 0.5 * min(positive) if positive else 1e-3
        best = max(curves[s], key=lambda m: curves[s][m].auroc)
        for m, c in curves[s].items():
            ax.plot(np.maximum(c.fpr, floor), c.tpr, color=colors[m], lw=2.4 if m == best else 1.1,
                    ls="--" if m in references else "-", zorder=3 if m == best else 2)
        ax.set_xscale("log")
        ax.set_xlim(floor, 1.0)
        ax.set_ylim(0.0, 1.01)
        reclag = [m for m in curves[s] if m.startswith("RecLag") and m not in references and m != best]
        sub = "; ".join(f"{m} {100 * curves[s][m].auroc:.1f}" for m in reclag)
        ax.set_title(f"{s}: best {best} {100 * curves[s][best].auroc:.1f}" + (f"\n{sub}" if sub else ""),
                     fontsize=9)
        ax.set_xlabel("FPR (log scale)")
        ax.set_ylabel("TPR")
        ax.grid(alpha=0.3, which="both")
    for ax in list(axes.flat)[len(sets):]:
        ax.set_visible(False)
    handles = [plt.Line2D([], [], color=colors[m], lw=1.6, ls="--" if m in references else "-",
                          label=m + (" (reference)" if m in references else "")) for m in methods]
    fig.legend(handles=handles, loc="lower center", ncol=min(5, len(methods)), fontsize=8, frameon=False)
    c0 = next(iter(curves[sets[0]].values()))
    fig.suptitle((title + "\n" if title else "") + f"positive class: {c0.positive.upper()}; titles: AUROC (%); "
                 "thickest line: best AUROC", fontsize=10)
    fig.tight_layout(rect=(0, 0.05 + 0.025 * (len(methods) // 5), 1, 1))
    return fig


def plot_scores_over_time(evo: ScoreEvolution, steps: Sequence[int] | None = None):
    """Score distributions of ID and OOD test samples at several steps of each network's
    dynamics (Fig 4): one row per method, violins of ID (blue) and OOD (orange) per step."""
    steps = list(evo.steps) if steps is None else list(steps)
    methods = evo.methods
    fig, axes = plt.subplots(len(methods), 1, figsize=(1.1 * len(steps) + 2.5, 2.8 * len(methods)), squeeze=False)
    for ax, m in zip(axes[:, 0], methods):
        for data, shift, color in ((evo.id_scores[m], -0.2, ID_COLOR), (evo.ood_scores[m], 0.2, OOD_COLOR)):
            parts = ax.violinplot([data[k] for k in steps], positions=np.arange(len(steps)) + shift, widths=0.38,
                                  showmedians=True, showextrema=False)
            for body in parts["bodies"]:
                body.set_facecolor(color)
                body.set_edgecolor(color)
                body.set_alpha(0.55)
            parts["cmedians"].set_color(color)
        ax.set_xticks(np.arange(len(steps)), [f"k={k}" for k in steps])
        ax.set_ylabel(f"{m} score")
        ax.set_title(f"{m}: FPR{100 * evo.tpr:g} " + " → ".join(f"{100 * evo.fpr[m][k]:.0f}%" for k in steps),
                     fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    axes[0, 0].legend([plt.Rectangle((0, 0), 1, 1, color=ID_COLOR, alpha=0.55),
                       plt.Rectangle((0, 0), 1, 1, color=OOD_COLOR, alpha=0.55)],
                      ["ID test", f"OOD: {evo.ood_name}"], fontsize=8, loc="best")
    axes[-1, 0].set_xlabel("step k of the network's discrete dynamics")
    fig.tight_layout()
    return fig


def plot_metrics_over_time(evo: ScoreEvolution):
    """FPR at the chosen TPR and AUROC against the step of each network's dynamics (Fig 5)."""
    colors = _method_colors(evo.methods)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    for m in evo.methods:
        a.plot(evo.steps, 100 * evo.fpr[m], "o-", color=colors[m], label=m)
        b.plot(evo.steps, 100 * evo.auroc[m], "o-", color=colors[m], label=m)
    a.set_ylabel(f"FPR{100 * evo.tpr:g} (%) ↓")
    b.set_ylabel("AUROC (%) ↑")
    a.set_ylim(-2, 102)
    for ax in (a, b):
        ax.set_xlabel("step k")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"ID test vs OOD '{evo.ood_name}' along each network's dynamics ({evo.positive.upper()} positive)",
                 fontsize=10)
    fig.tight_layout()
    return fig
