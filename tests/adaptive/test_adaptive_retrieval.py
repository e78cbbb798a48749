"""A-Hop retrieval, energy, training and metrics (hopdyn.adaptive)."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist, pdist

from hopdyn.adaptive import (
    AdaptiveHopfield,
    DistanceSimilarity,
    DotSimilarity,
    FootprintSimilarity,
    VariantDistribution,
    correct_retrieval,
    energy_descent,
    eps_retrieval,
    fit,
    separation,
)


def data(seed, n=8, d=6, b=30):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), 2 * torch.randn(b, d, generator=g, dtype=torch.float64)


def test_iterate_records_states_energies_and_sources():
    xi, x = data(0)
    model = AdaptiveHopfield(xi, FootprintSimilarity(6))
    path = model.iterate(x, steps=4)
    assert path.states.shape == (5, 30, 6) and path.energy.shape == (5, 30)
    torch.testing.assert_close(path.states[0], x)
    torch.testing.assert_close(path.states[1], model.step(x))
    torch.testing.assert_close(path.states[3], model.step(model.step(model.step(x))))
    torch.testing.assert_close(path.energy, model.energy(path.states))
    torch.testing.assert_close(path.source, model.predict(path.states))
    torch.testing.assert_close(model.probabilities(x).sum(-1), torch.ones(30, dtype=torch.float64))
    with pytest.raises(ValueError, match="steps"):
        model.iterate(x, steps=-1)


def test_distance_energy_decreases_along_retrieval():
    """For s = −β‖ξ − x‖², T is the CCCP step of ½‖x‖² − (1/2β) lse(2βΞx − β‖ξ‖²), which is
    E/(2β) up to the query-independent term, so the energy can never rise."""
    xi, x = data(1, b=200)
    for beta in (0.05, 1.0, 20.0):
        e = energy_descent(AdaptiveHopfield(xi, DistanceSimilarity(beta)), x, steps=8)
        assert e.monotone == 1.0 and e.max_increase <= 1e-9 * 200 and e.mean_drop >= 0
    # a float32 model is checked in float64, so its round-off is not reported as a rise
    e = energy_descent(AdaptiveHopfield(xi.float(), DistanceSimilarity(1.0)), x.float(), steps=8)
    assert e.monotone == 1.0


def test_dot_product_energy_can_rise_along_retrieval():
    """−lse(βΞx) without the MHN's ½‖x‖² is no Lyapunov function: a query far beyond a memory
    is pulled back onto it and the energy rises (E(10) = −lse(±10β), then E(≈1) = −lse(±β))."""
    xi = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    e = energy_descent(AdaptiveHopfield(xi, DotSimilarity(2.0)), torch.tensor([[10.0]], dtype=torch.float64), steps=3)
    lse = lambda a: float(torch.logsumexp(torch.tensor([a, -a], dtype=torch.float64), 0))  # noqa: E731
    assert e.monotone == 0.0 and e.max_increase == pytest.approx(lse(20.0) - lse(2.0), rel=1e-6)


def test_metrics_against_scipy():
    rng = np.random.default_rng(0)
    xi, y = rng.normal(size=(6, 4)), rng.normal(size=(50, 4))
    src = rng.integers(0, 6, size=50)
    dist = cdist(y, xi)
    assert correct_retrieval(xi, y, src) == pytest.approx(np.mean(dist.argmin(1) == src))
    assert separation(xi) == pytest.approx(pdist(xi).min())
    eps = float(np.median(dist.min(1)))
    assert eps_retrieval(xi, y, eps) == pytest.approx(np.mean(dist.min(1) <= eps))
    assert eps_retrieval(xi, y, 1.5, source=src) == pytest.approx(np.mean(dist[np.arange(50), src] <= 1.5))
    with pytest.raises(ValueError, match="source"):
        correct_retrieval(xi, y, src[:3])
    with pytest.raises(ValueError, match="eps"):
        eps_retrieval(xi, y, 0.0)


def test_eps_retrieval_counts_confident_wrong_answers():
    """Retrieving the wrong memory exactly is a perfect ε-retrieval and a failed correct retrieval."""
    xi = torch.eye(3, dtype=torch.float64)
    y, src = xi[[1, 2, 0]], torch.tensor([0, 1, 2])
    assert eps_retrieval(xi, y, 0.1) == 1.0 and correct_retrieval(xi, y, src) == 0.0


def test_fit_is_seeded_and_lowers_the_loss():
    xi = torch.randn(12, 10, generator=torch.Generator().manual_seed(0))
    x, k = VariantDistribution("mixed", 0.4).sample(xi, 8, seed=1)
    params = []
    for _ in range(2):
        model = AdaptiveHopfield(xi, FootprintSimilarity(10))
        res = fit(model, x, k, epochs=15, batch_size=32, seed=3, progress=False)
        params.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(params[0], params[1])
    assert res.losses[-1] < 0.5 * res.losses[0]
    with pytest.raises(ValueError, match="source"):
        fit(model, x, k[:5], epochs=1)
    with pytest.raises(ValueError, match="source"):
        fit(model, x, k + 100, epochs=1)
    with pytest.raises(ValueError, match="lr"):
        fit(model, x, k, lr=0.0)


def test_m_hop_learns_beta_through_the_generic_path():
    xi = torch.randn(8, 6, generator=torch.Generator().manual_seed(0))
    x, k = VariantDistribution("noisy", 0.2).sample(xi, 10, seed=1)
    model = AdaptiveHopfield(xi, DotSimilarity(1e-2))
    fit(model, x, k, epochs=40, progress=False)  # 40 Adam steps of ≤ 0.1 on log β
    assert model.similarity.beta > 0.1  # a near-uniform softmax is a poor posterior: β must grow
