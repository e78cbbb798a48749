"""Finished cells on disk, so that an interrupted sweep resumes where it stopped.

Beside the result ``RESULT.nc`` lives ``RESULT.nc.cells/``: ``settings.json`` (what the cells
compute: the analysis, the network recipe, the fixed options) and ``cells.jsonl``, one line per
finished cell ``{"key", "params", "seed", "values"}``, appended and flushed as each cell
completes. A line cut short by a kill is ignored (that cell runs again). Cells are keyed by
:func:`~hopdyn.sweep.grid.cell_key`, so a grid that grows reuses the cells it shares.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .._io import write_json


def store_path(result: str | os.PathLike) -> Path:
    """The folder of finished cells of the result file ``result``."""
    return Path(f"{result}.cells")


class CellStore:
    """The finished cells of one sweep (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike, settings: dict, fresh: bool = False) -> None:
        self.folder = Path(folder)
        self._file = None
        self._lines = self.folder / "cells.jsonl"
        self._settings = self.folder / "settings.json"
        settings = json.loads(json.dumps(settings))  # as it reads back (tuples become lists)
        if fresh and self.folder.exists():
            self.clear()
        if self._settings.exists():
            try:
                old = json.loads(self._settings.read_text())
            except ValueError as exc:
                raise ValueError(f"{self._settings} is not readable JSON ({exc}); delete {self.folder} to start afresh") from exc
            if old != settings:
                what = ", ".join(k for k in settings if old.get(k) != settings[k]) or "settings"
                raise ValueError(f"{self.folder} holds cells of a different sweep ({what} differ); "
                                 "start afresh with fresh=True (--fresh) or choose another result path")
        self.settings = settings
        self.done: dict[str, dict] = self._read()

    def _read(self) -> dict[str, dict]:
        done: dict[str, dict] = {}
        if not self._lines.exists():
            return done
        for line in self._lines.read_text().splitlines():
            try:
                rec = json.loads(line)
                done[rec["key"]] = rec["values"]
            except (ValueError, KeyError, TypeError):  # a line cut short by a kill: that cell runs again
                continue
        return done

    def add(self, key: str, params: dict, seed: int, values: dict) -> None:
        """Record a finished cell (written and flushed at once)."""
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not self._settings.exists():
                write_json(self._settings, self.settings)
            # a line cut short by a kill would swallow the next record: start on a fresh line
            if self._lines.exists() and self._lines.stat().st_size:
                with self._lines.open("rb") as f:
                    f.seek(-1, os.SEEK_END)
                    cut = f.read(1) != b"\n"
            else:
                cut = False
            self._file = self._lines.open("a")
            if cut:
                self._file.write("\n")
        self._file.write(json.dumps({"key": key, "params": params, "seed": seed, "values": values}) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.done[key] = values

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def clear(self) -> None:
        """Delete the folder (after a complete sweep, or to start afresh)."""
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)
