"""Recipe for the modern-Hopfield-attention collapse figure (:mod:`hopdyn.experiments.mha`)."""
from __future__ import annotations

from pathlib import Path

from ..experiments.mha import collapse_vs_depth
from ..plots.mha import plot_collapse_vs_depth
from . import figure, save

#: float64 rounding levels: the relative residual is linear in the token differences (eps),
#: 1 − cosine quadratic in the angles between tokens (eps²)
FLOORS = {"relative_residual": 2.2e-16, "cosine_gap": 2.2e-16**2}


@figure(
    "mha",
    "Rank collapse in pure attention stacks (random weights, no feed-forward, no skip; T = 32, d = 64, "
    "4 heads; 8 weight draws x 8 Gaussian inputs): median relative residual ||res(X)||_{1,inf}/||X||_{1,inf} "
    "and 1 - mean pairwise token cosine similarity (token uniformity) against depth, with 25-75 % bands, "
    "for standard attention "
    "(alpha' = 0) and modern Hopfield attention carrying the scores (alpha' = 0.2, 0.5, 0.8).",
)
def make(out_dir: Path) -> list[Path]:
    r = collapse_vs_depth(progress=False)  # the figures bar is the one bar
    q = {name: r.quantiles(name) for name in ("relative_residual", "cosine_gap")}
    fig = plot_collapse_vs_depth(
        r.depths, r.alphas_h, q, floors=FLOORS,
        title="pure attention stacks, random weights, no skip (T = 32, d = 64, 4 heads)",
    )
    return save(fig, out_dir, "mha_collapse")
