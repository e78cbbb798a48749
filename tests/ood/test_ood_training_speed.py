"""The fast SFNN training step against the autograd reference, the sampler, the foreach Adam,
and early stopping on held-out NLL."""
import math

import pytest
import torch

from hopdyn._optim import Adam
from hopdyn.ood import SFNN, train_sfnn
from hopdyn.ood.training import _draw, _global_diagonal_grads


def global_model(k=7, d=5, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return SFNN(xi=scale * torch.randn(1, k, d, generator=g, dtype=torch.float64),
                log_prec_diag=0.3 * torch.randn(1, d, generator=g, dtype=torch.float64),
                prec_offdiag=None, beta=1.3, normalize=None)


@pytest.mark.parametrize("objective", ["exact", "mc"])
@pytest.mark.parametrize("scale", [1.0, 4.0])
def test_fast_step_is_the_autograd_gradient(objective, scale):
    m = global_model(scale=scale)
    x = torch.randn(11, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x[3] = m.xi[0, 2]  # a sample on a memory: Mahalanobis distance 0, where the clamp matters
    cls = torch.zeros(11, dtype=torch.long)
    params = m.parameters()
    for p in params:
        p.requires_grad_(True)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    ref = m.exact_loss(x, cls) if objective == "exact" else m.mc_loss(x, cls, 4, g1)
    ref_grads = torch.autograd.grad(ref.mean(), params)
    loss_sum, grads = _global_diagonal_grads(m, x, objective, 4, g2)
    torch.testing.assert_close(loss_sum, ref.detach().sum(), rtol=1e-12, atol=1e-12)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_fast_training_matches_the_reference_loop(monkeypatch):
    """The whole training (float64, both objectives) with the fast step and with autograd."""
    import hopdyn.ood.training as tr

    g = torch.Generator().manual_seed(0)
    x = torch.randn(90, 4, generator=g, dtype=torch.float64) + 3 * torch.randint(2, (90, 1), generator=g)
    for objective in ("exact", "mc"):
        kw = dict(n_memories=5, objective=objective, epochs=3, lr=0.02, batch_size=20, progress=False)
        fast = train_sfnn(x, **kw)
        monkeypatch.setattr(tr, "_global_diagonal_grads", None)
        monkeypatch.setattr(SFNN, "n_classes", property(lambda self: 2))  # routes _fit to autograd
        ref = train_sfnn(x, **kw)
        monkeypatch.undo()
        torch.testing.assert_close(fast.xi, ref.xi, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(fast.log_prec_diag, ref.log_prec_diag, rtol=1e-10, atol=1e-10)
        assert fast.history == pytest.approx(ref.history, rel=1e-10)


@pytest.mark.parametrize("n_classes", [1, 3])
def test_held_out_nll_is_the_exact_loss(n_classes):
    from hopdyn.ood.training import _held_out_nll

    m = global_model(scale=3.0)
    if n_classes == 3:
        m.xi = m.xi.repeat(3, 1, 1) + torch.randn(3, 7, 5, dtype=torch.float64)
        m.log_prec_diag = m.log_prec_diag.repeat(3, 1)
    x = torch.randn(37, 5, dtype=torch.float64)
    cls = torch.randint(n_classes, (37,))
    ref = float(m.exact_loss(x, cls).mean())
    assert _held_out_nll(m, x, cls, chunk=10) == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_draws_follow_the_probabilities_and_skip_zeros():
    p = torch.tensor([[0.5, 0.0, 0.2, 0.3], [0.0, 0.0, 1.0, 0.0]], dtype=torch.float64)
    mu = _draw(p, 200_000, torch.Generator().manual_seed(0))
    freq = torch.stack([torch.bincount(row, minlength=4) for row in mu]).double() / 200_000
    assert int(freq[0, 1]) == 0 and torch.equal(freq[1], p[1])
    assert torch.allclose(freq[0], p[0], atol=4e-3)  # ~4 standard errors
    again = _draw(p, 200_000, torch.Generator().manual_seed(0))
    assert torch.equal(mu, again)


def test_fused_adam_is_the_plain_adam():
    g = torch.Generator().manual_seed(0)
    params = [torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64)]
    targets = [torch.randn_like(p) for p in params]
    a = [p.clone() for p in params]
    b = [p.clone() for p in params]
    fast, plain = Adam(a, 0.05), Adam(b, 0.05, fused=False)
    for _ in range(100):
        fast.step([4 * (p - t) ** 3 for p, t in zip(a, targets)])
        plain.step([4 * (p - t) ** 3 for p, t in zip(b, targets)])
    for p, q in zip(a, b):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)


def two_clusters(n, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(2, (n,), generator=g)
    return torch.randn(n, 4, generator=g, dtype=torch.float64) + 4.0 * y[:, None].double()


def test_early_stopping_stops_on_a_plateau_and_reports_it():
    x, val = two_clusters(200, 0), two_clusters(100, 1)
    kw = dict(n_memories=4, objective="exact", normalize=None, lr=0.05, batch_size=50, seed=3, progress=False)
    full = train_sfnn(x, epochs=60, validation=(val, None), **kw)
    assert len(full.val_history) == 60 and full.stopped_epoch is None
    stopped = train_sfnn(x, epochs=60, validation=(val, None), patience=3, **kw)
    e = stopped.stopped_epoch
    assert e is not None and e < 60 and len(stopped.history) == len(stopped.val_history) == e
    assert stopped.val_history == full.val_history[:e]  # the same run, cut short
    curve = full.val_history  # the rule: the last 3 epochs beat no earlier best by a relative 1e-4
    before = min(curve[: e - 3])
    assert e > 3 and all(v >= before - 1e-4 * abs(before) for v in curve[e - 3:e])
    assert curve[e - 4] < curve[0]  # it went on while the held-out NLL fell
    assert math.isfinite(stopped.objectives(val)["nll"])
    assert SFNN.from_state(stopped.state()).stopped_epoch == e


@pytest.mark.parametrize("kwargs, match", [
    (dict(patience=0), "patience"),
    (dict(patience=2.5), "patience"),
    (dict(patience=True), "patience"),
    (dict(patience=2, validation=None), "needs validation"),
    (dict(patience=2, validation=torch.zeros(3, 3)), "pair"),
    (dict(patience=2, validation=(torch.zeros(3, 2), None)), "validation features"),
])
def test_bad_early_stopping_arguments(kwargs, match):
    x = torch.randn(20, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=match):
        train_sfnn(x, epochs=2, progress=False, **{"validation": (x, None), **kwargs})


def feature_set(n, seed, d=4, c=2):
    from hopdyn.ood import FeatureSet

    g = torch.Generator().manual_seed(seed)
    y = torch.randint(c, (n,), generator=g)
    centers = 3.0 * torch.eye(c, d)
    x = (centers[y] + 0.5 * torch.randn(n, d, generator=g)).clamp_min(0.0)
    return FeatureSet(x, x @ centers.T, y, "toy")


@pytest.mark.parametrize("setting", ["paper", "code"])
def test_detector_early_stopping_uses_the_calibration_split(setting):
    from hopdyn.ood import RecLagDetector

    kw = dict(n_memories=3, epochs=40, lr=0.05, batch_size=20, objective="exact", progress=False)
    det = RecLagDetector(setting, early_stopping=True, patience=2, **kw).fit(feature_set(200, 0))
    m = det.model_
    assert 2 < m.stopped_epoch < 40 and len(m.val_history) == len(m.history) == m.stopped_epoch
    assert m.val_history[1] < m.val_history[0]  # it went on while the held-out NLL fell
    assert det.n_calibration_ == 40  # 20 % of 200, held out per class, also set γ
    plain = RecLagDetector(setting, **kw).fit(feature_set(200, 0))
    assert plain.model_.val_history == [] and len(plain.model_.history) == 40


@pytest.mark.parametrize("kwargs, match", [
    (dict(early_stopping=True, calibration=0.0), "calibration split"),
    (dict(early_stopping=True, gamma=2.0), "calibration split"),
    (dict(early_stopping=True, patience=0), "patience"),
])
def test_detector_bad_early_stopping(kwargs, match):
    from hopdyn.ood import RecLagDetector

    with pytest.raises(ValueError, match=match):
        RecLagDetector(**kwargs)


def test_cli_early_stopping(tmp_path, capsys):
    import numpy as np

    from hopdyn.cli import main
    from hopdyn.ood import RecLagDetector

    paths = {}
    for name, n, seed, shift in (("train", 120, 0, 0.0), ("test", 40, 1, 0.0), ("far", 30, 2, 3.0)):
        fs = feature_set(n, seed)
        paths[name] = tmp_path / f"{name}.npz"
        np.savez(paths[name], features=(fs.features + shift).numpy(), logits=fs.logits.numpy(), labels=fs.labels.numpy())
    base = ["ood", "--id-train", str(paths["train"]), "--id-test", str(paths["test"]), "--ood", f"far={paths['far']}",
            "--trials", "1", "--epochs", "30", "--n-memories", "3", "--steps", "1", "--objective", "exact"]
    det = tmp_path / "det.pt"
    assert main([*base, "--early-stopping", "--patience", "1", "--save-detector", str(det)]) == 0
    m = RecLagDetector.load(det).model_
    assert len(m.val_history) == len(m.history) and (m.stopped_epoch is None or m.stopped_epoch < 30)
    capsys.readouterr()
    assert main([*base, "--patience", "3"]) == 2
    assert "--patience needs --early-stopping" in capsys.readouterr().err
    assert main([*base, "--early-stopping", "--patience", "0"]) == 2
    assert "patience must be" in capsys.readouterr().err
