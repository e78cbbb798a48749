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


def plot_training_comparison(result, *, title: str = ""):
    """A trained-model comparison (:class:`~hopdyn.experiments.mha.MHATrainResult`): left, the
    score per (``α``, ``α'``) with seeds as dots (paired seeds joined by grey lines); middle and
    right, attention entropy and effective rank per layer (mean over seeds) per setting; for a
    grid of several ``α`` and ``α'``, the left panel is a heat map of the mean score instead."""
    res, ahs = result.residual_alphas, result.alphas_h
    fig, axes = plt.subplots(1, 3, figsize=(14.0, 3.8))
    ax = axes[0]
    labels_res = ["std" if a is None else f"{a:g}" for a in res]
    if len(res) > 1 and len(ahs) > 1:
        mean = result.score.mean(-1)
        im = ax.imshow(mean, cmap="viridis", aspect="auto")
        for r in range(len(res)):
            for i in range(len(ahs)):
                bright = mean[r, i] > 0.5 * (mean.min() + mean.max())  # viridis is light at the top
                ax.text(i, r, f"{mean[r, i]:.3f}", ha="center", va="center", fontsize=8, color="k" if bright else "w")
        ax.set_xticks(range(len(ahs)), [f"{a:g}" for a in ahs])
        ax.set_yticks(range(len(res)), labels_res)
        ax.set_xlabel(r"$\alpha'$ (carried scores)")
        ax.set_ylabel(r"$\alpha$ (residual; std = $x + \mathrm{Attn}$)")
        fig.colorbar(im, ax=ax, label=f"mean {result.metric}")
    else:
        colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(res)))
        for r, c in enumerate(colors):
            for k in range(len(result.seeds)):
                ax.plot(range(len(ahs)), result.score[r, :, k], "-", color="grey", lw=0.6, alpha=0.5)
            ax.plot(np.repeat(np.arange(len(ahs)), len(result.seeds)), result.score[r].ravel(), "o", ms=4,
                    color=c, alpha=0.6)
            ax.plot(range(len(ahs)), result.score[r].mean(-1), "_", ms=22, mew=2, color=c,
                    label=rf"$\alpha$ = {labels_res[r]} (mean)")
        ax.set_xticks(range(len(ahs)), [f"{a:g}" + (" (std attn)" if a == 0 else "") for a in ahs])
        ax.set_xlabel(r"$\alpha'$ (carried scores)")
        ax.set_ylabel(result.metric)
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    layers = np.arange(1, result.entropy.shape[-1] + 1)
    styles = ["-", "--", ":", "-."]
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(ahs)))
    for ax, data, name in ((axes[1], result.entropy, "attention entropy (nats)"),
                           (axes[2], result.effective_rank, "effective rank of attention maps")):
        for r in range(len(res)):
            for i, c in enumerate(colors):
                lab = rf"$\alpha'$={ahs[i]:g}" + (f", $\\alpha$={labels_res[r]}" if len(res) > 1 else "")
                ax.plot(layers, data[r, i].mean(0), styles[r % 4], marker="o", ms=3, color=c, label=lab)
        ax.set_xlabel("layer")
        ax.set_ylabel(name)
        ax.set_xticks(layers)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
