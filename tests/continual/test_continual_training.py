"""Forgetting by training (hopdyn.continual.training) and the replay buffers of choose_replay."""
import math

import numpy as np
import pytest
import torch

import hopdyn as hd
from hopdyn.continual import (
    TrainableMemory, choose_replay, corrupt, denoising_loss, fit_task, herding, negative_log_likelihood,
    reconstruction_error, select_replay,
)


def _memory(n=4, d=3, beta=2.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, dtype=torch.float64, generator=g)
    return TrainableMemory.from_memories(X, beta, 0.5 * torch.randn(n, dtype=torch.float64, generator=g))


def test_nll_is_the_gaussian_mixture_density():
    # exp(-beta E) normalised is sum_mu pi_mu N(x; xi_mu, I/beta), pi_mu ∝ m_mu exp(beta |xi_mu|^2 / 2):
    # compare with scipy's multivariate normal, an independent route
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    mem = _memory()
    x = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    X, m, beta = mem.X.numpy(), mem.log_mass.exp().numpy(), mem.beta
    log_pi = np.log(m) + 0.5 * beta * (X ** 2).sum(1)
    log_pi -= logsumexp(log_pi)
    ref = logsumexp([lp + multivariate_normal(mu, np.eye(3) / beta).logpdf(x.numpy()) for lp, mu in zip(log_pi, X)],
                    axis=0)
    np.testing.assert_allclose(-negative_log_likelihood(mem.network(), x).numpy(), ref, rtol=0, atol=1e-11)


def test_nll_integrates_to_one_in_one_dimension():
    from scipy.integrate import quad

    net = _memory(n=3, d=1).network()
    density = lambda t: math.exp(-float(negative_log_likelihood(net, torch.tensor([[t]], dtype=torch.float64))[0]))
    total, _ = quad(density, -40, 40, limit=200)
    assert abs(total - 1) < 1e-8


def test_nll_refuses_networks_without_a_gaussian_mixture_density():
    net = hd.MHN(torch.eye(3, dtype=torch.float64), memory=hd.RecLag(2.0, 3.0))
    with pytest.raises(ValueError, match="likelihood needs"):
        negative_log_likelihood(net, torch.zeros(1, 3, dtype=torch.float64))


