"""Drawing the continual-learning experiments of :mod:`hopdyn.experiments.continual` (data in, figure out)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def forgetting_figure(results: Sequence, scatter_index: int = 0):
    """Three panels from :class:`~hopdyn.experiments.continual.TractableResult` s (one per ε):
    (a) per-rotation forgetting of the outlier against the cluster for ``results[scatter_index]``,
    with the diagonal, so the rotations where the cluster loses more (below it) are visible;
    (b) per ε, the distribution over rotations of how much more the outlier loses (relative
    excess), the fraction above 0 and the paired-bootstrap interval of the mean difference;
    (c) the replay gain table (means with bootstrap intervals, log scale)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    r = results[scatter_index]
    x, y = np.asarray(r.delta_cluster), np.asarray(r.delta_outlier)
    above = y > x
    ax = axes[0]
    ax.scatter(x[above], y[above], s=4, alpha=0.5, color="C3", label=f"outlier loses more ({above.mean():.1%})")
    ax.scatter(x[~above], y[~above], s=4, alpha=0.5, color="C0", label=f"cluster loses more ({(~above).mean():.1%})")
    lim = [min(x.min(), y.min()), max(x.max(), y.max())]
    ax.plot(lim, lim, color="k", lw=1)
    ax.set_xlabel("ΔE cluster (mean of the cluster samples)")
    ax.set_ylabel("ΔE outlier")
    ax.set_title(f"(a) one point per rotation: ε = {r.eps:g}, {r.n_rotations} rotations")
    ax.legend(loc="upper left", fontsize=8, markerscale=3)

    ax = axes[1]
    ax.violinplot([np.asarray(res.excess) for res in results], showextrema=False)
    ax.axhline(0, color="k", lw=1)
    for j, res in enumerate(results, start=1):
        ex = np.asarray(res.excess)
        ax.boxplot(ex, positions=[j], widths=0.12, showfliers=False)
        d = res.difference
        ax.text(j, ex.max(), f"outlier loses more\nin {res.frac_outlier_loses_more:.1%} of rotations\n"
                f"mean ΔE_out − ΔE_cl\n= {d.mean:.2e}\n95 % CI [{d.low:.2e},\n{d.high:.2e}]",
                ha="center", va="bottom", fontsize=7.5)
    ax.set_xticks(range(1, len(results) + 1), [f"ε = {res.eps:g}" for res in results])
    ax.set_ylim(top=ax.get_ylim()[1] + 0.6 * np.ptp(ax.get_ylim()))
    ax.set_ylabel("ΔE_outlier / ΔE_cluster − 1  (per rotation)")
    ax.set_title(f"(b) forgetting at the {results[0].at.replace('_', ' ')}s: spread over rotations")

    ax = axes[2]
    names = list(results[0].gains)
    for j, res in enumerate(results):
        iv = [res.gains[n] for n in names]
        ax.errorbar([i.mean for i in iv], np.arange(len(names)) + (j - 0.5) * 0.3, fmt="o",
                    xerr=[[i.mean - i.low for i in iv], [i.high - i.mean for i in iv]], capsize=3, label=f"ε = {res.eps:g}")
    ax.set_yticks(range(len(names)), names)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel(f"replay gain Δ (replay mass {results[0].replay_mass:g})")
    ax.set_title("(c) energy restored by replaying one pattern")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def replay_figure(results: Sequence):
    """From :class:`~hopdyn.experiments.continual.ContinualDigitsResult` s: one row per task change with (left) old energy
    against forgetting of every old sample, (right) the restored fraction of old-task energy per
    replay policy, for all samples and the high/low-energy quartiles (error bars: sd over random
    draws)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 2, figsize=(11, 3.9 * len(results)), squeeze=False)
    for row, r in zip(axes, results):
        ax = row[0]
        ax.scatter(np.asarray(r.energy_old), np.asarray(r.delta), s=5, alpha=0.5)
        change = "replaced by task B" if r.change == "replace" else f"rotated (ε = {r.eps:g}, {r.n_rotations} draws)"
        ax.set_title(f"memory of task A {change}: Spearman ρ = {r.spearman_rho:+.2f}", fontsize=10)
        ax.set_xlabel("old energy E(fp(x) | X_old)")
        ax.set_ylabel("intrinsic forgetting ΔE")

        ax = row[1]
        groups = (("all", "restored", "restored_sd"), ("high-energy quartile", "restored_high", "restored_high_sd"),
                  ("low-energy quartile", "restored_low", "restored_low_sd"))
        width = 0.26
        for i, (label, key, sd) in enumerate(groups):
            pos = np.arange(len(r.policies)) + (i - 1) * width
            ax.bar(pos, [getattr(p, key) for p in r.policies], width, color=f"C{i}", label=label)
            spread = [(x, getattr(p, key), getattr(p, sd)) for x, p in zip(pos, r.policies) if getattr(p, sd) > 0]
            if spread:
                ax.errorbar(*zip(*spread), fmt="none", ecolor="k", capsize=3)
        p0 = r.policies[0]
        ax.set_xticks(range(len(r.policies)), [f"{p.policy}-{p.k}" if p.policy != "random" else "random" for p in r.policies])
        ax.axhline(0, color="k", lw=0.8)
        ax.set_ylabel("restored fraction of lost energy")
        ax.set_title(f"replay {p0.k} old digits, total mass {p0.total_mass:g}", fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
