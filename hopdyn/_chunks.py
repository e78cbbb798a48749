"""Splitting large batches into chunks so that memory stays bounded."""
from __future__ import annotations

from collections.abc import Iterator

from tqdm.auto import tqdm

#: Default number of state entries (rows × width) a simulator holds per chunk and time point.
CHUNK_ELEMENTS = 1 << 22


def chunk_rows(width: int, chunk_size: int | None) -> int:
    """Rows per chunk: ``chunk_size`` if given, else enough to hold ~4M entries of ``width``."""
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        return chunk_size
    return max(1, CHUNK_ELEMENTS // max(1, width))


def chunks(n: int, rows: int, progress: bool | None, desc: str) -> Iterator[slice]:
    """Slices covering ``range(n)``; a progress bar is shown when there is more than one chunk
    (``progress=None``) or always (``True``)."""
    starts = range(0, n, rows)
    show = len(starts) > 1 if progress is None else bool(progress)
    for start in tqdm(starts, desc=desc, disable=not show, leave=False):
        yield slice(start, min(n, start + rows))
