"""Reference baselines that are not in the RecLag paper, a few lines of scikit-learn each.

They say what the features themselves allow: where the feature norm or the covariance carries
the signal, these beat RecLag (whose score at β·‖ξ‖·‖v‖ ≫ 1 is the cosine similarity to the
nearest memory; SPEC, "OOD detection"). Same interface as :mod:`hopdyn.ood.detectors`
(``fit`` / ``score_samples``, higher = more in-distribution); reports mark them "reference".

- :class:`Mahalanobis`: class means, one shared covariance; score ``−min_c (v−μ_c)ᵀ Σ⁻¹ (v−μ_c)``
  (Lee et al. 2018; needs labels);
- :class:`KNN`: L2-normalised features; score ``−`` the distance to the k-th nearest training
  feature (Sun et al. 2022, k = 50);
- :class:`GMM`: a Gaussian mixture fitted to the training features; score the log-density.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.covariance import EmpiricalCovariance
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors

from .._validate import positive_int
from .detectors import Detector
from .features import FeatureSet


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().cpu().double().numpy()


def _out(scores: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(scores, dtype=torch.float64, device=like.device)


class Mahalanobis(Detector):
    """Class-conditional Gaussians with a shared covariance (Lee et al. 2018, without input
    pre-processing): ``μ_c`` the class means of the training features (by label), ``Σ`` the
    pooled within-class covariance (pseudo-inverse: dead units make it singular); score
    ``−min_c (v−μ_c)ᵀ Σ⁺ (v−μ_c)`` (squared distance)."""

    needs_labels = True
    reference = True

    def _fit(self, data: FeatureSet) -> None:
        x, y = _np(data.features), data.labels.cpu().numpy()
        self.classes_ = np.unique(y)
        if self.classes_.size < 2:
            raise ValueError("Mahalanobis: training labels contain a single class; it needs >= 2")
        self.means_ = np.stack([x[y == c].mean(0) for c in self.classes_])
        centred = x - self.means_[np.searchsorted(self.classes_, y)]
        self.precision_ = EmpiricalCovariance(assume_centered=True).fit(centred).precision_

    def _score(self, data: FeatureSet) -> torch.Tensor:
        d = _np(data.features)[:, None, :] - self.means_[None]  # (n, C, d)
        maha = np.einsum("ncd,de,nce->nc", d, self.precision_, d)
        return _out(-maha.min(1), data.features)


class KNN(Detector):
    """Deep nearest neighbours (Sun et al. 2022): features L2-normalised, score ``−`` the
    Euclidean distance to the ``k``-th nearest training feature (``k`` capped at the number of
    training samples)."""

    reference = True

    def __init__(self, k: int = 50) -> None:
        self.k = k

    def _fit(self, data: FeatureSet) -> None:
        x = _normalised(_np(data.features))
        self.k_ = min(positive_int(self.k, "k"), len(x))
        self.index_ = NearestNeighbors(n_neighbors=self.k_).fit(x)

    def _score(self, data: FeatureSet) -> torch.Tensor:
        dist, _ = self.index_.kneighbors(_normalised(_np(data.features)), n_neighbors=self.k_)
        return _out(-dist[:, -1], data.features)


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class GMM(Detector):
    """Gaussian-mixture density of the ID training features (``sklearn.mixture.GaussianMixture``,
    ``n_components`` capped at the number of samples, seeded); score the log-density."""

    reference = True
    stochastic = True

    def __init__(self, n_components: int = 10, covariance_type: str = "full", reg_covar: float = 1e-4,
                 seed: int = 0) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.seed = seed

    def _fit(self, data: FeatureSet) -> None:
        x = _np(data.features)
        k = min(positive_int(self.n_components, "n_components"), len(x))
        self.mixture_ = GaussianMixture(k, covariance_type=self.covariance_type, reg_covar=self.reg_covar,
                                        random_state=self.seed).fit(x)

    def _score(self, data: FeatureSet) -> torch.Tensor:
        return _out(self.mixture_.score_samples(_np(data.features)), data.features)


#: The reference rows of :func:`hopdyn.ood.default_detectors` (name → factory of the trial's seed).
REFERENCES = {
    "Mahalanobis": lambda seed: Mahalanobis(),
    "kNN": lambda seed: KNN(),
    "GMM": lambda seed: GMM(seed=seed),
}
