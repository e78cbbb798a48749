"""OOD detection metrics: the ROC curve, FPR at a given TPR (FPR95), AUROC and AUPR.

Scores are *in-distribution scores*: higher means more in-distribution. Two conventions exist
and give different FPR95 on the same scores (SPEC, "OOD detection"):

- ``positive="id"`` (default; the RecLag and SHE tables): ID is the positive class. FPR95 is the
  fraction of OOD samples accepted as ID at the threshold that accepts 95 % of ID samples.
- ``positive="ood"`` (OpenOOD >= 1.5, pytorch-ood): OOD is the positive class, detected by a low
  score. FPR95 is the fraction of ID samples rejected at the threshold that rejects 95 % of OOD.

A threshold ``t`` accepts a sample as positive when its (signed) score is ``>= t``; tied scores
form one threshold, so a tie is never split. FPR at TPR ``r`` is read at the first threshold
(from high to low) whose TPR is ``>= r``, as in OpenOOD. AUROC is the same in both conventions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .._validate import ArrayLike, as_tensor

Positive = Literal["id", "ood"]

#: Words for reports, so that every table names its convention.
CONVENTIONS = {
    "id": "ID is the positive class (FPR = fraction of OOD accepted at the threshold that keeps the TPR on ID)",
    "ood": "OOD is the positive class (FPR = fraction of ID rejected at the threshold that keeps the TPR on OOD)",
}


@dataclass(frozen=True)
class RocCurve:
    """A ROC curve: ``fpr[i]``, ``tpr[i]`` at ``threshold[i]`` (decreasing), starting at (0, 0).

    ``threshold`` is in units of the signed score (the ID score for ``positive="id"``, minus it
    for ``positive="ood"``); its first entry is ``+inf`` (nothing accepted).
    """

    fpr: np.ndarray
    tpr: np.ndarray
    threshold: np.ndarray
    positive: str
    auroc: float

    @property
    def convention(self) -> str:
        return CONVENTIONS[self.positive]


def _scores(x: ArrayLike, name: str) -> np.ndarray:
    t = as_tensor(x, name)
    if t.dim() != 1:
        raise ValueError(f"{name} must be a 1-D array of scores, got shape {tuple(t.shape)}")
    return t.detach().cpu().numpy().astype(np.float64, copy=False)


def _check_positive(positive: str) -> str:
    if positive not in CONVENTIONS:
        raise ValueError(f"positive must be 'id' or 'ood', got {positive!r}")
    return positive


def roc_curve(id_scores: ArrayLike, ood_scores: ArrayLike, positive: Positive = "id") -> RocCurve:
    """The ROC curve of ID scores (higher = more ID), one point per distinct score.

    Equals ``sklearn.metrics.roc_curve(..., drop_intermediate=False)`` with ``pos_label`` the
    positive class and the score negated when OOD is positive.
    """
    pos, neg = _signed(id_scores, ood_scores, _check_positive(positive))
    thresholds, tp, n_above = _counts(pos, neg)
    tpr = np.r_[0.0, tp / pos.size]
    fpr = np.r_[0.0, (n_above - tp) / neg.size]
    return RocCurve(fpr=fpr, tpr=tpr, threshold=np.r_[np.inf, thresholds], positive=positive,
                    auroc=float(np.trapezoid(tpr, fpr)))


def _counts(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At each distinct score from high to low (tied scores are one threshold): the threshold,
    the positives and all samples scoring at least it."""
    s = np.concatenate([pos, neg])
    y = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    # one threshold per distinct score: cut after the last element of each run of ties
    last = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1]
    return s[last], np.cumsum(y)[last], last + 1


def _signed(id_scores: ArrayLike, ood_scores: ArrayLike, positive: str) -> tuple[np.ndarray, np.ndarray]:
    """(positive-class scores, negative-class scores), signed so that higher = more positive."""
    a, b = _scores(id_scores, "id_scores"), _scores(ood_scores, "ood_scores")
    return (a, b) if positive == "id" else (-b, -a)


def fpr_at_tpr(id_scores: ArrayLike, ood_scores: ArrayLike, tpr: float = 0.95, positive: Positive = "id") -> float:
    """FPR at the first threshold whose TPR reaches ``tpr`` (FPR95 for ``tpr=0.95``), in [0, 1].

    With ``positive="id"`` (default) this is the fraction of OOD samples whose score is at least
    the threshold that keeps a fraction ``tpr`` of ID samples. See the module docstring for
    ``positive="ood"``.
    """
    return evaluate(id_scores, ood_scores, tpr, positive).fpr


def auroc(id_scores: ArrayLike, ood_scores: ArrayLike) -> float:
    """Area under the ROC curve: ``P(s_ID > s_OOD) + ½ P(s_ID = s_OOD)``; the same whichever
    class is positive."""
    return roc_curve(id_scores, ood_scores).auroc


def aupr(id_scores: ArrayLike, ood_scores: ArrayLike, positive: Positive = "id") -> float:
    """Area under the precision-recall curve of the ``positive`` class, as average precision
    ``Σ_n (R_n − R_{n−1}) P_n`` over the distinct thresholds from high to low (tied scores are one
    threshold), which is ``sklearn.metrics.average_precision_score``. Unlike AUROC it depends on
    which class is positive (AUPR-In: ``positive="id"``, AUPR-Out: ``positive="ood"``) and on the
    ratio of ID to OOD samples (chance level = fraction of positives)."""
    pos, neg = _signed(id_scores, ood_scores, _check_positive(positive))
    _, tp, n_above = _counts(pos, neg)
    precision = tp / n_above
    recall = tp / pos.size
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


@dataclass(frozen=True)
class Metrics:
    """FPR at ``tpr`` and AUROC of one detector on one OOD set, with the convention that made them."""

    fpr: float
    auroc: float
    tpr: float
    positive: str

    @property
    def convention(self) -> str:
        return CONVENTIONS[self.positive]


def evaluate(id_scores: ArrayLike, ood_scores: ArrayLike, tpr: float = 0.95, positive: Positive = "id") -> Metrics:
    """FPR at ``tpr`` and AUROC in one pass."""
    try:
        tpr = float(tpr)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"tpr must be a number in (0, 1], got {tpr!r}") from exc
    if not 0.0 < tpr <= 1.0:
        raise ValueError(f"tpr must be in (0, 1], got {tpr!r}")
    c = roc_curve(id_scores, ood_scores, positive)
    # TPR is non-decreasing: the first index where it reaches the target
    fpr = float(c.fpr[np.searchsorted(c.tpr, tpr, side="left")])
    return Metrics(fpr=fpr, auroc=c.auroc, tpr=tpr, positive=positive)
