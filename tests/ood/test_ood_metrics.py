"""OOD metrics against scikit-learn: ROC points, FPR at a TPR, AUROC, ties, both conventions."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from sklearn.metrics import roc_auc_score, roc_curve

import hopdyn as hd
from hopdyn.ood import evaluate
from hopdyn.ood import roc_curve as our_roc


def sklearn_fpr(id_s, ood_s, tpr=0.95, positive="id"):
    """FPR at the first threshold whose TPR reaches ``tpr``, from sklearn's ROC curve."""
    y = np.r_[np.ones(len(id_s)), np.zeros(len(ood_s))]
    s = np.r_[id_s, ood_s]
    if positive == "ood":
        y, s = 1 - y, -s
    fpr, t, _ = roc_curve(y, s, drop_intermediate=False)
    return fpr[np.searchsorted(t, tpr, side="left")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=30), st.lists(st.integers(0, 6), min_size=1, max_size=30),
       st.sampled_from([0.5, 0.9, 0.95, 1.0]), st.sampled_from(["id", "ood"]))
def test_against_sklearn_with_ties(id_s, ood_s, tpr, positive):
    id_s, ood_s = np.array(id_s, float), np.array(ood_s, float)
    assert hd.ood.fpr_at_tpr(id_s, ood_s, tpr, positive=positive) == sklearn_fpr(id_s, ood_s, tpr, positive)
    y = np.r_[np.ones(len(id_s)), np.zeros(len(ood_s))]
    assert hd.ood.auroc(id_s, ood_s) == pytest.approx(roc_auc_score(y, np.r_[id_s, ood_s]), abs=1e-12)
    c = our_roc(id_s, ood_s, positive)
    y2, s2 = (y, np.r_[id_s, ood_s]) if positive == "id" else (1 - y, -np.r_[id_s, ood_s])
    fpr, tpr_sk, thr = roc_curve(y2, s2, drop_intermediate=False)
    np.testing.assert_array_equal(c.fpr, fpr)
    np.testing.assert_array_equal(c.tpr, tpr_sk)
    np.testing.assert_array_equal(c.threshold[1:], thr[1:])


def test_continuous_scores_match_sklearn(rng):
    id_s, ood_s = rng.normal(1, 1, 3000), rng.normal(0, 1.5, 2000)
    for positive in ("id", "ood"):
        assert hd.ood.fpr_at_tpr(id_s, ood_s, positive=positive) == sklearn_fpr(id_s, ood_s, 0.95, positive)


def test_asymmetric_example_from_spec():
    """ID ~ N(2, 1), OOD ~ N(0, 2): FPR95 is 0.43 with ID positive, 0.90 with OOD positive."""
    g = np.random.default_rng(1)
    id_s, ood_s = g.normal(2, 1, 200_000), g.normal(0, 2, 200_000)
    z = norm.ppf(0.95)
    expect_id = norm.sf((2 - z) / 2)  # OOD above the ID 5 % quantile
    expect_ood = norm.cdf(2 * z - 2)  # ID below the OOD 95 % quantile
    assert expect_id == pytest.approx(0.43, abs=0.01) and expect_ood == pytest.approx(0.90, abs=0.01)
    assert hd.ood.fpr_at_tpr(id_s, ood_s) == pytest.approx(expect_id, abs=0.005)
    assert hd.ood.fpr_at_tpr(id_s, ood_s, positive="ood") == pytest.approx(expect_ood, abs=0.005)
    m = evaluate(id_s, ood_s, positive="ood")
    assert "OOD is the positive class" in m.convention and m.auroc == pytest.approx(hd.ood.auroc(id_s, ood_s))


def test_ties_are_one_threshold():
    # TPR 1 is reached only at the tied score 1, which also accepts the OOD sample scored 1
    assert hd.ood.fpr_at_tpr([1, 1, 1, 1], [1, 0], tpr=0.95) == 0.5
    assert hd.ood.auroc([1, 1], [1, 1]) == 0.5
    assert hd.ood.fpr_at_tpr([2, 3], [0, 1]) == 0.0 and hd.ood.auroc([2, 3], [0, 1]) == 1.0


def test_accepts_tensors_and_float32():
    a, b = torch.tensor([3.0, 2.0, 1.0]), torch.tensor([0.5, 1.5], dtype=torch.float64)
    assert hd.ood.auroc(a, b) == pytest.approx(5 / 6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(id_scores=[], ood_scores=[1.0]), "id_scores is empty"),
    (dict(id_scores=[1.0, np.nan], ood_scores=[1.0]), "NaN"),
    (dict(id_scores=[[1.0, 2.0]], ood_scores=[1.0]), "1-D"),
    (dict(id_scores=[1.0], ood_scores=[0.0], tpr=0.0), "tpr"),
    (dict(id_scores=[1.0], ood_scores=[0.0], positive="OOD!"), "positive"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hd.ood.fpr_at_tpr(**kwargs)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=30), st.lists(st.integers(0, 6), min_size=1, max_size=30),
       st.sampled_from(["id", "ood"]))
def test_aupr_against_sklearn_with_ties(id_s, ood_s, positive):
    from sklearn.metrics import average_precision_score

    from hopdyn.ood.metrics import aupr

    id_s, ood_s = np.array(id_s, float), np.array(ood_s, float)
    y, s = np.r_[np.ones(len(id_s)), np.zeros(len(ood_s))], np.r_[id_s, ood_s]
    if positive == "ood":
        y, s = 1 - y, -s
    assert aupr(id_s, ood_s, positive=positive) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_aupr_continuous_and_chance():
    from sklearn.metrics import average_precision_score

    from hopdyn.ood.metrics import aupr

    g = np.random.default_rng(3)
    a, b = g.normal(1, 1, 200), g.normal(0, 2, 300)
    assert aupr(a, b) == pytest.approx(average_precision_score(np.r_[np.ones(200), np.zeros(300)], np.r_[a, b]))
    assert aupr(np.ones(10), np.ones(30)) == pytest.approx(0.25)  # all tied: the fraction of positives
