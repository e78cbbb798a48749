"""The continual-learning paper's experiments (hopdyn.experiments.continual), their command, their
figures."""
import json

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
               "--k", "4", "--total-mass", "4", "--json", str(out)])
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
