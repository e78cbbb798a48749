"""Recipes for the continual-learning figures (seed 002): intrinsic forgetting in the tractable
setting and energy-based replay on the digits (both seeded, see :mod:`hopdyn.experiments.continual`)."""
from __future__ import annotations

from pathlib import Path

from ..experiments import continual as ex
from . import figure, save

#: Rotation sizes of the tractable-setting figure. The whole setting (n = 12, d = 50, c = 0.35, β = 8, 2000
#: rotations) is hopdyn's choice: the seed (an abstract) states no numbers for its tractable settings.
TRACTABLE_EPS = (0.02, 0.05)


@figure(
    "continual_forgetting",
    "A tractable setting in the spirit of seed 002, parameters chosen by hopdyn (the seed gives none): 12 cluster "
    "patterns with overlap c = 0.35 plus one orthogonal outlier, d = 50, beta = 8, 2000 random rotations "
    "expm(eps*Omega) of the memory, eps = 0.02 and 0.05; forgetting measured at the old fixed points. (a) One point"
    " per rotation: outlier forgetting against the mean cluster forgetting; points below the diagonal are rotations"
    " where the cluster loses more. (b) Mean forgetting with 95 % paired bootstrap intervals and the fraction of "
    "rotations in which the outlier loses more. (c) Replay gain of one replayed old pattern (mass 1) on the outlier"
    " and the cluster samples.",
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


#: Forgetting by training for the figures: the first 20 digits of each class (tasks = class pairs),
#: 20 memories, 30 Adam steps per task (lr 0.05), 3 seeds; hopdyn's choices, not the paper's
#: (see hopdyn.experiments.continual.PROVENANCE). ``hopdyn continual`` runs the full-size version.
TRAINING = {"steps": 30, "lr": 0.05, "seeds": (0, 1, 2)}
PER_CLASS = 20


@figure(
    "continual_training",
    "Forgetting by training (hopdyn's settings; the seed gives no numbers): a weighted MHN with 20 memories is "
    "trained by maximum likelihood of exp(-beta E) (Adam, 30 steps per task) on digits split into tasks by class "
    "pairs (0,1), (2,3), ..., (8,9), first 20 digits per class, 3 seeds. (a) Energy forgetting curves of each old "
    "task (mean energy minus its value at the end of its own training); (b) the same for the reconstruction error "
    "of a noisy old sample retrieved by hd.iterate; (c) per-sample energy increase against reconstruction-error "
    "increase on the change task 0 -> 1; (d) old energy against energy increase; (e) the Spearman statistics for "
    "beta = 10 and 40 with 95 % intervals over seeds and the verdict on each claim.",
)
def training(out_dir: Path) -> list[Path]:
    from ..plots.continual import training_figure

    tasks = ex.builtin_tasks("digits", per_class=PER_CLASS)
    return save(training_figure([ex.training_experiment(tasks, beta=b, **TRAINING) for b in (10.0, 40.0)]), out_dir,
                "continual_training")


@figure(
    "continual_replay_sweep",
    "Replay while training on task 1 (digits classes 2,3 after 0,1; first 20 digits per class; beta = 10; "
    "3 seeds): fraction of the forgetting of task 0 that replay removes, for a buffer of k = 5 or 15 old digits "
    "chosen by energy (top/bottom), at random, by herding or by reconstruction loss, weighted 0.25 or 1 against "
    "the new task; top: energy increase, bottom: reconstruction-error increase; 95 % intervals over seeds.",
)
def replay_sweep(out_dir: Path) -> list[Path]:
    from ..plots.continual import replay_sweep_figure

    tasks = ex.builtin_tasks("digits", per_class=PER_CLASS)
    return save(replay_sweep_figure(ex.replay_sweep(tasks, beta=10.0, ks=(5, 15), **TRAINING)), out_dir,
                "continual_replay_sweep")
