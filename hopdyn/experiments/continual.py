"""The continual-learning paper's experiments (seed 002: Takeda, Oizumi & Karakida), built on
:mod:`hopdyn.continual`:

- :func:`tractable_experiment`: n cluster patterns and one orthogonal outlier
  (:func:`~hopdyn.datasets.cluster_and_outlier`) under random rotations: outlier against cluster
  forgetting with paired bootstrap intervals, and the replay-gain table (:class:`TractableResult`);
- :func:`digits_experiment`: scikit-learn's digits, task A = classes 0-4 → task B = 5-9 (or a
  rotation of task A): forgetting against old energy and the replay policies
  (:class:`ContinualDigitsResult`).
"""
from __future__ import annotations

import dataclasses

import torch

from .._validate import positive_int
from ..continual import (
    At, PolicyResult, compare_policies, intrinsic_forgetting, pairwise_replay_gain, random_rotations, replace,
    replay_gain_closed_form, retrieval_weights, retrieve, rotate,
)
from ..datasets import cluster_and_outlier, digits
from ..stats import Interval, bootstrap_means, paired_bootstrap


# -- the tractable setting -----------------------------------------------------------------------
#: The replay-gain table of the tractable experiment: (name, replayed pattern, sample).
GAIN_PAIRS = (
    ("outlier -> outlier", "outlier", "outlier"),
    ("cluster -> itself", "cluster", "self"),
    ("cluster -> other cluster", "cluster", "other"),
    ("outlier -> cluster", "outlier", "cluster"),
    ("cluster -> outlier", "cluster", "outlier"),
)


@dataclasses.dataclass(frozen=True)
class TractableResult:
    """Intrinsic forgetting of the outlier against the cluster over random rotations.

    ``delta_outlier[r]`` and ``delta_cluster[r]`` (the mean over the n cluster samples) are the
    forgetting in rotation r. ``frac_outlier_loses_more`` is the fraction of rotations with
    ``delta_outlier > delta_cluster``; ``excess = delta_outlier / delta_cluster − 1`` is how much
    more (relative) the outlier loses in each rotation; ``frac_outlier_loses_more_single`` compares the outlier
    with each single cluster sample (all n·R pairs). ``gains`` maps the rows of
    :data:`GAIN_PAIRS` to the replay gain (mass ``replay_mass``) averaged per rotation, with a
    bootstrap interval; ``frac_self_gain_outlier_larger`` is the fraction of rotations where
    replaying the outlier restores it more than replaying a cluster sample restores itself
    (cluster mean). ``closed_form_max_error`` is the largest |closed form − direct| gain.
    """

    eps: float
    beta: float
    n: int
    d: int
    c: float
    n_rotations: int
    at: str
    replay_mass: float
    energy_outlier: float
    energy_cluster: float
    delta_outlier: torch.Tensor
    delta_cluster: torch.Tensor
    excess: torch.Tensor
    outlier: Interval
    cluster: Interval
    difference: Interval
    frac_outlier_loses_more: float
    frac_outlier_loses_more_single: float
    gains: dict[str, Interval]
    frac_self_gain_outlier_larger: float
    closed_form_max_error: float


def tractable_experiment(
    eps: float = 0.02,
    *,
    n_rotations: int = 2000,
    n: int = 12,
    d: int = 50,
    c: float = 0.35,
    beta: float = 8.0,
    at: At = "fixed_point",
    replay_mass: float = 1.0,
    n_boot: int = 2000,
    seed: int = 0,
) -> TractableResult:
    """The tractable setting of seed 002: :func:`~hopdyn.datasets.cluster_and_outlier` under ``n_rotations`` random
    rotations ``X_new = X_old Vᵀ``; the old samples are the stored patterns. Paired bootstrap over
    rotations for outlier vs cluster forgetting; the replay gain table from the direct gains,
    checked against :func:`replay_gain_closed_form` on every rotation."""
    X = cluster_and_outlier(n, d, c)
    g = torch.Generator().manual_seed(seed)
    X_new = rotate(X, random_rotations(n_rotations, d, eps, generator=g))
    f = intrinsic_forgetting(X, X, X_new, beta, at=at)
    delta = f.delta  # (R, n + 1)
    d_out, d_cl = delta[:, n], delta[:, :n].mean(1)
    outlier, cluster, diff = paired_bootstrap(d_out, d_cl, n_boot=n_boot, generator=g)

    gain = pairwise_replay_gain(f.points, X_new, X, beta, replay_mass)  # (R, S = n + 1, K = n + 1)
    p = retrieval_weights(f.points, X, beta).mT  # p[r, k] = p_{r|k}
    closed = replay_gain_closed_form(p, delta, beta, replay_mass)
    eye = torch.eye(n, dtype=torch.bool)
    per_rotation = {
        "outlier -> outlier": gain[:, n, n],
        "cluster -> itself": gain[:, :n, :n][:, eye].mean(1),
        "cluster -> other cluster": gain[:, :n, :n][:, ~eye].mean(1),
        "outlier -> cluster": gain[:, n, :n].mean(1),
        "cluster -> outlier": gain[:, :n, n].mean(1),
    }
    gains = dict(zip(per_rotation, bootstrap_means(list(per_rotation.values()), n_boot=n_boot, generator=g)))
    return TractableResult(
        eps=float(eps), beta=float(beta), n=n, d=d, c=float(c), n_rotations=n_rotations, at=at,
        replay_mass=float(replay_mass),
        energy_outlier=float(f.energy_old[n]), energy_cluster=float(f.energy_old[:n].mean()),
        delta_outlier=d_out, delta_cluster=d_cl, excess=d_out / d_cl - 1, outlier=outlier, cluster=cluster, difference=diff,
        frac_outlier_loses_more=float((d_out > d_cl).double().mean()),
        frac_outlier_loses_more_single=float((delta[:, n:] > delta[:, :n]).double().mean()),
        gains=gains,
        frac_self_gain_outlier_larger=float(
            (per_rotation["outlier -> outlier"] > per_rotation["cluster -> itself"]).double().mean()),
        closed_form_max_error=float((closed - gain).abs().max()),
    )


