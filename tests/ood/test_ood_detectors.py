"""Each detector against a direct formula on tiny data; the dynamics of the memory detectors."""
import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp, softmax

import hopdyn as hd
from hopdyn.ood import MHE, MSP, SHE, Energy, FeatureSet, ReAct, RecLagDetector, score_evolution, train_sfnn


def toy(n=60, d=5, c=3, seed=0, shift=0.0):
    """ReLU-like features in c clusters and an affine head."""
    g = np.random.default_rng(seed)
    centers = g.uniform(0, 3, (c, d))
    y = g.integers(0, c, n)
    x = np.clip(centers[y] + 0.5 * g.normal(size=(n, d)) + shift, 0, None)
    w, b = 2 * centers, -(centers**2).sum(1)  # nearest-centre classifier, affine in x
    return x, x @ w.T + b, y, (w, b)


@pytest.fixture(scope="module")
def data():
    x, lg, y, head = toy()
    xt, lgt, _, _ = toy(n=25, seed=1)
    return x, lg, y, head, xt, lgt


def test_msp_and_energy(data):
    *_, xt, lgt = data
    np.testing.assert_allclose(MSP().fit(xt, logits=lgt).score_samples(xt, lgt), softmax(lgt, 1).max(1),
                               rtol=1e-12)
    e = Energy(temperature=2.0).fit(xt, logits=lgt)
    np.testing.assert_allclose(e.score_samples(xt, lgt), 2.0 * logsumexp(lgt / 2.0, 1), rtol=1e-12)


def test_react_recovers_the_head_and_clips(data):
    x, lg, y, (w, b), xt, lgt = data
    det = ReAct(percentile=80).fit(x, logits=lg)
    c = np.percentile(x.ravel(), 80)
    assert det.clip_ == pytest.approx(c)
    np.testing.assert_allclose(det.weight_.numpy(), w, atol=1e-8)
    expect = logsumexp(np.minimum(xt, c) @ w.T + b, 1)
    np.testing.assert_allclose(det.score_samples(xt, lgt), expect, rtol=1e-9)
    given = ReAct(percentile=80, head=(w, b)).fit(x, logits=lg)
    np.testing.assert_allclose(given.score_samples(xt, lgt), expect, rtol=1e-12)
    with pytest.raises(ValueError, match="not an affine function"):
        ReAct().fit(x, logits=np.tanh(lg))
    # a dead unit (a zero column) makes the least-squares problem rank-deficient
    dead, dead_t = x.copy(), xt.copy()
    dead[:, 2] = dead_t[:, 2] = 0.0
    fitted = ReAct(percentile=80).fit(dead, logits=dead @ w.T + b)
    expect = logsumexp(np.minimum(dead_t, fitted.clip_) @ w.T + b, 1)
    np.testing.assert_allclose(fitted.score_samples(dead_t, dead_t @ w.T + b), expect, rtol=1e-9)


def stored(x, lg, y):
    pred = lg.argmax(1)
    return [x[(pred == y) & (y == c)] for c in range(lg.shape[1])]


def test_mhe_and_she_direct_formula(data):
    x, lg, y, _, xt, lgt = data
    s = stored(x, lg, y)
    pred = lgt.argmax(1)
    mhe = MHE(beta=0.3).fit(x, y, lg)
    she = SHE().fit(x, y, lg)
    expect_mhe = [logsumexp(0.3 * s[c] @ v) for v, c in zip(xt, pred)]
    expect_she = [v @ s[c].mean(0) for v, c in zip(xt, pred)]
    np.testing.assert_allclose(mhe.score_samples(xt, lgt), expect_mhe, rtol=1e-12)
    np.testing.assert_allclose(she.score_samples(xt, lgt), expect_she, rtol=1e-12)
    # one step of the MHE network is the Ramsauer update with the stored features of the class
    k1 = mhe.evolve(xt, lgt, steps=1)[1]
    v1 = [softmax(0.3 * s[c] @ v) @ s[c] for v, c in zip(xt, pred)]
    np.testing.assert_allclose(k1, [logsumexp(0.3 * s[c] @ v) for v, c in zip(v1, pred)], rtol=1e-10)


