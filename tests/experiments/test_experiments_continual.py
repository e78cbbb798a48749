"""The continual-learning paper's experiments (hopdyn.experiments.continual), their command, their
figures."""
import json

import numpy as np
import pytest
import torch

from hopdyn.cli import main
from hopdyn.experiments import continual as ex


# -- experiments ---------------------------------------------------------------------------------
def test_tractable_experiment_small():
    r = ex.tractable_experiment(0.05, n_rotations=300, n_boot=500)
    assert r.delta_outlier.shape == (300,) and r.delta_cluster.shape == (300,)
    assert r.energy_outlier > r.energy_cluster  # the outlier is the high-energy sample
    assert r.closed_form_max_error < 1e-12
    assert r.difference.low <= r.difference.mean <= r.difference.high
    # the ordering holds on average but not in every rotation (the spread the toolkit must show)
    assert r.difference.mean > 0 and 0.5 < r.frac_outlier_loses_more < 0.9
    assert set(r.gains) == {name for name, *_ in ex.GAIN_PAIRS}
    assert r.gains["outlier -> outlier"].mean > r.gains["cluster -> itself"].mean


def test_digits_experiment_small():
    res = ex.digits_experiment(per_class=12, k=5, total_mass=5.0, n_rotations=2, n_random=3)
    assert [r.change for r in res] == ["replace", "rotate"]
    for r in res:
        assert r.n_old == 60 and r.delta.shape == (60,) and torch.all(r.delta > 0)
        assert [p.policy for p in r.policies] == ["top", "random", "bottom"]
        assert all(0 <= p.restored <= 1 for p in r.policies)
    with pytest.raises(ValueError, match="changes must be"):
        ex.digits_experiment(("shuffle",))


