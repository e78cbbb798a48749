"""Sweeps on a real Dask cluster against the plain in-process loop, worker deaths, failures, resume."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from distributed import Client

from hopdyn.sweep import Grid, NetworkSpec, cell_key, load_result, run_sweep, store_path
from hopdyn.sweep.run import share_cores

pytestmark = pytest.mark.usefixtures("quiet_distributed")

BETA_GAMMA = Grid.product(beta=[1, 2, 4, 8], gamma=[10, 100, 1e3, 1e4], seeds=1)


def _same(a, b):
    """Equal datasets: integer variables (counts) exactly, floats to rounding (processes may run
    other torch thread counts, which may reorder float sums)."""
    assert a.sizes == b.sizes and set(a.data_vars) == set(b.data_vars)
    for name in a.coords:
        np.testing.assert_array_equal(a[name].values, b[name].values)
    for name in a.data_vars:
        x, y = a[name].values, b[name].values
        if np.issubdtype(x.dtype, np.integer):
            assert np.issubdtype(y.dtype, np.integer), name
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=0.0 if name != "kkt_gap" else 1e-15, err_msg=name)


def test_grid_cells_keys_and_bad_values():
    g = Grid.product(beta=[4, 8.0], gamma=10, seeds=[3, 5])
    assert g.dims == ("beta", "gamma", "seed") and g.shape == (2, 1, 2) and len(g) == 4
    cells = list(g.cells())
    assert cells[0] == ({"beta": 4.0, "gamma": 10.0}, 3) and cells[-1] == ({"beta": 8.0, "gamma": 10.0}, 5)
    # 4 and 4.0 name the same cell; parameter order does not matter
    assert cell_key(*cells[0]) == cell_key({"gamma": 10.0, "beta": 4.0}, 3)
    lst = Grid.from_list([{"beta": 1, "n_memories": 4}, {"beta": 2, "n_memories": 8}], seeds=2)
    assert lst.dims == ("point", "seed") and lst.shape == (2, 2)
    for bad, msg in [(dict(gamma=[0, 10]), "gamma must be > 0"), (dict(beta=[]), "empty"),
                     (dict(beta=[-1.0]), "beta must be > 0"), (dict(n_memories=[2.5]), "positive integer"),
                     (dict(beta=[1, 1]), "repeated")]:
        with pytest.raises(ValueError, match=msg):
            Grid.product(**bad)
    with pytest.raises(ValueError, match="seeds"):
        Grid.product(beta=[1], seeds=0)
    with pytest.raises(ValueError, match="empty"):
        Grid.from_list([])


@pytest.mark.parametrize("cores, cells, workers, dask_threads, want", [
    (16, 100, None, 1, (16, 1)),  # a worker per core, one torch thread each
    (16, 4, None, 1, (4, 4)),  # few cells: fewer workers, more torch threads each
    (16, 100, None, 2, (8, 1)),
    (2, 16, None, 1, (2, 1)),
    (6, 100, 4, 1, (4, 1)),  # given workers: the cores left over, rounded down
])
def test_embedded_cluster_never_oversubscribes(cores, cells, workers, dask_threads, want):
    n, torch_threads = share_cores(cores, cells, workers, dask_threads)
    assert (n, torch_threads) == want and n * dask_threads * torch_threads <= cores


def test_bad_sweeps_fail_before_any_cluster(tmp_path):
    with pytest.raises(ValueError, match="unknown parameter 'alpha' for basins"):
        run_sweep("basins", Grid.product(alpha=[1, 2]))
    with pytest.raises(ValueError, match="unknown option 'nn'"):
        run_sweep("basins", BETA_GAMMA, options={"nn": 3})
    with pytest.raises(ValueError, match="unknown analysis"):
        run_sweep("nope", BETA_GAMMA)
    with pytest.raises(ValueError, match="n_memories"):  # planar memories are fixed
        run_sweep("basins", Grid.product(n_memories=[2, 3]))
    with pytest.raises(ValueError, match="n_workers applies to the embedded cluster"):
        run_sweep("basins", BETA_GAMMA, scheduler="loop", n_workers=2)
    with pytest.raises(ValueError, match=r"\.nc"):
        run_sweep("basins", BETA_GAMMA, out=tmp_path / "x.txt")


def test_cluster_equals_plain_loop(cluster, tmp_path):
    """The 16-point β × γ basin sweep on the 2-worker cluster (by its address) gives the loop's
    counts exactly; Theorem 1's radii on seeded random networks agree to rounding."""
    opts = {"n": 300}
    ref = run_sweep("basins", BETA_GAMMA, options=opts, scheduler="loop")
    res = run_sweep("basins", BETA_GAMMA, options=opts, scheduler=cluster,
                    out=tmp_path / "b.nc")
    assert res.ok and res.n_computed == 16 and res.dataset.sizes == {"beta": 4, "gamma": 4, "seed": 1}
    with Client(cluster) as client:  # the plugin set one torch thread per worker (1 Dask thread each)
        assert set(client.run(torch.get_num_threads).values()) == {1}
    _same(ref.dataset, res.dataset)
    _same(ref.dataset, load_result(tmp_path / "b.nc"))
    assert not store_path(tmp_path / "b.nc").exists()  # complete: no finished-cell store left behind
    # counts add up: every start ends somewhere
    d = ref.dataset
    np.testing.assert_array_equal(d.origin_count + d.memory_count + d.other_count + d.unconverged_count, d.n)
    assert int(d.origin_count.sel(beta=1.0, gamma=1e4, seed=0)) > int(d.origin_count.sel(beta=8.0, gamma=1e4, seed=0))

    grid = Grid.product(n_memories=[3, 6], gamma=[4.0, 50.0], seeds=2)
    spec = NetworkSpec("gaussian", n_features=3)
    t_opts = {"n_directions": 32, "n_random": 64, "n_adversarial": 4}
    a = run_sweep("theorem1", grid, network=spec, options=t_opts, scheduler="loop")
    b = run_sweep("theorem1", grid, network=spec, options=t_opts, scheduler=cluster)
    _same(a.dataset, b.dataset)
    # γ ≤ N_H (γ=4 with N_H=6) is the counter-example, never a pass
    assert int(a.dataset.counterexample.sel(n_memories=6, gamma=4.0).sum()) == 2


