"""``hopdyn ood`` on users' files: --out (figures, scores.npz, settings), per-set skips, bad and
dead rows, warnings, --device, AUPR and the classifier accuracy in the report."""
import json

import numpy as np
import pytest
import torch

from hopdyn.cli import main

FAST = ["--trials", "2", "--epochs", "1", "--n-memories", "4", "--steps", "1", "--objective", "mc"]


def write_sets(tmp_path, d=5, c=3, seed=0, far_shift=3.0):
    g = np.random.default_rng(seed)
    centers = g.uniform(0, 3, (c, d))
    paths = {}
    for name, n, shift in (("train", 90, 0.0), ("test", 40, 0.0), ("far", 30, far_shift), ("near", 30, 0.8)):
        y = g.integers(0, c, n)
        x = np.clip(centers[y] + 0.4 * g.normal(size=(n, d)) + shift, 0, None).astype(np.float32)
        paths[name] = tmp_path / f"{name}.npz"
        np.savez(paths[name], features=x, logits=x @ (2 * centers).T - (centers**2).sum(1), labels=y)
    return paths


def args(p, *extra, sets=("far", "near")):
    return ["ood", "--id-train", str(p["train"]), "--id-test", str(p["test"]),
            *(a for s in sets for a in ("--ood", f"{s}={p[s]}")), *FAST, *extra]


def edit(path, **changes):
    with np.load(path) as z:
        arrays = dict(z)
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v(arrays[k]) if callable(v) else v
    np.savez(path, **arrays)


