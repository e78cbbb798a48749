"""γ of RecLagDetector set on held-out ID data (issue 16): the share of ID test points in B0 and
FPR95 along the dynamics on held-out digit classes."""
import math

import numpy as np
import pytest
import torch

from hopdyn.experiments.ood import digits_features
from hopdyn.ood import B0Warning, FeatureSet, RecLagDetector, score_evolution


@pytest.fixture(scope="module")
def digits():
    return digits_features(0)


def evolve(det, d):
    return score_evolution({"RecLag": det}, d.id_test, d.ood["digits 6-9"], steps=1)


def test_default_gamma_keeps_fpr95_at_step_1_far_below_one(digits):
    det = RecLagDetector(epochs=10, progress=False).fit(digits.id_train)
    assert det.n_calibration_ == pytest.approx(0.2 * len(digits.id_train), abs=6)
    evo = evolve(det, digits)
    assert evo.b0_share["RecLag"] < 0.05 and not evo.warnings
    assert evo.fpr["RecLag"][1] < 0.5


def test_training_quantile_reproduces_the_jump_and_warns(digits):
    """Fewer ID training samples than memories (N_H = 250): every training sample is a memory,
    its training score is the maximum, and γ set on training scores sends ID test points to B0."""
    small = digits.id_train.subset(torch.arange(200))
    old = RecLagDetector(epochs=10, calibration=0.0, progress=False).fit(small)
    with pytest.warns(B0Warning, match="start in B0"):
        evo = evolve(old, digits)
    assert evo.b0_share["RecLag"] > 0.1 and evo.fpr["RecLag"][1] == 1.0 and evo.warnings
    new = RecLagDetector(epochs=10, progress=False).fit(small)
    evo = evolve(new, digits)
    assert evo.b0_share["RecLag"] < 0.05 and evo.fpr["RecLag"][1] < 0.5


def test_b0_share_is_the_share_below_log_gamma(digits):
    det = RecLagDetector("code", epochs=2, gamma_scope="class", progress=False).fit(digits.id_train)
    assert len(set(det.log_gamma_)) == len(det.log_gamma_) == 6
    s = det.score_samples(digits.id_test).double()
    lg = torch.tensor(det.log_gamma_, dtype=torch.float64)[digits.id_test.predicted]
    assert det.b0_share(digits.id_test) == pytest.approx(float((s < lg).double().mean()), abs=0)
    # the network's gate agrees: G < 0 exactly there
    glob = RecLagDetector(n_memories=20, epochs=1, progress=False).fit(digits.id_train)
    v = glob._state(digits.id_test)
    closed = glob.network().gate_value(v) < 0
    assert glob.b0_share(digits.id_test) == pytest.approx(float(closed.double().mean()), abs=0)


def test_explicit_gamma_and_log_gamma():
    g = np.random.default_rng(0)
    x = g.normal(size=(80, 4))
    a = RecLagDetector(n_memories=5, epochs=1, gamma=2.0, progress=False).fit(x)
    assert a.log_gamma_ == [math.log(2.0)] and a.n_calibration_ == 0
    b = RecLagDetector(n_memories=5, epochs=1, log_gamma=800.0, progress=False).fit(x)
    assert b.log_gamma_ == [800.0] and b.b0_share(x) == 1.0
    with pytest.raises(ValueError, match="gamma or log_gamma"):
        RecLagDetector(gamma=1.0, log_gamma=0.0)
    with pytest.raises(ValueError, match="calibration"):
        RecLagDetector(calibration=1.0)
    with pytest.raises(ValueError, match="gamma_scope"):
        RecLagDetector(gamma_scope="per-sample")
    with pytest.raises(ValueError, match="one per class"):
        RecLagDetector(n_memories=5, epochs=1, log_gamma=[1.0, 2.0], progress=False).fit(x)


def test_held_out_split_is_seeded_and_trains_on_the_rest():
    g = np.random.default_rng(1)
    x = g.normal(size=(100, 3))
    a = RecLagDetector(n_memories=4, epochs=1, seed=3, progress=False).fit(x)
    b = RecLagDetector(n_memories=4, epochs=1, seed=3, progress=False).fit(x)
    assert a.n_calibration_ == 20 and a.log_gamma_ == b.log_gamma_
    assert torch.equal(a.model_.xi, b.model_.xi)  # same seed, same shapes: bit for bit
    full = RecLagDetector(n_memories=4, epochs=1, seed=3, calibration=0.0, progress=False).fit(x)
    assert full.n_calibration_ == 100  # the training scores themselves
    # with a trained model, fit only sets γ, on all the data given
    held = FeatureSet(x[:30])
    c = RecLagDetector.from_model(a.model_).fit(held)
    assert c.model_ is a.model_ and c.n_calibration_ == 30


