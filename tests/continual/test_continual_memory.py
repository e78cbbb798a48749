"""WeightedLogSumExp: the weighted memory of the continual-learning paper (seed 002)."""
import math

import numpy as np
import pytest
import torch

import hopdyn as hd


def _setup(seed=0, n_h=6, n_v=4):
    g = torch.Generator().manual_seed(seed)
    xi = torch.randn(n_h, n_v, generator=g, dtype=torch.float64)
    mass = torch.rand(n_h, generator=g, dtype=torch.float64) * 3 + 0.05
    q = torch.randn(32, n_v, generator=g, dtype=torch.float64)
    return xi, mass, q


@pytest.mark.parametrize("beta", [0.3, 2.0, 9.0])
def test_activation_is_the_gradient(beta):
    _, mass, _ = _setup()
    lag = hd.WeightedLogSumExp(beta, mass)
    h = 1.5 * torch.randn(64, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    h.requires_grad_(True)
    (grad,) = torch.autograd.grad(lag(h).sum(), h)
    torch.testing.assert_close(lag.activation(h.detach()), grad, rtol=1e-12, atol=1e-12)


def test_energy_and_update_match_the_weighted_formula():
    xi, mass, q = _setup()
    beta = 2.5
    net = hd.MHN(xi, memory=hd.WeightedLogSumExp(beta, mass))
    # direct: sum over memories of m * exp(...), in numpy, exp-then-sum is fine at these scales
    a = np.exp(beta * q.numpy() @ xi.numpy().T) * mass.numpy()
    e = 0.5 * (q.numpy() ** 2).sum(1) - np.log(a.sum(1)) / beta
    np.testing.assert_allclose(net.energy(q).numpy(), e, rtol=1e-13)
    np.testing.assert_allclose(net.step(q).numpy(), (a / a.sum(1, keepdims=True)) @ xi.numpy(), rtol=1e-12)


def test_integer_mass_is_that_many_copies():
    xi, _, q = _setup()
    counts = [1, 3, 2, 1, 4, 1]
    copies = torch.repeat_interleave(xi, torch.tensor(counts), dim=0)
    weighted = hd.MHN(xi, memory=hd.WeightedLogSumExp(1.7, counts))
    plain = hd.MHN(copies, memory=hd.LogSumExp(1.7))
    torch.testing.assert_close(weighted.energy(q), plain.energy(q), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(weighted.step(q), plain.step(q), rtol=1e-12, atol=1e-13)


def test_unit_mass_is_logsumexp_and_fixed_points_come_from_iterate():
    xi, _, q = _setup()
    w = hd.MHN(xi, memory=hd.WeightedLogSumExp(4.0, torch.ones(6)))
    v = hd.MHN(xi, memory=hd.LogSumExp(4.0))
    torch.testing.assert_close(w.energy(q), v.energy(q), rtol=1e-14, atol=1e-14)
    fp = hd.iterate(w, q, 500, tol=1e-13, keep="last")
    assert bool(fp.converged.all())
    torch.testing.assert_close(w.step(fp.final), fp.final, rtol=0, atol=1e-12)


def test_large_beta_does_not_overflow():
    lag = hd.WeightedLogSumExp(1e4, [0.5, 2.0, 1.0])
    h = torch.tensor([[1.0, 0.99, -3.0]], dtype=torch.float64)
    # (1/β) lse(βh + log m) = max(h + log m / β) + O(e^{-β·gap}/β)
    assert lag(h).item() == pytest.approx(1.0 + math.log(0.5) / 1e4, abs=1e-12)
    assert torch.isfinite(lag.activation(h)).all()
    lag32 = hd.WeightedLogSumExp(1e4, [0.5, 2.0, 1.0])
    assert torch.isfinite(lag32(h.float())).all() and lag32(h.float()).dtype == torch.float32


@pytest.mark.parametrize("mass, match", [
    ([1.0, 0.0], "mass must be > 0"),
    ([1.0, -2.0], "mass must be > 0"),
    ([1.0, float("nan")], "mass contains NaN"),
    ([1.0, float("inf")], "mass contains NaN or inf"),
    ([[1.0, 2.0]], "mass must be a 1-D"),
    ([], "mass is empty"),
])
def test_bad_mass_is_rejected(mass, match):
    with pytest.raises(ValueError, match=match):
        hd.WeightedLogSumExp(1.0, mass)


def test_bad_beta_and_mass_length_mismatch():
    with pytest.raises(ValueError, match="beta"):
        hd.WeightedLogSumExp(0.0, [1.0])
    with pytest.raises(ValueError, match="3 masses but got 4 memories"):  # caught when the network is built
        hd.MHN(torch.randn(4, 3, dtype=torch.float64), memory=hd.WeightedLogSumExp(1.0, [1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="3 masses but got 4 memories"):  # and when called directly
        hd.WeightedLogSumExp(1.0, [1.0, 2.0, 3.0]).activation(torch.zeros(2, 4, dtype=torch.float64))
