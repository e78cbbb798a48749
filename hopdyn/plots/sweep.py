"""Drawing sweep results (:mod:`hopdyn.sweep`): an :class:`xarray.Dataset` in, a figure out.
Pass results already reduced over seeds (:func:`hopdyn.sweep.seed_mean`); nothing is computed here."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BASIN_VARIABLES = ("origin_fraction", "memory_fraction", "unconverged_fraction")
_LABELS = {"beta": "β", "gamma": "γ", "log_gamma": "log γ", "n_memories": "N_H", "n_features": "N_V",
           "nh_over_gamma": "N_H / γ", "ratio_paper": "r* / ε (eq 39)", "ratio_cs": "r* / ε_CS"}


def _label(name: str) -> str:
    return _LABELS.get(name, name.replace("_", " "))


def _spread(values) -> bool:
    """Whether positive coordinates span two decades or more (then a log axis reads better)."""
    v = np.asarray(values, dtype=float)
    return bool(np.all(v > 0) and v.max() / v.min() >= 100)


def _title(ds) -> str:
    n = ds.attrs.get("n_seeds_total")
    seeds = "" if not n else " (1 seed)" if n == 1 else f" (mean of {n} seeds)"
    return f"{ds.attrs.get('analysis', 'sweep')}{seeds}"


def basin_fraction_heatmaps(ds, x: str = "beta", y: str = "gamma", variables: Sequence[str] = BASIN_VARIABLES):
    """One heatmap per basin-fraction variable over the ``x`` × ``y`` grid of a basins sweep,
    each cell annotated with its value (colour scale 0..1, the same for every panel)."""
    import matplotlib.pyplot as plt

    variables = [v for v in variables if v in ds]
    fig, axes = plt.subplots(1, len(variables), figsize=(5.0 * len(variables), 4.2), squeeze=False,
                             layout="constrained")
    xs, ys = ds[x].values, ds[y].values
    for ax, var in zip(axes[0], variables):
        z = ds[var].transpose(y, x).values
        im = ax.imshow(z, origin="lower", vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for j in range(len(ys)):
            for i in range(len(xs)):
                if np.isfinite(z[j, i]):
                    ax.text(i, j, f"{z[j, i]:.2f}", ha="center", va="center", fontsize=8,
                            color="white" if z[j, i] < 0.6 else "black")
                else:
                    ax.text(i, j, "failed", ha="center", va="center", fontsize=7, color="red")
        ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs])
        ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys])
        ax.set_xlabel(_label(x))
        ax.set_ylabel(_label(y))
        ax.set_title(_label(var))
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.85, label="share of initial states")
    fig.suptitle(f"basin fractions over {_label(x)} × {_label(y)}: {_title(ds)}")
    return fig


def basin_fraction_lines(ds, x: str = "beta", hue: str | None = "gamma", variables: Sequence[str] = BASIN_VARIABLES):
    """Basin fractions against ``x``, one line per value of ``hue`` (a panel per variable)."""
    import matplotlib.pyplot as plt

    variables = [v for v in variables if v in ds]
    fig, axes = plt.subplots(1, len(variables), figsize=(4.6 * len(variables), 3.8), squeeze=False, sharey=True)
    cmap = plt.get_cmap("plasma")
    hues = ds[hue].values if hue is not None and hue in ds.dims else [None]
    for ax, var in zip(axes[0], variables):
        for k, h in enumerate(hues):
            da = ds[var] if h is None else ds[var].sel({hue: h})
            ax.plot(ds[x].values, da.values, "o-", color=cmap(k / max(1, len(hues))),
                    label=None if h is None else f"{_label(hue)} = {h:g}")
        if _spread(ds[x].values):
            ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(_label(x))
        ax.set_title(_label(var))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("share of initial states")
    if hues[0] is not None:
        axes[0][-1].legend(fontsize=8)
    fig.suptitle(f"basin fractions against {_label(x)}: {_title(ds)}")
    fig.tight_layout()
    return fig


def radius_ratios(ds, by: str | None = "n_memories"):
    """Theorem 1's looseness: ``r*/ε`` (eq 39) and ``r*/ε_CS`` against N_H/γ, one colour per
    value of ``by`` when it is a dimension (cells with γ ≤ N_H have no radius and are not drawn)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0), sharex=True)
    groups = [(f"{_label(by)} = {v:g}", ds.sel({by: v})) for v in ds[by].values] if by in ds.dims else [(None, ds)]
    cmap = plt.get_cmap("viridis")
    for ax, var in zip(axes, ("ratio_paper", "ratio_cs")):
        for k, (name, part) in enumerate(groups):
            xv = part["nh_over_gamma"].values.ravel()
            yv = part[var].values.ravel()
            ok = np.isfinite(xv) & np.isfinite(yv) & (yv > 0) & (xv < 1)
            order = np.argsort(xv[ok])
            ax.plot(xv[ok][order], yv[ok][order], "o-", ms=4, color=cmap(k / max(1, len(groups))), label=name)
        ax.axhline(1, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(_label("nh_over_gamma") + "  (Theorem 1 needs < 1)")
        ax.set_ylabel(_label(var))
        ax.grid(alpha=0.3, which="both")
    axes[0].set_title("how loose the paper's radius is")
    axes[1].set_title("how loose the Cauchy–Schwarz radius is")
    if groups[0][0] is not None:
        axes[1].legend(fontsize=8)
    fig.suptitle(f"Theorem 1 radii: {_title(ds)}")
    fig.tight_layout()
    return fig


def sweep_panels(ds, variables: Sequence[str] | None = None):
    """Any sweep result: one panel per variable, a heatmap over two dimensions, else lines
    against the first dimension (one per value of the second, when there is one)."""
    import matplotlib.pyplot as plt

    variables = list(variables or ds.data_vars)[:12]
    if not variables:
        raise ValueError("the sweep result holds no variables to draw")
    cols = min(3, len(variables))
    rows = -(-len(variables) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    for ax, var in zip(axes.flat, variables):
        da = ds[var]
        dims = list(da.dims)
        if len(dims) == 2 and da.sizes[dims[0]] > 1 and da.sizes[dims[1]] > 1:
            z = da.transpose(dims[1], dims[0]).values.astype(float)
            im = ax.imshow(z, origin="lower", aspect="auto", cmap="viridis")
            ax.set_xticks(range(da.sizes[dims[0]]), [f"{v:g}" for v in da[dims[0]].values])
            ax.set_yticks(range(da.sizes[dims[1]]), [f"{v:g}" for v in da[dims[1]].values])
            ax.set_xlabel(_label(dims[0]))
            ax.set_ylabel(_label(dims[1]))
            fig.colorbar(im, ax=ax)
        else:
            x = dims[0]
            flat = da.transpose(x, ...).values.reshape(da.sizes[x], -1).astype(float)
            ax.plot(da[x].values, flat, "o-")
            if _spread(da[x].values):
                ax.set_xscale("log")
            ax.set_xlabel(_label(x))
            ax.grid(alpha=0.3)
        ax.set_title(_label(var))
    for ax in axes.flat[len(variables):]:
        ax.axis("off")
    fig.suptitle(_title(ds))
    fig.tight_layout()
    return fig