def test_report_warns_and_says_so_when_many_id_points_start_in_b0():
    from hopdyn.ood import evaluate_detectors

    g = np.random.default_rng(2)
    train, test, far = FeatureSet(g.normal(size=(80, 4))), FeatureSet(g.normal(size=(30, 4))), \
        FeatureSet(3 + g.normal(size=(30, 4)), name="far")
    dets = {"RecLag": lambda seed: RecLagDetector(n_memories=5, epochs=1, log_gamma=800.0, seed=seed, progress=False)}
    with pytest.warns(B0Warning, match="100.0% of the ID test points start in B0"):
        rep = evaluate_detectors(train, test, {"far": far}, dets, trials=1, progress=False)
    assert rep.diagnostics["RecLag"]["b0_share"] == [1.0] and len(rep.warnings) == 1
    assert "Warning: RecLag: 100.0% of the ID test points" in rep.markdown()


def test_b0_risk_is_the_beta_tail_and_matches_monte_carlo():
    """With n held-out scores and the k-th smallest as log γ, the share of new ID points below it
    is Beta(k, n + 1 - k): with 40 scores (k = 1) it passes 5 % with probability 0.95^40."""
    from hopdyn.ood.detectors import _conformal_quantile

    scores = torch.linspace(0.0, 1.0, 40, dtype=torch.float64)
    value, risk = _conformal_quantile(scores, 0.02)
    assert value == 0.0 and risk == pytest.approx(0.95**40, rel=1e-12)
    # Monte Carlo: exchangeable calibration and test scores, share of the test set below the minimum
    g = np.random.default_rng(0)
    cal, test = g.random((20000, 40)), g.random((20000, 2000))
    share = (test < cal.min(1, keepdims=True)).mean(1)
    assert (share > 0.05).mean() == pytest.approx(0.95**40, abs=0.01)


def test_calibration_lowers_k_until_the_tie_risk_is_small():
    from scipy.stats import beta

    from hopdyn.ood.detectors import TIE_RISK, _conformal_quantile

    scores = torch.arange(1000, dtype=torch.float64)
    value, risk = _conformal_quantile(scores, 0.045)  # ⌊0.045 · 1001⌋ = 45 would pass 5 % too often
    k = int(value) + 1
    assert k < 45 and risk <= TIE_RISK < beta.sf(0.05, k + 1, 1000 - k)
    assert risk == pytest.approx(beta.sf(0.05, k, 1001 - k), rel=1e-12)


def test_too_few_held_out_scores_are_said_in_the_report(digits):
    from hopdyn.ood import run_benchmark

    small = digits.id_train.subset(torch.arange(100))
    res = run_benchmark(small, digits.id_test, {"digits 6-9": digits.ood["digits 6-9"]}, objectives=("mc",),
                        reclag={"epochs": 1}, trials=1, steps=1, progress=False)
    n = res.report.detectors["RecLag"].n_calibration_
    assert 15 <= n <= 25
    assert res.report.diagnostics["RecLag"]["b0_risk"][0] == pytest.approx(0.95**n, rel=1e-9)  # k = 1
    assert any("too few to keep the B0 share" in w and f"{n} held-out ID scores" in w for w in res.report.warnings)
    assert "too few to keep the B0 share" in res.report.markdown()


def test_evolution_verdicts_on_held_out_digits(digits):
    """The paper's Fig 5 claims, checked: MHE collapses, RecLag ends far below it; RecLag does
    not keep its step-0 FPR95 exactly (the dynamics reduce its score to score >= log γ)."""
    from hopdyn.ood import MHE

    det = RecLagDetector(epochs=10, progress=False).fit(digits.id_train)
    evo = score_evolution({"MHE": MHE().fit(digits.id_train), "RecLag": det}, digits.id_test,
                          digits.ood["digits 6-9"], steps=4)
    v = dict(zip(("mhe", "keeps", "below"), evo.verdicts))
    assert v["mhe"].startswith("MHE's separation collapses") and v["mhe"].endswith("holds")
    assert v["below"].startswith("RecLag ends below MHE") and v["below"].endswith("holds")
    assert evo.fpr["RecLag"][-1] < evo.fpr["MHE"][-1] - 0.3
    kept = evo.fpr["RecLag"][-1] <= evo.fpr["RecLag"][0] + 0.05
    assert v["keeps"].endswith("holds") == kept and ("does not hold" in v["keeps"]) == (not kept)
    # after the gate has sorted the states, the OOD points in B0 sit at the origin below every ID
    # point, so FPR95 is at most about the share of OOD points outside B0 (seeds 0-3: 0.01-0.14 below)
    assert evo.fpr["RecLag"][-1] <= evo.ood_outside_b0["RecLag"] + 0.01
