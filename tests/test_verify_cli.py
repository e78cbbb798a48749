"""``hopdyn verify``: the default suite, a user's network, exit codes, JSON, one-line errors."""
import json

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
    expected_fail = [r for r in report["rows"] if not r["expected_holds"]]
    assert len(expected_fail) >= 4 and all(not r["holds"] for r in expected_fail)
    t1 = report["rows"][0]["report"]
    assert {"eps_paper", "eps_cs", "r_star", "holds"} <= set(t1)


def test_user_network_json_has_theorem_objects(tmp_path, capsys):
    g = torch.Generator().manual_seed(0)
    np.save(tmp_path / "xi.npy", torch.randn(20, 5, generator=g, dtype=torch.float64).numpy())
    out = tmp_path / "r.json"
    assert main(["verify", "--xi", str(tmp_path / "xi.npy"), "--beta", "2", "--gamma", "60", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for k in ("theorem1", "theorem2", "theorem3"):
        assert report[k]["holds"] is True
    t1 = report["theorem1"]
    assert t1["eps_paper"] < t1["eps_cs"] < t1["r_star"]
    assert {"gamma_star", "gammas", "sup_distance"} <= set(report["theorem2"])
    assert {"log_Z", "delta", "memories"} <= set(report["theorem3"])
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
        (["verify", "--xi", "xi.npy", "--gamma", "3"], "Theorem 1 needs gamma > N_H"),
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
