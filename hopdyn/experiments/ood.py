"""The RecLag paper's OOD experiment on an offline stand-in: scikit-learn's bundled digits
(:func:`hopdyn.datasets.digits`, 8×8 images, no download).

A small torch MLP is trained on some digit classes (ID); its penultimate ReLU features and its
logits feed every detector, as a ResNet's do in the paper. OOD sets of different kinds are made
locally from the same images:

- ``digits 6-9``: the held-out classes (near OOD: same pixels statistics, new shapes),
- ``inverted``: ID test images with ink and paper swapped (1 − x),
- ``noise``: uniform random pixel values,
- ``shuffled``: ID test images with their pixels permuted (same histogram, no shape),
- ``rotated``: ID test images turned by 90° (familiar strokes, wrong layout).

:func:`digits_features` trains the classifier; :func:`run_digits` runs the benchmark of
:func:`hopdyn.ood.run_benchmark` on its features and returns the table and the time evolution
(:class:`OODDigitsResult`); ``hopdyn ood`` with no file arguments prints them.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from .._optim import Adam
from .._threads import few_threads
from .._validate import positive_int
from ..datasets import digits
from ..ood import FeatureSet
from ..ood.benchmark import OBJECTIVES, BenchmarkResult, run_benchmark

ID_CLASSES = (0, 1, 2, 3, 4, 5)

#: RecLag epochs on the 650 training digits with the paper's global matrix (N_H = 250, β = 5,
#: norm 10): 10 instead of 100 (more changed the table little); the class-wise "code" setting
#: keeps its own default.
DIGITS_EPOCHS = 10


@dataclass(frozen=True)
class DigitsFeatures:
    """Features and logits of the classifier on the ID training and test images and on each OOD set."""

    id_train: FeatureSet
    id_test: FeatureSet
    ood: dict[str, FeatureSet]
    test_accuracy: float  # of the classifier on ID test images


@dataclass(frozen=True)
class OODDigitsResult(BenchmarkResult):
    """The benchmark on the digits (everything :class:`~hopdyn.ood.BenchmarkResult` holds: the
    table, the time evolution, AUPR, warnings, notes, settings, scores) and the classifier's
    accuracy on the ID test images."""

    test_accuracy: float = math.nan


def _ood_images(x_id_test: np.ndarray, x_heldout: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = x_id_test.shape[0]
    img = x_id_test.reshape(n, 8, 8)
    return {
        "digits 6-9": x_heldout,
        "inverted": 1.0 - x_id_test,
        "noise": rng.uniform(0.0, 1.0, size=x_id_test.shape),
        "shuffled": np.take_along_axis(x_id_test, rng.permuted(np.tile(np.arange(64), (n, 1)), axis=1), axis=1),
        "rotated": np.rot90(img, k=1, axes=(1, 2)).reshape(n, 64).copy(),
    }


def digits_features(seed: int = 0, id_classes: Sequence[int] = ID_CLASSES, hidden: int = 64,
                    epochs: int = 300) -> DigitsFeatures:
    """Train the classifier (seeded) and return features/logits of the ID and OOD sets."""
    id_classes = sorted(set(int(c) for c in id_classes))
    if len(id_classes) < 2 or not all(0 <= c <= 9 for c in id_classes) or len(id_classes) == 10:
        raise ValueError(f"id_classes must be 2 to 9 distinct digits in 0..9, got {id_classes}")
    x, y = (t.numpy() for t in digits(torch.float64))
    rng = np.random.default_rng(seed)
    is_id = np.isin(y, id_classes)
    idx = rng.permutation(np.flatnonzero(is_id))
    n_train = int(0.6 * idx.size)
    tr, te = idx[:n_train], idx[n_train:]
    relabel = {c: i for i, c in enumerate(id_classes)}
    y_tr = np.array([relabel[c] for c in y[tr]])
    y_te = np.array([relabel[c] for c in y[te]])
    images = {"id_train": x[tr], "id_test": x[te], **_ood_images(x[te], x[~is_id], rng)}

    # nn.Linear initialises from the global stream: seed a fork of it, so that the caller's
    # random state is left as it was
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                                  torch.nn.ReLU())
        head = torch.nn.Linear(hidden, len(id_classes))
    params = [*net.parameters(), *head.parameters()]
    xt = torch.as_tensor(x[tr], dtype=torch.float32)
    yt = torch.as_tensor(y_tr)
    opt = Adam(params, 1e-2)
    with few_threads(0):  # a tiny full-batch problem: one thread is fastest
        for _ in range(positive_int(epochs, "epochs")):
            loss = torch.nn.functional.cross_entropy(head(net(xt)), yt) + 1e-4 * sum((p * p).sum() for p in params)
            opt.step(torch.autograd.grad(loss, params))
        with torch.no_grad():
            feats = {k: net(torch.as_tensor(v, dtype=torch.float32)) for k, v in images.items()}
            sets = {k: FeatureSet(f.double(), head(f).double(), None, k) for k, f in feats.items()}
    id_train = FeatureSet(sets["id_train"].features, sets["id_train"].logits, torch.as_tensor(y_tr), "id_train")
    acc = float((sets["id_test"].predicted.numpy() == y_te).mean())
    ood = {k: v for k, v in sets.items() if k not in ("id_train", "id_test")}
    return DigitsFeatures(id_train, sets["id_test"], ood, acc)


def digits_reclag(reclag: Mapping | None = None) -> dict:
    """RecLag options on the digits: ``reclag`` with :data:`DIGITS_EPOCHS` epochs for the paper's
    setting (the default) unless ``reclag`` gives its own."""
    kw = dict(reclag or {})
    if kw.get("setting", "paper") == "paper":
        kw.setdefault("epochs", DIGITS_EPOCHS)
    return kw


def run_digits(trials: int = 11, steps: int = 8, seed: int = 0, *, objectives: Sequence[str] = OBJECTIVES,
               reclag: Mapping | None = None, evolution_set: str | None = None, tpr: float = 0.95,
               positive: str = "id", mhe_beta: float = 0.01, react_percentile: float = 90.0,
               progress: bool | None = None, prefitted: Mapping | None = None) -> OODDigitsResult:
    """The whole demo: the classifier (:func:`digits_features`), then :func:`hopdyn.ood.run_benchmark`
    on its features: the detectors (RecLag over ``trials`` seeds, one row per objective, options
    :func:`digits_reclag`), the table, and the time evolution of MHE and RecLag on ``evolution_set`` (default: the first,
    ``"digits 6-9"``; ``steps=0`` skips it). ``prefitted``: fitted detectors scored as they are
    (e.g. a :meth:`~hopdyn.ood.RecLagDetector.load`-ed one), see :func:`~hopdyn.ood.run_benchmark`."""
    data = digits_features(seed)
    res = run_benchmark(data.id_train, data.id_test, data.ood, reclag=digits_reclag(reclag), objectives=objectives,
                    trials=trials, seed=seed, steps=steps, evolution_set=evolution_set, tpr=tpr, positive=positive,
                    mhe_beta=mhe_beta, react_percentile=react_percentile, progress=progress, prefitted=prefitted)
    return OODDigitsResult(**{f.name: getattr(res, f.name) for f in fields(res)}, test_accuracy=data.test_accuracy)
