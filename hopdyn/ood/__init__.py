"""OOD detection with RecLag-based modern Hopfield networks (RecLag paper §5–6, appendix D).

- metrics: :func:`fpr_at_tpr`, :func:`auroc`, :func:`roc_curve` (ID positive by default);
- detectors: :class:`MSP`, :class:`Energy`, :class:`ReAct`, :class:`MHE`, :class:`SHE`,
  :class:`RecLagDetector` (``fit`` / ``score_samples`` / ``predict``, higher = more ID; γ set on
  held-out ID data, :meth:`RecLagDetector.b0_share`, ``save`` / ``load``);
- references (not in the paper): :class:`Mahalanobis`, :class:`KNN`, :class:`GMM`;
- training the interaction matrix: :func:`train_sfnn` → :class:`SFNN` (MC or exact objective);
- :func:`evaluate_detectors` (tables as in the paper), :func:`score_evolution` (Figs 4–5), and
  both on one set of features: :func:`run_benchmark` (what ``hopdyn ood`` runs);
- data: :class:`FeatureSet`, :func:`load_features` (users' ``.npz``). The offline digits demo is
  :func:`hopdyn.experiments.ood.run_digits`.
"""
from .benchmark import BenchmarkResult, reclag_rows, run_benchmark
from .detectors import MHE, MSP, SHE, B0Warning, Detector, Energy, MemoryDetector, ReAct, RecLagDetector
from .evaluate import OODReport, default_detectors, evaluate_detectors, trimmed
from .evolution import ScoreEvolution, score_evolution
from .features import FeatureSet, load_features
from .metrics import CONVENTIONS, Metrics, RocCurve, aupr, auroc, evaluate, fpr_at_tpr, roc_curve
from .references import GMM, KNN, REFERENCES, Mahalanobis
from .training import SFNN, train_sfnn

__all__ = [
    "CONVENTIONS",
    "GMM",
    "KNN",
    "MHE",
    "MSP",
    "REFERENCES",
    "SFNN",
    "SHE",
    "aupr",
    "B0Warning",
    "BenchmarkResult",
    "Detector",
    "Energy",
    "FeatureSet",
    "Mahalanobis",
    "MemoryDetector",
    "Metrics",
    "OODReport",
    "ReAct",
    "RecLagDetector",
    "RocCurve",
    "ScoreEvolution",
    "auroc",
    "default_detectors",
    "evaluate",
    "evaluate_detectors",
    "fpr_at_tpr",
    "load_features",
    "reclag_rows",
    "roc_curve",
    "run_benchmark",
    "score_evolution",
    "train_sfnn",
    "trimmed",
]
