"""Feature files with dead and bad rows: all-zero rows (finite scores, reported), NaN/inf rows
(refused with file and row indices, or dropped on request), labels out of range, missing classes."""
import numpy as np
import pytest
import torch

from hopdyn.ood import MHE, MSP, SHE, Energy, FeatureSet, RecLagDetector, load_features, run_benchmark


def make_set(n=60, d=5, c=3, seed=0, shift=0.0, name="features"):
    g = np.random.default_rng(seed)
    centers = np.random.default_rng(99).uniform(0.5, 3, (c, d))
    y = g.integers(0, c, n)
    x = np.clip(centers[y] + 0.3 * g.normal(size=(n, d)) + shift, 0, None)
    return FeatureSet(x, x @ (2 * centers).T - (centers**2).sum(1), y, name)


def test_zero_rows_are_listed_and_scored_finitely():
    train = make_set(seed=0)
    ood = make_set(seed=1, shift=2.0, name="far")
    x = ood.features.clone()
    x[[4, 9]] = 0
    ood = FeatureSet(x, ood.logits, None, "far")
    assert ood.zero_rows == [4, 9] and train.zero_rows == []
    dets = [MSP(), Energy(), MHE(), SHE(), RecLagDetector("code", n_memories=3, epochs=1)]
    for det in dets:
        s = det.fit(train).score_samples(ood)
        assert torch.isfinite(s).all(), type(det).__name__


def test_zero_rows_finite_with_normalisation():
    train = make_set(seed=0)
    x = make_set(seed=1).features.clone()
    x[0] = 0
    det = RecLagDetector("paper", n_memories=4, epochs=1).fit(train)
    s = det.score_samples(FeatureSet(x))
    assert torch.isfinite(s).all()
    # a zero vector normalised is 0: its score is lse(0) = log N_H
    assert float(s[0]) == pytest.approx(np.log(4))


def test_nan_rows_refused_with_file_and_rows(tmp_path):
    g = np.random.default_rng(0)
    x = g.normal(size=(451, 4)).astype(np.float32)
    x[17, 2] = np.nan
    x[300, 0] = np.inf
    path = tmp_path / "svhn.npz"
    np.savez(path, features=x)
    with pytest.raises(ValueError, match=r"svhn\.npz.*'features' in rows 17, 300.*--drop-bad-rows"):
        load_features(path)
    fs = load_features(path, drop_bad_rows=True)
    assert len(fs) == 449 and fs.dropped_rows == (17, 300)
    assert torch.equal(fs.features[17], torch.from_numpy(x[18]))


def test_bad_logit_rows_and_many_rows_are_shortened(tmp_path):
    x = np.ones((30, 3))
    lg = np.zeros((30, 2))
    lg[3:30:2] = np.nan
    path = tmp_path / "a.npz"
    np.savez(path, features=x, logits=lg)
    with pytest.raises(ValueError, match=r"'logits' in rows 3, 5, 7, 9, 11, 13, 15, 17, \.\.\. \(first 8 of 14\)"):
        load_features(path, "--ood a")
    assert load_features(path, drop_bad_rows=True).dropped_rows == tuple(range(3, 30, 2))
    np.savez(path, features=np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="every one of the 2 rows"):
        load_features(path, drop_bad_rows=True)
    with pytest.raises(ValueError, match=r"NaN or inf in 1 of 2 rows \(rows 1\)"):
        FeatureSet(np.array([[1.0, 2.0], [np.nan, 0.0]]))


@pytest.mark.parametrize("labels, message", [
    ([0, 1, 2, 3], r"label 3 has no logit \(C = 3 .*rows 3\)"),
    ([0, -1, 2, -5], r"1?2 rows are negative \(rows 1, 3\)"),
])
def test_labels_out_of_range_name_rows(labels, message):
    with pytest.raises(ValueError, match=message):
        FeatureSet(np.ones((4, 2)), np.zeros((4, 3)), labels, "x")


def test_missing_class_skips_per_class_methods_only():
    train = make_set(n=90, seed=0)
    keep = train.labels != 2  # class 2 of the 3 logit columns has no training sample
    train = train.subset(keep)
    res = run_benchmark(train, make_set(seed=1), {"far": make_set(seed=2, shift=2.0)}, trials=1, steps=0,
                        objectives=("mc",), reclag=dict(n_memories=4, epochs=1), progress=False)
    assert {"MHE", "SHE"} <= set(res.report.skipped) and "class(es) 2 " in res.report.skipped["MHE"]
    assert {"MSP", "Energy", "ReAct", "RecLag"} <= set(res.report.methods)
    assert any("skipped MHE" in n for n in res.notes)


def test_nonfinite_scores_name_method_set_and_rows():
    from hopdyn.ood.benchmark import _Recorder

    class Bad(MSP):
        def _score(self, data):
            s = super()._score(data)
            s[[1, 5]] = float("nan")
            return s

    ood = make_set(seed=1)
    rec = _Recorder({"Bad": lambda seed: Bad()}, {id(ood): "far"})
    det = rec.get("Bad", 0).fit(make_set())
    with pytest.raises(ValueError, match=r"Bad: non-finite scores on far in 2 of 60 rows \(rows 1, 5\)"):
        det.score_samples(ood)
