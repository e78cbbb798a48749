"""Drawing the A-Hop results (data from :mod:`hopdyn.experiments.adaptive`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def sweep_figure(sweep, paper: dict | None = None):
    """(a) correct retrieval against difficulty per model, with the paper's points if given
    (``{label: (difficulty, accuracy)}``); (b) A-Hop's learned weight of each sorted dimension."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, acc in sweep.accuracy.items():
        ax.plot(sweep.difficulties, acc, "o-", lw=2 if name == "A-Hop" else 1.2, label=name)
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