# -- command line and drawing --------------------------------------------------------------------
def test_cli_continual_writes_json(tmp_path, capsys):
    out = tmp_path / "c.json"
    rc = main(["continual", "--eps", "0.05", "--rotations", "100", "--bootstrap", "200", "--digits-per-class", "10",
               "--k", "4", "--total-mass", "4", "--no-training", "--no-replay", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "outlier loses more" in text and "Digits" in text
    data = json.loads(out.read_text())
    assert data["tractable"][0]["eps"] == 0.05 and len(data["tractable"][0]["delta_outlier"]) == 100
    assert data["digits"][0]["policies"][0]["policy"] == "top"


@pytest.mark.parametrize("argv, msg", [
    (["--rotations", "0"], "n must be"),
    (["--eps", "-1"], "eps must be"),
    (["--no-digits", "--rotations", "10", "--bootstrap", "10", "--replay-mass", "0"], "replay_mass"),
])
def test_cli_continual_bad_input_exits_2(argv, msg, capsys):
    assert main(["continual", *argv]) == 2
    err = capsys.readouterr().err
    assert "hopdyn continual: error:" in err and msg in err


def test_plots_draw(tmp_path):
    from hopdyn.plots.continual import forgetting_figure, replay_figure

    results = [ex.tractable_experiment(eps, n_rotations=40, n_boot=50) for eps in (0.02, 0.05)]
    digits = ex.digits_experiment(per_class=8, k=3, total_mass=3.0, n_rotations=2, n_random=2)
    for fig in (forgetting_figure(results), replay_figure(digits)):
        assert len(fig.axes) >= 3
        fig.savefig(tmp_path / "f.png")


def test_digits_tasks_are_centred_unit_digits_split_by_class():
    a, b = ex.digits_tasks(per_class=5)
    assert a.shape == (25, 64) and b.shape == (25, 64) and a.dtype == torch.float64
    torch.testing.assert_close(a.norm(dim=1), torch.ones(25, dtype=torch.float64))
    with pytest.raises(ValueError, match="disjoint"):
        ex.digits_tasks((0, 1), (1, 2))


# -- forgetting by training ----------------------------------------------------------------------
TINY = dict(n_memories=6, steps=6, lr=0.05, record_every=3, seeds=(0, 1), n_boot=100)


def _tiny_tasks():
    return ex.builtin_tasks("wine", per_class=12)


def test_builtin_task_sequences():
    d = ex.builtin_tasks("digits", per_class=4)
    assert d.names == ["labels 0,1", "labels 2,3", "labels 4,5", "labels 6,7", "labels 8,9"]
    assert [t.shape for t in d.tasks] == [(8, 64)] * 5
    w, b = ex.builtin_tasks("wine"), ex.builtin_tasks("breast_cancer")
    assert len(w.tasks) == 3 and len(b.tasks) == 2 and w.tasks[0].shape[1] == 13
    torch.testing.assert_close(b.tasks[1].norm(dim=1), torch.ones(b.tasks[1].shape[0], dtype=torch.float64))
    with pytest.raises(ValueError, match="data must be one of"):
        ex.builtin_tasks("iris")


def test_training_experiment_small():
    tasks = _tiny_tasks()
    r = ex.training_experiment(tasks, beta=10.0, **TINY)
    n_rec = 3 * 3  # per task: steps 0, 3, 6
    assert r.energy.shape == (2, n_rec, 3) and r.error.shape == (2, n_rec, 3)
    assert r.steps.tolist() == [0, 3, 6, 6, 9, 12, 12, 15, 18]
    assert r.task_of_record.tolist() == [0] * 3 + [1] * 3 + [2] * 3
    assert r.rho_tracks.shape == (2, 2) and r.example_delta_energy.shape == (12,)
    # training on task 1 raises the energy and the reconstruction error of task 0 (forgetting)
    assert r.mean_delta_energy[:, 0].min() > 0 and r.mean_delta_error[:, 0].min() > 0
    assert r.energy[0, 5, 0] > r.energy[0, 2, 0]
    assert [v.claim for v in r.verdicts] == ["high-energy (outlier-like) samples forget more",
                                            "energy increase tracks reconstruction forgetting"]
    assert "hopdyn's choice" in r.provenance


def test_replay_sweep_small_and_its_reference():
    tasks = _tiny_tasks()
    kw = dict(TINY, record_every=None)
    kw.pop("record_every")
    r = ex.replay_sweep(tasks, beta=10.0, policies=("energy_top", "random"), ks=(3,), masses=(1.0,), **kw)
    assert r.restored_energy.shape == (2, 2, 1, 1) and len(r.cells) == 2
    assert [v.claim.split(" (")[0] for v in r.verdicts] == ["energy top-K replay restores more than random"] * 2 + [
        "replay helps high-energy samples more than low-energy ones"]
    # the restored fraction of seed 0, energy top-K, recomputed by hand from fit_task
    from hopdyn.continual import choose_replay, fit_task
    from hopdyn.stats import generator

    g = generator(0, "continual-training")
    mem = ex._initial_memory(tasks, 6, 10.0, None, g)
    ex._corruptions(tasks, "noise", 0.5, g)
    fit = dict(steps=6, lr=0.05, objective="nll", learn_mass=False)
    mem = fit_task(mem, tasks.tasks[0], generator=g, **fit)
    e0 = mem.network().energy(tasks.tasks[0]).detach()
    base = fit_task(mem, tasks.tasks[1], generator=g, **fit).network().energy(tasks.tasks[0]).detach() - e0
    idx = choose_replay("energy_top", 3, tasks.tasks[0], energy=e0)
    rep = fit_task(mem, tasks.tasks[1], generator=g, replay=tasks.tasks[0][idx], **fit)
    expected = 1 - (rep.network().energy(tasks.tasks[0]).detach() - e0).mean() / base.mean()
    assert abs(float(r.restored_energy[0, 0, 0, 0]) - float(expected)) < 1e-12
    with pytest.raises(ValueError, match="exceeds"):
        ex.replay_sweep(tasks, ks=(99,), **kw)


def test_verdicts():
    from hopdyn.stats import Interval

    pos = ex.verdict("c", "s", torch.tensor([0.5, 0.6, 0.7, 0.55]), n_boot=200)
    neg = ex.verdict("c", "s", torch.tensor([-0.5, -0.6, -0.7]), n_boot=200)
    mixed = ex.verdict("c", "s", torch.tensor([-0.5, 0.6, -0.1, 0.3]), n_boot=200)
    one = ex.verdict("c", "s", torch.tensor([0.5, float("nan")]), n_boot=200)
    assert pos.verdict == "HOLDS" and neg.verdict.startswith("DOES NOT HOLD")
    assert mixed.verdict.startswith("NOT SHOWN") and one.verdict.startswith("NOT SHOWN (one") and one.n_seeds == 1
    assert "over 4 seeds" in pos.line
    assert ex.interval_verdict("c", "s", Interval(1.0, 0.5, 1.5), 10, "rotations").line.endswith("10 rotations")


def test_tasks_from_files(tmp_path):
    g = np.random.default_rng(0)
    x, y = g.normal(size=(30, 5)), np.repeat([0, 1, 2], 10)
    np.savez(tmp_path / "l.npz", x=x, labels=y)
    np.save(tmp_path / "u.npy", x)
    t = ex.tasks_from_file(str(tmp_path / "l.npz"))
    assert t.names == ["label 0", "label 1", "label 2"] and torch.equal(t.tasks[1], torch.from_numpy(x[10:20]))
    t = ex.tasks_from_file(str(tmp_path / "l.npz"), groups=[(0, 2), (1,)])
    assert [len(a) for a in t.tasks] == [20, 10]
    t = ex.tasks_from_file(str(tmp_path / "u.npy"), n_tasks=3, normalize=True)
    assert len(t.tasks) == 3 and t.names[0] == "rows 0-9"
    torch.testing.assert_close(t.tasks[0].norm(dim=1), torch.ones(10, dtype=torch.float64))


def _bad_files(tmp_path):
    x = np.ones((6, 3))
    nan = x.copy()
    nan[1, 1] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "one.npy", np.ones(4))
    np.savez(tmp_path / "nokey.npz", foo=x)
    np.savez(tmp_path / "badlab.npz", x=x, labels=np.arange(2))
    (tmp_path / "junk.npy").write_text("junk")
    np.save(tmp_path / "mem.npy", np.ones((2, 4)))
    np.save(tmp_path / "ok.npy", np.arange(18.0).reshape(6, 3))
    return tmp_path


@pytest.mark.parametrize("argv, msg", [
    (["--data", "{d}/nan.npy"], "--data: {d}/nan.npy contains NaN or inf"),
    (["--data", "{d}/one.npy"], "must hold a 2-D array"),
    (["--data", "{d}/nokey.npz"], "has none of the keys"),
    (["--data", "{d}/badlab.npz"], "labels in"),
    (["--data", "{d}/junk.npy"], "is not a readable .npy file"),
    (["--data", "{d}/missing.npy"], "--data: no such file"),
    (["--data", "{d}/ok.npy", "--memories", "{d}/mem.npy"], "--memories has 4 features but --data has 3"),
    (["--data", "digits", "--memories", "{d}/nan.npy"], "--memories: {d}/nan.npy contains NaN or inf"),
    (["--data", "nonsense"], "expected one of digits"),
    (["--data", "{d}/ok.npy", "--tasks", "0;1"], "--tasks needs labels"),
    (["--data", "wine", "--replay-k", "500"], "--replay-k 500 exceeds"),
    (["--data", "wine", "--n-memories", "500"], "--n-memories 500 exceeds"),
    (["--seeds", "0"], "--seeds must be"),
])
def test_cli_continual_bad_files_exit_2(tmp_path, capsys, argv, msg):
    d = _bad_files(tmp_path)
    argv = [a.format(d=d) for a in argv]
    assert main(["continual", "--no-tractable", "--no-digits", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hopdyn continual: error:") and msg.format(d=d) in err[0], err


def test_cli_continual_on_user_files_with_figures(tmp_path, capsys):
    from sklearn.datasets import load_wine

    x, y = load_wine(return_X_y=True)
    keep = np.concatenate([np.nonzero(y == c)[0][:12] for c in range(3)])
    np.savez(tmp_path / "w.npz", x=x[keep], labels=y[keep])
    np.save(tmp_path / "m.npy", ex.unit_rows(torch.from_numpy(x[keep]))[:5].numpy())
    out, js = tmp_path / "figs", tmp_path / "r.json"
    rc = main(["continual", "--no-tractable", "--no-digits", "--data", str(tmp_path / "w.npz"), "--normalize",
               "--memories", str(tmp_path / "m.npy"), "--seeds", "2", "--steps", "4", "--train-beta", "10",
               "--learn-mass", "yes", "--replay-k", "3", "--replay-masses", "1", "--policies", "random", "herding",
               "--bootstrap", "50", "--out", str(out), "--json", str(js)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "Forgetting by training: w.npz, 3 tasks" in text and "provenance:" in text
    assert "energy increase tracks reconstruction forgetting" in text and "replay helps high-energy" in text
    assert sorted(p.name for p in out.iterdir()) == ["continual_replay_sweep.pdf", "continual_replay_sweep.png",
                                                     "continual_training.pdf", "continual_training.png"]
    data = json.loads(js.read_text())
    assert data["training"][0]["learn_mass"] is True and data["training"][0]["n_memories"] == 5
    assert data["replay"]["policies"] == ["random", "herding"] and "hopdyn's choice" in data["provenance"]


def test_diffusion_experiment_small_and_cli(capsys):
    tasks = ex.builtin_tasks("digits", per_class=8)
    r = ex.diffusion_experiment(tasks, steps=20, n_samples=16, seeds=(0, 1), n_boot=50)
    assert r.rho_tracks.shape == (2,) and r.example_delta_energy.shape == (16,)
    assert [v.claim for v in r.verdicts] == ["diffusion: Hopfield energy increase tracks reconstruction forgetting",
                                            "diffusion: high-energy samples forget more"]
    assert main(["continual", "--no-tractable", "--no-digits", "--no-training", "--no-replay", "--diffusion",
                 "--diffusion-steps", "5", "--per-class", "6", "--seeds", "2", "--bootstrap", "50"]) == 0
    assert "Generative check: tiny DDPM" in capsys.readouterr().out
