"""``hopdyn ood`` on users' feature files (hopdyn.ood.run_benchmark), bad input (one line, exit 2)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from hopdyn.cli import main
from hopdyn.ood import FeatureSet, evaluate_detectors, trimmed
from hopdyn.ood.evaluate import default_detectors

FAST = ["--trials", "3", "--epochs", "2", "--n-memories", "8", "--steps", "2"]


def write_sets(tmp_path, d=6, c=3, seed=0):
    g = np.random.default_rng(seed)
    centers = g.uniform(0, 3, (c, d))
    paths = {}
    for name, n, shift in (("train", 120, 0.0), ("test", 50, 0.0), ("far", 40, 3.0), ("near", 40, 0.8)):
        y = g.integers(0, c, n)
        x = np.clip(centers[y] + 0.4 * g.normal(size=(n, d)) + shift, 0, None)
        paths[name] = tmp_path / f"{name}.npz"
        FeatureSet(x.astype(np.float32), x @ (2 * centers).T - (centers**2).sum(1), y).save(paths[name])
    return paths


def ood_args(p, *extra):
    return ["ood", "--id-train", str(p["train"]), "--id-test", str(p["test"]), "--ood", f"far={p['far']}",
            "--ood", f"near={p['near']}", *FAST, *extra]


def test_user_features_json_and_markdown(tmp_path, capsys):
    p = write_sets(tmp_path)
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    assert main(ood_args(p, "--json", str(out), "--markdown", str(md), "--objective", "mc")) == 0
    text = capsys.readouterr().out
    assert "FPR95 (%)" in text and "AUROC (%)" in text and "ID is the positive class" in text
    rep = json.loads(out.read_text())["report"]
    assert rep["methods"] == ["MSP", "Energy", "ReAct", "MHE", "SHE", "RecLag", "RecLag (untrained)", "Mahalanobis",
                              "kNN", "GMM"]
    assert rep["references"] == ["RecLag (untrained)", "Mahalanobis", "kNN", "GMM"]
    assert set(rep["diagnostics"]["RecLag"]) >= {"memory_movement", "beta_scale", "b0_share"}
    assert "(reference)" in md.read_text() and "RecLag diagnostics" in md.read_text()
    assert len(rep["fpr"]["RecLag"]["far"]) == 3 and len(rep["fpr"]["MSP"]["far"]) == 1
    assert rep["positive"] == "id" and set(rep["objectives"]["RecLag"]) == {"nll", "mc_loss"}
    assert all(0.0 <= v <= 1.0 for m in rep["fpr"].values() for vs in m.values() for v in vs)
    assert "Time evolution on 'far'" in md.read_text()


def test_features_only_skips_logit_methods_and_ood_positive(tmp_path, capsys):
    p = write_sets(tmp_path)
    for k in ("train", "test", "far", "near"):
        with np.load(p[k]) as z:
            np.savez(p[k], features=z["features"])
    out = tmp_path / "r.json"
    assert main(ood_args(p, "--json", str(out), "--positive", "ood", "--objective", "exact")) == 0
    rep = json.loads(out.read_text())["report"]
    # without labels and logits: the RecLag row and the label-free references (Mahalanobis needs labels)
    assert rep["methods"] == ["RecLag (exact)", "RecLag (untrained)", "kNN", "GMM"]
    assert "needs 'logits'" in rep["skipped"]["MSP"] and "Mahalanobis" in rep["skipped"]
    assert "OOD is the positive class" in rep["convention"]


@pytest.mark.parametrize("change, message", [
    (lambda z: z.pop("features"), "has no 'features' array"),
    (lambda z: z.update(features=z["features"][:, :4]), "features have 4 columns"),
    (lambda z: z.update(features=np.where(z["features"] > 2, np.nan, z["features"])), "NaN"),
    (lambda z: z.update(logits=z["logits"][:-1]), "logits must have shape"),
    (lambda z: z.update(labels=np.zeros_like(z["labels"])), "single class"),
    (lambda z: z.update(logits=z["logits"][:, :1]), "C >= 2"),
])
def test_bad_feature_files_exit_2_with_one_line(tmp_path, capsys, change, message):
    p = write_sets(tmp_path)
    target = "test" if "columns" in message else "train"
    with np.load(p[target]) as z:
        arrays = dict(z)
    change(arrays)
    np.savez(p[target], **arrays)
    assert main(ood_args(p)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


@pytest.mark.parametrize("args, message", [
    (["ood", "--id-train", "a.npz"], "give --id-train, --id-test and at least one --ood"),
    (["ood", "--id-train", "nope.npz", "--id-test", "b.npz", "--ood", "x=c.npz"], "no such file"),
])
def test_bad_arguments_exit_2(tmp_path, capsys, args, message):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_bad_ood_spec_through_the_real_command(tmp_path):
    p = write_sets(tmp_path)
    r = subprocess.run([sys.executable, "-m", "hopdyn", "ood", "--id-train", str(p["train"]), "--id-test",
                        str(p["test"]), "--ood", str(p["far"])], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip() == f"hopdyn ood: error: --ood: expected NAME=FILE.npz, got '{p['far']}'"


def test_trimmed_and_trials(tmp_path):
    assert trimmed([5.0, 1.0, 3.0, 100.0]) == (4.0, pytest.approx(np.sqrt(2.0)))
    assert trimmed([2.0]) == (2.0, 0.0)
    p = write_sets(tmp_path)
    from hopdyn.ood import load_features

    sets = {k: load_features(v) for k, v in p.items()}
    dets = default_detectors({"RecLag": dict(n_memories=5, epochs=1)})
    rep = evaluate_detectors(sets["train"], sets["test"], {"far": sets["far"]}, dets, trials=4, progress=False)
    assert len(rep.fpr["RecLag"]["far"]) == 4 and len(rep.fit_seconds["RecLag"]) == 4
    assert "4 trials" in rep.markdown()
    with pytest.raises(ValueError, match="unknown OOD set"):
        rep.roc_curves("nope")
    with pytest.raises(ValueError, match="at least one OOD set"):
        evaluate_detectors(sets["train"], sets["test"], {}, dets)
    with pytest.raises(ValueError, match="labels must have shape"):
        FeatureSet(np.ones((3, 2)), labels=[0, 1])