# -- the digits experiment -----------------------------------------------------------------------
def digits_tasks(
    task_a: tuple[int, ...] = (0, 1, 2, 3, 4),
    task_b: tuple[int, ...] = (5, 6, 7, 8, 9),
    per_class: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`hopdyn.datasets.digits` split into two tasks by class: pixels centred by the mean over
    all digits and scaled to unit norm; returns ``(X_a, X_b)`` (float64). ``per_class``
    keeps only the first that many digits of each class (for quick runs)."""
    if set(task_a) & set(task_b) or not task_a or not task_b:
        raise ValueError(f"task_a and task_b must be disjoint, non-empty sets of classes, got {task_a} and {task_b}")
    x, y = digits(torch.float64)
    x = x - x.mean(0)
    x = x / x.norm(dim=1, keepdim=True)
    if per_class is not None:
        per_class = positive_int(per_class, "per_class")
        rank = torch.zeros_like(y)
        for c in y.unique():  # 10 classes: the position of each digit within its class
            rank[y == c] = torch.arange(int((y == c).sum()))
        x, y = x[rank < per_class], y[rank < per_class]
    in_a, in_b = torch.isin(y, torch.tensor(task_a)), torch.isin(y, torch.tensor(task_b))
    return x[in_a], x[in_b]


@dataclasses.dataclass(frozen=True)
class ContinualDigitsResult:
    """Digits, task A → task B. ``change="replace"``: the memory of task A is replaced by task B's;
    ``"rotate"``: task A's memory is rotated (``n_rotations`` draws of size ``eps``). The old
    samples are task A's patterns; ``n_fixed_points`` counts their distinct fixed points (fewer
    than ``n_old`` when several samples fall into one mixture state); ``spearman_rho`` is the rank
    correlation between their old energy and their forgetting (mean over the task-change batch) —
    positive means high-energy samples lose more."""

    change: str
    beta: float
    eps: float | None
    n_rotations: int
    n_old: int
    n_new: int
    n_fixed_points: int
    energy_old: torch.Tensor
    delta: torch.Tensor
    spearman_rho: float
    spearman_p: float
    policies: list[PolicyResult]


def digits_experiment(
    changes: tuple[str, ...] = ("replace", "rotate"),
    *,
    beta: float = 40.0,
    k: int = 50,
    total_mass: float = 50.0,
    eps: float = 0.02,
    n_rotations: int = 10,
    n_random: int = 20,
    per_class: int | None = None,
    seed: int = 0,
) -> list[ContinualDigitsResult]:
    """For each task change in ``changes`` ("replace", "rotate"): energies of task A's digits at
    their fixed points before and after, and the replay policies of :func:`compare_policies`
    (``k`` old patterns, total mass ``total_mass``)."""
    from scipy.stats import spearmanr

    bad = set(changes) - {"replace", "rotate"}
    if bad or not changes:
        raise ValueError(f"changes must be a non-empty subset of ('replace', 'rotate'), got {changes!r}")
    X_a, X_b = digits_tasks(per_class=per_class)
    # the fixed points are shared by every change; measuring "raw" at a fixed point is measuring there
    q = retrieve(X_a, X_a, beta)
    n_fixed = torch.unique(torch.round(q, decimals=6), dim=0).shape[0]
    out = []
    for change in changes:
        if change == "replace":
            X_new, n_rot, eps_used = replace(X_a, X_b), 1, None
        else:
            g = torch.Generator().manual_seed(seed)
            X_new = rotate(X_a, random_rotations(n_rotations, X_a.shape[1], eps, generator=g))
            n_rot, eps_used = n_rotations, float(eps)
        f = dataclasses.replace(intrinsic_forgetting(q, X_a, X_new, beta, at="raw"), at="fixed_point")
        delta = f.delta.mean(0)
        rho, pval = spearmanr(f.energy_old.numpy(), delta.numpy())
        policies = compare_policies(f, X_a, X_new, beta, k, total_mass, n_random=n_random, seed=seed)
        out.append(ContinualDigitsResult(change, float(beta), eps_used, n_rot, X_a.shape[0], X_new.shape[-2], n_fixed,
                                f.energy_old, delta, float(rho), float(pval), policies))
    return out
