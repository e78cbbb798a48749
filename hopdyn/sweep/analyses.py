"""The analyses a sweep cell can run, each on the user's network: ``fn(net, *, seed, **options)
-> {name: number}``. They call the library's analyses and pick the numbers worth a dimension of
a result; their keyword options can be fixed (``options=``) or swept like parameters.

A function of your own with this signature sweeps just as well (``run_sweep(my_fn, grid, ...)``).
"""
from __future__ import annotations

import math

import torch

from ..core.network import MHN

__all__ = ["ANALYSES", "basins", "continuation", "ood", "theorem1", "theorem2", "theorem3"]


def basins(net: MHN, *, seed: int, n: int = 2000, steps: int = 1000, sampler: str = "box",
           scale: float | None = None) -> dict:
    """Monte Carlo basin fractions (:func:`~hopdyn.analysis.basins.basin_fractions`, the map of
    eq 12): how many of ``n`` seeded initial states end at the origin, at a memory's attractor,
    elsewhere, or not at all, and the shares. Counts are exact integers."""
    from ..analysis.basins import basin_fractions

    fr = basin_fractions(net, sampler, n, scale=scale, seed=seed, steps=steps, progress=False)
    kinds = fr.attractors.kinds
    count = {k: int(sum(int(c) for c, kind in zip(fr.counts.tolist(), kinds) if kind == k))
             for k in ("origin", "memory", "other")}
    return {
        "n": fr.n,
        "origin_count": count["origin"],
        "memory_count": count["memory"],
        "other_count": count["other"],
        "unconverged_count": fr.n_unconverged,
        "origin_fraction": count["origin"] / fr.n,
        "memory_fraction": count["memory"] / fr.n,
        "other_fraction": count["other"] / fr.n,
        "unconverged_fraction": fr.n_unconverged / fr.n,
        "n_memory_attractors": kinds.count("memory"),
        "origin_attractor": "origin" in kinds,
    }


def theorem1(net: MHN, *, seed: int, n_directions: int = 256, n_random: int = 512, n_adversarial: int = 16) -> dict:
    """Theorem 1 (:func:`~hopdyn.analysis.theorems.check_theorem1`): the radii ε (eq 39), ε_CS
    and r*, how loose they are (``ratio_paper = r*/ε``, ``ratio_cs = r*/ε_CS``), the verdict, and
    ``nh_over_gamma`` = N_H/γ (the theorem needs it < 1)."""
    from ..analysis.theorems import check_theorem1

    r = check_theorem1(net, n_directions=n_directions, n_random=n_random, n_adversarial=n_adversarial, seed=seed)
    return {
        "eps_paper": r.eps_paper, "eps_cs": r.eps_cs, "r_star": r.r_star,
        "ratio_paper": r.ratio_paper, "ratio_cs": r.ratio_cs, "kkt_gap": r.kkt_gap,
        "nh_over_gamma": r.n_memories * math.exp(-r.log_gamma),
        "holds": r.holds, "counterexample": r.counterexample,
    }


def theorem2(net: MHN, *, seed: int, noise: float = 0.3, steps: int = 1000) -> dict:
    """Theorem 2 (:func:`~hopdyn.analysis.theorems.check_theorem2`) from one seeded start: memory
    ``seed mod N_H`` plus Gaussian noise of relative size ``noise``. Reports log γ*, whether
    RecLag equals the vanilla run below γ* and departs from it above."""
    from ..analysis.theorems import check_theorem2
    from ..stats import generator

    g = generator(seed, "sweep_theorem2")
    xi = net.xi.to(torch.float64)
    m = xi[seed % xi.shape[0]]
    v0 = m + noise * m.norm() / xi.shape[1] ** 0.5 * torch.randn(xi.shape[1], generator=g, dtype=torch.float64)
    r = check_theorem2(net, v0=v0, steps=steps)
    return {"log_gamma_star": r.log_gamma_star, "n_steps": r.n_steps, "holds": r.holds,
            "separates_above": r.separates_above}


