"""Recipes for the continual-learning figures (seed 002): intrinsic forgetting in the tractable
setting and energy-based replay on the digits (both seeded, see :mod:`hopdyn.experiments.continual`)."""
from __future__ import annotations

from pathlib import Path

from ..experiments import continual as ex
from . import figure, save

#: The tractable setting as reported for seed 002 (n = 12, d = 50, c = 0.35, β = 8, 2000 rotations).
TRACTABLE_EPS = (0.02, 0.05)


@figure(
    "continual_forgetting",
    "Seed 002 tractable setting (12 cluster patterns with overlap c = 0.35 plus one orthogonal outlier, d = 50, "
    "beta = 8, 2000 random rotations expm(eps*Omega) of the memory, eps = 0.02 and 0.05), forgetting measured at "
    "the old fixed points. (a) One point per rotation: outlier forgetting against the mean cluster forgetting; "
    "points below the diagonal are rotations where the cluster loses more. (b) Mean forgetting with 95 % paired "
    "bootstrap intervals and the fraction of rotations in which the outlier loses more. (c) Replay gain of one "
    "replayed old pattern (mass 1) on the outlier and the cluster samples.",
)
def forgetting(out_dir: Path) -> list[Path]:
    from ..plots.continual import forgetting_figure

    results = [ex.tractable_experiment(eps) for eps in TRACTABLE_EPS]
    return save(forgetting_figure(results), out_dir, "continual_forgetting")


@figure(
    "continual_replay",
    "Digits (scikit-learn), task A = classes 0-4 (901 memories, unit-norm centred pixels, beta = 40), measured at "
    "the old fixed points. Top: task A's memory replaced by task B (classes 5-9); bottom: task A's memory rotated "
    "(eps = 0.02, 10 draws). Left: old energy against intrinsic forgetting of every old digit (Spearman rho). "
    "Right: fraction of the lost old-task energy restored by replaying 50 old digits (total mass 50) chosen as "
    "the highest-energy (top), random (mean and sd over 20 draws) or lowest-energy (bottom), for all old digits "
    "and for the high- and low-energy quartiles.",
)
def replay(out_dir: Path) -> list[Path]:
    from ..plots.continual import replay_figure

    return save(replay_figure(ex.digits_experiment()), out_dir, "continual_replay")
