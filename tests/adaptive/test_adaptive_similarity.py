"""A-Hop similarities: each formula against an independent route (numpy, scipy, hopdyn.MHN)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

import hopdyn as hd
from hopdyn.adaptive import (
    AdaptiveHopfield,
    DistanceSimilarity,
    DotSimilarity,
    FootprintSimilarity,
    LinearKernelSimilarity,
    footprint,
    per_dimension,
)


def data(seed, n=7, d=5, b=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(b, d, generator=g, dtype=torch.float64)


def test_dot_similarity_retrieval_is_the_vanilla_mhn_step():
    xi, x = data(0)
    for beta in (0.3, 2.0, 50.0):
        model = AdaptiveHopfield(xi, DotSimilarity(beta))
        net = hd.MHN(xi, memory=hd.LogSumExp(beta))
        torch.testing.assert_close(model.step(x), net.step(x), rtol=0, atol=1e-12)
        # E(x) = −lse(β Ξ x) is β times the MHN energy without its ½‖x‖² term
        torch.testing.assert_close(model.energy(x), beta * (net.energy(x) - 0.5 * (x * x).sum(-1)), rtol=1e-12, atol=1e-10)


def test_large_beta_does_not_overflow():
    xi, x = data(1)
    model = AdaptiveHopfield(xi, DotSimilarity(1e6))
    y = model.step(x)
    assert torch.isfinite(y).all() and torch.isfinite(model.energy(x)).all()
    nearest = (x @ xi.T).argmax(-1)
    torch.testing.assert_close(y, xi[nearest])


def test_distance_similarity_against_scipy():
    xi, x = data(2)
    s = DistanceSimilarity(0.7)(xi, x)
    np.testing.assert_allclose(s.detach().numpy(), -0.7 * cdist(x.numpy(), xi.numpy(), "sqeuclidean"), rtol=1e-12, atol=1e-12)


def test_footprint_against_numpy():
    xi, x = data(3)
    for base, q_np in (
        ("dis", -(xi.numpy()[None] - x.numpy()[:, None]) ** 2),
        ("dot", xi.numpy()[None] * x.numpy()[:, None]),
    ):
        q = per_dimension(xi, x, base)
        np.testing.assert_allclose(q.numpy(), q_np, rtol=1e-14)
        np.testing.assert_allclose(footprint(q).numpy(), np.cumsum(-np.sort(-q_np, axis=-1), axis=-1), rtol=1e-12)
        np.testing.assert_allclose(footprint(q, sort=False, cumsum=False).numpy(), q_np)
        # the last cumulative entry is the plain similarity
        np.testing.assert_allclose(footprint(q)[..., -1].numpy(), q_np.sum(-1), rtol=1e-12)


@pytest.mark.parametrize("sort", [False, True])
@pytest.mark.parametrize("cumsum", [False, True])
def test_footprint_similarity_equals_its_definition(sort, cumsum):
    """s = Σ_b β_b w_bᵀ ftpt_b, computed directly, against the fast paths (weights folded through
    U, and matmuls without the sort)."""
    xi, x = data(4)
    sim = FootprintSimilarity(5, sort=sort, cumsum=cumsum).double()
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        sim.w.copy_(torch.randn(2, 5, generator=g, dtype=torch.float64))
        sim.beta.copy_(torch.tensor([0.7, -1.3], dtype=torch.float64))
    direct = torch.einsum("qnbd,bd->qn", sim.footprints(xi, x), sim.beta[:, None] * sim.w)
    torch.testing.assert_close(sim(xi, x), direct, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(sim.score_features(sim.features(xi, x)), direct, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sort", [False, True])
@pytest.mark.parametrize("cumsum", [False, True])
def test_footprint_starts_as_the_base_similarities(sort, cumsum):
    xi, x = data(6)
    sim = FootprintSimilarity(5, sort=sort, cumsum=cumsum, beta=(1.0, 0.25)).double()
    expected = DistanceSimilarity(1.0)(xi, x) + 0.25 * DotSimilarity(1.0)(xi, x)
    torch.testing.assert_close(sim(xi, x), expected, rtol=1e-12, atol=1e-12)


def test_footprint_gradients_match_finite_differences():
    xi, x = data(7, n=4, d=3, b=2)
    sim = FootprintSimilarity(3).double()
    with torch.no_grad():
        sim.w.add_(0.3 * torch.randn(2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    w, beta = sim.w.detach().clone().requires_grad_(), sim.beta.detach().clone().requires_grad_()

    def f(w, beta):
        return torch.logsumexp(torch.func.functional_call(sim, {"w": w, "beta": beta}, (xi, x)), -1)

    assert torch.autograd.gradcheck(f, (w, beta))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_sorted_footprint_ignores_the_order_of_dimensions(seed):
    """Sorting makes the footprint a function of the multiset of per-dimension similarities, so
    permuting the dimensions of memories and query together leaves every score unchanged."""
    xi, x = data(seed, d=6)
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(seed + 1))
    sim = FootprintSimilarity(6).double()
    with torch.no_grad():
        sim.w.copy_(torch.randn(2, 6, generator=torch.Generator().manual_seed(seed + 2), dtype=torch.float64))
    torch.testing.assert_close(sim(xi[:, perm], x[:, perm]), sim(xi, x), rtol=1e-10, atol=1e-10)


def test_linear_kernel_starts_as_the_dot_product():
    xi, x = data(8)
    torch.testing.assert_close(LinearKernelSimilarity(5, beta=2.0).double()(xi, x), 2.0 * x @ xi.T)


def test_batched_and_chunked_scores():
    xi, _ = data(9)
    x = torch.randn(2, 3, 5, dtype=torch.float64)
    model = AdaptiveHopfield(xi, FootprintSimilarity(5))
    s = model.scores(x)
    assert s.shape == (2, 3, 7) and s.dtype == torch.float64
    torch.testing.assert_close(model.scores(x, chunk_size=1), s)
    torch.testing.assert_close(s[1, 2], model.scores(x[1, 2]))


def test_bad_input_names_the_argument():
    xi, x = data(10)
    with pytest.raises(ValueError, match="bases"):
        FootprintSimilarity(5, bases=("cos",))
    with pytest.raises(ValueError, match="beta"):
        FootprintSimilarity(5, beta=(1.0,))
    with pytest.raises(ValueError, match="n_features"):
        FootprintSimilarity(4).double()(xi, x)
    with pytest.raises(ValueError, match="beta"):
        DotSimilarity(-1.0)
    with pytest.raises(ValueError, match="xi"):
        AdaptiveHopfield(xi[0], DotSimilarity())
    with pytest.raises(ValueError, match="similarity"):
        AdaptiveHopfield(xi, hd.LogSumExp(1.0))
    model = AdaptiveHopfield(xi, DotSimilarity())
    with pytest.raises(ValueError, match="x"):
        model.step(torch.randn(3, 4))
    with pytest.raises(ValueError, match="NaN"):
        model.step(torch.full((1, 5), float("nan")))
