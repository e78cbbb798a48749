"""Pieces shared by the subcommands: loading a user's network and writing reports."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from .._io import write_json


def load_xi(path: str) -> torch.Tensor:
    """Read an interaction matrix ``(N_H, N_V)`` from ``.npy`` or ``.pt`` (float64)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"--xi: no such file: {path}")
    if p.suffix == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"--xi: {path} is not a readable .npy array ({exc})") from exc
        xi = torch.as_tensor(arr)
    elif p.suffix in (".pt", ".pth"):
        xi = torch.load(p, map_location="cpu", weights_only=True)
        if not isinstance(xi, torch.Tensor):
            raise ValueError(f"--xi: {path} must hold a single tensor, found {type(xi).__name__}")
    else:
        raise ValueError(f"--xi: expected a .npy or .pt file, got {path}")
    if not (xi.is_floating_point() or xi.dtype in (torch.int32, torch.int64)):
        raise ValueError(f"--xi: expected real numbers, got dtype {xi.dtype}")
    return xi.to(torch.float64)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")


def maybe_write_json(args: argparse.Namespace, obj) -> None:
    if getattr(args, "json", None):
        write_json(args.json, obj)
        print(f"wrote {args.json}")
