"""Running detectors against OOD sets and reporting FPR95 and AUROC as in the paper's tables.

Stochastic detectors (RecLag) are refitted with ``trials`` seeds and reported as the trimmed
mean ± sd (the largest and the smallest value dropped, RecLag paper Table 1); deterministic ones
run once. The Average column averages each trial over the OOD sets first.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from .._io import format_table
from .._validate import positive_int
from .detectors import MHE, MSP, SHE, TIE_RISK, Detector, Energy, ReAct, RecLagDetector, warn_b0
from .features import FeatureSet
from .metrics import CONVENTIONS, Positive, RocCurve, evaluate, roc_curve
from .references import REFERENCES

DetectorFactory = Callable[[int], Detector]


def default_detectors(reclag: Mapping[str, Mapping] | None = None, *, mhe_beta: float = 0.01,
                      react_percentile: float = 90.0, references: bool = False) -> dict[str, DetectorFactory]:
    """The paper's line-up: MSP, Energy, ReAct, MHE, SHE and RecLag variants.

    ``reclag`` maps a row name to :class:`RecLagDetector` keyword arguments (default: one row
    ``"RecLag"`` with the paper's setting); each factory takes the trial's seed.
    ``references=True`` adds the reference rows (marked so in reports): ``"RecLag (untrained)"``
    (the first RecLag row's options with ``epochs=0``: memories = random training rows) and
    :data:`hopdyn.ood.references.REFERENCES` (``"Mahalanobis"``, ``"kNN"``, ``"GMM"``).
    """
    reclag = {"RecLag": {}} if reclag is None else reclag
    out: dict[str, DetectorFactory] = {
        "MSP": lambda seed: MSP(),
        "Energy": lambda seed: Energy(),
        "ReAct": lambda seed: ReAct(react_percentile),
        "MHE": lambda seed: MHE(mhe_beta),
        "SHE": lambda seed: SHE(mhe_beta),
    }
    for name, kwargs in reclag.items():
        out[name] = lambda seed, kw=dict(kwargs): RecLagDetector(**{**kw, "seed": seed})
    if references:
        first = dict(next(iter(reclag.values()), {}))
        out[UNTRAINED] = lambda seed, kw=first: _untrained(RecLagDetector(**{**kw, "seed": seed, "epochs": 0}))
        out.update(REFERENCES)
    return out


#: the name of the untrained-memories reference row
UNTRAINED = "RecLag (untrained)"


def _untrained(det: RecLagDetector) -> RecLagDetector:
    det.reference = True
    return det


def trimmed(values: list[float]) -> tuple[float, float]:
    """Mean and sample sd after dropping the largest and the smallest value (when there are >= 3)."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    if v.size >= 3:
        v = v[1:-1]
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


@dataclass
class OODReport:
    """FPR at ``tpr`` and AUROC per method and OOD set, one value per trial.

    ``fpr[method][ood_set]`` and ``auroc[...]`` are lists over trials; ``fit_seconds`` per trial;
    ``objectives[method]`` the held-out ID objectives of trained RecLag models (``nll``: exact
    negative log marginal; ``mc_loss``: the MC surrogate) per trial; ``skipped`` says why a
    method did not run. The scores of the first trial are kept (not in JSON) for ROC curves.

    ``references``: the methods that are reference baselines, not the paper's (marked in the
    tables). ``diagnostics[method]`` (RecLag rows), per trial, on the ID test data:
    ``memory_movement`` (‖xi_trained − xi_init‖/‖xi_init‖), ``beta_scale`` (β·‖xi‖·‖v‖; ≫ 1 means
    the score is the nearest-memory cosine similarity) and ``b0_share`` (share of ID test points
    in B0 = {G < 0}, sent to the origin by the dynamics). ``warnings``: the messages of warnings
    raised (e.g. :class:`hopdyn.ood.detectors.B0Warning`).
    """

    methods: list[str]
    ood_sets: list[str]
    fpr: dict[str, dict[str, list[float]]]
    auroc: dict[str, dict[str, list[float]]]
    tpr: float
    positive: str
    fit_seconds: dict[str, list[float]]
    score_seconds: dict[str, float]
    objectives: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    convention: str = ""
    references: list[str] = field(default_factory=list)
    diagnostics: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    _id_scores: dict = field(default_factory=dict, repr=False)
    _ood_scores: dict = field(default_factory=dict, repr=False)
    _detectors: dict = field(default_factory=dict, repr=False)

    def summary(self, metric: str = "fpr") -> dict[str, dict[str, tuple[float, float]]]:
        """``{method: {ood_set or "Average": (trimmed mean, sd)}}`` for ``metric`` "fpr" or "auroc"."""
        table = {"fpr": self.fpr, "auroc": self.auroc}[metric]
        out = {}
        for m in self.methods:
            per_set = table[m]
            row = {s: trimmed(per_set[s]) for s in self.ood_sets}
            row["Average"] = trimmed(list(np.mean([per_set[s] for s in self.ood_sets], axis=0)))
            out[m] = row
        return out

    def table(self, metric: str = "fpr") -> str:
        """A markdown table in the paper's form: methods × OOD sets (+ Average), in percent."""
        rows = []
        for m, row in self.summary(metric).items():
            n = len({"fpr": self.fpr, "auroc": self.auroc}[metric][m][self.ood_sets[0]])
            label = f"{m} (reference)" if m in self.references else m
            rows.append([label] + [f"{100 * mu:.2f}" + (f" ± {100 * sd:.2f}" if n > 1 else "") for mu, sd in row.values()])
        return format_table(["Method", *self.ood_sets, "Average"], rows)

    def markdown(self) -> str:
        pct = f"{100 * self.tpr:g}"
        trials = {m: len(self.fpr[m][self.ood_sets[0]]) for m in self.methods}
        multi = [f"{m} ({n} trials)" for m, n in trials.items() if n > 1]
        parts = [
            f"Convention: {self.convention}.",
            "" if not multi else "Trimmed mean ± sd over trials, largest and smallest dropped: " + ", ".join(multi) + ".",
            f"\n### FPR{pct} (%) ↓\n\n{self.table('fpr')}",
            f"\n### AUROC (%) ↑\n\n{self.table('auroc')}",
        ]
        if self.objectives:
            rows = [[m, *(f"{trimmed(v[k])[0]:.4g}" for k in ("nll", "mc_loss")), f"{np.mean(self.fit_seconds[m]):.3g}"]
                    for m, v in self.objectives.items()]
            parts.append("\n### RecLag training, held-out ID data (per sample)\n\n"
                         + format_table(["Method", "exact NLL", "MC loss (M=5)", "fit time (s)"], rows))
        if self.diagnostics:
            keys = ("memory_movement", "beta_scale", "b0_share", "b0_risk")
            rows = [[m, *(f"{100 * trimmed(v[k])[0]:.3g}" if k != "beta_scale" else f"{trimmed(v[k])[0]:.4g}"
                          for k in keys if k in v)]
                    for m, v in self.diagnostics.items()]
            parts.append("\n### RecLag diagnostics (ID test data)\n\n"
                         + format_table(["Method", "memory movement (%)", "β·‖ξ‖·‖v‖", "ID test in B0 (%)",
                                         "P(B0 share > 5 %) (%)"], rows)
                         + "\n\nβ·‖ξ‖·‖v‖ ≫ 1: lse is a max and the score is the cosine similarity to the nearest memory. "
                           "Points in B0 go to the origin in one step of the dynamics and tie there; the last "
                           "column is the chance, given how many held-out scores set γ, that more than 5 % of ID "
                           "points start there (then FPR95 after the dynamics is 1).")
        if self.references:
            parts.append("\n(reference): baselines outside the paper, for comparison: " + ", ".join(self.references)
                         + ".")
        for w in self.warnings:
            parts.append(f"\nWarning: {w}")
        if self.skipped:
            parts.append("\nSkipped: " + "; ".join(f"{m}: {why}" for m, why in self.skipped.items()))
        return "\n".join(p for p in parts if p) + "\n"

    def roc_curves(self, ood_set: str) -> dict[str, RocCurve]:
        """ROC curve of each method (first trial) on one OOD set."""
        if ood_set not in self.ood_sets:
            raise ValueError(f"unknown OOD set {ood_set!r}; known: {', '.join(self.ood_sets)}")
        return {m: roc_curve(self._id_scores[m], self._ood_scores[m][ood_set], self.positive) for m in self.methods}

    @property
    def detectors(self) -> dict[str, Detector]:
        """The fitted detectors of the first trial."""
        return dict(self._detectors)


def evaluate_detectors(
    id_train: FeatureSet,
    id_test: FeatureSet,
    ood: Mapping[str, FeatureSet],
    detectors: Mapping[str, DetectorFactory] | None = None,
    *,
    trials: int = 11,
    seed: int = 0,
    tpr: float = 0.95,
    positive: Positive = "id",
    progress: bool | None = None,
) -> OODReport:
    """Fit every detector on ``id_train`` and score ``id_test`` against each OOD set.

    Methods whose inputs are missing (e.g. logits for MSP) are skipped with the reason.
    """
    trials = positive_int(trials, "trials")
    if not ood:
        raise ValueError("ood: give at least one OOD set")
    for name, s in [("id_test", id_test), *ood.items()]:
        if s.dim != id_train.dim:
            raise ValueError(f"{name}: features have {s.dim} columns but the ID training features have {id_train.dim}")
        if s.logits is not None and id_train.logits is not None and s.logits.shape[1] != id_train.logits.shape[1]:
            raise ValueError(f"{name}: logits have {s.logits.shape[1]} classes but the ID training logits have "
                             f"{id_train.logits.shape[1]}")
    if id_train.labels is not None and int(id_train.labels.unique().numel()) < 2:
        raise ValueError(f"{id_train.name}: labels contain a single class; OOD detection with a classifier needs >= 2")
    detectors = default_detectors(references=True) if detectors is None else detectors
    report = OODReport(methods=[], ood_sets=list(ood), fpr={}, auroc={}, tpr=float(tpr), positive=positive,
                       fit_seconds={}, score_seconds={}, convention=CONVENTIONS[positive])
    test_sets = [id_test, *ood.values()]
    jobs = []
    for name, make in detectors.items():
        det = make(seed)
        why = _missing_inputs(det, id_train, test_sets)
        if why:
            report.skipped[name] = why
            continue
        jobs += [(name, make, seed + k, det if k == 0 else None) for k in range(trials if det.stochastic else 1)]
    for name, make, s, det in tqdm(jobs, desc="OOD detectors", disable=not (len(jobs) > 3 if progress is None else progress)):
        det = make(s) if det is None else det
        t0 = time.perf_counter()
        det.fit(id_train)
        report.fit_seconds.setdefault(name, []).append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        id_scores = det.score_samples(id_test)
        ood_scores = {k: det.score_samples(v) for k, v in ood.items()}
        report.score_seconds.setdefault(name, time.perf_counter() - t0)
        if name not in report.methods:
            report.methods.append(name)
            report.fpr[name] = {k: [] for k in ood}
            report.auroc[name] = {k: [] for k in ood}
            report._id_scores[name], report._ood_scores[name], report._detectors[name] = id_scores, ood_scores, det
            if det.reference:
                report.references.append(name)
        for k, sc in ood_scores.items():
            m = evaluate(id_scores, sc, tpr, positive)
            report.fpr[name][k].append(m.fpr)
            report.auroc[name][k].append(m.auroc)
        if isinstance(det, RecLagDetector):
            classes = id_test.predicted if det.classwise else None
            for key, value in det.model_.objectives(id_test.features, classes).items():
                report.objectives.setdefault(name, {}).setdefault(key, []).append(value)
            for key, value in det.diagnostics(id_test).items():
                report.diagnostics.setdefault(name, {}).setdefault(key, []).append(value)
    for name, diag in report.diagnostics.items():
        msg = warn_b0(float(np.mean(diag["b0_share"])), name, limit=1.0 - float(tpr))
        if msg:
            report.warnings.append(msg)
        risk = float(np.nanmax(diag["b0_risk"])) if not np.isnan(diag["b0_risk"]).all() else math.nan
        if risk > TIE_RISK:
            report.warnings.append(
                f"{name}: γ was set on {report.detectors[name].n_calibration_} held-out ID scores, too few to keep "
                f"the B0 share of ID test points below 5 % reliably (chance it passes: up to {100 * risk:.0f} %; "
                f"then FPR95 after the dynamics is 1); give more ID training data or a larger calibration share")
    return report


def _missing_inputs(det: Detector, id_train: FeatureSet, test_sets: list[FeatureSet]) -> str:
    if det.needs_labels and det.needs_logits and (id_train.labels is None or id_train.logits is None):
        return "needs 'labels' and 'logits' in the ID training file"
    if det.needs_labels and id_train.labels is None:
        return "needs 'labels' in the ID training file"
    if det.needs_logits:
        lacking = [s.name for s in [id_train, *test_sets] if s.logits is None]
        if lacking:
            return f"needs 'logits' (missing in {', '.join(lacking)})"
    return ""

