"""A set of encoder outputs for OOD detection, and reading users' ``.npz`` files.

A feature file is a NumPy ``.npz`` archive with the keys

- ``features``: penultimate-layer features, shape ``(n, d)`` (required);
- ``logits``: the classifier's logits, shape ``(n, C)`` (needed by MSP, Energy, ReAct, MHE, SHE
  and the class-wise RecLag, which use the predicted class);
- ``labels``: integer class labels, shape ``(n,)`` (needed in the ID training file by MHE, SHE
  and the class-wise RecLag, which keep the correctly classified samples).

This is how the paper's CIFAR protocol runs on features from a user's own ResNet: save the
features and logits of the ID training set, the ID test set and each OOD set, one file each.

Bad rows: a row with NaN or inf in its features or logits is refused with the file's name and
the row indices (the first few); ``load_features(..., drop_bad_rows=True)`` (``hopdyn ood
--drop-bad-rows``) drops such rows instead and records them in :attr:`FeatureSet.dropped_rows`.
All-zero feature rows (dead ReLU features of a far-OOD input) are valid data, listed by
:attr:`FeatureSet.zero_rows`: where features are rescaled to a norm, a zero vector has no
direction and its normalised form is defined as the zero vector.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._validate import as_tensor

KEYS = ("features", "logits", "labels")

#: How many row indices a message lists before "...".
SHOW_ROWS = 8


def format_rows(rows, show: int = SHOW_ROWS) -> str:
    """``"3, 17, 40"`` or ``"3, 17, ... (first 8 of 120)"`` for a list of row indices."""
    rows = [int(r) for r in rows]
    text = ", ".join(map(str, rows[:show]))
    return text if len(rows) <= show else f"{text}, ... (first {show} of {len(rows)})"


def _bad_rows(t: torch.Tensor) -> list[int]:
    """Rows of a 2-D (or 1-D) tensor holding NaN or inf."""
    ok = torch.isfinite(t)
    if ok.dim() > 1:
        ok = ok.all(dim=1)
    return torch.nonzero(~ok).flatten().tolist()


@dataclass(frozen=True)
class FeatureSet:
    """Features ``(n, d)`` with optional logits ``(n, C)`` and labels ``(n,)``.

    Floating features keep their dtype (float32 files stay float32); logits take the features'
    dtype; labels become int64. NaN or inf in features or logits is refused with the row indices;
    ``dropped_rows`` records rows that :func:`load_features` dropped (original row indices).
    """

    features: torch.Tensor
    logits: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    name: str = "features"
    dropped_rows: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        x = as_tensor(self.features, f"{self.name}: features", finite=False)
        if x.dim() != 2:
            raise ValueError(f"{self.name}: features must have shape (n, d), got {tuple(x.shape)}")
        bad = _bad_rows(x)
        if bad:
            raise ValueError(f"{self.name}: features contain NaN or inf in {len(bad)} of {x.shape[0]} rows "
                             f"(rows {format_rows(bad)})")
        object.__setattr__(self, "features", x)
        n = x.shape[0]
        if self.logits is not None:
            lg = as_tensor(self.logits, f"{self.name}: logits", finite=False)
            if lg.dim() != 2 or lg.shape[0] != n or lg.shape[1] < 2:
                raise ValueError(f"{self.name}: logits must have shape ({n}, C) with C >= 2 to match {n} "
                                 f"feature rows, got {tuple(lg.shape)}")
            bad = _bad_rows(lg)
            if bad:
                raise ValueError(f"{self.name}: logits contain NaN or inf in {len(bad)} of {n} rows "
                                 f"(rows {format_rows(bad)})")
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
            neg = torch.nonzero(y < 0).flatten().tolist()
            if neg:
                raise ValueError(f"{self.name}: labels must be class indices >= 0; {len(neg)} rows are negative "
                                 f"(rows {format_rows(neg)})")
            if self.logits is not None and len(y):
                c = self.logits.shape[1]
                high = torch.nonzero(y >= c).flatten().tolist()
                if high:
                    raise ValueError(f"{self.name}: label {int(y.max())} has no logit (C = {c} logit columns, so "
                                     f"labels must be 0..{c - 1}); {len(high)} rows out of range "
                                     f"(rows {format_rows(high)})")
            object.__setattr__(self, "labels", y)
        object.__setattr__(self, "dropped_rows", tuple(int(r) for r in self.dropped_rows))

    def __len__(self) -> int:
        return self.features.shape[0]

    @property
    def dim(self) -> int:
        return self.features.shape[1]

    @property
    def zero_rows(self) -> list[int]:
        """Rows whose features are all zero (e.g. every ReLU unit dead on a far-OOD input). They
        are valid input; where features are rescaled to a norm, their normalised form is 0."""
        return torch.nonzero(~self.features.ne(0).any(dim=1)).flatten().tolist()

    def to(self, device: str | torch.device) -> "FeatureSet":
        """The same set on another device."""
        mv = lambda t: None if t is None else t.to(device)  # noqa: E731
        return FeatureSet(mv(self.features), mv(self.logits), mv(self.labels), self.name, self.dropped_rows)

    @property
    def predicted(self) -> torch.Tensor:
        """The classifier's predicted class, ``argmax(logits)``."""
        if self.logits is None:
            raise ValueError(f"{self.name}: no logits, so no predicted class")
        return self.logits.argmax(-1)

    def subset(self, index: torch.Tensor) -> "FeatureSet":
        pick = lambda t: None if t is None else t[index]  # noqa: E731
        return FeatureSet(self.features[index], pick(self.logits), pick(self.labels), self.name, self.dropped_rows)

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


