"""Reference baselines (Mahalanobis, kNN, GMM) against direct scikit-learn / NumPy computations."""
import numpy as np
import pytest
from scipy.stats import chi2
from sklearn.mixture import GaussianMixture

from hopdyn.ood import GMM, KNN, REFERENCES, FeatureSet, Mahalanobis, evaluate_detectors, fpr_at_tpr
from hopdyn.ood.evaluate import default_detectors


@pytest.fixture(scope="module")
def data():
    g = np.random.default_rng(0)
    centers = g.normal(0, 3, (3, 4))
    y = g.integers(0, 3, 300)
    x = centers[y] + g.normal(size=(300, 4)) @ np.diag([1.0, 0.5, 2.0, 1.0])
    return x, y, g.normal(0, 4, (40, 4))


def test_mahalanobis_direct(data):
    x, y, xt = data
    means = np.stack([x[y == c].mean(0) for c in range(3)])
    r = x - means[y]
    prec = np.linalg.inv(r.T @ r / len(x))
    expect = -np.min([np.einsum("nd,de,ne->n", xt - m, prec, xt - m) for m in means], axis=0)
    det = Mahalanobis().fit(x, y)
    np.testing.assert_allclose(det.score_samples(xt), expect, rtol=1e-9)
    with pytest.raises(ValueError, match="needs labels"):
        Mahalanobis().fit(x)


def test_knn_direct(data):
    x, _, xt = data
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    tn = xt / np.linalg.norm(xt, axis=1, keepdims=True)
    d = np.linalg.norm(tn[:, None] - xn[None], axis=-1)
    np.testing.assert_allclose(KNN().fit(x).score_samples(xt), -np.sort(d, 1)[:, 49], rtol=1e-9)
    np.testing.assert_allclose(KNN(k=5).fit(x).score_samples(xt), -np.sort(d, 1)[:, 4], rtol=1e-9)
    assert KNN().fit(x[:20]).k_ == 20  # capped at the training set


def test_gmm_direct(data):
    x, _, xt = data
    ref = GaussianMixture(4, reg_covar=1e-4, random_state=2).fit(x)
    np.testing.assert_allclose(GMM(4, seed=2).fit(x).score_samples(xt), ref.score_samples(xt), rtol=1e-12)


def test_gmm_approaches_the_bayes_optimal_fpr95():
    """ID ~ N(0, I), OOD ~ N(0, 4 I) in 2-D: the likelihood ratio is monotone in ‖x‖, so the ID
    density is Bayes-optimal; FPR95 = P(χ²₂ ≤ χ²₂(0.95) / 4)."""
    g = np.random.default_rng(0)
    train, test, ood = g.normal(size=(3000, 2)), g.normal(size=(20000, 2)), 2 * g.normal(size=(20000, 2))
    bayes = chi2.cdf(chi2.ppf(0.95, 2) / 4, 2)
    fpr = fpr_at_tpr(GMM().fit(train).score_samples(test), GMM().fit(train).score_samples(ood))
    assert bayes == pytest.approx(0.527, abs=1e-3)
    assert abs(fpr - bayes) < 0.03


def test_reference_rows_in_the_report(data):
    x, y, xt = data
    means = np.stack([x[y == c].mean(0) for c in range(3)])
    head = lambda v: 2 * v @ means.T - (means**2).sum(1)
    train = FeatureSet(x, head(x), y, "train")
    test = FeatureSet(x[:60] + 0.1, head(x[:60] + 0.1), name="test")
    far = FeatureSet(xt, head(xt), name="far")
    dets = default_detectors({"RecLag": dict(n_memories=8, epochs=1)}, references=True)
    assert set(REFERENCES) <= set(dets) and "RecLag (untrained)" in dets
    rep = evaluate_detectors(train, test, {"far": far}, dets, trials=1, progress=False)
    assert rep.references == ["RecLag (untrained)", "Mahalanobis", "kNN", "GMM"]
    assert "Mahalanobis (reference)" in rep.markdown()
    assert rep._detectors["RecLag (untrained)"].memory_movement() == 0.0
    diag = rep.diagnostics["RecLag"]
    assert set(diag) == {"memory_movement", "beta_scale", "b0_share", "b0_risk"}
    assert diag["memory_movement"][0] > 0 and diag["beta_scale"][0] > 1
    assert "RecLag diagnostics" in rep.markdown()
    # without labels Mahalanobis is skipped with the reason
    rep = evaluate_detectors(FeatureSet(x), FeatureSet(x[:60]), {"far": FeatureSet(xt)},
                             {"Mahalanobis": REFERENCES["Mahalanobis"], "kNN": REFERENCES["kNN"]}, trials=1,
                             progress=False)
    assert rep.methods == ["kNN"] and "needs 'labels'" in rep.skipped["Mahalanobis"]