def theorem3(net: MHN, *, seed: int, R: float | None = None, n_samples: int = 2000, n_boundary: int = 64,  # noqa: N803
             n_mc: int = 5000) -> dict:
    """Theorem 3 (:func:`~hopdyn.analysis.theorems.check_theorem3`) on the ball of radius ``R``
    (default 1.5 × the largest memory norm): disagreements between B0 and ``{p_H < δ}``, the
    shares of the ball in B0 and in the origin's basin, log Z, log δ, the verdict."""
    from ..analysis.theorems import check_theorem3

    R = 1.5 * float(net.xi.to(torch.float64).norm(dim=-1).max()) if R is None else R  # noqa: N806
    r = check_theorem3(net, R=R, n_samples=n_samples, n_boundary=n_boundary, n_mc=n_mc, seed=seed)
    return {"n_disagree": r.n_disagree, "n_tested_b0": r.n_tested_b0, "b0_fraction": r.b0_fraction,
            "basin_fraction": r.basin_fraction, "log_Z": r.log_Z, "log_delta": r.log_delta,
            "n_swallowed": r.memories.n_swallowed, "holds": r.holds, "untested": r.verdict == "untested"}


def continuation(net: MHN, *, seed: int, steps: int = 5000) -> dict:
    """One point of a continuation in β or γ (:mod:`hopdyn.analysis.continuation`, here any
    grid): which attractors the network has there, from
    :func:`~hopdyn.analysis.attractors.memory_attractors` and, for RecLag,
    :func:`~hopdyn.analysis.attractors.memory_fates` (memories surviving, swallowed by the
    origin's basin, merged). ``seed`` plays no part."""
    from ..analysis.attractors import memory_attractors, memory_fates
    from ..core.lagrangians import RecLag

    att = memory_attractors(net)
    out = {"n_attractors": len(att), "n_memory_attractors": att.kinds.count("memory"),
           "origin_attractor": att.origin >= 0}
    if isinstance(net.memory, RecLag):
        f = memory_fates(net, steps=steps, warn=False)
        out.update(n_survive=f.n_survive, n_swallowed=f.n_swallowed, n_merged=f.n_merged)
    return out


def ood(net: MHN, *, seed: int, n_test: int = 300, steps: int = 1, tpr: float = 0.95) -> dict:
    """One OOD trial on a digits network (``memories="digits"``, N_V = 64): ``n_test`` seeded
    digit images that are not memories (ID) against uniform-noise images and pixel-shuffled
    digits (OOD), scored by ``lse(β ξ v)`` (:func:`~hopdyn.ood.detectors.score_lse`, RecLag's
    gate plus log γ) after ``steps`` steps of the network's own map (eq 12; RecLag sends B0 to 0).
    AUROC and FPR at ``tpr`` per OOD set, and the share of ID test images starting in B0."""
    from ..core.discrete import iterate
    from ..datasets import digits
    from ..ood.detectors import score_lse
    from ..ood.metrics import auroc, fpr_at_tpr
    from ..stats import generator

    if net.n_features != 64:
        raise ValueError(f"the ood analysis needs a digits network (N_V = 64, memories='digits'), got N_V = {net.n_features}")
    xi = net.xi.to(torch.float64)
    images = digits(torch.float64)[0]
    stored = (torch.cdist(images, xi).min(-1).values == 0)
    pool = images[~stored]
    g = generator(seed, "sweep_ood")
    idt = pool[torch.randperm(pool.shape[0], generator=g)[:n_test]]
    sets = {"noise": torch.rand(idt.shape, generator=g, dtype=torch.float64),
            "shuffled": torch.stack([x[torch.randperm(x.numel(), generator=g)] for x in idt])}
    beta = net.memory.beta

    def score(x: torch.Tensor) -> torch.Tensor:
        v = iterate(net, x, steps=steps, keep="last", progress=False).final if steps else x
        return score_lse(v @ xi.T, beta)

    s_id = score(idt)
    out: dict = {"b0_share_id": float((net.gate_value(idt) < 0).double().mean()) if net.has_gate else 0.0}
    for name, x in sets.items():
        s = score(x)
        out[f"auroc_{name}"] = auroc(s_id.numpy(), s.numpy())
        out[f"fpr_{name}"] = fpr_at_tpr(s_id.numpy(), s.numpy(), tpr)
    return out


#: The built-in analyses by name (what ``hopdyn sweep ANALYSIS`` runs).
ANALYSES = {"basins": basins, "theorem1": theorem1, "theorem2": theorem2, "theorem3": theorem3,
            "continuation": continuation, "ood": ood}
