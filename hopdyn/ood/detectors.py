"""Post-hoc OOD detectors with one interface: ``fit`` on ID training data, ``score_samples`` on
test data; higher score = more in-distribution (SPEC, "OOD detection").

Every detector takes features ``(n, d)`` and, where it needs them, the classifier's ``logits``
``(n, C)`` and (for fitting) integer ``labels`` ``(n,)``:

- ``MSP``: ``max softmax(logits)`` (needs logits);
- ``Energy``: ``T·lse(logits/T)`` (needs logits);
- ``ReAct``: Energy of the logits of features clipped at the p-th percentile of ID activations
  (needs logits);
- ``MHE``: ``lse(β S_c v)`` with S_c the correctly classified ID training features of the
  predicted class c (needs logits; labels to fit);
- ``SHE``: ``v · mean(S_c)`` (as MHE);
- ``RecLagDetector``: ``lse(β xi v)`` (global) or ``lse(β xi_c v)`` (class-wise: as MHE), xi
  trained by the SFNN objective (:mod:`hopdyn.ood.training`).

The memory-based detectors (MHE, SHE, RecLag) are modern Hopfield networks, and
:meth:`MemoryDetector.evolve` runs each one's own dynamics (:func:`hopdyn.iterate`) and scores
every step (Figs 4–5 of the RecLag paper).
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._chunks import chunk_rows, chunks
from .._io import atomic_path
from .._validate import ArrayLike, as_tensor, positive
from ..core.discrete import iterate
from ..core.lagrangians import Lagrangian, LogSumExp, RecLag
from ..core.network import MHN
from .features import FeatureSet
from .training import SFNN, Covariance, Objective, normalize_rows, train_sfnn

#: Settings of the RecLag estimator: the paper's text and the authors' public code (SPEC).
RECLAG_SETTINGS = {
    "paper": dict(classwise=False, n_memories=250, normalize=10.0, epochs=100),
    "code": dict(classwise=True, n_memories=10, normalize=None, epochs=50),
}


class Detector(BaseEstimator):
    """Base class. Subclasses set ``needs_logits`` / ``needs_labels`` and implement ``_fit`` / ``_score``.

    scikit-learn conventions: the ``__init__`` arguments are attributes of the same name, so
    ``get_params`` / ``set_params`` and ``sklearn.base.clone`` work; :meth:`score_samples` and
    :meth:`predict` return NumPy arrays when the features came in as a NumPy array (tensors
    otherwise).
    """

    #: score_samples needs the classifier's logits
    needs_logits: bool = False
    #: fit needs labels of the training samples (and logits too when needs_logits: to keep the
    #: correctly classified ones)
    needs_labels: bool = False
    #: fitting depends on a random seed (repeat it over trials)
    stochastic: bool = False
    #: a reference baseline (not a method of the paper), marked as such in reports
    reference: bool = False

    def fit(self, features: ArrayLike | FeatureSet, labels: ArrayLike | None = None,
            logits: ArrayLike | None = None) -> Detector:
        """Fit on ID training data; returns ``self``."""
        data = _as_set(features, logits, labels, "training data")
        if self.needs_labels and (data.labels is None or (self.needs_logits and data.logits is None)):
            what = "labels and logits" if self.needs_logits else "labels"
            raise ValueError(f"{type(self).__name__}.fit needs {what} of the training samples"
                             + (" (to keep the correctly classified ones)" if self.needs_logits else ""))
        if self.needs_logits and data.logits is None:
            raise ValueError(f"{type(self).__name__}.fit needs logits")
        self._fit(data)
        self.n_features_ = data.dim
        return self

    def score_samples(self, features: ArrayLike | FeatureSet, logits: ArrayLike | None = None) -> torch.Tensor | np.ndarray:
        """ID scores, shape ``(n,)``: higher = more in-distribution (NumPy in, NumPy out)."""
        return _like_input(self._score(self._check(features, logits)), features)

    def predict(self, features: ArrayLike | FeatureSet, threshold: float,
                logits: ArrayLike | None = None) -> torch.Tensor | np.ndarray:
        """1 for in-distribution (score >= ``threshold``), 0 for OOD; shape ``(n,)``, integers."""
        scores = self._score(self._check(features, logits))
        return _like_input((scores >= float(threshold)).to(torch.int64), features)

    def _check(self, features: ArrayLike | FeatureSet, logits: ArrayLike | None) -> FeatureSet:
        if not hasattr(self, "n_features_"):
            raise ValueError(f"{type(self).__name__} is not fitted; call fit first")
        data = _as_set(features, logits, None, "test data")
        if data.dim != self.n_features_:
            raise ValueError(f"features must have {self.n_features_} columns (as in fit), got {data.dim}")
        if self.needs_logits and data.logits is None:
            raise ValueError(f"{type(self).__name__} needs the classifier's logits for scoring")
        return data

    def _fit(self, data: FeatureSet) -> None:
        pass

    def _score(self, data: FeatureSet) -> torch.Tensor:
        raise NotImplementedError


def _like_input(out: torch.Tensor, features) -> torch.Tensor | np.ndarray:
    """NumPy when the features came in as NumPy, else the tensor."""
    if isinstance(features, np.ndarray):
        return out.detach().cpu().numpy()
    return out


def _as_set(features, logits, labels, name) -> FeatureSet:
    if isinstance(features, FeatureSet):
        if logits is not None or labels is not None:
            raise ValueError("pass logits and labels inside the FeatureSet or as arguments, not both")
        return features
    return FeatureSet(features, logits, labels, name)


class MSP(Detector):
    """Maximum softmax probability (Hendrycks & Gimpel 2017)."""

    needs_logits = True

    def _score(self, data: FeatureSet) -> torch.Tensor:
        # in float64 (at least): float32 rounds every confident max softmax to 1.0, which ties
        lg = data.logits if data.logits.dtype == torch.float64 else data.logits.double()
        return torch.log_softmax(lg, -1).amax(-1).exp()


class Energy(Detector):
    """Negative free energy ``T·lse(logits/T)`` (Liu et al. 2020)."""

    needs_logits = True

    def __init__(self, temperature: float = 1.0) -> None:
        self.temperature = positive(temperature, "temperature")

    def _score(self, data: FeatureSet) -> torch.Tensor:
        return self.temperature * torch.logsumexp(data.logits / self.temperature, -1)


class ReAct(Energy):
    """Energy after clipping the features at the ``percentile``-th percentile of all ID training
    activations (Sun, Guo & Li 2021).

    The logits of the clipped features need the classifier's last layer ``logits = W v + b``:
    pass ``head=(W, b)``, or leave it out and it is recovered from the training features and
    logits by least squares (checked to reproduce them, so a non-linear head is refused; a
    feature that is constant on the training set leaves its weight undetermined, so pass the
    head when test features can be active where training features never were).
    """

    needs_logits = True

    def __init__(self, percentile: float = 90.0, temperature: float = 1.0,
                 head: tuple[ArrayLike, ArrayLike] | None = None) -> None:
        super().__init__(temperature)
        if not 0.0 < float(percentile) <= 100.0:
            raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
        self.percentile = float(percentile)
        self.head = head

    def _fit(self, data: FeatureSet) -> None:
        x = data.features
        self.clip_ = float(np.percentile(x.detach().cpu().numpy().ravel(), self.percentile))
        if self.head is not None:
            w = as_tensor(self.head[0], "head weight", like=x)
            b = as_tensor(self.head[1], "head bias", like=x)
            if w.shape != (data.logits.shape[1], x.shape[1]) or b.shape != (data.logits.shape[1],):
                raise ValueError(f"head must be (W, b) with W of shape ({data.logits.shape[1]}, {x.shape[1]}) and "
                                 f"b of shape ({data.logits.shape[1]},), got {tuple(w.shape)} and {tuple(b.shape)}")
        else:
            w, b = _affine_head(x, data.logits)
        self.weight_, self.bias_ = w.to(x.dtype), b.to(x.dtype)

    def _score(self, data: FeatureSet) -> torch.Tensor:
        clipped = data.features.clamp(max=self.clip_)
        logits = clipped @ self.weight_.to(clipped).T + self.bias_.to(clipped)
        return self.temperature * torch.logsumexp(logits / self.temperature, -1)


def _affine_head(x: torch.Tensor, logits: torch.Tensor, rtol: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor]:
    """``(W, b)`` with ``logits ≈ x Wᵀ + b``: the minimum-norm least-squares solution (float64),
    refused if it does not reproduce the logits.

    Solved through the normal equations with an SVD-based solver: dead ReLU units make the
    system rank-deficient (pivoted QR, ``gelsy``, returned a wrong solution on the digits
    features), and the SVD of the small Gram matrix is 20x cheaper than that of the data.
    """
    a = torch.cat([x.double(), torch.ones(x.shape[0], 1, dtype=torch.float64, device=x.device)], 1)
    y = logits.double()
    sol = torch.linalg.lstsq((a.T @ a).cpu(), (a.T @ y).cpu(), driver="gelsd").solution.to(x.device)
    resid = (a @ sol - y).norm() / y.norm().clamp_min(1e-300)
    if not float(resid) <= rtol:
        raise ValueError(f"ReAct: the logits are not an affine function of the features (relative residual "
                         f"{float(resid):.2g}); pass the last layer as head=(W, b)")
    return sol[:-1].T.contiguous(), sol[-1].contiguous()


class MemoryDetector(Detector):
    """A detector that is a modern Hopfield network per class (or one global network).

    Subclasses provide, per class ``c``, the stored memories ``memories_[c]`` (rows), the memory
    Lagrangian of the network and the score of a state ``v``.
    """

    classwise: bool = True
    #: scale features to this norm before scoring and in the dynamics (None: unchanged)
    normalize: float | None = None

    def _classes(self, data: FeatureSet) -> torch.Tensor:
        if not self.classwise:
            return torch.zeros(len(data), dtype=torch.long, device=data.features.device)
        pred = data.predicted
        if int(pred.max()) >= len(self.memories_):
            raise ValueError(f"logits have {data.logits.shape[1]} classes but the detector was fitted on "
                             f"{len(self.memories_)}")
        return pred

    def _state(self, data: FeatureSet) -> torch.Tensor:
        return normalize_rows(data.features, self.normalize)

    def network(self, c: int = 0) -> MHN:
        """The Hopfield network of class ``c`` (its memories are the rows of ``memories_[c]``)."""
        return MHN(self.memories_[c], memory=self._lagrangian(c))

    def _lagrangian(self, c: int) -> Lagrangian:
        raise NotImplementedError

    def _score_class(self, v: torch.Tensor, c: int) -> torch.Tensor:
        """``lse(β m v)`` over the memories m of class c: ``β·LogSumExp(β)(m v)``, β times the
        vanilla memory Lagrangian (MHE's eq 9 negated). For RecLag it is ``G(m v) + log γ``
        (eq 13), the network's gate value shifted by a constant; it is computed from the
        vanilla Lagrangian because γ is only chosen from these scores (see :meth:`fit`)."""
        return score_lse(v @ self.memories_[c].to(v).T, self.beta)

    def _score(self, data: FeatureSet) -> torch.Tensor:
        return self._evolve(data, 0)[0]

    def evolve(self, features: ArrayLike | FeatureSet, logits: ArrayLike | None = None, steps: int = 8) -> torch.Tensor:
        """Scores along the network's own discrete dynamics (eq 12) from the test features:
        shape ``(steps + 1, n)``, row k after k steps (row 0 = :meth:`score_samples`). Each
        sample evolves in the network of its predicted class (fixed at step 0)."""
        return _like_input(self._evolve(self._check(features, logits), steps), features)

    def _evolve(self, data: FeatureSet, steps: int) -> torch.Tensor:
        v0 = self._state(data)
        out = torch.empty(steps + 1, len(data), dtype=v0.dtype, device=v0.device)
        for c, idx in self._groups(data):
            v = v0[idx]  # a view when there is one network: no copy of the features
            if steps == 0:  # bounded memory: about 4M scores (rows x memories) at a time
                rows = chunk_rows(len(self.memories_[c]), None)
                out[0, idx] = torch.cat([self._score_class(v[sl], c) for sl in chunks(len(v), rows, False, "score")])
            else:
                out[:, idx] = self._score_class(iterate(self.network(c), v, steps=steps, keep="path",
                                                        progress=False).v, c)
        return out

    def _groups(self, data: FeatureSet) -> list[tuple[int, slice | torch.Tensor]]:
        """(class, rows) pairs: every sample goes to the network of its (predicted) class."""
        classes = self._classes(data)
        if len(self.memories_) == 1:
            return [(0, slice(None))]
        return [(c, torch.nonzero(classes == c).flatten()) for c in torch.unique(classes).tolist()]


class MHE(MemoryDetector):
    """Modern Hopfield energy score ``lse(β S_c v)`` (Zhang et al. 2023; eq 9 negated).

    ``S_c``: the correctly classified ID training features of class c; ``c`` the predicted
    class. The dynamics are the vanilla MHN storing ``S_c`` with ``LogSumExp(β)``.
    """

    needs_logits = True
    needs_labels = True

    def __init__(self, beta: float = 0.01) -> None:
        self.beta = positive(beta, "beta")

    def _fit(self, data: FeatureSet) -> None:
        self.memories_ = _correct_by_class(data)

    def _lagrangian(self, c: int) -> Lagrangian:
        return LogSumExp(self.beta)

class SHE(MHE):
    """Simplified Hopfield energy ``v · mean(S_c)`` (Zhang et al. 2023; eq 10 up to a constant).

    Its dynamics are those of the MHE network (SHE is MHE's first-order Taylor form).
    """

    def _fit(self, data: FeatureSet) -> None:
        super()._fit(data)
        self.means_ = [s.mean(0) for s in self.memories_]

    def _score_class(self, v: torch.Tensor, c: int) -> torch.Tensor:
        return v @ self.means_[c].to(v)

    def _score(self, data: FeatureSet) -> torch.Tensor:
        # all class means in one product, then each sample's own class: no per-class copies
        v = self._state(data)
        means = torch.stack(self.means_).to(v)
        return (v @ means.T).gather(1, self._classes(data)[:, None])[:, 0]


def score_lse(h: torch.Tensor, beta: float) -> torch.Tensor:
    """The memory score ``lse(βh) = β·LogSumExp(β)(h)``: β times the vanilla memory Lagrangian
    (eq 7), the one formula for it. RecLag's gate is the same number less ``log γ``
    (``RecLag.G(h) = lse(βh) − log γ``, eq 13): the score never depends on γ, and
    ``MHN.gate_value(v) = score − log γ`` (checked in the tests)."""
    return beta * LogSumExp(beta)(h)


def _correct_by_class(data: FeatureSet) -> list[torch.Tensor]:
    """Correctly classified training features, one tensor per class 0..C-1."""
    n_classes = data.logits.shape[1]
    if int(torch.unique(data.labels).numel()) < 2:
        raise ValueError("training labels contain a single class; OOD detection with a classifier needs >= 2")
    correct = data.predicted == data.labels
    out = [data.features[correct & (data.labels == c)] for c in range(n_classes)]
    empty = [c for c, s in enumerate(out) if s.shape[0] == 0]
    if empty:
        raise ValueError(f"no correctly classified training samples for class(es) {empty}")
    return out


class B0Warning(UserWarning):
    """Many ID test points start in B0 = {G < 0}: γ is too high for the dynamics (they go to the
    origin in one step and tie, so FPR95 after the dynamics is 1 once the share passes 1 − TPR)."""


def warn_b0(share: float, name: str = "RecLag", limit: float = 0.05) -> str:
    """Warn (:class:`B0Warning`) and return the message when ``share`` > ``limit`` (1 − TPR: past
    it the ties at the origin decide the FPR after the dynamics); else ``""``."""
    if not share > limit:
        return ""
    msg = (f"{name}: {100 * share:.1f}% of the ID test points start in B0 (G < 0) and go to the origin in one step, "
           f"where they tie (FPR at TPR {100 * (1 - limit):g} % after the dynamics is 1 once this passes "
           f"{100 * limit:g} %); lower gamma_quantile, set gamma on "
           f"held-out ID data (calibration > 0), or check that the ID test data resemble the ID training data")
    warnings.warn(msg, B0Warning, stacklevel=3)
    return msg


class RecLagDetector(MemoryDetector):
    """The RecLag-based MHN (RecLag paper §5–6): score ``lse(β xi v)`` (:func:`score_lse`), which
    is ``G + log γ`` (``network(c).gate_value(v) + log_gamma_[c]``, eq 13) and ``log p_H`` up to
    a constant (Theorem 3), with xi trained by the SFNN objective.

    ``setting="paper"``: one global xi (N_H = 250, β = 5, features rescaled to norm 10,
    100 epochs). ``setting="code"``: one xi per class (the authors' public code: N_H = 10 per
    class, raw features, 50 epochs), scored with the predicted class. Any explicit argument
    overrides the setting.

    γ only matters for the dynamics (:meth:`evolve`, ``RecLag(β, γ)``): states with
    ``score < log γ`` start in B0 = {G < 0} and are sent to the origin in one step (Theorem 1),
    where they all tie. It must be set on held-out ID data: :meth:`fit` holds out a seeded
    ``calibration`` fraction of the ID training samples (per class), trains xi on the rest and
    sets ``log γ`` at the ``gamma_quantile`` quantile of the held-out scores, so about that share
    of ID test points starts in B0 (:meth:`b0_share`). ``gamma_scope="global"`` (default): one
    quantile of all held-out scores, the same threshold on the score as the one FPR95 is read at,
    so the points sent to the origin are the lowest-scoring ones; ``"class"``: one quantile per
    class (noisy with few held-out samples per class: below about 1/(n + 1) it cannot go). Training scores are biased
    upward: ``calibration=0`` (γ from them, the old behaviour) put 7–67 % of ID test points in B0
    and made FPR95 1 at step 1. An explicit ``gamma`` or ``log_gamma`` (a number, or one per
    class) is used as given, and then xi is trained on all the data.

    ``early_stopping=True`` stops training once the exact NLL of the held-out calibration split
    has not improved by a relative 1e-4 for ``patience`` epochs (:func:`train_sfnn`), instead of
    the paper's fixed number of epochs (the default, ``False``). The calibration split is then
    used twice, for the stopping time and for γ; it needs that split (``calibration > 0``, no
    explicit γ). ``model_.stopped_epoch`` and ``model_.val_history`` say when and why it stopped.
    """

    stochastic = True

    def __init__(self, setting: str = "paper", *, beta: float = 5.0, n_memories: int | None = None,
                 classwise: bool | None = None, normalize: float | None | str = "setting",
                 objective: Objective = "mc", n_samples: int = 5, covariance: Covariance = "diagonal",
                 epochs: int | None = None, lr: float = 1e-3, batch_size: int = 50, seed: int = 0,
                 gamma_quantile: float = 0.02, calibration: float = 0.2, gamma_scope: str = "global",
                 gamma: float | None = None,
                 log_gamma: float | Sequence[float] | None = None, progress: bool | None = None,
                 early_stopping: bool = False, patience: int = 5) -> None:
        if setting not in RECLAG_SETTINGS:
            raise ValueError(f"setting must be one of {', '.join(RECLAG_SETTINGS)}, got {setting!r}")
        base = RECLAG_SETTINGS[setting]
        self.setting = setting
        self.beta = beta
        # the setting's values are stored resolved, so get_params/clone reproduce the estimator
        self.n_memories = base["n_memories"] if n_memories is None else n_memories
        self.classwise = base["classwise"] if classwise is None else bool(classwise)
        self.normalize = base["normalize"] if normalize == "setting" else normalize
        self.epochs = base["epochs"] if epochs is None else epochs
        self.objective, self.n_samples, self.covariance = objective, n_samples, covariance
        self.lr, self.batch_size, self.seed, self.progress = lr, batch_size, seed, progress
        if not 0.0 < float(gamma_quantile) < 1.0:
            raise ValueError(f"gamma_quantile must be in (0, 1), got {gamma_quantile!r}")
        if not 0.0 <= float(calibration) < 1.0:
            raise ValueError(f"calibration must be in [0, 1), got {calibration!r}")
        if gamma is not None and log_gamma is not None:
            raise ValueError("give gamma or log_gamma, not both")
        if gamma is not None:
            positive(gamma, "gamma")
        if gamma_scope not in ("global", "class"):
            raise ValueError(f"gamma_scope must be 'global' or 'class', got {gamma_scope!r}")
        if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 1:
            raise ValueError(f"patience must be an integer >= 1, got {patience!r}")
        if early_stopping and (gamma is not None or log_gamma is not None or float(calibration) == 0.0):
            raise ValueError("early_stopping needs the held-out calibration split (calibration > 0, "
                             "no explicit gamma or log_gamma)")
        self.early_stopping, self.patience = bool(early_stopping), int(patience)
        self.gamma_quantile = gamma_quantile
        self.calibration = calibration
        self.gamma_scope = gamma_scope
        self.gamma = gamma
        self.log_gamma = log_gamma
        self.needs_logits = self.needs_labels = self.classwise

    @property
    def train_kwargs(self) -> dict:
        """The :func:`train_sfnn` arguments of this detector."""
        return dict(n_memories=self.n_memories, beta=self.beta, objective=self.objective, n_samples=self.n_samples,
                    covariance=self.covariance, normalize=self.normalize, epochs=self.epochs, lr=self.lr,
                    batch_size=self.batch_size, seed=self.seed, progress=self.progress)

    @classmethod
    def from_model(cls, model: SFNN, gamma_quantile: float = 0.02, **kwargs) -> RecLagDetector:
        """A detector around an already trained :class:`SFNN`; :meth:`fit` then only sets γ, on
        all the data it is given (pass held-out ID data)."""
        det = cls(classwise=model.n_classes > 1, normalize=model.normalize, beta=model.beta,
                  n_memories=model.xi.shape[1], gamma_quantile=gamma_quantile, **kwargs)
        det.model_ = model
        return det

    def _fit(self, data: FeatureSet) -> None:
        explicit = self.gamma is not None or self.log_gamma is not None
        pretrained = hasattr(self, "model_") and getattr(self, "_pretrained", True)
        split = not (pretrained or explicit or float(self.calibration) == 0.0)
        if split:  # held out per label (or at random without labels), before anything else
            strata = data.labels if data.labels is not None else torch.zeros(len(data), dtype=torch.long)
            cal = _held_out(strata, int(strata.max()) + 1, float(self.calibration), self.seed)
            train_set = data.subset(torch.nonzero(~cal).flatten())
            cal_set = data.subset(torch.nonzero(cal).flatten())
        else:
            train_set = cal_set = data
        if self.classwise:
            correct = _correct_by_class(train_set)
            x = torch.cat(correct)
            classes = torch.cat([torch.full((len(s),), c, dtype=torch.long) for c, s in enumerate(correct)])
        else:
            x, classes = train_set.features, None
        if not pretrained:
            kw = self.train_kwargs
            if self.early_stopping:
                if not split:  # (checked in __init__ too; set_params can get around it)
                    raise ValueError("early_stopping needs the held-out calibration split (calibration > 0, "
                                     "no explicit gamma or log_gamma)")
                if self.classwise:  # held out as trained on: the correctly classified samples, by label
                    ok = cal_set.predicted == cal_set.labels
                    kw.update(validation=(cal_set.features[ok], cal_set.labels[ok]), patience=self.patience)
                else:
                    kw.update(validation=(cal_set.features, None), patience=self.patience)
            self.model_ = train_sfnn(x, classes, **kw)
            self._pretrained = False
        self.memories_ = list(self.model_.xi)
        n = len(self.memories_)
        if explicit:
            self.n_calibration_ = 0
            self.b0_risk_ = math.nan
            lg = math.log(float(self.gamma)) if self.gamma is not None else self.log_gamma
            lg = [float(v) for v in lg] if isinstance(lg, (Sequence, np.ndarray, torch.Tensor)) else [float(lg)] * n
            if len(lg) != n:
                raise ValueError(f"log_gamma: give one value or one per class ({n}), got {len(lg)}")
            self.log_gamma_ = lg
            return
        if split or pretrained:
            # held-out ID data scored as test data are: all of it, each with its predicted class
            scores, cls = self._score(cal_set).double(), self._classes(cal_set)
        else:  # calibration=0: the training scores (biased upward; the old behaviour)
            scores = self.model_.score(x, classes).double()
            cls = torch.zeros_like(scores, dtype=torch.long) if classes is None else classes.to(scores.device)
        self.n_calibration_ = len(scores)
        # held out: the k-th smallest score, k = max(1, ⌊q(n+1)⌋), so that the expected share of ID
        # test points below it is k/(n+1) <= q (split conformal; linear interpolation between the
        # two smallest of 40 held-out scores put 4-7 % of the ID test points in B0 at q = 0.02)
        held_out = split or pretrained

        def threshold(group: torch.Tensor) -> tuple[float, float]:
            if held_out:
                return _conformal_quantile(group, float(self.gamma_quantile))
            return _quantile(group, float(self.gamma_quantile)), math.nan  # no guarantee from trained-on scores

        overall, risk = threshold(scores)
        if self.gamma_scope == "global":
            self.log_gamma_, self.b0_risk_ = [overall] * n, risk
            return
        # a class with no held-out sample takes the overall threshold; the risk is the worst class's
        picked = [threshold(scores[cls == c]) if bool((cls == c).any()) else (overall, risk) for c in range(n)]
        self.log_gamma_ = [v for v, _ in picked]
        self.b0_risk_ = max((r for _, r in picked), default=math.nan) if held_out else math.nan

    def _lagrangian(self, c: int) -> Lagrangian:
        lg = self.log_gamma_[c]
        # raw (unnormalised) features give scores, hence log γ, beyond float range for γ itself
        return RecLag(self.beta, log_gamma=lg)

    # -- diagnostics ----------------------------------------------------------------------------
    def b0_share(self, features: ArrayLike | FeatureSet, logits: ArrayLike | None = None) -> float:
        """Share of the given points that start in B0 = {G < 0} (``score < log γ`` of their
        class): they go to the origin in one step of the dynamics (Theorem 1) and tie there."""
        data = self._check(features, logits)
        scores = self._score(data)
        lg = torch.as_tensor(self.log_gamma_, dtype=torch.float64, device=scores.device)[self._classes(data)]
        return float((scores.double() < lg).double().mean()) if len(data) else 0.0

    def memory_movement(self) -> float:
        """``‖xi_trained − xi_init‖ / ‖xi_init‖`` (all memories, Frobenius); NaN when the
        initial memories are unknown (a model saved without them)."""
        return self.model_.memory_movement()

    def beta_scale(self, features: ArrayLike | FeatureSet, logits: ArrayLike | None = None) -> float:
        """``β·‖xi‖·‖v‖`` (medians over the memories and the given states): when it is ≫ 1,
        lse is a max and the score is the cosine similarity to the nearest memory (times that)."""
        v = self._state(self._check(features, logits))
        xi_norm = float(torch.cat(self.memories_).norm(dim=-1).median())
        return float(self.beta) * xi_norm * float(v.norm(dim=-1).median())

    def diagnostics(self, features: ArrayLike | FeatureSet, logits: ArrayLike | None = None) -> dict[str, float]:
        """What the score is made of, on ID test data: ``memory_movement``, ``beta_scale`` and
        ``b0_share`` (see those methods), and ``b0_risk``: the chance, from the number of held-out
        scores γ was set on, that more than 5 % of ID test points start in B0 (NaN without held-out
        data)."""
        return {"memory_movement": self.memory_movement(), "beta_scale": self.beta_scale(features, logits),
                "b0_share": self.b0_share(features, logits), "b0_risk": float(getattr(self, "b0_risk_", math.nan))}

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the fitted detector to ``path`` (atomically; a ``.pt`` file readable with
        ``torch.load(weights_only=True)``); :meth:`load` gives identical scores."""
        if not hasattr(self, "log_gamma_"):
            raise ValueError("RecLagDetector is not fitted; call fit first")
        params = self.get_params(deep=False)
        if params.get("log_gamma") is not None and not isinstance(params["log_gamma"], (int, float)):
            params["log_gamma"] = [float(v) for v in params["log_gamma"]]
        state = {"format": "hopdyn.RecLagDetector/1", "params": params, "model": self.model_.state(),
                 "log_gamma_": [float(v) for v in self.log_gamma_], "n_features_": int(self.n_features_),
                 "n_calibration_": int(getattr(self, "n_calibration_", 0)),
                 "b0_risk_": float(getattr(self, "b0_risk_", math.nan))}
        with atomic_path(path) as tmp:
            torch.save(state, tmp)

    @classmethod
    def load(cls, path: str | Path) -> RecLagDetector:
        """Read a detector written by :meth:`save`."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"no such detector file: {path}")
        state = torch.load(p, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("format") != "hopdyn.RecLagDetector/1":
            raise ValueError(f"{path} is not a hopdyn RecLagDetector file")
        det = cls(**state["params"])
        det.model_ = SFNN.from_state(state["model"])
        det._pretrained = False
        det.memories_ = list(det.model_.xi)
        det.log_gamma_ = list(state["log_gamma_"])
        det.n_features_ = int(state["n_features_"])
        det.n_calibration_ = int(state.get("n_calibration_", 0))
        det.b0_risk_ = float(state.get("b0_risk_", math.nan))
        return det


def _quantile(scores: torch.Tensor, q: float) -> float:
    return float(torch.quantile(scores.double(), q))


#: the share of ID test points in B0 above which they decide FPR95 after the dynamics (1 − TPR)
TIE_SHARE = 0.05
#: the chance of passing TIE_SHARE that calibration accepts before it lowers k
TIE_RISK = 0.05


def _conformal_quantile(scores: torch.Tensor, q: float) -> tuple[float, float]:
    """The k-th smallest score and the risk that more than :data:`TIE_SHARE` of new ID points
    fall below it.

    ``k = max(1, ⌊q (n + 1)⌋)``: a new exchangeable score falls below it with probability
    ``k / (n + 1)`` (<= q unless n < 1/q − 1). That is the expectation; the realised share of a
    test set is ``Beta(k, n + 1 − k)``-distributed, so with few held-out scores it passes 5 % far
    more often than q suggests (40 scores, k = 1: in 13 % of calibrations). k is lowered until that
    risk is at most :data:`TIE_RISK`; below k = 1 it cannot go, and the risk is returned so the
    caller can say so (:attr:`RecLagDetector.b0_risk_`)."""
    from scipy.stats import beta as beta_dist

    n = len(scores)
    k = max(1, math.floor(q * (n + 1)))
    risk = float(beta_dist.sf(TIE_SHARE, k, n + 1 - k))
    while k > 1 and risk > TIE_RISK:
        k -= 1
        risk = float(beta_dist.sf(TIE_SHARE, k, n + 1 - k))
    return float(scores.double().sort().values[k - 1]), risk


def _held_out(classes: torch.Tensor, n_classes: int, fraction: float, seed: int) -> torch.Tensor:
    """A seeded boolean mask of ``fraction`` of the samples of each class (at least one, and at
    least one left for training; a class of one sample is used for both)."""
    g = torch.Generator().manual_seed(int(seed) + 7919)  # not train_sfnn's stream
    mask = torch.zeros(len(classes), dtype=torch.bool)
    cls = classes.cpu()
    for c in range(n_classes):
        idx = torch.nonzero(cls == c).flatten()
        n = len(idx)
        if n < 2:
            continue
        k = min(max(1, round(fraction * n)), n - 1)
        mask[idx[torch.randperm(n, generator=g)[:k]]] = True
    return mask
