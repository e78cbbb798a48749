"""The notebooks run headless from top to bottom (nbclient), with every assertion inside them, and are
committed with their outputs (so that a reader sees the pictures on GitHub without running them).

The test executes a copy in memory and never writes the notebook back. To refresh the committed
outputs after changing a notebook (or the code it shows), run from the repository root::

    python tests/test_notebooks.py notebooks/NAME.ipynb ...   # or no argument: every notebook
"""

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
#: Largest size of a notebook saved with its outputs (pictures at a modest dpi stay well below).
MAX_BYTES = 2_000_000


def execute(nb, workdir: Path) -> None:
    """Run every cell of ``nb`` in place, in a fresh kernel working in ``workdir``, with Jupyter's
    inline backend and one torch thread."""
    # conftest's MPLBACKEND=Agg would reach the kernel and hide every figure; use Jupyter's inline backend
    env = {"MPLBACKEND": "module://matplotlib_inline.backend_inline",
           # one torch thread in the kernel: with two test workers on two cores, a second thread only spins
           # (a notebook took 126 s instead of 6 s on a loaded machine)
           "OMP_NUM_THREADS": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        # timeout: every cell takes seconds. It also bounds a known nbclient stall (jupyter/nbclient#312,
        # open): a cell with ipywidgets sometimes gets its reply only at the timeout, without an error,
        # which with timeout=120 cost two minutes per run here
        client = NotebookClient(
            nb, timeout=30, startup_timeout=60, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
        )
        client.execute()  # raises CellExecutionError, naming the cell, when any cell fails
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _outputs(nb) -> list:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def test_the_three_notebooks_are_there():
    assert {p.name for p in NOTEBOOKS} >= {
        "explore_landscape.ipynb",
        "verify_theorems.ipynb",
        "reproduce_figures.ipynb",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_with_its_pictures(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), f"{path.name}: run `python tests/test_notebooks.py {path}`"
    assert any("image/png" in o.get("data", {}) for o in _outputs(nb)), path.name
    assert not [o for o in _outputs(nb) if o.get("output_type") == "error"]
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: {path.stat().st_size} bytes; lower the figures' dpi"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # start from nothing: the committed outputs must not be what the test sees
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    execute(nb, tmp_path)
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # every notebook shows at least one picture
    assert any("image/png" in o.get("data", {}) for o in outputs), path.name


def save_with_outputs(paths: list[Path]) -> None:
    """Execute each notebook and write it back with its outputs (not run by the tests)."""
    import tempfile
    import time

    for path in paths:
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            execute(nb, Path(tmp))
        for cell in nb.cells:
            cell.metadata.pop("execution", None)  # timings would make every rerun a diff
        nbformat.write(nb, path)
        print(f"{path}: {time.perf_counter() - t0:.0f} s, {path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    save_with_outputs([Path(p) for p in sys.argv[1:]] or NOTEBOOKS)
