"""Sparse separations against independent references, U-Hop's separation stage, and the
Bayes-optimal likelihood of the variants against scipy."""
import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from hopdyn.adaptive import (
    FootprintSimilarity, SeparationKernelSimilarity, VariantDistribution, entmax15, kernel_separation_loss,
    separation_loss, sparsemax,
)


def bisect_threshold(z, power):
    """τ with Σ ((z − τ)_+)^power = 1, by bisection (numpy float64): the reference for sparsemax
    (power 1, the Euclidean projection onto the simplex) and 1.5-entmax (power 2 on z/2)."""
    lo, hi = z.max() - 1.0, z.max()
    for _ in range(200):
        mid = (lo + hi) / 2
        if (np.clip(z - mid, 0, None) ** power).sum() > 1:
            lo = mid
        else:
            hi = mid
    return np.clip(z - (lo + hi) / 2, 0, None) ** power


def test_sparsemax_is_the_projection_onto_the_simplex():
    z = torch.randn(50, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    p = sparsemax(z)
    ref = np.stack([bisect_threshold(row, 1) for row in z.numpy()])
    np.testing.assert_allclose(p.numpy(), ref, atol=1e-12)
    # KKT of min ‖p − z‖² on the simplex: z − p equals τ on the support, z ≤ τ off it
    tau = (z - p)[p > 0]
    assert (p >= 0).all() and torch.allclose(p.sum(-1), torch.ones(50, dtype=torch.float64))
    assert tau.numel() > 50 and (p == 0).any()
    torch.testing.assert_close(sparsemax(z.T, dim=0), p.T)


def test_entmax15_against_bisection_and_limits():
    z = torch.randn(50, 9, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 3
    p = entmax15(z)
    ref = np.stack([bisect_threshold(row / 2, 2) for row in z.numpy()])
    np.testing.assert_allclose(p.numpy(), ref, atol=1e-10)
    # a large gap gives a one-hot answer; equal scores give the uniform one
    torch.testing.assert_close(entmax15(torch.tensor([[10.0, 0.0, -1.0]])), torch.tensor([[1.0, 0.0, 0.0]]))
    torch.testing.assert_close(entmax15(torch.zeros(1, 4)), torch.full((1, 4), 0.25))


@pytest.mark.parametrize("fn", [sparsemax, entmax15])
def test_sparse_maps_gradcheck(fn):
    z = torch.randn(4, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(fn, (z,))


@pytest.mark.parametrize("name", ["sparsemax", "entmax15"])
def test_fenchel_young_loss_gradient_is_p_minus_onehot(name):
    s = torch.randn(5, 7, generator=torch.Generator().manual_seed(3), dtype=torch.float64).requires_grad_()
    k = torch.tensor([0, 3, 6, 2, 2])
    separation_loss(s, k, name).backward()
    p = (sparsemax if name == "sparsemax" else entmax15)(s.detach())
    torch.testing.assert_close(s.grad, (p - torch.nn.functional.one_hot(k, 7)) / 5)
    # zero loss exactly when the right memory wins with a margin (p = e_k)
    big = 10.0 * torch.nn.functional.one_hot(k, 7).double()
    assert float(separation_loss(big, k, name)) == pytest.approx(0.0, abs=1e-12)


def test_uhop_kernel_lowers_its_separation_loss_and_keeps_its_norm():
    g = torch.Generator().manual_seed(4)
    base = torch.randn(1, 6, generator=g)
    xi = base + 0.3 * torch.randn(10, 6, generator=g)  # correlated memories: W = I separates badly
    sim = SeparationKernelSimilarity(6, steps=100)
    before = float(kernel_separation_loss(sim.W, xi))
    losses = sim.fit_memories(xi)
    assert losses[-1] < 0.8 * before  # 2.24 → 1.60 at fixed ‖W‖_F
    assert float(sim.W.norm()) == pytest.approx(6**0.5, rel=1e-6)
    assert not sim.W.requires_grad and [n for n, _ in sim.named_parameters()] == ["log_beta"]


def test_log_likelihood_against_scipy_on_mixed_variants():
    """The closed form (mean/orthogonal split, mask read off the zeros) against scipy's Gaussian
    log-density on the observed dimensions with covariance σ_n² I + σ_b² 11ᵀ; it differs only by
    a term constant in k."""
    xi = torch.randn(5, 8, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    dist = VariantDistribution("mixed", 0.4)
    x, _ = dist.sample(xi, 2, seed=6)
    ll = dist.log_likelihood(xi, x).numpy()
    sigma = float(xi.std())
    sn, sb = 0.4 * 3 * sigma, 0.4 * 6 * sigma
    for i, row in enumerate(x.numpy()):
        o = row != 0
        cov = sn**2 * np.eye(o.sum()) + sb**2 * np.ones((o.sum(), o.sum()))
        ref = np.array([multivariate_normal(xi.numpy()[k, o], cov).logpdf(row[o]) for k in range(5)])
        np.testing.assert_allclose(ll[i] - ll[i].max(), ref - ref.max(), atol=1e-8)


def test_bayes_rule_is_the_nearest_memory_for_noise_and_exact_for_noiseless_kinds():
    xi = torch.randn(20, 16, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    noisy = VariantDistribution("noisy", 0.6)
    x, _ = noisy.sample(xi, 5, seed=8)
    assert torch.equal(noisy.bayes_predict(xi, x), torch.cdist(x, xi).argmin(-1))
    for kind in ("masked", "biased"):
        dist = VariantDistribution(kind, 0.5)
        x, k = dist.sample(xi, 5, seed=9)
        assert torch.equal(dist.bayes_predict(xi, x), k)  # the point likelihoods identify the source
    # A-Hop's footprint at its starting point is no better than the Bayes rule
    x, k = VariantDistribution("mixed", 0.5).sample(xi, 5, seed=10)
    start = FootprintSimilarity(16).double()(xi, x).argmax(-1)
    assert (VariantDistribution("mixed", 0.5).bayes_predict(xi, x) == k).sum() >= (start == k).sum()
