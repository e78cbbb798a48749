"""The OOD benchmark of the RecLag paper on any features: the baselines and one RecLag row per
SFNN objective (:func:`evaluate_detectors`, the tables), then the time evolution of MHE and the
RecLag rows along their networks' dynamics (:func:`score_evolution`, Figs 4–5). ``hopdyn ood``
runs it on the user's feature files, :func:`hopdyn.experiments.ood.run_digits` on the digits demo.
(The speed benchmarks of ``hopdyn bench`` are :mod:`hopdyn.bench`.)"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .._validate import positive_int
from .evaluate import OODReport, default_detectors, evaluate_detectors
from .evolution import ScoreEvolution, score_evolution
from .features import FeatureSet
from .metrics import Positive

OBJECTIVES = ("mc", "exact")


@dataclass(frozen=True)
class BenchmarkResult:
    """The table (:class:`OODReport`) and the time evolution on one OOD set (None with ``steps=0``
    or when no fitted detector has dynamics)."""

    report: OODReport
    evolution: ScoreEvolution | None


def reclag_rows(objectives: Sequence[str] = OBJECTIVES, reclag: Mapping | None = None) -> dict[str, dict]:
    """One RecLag row per SFNN objective, named ``"RecLag"`` (``"mc"``, the paper's) and
    ``"RecLag (exact)"``, each with the :class:`RecLagDetector` options ``reclag``."""
    if not objectives or set(objectives) - set(OBJECTIVES):
        raise ValueError(f"objectives must be a non-empty subset of {OBJECTIVES}, got {tuple(objectives)!r}")
    return {("RecLag" if o == "mc" else f"RecLag ({o})"): {**(reclag or {}), "objective": o} for o in objectives}


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
) -> BenchmarkResult:
    """MSP, Energy, ReAct, MHE, SHE and RecLag (``trials`` seeds, one row per objective, options
    ``reclag``) fitted on ``id_train`` and scored on ``id_test`` against every OOD set; then
    ``steps`` steps of the dynamics of MHE and the RecLag rows on ``evolution_set`` (default: the
    first OOD set; ``steps=0`` skips it)."""
    steps = positive_int(steps, "steps", minimum=0)
    evolution_set = next(iter(ood), None) if evolution_set is None else evolution_set
    if ood and evolution_set not in ood:
        raise ValueError(f"evolution_set: unknown OOD set {evolution_set!r}; known: {', '.join(ood)}")
    rows = reclag_rows(objectives, reclag)
    dets = default_detectors(rows, mhe_beta=mhe_beta, react_percentile=react_percentile)
    report = evaluate_detectors(id_train, id_test, ood, dets, trials=trials, seed=seed, tpr=tpr, positive=positive,
                                progress=progress)
    dynamic = {m: d for m, d in report.detectors.items() if m in ("MHE", *rows)}
    evolution = None
    if steps > 0 and dynamic:
        evolution = score_evolution(dynamic, id_test, ood[evolution_set], steps, tpr=tpr, positive=positive,
                                    ood_name=evolution_set)
    return BenchmarkResult(report, evolution)
