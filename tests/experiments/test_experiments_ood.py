"""The RecLag paper's OOD experiment on the digits (hopdyn.experiments.ood) and ``hopdyn ood``
without file arguments, which runs it."""
import json

import matplotlib
import pytest
import torch

from hopdyn.cli import main
from hopdyn.experiments.ood import digits_features, digits_reclag, run_digits

matplotlib.use("Agg")


def test_digits_demo_small():
    res = run_digits(trials=1, steps=2, objectives=("mc",), reclag={"epochs": 1}, progress=False)
    rep = res.report
    assert rep.ood_sets == ["digits 6-9", "inverted", "noise", "shuffled", "rotated"]
    assert res.test_accuracy > 0.9
    s = rep.summary("fpr")
    assert set(s) == {"MSP", "Energy", "ReAct", "MHE", "SHE", "RecLag", "RecLag (untrained)", "Mahalanobis", "kNN", "GMM"}
    assert rep.references == ["RecLag (untrained)", "Mahalanobis", "kNN", "GMM"]
    assert s["RecLag"]["Average"][0] < s["MSP"]["Average"][0]
    # diagnostics of what the score is made of, and γ set on held-out data (few ID points in B0)
    det = rep.detectors["RecLag"]
    assert 0 < det.memory_movement() < 0.05 and det.n_calibration_ > 100
    assert res.evolution.b0_share["RecLag"] < 0.05 and not res.evolution.warnings
    # the paper's Fig 5: MHE's separation collapses along its dynamics, RecLag's holds
    evo = res.evolution
    assert evo.auroc["MHE"][2] < evo.auroc["MHE"][0] - 0.2 and evo.auroc["RecLag"][2] > 0.8
    from hopdyn.plots.ood import plot_metrics_over_time, plot_roc, plot_scores_over_time

    for fig in (plot_roc({k: rep.roc_curves(k) for k in rep.ood_sets[:2]}), plot_scores_over_time(evo),
                plot_metrics_over_time(evo)):
        assert fig.axes
        matplotlib.pyplot.close(fig)


def test_digits_features_leave_the_callers_random_stream_alone():
    torch.manual_seed(7)
    state = torch.random.get_rng_state()
    a = digits_features(seed=3, epochs=2)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = digits_features(seed=3, epochs=2)
    assert torch.equal(a.id_test.features, b.id_test.features)  # same seed, same shapes: bit for bit


def test_hopdyn_ood_without_files_is_run_digits(tmp_path, capsys):
    out = tmp_path / "ood.json"
    assert main(["ood", "--trials", "1", "--steps", "2", "--objective", "mc", "--epochs", "1", "--json", str(out)]) == 0
    assert "digits demo" in capsys.readouterr().out
    data = json.loads(out.read_text())
    res = run_digits(trials=1, steps=2, objectives=("mc",), reclag={"epochs": 1}, progress=False)
    assert data["report"]["fpr"] == res.report.fpr and data["classifier_accuracy"] == res.test_accuracy
    assert data["evolution"]["auroc"]["RecLag"] == pytest.approx(list(res.evolution.auroc["RecLag"]), abs=0)


def test_digits_reclag_epochs_apply_to_the_paper_setting_only():
    assert digits_reclag() == {"epochs": 10}
    assert digits_reclag({"setting": "code"}) == {"setting": "code"}
    assert digits_reclag({"epochs": 3}) == {"epochs": 3}


def test_unknown_evolution_set_is_refused():
    with pytest.raises(ValueError, match="evolution_set: unknown OOD set 'nope'"):
        run_digits(trials=1, steps=1, objectives=("mc",), reclag={"epochs": 1}, evolution_set="nope", progress=False)
