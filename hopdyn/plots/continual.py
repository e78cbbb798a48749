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


def training_figure(results: Sequence):
    """From :class:`~hopdyn.experiments.continual.TrainingResult` s (one per regime): (a) energy
    forgetting curves of ``results[0]`` — each old task's mean energy minus its value at the end of
    its own training, over the later training steps (mean over seeds); (b) the same for the
    reconstruction error; (c) per-sample ΔE against Δ reconstruction error on the first task
    change (first seed); (d) old energy against ΔE on that change; (e) the two Spearman
    statistics per regime with their intervals over seeds and verdicts."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 8.6))
    r = results[0]
    steps, task_of = np.asarray(r.steps), np.asarray(r.task_of_record)
    n_tasks = len(r.task_names)
    for ax, curve, what in ((axes[0, 0], r.energy, "mean energy"), (axes[0, 1], r.error, "mean reconstruction error")):
        c = np.asarray(curve).mean(0)  # (records, tasks)
        for t in range(n_tasks - 1):
            end = np.nonzero(task_of == t)[0][-1]
            later = np.arange(end, len(steps))
            ax.plot(steps[later], c[later, t] - c[end, t], color=f"C{t}", label=f"task {t} ({r.task_names[t]})")
        for t in range(1, n_tasks):
            ax.axvline(t * r.steps_per_task, color="0.8", lw=0.8, zorder=0)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel("training step (grey lines: a new task starts)")
        ax.set_ylabel(f"increase of the {what}")
        ax.legend(fontsize=7)
    axes[0, 0].set_title(f"(a) energy forgetting, {r.source}, β = {r.beta:g}, mean of {len(r.seeds)} seeds",
                         fontsize=10)
    axes[0, 1].set_title("(b) retrieval forgetting (corrupted old sample, hd.iterate)", fontsize=10)

    ax = axes[0, 2]
    de, dr = np.asarray(r.example_delta_energy), np.asarray(r.example_delta_error)
    ax.scatter(de, dr, s=5, alpha=0.5)
    ax.set_xlabel("ΔE of an old sample (task 0 → 1)")
    ax.set_ylabel("Δ reconstruction error")
    ax.set_title(f"(c) does ΔE track retrieval forgetting? ρ = {r.rho_tracks[0, 0]:+.2f} (seed {r.seeds[0]})",
                 fontsize=10)
    ax = axes[1, 0]
    ax.scatter(np.asarray(r.example_energy_before), de, s=5, alpha=0.5, color="C1")
    ax.set_xlabel("energy before the change E_old(x)")
    ax.set_ylabel("ΔE")
    ax.set_title(f"(d) do high-energy samples lose more? ρ = {r.rho_energy_forgetting[0, 0]:+.2f}\n"
                 f"(ρ(E_old, E_new) = {r.rho_old_new[0, 0]:+.2f}: ΔE contains −E_old, regression to the mean)",
                 fontsize=9)

    ax = axes[1, 1]
    gs = axes[1, 1].get_gridspec()
    axes[1, 1].remove()
    axes[1, 2].remove()
    ax = fig.add_subplot(gs[1, 1:])
    labels = [f"β = {x.beta:g}{', learned masses' if x.learn_mass else ''}\n{x.source}, {x.objective}" for x in results]
    for j, name in enumerate(("high-energy samples forget more", "ΔE tracks reconstruction forgetting")):
        ivs = [x.verdicts[j].interval for x in results]
        pos = np.arange(len(results)) + (j - 0.5) * 0.3
        ax.errorbar(pos, [i.mean for i in ivs], yerr=[[i.mean - i.low for i in ivs], [i.high - i.mean for i in ivs]],
                    fmt="o", capsize=4, color=f"C{j + 2}", label=name)
        for x0, x in zip(pos, results):
            ax.annotate(x.verdicts[j].verdict.split(" (")[0], (x0, x.verdicts[j].interval.mean), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(results)), labels, fontsize=8)
    ax.set_ylabel("Spearman ρ (mean over task changes and seeds, 95 % CI over seeds)")
    ax.set_title("(e) the claims per regime (positive = the claim)", fontsize=10)
    ax.legend(fontsize=8, loc="center")
    fig.tight_layout()
    return fig


def replay_sweep_figure(result):
    """From a :class:`~hopdyn.experiments.continual.ReplaySweepResult`: restored fraction of the
    forgetting of task 0 against the buffer size k, one line per policy (mean and 95 % interval
    over seeds), one column per replay mass; top row ΔE, bottom row reconstruction error."""
    import matplotlib.pyplot as plt

    masses, ks = result.masses, np.asarray(result.ks)
    fig, axes = plt.subplots(2, len(masses), figsize=(5.2 * len(masses), 7.6), squeeze=False)
    cells = {(c.policy, c.k, c.mass): c for c in result.cells}
    for j, mass in enumerate(masses):
        for i, (key, what) in enumerate((("energy", "ΔE"), ("error", "reconstruction error"))):
            ax = axes[i, j]
            for p, policy in enumerate(result.policies):
                ivs = [getattr(cells[(policy, k, mass)], key) for k in result.ks]
                off = (p - (len(result.policies) - 1) / 2) * 0.02 * ks.max()
                ax.errorbar(ks + off, [v.mean for v in ivs], yerr=[[v.mean - v.low for v in ivs],
                                                                   [v.high - v.mean for v in ivs]],
                            marker="o", capsize=3, label=policy, color=f"C{p}")
            ax.axhline(0, color="k", lw=0.8)
            ax.set_xlabel("buffer size k (old samples replayed; points offset for legibility)")
            ax.set_ylabel(f"restored fraction of the {what} increase")
            ax.set_title(f"replay mass {mass:g} ({what})", fontsize=10)
            ax.legend(fontsize=7)
    fig.suptitle(f"Replay while training on task 1 ({result.source}, β = {result.beta:g}, {len(result.seeds)} seeds, "
                 "95 % CIs over seeds)", fontsize=11)
    fig.tight_layout()
    return fig
