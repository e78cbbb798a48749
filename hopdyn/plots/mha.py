"""Drawing the modern-Hopfield-attention experiments (data from :mod:`hopdyn.experiments.mha`)."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

_LABELS = {
    "relative_residual": r"$\|\mathrm{res}(X)\|_{1,\infty} / \|X\|_{1,\infty}$",
    "cosine": "mean pairwise token cosine",
    "cosine_gap": "1 − mean pairwise token cosine",
    "residual": r"$\|\mathrm{res}(X)\|_{1,\infty}$",
}


def plot_collapse_vs_depth(
    depths: np.ndarray,
    alphas_h: Sequence[float],
    quantiles: dict[str, np.ndarray],
    *,
    title: str = "",
    floors: dict[str, float] | None = None,
):
    """One panel per metric: the median against depth per ``α'`` with the 25–75 % band.

    ``quantiles[name]`` has shape ``(3, len(alphas_h), len(depths))`` (25 %, 50 %, 75 %).
    ``floors[name]`` draws a dotted line in that panel (e.g. the float64 rounding level) when the
    data come near it.
    """
    names = list(quantiles)
    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 3.6), squeeze=False)
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(alphas_h)))
    for ax, name in zip(axes[0], names):
        lo, med, hi = quantiles[name]
        log = name != "cosine"
        for i, (a, c) in enumerate(zip(alphas_h, colors)):
            label = rf"$\alpha'={a:g}$" + (" (standard attention)" if a == 0 else "")
            ax.plot(depths, med[i], "-o", ms=3, color=c, label=label)
            ax.fill_between(depths, lo[i], hi[i], color=c, alpha=0.2, lw=0)
        if log:
            ax.set_yscale("log")
            if floors and name in floors and np.nanmin(lo) < 1e3 * floors[name]:  # only when reached
                ax.axhline(floors[name], color="grey", ls=":", lw=1, label="float64 rounding")
        else:
            ax.set_ylim(min(-0.05, float(np.nanmin(lo)) - 0.05), 1.05)
        ax.set_xlabel("depth (layers)")
        ax.set_ylabel(_LABELS.get(name, name))
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_accuracy_vs_depth(
    depths: Sequence[int],
    alphas_h: Sequence[float],
    accuracy: np.ndarray,
    *,
    chance: float | None = None,
    title: str = "",
    ax=None,
):
    """Accuracy against depth per ``α'``: mean ± sd over seeds, seeds as dots.

    ``accuracy`` has shape ``(len(alphas_h), len(depths), n_seeds)``.
    """
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.0, 3.6))
    depths = np.asarray(depths, dtype=float)
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(alphas_h)))
    width = 0.12 * (len(alphas_h) - 1)
    for i, (a, c) in enumerate(zip(alphas_h, colors)):
        x = depths + (i - (len(alphas_h) - 1) / 2) * (width / max(1, len(alphas_h) - 1))
        acc = accuracy[i]
        sd = acc.std(-1, ddof=1) if acc.shape[-1] > 1 else np.zeros(acc.shape[0])
        ax.errorbar(x, acc.mean(-1), yerr=sd, fmt="-o", ms=4, capsize=3, color=c, label=rf"$\alpha'={a:g}$")
        ax.plot(np.repeat(x, acc.shape[-1]), acc.ravel(), ".", color=c, alpha=0.35, ms=4)
    if chance is not None:
        ax.axhline(chance, color="grey", ls=":", lw=1, label="chance")
    ax.set_xlabel("depth (blocks)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig if fig is not None else ax.figure
