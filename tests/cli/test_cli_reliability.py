"""Issue 12, reliability of the command line: no overwriting of files hopdyn did not write, no
half precision, output paths checked before computing, bad files as one-line errors (exit 2),
clean interrupts (exit 130, no temporary files) and ``hopdyn bench`` failing on a missed target."""
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from hopdyn.cli import main

REPO = Path(__file__).resolve().parents[2]


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# -- 1. figures never overwrite a file hopdyn did not write ------------------------------------------

def test_figures_refuses_empty_out(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "README.md").write_text("# my project\n")
    assert main(["figures", "--out", "", "--only", "theorem2_sweep"]) == 2
    assert "--out" in one_error_line(capsys)
    assert (tmp_path / "README.md").read_text() == "# my project\n"
    assert sorted(os.listdir(tmp_path)) == ["README.md"]


def test_figures_refuses_a_foreign_readme(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "README.md").write_text("# my project\n")
    assert main(["figures", "--out", ".", "--only", "theorem2_sweep"]) == 2
    line = one_error_line(capsys)
    assert "README.md" in line and "not written by hopdyn" in line and "--out" in line
    assert (tmp_path / "README.md").read_text() == "# my project\n"
    assert sorted(os.listdir(tmp_path)) == ["README.md"]


def test_figures_refuses_a_foreign_figure_file(capsys, tmp_path):
    (tmp_path / "theorem2_sweep.png").write_bytes(b"my own picture")
    assert main(["figures", "--out", str(tmp_path), "--only", "theorem2_sweep"]) == 2
    assert "theorem2_sweep.png" in one_error_line(capsys)
    assert (tmp_path / "theorem2_sweep.png").read_bytes() == b"my own picture"


def test_figures_accepts_its_own_folders(tmp_path, capsys):
    from hopdyn.cli.figures import check_ownership
    from hopdyn.figures import load_all

    # the committed figures/README.md is hopdyn's, and lists every committed figure file
    check_ownership(REPO / "figures", list(load_all().values()))
    # a folder hopdyn wrote can be written again
    for _ in range(2):
        assert main(["figures", "--out", str(tmp_path), "--only", "theorem2_sweep"]) == 0
    assert (tmp_path / "theorem2_sweep.png").stat().st_size > 0
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


# -- 2. half precision is refused ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_refused(dtype):
    from hopdyn._validate import as_tensor
    from hopdyn.core.network import MHN

    with pytest.raises(ValueError, match="float16/bfloat16 are not supported: use float32 or float64"):
        as_tensor(torch.ones(3, 2, dtype=dtype), "x")
    with pytest.raises(ValueError, match="float16/bfloat16 are not supported"):
        MHN(torch.eye(2, dtype=dtype))


def test_half_precision_xi_file_exit_2(tmp_path, capsys):
    np.save(tmp_path / "half.npy", np.eye(3, dtype=np.float16))
    assert main(["simulate", "--xi", str(tmp_path / "half.npy"), "--n-points", "1"]) == 2
    assert "float16/bfloat16 are not supported" in one_error_line(capsys)


# -- 3. output paths are checked before computing, and the error names the flag --------------------

def _bad_paths(tmp_path):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    return {"under_a_file": str(tmp_path / "afile" / "x.json"), "a_folder": str(tmp_path / "adir")}


@pytest.mark.parametrize("where", ["under_a_file", "a_folder"])
@pytest.mark.parametrize(
    "command, flag, extra",
    [
        ("verify", "--json", []),
        ("simulate", "--json", []),
        ("ood", "--markdown", []),
        ("continual", "--json", []),
    ],
)
def test_output_paths_checked_first(tmp_path, capsys, monkeypatch, command, flag, extra, where):
    import importlib

    mod = importlib.import_module(f"hopdyn.cli.{command}")

    def must_not_run(args):
        raise AssertionError("the command computed before its output path was checked")

    monkeypatch.setattr(mod, "run", must_not_run)
    path = _bad_paths(tmp_path)[where]
    assert main([command, flag, path, *extra]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"hopdyn {command}: error: {flag} {path}: cannot write there ("), line
    assert ".json-" not in line and "/." not in line  # no temporary file named


def test_figures_out_under_a_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["figures", "--out", str(tmp_path / "afile" / "sub"), "--only", "theorem2_sweep"]) == 2
    line = one_error_line(capsys)
    assert "--out" in line and "cannot write there" in line


# -- 4. bad input files: exit 2 with one line -------------------------------------------------------