def test_worker_killed_mid_sweep_still_completes(cluster, tmp_path):
    marker = tmp_path / "killed"

    def dies_once(net, *, seed, marker):
        m = Path(marker)
        if seed == 3 and not m.exists():
            m.write_text(str(os.getpid()))
            os._exit(1)  # the worker process dies in the middle of the sweep
        return {"n_h": net.n_memories, "value": net.memory.beta * 10 + seed}

    grid = Grid.product(beta=[1.0, 2.0], seeds=6)
    res = run_sweep(dies_once, grid, options={"marker": str(marker)}, scheduler=cluster,
                    retries=1, progress=False)
    assert marker.exists(), "the worker was not killed"
    assert res.ok, res.failures
    np.testing.assert_array_equal(res.dataset.value.values, [[10, 11, 12, 13, 14, 15], [20, 21, 22, 23, 24, 25]])


def test_failed_cell_reported_with_its_parameters(cluster, tmp_path):
    def fragile(net, *, seed):
        if net.memory.beta == 2.0 and seed == 1:
            raise ValueError("bad cell\nsecond line")
        return {"x": net.memory.beta + seed}

    out = tmp_path / "f.nc"
    res = run_sweep(fragile, Grid.product(beta=[1.0, 2.0, 3.0], seeds=2), scheduler=cluster,
                    retries=0, out=out, progress=False)
    assert [(f.params, f.seed, f.error) for f in res.failures] == [({"beta": 2.0}, 1, "ValueError: bad cell")]
    assert "beta=2.0, seed=1: ValueError: bad cell" in str(res.failures[0])
    x = res.dataset.x.values
    assert np.isnan(x[1, 1]) and x[2, 1] == 4.0 and res.dataset.attrs["n_failed"] == 1
    assert json.loads(load_result(out).attrs["failed"])[0]["params"] == {"beta": 2.0}
    assert store_path(out).exists()  # kept, so that a rerun computes the failed cell only


def test_interrupt_then_resume_runs_only_missing_cells(cluster, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    state = {"calls": 0, "stop_after": 8}

    def counted(net, *, seed, runs):
        if state["stop_after"] is not None:
            if state["calls"] == state["stop_after"]:
                raise KeyboardInterrupt  # Ctrl-C in the middle of the sweep
            state["calls"] += 1
        Path(runs, f"{net.memory.beta:g}-{net.memory.gamma:g}-{seed}").touch()
        return {"v": net.memory.beta * net.memory.gamma + seed}

    out = tmp_path / "r.nc"
    grid = Grid.product(beta=[1.0, 2.0], gamma=[10.0, 20.0], seeds=4)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(counted, grid, options={"runs": str(runs)}, scheduler="loop", out=out, progress=False)
    assert not out.exists()
    first = {p.name for p in runs.iterdir()}
    assert len(first) == 8
    for p in runs.iterdir():
        p.unlink()
    state["stop_after"] = None  # the cells shipped to the workers no longer stop
    res = run_sweep(counted, grid, options={"runs": str(runs)}, scheduler=cluster, out=out,
                    progress=False)
    second = {p.name for p in runs.iterdir()}
    assert res.ok and res.n_resumed == 8 and res.n_computed == 8
    assert not first & second and len(first | second) == 16  # only the missing cells ran
    want = np.array([b * g + np.arange(4) for b in (1.0, 2.0) for g in (10.0, 20.0)]).reshape(2, 2, 4)
    np.testing.assert_array_equal(load_result(out).v.values, want)
    assert not store_path(out).exists()


def test_resume_refuses_cells_of_another_sweep(tmp_path):
    out = tmp_path / "s.nc"
    store = store_path(out)
    store.mkdir()
    (store / "settings.json").write_text(json.dumps({"analysis": "theorem1", "network": {}, "options": {}}))
    with pytest.raises(ValueError, match="different sweep"):
        run_sweep("basins", BETA_GAMMA, out=out, scheduler="loop")
    # a line cut short by a kill is ignored: that cell runs again
    res = run_sweep("basins", Grid.product(beta=[1.0], gamma=[10.0]), options={"n": 50}, out=out, scheduler="loop",
                    fresh=True, progress=False)
    assert res.ok and res.n_computed == 1


def test_loop_over_a_list_of_points_and_digits_ood(tmp_path):
    grid = Grid.from_list([{"beta": 0.5, "gamma": 5.0}, {"beta": 2.0, "gamma": 1e3}], seeds=1)
    res = run_sweep("ood", grid, network=NetworkSpec("digits", n_memories=20), options={"n_test": 60},
                    scheduler="loop", out=tmp_path / "o.nc", progress=False)
    ds = load_result(tmp_path / "o.nc")
    assert ds.sizes == {"point": 2, "seed": 1} and list(ds.beta.values) == [0.5, 2.0]
    assert res.ok and ((ds.auroc_noise >= 0) & (ds.auroc_noise <= 1)).all()
