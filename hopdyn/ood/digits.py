"""An offline OOD benchmark on scikit-learn's bundled ``load_digits`` (8×8 images, no download).

A small torch MLP is trained on some digit classes (ID); its penultimate ReLU features and its
logits feed every detector, as a ResNet's do in the paper. OOD sets of different kinds are made
locally from the same images:

- ``digits 6-9``: the held-out classes (near OOD: same pixels statistics, new shapes),
- ``inverted``: ID test images with ink and paper swapped (16 − x),
- ``noise``: uniform random pixel values,
- ``shuffled``: ID test images with their pixels permuted (same histogram, no shape),
- ``rotated``: ID test images turned by 90° (familiar strokes, wrong layout).

:func:`run_digits` prints nothing; it returns the table (:class:`~hopdyn.ood.evaluate.OODReport`)
and the time evolution; ``hopdyn ood`` with no file arguments prints them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._validate import positive_int
from .evaluate import OODReport, default_detectors, evaluate_detectors
from .evolution import ScoreEvolution, score_evolution
from .features import FeatureSet
from .training import _Adam, few_threads

ID_CLASSES = (0, 1, 2, 3, 4, 5)

#: RecLag on 650 training samples: the paper's global matrix (N_H = 250, β = 5, norm 10) with
#: 10 epochs instead of 100 (more changed the table little; see ``hopdyn ood --help``).
DIGITS_RECLAG = dict(setting="paper", epochs=10)


@dataclass(frozen=True)
class DigitsData:
    id_train: FeatureSet
    id_test: FeatureSet
    ood: dict[str, FeatureSet]
    test_accuracy: float  # of the classifier on ID test images


@dataclass(frozen=True)
class DigitsResult:
    report: OODReport
    evolution: ScoreEvolution
    test_accuracy: float


def _ood_images(x_id_test: np.ndarray, x_heldout: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = x_id_test.shape[0]
    img = x_id_test.reshape(n, 8, 8)
    return {
        "digits 6-9": x_heldout,
        "inverted": 16.0 - x_id_test,
        "noise": rng.uniform(0.0, 16.0, size=x_id_test.shape),
        "shuffled": np.take_along_axis(x_id_test, rng.permuted(np.tile(np.arange(64), (n, 1)), axis=1), axis=1),
        "rotated": np.rot90(img, k=1, axes=(1, 2)).reshape(n, 64).copy(),
    }


def digits_features(seed: int = 0, id_classes: Sequence[int] = ID_CLASSES, hidden: int = 64,
                    epochs: int = 300) -> DigitsData:
    """Train the classifier (seeded) and return features/logits of the ID and OOD sets."""
    from sklearn.datasets import load_digits

    id_classes = sorted(set(int(c) for c in id_classes))
    if len(id_classes) < 2 or not all(0 <= c <= 9 for c in id_classes) or len(id_classes) == 10:
        raise ValueError(f"id_classes must be 2 to 9 distinct digits in 0..9, got {id_classes}")
    x, y = load_digits(return_X_y=True)
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
    xt = torch.as_tensor(x[tr] / 16.0, dtype=torch.float32)
    yt = torch.as_tensor(y_tr)
    opt = _Adam(params, 1e-2)
    with few_threads(0):  # a tiny full-batch problem: one thread is fastest
        for _ in range(positive_int(epochs, "epochs")):
            loss = torch.nn.functional.cross_entropy(head(net(xt)), yt) + 1e-4 * sum((p * p).sum() for p in params)
            opt.step(torch.autograd.grad(loss, params))
        with torch.no_grad():
            feats = {k: net(torch.as_tensor(v / 16.0, dtype=torch.float32)) for k, v in images.items()}
            sets = {k: FeatureSet(f.double(), head(f).double(), None, k) for k, f in feats.items()}
    id_train = FeatureSet(sets["id_train"].features, sets["id_train"].logits, torch.as_tensor(y_tr), "id_train")
    acc = float((sets["id_test"].predicted.numpy() == y_te).mean())
    ood = {k: v for k, v in sets.items() if k not in ("id_train", "id_test")}
    return DigitsData(id_train, sets["id_test"], ood, acc)


def run_digits(trials: int = 11, steps: int = 8, seed: int = 0, *, objectives: Sequence[str] = ("mc", "exact"),
               reclag: dict | None = None, evolution_set: str = "digits 6-9", tpr: float = 0.95,
               positive: str = "id", mhe_beta: float = 0.01, react_percentile: float = 90.0,
               progress: bool | None = None) -> DigitsResult:
    """The whole demo: classifier, detectors (RecLag over ``trials`` seeds, one row per
    objective), the table, and the time evolution of MHE and RecLag on ``evolution_set``."""
    data = digits_features(seed)
    if evolution_set not in data.ood:
        raise ValueError(f"evolution_set must be one of {', '.join(data.ood)}, got {evolution_set!r}")
    kw = {**DIGITS_RECLAG, **(reclag or {})}
    rows = {("RecLag" if obj == "mc" else f"RecLag ({obj})"): {**kw, "objective": obj} for obj in objectives}
    dets = default_detectors(rows, mhe_beta=mhe_beta, react_percentile=react_percentile)
    report = evaluate_detectors(data.id_train, data.id_test, data.ood, dets, trials=trials, seed=seed, tpr=tpr,
                                positive=positive, progress=progress)
    fitted = report.detectors
    evo = score_evolution({k: fitted[k] for k in ("MHE", next(iter(rows)))}, data.id_test, data.ood[evolution_set],
                          steps, tpr=tpr, positive=positive, ood_name=evolution_set)
    return DigitsResult(report, evo, data.test_accuracy)
