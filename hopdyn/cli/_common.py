"""Pieces shared by the subcommands: loading a user's network, checking output paths, writing reports."""
from __future__ import annotations

import argparse
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from .._io import write_json

#: Argument names (``dest``) that hold an output file or an output folder, in every subcommand.
#: ``hopdyn.cli.main`` checks them before the command computes anything (see :func:`check_outputs`);
#: a subcommand with other output options lists their ``dest`` in ``output_files`` / ``output_dirs``
#: through ``parser.set_defaults``.
OUTPUT_FILES = ("json", "markdown", "plot")
OUTPUT_DIRS = ("out",)


def load_xi(path: str) -> torch.Tensor:
    """Read an array (an interaction matrix ``(N_H, N_V)``, or a state) from ``.npy``, ``.pt`` or
    ``.npz`` (the array named ``xi``, or the only one), as float64. Unreadable files, non-numeric or half-precision data and an all-zero matrix raise ``ValueError`` with one readable line.

    The all-zero check is here, in the command line, and only for arrays of two or more
    dimensions: an all-zero interaction matrix has no memories, so every check and simulation
    on it is vacuous (and some degenerate), while the library may legitimately build such a
    network and a 1-D state of zeros (``--v0``) is a valid input.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"--xi: no such file: {path}")
    if p.suffix in (".npy", ".npz"):
        arr = _read_npy(p) if p.suffix == ".npy" else _read_npz(p)
        if arr.dtype.kind == "f" and arr.dtype.itemsize < 4:
            raise ValueError(f"--xi: {path} holds {arr.dtype}: float16/bfloat16 are not supported: use float32 or float64")
        if arr.dtype.kind not in "fiu":
            raise ValueError(f"--xi: expected real numbers in {path}, got dtype {arr.dtype}")
        xi = torch.from_numpy(np.asarray(arr, dtype=np.float64))
    elif p.suffix in (".pt", ".pth"):
        try:
            xi = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - corrupt files raise anything from EOFError to RuntimeError
            raise ValueError(f"--xi: {path} is not a readable .pt file (expected one tensor saved with torch.save; "
                             f"{type(exc).__name__})") from exc
        if not isinstance(xi, torch.Tensor):
            raise ValueError(f"--xi: {path} must hold a single tensor, found {type(xi).__name__}")
        if xi.is_floating_point() and xi.element_size() < 4:
            raise ValueError(f"--xi: {path} holds {xi.dtype}: float16/bfloat16 are not supported: use float32 or float64")
        if not (xi.is_floating_point() or xi.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
            raise ValueError(f"--xi: expected real numbers in {path}, got dtype {xi.dtype}")
        xi = xi.detach().to(torch.float64)
    else:
        raise ValueError(f"--xi: expected a .npy, .npz or .pt file, got {path}")
    # NaN/inf and empty arrays are left to the commands' own checks (``as_tensor``), which name the option
    if xi.dim() >= 2 and xi.numel() and not bool(xi.any()):
        raise ValueError(f"--xi: {path} is all zeros: an all-zero interaction matrix has no memories")
    return xi


def _read_npy(path: Path) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"--xi: {path} is not a readable .npy array ({_first_line(exc)})") from exc
    if not isinstance(arr, np.ndarray):  # np.load reads .npz archives whatever the suffix
        arr.close()
        raise ValueError(f"--xi: {path} is not a .npy array (it is an .npz archive)")
    return arr


def _read_npz(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError(f"--xi: {path} is not an .npz archive (it is a single .npy array)")
            keys = list(z.keys())
            if "xi" in keys or len(keys) == 1:
                return z["xi" if "xi" in keys else keys[0]]
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"--xi: {path} is not a readable .npz archive ({_first_line(exc)})") from exc
    raise ValueError(f"--xi: {path} holds the arrays {', '.join(keys) or '(none)'}: name the memories 'xi' or "
                     "save only one array")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be created under ``folder`` (which may not exist yet), or None."""
    p = folder
    while not p.exists():
        if p.parent == p:
            break
        p = p.parent
    if not p.is_dir():
        return f"{p} is not a folder"
    if not os.access(p, os.W_OK | os.X_OK):
        return f"{p} is not writable"
    return None


def check_output_file(path: str, flag: str) -> None:
    """Raise ``ValueError`` naming ``flag`` when ``path`` cannot be written (checked before computing)."""
    if not str(path).strip():
        raise ValueError(f"{flag}: expected a file path, got an empty string")
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{flag} {path}: cannot write there ({path} is a folder)")
    why = _unwritable(p.absolute().parent)
    if why:
        raise ValueError(f"{flag} {path}: cannot write there ({why})")


def check_output_dir(path: str, flag: str) -> None:
    """Raise ``ValueError`` naming ``flag`` when ``path`` cannot be made or written as a folder."""
    if not str(path).strip():
        raise ValueError(f"{flag}: expected a folder, got an empty string")
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{flag}: {path} exists and is not a folder")
    why = _unwritable(p.absolute())
    if why:
        raise ValueError(f"{flag} {path}: cannot write there ({why})")


def check_outputs(args: argparse.Namespace, defaults: dict | None = None) -> None:
    """Check every output path in ``args`` before the command runs, so that a bad path fails at once
    with the flag's name instead of after the whole computation.

    With ``--list`` nothing is written but what the user asked for: values equal to their
    ``defaults`` (the subcommand's parser defaults) are not checked then."""
    defaults = defaults or {}
    listing = bool(getattr(args, "list", False))
    for dests, check in (((*OUTPUT_FILES, *getattr(args, "output_files", ())), check_output_file),
                         ((*OUTPUT_DIRS, *getattr(args, "output_dirs", ())), check_output_dir)):
        for dest in dests:
            value = getattr(args, dest, None)
            if not isinstance(value, str) or (listing and dest in defaults and value == defaults[dest]):
                continue
            check(value, _flag(dest))


def check_device(name: str) -> str:
    """``--device``: a torch device that exists on this machine, as its canonical string."""
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"--device: unknown device {name!r} (e.g. cpu, cuda, cuda:1, mps)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {name}: MPS is not available on this machine")
    return str(device)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")


def maybe_write_json(args: argparse.Namespace, obj) -> None:
    if getattr(args, "json", None):
        write_json(args.json, obj)
        print(f"wrote {args.json}")
