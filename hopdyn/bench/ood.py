"""Benchmarks of OOD detection (issue: OOD detection with RecLag)."""
from __future__ import annotations

import time

import torch

from .._threads import few_threads
from ..experiments.ood import run_digits
from ..ood import MHE, MSP, SHE, Energy, FeatureSet, ReAct, RecLagDetector, train_sfnn
from . import benchmark, interleaved


def _features(n: int, d: int = 512, n_classes: int = 10, seed: int = 0) -> FeatureSet:
    """Synthetic ResNet-like features: non-negative, clustered by class, with linear logits."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.rand(n_classes, d, generator=g)
    y = torch.randint(n_classes, (n,), generator=g)
    x = (centers[y] + 0.3 * torch.randn(n, d, generator=g)).clamp_min(0.0)
    w = centers - centers.mean(0)  # a linear head that mostly predicts the right class
    return FeatureSet(x, x @ w.T, y, "synthetic")


@benchmark("ood_train_epoch")
def ood_train_epoch(quick: bool) -> dict:
    """One SFNN training epoch on 50 000 × 512 float32 features, N_H = 250, batch 50 (1000 Adam
    steps), MC (M = 5) and exact objectives, against the forward and backward pass of the bare
    logits ``β X xiᵀ`` with the same batches. An SFNN step needs two products with the memories
    (the logits and the Gaussian cross term) and their gradients, twice that work, plus Adam."""
    n = 10_000 if quick else 50_000
    x = _features(n).features
    kw = dict(n_memories=250, beta=5.0, epochs=1, batch_size=50, progress=False)
    xi = torch.randn(250, 512, requires_grad=True)

    def bare():
        for s in range(0, n, 50):
            torch.autograd.grad(torch.logsumexp(5.0 * x[s:s + 50] @ xi.T, -1).mean(), xi)

    def bare_same_threads():  # train_sfnn runs batches this small on one thread (few_threads)
        with few_threads(50 * 250 * 512):
            bare()

    t = interleaved({"mc": lambda: train_sfnn(x, objective="mc", **kw),
                     "exact": lambda: train_sfnn(x, objective="exact", **kw), "bare": bare_same_threads},
                    repeats=1 if quick else 3)
    scale = 50_000 / n
    ratio = t["mc"] / t["bare"]
    return {"n": n, "mc_epoch_s": t["mc"] * scale, "exact_epoch_s": t["exact"] * scale,
            "bare_logits_epoch_s": t["bare"] * scale, "mc_over_exact": t["mc"] / t["exact"], "ratio": ratio,
            "target": "mc epoch <= 5x the bare logits pass", "ok": ratio <= 5.0}


@benchmark("ood_scoring")
def ood_scoring(quick: bool) -> dict:
    """Scoring 10⁵ test features (512-d float32, 10 classes) with every detector fitted on 5000
    ID training features (MHE/SHE store ~500 per class; RecLag: global N_H = 250). The memory
    detectors are compared with their floor, ``lse(X mᵀ)`` computed bare in one piece for the
    memories m one sample meets (250 rows for RecLag, ~500 for MHE); the bare matmul alone is
    reported too."""
    train, test = _features(5000, seed=1), _features(20_000 if quick else 100_000, seed=2)
    dets = {"MSP": MSP(), "Energy": Energy(), "ReAct": ReAct(), "MHE": MHE(), "SHE": SHE(),
            "RecLag": RecLagDetector(epochs=1, progress=False)}
    fit_s = {}
    for name, det in dets.items():
        t0 = time.perf_counter()
        det.fit(train)
        fit_s[name] = time.perf_counter() - t0
    xi = dets["RecLag"].memories_[0]
    per_class = torch.cat(dets["MHE"].memories_)[: round(sum(map(len, dets["MHE"].memories_)) / 10)]
    x = test.features
    times = interleaved({**{name: (lambda d=det: d.score_samples(test)) for name, det in dets.items()},
                         "floor_reclag": lambda: torch.logsumexp(x @ xi.T, -1),
                         "floor_mhe": lambda: torch.logsumexp(x @ per_class.T, -1),
                         "matmul_reclag": lambda: x @ xi.T},
                        repeats=1 if quick else 3)
    scale = 100_000 / len(test)
    slowest = max(times[k] for k in dets) * scale
    ratio = max(times["RecLag"] / times["floor_reclag"], times["MHE"] / times["floor_mhe"])
    return {"n_test": len(test), **{f"{k}_score_s": v * scale for k, v in times.items()},
            "react_fit_s": fit_s["ReAct"], "mhe_stored_per_class": len(per_class), "slowest_s": slowest,
            "ratio": ratio, "target": "RecLag and MHE <= 1.5x their bare lse(X m^T); every detector < 1 s for 1e5",
            "ok": ratio <= 1.5 and slowest < 1.0}


@benchmark("ood_digits_demo")
def ood_digits_demo(quick: bool) -> dict:
    """The whole digits demo (classifier, 5 baselines, RecLag MC and exact × 11 trials, time
    evolution), end to end; the ratio is against the 60 s budget."""
    trials = 3 if quick else 11
    t0 = time.perf_counter()
    res = run_digits(trials=trials, progress=False)
    wall = time.perf_counter() - t0
    avg = res.report.summary("fpr")
    return {"trials": trials, "demo_s": wall, "reclag_avg_fpr95": avg["RecLag"]["Average"][0],
            "mhe_avg_fpr95": avg["MHE"]["Average"][0], "ratio": wall / 60.0,
            "target": "demo under 60 s (ratio <= 1)", "ok": wall <= 60.0}
