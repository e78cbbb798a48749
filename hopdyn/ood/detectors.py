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


import numpy as np
import torch

from .._chunks import chunk_rows, chunks
from .._validate import ArrayLike, as_tensor, positive
from ..core.lagrangians import Lagrangian, LogSumExp, RecLag
from ..core.network import MHN
from ..core.discrete import iterate
from .features import FeatureSet
from .training import SFNN, Covariance, Objective, normalize_rows, train_sfnn

#: Settings of the RecLag estimator: the paper's text and the authors' public code (SPEC).
RECLAG_SETTINGS = {
    "paper": dict(classwise=False, n_memories=250, normalize=10.0, epochs=100),
    "code": dict(classwise=True, n_memories=10, normalize=None, epochs=50),
}


class Detector:
    """Base class. Subclasses set ``needs_logits`` / ``needs_labels`` and implement ``_fit`` / ``_score``."""

    #: score_samples needs the classifier's logits
    needs_logits: bool = False
    #: fit needs labels (and logits) of the training samples
    needs_labels: bool = False
    #: fitting depends on a random seed (repeat it over trials)
    stochastic: bool = False

    def fit(self, features: ArrayLike | FeatureSet, labels: ArrayLike | None = None,
            logits: ArrayLike | None = None) -> "Detector":
        """Fit on ID training data; returns ``self``."""
        data = _as_set(features, logits, labels, "training data")
        if self.needs_labels and (data.labels is None or data.logits is None):
            raise ValueError(f"{type(self).__name__}.fit needs labels and logits of the training samples "
                             "(to keep the correctly classified ones)")
        if self.needs_logits and data.logits is None:
            raise ValueError(f"{type(self).__name__}.fit needs logits")
        self._fit(data)
        self.n_features_ = data.dim
        return self

    def score_samples(self, features: ArrayLike | FeatureSet, logits: ArrayLike | None = None) -> torch.Tensor:
        """ID scores, shape ``(n,)``: higher = more in-distribution."""
        return self._score(self._check(features, logits))

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

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items()
                           if not k.endswith("_") and not k.startswith("needs"))
        return f"{type(self).__name__}({params})"


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
        return torch.log_softmax(data.logits, -1).amax(-1).exp()


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
        return self._evolve(self._check(features, logits), steps)

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


class RecLagDetector(MemoryDetector):
    """The RecLag-based MHN (RecLag paper §5–6): score ``lse(β xi v)`` (:func:`score_lse`), which
    is ``G + log γ`` (``network(c).gate_value(v) + log_gamma_[c]``, eq 13) and ``log p_H`` up to
    a constant (Theorem 3), with xi trained by the SFNN objective.

    ``setting="paper"``: one global xi (N_H = 250, β = 5, features rescaled to norm 10,
    100 epochs). ``setting="code"``: one xi per class (the authors' public code: N_H = 10 per
    class, raw features, 50 epochs), scored with the predicted class. Any explicit argument
    overrides the setting.

    The dynamics (:meth:`evolve`) use ``RecLag(β, γ)`` with ``log γ`` the ``gamma_quantile``
    quantile of the ID training scores (per class): that fraction of the ID training samples
    starts in B0 = {G < 0} and is sent to the origin in one step (Theorem 1), like the OOD
    samples the threshold rejects. Keep it below 1 − TPR: all states at the origin tie, so if
    more than 5 % of ID test samples end there, FPR95 after the dynamics is 1 by construction
    (on digits, the 0.05 quantile of training scores put 12 % of ID test samples there).
    """

    stochastic = True

    def __init__(self, setting: str = "paper", *, beta: float = 5.0, n_memories: int | None = None,
                 classwise: bool | None = None, normalize: float | None | str = "setting",
                 objective: Objective = "mc", n_samples: int = 5, covariance: Covariance = "diagonal",
                 epochs: int | None = None, lr: float = 1e-3, batch_size: int = 50, seed: int = 0,
                 gamma_quantile: float = 0.02, progress: bool | None = None) -> None:
        if setting not in RECLAG_SETTINGS:
            raise ValueError(f"setting must be one of {', '.join(RECLAG_SETTINGS)}, got {setting!r}")
        base = RECLAG_SETTINGS[setting]
        self.setting = setting
        self.classwise = base["classwise"] if classwise is None else bool(classwise)
        self.normalize = base["normalize"] if normalize == "setting" else normalize
        self.train_kwargs = dict(
            n_memories=base["n_memories"] if n_memories is None else n_memories, beta=beta, objective=objective,
            n_samples=n_samples, covariance=covariance, normalize=self.normalize,
            epochs=base["epochs"] if epochs is None else epochs, lr=lr, batch_size=batch_size, seed=seed,
            progress=progress)
        if not 0.0 < float(gamma_quantile) < 1.0:
            raise ValueError(f"gamma_quantile must be in (0, 1), got {gamma_quantile!r}")
        self.gamma_quantile = float(gamma_quantile)
        self.needs_logits = self.needs_labels = self.classwise

    @classmethod
    def from_model(cls, model: SFNN, gamma_quantile: float = 0.02) -> "RecLagDetector":
        """A detector around an already trained :class:`SFNN` (call :meth:`fit` to set γ)."""
        det = cls(classwise=model.n_classes > 1, normalize=model.normalize, beta=model.beta,
                  gamma_quantile=gamma_quantile)
        det.model_ = model
        return det

    def _fit(self, data: FeatureSet) -> None:
        if self.classwise:
            correct = _correct_by_class(data)
            x = torch.cat(correct)
            classes = torch.cat([torch.full((len(s),), c, dtype=torch.long) for c, s in enumerate(correct)])
        else:
            x, classes = data.features, None
        if not hasattr(self, "model_"):
            self.model_ = train_sfnn(x, classes, **self.train_kwargs)
        self.memories_ = list(self.model_.xi)
        self.beta = self.model_.beta
        scores = self.model_.score(x, classes)
        classes = torch.zeros_like(scores, dtype=torch.long) if classes is None else classes
        self.log_gamma_ = [float(torch.quantile(scores[classes == c].double(), self.gamma_quantile))
                           for c in range(len(self.memories_))]

    def _lagrangian(self, c: int) -> Lagrangian:
        lg = self.log_gamma_[c]
        # raw (unnormalised) features give scores, hence log γ, beyond float range for γ itself
        return RecLag(self.beta, log_gamma=lg)