def _write_bad(tmp_path, kind) -> str:
    p = tmp_path / {"zero_bytes": "x.npy", "strings": "x.npy", "corrupt_pt": "x.pt", "all_zero": "x.npy",
                    "bool": "x.npy"}[kind]
    if kind == "zero_bytes":
        p.write_bytes(b"")
    elif kind == "strings":
        np.save(p, np.array([["a", "b"], ["c", "d"]]))
    elif kind == "corrupt_pt":
        p.write_bytes(b"PK\x03\x04 this is not a torch file")
    elif kind == "all_zero":
        np.save(p, np.zeros((3, 2)))
    elif kind == "bool":
        np.save(p, np.ones((3, 2), dtype=bool))
    return str(p)


@pytest.mark.parametrize("kind, message", [
    ("zero_bytes", "not a readable .npy"), ("strings", "real numbers"), ("corrupt_pt", "not a readable .pt"),
    ("all_zero", "all zeros"), ("bool", "real numbers"),
])
@pytest.mark.parametrize("command", [["simulate", "--n-points", "1"], ["verify", "--gamma", "50"]])
def test_bad_xi_files_exit_2(tmp_path, capsys, kind, message, command):
    path = _write_bad(tmp_path, kind)
    assert main([*command, "--xi", path]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"hopdyn {command[0]}: error: --xi") and message in line, line


def test_zero_v0_is_still_a_valid_state(tmp_path):
    from hopdyn.cli._common import load_xi

    np.save(tmp_path / "v0.npy", np.zeros(3))
    assert load_xi(str(tmp_path / "v0.npy")).shape == (3,)


@pytest.mark.parametrize("bad", ["npy", "empty", "strings"])
def test_bad_ood_feature_files_exit_2(tmp_path, capsys, bad):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "a.npz", features=rng.normal(size=(20, 3)))
    target = tmp_path / f"c.{'npy' if bad == 'npy' else 'npz'}"
    if bad == "npy":
        np.save(target, rng.normal(size=(20, 3)))
    elif bad == "empty":
        target.write_bytes(b"")
    else:
        np.savez(target, features=np.array([["a"] * 3] * 20))
    a = str(tmp_path / "a.npz")
    assert main(["ood", "--id-train", a, "--id-test", a, "--ood", f"far={target}", "--trials", "1"]) == 2
    line = one_error_line(capsys)
    assert line.startswith("hopdyn ood: error: --ood far:"), line


# -- 5. interrupts: one line, exit 130, no temporary files ------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_is_clean(sig):
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen([sys.executable, "-m", "hopdyn", "figures", "--out", d],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            t0 = time.time()
            # wait until a figure is being saved (a temporary file beside its target), then interrupt
            while time.time() - t0 < 120 and proc.poll() is None:
                if any(n.startswith(".") for n in os.listdir(d)):
                    break
                time.sleep(0.02)
            assert any(n.startswith(".") for n in os.listdir(d)), "no figure was being saved"
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        lines = err.decode().strip().split("\n")  # the progress bar redraws with \r on one line
        assert proc.returncode == 130, err.decode()[-2000:]
        assert len(lines) <= 2 and lines[-1] == "hopdyn figures: interrupted", err.decode()[-2000:]
        assert [n for n in os.listdir(d) if n.startswith(".")] == []


# -- 6. hopdyn bench exits 1 when a target is missed ---------------------------------------------------

@pytest.mark.parametrize("ok", [False, True])
def test_bench_missed_target_exits_1(tmp_path, capsys, monkeypatch, ok):
    import json

    import hopdyn.bench
    import hopdyn.cli.bench as cli_bench

    def fake(quick):
        """A stand-in benchmark."""

    monkeypatch.setattr(hopdyn.bench, "load_all", lambda: {"fake": fake})
    monkeypatch.setattr(cli_bench, "_run_one",
                        lambda name, quick: {"ratio": 1.7, "target": "ratio <= 1.2", "ok": ok, "t_ours": 0.5})
    out = tmp_path / "bench.json"
    assert main(["bench", "--json", str(out)]) == (0 if ok else 1)
    captured = capsys.readouterr()
    assert "fake" in captured.out and "1.7" in captured.out
    report = json.loads(out.read_text())
    assert report["results"]["fake"]["ok"] is ok
    if not ok:
        assert "MISSED: fake: target ratio <= 1.2 not met" in captured.out
        assert "missed" in captured.err and "fake" in captured.err