def load_features(path: str | Path, name: str | None = None, *, drop_bad_rows: bool = False) -> FeatureSet:
    """Read a feature file (see the module docstring); errors name the file, the key and, for NaN
    or inf, the rows. ``drop_bad_rows=True`` drops rows with NaN or inf in 'features' or
    'logits' (or a non-integer label) instead; they are listed in ``dropped_rows``."""
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
    bad = _file_bad_rows(arrays)
    dropped: tuple[int, ...] = ()
    if bad:
        where = ", ".join(f"'{k}' in rows {format_rows(r)}" for k, r in bad.items())
        if not drop_bad_rows:
            raise ValueError(f"{name}: {path} has NaN or inf: {where}; fix the file or drop those rows "
                             "(hopdyn ood --drop-bad-rows)")
        rows = sorted(set().union(*bad.values()))
        n = arrays["features"].shape[0]
        if len(rows) == n:
            raise ValueError(f"{name}: {path}: every one of the {n} rows has NaN or inf ({where}); nothing is left")
        keep = np.setdiff1d(np.arange(n), rows)
        arrays = {k: (v[keep] if v.ndim and v.shape[0] == n else v) for k, v in arrays.items()}
        dropped = tuple(rows)
    return FeatureSet(
        features=arrays["features"],
        logits=arrays.get("logits"),
        labels=arrays.get("labels"),
        name=name,
        dropped_rows=dropped,
    )


def _file_bad_rows(arrays: dict) -> dict[str, list[int]]:
    """``{key: rows}`` of rows with NaN or inf in features or logits, or a non-finite label."""
    out = {}
    n = arrays["features"].shape[0] if arrays["features"].ndim else 0
    for k in KEYS:
        a = arrays.get(k)
        if a is None or a.dtype.kind != "f" or a.ndim == 0 or a.shape[0] != n:
            continue  # shapes are checked (and named) by FeatureSet
        ok = np.isfinite(a)
        ok = ok.reshape(n, -1).all(axis=1) if a.ndim > 1 else ok
        if not ok.all():
            out[k] = np.flatnonzero(~ok).tolist()
    return out