def test_out_writes_figures_scores_and_settings(tmp_path, capsys):
    p = write_sets(tmp_path)
    out = tmp_path / "res"
    assert main(args(p, "--out", str(out), "--json", str(tmp_path / "r.json"))) == 0
    text = capsys.readouterr().out
    assert "AUPR-ID (%)" in text and "classifier accuracy on ID test features" in text
    for f in ("ood_roc.png", "ood_scores_over_time.png", "ood_metrics_over_time.png", "scores.npz", "report.json"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
        assert f"wrote {out / f}" in text
    with np.load(out / "scores.npz") as z:
        assert {"MSP/id_test", "MSP/far", "MSP/near", "RecLag/far"} <= set(z.files)
        assert z["MSP/id_test"].shape == (40,) and z["RecLag/near"].shape == (30,)
    rep = json.loads((out / "report.json").read_text())
    assert rep == json.loads((tmp_path / "r.json").read_text())
    s = rep["settings"]
    assert s["seeds"] == [0, 1] and s["hopdyn_version"] and s["device"] == "cpu"
    assert s["reclag"]["RecLag"]["N_H"] == 4 and s["reclag"]["RecLag"]["beta"] == 5.0
    assert s["reclag"]["RecLag"]["epochs"] == 1 and "gamma_quantile" in s["reclag"]["RecLag"]
    assert s["inputs"]["ood far"]["rows"] == 30 and s["inputs"]["id_train"]["bytes"] > 0
    assert 0.0 <= rep["classifier_accuracy"] <= 1.0
    assert len(rep["aupr"]["RecLag"]["far"]) == 2 and 0 <= rep["aupr"]["MSP"]["near"][0] <= 1
    assert isinstance(rep["warnings"], list)


def test_out_is_checked_before_computing(tmp_path, capsys):
    p = write_sets(tmp_path)
    (tmp_path / "file").write_text("x")
    assert main(args(p, "--out", str(tmp_path / "file"))) == 2
    assert "--out" in capsys.readouterr().err


def test_logits_missing_in_one_ood_file_skip_only_there(tmp_path, capsys):
    p = write_sets(tmp_path)
    edit(p["near"], logits=None)
    js = tmp_path / "r.json"
    assert main(args(p, "--json", str(js))) == 0
    text = capsys.readouterr().out
    rep = json.loads(js.read_text())["report"]
    assert "MSP" in rep["methods"] and isinstance(rep["fpr"]["MSP"]["far"][0], float)
    assert rep["fpr"]["MSP"]["near"] == ["nan"] and isinstance(rep["fpr"]["RecLag"]["near"][0], float)
    for m in ("MSP", "Energy", "ReAct", "MHE", "SHE"):
        assert f"note: skipped {m} on 'near': needs 'logits' (missing in --ood near)" in text
    assert "RecLag on 'near'" not in text  # the paper's RecLag needs no logits


def test_all_zero_rows_in_an_ood_set(tmp_path, capsys):
    p = write_sets(tmp_path)
    edit(p["far"], features=lambda x: np.where(np.isin(np.arange(len(x)), [2, 11])[:, None], 0, x))
    out = tmp_path / "res"
    assert main(args(p, "--setting", "code", "--out", str(out))) == 0
    text = capsys.readouterr().out
    assert "note: --ood far: 2 of 30 feature rows are all zero (rows 2, 11)" in text
    with np.load(out / "scores.npz") as z:
        assert all(np.isfinite(z[k]).all() for k in z.files)


def test_nan_rows_rejected_or_dropped(tmp_path, capsys):
    p = write_sets(tmp_path)
    edit(p["near"], features=lambda x: np.where(np.isin(np.arange(len(x)), [4, 20])[:, None], np.nan, x))
    assert main(args(p)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--ood near" in err and "near.npz" in err and "rows 4, 20" in err, err
    assert main(args(p, "--drop-bad-rows", "--steps", "0")) == 0
    assert "note: --ood near: dropped 2 rows with NaN or inf (rows 4, 20)" in capsys.readouterr().out


def test_worse_than_chance_and_fragile_setting_warnings(tmp_path, capsys):
    p = write_sets(tmp_path, far_shift=3.0)  # larger norms: raw-feature scores rank 'far' above ID
    js = tmp_path / "r.json"
    assert main(args(p, "--setting", "code", "--json", str(js), "--steps", "0")) == 0
    text = capsys.readouterr().out
    w = json.loads(js.read_text())["warnings"]
    assert any("AUROC" in x and "< 50 %" in x and "'far'" in x for x in w)
    assert any("not normalised" in x for x in w)
    assert all(f"warning: {x}" in text for x in w)


def test_npy_as_ood_is_one_line(tmp_path, capsys):
    p = write_sets(tmp_path)
    np.save(tmp_path / "x.npy", np.ones((3, 5)))
    assert main(args(p, sets=()) + ["--ood", f"x={tmp_path / 'x.npy'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "single .npy array, not an .npz archive" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is missing")
def test_device_cuda_without_cuda_is_one_line(tmp_path, capsys):
    p = write_sets(tmp_path)
    assert main(args(p, "--device", "cuda")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--device cuda: CUDA is not available" in err


def test_saved_detector_reloads_to_identical_scores(tmp_path, capsys):
    p = write_sets(tmp_path)
    det = tmp_path / "det.pt"
    assert main(args(p, "--save-detector", str(det), "--out", str(tmp_path / "a"))) == 0
    assert f"wrote {det}" in capsys.readouterr().out
    assert main(args(p, "--load-detector", str(det), "--out", str(tmp_path / "b"), "--json", str(tmp_path / "b.json")))\
        == 0
    text = capsys.readouterr().out
    assert "RecLag (loaded)" in text
    with np.load(tmp_path / "a" / "scores.npz") as a, np.load(tmp_path / "b" / "scores.npz") as b:
        assert not [k for k in b.files if k.startswith("RecLag/")]  # nothing was trained
        for s in ("id_test", "far", "near"):
            np.testing.assert_allclose(b[f"RecLag (loaded)/{s}"], a[f"RecLag/{s}"], rtol=1e-12, atol=0)
    rep = json.loads((tmp_path / "b.json").read_text())
    assert rep["settings"]["prefitted"] == ["RecLag (loaded)"] and rep["settings"]["inputs"]["detector"] == str(det)
    assert "RecLag (loaded)" in rep["evolution"]["fpr"]  # it has dynamics, so it joins the time evolution


def test_gamma_options(tmp_path, capsys):
    p = write_sets(tmp_path)
    assert main(args(p, "--gamma", "2.5", "--json", str(tmp_path / "g.json"))) == 0
    s = json.loads((tmp_path / "g.json").read_text())["settings"]["reclag"]["RecLag"]
    assert s["log_gamma_first_trial"] == [pytest.approx(np.log(2.5))] * 1
    capsys.readouterr()
    assert main(args(p, "--calibration", "0.5", "--gamma-quantile", "0.04", "--json", str(tmp_path / "c.json"))) == 0
    s = json.loads((tmp_path / "c.json").read_text())["settings"]["reclag"]["RecLag"]
    assert s["gamma_quantile"] == 0.04


@pytest.mark.parametrize("extra, message", [
    (("--gamma", "0"), "gamma must be"),
    (("--calibration", "1.5"), "calibration must be in [0, 1)"),
    (("--load-detector", "/nonexistent/det.pt"), "no such detector file"),
])
def test_bad_detector_options_fail_in_one_line(tmp_path, capsys, extra, message):
    assert main(args(write_sets(tmp_path), *extra)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_gamma_and_gamma_quantile_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:  # argparse's own check, before anything runs
        main(args(write_sets(tmp_path), "--gamma", "2", "--gamma-quantile", "0.1"))
    assert exc.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_loaded_detector_is_checked_against_the_features(tmp_path, capsys):
    p = write_sets(tmp_path)
    det = tmp_path / "det.pt"
    assert main(args(p, "--save-detector", str(det))) == 0
    capsys.readouterr()
    assert main(args(p, "--load-detector", str(det), "--save-detector", str(tmp_path / "again.pt"))) == 2
    assert "nothing is trained" in capsys.readouterr().err
    (tmp_path / "six").mkdir()
    assert main(args(write_sets(tmp_path / "six", d=6), "--load-detector", str(det))) == 2
    assert "fitted on 5-d features, these are 6-d" in capsys.readouterr().err