def test_denoising_loss_is_one_gradient_step_on_the_energy():
    # step(x) = x - grad E(x) for Quadratic L_V: check with autograd on the network's energy
    net = _memory().network()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(5, 3, dtype=torch.float64, generator=g)
    z = 0.3 * torch.randn(5, 3, dtype=torch.float64, generator=g)
    xt = (x + z).requires_grad_(True)
    (grad,) = torch.autograd.grad(net.energy(xt).sum(), xt)
    ref = 0.5 * ((xt.detach() - grad - x) ** 2).sum(-1)
    torch.testing.assert_close(denoising_loss(net, x, z), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("objective", ["nll", "denoise"])
def test_fit_task_lowers_the_loss_and_leaves_its_input_alone(objective):
    mem = _memory(n=3, d=4)
    before = mem.X.clone()
    data = torch.randn(20, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) + 2.0
    seen = []
    out = fit_task(mem, data, steps=30, lr=0.05, objective=objective, learn_mass=True, noise=0.1,
                   generator=torch.Generator().manual_seed(0), record_every=10,
                   record=lambda step, net: seen.append((step, float(negative_log_likelihood(net, data).mean()))))
    assert torch.equal(mem.X, before)
    assert [s for s, _ in seen] == [0, 10, 20, 30]
    assert seen[-1][1] < seen[0][1]
    assert not torch.equal(out.log_mass, mem.log_mass)
    fixed = fit_task(mem, data, steps=5, learn_mass=False)
    assert torch.equal(fixed.log_mass, mem.log_mass)


def test_replaying_the_task_itself_with_mass_one_is_the_same_training():
    # loss = mean(l) + 1 * mean(l) = 2 mean(l): Adam is invariant to the scale of the loss (up to its eps)
    mem = _memory(n=3, d=4)
    data = torch.randn(12, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    a = fit_task(mem, data, steps=15, lr=0.05)
    b = fit_task(mem, data, steps=15, lr=0.05, replay=data, replay_mass=1.0)
    torch.testing.assert_close(a.X, b.X, rtol=0, atol=1e-6)


def test_reconstruction_error_is_a_plain_retrieval_loop():
    net = _memory(n=5, d=4, beta=6.0).network()
    g = torch.Generator().manual_seed(5)
    x = torch.randn(6, 4, dtype=torch.float64, generator=g)
    xc = corrupt(x, "noise", 0.2, generator=g)
    q = xc.clone()
    for _ in range(12):  # fixed number of steps, no tolerance: the reference
        q = net.step(q)
    torch.testing.assert_close(reconstruction_error(net, x, xc, steps=12, tol=1e-300), ((q - x) ** 2).sum(-1),
                               rtol=0, atol=1e-12)


def test_corrupt_noise_and_mask():
    x = torch.ones(200, 50, dtype=torch.float64)
    a = corrupt(x, "noise", 0.1, generator=torch.Generator().manual_seed(0))
    b = corrupt(x, "noise", 0.1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and abs(float((a - x).std()) - 0.1) < 0.01
    m = corrupt(x, "mask", 0.3, generator=torch.Generator().manual_seed(0))
    assert abs(float((m == 0).double().mean()) - 0.3) < 0.02
    for kind, level, match in (("blur", 0.1, "corruption must"), ("mask", 1.0, "fraction"), ("noise", 0.0, "level")):
        with pytest.raises(ValueError, match=match):
            corrupt(x, kind, level)


def test_herding_is_the_greedy_mean_matching_loop():
    x = torch.randn(30, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    mu, chosen = x.mean(0), []
    for t in range(1, 8):  # plain reference loop over candidates
        best, best_d = None, math.inf
        for i in range(30):
            if i in chosen:
                continue
            d = float(((mu - (x[chosen].sum(0) + x[i]) / t) ** 2).sum())
            if d < best_d:
                best, best_d = i, d
        chosen.append(best)
    assert herding(x, 7).tolist() == chosen


def test_choose_replay_policies():
    x = torch.randn(10, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    e = torch.arange(10, dtype=torch.float64).flip(0)
    loss = torch.arange(10, dtype=torch.float64)
    assert choose_replay("energy_top", 3, x, energy=e).tolist() == [0, 1, 2]
    assert choose_replay("energy_bottom", 3, x, energy=e).tolist() == select_replay(e, 3, "bottom").tolist()
    assert choose_replay("loss", 2, x, loss=loss).tolist() == [9, 8]
    r = choose_replay("random", 4, x, generator=torch.Generator().manual_seed(0))
    assert len(set(r.tolist())) == 4
    assert choose_replay("herding", 3, x).tolist() == herding(x, 3).tolist()
    with pytest.raises(ValueError, match="needs energy"):
        choose_replay("energy_top", 3, x)
    with pytest.raises(ValueError, match="policy must be"):
        choose_replay("best", 3, x, energy=e)


def test_ddim_reverse_is_exact_with_an_oracle_noise_prediction():
    # if eps_theta returned the true noise at every step, the deterministic DDIM chain stays on
    # x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps and returns x0 exactly: checks noised() and the reverse steps
    from hopdyn.continual.diffusion import TinyDDPM

    g = torch.Generator().manual_seed(8)
    model = TinyDDPM(5, steps=12, generator=g)
    x = torch.randn(4, 5, dtype=torch.float64, generator=g)
    eps = torch.randn(4, 5, dtype=torch.float64, generator=g)
    model.forward = lambda xt, t: eps
    torch.testing.assert_close(model.reconstruct(x, 9, eps), x, rtol=0, atol=1e-12)
    ab = torch.cumprod(1 - torch.linspace(1e-4, 0.2, 12, dtype=torch.float64), 0)
    torch.testing.assert_close(model.alpha_bar, ab)
    with pytest.raises(ValueError, match="t0 must be"):
        model.reconstruct(x, 12, eps)


def test_tiny_ddpm_learns_and_samples():
    from hopdyn.continual.diffusion import TinyDDPM

    g = torch.Generator().manual_seed(9)
    data = torch.randn(64, 4, dtype=torch.float64, generator=g) * 0.1 + 1.0
    model = TinyDDPM(4, hidden=32, steps=10, generator=g)
    with torch.no_grad():
        before = float(model.loss(data, torch.Generator().manual_seed(0)))
    model.fit(data, 150, lr=5e-3, generator=g)
    with torch.no_grad():
        after = float(model.loss(data, torch.Generator().manual_seed(0)))
    assert after < 0.5 * before
    assert model.sample(7, generator=g).shape == (7, 4)
