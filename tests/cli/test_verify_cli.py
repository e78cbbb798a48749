"""``hopdyn verify``: the default suite, a user's network, exit codes, JSON, one-line errors."""
import json
import math

import numpy as np
import pytest
import torch

from hopdyn import theorems
from hopdyn.cli import main


def test_default_suite_quick(tmp_path, capsys):
    out = tmp_path / "verify.json"
    assert main(["verify", "--quick", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "UNEXPECTED" not in text and "claims behaved as expected" in text
    assert "r*/eps=" in text and "r*/eps_CS=" in text and "basin of 0" in text
    assert "warning (norm-0.5 planar" in text and "swallows 5 of 5" in text
    report = json.loads(out.read_text())
    assert report["ok"] and all(r["ok"] for r in report["rows"])
    assert report["n_untested"] == 0 and report["n_errors"] == 0
    assert all(r["result"] == "ok" and r["verdict"] in ("holds", "fails") for r in report["rows"])
    expected_fail = [r for r in report["rows"] if not r["expected_holds"]]
    assert len(expected_fail) >= 4 and all(not r["holds"] for r in expected_fail)
    t1 = report["rows"][0]["report"]
    assert {"eps_paper", "eps_cs", "r_star", "holds"} <= set(t1)


def test_user_network_json_has_theorem_objects(tmp_path, capsys):
    g = torch.Generator().manual_seed(0)
    np.save(tmp_path / "xi.npy", torch.randn(20, 5, generator=g, dtype=torch.float64).numpy())
    out = tmp_path / "r.json"
    # R = 0.6 (r* = 0.44) puts uniform samples in B0; with the default R = 1.5 max|xi[mu]| = 6.1
    # none of them does in 5-D, and the points placed on the surface of B0 test the claim
    args = ["verify", "--xi", str(tmp_path / "xi.npy"), "--beta", "2", "--gamma", "60"]
    assert main([*args, "--radius", "0.6", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for k in ("theorem1", "theorem2", "theorem3"):
        assert report[k]["holds"] is True
    t1 = report["theorem1"]
    assert t1["eps_paper"] < t1["eps_cs"] < t1["r_star"]
    assert {"gamma_star", "gammas", "sup_distance"} <= set(report["theorem2"])
    assert {"log_Z", "delta", "memories", "verdict", "quad_agrees"} <= set(report["theorem3"])
    assert report["theorem3"]["verdict"] == "holds" and report["theorem3"]["n_b0"] > 0
    # the default R: holds, tested on the points near the surface of B0
    assert main([*args, "--theorem", "3", "--json", str(out)]) == 0
    t3 = json.loads(out.read_text())["theorem3"]
    assert t3["verdict"] == "holds" and t3["n_disagree"] == 0 and t3["n_tested_b0"] > 0
    assert t3["n_b0"] == 0 and t3["n_boundary_b0"] > 0 and t3["n_boundary_outside_b0"] > 0
    # only Theorem 2: no gamma needed
    assert main(["verify", "--xi", str(tmp_path / "xi.npy"), "--theorem", "2"]) == 0


def test_exit_1_when_a_claim_fails(tmp_path, monkeypatch, capsys):
    np.save(tmp_path / "xi.npy", np.eye(3))
    real = theorems.check_theorem1

    def broken(*args, **kwargs):
        r = real(*args, **kwargs)
        return type(r)(**{**r.__dict__, "holds": False})

    monkeypatch.setattr(theorems, "check_theorem1", broken)
    assert main(["verify", "--xi", str(tmp_path / "xi.npy"), "--gamma", "10", "--theorem", "1"]) == 1
    assert "UNEXPECTED" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["verify", "--xi", "xi.npy"], "--gamma is required"),
        (["verify", "--xi", "missing.npy", "--gamma", "30"], "no such file"),
        (["verify", "--xi", "nan.npy", "--gamma", "30"], "--xi contains NaN"),
        (["verify", "--beta", "0"], "--beta must be"),
        (["verify", "--xi", "xi.npy", "--gamma", "30", "--radius", "-1"], "--radius must be"),
        (["verify", "--xi", "xi.npy", "--gamma", "30", "--v0", "xi.npy"], "--v0 must hold one state"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "xi.npy", np.eye(3))
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan], [0.0, 1.0]]))
    assert main([*args, "--json", "out.json"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "out.json").exists()


def test_bad_option_is_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["verify", "--theorem", "4"])
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "invalid choice" in lines[0]


def _spec_xi(tmp_path):
    g = torch.Generator().manual_seed(0)
    np.save(tmp_path / "xi.npy", torch.randn(20, 5, generator=g, dtype=torch.float64).numpy())
    return str(tmp_path / "xi.npy")


