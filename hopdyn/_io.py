"""Writing results: atomically (a temporary name, then a rename) and as JSON or tables."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._interrupts import checkpoint, hold, release


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds,
    so a failed or interrupted run never leaves a half-written file behind.

    Interrupts are held from the temporary file's creation until its clean-up is armed, and
    again while it is removed: one in between used to leave it behind. An interrupt that arrived
    but was swallowed on its way up (see :mod:`hopdyn._interrupts`) is raised before the file is
    created and before it is renamed."""
    path = Path(path)
    tmp = None
    checkpoint()
    held = hold()
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
        except OSError as exc:  # name the target, not a temporary file
            raise OSError(f"cannot write {path} ({exc.strerror or exc})") from exc
        tmp = Path(name)
        os.close(fd)
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        token, held = held, None
        release(token)  # an interrupt held so far is raised here, with the clean-up armed
        yield tmp
        checkpoint()
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise OSError(f"cannot write {path} ({exc.strerror or exc})") from exc
    finally:
        # also on KeyboardInterrupt (Ctrl-C, and SIGTERM under the CLI): no temporary file stays behind
        if held is None:
            held = hold()
        try:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        finally:
            release(held)


def jsonable(obj: Any) -> Any:
    """Convert dataclasses, tensors, arrays and numpy scalars to plain JSON values
    (non-finite floats become strings, since JSON has no NaN or inf)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj) if not f.name.startswith("_")}
    if isinstance(obj, torch.Tensor):
        return jsonable(obj.detach().cpu().numpy())
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.generic,)):
        return jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(jsonable(obj), indent=2) + "\n")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table with aligned columns (readable in a terminal and in a README)."""

    def cell(x: Any) -> str:
        if isinstance(x, float):
            return f"{x:.4g}"
        return str(x)

    body = [[cell(x) for x in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)])