def test_reclag_global_and_classwise_scores(data):
    x, lg, y, _, xt, lgt = data
    det = RecLagDetector(n_memories=7, epochs=2, progress=False).fit(x)
    xi = det.model_.xi[0].numpy()
    vt = 10 * xt / np.linalg.norm(xt, axis=1, keepdims=True)
    np.testing.assert_allclose(det.score_samples(xt), logsumexp(5.0 * vt @ xi.T, 1), rtol=1e-12)
    cw = RecLagDetector("code", epochs=2, progress=False).fit(x, y, lg)
    assert cw.classwise and cw.normalize is None and cw.model_.xi.shape == (3, 10, 5)
    pred = lgt.argmax(1)
    expect = [logsumexp(5.0 * cw.model_.xi[c].numpy() @ v) for v, c in zip(xt, pred)]
    np.testing.assert_allclose(cw.score_samples(xt, lgt), expect, rtol=1e-12)
    # G = score − log γ (eq 13): the gate of the detector's network agrees
    net = det.network()
    np.testing.assert_allclose(net.gate_value(torch.as_tensor(vt)).numpy(),
                               det.score_samples(xt) - det.log_gamma_[0], atol=1e-9)


def test_reclag_from_a_trained_model_and_its_dynamics(data):
    x, lg, y, _, xt, lgt = data
    model = train_sfnn(x, n_memories=8, epochs=2, progress=False)
    det = RecLagDetector.from_model(model).fit(x)
    assert det.model_ is model
    far = FeatureSet(np.full((4, 5), 0.01) + np.eye(4, 5) * 50, name="far")  # normalised onto 4 axes
    path = det.evolve(far, steps=3).numpy()
    np.testing.assert_allclose(path[0], det.score_samples(far).numpy())
    gate0 = det.network().gate_value(torch.as_tensor(10 * far.features / far.features.norm(dim=1, keepdim=True)))
    closed = (gate0 < 0).numpy()
    # Theorem 1: states whose gate is closed go to the origin in one step, where the score is log N_H
    np.testing.assert_allclose(path[1:, closed], math.log(8), rtol=1e-12)
    # raw features: log γ beyond float range for γ itself still gives the same gate
    det.log_gamma_ = [800.0]
    v = torch.as_tensor(far.features)
    gate = det.network().gate_value(v)
    np.testing.assert_allclose(gate.numpy(), torch.logsumexp(det.beta * v @ det.memories_[0].T, -1).numpy() - 800.0)
    assert "log_gamma=800.0" in repr(det.network().memory)


@pytest.mark.filterwarnings("ignore::hopdyn.ood.B0Warning")  # toy test data of other centres
def test_score_evolution_matches_per_step_metrics(data):
    x, lg, y, _, xt, lgt = data
    xo, lgo, _, _ = toy(n=30, seed=2, shift=2.0)
    dets = {"MHE": MHE(0.2).fit(x, y, lg), "RecLag": RecLagDetector(n_memories=6, epochs=1, progress=False).fit(x)}
    evo = score_evolution(dets, FeatureSet(xt, lgt), FeatureSet(xo, lgo, name="shifted"), steps=3)
    assert evo.id_scores["MHE"].shape == (4, 25) and evo.ood_scores["RecLag"].shape == (4, 30)
    for m in evo.methods:
        np.testing.assert_allclose(evo.id_scores[m][0], dets[m].score_samples(xt, lgt))
        for k in range(4):
            assert evo.fpr[m][k] == hd.ood.fpr_at_tpr(evo.id_scores[m][k], evo.ood_scores[m][k])
            assert evo.auroc[m][k] == hd.ood.auroc(evo.id_scores[m][k], evo.ood_scores[m][k])
    assert evo.ood_name == "shifted" and "ID is the positive class" in evo.convention
    with pytest.raises(ValueError, match="no dynamics"):
        score_evolution({"MSP": MSP().fit(xt, logits=lgt)}, FeatureSet(xt, lgt), FeatureSet(xo, lgo))


def test_bad_input(data):
    x, lg, y, _, xt, lgt = data
    with pytest.raises(ValueError, match="not fitted"):
        MSP().score_samples(xt, lgt)
    with pytest.raises(ValueError, match="needs the classifier's logits"):
        MSP().fit(xt, logits=lgt).score_samples(xt)
    with pytest.raises(ValueError, match="5 columns"):
        SHE().fit(x, y, lg).score_samples(xt[:, :4], lgt)
    with pytest.raises(ValueError, match="needs labels and logits"):
        MHE().fit(x, logits=lg)
    with pytest.raises(ValueError, match="single class"):
        MHE().fit(x, np.zeros(len(x), int), lg)
    with pytest.raises(ValueError, match="NaN"):
        RecLagDetector(epochs=1).fit(np.where(x > 2, np.nan, x))
    with pytest.raises(ValueError, match="setting"):
        RecLagDetector("cifar")
    with pytest.raises(ValueError, match="percentile"):
        ReAct(percentile=0)


