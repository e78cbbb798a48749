"""A set of encoder outputs for OOD detection, and reading users' ``.npz`` files.

A feature file is a NumPy ``.npz`` archive with the keys

- ``features``: penultimate-layer features, shape ``(n, d)`` (required);
- ``logits``: the classifier's logits, shape ``(n, C)`` (needed by MSP, Energy, ReAct, MHE, SHE
  and the class-wise RecLag, which use the predicted class);
- ``labels``: integer class labels, shape ``(n,)`` (needed in the ID training file by MHE, SHE
  and the class-wise RecLag, which keep the correctly classified samples).

This is how the paper's CIFAR protocol runs on features from a user's own ResNet: save the
features and logits of the ID training set, the ID test set and each OOD set, one file each.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._validate import as_tensor

KEYS = ("features", "logits", "labels")


@dataclass(frozen=True)
class FeatureSet:
    """Features ``(n, d)`` with optional logits ``(n, C)`` and labels ``(n,)``.

    Floating features keep their dtype (float32 files stay float32); logits take the features'
    dtype; labels become int64.
    """

    features: torch.Tensor
    logits: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    name: str = "features"

    def __post_init__(self) -> None:
        x = as_tensor(self.features, f"{self.name}: features")
        if x.dim() != 2:
            raise ValueError(f"{self.name}: features must have shape (n, d), got {tuple(x.shape)}")
        object.__setattr__(self, "features", x)
        n = x.shape[0]
        if self.logits is not None:
            lg = as_tensor(self.logits, f"{self.name}: logits")
            if lg.dim() != 2 or lg.shape[0] != n or lg.shape[1] < 2:
                raise ValueError(f"{self.name}: logits must have shape ({n}, C) with C >= 2 to match {n} "
                                 f"feature rows, got {tuple(lg.shape)}")
            object.__setattr__(self, "logits", lg.to(x.dtype))
        if self.labels is not None:
            y = torch.as_tensor(np.asarray(self.labels))
            if y.is_floating_point():
                if not bool(torch.isfinite(y).all()) or not bool((y == y.round()).all()):
                    raise ValueError(f"{self.name}: labels must be integers")
            elif y.dtype == torch.bool or y.is_complex():
                raise ValueError(f"{self.name}: labels must be integers, got dtype {y.dtype}")
            y = y.to(torch.int64)
            if y.shape != (n,):
                raise ValueError(f"{self.name}: labels must have shape ({n},) to match the features, got {tuple(y.shape)}")
            if bool((y < 0).any()):
                raise ValueError(f"{self.name}: labels must be class indices >= 0")
            if self.logits is not None and int(y.max()) >= self.logits.shape[1]:
                raise ValueError(f"{self.name}: label {int(y.max())} has no logit (C = {self.logits.shape[1]})")
            object.__setattr__(self, "labels", y)

    def __len__(self) -> int:
        return self.features.shape[0]

    @property
    def dim(self) -> int:
        return self.features.shape[1]

    @property
    def predicted(self) -> torch.Tensor:
        """The classifier's predicted class, ``argmax(logits)``."""
        if self.logits is None:
            raise ValueError(f"{self.name}: no logits, so no predicted class")
        return self.logits.argmax(-1)

    def subset(self, index: torch.Tensor) -> "FeatureSet":
        pick = lambda t: None if t is None else t[index]  # noqa: E731
        return FeatureSet(self.features[index], pick(self.logits), pick(self.labels), self.name)

    def save(self, path: str | Path) -> None:
        """Write the set as ``.npz`` with the keys above (atomically)."""
        from .._io import atomic_path

        arrays = {k: getattr(self, k).cpu().numpy() for k in KEYS if getattr(self, k) is not None}
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_features(path: str | Path, name: str | None = None) -> FeatureSet:
    """Read a feature file (see the module docstring); errors name the file and the key."""
    p = Path(path)
    name = name or p.name
    if not p.is_file():
        raise FileNotFoundError(f"{name}: no such file: {path}")
    try:
        z = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{name}: {path} is not a readable .npz archive ({_first_line(exc)})") from exc
    if not isinstance(z, np.lib.npyio.NpzFile):  # np.load also reads a plain .npy array
        raise ValueError(f"{name}: {path} is a single .npy array, not an .npz archive; save the features with "
                         "np.savez(path, features=..., logits=..., labels=...)")
    try:
        with z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{name}: {path} is not a readable .npz archive ({_first_line(exc)})") from exc
    if "features" not in arrays:
        raise ValueError(f"{name}: {path} has no 'features' array (found keys: {', '.join(arrays) or 'none'}); "
                         "expected keys 'features' and optionally 'logits', 'labels'")
    for k in ("features", "logits"):
        if k in arrays and (arrays[k].dtype.kind not in "fiu"):
            raise ValueError(f"{name}: '{k}' must hold real numbers, got dtype {arrays[k].dtype}")
    if "labels" in arrays and arrays["labels"].dtype.kind not in "fiu":
        raise ValueError(f"{name}: 'labels' must hold integers, got dtype {arrays['labels'].dtype}")
    return FeatureSet(
        features=arrays["features"],
        logits=arrays.get("logits"),
        labels=arrays.get("labels"),
        name=name,
    )
