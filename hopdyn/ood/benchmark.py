"""The OOD benchmark of the RecLag paper on any features: the baselines and one RecLag row per
SFNN objective (:func:`evaluate_detectors`, the tables), then the time evolution of MHE and the
RecLag rows along their networks' dynamics (:func:`score_evolution`, Figs 4–5). ``hopdyn ood``
runs it on the user's feature files, :func:`hopdyn.experiments.ood.run_digits` on the digits demo.
(The speed benchmarks of ``hopdyn bench`` are :mod:`hopdyn.bench`.)

On users' features it degrades instead of aborting, and says so: a method that needs logits is
skipped only on the OOD sets that lack them (``skipped["MSP on 'far'"]``, NaN in the tables);
MHE, SHE and the class-wise RecLag are skipped with the reason when a class has no correctly
classified ID training sample; non-finite scores are refused naming method, set and rows; and
``warnings`` flags results worse than chance (AUROC < 50 %) and known-fragile settings.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .._io import format_table
from .._validate import positive_int
from .detectors import Detector, MemoryDetector
from .evaluate import UNTRAINED, OODReport, default_detectors, evaluate_detectors, trimmed
from .evolution import ScoreEvolution, score_evolution
from .features import FeatureSet, format_rows
from .metrics import CONVENTIONS, Positive, aupr

OBJECTIVES = ("mc", "exact")

#: Methods that keep one memory set per class (need a correctly classified sample of every class).
PER_CLASS = ("MHE", "SHE")


@dataclass(frozen=True)
class BenchmarkResult:
    """The table (:class:`OODReport`) and the time evolution on one OOD set (None with ``steps=0``
    or when no fitted detector has dynamics).

    ``aupr[method][ood_set]``: AUPR of the positive class per trial (NaN where skipped);
    ``classifier_accuracy``: accuracy of ``argmax(logits)`` on the ID test set (None without
    labels and logits); ``warnings``: results that should not be trusted as they stand;
    ``notes``: what was skipped, dropped or defined (one line each); ``settings``: what ran.
    """

    report: OODReport
    evolution: ScoreEvolution | None
    aupr: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    classifier_accuracy: float | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    _scores: dict = field(default_factory=dict, repr=False)

    def scores(self) -> dict[str, np.ndarray]:
        """Per-sample scores of the first trial: ``"method/set"`` -> ``(n,)``, the ID test set
        under ``"method/id_test"``; cells a method skipped are absent."""
        return dict(self._scores)

    def aupr_table(self) -> str:
        """AUPR (%) of the positive class, methods x OOD sets (+ Average), trimmed mean over trials."""
        rep = self.report
        rows = []
        for m in rep.methods:
            per = self.aupr[m]
            vals = [trimmed(per[s]) for s in rep.ood_sets]
            vals.append(trimmed(list(np.mean([per[s] for s in rep.ood_sets], axis=0))))
            n = len(per[rep.ood_sets[0]])
            rows.append([m] + [f"{100 * mu:.2f}" + (f" ± {100 * sd:.2f}" if n > 1 else "") for mu, sd in vals])
        return format_table(["Method", *rep.ood_sets, "Average"], rows)


def reclag_rows(objectives: Sequence[str] = OBJECTIVES, reclag: Mapping | None = None) -> dict[str, dict]:
    """One RecLag row per SFNN objective, named ``"RecLag"`` (``"mc"``, the paper's) and
    ``"RecLag (exact)"``, each with the :class:`RecLagDetector` options ``reclag``."""
    if not objectives or set(objectives) - set(OBJECTIVES):
        raise ValueError(f"objectives must be a non-empty subset of {OBJECTIVES}, got {tuple(objectives)!r}")
    return {("RecLag" if o == "mc" else f"RecLag ({o})"): {**(reclag or {}), "objective": o} for o in objectives}


class _Recorder:
    """Detector factories that build each (method, seed) detector once, fit it once (never, for a
    ``prefitted`` one), check that its scores are finite (naming method, set and rows) and keep
    every score for AUPR."""

    def __init__(self, factories: Mapping, sets: Mapping[int, str], prefitted: frozenset[str] = frozenset()):
        self.factories, self.sets, self.prefitted = factories, sets, prefitted
        self.made: dict[tuple[str, int], object] = {}
        self.scores: dict[str, dict[int, dict[str, np.ndarray]]] = {}

    def factory(self, name: str):
        return lambda seed: self.get(name, seed)

    def get(self, name: str, seed: int):
        key = (name, seed)
        if key not in self.made:
            det = self.factories[name](seed)
            fit, score = det.fit, det.score_samples

            def fit_once(data, *a, **kw):
                if name in self.prefitted:
                    return det
                if getattr(det, "_benchmark_fitted_on", None) is not data:
                    fit(data, *a, **kw)
                    det._benchmark_fitted_on = data
                return det

            def checked(data, *a, **kw):
                out = score(data, *a, **kw)
                label = self.sets.get(id(data), getattr(data, "name", "test data"))
                bad = torch.nonzero(~torch.isfinite(out)).flatten().tolist()
                if bad:
                    zero = sorted(set(bad) & set(data.zero_rows)) if isinstance(data, FeatureSet) else []
                    hint = (f"; rows {format_rows(zero)} are all-zero features, whose normalised form should be 0 "
                            "(hopdyn.ood.training.normalize_rows)") if zero else ""
                    raise ValueError(f"{name}: non-finite scores on {label} in {len(bad)} of {len(out)} rows "
                                     f"(rows {format_rows(bad)}){hint}")
                self.scores.setdefault(name, {}).setdefault(seed, {})[label] = out.detach().cpu().double().numpy()
                return out

            det.fit, det.score_samples = fit_once, checked
            self.made[key] = det
        return self.made[key]


def _missing_classes(id_train: FeatureSet) -> list[int]:
    """Classes 0..C-1 (C = logit columns) without a correctly classified ID training sample."""
    if id_train.labels is None or id_train.logits is None:
        return []
    ok = id_train.predicted == id_train.labels
    have = set(torch.unique(id_train.labels[ok]).tolist())
    return [c for c in range(id_train.logits.shape[1]) if c not in have]


def run_benchmark(
    id_train: FeatureSet,
    id_test: FeatureSet,
    ood: Mapping[str, FeatureSet],
    *,
    reclag: Mapping | None = None,
    objectives: Sequence[str] = OBJECTIVES,
    trials: int = 11,
    seed: int = 0,
    steps: int = 8,
    evolution_set: str | None = None,
    tpr: float = 0.95,
    positive: Positive = "id",
    mhe_beta: float = 0.01,
    react_percentile: float = 90.0,
    progress: bool | None = None,
    prefitted: Mapping[str, Detector] | None = None,
) -> BenchmarkResult:
    """MSP, Energy, ReAct, MHE, SHE and RecLag (``trials`` seeds, one row per objective, options
    ``reclag``) fitted on ``id_train`` and scored on ``id_test`` against every OOD set; then
    ``steps`` steps of the dynamics of MHE and the RecLag rows on ``evolution_set`` (default: the
    first OOD set; ``steps=0`` skips it). See the module docstring for what is skipped and flagged.

    ``prefitted``: more rows, ``name -> fitted detector`` (e.g. ``RecLagDetector.load(path)``),
    scored as they are (one trial, never refitted; memory detectors join the time evolution).
    With ``prefitted``, ``objectives`` may be empty: no RecLag row is trained."""
    steps = positive_int(steps, "steps", minimum=0)
    trials = positive_int(trials, "trials")
    if not ood:
        raise ValueError("ood: give at least one OOD set")
    evolution_set = next(iter(ood)) if evolution_set is None else evolution_set
    if evolution_set not in ood:
        raise ValueError(f"evolution_set: unknown OOD set {evolution_set!r}; known: {', '.join(ood)}")
    prefitted = _check_prefitted(prefitted or {}, id_train)
    rows = reclag_rows(objectives, reclag) if objectives or not prefitted else {}
    factories = default_detectors(rows, mhe_beta=mhe_beta, react_percentile=react_percentile, references=True)
    if not rows:  # the untrained reference belongs to a trained row
        factories.pop(UNTRAINED)
    factories.update({name: (lambda seed, d=det: d) for name, det in prefitted.items()})
    names = {id(id_test): "id_test", **{id(v): k for k, v in ood.items()}}
    rec = _Recorder(factories, names, frozenset(prefitted))
    notes: list[str] = []
    for label, s in (("id_train", id_train), ("id_test", id_test), *ood.items()):
        if s.dropped_rows:
            notes.append(f"{s.name}: dropped {len(s.dropped_rows)} rows with NaN or inf "
                         f"(rows {format_rows(s.dropped_rows)})")
        zero = s.zero_rows
        if zero:
            notes.append(f"{s.name}: {len(zero)} of {len(s)} feature rows are all zero (rows {format_rows(zero)}); "
                         "scored as they are; where features are rescaled to a norm, the normalised form of a "
                         "zero vector is defined as 0")

    # whole-method skips decided here: a class without a correctly classified training sample
    pre_skipped: dict[str, str] = {}
    missing = _missing_classes(id_train)
    if missing and id_train.labels is not None and int(id_train.labels.unique().numel()) >= 2:
        for name in factories:
            if name in PER_CLASS or (name in rows and getattr(rec.get(name, seed), "classwise", False)):
                pre_skipped[name] = (f"class(es) {format_rows(missing)} of the {id_train.logits.shape[1]} logit "
                                     f"columns have no correctly classified sample in {id_train.name}, and this "
                                     "method keeps one memory set per predicted class")
    active = {n: rec.factory(n) for n in factories if n not in pre_skipped}

    # methods that need logits run on the OOD sets that have them, the others on every set
    with_logits = {k: v for k, v in ood.items() if v.logits is not None}
    without = {k: v for k, v in ood.items() if v.logits is None}
    needs = {n: bool(rec.get(n, seed).needs_logits) for n in active}
    reports = []
    if with_logits:
        reports.append(evaluate_detectors(id_train, id_test, with_logits, active, trials=trials, seed=seed, tpr=tpr,
                                          positive=positive, progress=progress))
    if without:
        plain = {n: f for n, f in active.items() if not needs[n]}
        if plain:
            reports.append(evaluate_detectors(id_train, id_test, without, plain, trials=trials, seed=seed, tpr=tpr,
                                              positive=positive, progress=progress))
    report = _merge(reports, list(ood), factories, pre_skipped, tpr, positive)
    for n in report.methods:
        for k in without:
            if needs.get(n):
                report.skipped[f"{n} on '{k}'"] = f"needs 'logits' (missing in {ood[k].name})"
    for n in active:
        if n not in report.methods and n not in report.skipped:
            report.skipped[n] = f"needs 'logits' (missing in {', '.join(v.name for v in without.values())})"
    notes += [f"skipped {m}: {why}" for m, why in report.skipped.items()]

    # every trial's scores were recorded: AUPR per trial, first-trial scores for the files
    auprs, scores = {}, {}
    for m in report.methods:
        per_seed = [rec.scores[m][sd] for sd in sorted(rec.scores.get(m, {}))]
        n = len(report.fpr[m][report.ood_sets[0]])
        auprs[m] = {k: ([aupr(d["id_test"], d[k], positive) for d in per_seed] if k in per_seed[0] else [math.nan] * n)
                    for k in report.ood_sets}
        scores.update({f"{m}/{k}": v for k, v in per_seed[0].items()})
        report._id_scores[m] = per_seed[0]["id_test"]
        report._ood_scores[m] = {k: v for k, v in per_seed[0].items() if k != "id_test"}

    dynamic = {m: d for m, d in report.detectors.items()
               if (m in ("MHE", *rows) or (m in prefitted and isinstance(d, MemoryDetector)))
               and not (d.needs_logits and ood[evolution_set].logits is None)}
    evolution = None
    if steps > 0 and dynamic:
        evolution = score_evolution(dynamic, id_test, ood[evolution_set], steps, tpr=tpr, positive=positive,
                                    ood_name=evolution_set)
    accuracy = None
    if id_test.labels is not None and id_test.logits is not None:
        accuracy = float((id_test.predicted == id_test.labels).double().mean())
    return BenchmarkResult(report, evolution, auprs, accuracy, _warnings(report, rows, rec, seed), notes,
                           _settings(report, rows, rec, seed, trials, locals()), scores)


def _check_prefitted(prefitted: Mapping[str, Detector], id_train: FeatureSet) -> dict[str, Detector]:
    """Fitted detectors as one-trial rows (shallow copies: the caller's objects stay as they are)."""
    out = {}
    for name, det in prefitted.items():
        if not isinstance(det, Detector):
            raise ValueError(f"prefitted {name!r}: expected a fitted hopdyn.ood detector, got {type(det).__name__}")
        dim = getattr(det, "n_features_", None)
        if dim is None:
            raise ValueError(f"prefitted {name!r}: {type(det).__name__} is not fitted; call fit (or load) first")
        if int(dim) != id_train.dim:
            raise ValueError(f"prefitted {name!r}: the detector was fitted on {dim}-d features, these are "
                             f"{id_train.dim}-d")
        det = copy.copy(det)
        det.stochastic = False
        out[name] = det
    return out


def _merge(reports: list[OODReport], ood_sets: list[str], factories, pre_skipped, tpr, positive) -> OODReport:
    out = OODReport(methods=[], ood_sets=ood_sets, fpr={}, auroc={}, tpr=float(tpr), positive=positive,
                    fit_seconds={}, score_seconds={}, convention=CONVENTIONS[positive])
    out.skipped.update(pre_skipped)
    for r in reports:
        for m, why in r.skipped.items():
            out.skipped.setdefault(m, why)
    for m in factories:
        ran = [r for r in reports if m in r.methods]
        if not ran:
            continue
        out.methods.append(m)
        n = len(ran[0].fpr[m][ran[0].ood_sets[0]])
        for table, attr in ((out.fpr, "fpr"), (out.auroc, "auroc")):
            table[m] = {s: next((getattr(r, attr)[m][s] for r in ran if s in r.ood_sets), [math.nan] * n)
                        for s in ood_sets}
        out.fit_seconds[m] = ran[0].fit_seconds[m]
        out.score_seconds[m] = sum(r.score_seconds[m] for r in ran)
        if m in ran[0].objectives:
            out.objectives[m] = ran[0].objectives[m]
        out._detectors[m] = ran[0].detectors[m]
        if m in ran[0].diagnostics:
            out.diagnostics[m] = ran[0].diagnostics[m]
        if m in ran[0].references:
            out.references.append(m)
        out.skipped.pop(m, None)
    for r in reports:
        out.warnings.extend(w for w in r.warnings if w not in out.warnings)
    return out


def _warnings(report: OODReport, rows, rec: _Recorder, seed: int) -> list[str]:
    out = []
    auc, fpr = report.summary("auroc"), report.summary("fpr")
    for m in report.methods:
        for s in report.ood_sets:
            a = auc[m][s][0]
            if math.isfinite(a) and a < 0.5:
                out.append(f"{m} on '{s}': AUROC {100 * a:.1f} % < 50 %, worse than chance: this score ranks the "
                           f"OOD set as more in-distribution than the ID test set (check the setting and the features)")
    for m in rows:
        if m not in report.methods:
            continue
        det = rec.get(m, seed)
        if det.normalize is None:
            out.append(f"{m}: features are not normalised (setting 'code' or normalize=None): the score lse(β ξ v) "
                       "grows with the feature norm, so OOD inputs with large norms can score above every ID sample; "
                       "the paper's setting (--setting paper, norm 10) does not have this failure")
            for s in report.ood_sets:
                if getattr(det, "classwise", False) and (fpr[m][s][0] >= 0.999 or auc[m][s][0] <= 0.01):
                    out.append(f"{m} on '{s}': FPR{100 * report.tpr:g} {100 * fpr[m][s][0]:.0f} % / AUROC "
                               f"{100 * auc[m][s][0]:.0f} %: the known failure of class-wise RecLag on raw features "
                               "with noise-like OOD data; try --setting paper")
    return out


def _settings(report: OODReport, rows, rec: _Recorder, seed: int, trials: int, given: dict) -> dict:
    import hopdyn

    out = {"hopdyn_version": hopdyn.__version__, "trials": trials,
           "seeds": list(range(seed, seed + trials)), "tpr": given["tpr"], "positive": given["positive"],
           "steps": given["steps"], "evolution_set": given["evolution_set"], "mhe_beta": given["mhe_beta"],
           "react_percentile": given["react_percentile"], "reclag": {}, "prefitted": list(given["prefitted"])}
    for m in rows:
        det = rec.made.get((m, seed))
        if det is None or not hasattr(det, "train_kwargs"):
            continue
        kw = det.train_kwargs
        entry = {"setting": det.setting, "classwise": det.classwise, "normalize": det.normalize,
                 "N_H": kw["n_memories"], "beta": kw["beta"], "epochs": kw["epochs"], "objective": kw["objective"],
                 "covariance": kw["covariance"], "lr": kw["lr"], "batch_size": kw["batch_size"],
                 "gamma_quantile": getattr(det, "gamma_quantile", None),
                 "early_stopping": getattr(det, "early_stopping", False), "patience": getattr(det, "patience", None)}
        if getattr(det, "early_stopping", False) and hasattr(det, "model_"):
            entry["stopped_epoch_first_trial"] = det.model_.stopped_epoch
        if hasattr(det, "log_gamma_"):
            entry["log_gamma_first_trial"] = list(det.log_gamma_)
        out["reclag"][m] = entry
    return out
