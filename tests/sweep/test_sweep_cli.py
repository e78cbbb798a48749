"""``hopdyn sweep``: the 16-point β × γ basin sweep in one command (scheduler address, embedded
cluster, resume after Ctrl-C), plots from the result, failed cells, bad input."""
import functools
import json
import subprocess
import sys

import numpy as np
import pytest

from hopdyn.cli import main
from hopdyn.sweep import ANALYSES, Grid, load_result, run_sweep, store_path

pytestmark = pytest.mark.usefixtures("quiet_distributed")

GRID_ARGS = ["--grid", "beta=1,2,4,8", "--grid", "gamma=log:10:1e4:4", "--set", "n=200"]


@pytest.fixture(scope="module")
def reference():
    grid = Grid.product(beta=[1, 2, 4, 8], gamma=[10, 100, 1000, 10000], seeds=1)
    return run_sweep("basins", grid, options={"n": 200}, scheduler="loop", progress=False).dataset


def _counts_equal(a, b):
    for name in ("origin_count", "memory_count", "unconverged_count", "n_memory_attractors"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    np.testing.assert_allclose(a.origin_fraction.values, b.origin_fraction.values, rtol=1e-12)


def test_sweep_on_a_scheduler_address_then_plot(cluster, reference, tmp_path, capsys):
    out, js = tmp_path / "b.nc", tmp_path / "b.json"
    rc = main(["sweep", "basins", *GRID_ARGS, "--scheduler", cluster, "--result", str(out),
               "--json", str(js)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "16 cells (beta=4 x gamma=4 x seed=1)" in text and "16 computed, 0 from an earlier run, 0 failed" in text
    ds = load_result(out)
    assert list(ds.gamma.values) == [10.0, 100.0, 1000.0, 10000.0]
    _counts_equal(reference, ds)
    report = json.loads(js.read_text())
    assert report["n_cells"] == 16 and not report["failures"] and len(report["cells"]) == 16
    assert report["cells"][0]["params"] == {"beta": 1.0, "gamma": 10.0}

    plots = tmp_path / "plots"
    assert main(["sweep", "plot", str(out), "--out", str(plots)]) == 0
    assert sorted(p.name for p in plots.iterdir()) == ["basins_heatmaps.png", "basins_vs_beta.png",
                                                        "basins_vs_gamma.png"]


def test_embedded_cluster_resumes_after_ctrl_c(reference, tmp_path, capsys, monkeypatch):
    out = tmp_path / "r.nc"
    calls = []
    real = ANALYSES["basins"]

    @functools.wraps(real)
    def interrupted(net, **kw):
        if len(calls) == 8:
            raise KeyboardInterrupt
        calls.append(1)
        return real(net, **kw)

    monkeypatch.setitem(ANALYSES, "basins", interrupted)
    assert main(["sweep", "basins", *GRID_ARGS, "--scheduler", "loop", "--result", str(out)]) == 130
    assert not out.exists() and len((store_path(out) / "cells.jsonl").read_text().splitlines()) == 8
    monkeypatch.setitem(ANALYSES, "basins", real)
    capsys.readouterr()
    # the same command on the embedded LocalCluster (a worker process) computes the other 8 cells
    assert main(["sweep", "basins", *GRID_ARGS, "--workers", "1", "--result", str(out)]) == 0
    text = capsys.readouterr().out
    assert "on local: 8 computed, 8 from an earlier run, 0 failed" in text
    _counts_equal(reference, load_result(out))
    assert not store_path(out).exists()


def test_failed_cells_listed_with_parameters_exit_1(tmp_path, capsys):
    out = tmp_path / "o.nc"
    rc = main(["sweep", "ood", "--grid", "beta=1,2", "--scheduler", "loop", "--retries", "0", "--result", str(out)])
    err = capsys.readouterr().err
    assert rc == 1
    assert "failed cell: beta=1.0, seed=0: ValueError: the ood analysis needs a digits network" in err
    assert "2 of 2 cells failed" in err and out.exists()  # the result holds what finished (NaN here)


def test_theorem1_on_the_users_xi_says_its_verdict(tmp_path, capsys):
    xi = tmp_path / "xi.npy"
    np.save(xi, np.random.default_rng(0).normal(size=(4, 3)))
    rc = main(["sweep", "theorem1", "--xi", str(xi), "--grid", "gamma=2,50", "--seeds", "1", "--set",
               "n_directions=16", "--set", "n_random=32", "--set", "n_adversarial=2", "--scheduler", "loop",
               "--result", str(tmp_path / "t.nc")])
    text = capsys.readouterr().out
    assert rc == 0
    assert ("verdict: Theorem 1 holds in 1 of 1 cells with gamma > N_H; 1 cells with gamma <= N_H show the "
            "counter-example") in text


@pytest.mark.parametrize("argv, message", [
    (["basins", "--grid", "alpha=1,2"], "unknown parameter 'alpha' for basins"),
    (["basins", "--grid", "beta="], "--grid beta: no values given"),
    (["basins", "--grid", "gamma=0,10"], "gamma must be > 0"),
    (["basins", "--grid", "gamma=-5"], "gamma must be > 0"),
    (["basins", "--xi", "missing.npy", "--grid", "beta=1"], "--xi: no such file: missing.npy"),
    (["basins"], "no grid"),
    (["basins", "--grid", "beta=1", "--seeds", "0"], "seeds must be a positive count"),
    (["basins", "--points", "nope.json"], "--points: no such file"),
    (["basins", "--grid", "n_memories=2,3"], "n_memories cannot be swept with memories='planar'"),
    (["basins", "--grid", "beta=log:0:1:3"], "log:A:B:N needs A, B > 0"),
    (["plot", "missing.nc"], "no such sweep result: missing.nc"),
])
def test_bad_input_one_line_exit_2(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_sweep_modules_do_not_import_dask():
    code = ("import argparse, sys, hopdyn, hopdyn.sweep, hopdyn.cli.sweep; "
            "hopdyn.cli.sweep.register(argparse.ArgumentParser().add_subparsers()); "
            "print(sorted(m for m in ('dask', 'distributed', 'xarray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