def test_gamma_le_n_h_runs_the_counter_example_and_exits_1(tmp_path, capsys):
    """A check that ran and failed (exit 1, with its JSON), not bad input (exit 2)."""
    np.save(tmp_path / "xi.npy", np.eye(3))
    out = tmp_path / "r.json"
    assert main(["verify", "--xi", str(tmp_path / "xi.npy"), "--gamma", "3", "--json", str(out)]) == 1
    text = capsys.readouterr().out
    assert "counter-example" in text and "Theorem 1 needs gamma > N_H" in text
    t1 = json.loads(out.read_text())["theorem1"]
    assert t1["holds"] is False and t1["counterexample"] is True and t1["origin_fixed"] is False
    assert t1["eps_paper"] == t1["eps_cs"] == t1["r_star"] == 0.0
    assert t1["step_at_origin"] == pytest.approx([1 / 3] * 3, abs=1e-15)


def test_theorem3_at_large_beta_holds_on_the_surface_of_b0(tmp_path, capsys):
    """β = 1000: no uniform sample lies in B0 (radius ~1e-3); before the targeted samples the row
    was untested (and before that UNEXPECTED: the quadrature disagreed at 1e-8)."""
    out = tmp_path / "r.json"
    args = ["verify", "--xi", _spec_xi(tmp_path), "--beta", "1000", "--gamma", "60", "--theorem", "3"]
    assert main([*args, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "UNEXPECTED" not in text and "untested" not in text and "near the B0 surface" in text
    report = json.loads(out.read_text())
    assert report["ok"] and report["n_untested"] == 0
    assert report["rows"][0]["verdict"] == "holds" and report["rows"][0]["result"] == "ok"
    t3 = report["theorem3"]
    assert t3["verdict"] == "holds" and t3["holds"] is True and t3["quad_agrees"] is True
    assert t3["n_b0"] == 0 and t3["n_boundary_b0"] > 0 and t3["n_disagree"] == 0


def test_theorem3_untested_is_said_plainly_and_exits_0(tmp_path, capsys):
    """γ = 10 < N_H = 20: the gate is open at 0, no sampled point lies in B0 (here it is empty)."""
    out = tmp_path / "r.json"
    args = ["verify", "--xi", _spec_xi(tmp_path), "--beta", "2", "--gamma", "10", "--theorem", "3"]
    assert main([*args, "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "UNEXPECTED" not in text and "untested" in text and "no sampled point lies in B0" in text
    assert "1 untested" in text
    report = json.loads(out.read_text())
    assert report["ok"] and report["n_untested"] == 1
    assert report["rows"][0]["verdict"] == "untested" and report["rows"][0]["result"] == "untested"
    t3 = report["theorem3"]
    assert t3["verdict"] == "untested" and t3["holds"] is False and t3["quad_agrees"] is True


def test_huge_beta_runs_every_theorem(tmp_path, capsys):
    """β = 1e6: log γ* ≈ 8e6 (γ* = inf) no longer aborts the run."""
    out = tmp_path / "r.json"
    code = main(["verify", "--xi", _spec_xi(tmp_path), "--beta", "1e6", "--gamma", "60", "--json", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["theorem1"]["holds"] is True and report["theorem2"]["holds"] is True
    assert report["theorem2"]["log_gamma_star"] > 1e6 and report["theorem2"]["gamma_star"] in ("inf", math.inf)
    assert report["theorem3"]["verdict"] == "holds" and report["theorem3"]["n_boundary_b0"] > 0
    assert "log gamma*=" in capsys.readouterr().out


def test_a_check_that_raises_is_an_error_row_and_the_others_run(tmp_path, monkeypatch, capsys):
    def overflow(*args, **kwargs):
        raise OverflowError("math range error")

    monkeypatch.setattr(theorems, "check_theorem2", overflow)
    out = tmp_path / "r.json"
    args = ["verify", "--xi", _spec_xi(tmp_path), "--beta", "2", "--gamma", "60", "--radius", "0.6"]
    assert main([*args, "--json", str(out)]) == 1
    text = capsys.readouterr().out
    assert "OverflowError: math range error" in text and "the other claims ran" in text and "1 raised an error" in text
    report = json.loads(out.read_text())
    assert not report["ok"] and report["n_errors"] == 1
    assert report["theorem1"]["holds"] is True and report["theorem3"]["holds"] is True
    assert report["theorem2"] == {"verdict": "error", "error": "OverflowError: math range error"}
    assert [r["result"] for r in report["rows"]] == ["ok", "ERROR", "ok"]
