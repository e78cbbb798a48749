"""Time evolution of detection scores (RecLag paper Figs 4–5).

Each memory-based detector is a modern Hopfield network; run its own discrete dynamics (eq 12)
k = 0..K steps from the test features and recompute the score, FPR95 and AUROC at every step.
The paper reports that the MHE separation collapses by step 4 (every state moves to a mixture of
stored ID features) while RecLag keeps it (OOD states fall to the origin, Theorem 1).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .._validate import positive_int
from .detectors import MemoryDetector, RecLagDetector, warn_b0
from .features import FeatureSet
from .metrics import CONVENTIONS, Positive, evaluate


@dataclass(frozen=True)
class ScoreEvolution:
    """Scores and metrics per step.

    Attributes:
        steps: ``(K+1,)`` step indices 0..K.
        id_scores, ood_scores: ``{method: (K+1, n)}`` score of every sample at every step.
        fpr, auroc: ``{method: (K+1,)}`` FPR at ``tpr`` and AUROC at every step.
        ood_name, tpr, positive, convention: what was compared and how.
        b0_share: ``{method: share}`` of the ID test points that start in B0 = {G < 0} (RecLag
            rows): they go to the origin at step 1 and tie there, so FPR95 from step 1 on is 1
            once it passes 1 − tpr (then a :class:`~hopdyn.ood.detectors.B0Warning` is raised).
        warnings: the messages of those warnings.
        ood_outside_b0: ``{method: share}`` of the OOD points that start outside B0 (RecLag rows):
            from step 1 on they move to memories, where their scores mix with the ID scores,
            while the rest sit at the origin below every ID point: FPR95 after the dynamics is
            at most about this share, whatever FPR95 was at step 0.
        verdicts: one line per claim of the paper checked on this run (RecLag keeps its step-0
            FPR95 along the dynamics; MHE's collapses; RecLag ends below MHE), each ending in
            "holds" or "does not hold".
    """

    steps: np.ndarray
    id_scores: dict[str, np.ndarray]
    ood_scores: dict[str, np.ndarray]
    fpr: dict[str, np.ndarray]
    auroc: dict[str, np.ndarray]
    ood_name: str
    tpr: float
    positive: str
    convention: str
    b0_share: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    ood_outside_b0: dict[str, float] = field(default_factory=dict)
    verdicts: list[str] = field(default_factory=list)

    @property
    def methods(self) -> list[str]:
        return list(self.fpr)


def score_evolution(
    detectors: Mapping[str, MemoryDetector],
    id_test: FeatureSet,
    ood: FeatureSet,
    steps: int = 8,
    *,
    tpr: float = 0.95,
    positive: Positive = "id",
    ood_name: str | None = None,
) -> ScoreEvolution:
    """Evolve ID and OOD test features under each fitted detector's network for ``steps`` steps
    and evaluate the scores at every step."""
    steps = positive_int(steps, "steps", minimum=0)
    id_s, ood_s, fpr, auc, b0, warned, outside = {}, {}, {}, {}, {}, [], {}
    for name, det in detectors.items():
        if not isinstance(det, MemoryDetector):
            raise ValueError(f"{name}: {type(det).__name__} has no dynamics; use MHE, SHE or RecLagDetector")
        a = det.evolve(id_test, steps=steps).detach().cpu().double().numpy()
        b = det.evolve(ood, steps=steps).detach().cpu().double().numpy()
        metrics = [evaluate(a[k], b[k], tpr, positive) for k in range(steps + 1)]
        id_s[name], ood_s[name] = a, b
        fpr[name] = np.array([m.fpr for m in metrics])
        auc[name] = np.array([m.auroc for m in metrics])
        if isinstance(det, RecLagDetector):
            b0[name] = det.b0_share(id_test)
            outside[name] = 1.0 - det.b0_share(ood)
            msg = warn_b0(b0[name], name, limit=1.0 - float(tpr))
            if msg:
                warned.append(msg)
    verdicts = _verdicts(detectors, fpr, outside, float(tpr)) if steps > 0 else []
    return ScoreEvolution(np.arange(steps + 1), id_s, ood_s, fpr, auc, ood_name or ood.name, float(tpr), positive,
                          CONVENTIONS[positive], b0, warned, outside, verdicts)


#: FPR changes smaller than this (5 points, about two standard errors at a few hundred OOD
#: samples) count as "kept"
KEEP_TOLERANCE = 0.05


def _verdicts(detectors, fpr, outside, tpr) -> list[str]:
    pct = f"FPR{100 * tpr:g}"
    out = []
    rows = [m for m, d in detectors.items() if isinstance(d, RecLagDetector)]
    others = [m for m, d in detectors.items() if not isinstance(d, RecLagDetector)]
    for m in others:
        f0, fk = fpr[m][0], fpr[m][-1]
        out.append(f"{m}'s separation collapses along its dynamics (paper, Fig 5): {pct} {100 * f0:.0f} % at k=0 -> "
                   f"{100 * fk:.0f} % at k={len(fpr[m]) - 1}: " + ("holds" if fk > f0 + KEEP_TOLERANCE else "does not hold"))
    for m in rows:
        f0, fk = fpr[m][0], fpr[m][-1]
        kept = fk <= f0 + KEEP_TOLERANCE
        out.append(f"{m} keeps its separation along the dynamics (paper, Fig 5): {pct} {100 * f0:.0f} % at k=0 -> "
                   f"{100 * fk:.0f} % at k={len(fpr[m]) - 1}: " + ("holds" if kept else
                   f"does not hold (+{100 * (fk - f0):.0f} points; {100 * outside[m]:.0f} % of the OOD points start "
                   "outside B0 and move to memories, where their scores mix with the ID scores, while the rest go "
                   "to the origin: the dynamics bring the score close to the decision 'score >= log γ', which "
                   "cannot beat the step-0 FPR and matches it only when γ sits at the score of the TPR threshold)"))
        for o in others:
            out.append(f"{m} ends below {o} ({pct} at the last step, paper Fig 5): {100 * fk:.0f} % vs "
                       f"{100 * fpr[o][-1]:.0f} %: " + ("holds" if fk < fpr[o][-1] else "does not hold"))
    return out
