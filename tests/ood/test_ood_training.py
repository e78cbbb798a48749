"""SFNN training of the interaction matrix: densities, gradients, reproducibility, persistence."""
import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from hopdyn.ood import SFNN, train_sfnn


def clusters(n=240, d=4, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    centers = 4 * torch.randn(k, d, generator=g, dtype=torch.float64)
    y = torch.randint(k, (n,), generator=g)
    return centers[y] + torch.randn(n, d, generator=g, dtype=torch.float64), y


def random_model(covariance, n_classes=2, k=5, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return SFNN(
        xi=torch.randn(n_classes, k, d, generator=g, dtype=torch.float64),
        log_prec_diag=0.3 * torch.randn(n_classes, d, generator=g, dtype=torch.float64),
        prec_offdiag=None if covariance == "diagonal" else torch.randn(n_classes, d, d, generator=g, dtype=torch.float64),
        beta=1.7, normalize=None)


@pytest.mark.parametrize("covariance", ["diagonal", "full"])
def test_log_densities_against_scipy(covariance):
    m = random_model(covariance)
    x = torch.randn(6, 3, dtype=torch.float64)
    cls = torch.tensor([0, 1, 1, 0, 1, 0])
    got = m.log_pv(x, cls).numpy()
    h = 1.7 * np.einsum("ckd,nd->nck", m.xi.numpy(), x.numpy())[np.arange(6), cls.numpy()]
    for i in range(6):
        c = int(cls[i])
        d = np.exp(m.log_prec_diag[c].numpy())
        p = np.diag(d) if covariance == "diagonal" else np.tril(m.prec_offdiag[c].numpy(), -1) + np.diag(d)
        cov = np.linalg.inv(p @ p.T)
        ref = [multivariate_normal(m.xi[c, k].numpy(), cov).logpdf(x[i].numpy()) for k in range(5)]
        np.testing.assert_allclose(got[i], ref, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(m.log_ph(x, cls).numpy(), h - logsumexp(h, axis=1, keepdims=True), atol=1e-12)
    exact = -logsumexp(m.log_ph(x, cls).numpy() + got, axis=1)
    np.testing.assert_allclose(m.exact_loss(x, cls).numpy(), exact, atol=1e-10)
    np.testing.assert_allclose(m.score(x, cls).numpy(), logsumexp(h, axis=1), atol=1e-12)


@pytest.mark.parametrize("covariance", ["diagonal", "full"])
def test_mc_gradient_matches_exact_gradient_with_many_samples(covariance):
    """The MC objective's gradient (fixed importance weights) is the self-normalised importance
    sampling estimate of the exact marginal's gradient; it converges as M grows."""
    m = random_model(covariance, n_classes=1, k=6, d=3, seed=3)
    params = m.parameters()
    for p in params:
        p.requires_grad_(True)
    x = torch.randn(4, 3, dtype=torch.float64)
    cls = torch.zeros(4, dtype=torch.long)
    exact = torch.autograd.grad(m.exact_loss(x, cls).sum(), params)
    g = torch.Generator().manual_seed(0)
    mc = torch.autograd.grad(m.mc_loss(x, cls, 200_000, g).sum(), params)
    for a, b in zip(exact, mc):
        assert torch.allclose(a, b, rtol=0.03, atol=0.03 * float(a.abs().max())), (a, b)
    few = torch.autograd.grad(m.mc_loss(x, cls, 2, g).sum(), params)
    assert any(not torch.allclose(a, b, rtol=0.03, atol=0.03 * float(a.abs().max())) for a, b in zip(exact, few))


@pytest.mark.parametrize("objective", ["mc", "exact"])
def test_training_lowers_the_objective_and_is_reproducible(objective):
    x, _ = clusters()
    kw = dict(n_memories=6, objective=objective, normalize=None, epochs=15, lr=0.05, batch_size=40, seed=7,
              progress=False)
    untrained = train_sfnn(x, **{**kw, "epochs": 0})
    m = train_sfnn(x, **kw)
    assert m.objectives(x)["nll"] < untrained.objectives(x)["nll"] - 0.5
    assert m.history[-1] < m.history[0]
    again = train_sfnn(x, **kw)
    assert torch.equal(m.xi, again.xi) and m.history == again.history
    other = train_sfnn(x, **{**kw, "seed": 8})
    assert not torch.equal(m.xi, other.xi)


def test_classwise_full_covariance_and_save_load(tmp_path):
    x, y = clusters(n=150, d=3)
    m = train_sfnn(x, y, n_memories=4, covariance="full", normalize=10.0, epochs=3, progress=False)
    assert m.xi.shape == (3, 4, 3) and m.covariance == "full" and m.n_classes == 3
    assert not m.xi.requires_grad
    m.save(tmp_path / "m.pt")
    back = SFNN.load(tmp_path / "m.pt")
    assert torch.equal(back.score(x, y), m.score(x, y)) and back.history == m.history
    assert torch.equal(back.xi_init, m.xi_init) and back.memory_movement() == m.memory_movement()
    with pytest.raises(ValueError, match="classes are required"):
        m.score(x)
    torch.save({"xi": 1}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a hopdyn SFNN model"):
        SFNN.load(tmp_path / "bad.pt")


def test_initial_memories_are_samples_rescaled_to_norm_10():
    x, _ = clusters(n=50)
    m = train_sfnn(x, n_memories=5, normalize=None, epochs=0)
    assert torch.allclose(m.xi.norm(dim=-1), torch.full((1, 5), 10.0, dtype=torch.float64))


@pytest.mark.parametrize("kwargs, match", [
    (dict(objective="vi"), "objective"),
    (dict(covariance="tied"), "covariance"),
    (dict(n_memories=0), "n_memories"),
    (dict(beta=-1.0), "beta"),
    (dict(classes=torch.tensor([0, 2] * 10)), "no training samples for class"),
])
def test_bad_arguments(kwargs, match):
    x = torch.randn(20, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=match):
        train_sfnn(x, **{"epochs": 1, **kwargs})
    with pytest.raises(ValueError, match="NaN"):
        train_sfnn(torch.full((4, 2), float("nan")))


def test_the_shared_adam_is_torch_adam():
    # hopdyn._optim.Adam stands in for torch.optim.Adam (whose first use costs seconds of imports)
    from hopdyn._optim import Adam

    g = torch.Generator().manual_seed(0)
    a = torch.randn(5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randn(5, 3, generator=g, dtype=torch.float64)
    b = a.detach().clone().requires_grad_(True)
    ours, ref = Adam([a], 0.05), torch.optim.Adam([b], lr=0.05)
    for _ in range(200):
        ours.step(torch.autograd.grad(((a - target) ** 4).sum(), [a]))
        ref.zero_grad()
        ((b - target) ** 4).sum().backward()
        ref.step()
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_memory_movement_is_relative_to_the_initial_memories():
    x, _ = clusters(n=100, d=4)
    m0 = train_sfnn(x, n_memories=6, epochs=0, progress=False)
    assert m0.memory_movement() == 0.0 and torch.equal(m0.xi, m0.xi_init)
    m = train_sfnn(x, n_memories=6, epochs=5, lr=1e-2, progress=False)
    assert torch.equal(m.xi_init, m0.xi_init)  # same seed, same initial rows
    expect = float((m.xi - m0.xi).norm() / m0.xi.norm())
    assert m.memory_movement() == pytest.approx(expect, rel=1e-12) and expect > 0
    m.xi_init = None
    assert np.isnan(m.memory_movement())