def test_score_is_beta_times_the_vanilla_lagrangian_and_the_gate_plus_log_gamma(data):
    from hopdyn.ood.detectors import score_lse

    x, lg, y, _, xt, lgt = data
    h = torch.as_tensor(xt) @ torch.as_tensor(x[:7]).T
    torch.testing.assert_close(score_lse(h, 0.3), 0.3 * hd.LogSumExp(0.3)(h))
    torch.testing.assert_close(score_lse(h, 0.3), torch.logsumexp(0.3 * h, -1))
    cw = RecLagDetector("code", n_memories=4, epochs=1, progress=False).fit(x, y, lg)
    pred = torch.as_tensor(lgt).argmax(1)
    s = cw.score_samples(torch.as_tensor(xt), torch.as_tensor(lgt))
    for c in range(3):  # class-wise: each class's network gate is its score less its own log γ
        rows = pred == c
        if bool(rows.any()):
            g = cw.network(c).gate_value(torch.as_tensor(xt)[rows])
            torch.testing.assert_close(g, s[rows] - cw.log_gamma_[c], rtol=0, atol=1e-9)


def test_sklearn_clone_params_and_predict(data):
    from sklearn.base import clone

    from hopdyn.ood import GMM, KNN, Mahalanobis

    x, lg, y, head, xt, lgt = data
    dets = [MSP(), Energy(2.0), ReAct(80.0, head=head), MHE(0.3), SHE(0.3), Mahalanobis(), KNN(k=7),
            GMM(3, seed=1), RecLagDetector("code", n_memories=4, epochs=1, gamma_quantile=0.1, progress=False),
            RecLagDetector(n_memories=6, epochs=1, gamma=2.0, progress=False)]
    for det in dets:
        twin = clone(det)
        assert type(twin) is type(det) and repr(twin.get_params()) == repr(det.get_params())
        a = det.fit(x, y, lg).score_samples(xt, lgt)
        b = twin.fit(x, y, lg).score_samples(xt, lgt)
        assert isinstance(a, np.ndarray) and a.shape == (25,)
        np.testing.assert_array_equal(a, b)  # same parameters, same seed: same scores
        t = np.median(a)
        p = det.predict(xt, t, lgt)
        assert isinstance(p, np.ndarray) and p.dtype == np.int64
        np.testing.assert_array_equal(p, (a >= t).astype(int))
        tp = det.predict(torch.as_tensor(xt), t, torch.as_tensor(lgt))
        assert isinstance(tp, torch.Tensor) and tp.tolist() == p.tolist()
    det = RecLagDetector(n_memories=6)
    assert det.set_params(gamma_quantile=0.05, epochs=3) is det and det.get_params()["epochs"] == 3
    assert det.train_kwargs["epochs"] == 3 and "gamma_quantile=0.05" in repr(det)
    with pytest.raises(ValueError, match="Invalid parameter"):
        det.set_params(nope=1)


def test_msp_does_not_tie_at_one_in_float32():
    logits = np.array([[30.0, 0.0], [25.0, 0.0], [20.0, 0.0]], dtype=np.float32)
    s = MSP().fit(logits[:, :1].repeat(2, 1), logits=logits).score_samples(logits[:, :1].repeat(2, 1), logits)
    assert s.dtype == np.float64 and s[0] > s[1] > s[2]  # float32 rounds all three to 1.0


def test_reclag_save_load_identical_scores(tmp_path, data):
    x, lg, y, _, xt, lgt = data
    for det in (RecLagDetector(n_memories=7, epochs=2, progress=False).fit(x),
                RecLagDetector("code", n_memories=4, epochs=2, gamma_scope="class", progress=False).fit(x, y, lg)):
        path = tmp_path / "sub" / "det.pt"
        det.save(path)
        torch.load(path, weights_only=True)  # plain contents
        back = RecLagDetector.load(path)
        assert back.get_params() == det.get_params() and back.log_gamma_ == det.log_gamma_
        np.testing.assert_array_equal(back.score_samples(xt, lgt), det.score_samples(xt, lgt))
        np.testing.assert_array_equal(back.evolve(xt, lgt, steps=2), det.evolve(xt, lgt, steps=2))
        assert back.memory_movement() == det.memory_movement() > 0
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["det.pt"]  # no temporary file left
    with pytest.raises(ValueError, match="not fitted"):
        RecLagDetector().save(tmp_path / "x.pt")
    torch.save({"a": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a hopdyn RecLagDetector"):
        RecLagDetector.load(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        RecLagDetector.load(tmp_path / "none.pt")
