"""The notebooks run headless from top to bottom (nbclient), with every assertion inside them."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_are_there():
    assert {p.name for p in NOTEBOOKS} >= {
        "explore_landscape.ipynb",
        "verify_theorems.ipynb",
        "reproduce_figures.ipynb",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    # conftest's MPLBACKEND=Agg would reach the kernel and hide every figure; use Jupyter's inline backend
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # one torch thread in the kernel: with two test workers on two cores, a second thread only spins
    # (a notebook took 126 s instead of 6 s on a loaded machine)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(path, as_version=4)
    # timeout: every cell takes seconds. It also bounds a known nbclient stall (jupyter/nbclient#312,
    # open): a cell with ipywidgets sometimes gets its reply only at the timeout, without an error,
    # which with timeout=120 cost two minutes per run here
    client = NotebookClient(
        nb, timeout=30, startup_timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, when any cell fails
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # every notebook shows at least one picture
    assert any("image/png" in o.get("data", {}) for o in outputs), path.name
