"""The command line: exit codes, one-line errors, JSON output, nothing half-written."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from hopdyn.cli import main


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hopdyn", *args], capture_output=True, text=True, cwd=cwd)


def test_simulate_default_runs_and_writes_json(tmp_path, capsys):
    out = tmp_path / "sim.json"
    assert main(["simulate", "--n-points", "6", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "vanilla" in text and "reclag" in text and "agreement" in text
    report = json.loads(out.read_text())
    for name in ("vanilla", "reclag"):
        r = report[name]
        assert r["agreement"] == 1.0
        assert r["max_energy_increase_integrate"] <= 1e-9
        assert len(r["trajectories"]) == 6
        assert all(t["energy_drop_integrate"] >= -1e-12 for t in r["trajectories"])
    labels = {t["integrate_end_label"] for t in report["reclag"]["trajectories"]}
    assert labels <= {"origin"} | {f"memory {k}" for k in range(5)}


def test_simulate_user_network(tmp_path, capsys):
    xi = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, -3.0]])
    np.save(tmp_path / "xi.npy", xi)
    assert main(["simulate", "--xi", str(tmp_path / "xi.npy"), "--n-points", "3", "--gamma", "10"]) == 0
    assert "N_V = 3" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["simulate", "--xi", "missing.npy"], "no such file"),
        (["simulate", "--gamma", "-1"], "gamma must be a finite number > 0"),
        (["simulate", "--beta", "0"], "beta must be a finite number > 0"),
        (["simulate", "--n-points", "0"], "--n-points"),
        (["simulate", "--steps"], "unrecognized arguments"),
        (["bench", "--only", "nope"], "unknown benchmark"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    res = run_cli(*args, cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert message in lines[0]


def test_bad_xi_file(tmp_path):
    np.save(tmp_path / "bad.npy", np.array([[1.0, np.nan]]))
    res = run_cli("simulate", "--xi", "bad.npy", cwd=tmp_path)
    assert res.returncode == 2 and "NaN" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    (tmp_path / "vec.npy").write_bytes(b"not numpy")
    res = run_cli("simulate", "--xi", "vec.npy", cwd=tmp_path)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1


def test_failed_run_leaves_no_json(tmp_path):
    out = tmp_path / "out.json"
    res = run_cli("simulate", "--gamma", "0", "--json", str(out), cwd=tmp_path)
    assert res.returncode == 2
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("cmd", __import__("hopdyn.cli", fromlist=["COMMANDS"]).COMMANDS)
def test_help_for_every_command(cmd, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([cmd, "--help"])
    assert exit_info.value.code == 0 and "usage" in capsys.readouterr().out


def test_bench_list():
    res = run_cli("bench", "--list")
    assert res.returncode == 0 and "step_throughput" in res.stdout


@pytest.mark.parametrize("argv", [["mha", "vit"], ["ahop", "tabular"]])
def test_bad_device_is_one_line(argv, capsys):
    assert main([*argv, "--device", "bogus"]) == 2
    assert "--device: unknown device 'bogus'" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main([*argv, "--device", "cuda"]) == 2
        assert "CUDA is not available on this machine" in capsys.readouterr().err
