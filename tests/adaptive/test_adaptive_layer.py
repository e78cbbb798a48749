"""AdaptiveHopfield as a differentiable layer: gradients (finite differences), batched banks
against a loop over 2-D banks, learned memories, the heads, and the fast sorted footprint
against the paper's literal definition."""
import numpy as np
import pytest
import torch
from torch.func import functional_call

from hopdyn.adaptive import (
    AdaptiveHopfield,
    DistanceSimilarity,
    DotSimilarity,
    FootprintSimilarity,
    HopfieldClassifier,
    HopfieldPooling,
    fit,
    make_model,
    sorted_contraction,
)


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def footprint_sim(d, seed=0):
    sim = FootprintSimilarity(d).double()
    with torch.no_grad():
        sim.w.copy_(rand(2, d, seed=seed))
        sim.beta.copy_(torch.tensor([0.7, -0.4], dtype=torch.float64))
    return sim


def test_fast_footprint_equals_the_literal_definition_and_its_gradients():
    """s = Σ_b β_b w_bᵀ U sort↓(q_b) through torch.sort + cumsum (autograd differentiates the sort)
    against the fast path (numpy argsort, weights folded through U, scatter backward): values and
    the gradients in ξ, x, w and β agree to 1e-12 in float64."""
    sim = footprint_sim(9)
    xi, x = rand(11, 9, seed=1).requires_grad_(), rand(6, 9, seed=2).requires_grad_()
    ref = torch.einsum("qnbd,bd->qn", sim.footprints(xi, x), sim.beta[:, None] * sim.w)
    fast = sim(xi, x)
    torch.testing.assert_close(fast, ref, rtol=1e-12, atol=1e-12)
    g = rand(6, 11, seed=3)
    params = (xi, x, sim.w, sim.beta)
    for a, b in zip(torch.autograd.grad(ref, params, g), torch.autograd.grad(fast, params, g)):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)
    with torch.no_grad():  # the values-only path
        torch.testing.assert_close(sim(xi, x), ref, rtol=1e-12, atol=1e-12)


def test_sorted_contraction_gradcheck():
    q, v = rand(5, 3, 2, 7, seed=4).requires_grad_(), rand(2, 7, seed=5).requires_grad_()
    assert torch.autograd.gradcheck(sorted_contraction, (q, v))


@pytest.mark.parametrize("make", [lambda d: footprint_sim(d), lambda d: DotSimilarity(0.8).double(),
                                  lambda d: DistanceSimilarity(0.3).double()])
def test_retrieval_gradients_reach_memories_and_queries(make):
    """step, probabilities, iterate and readout are differentiable in the memories, the queries
    and the similarity's parameters: torch.autograd.gradcheck (finite differences, float64)."""
    d = 4
    model = AdaptiveHopfield(None, make(d), n_features=d).double()
    xi, x, vals = rand(5, d, seed=6), rand(3, d, seed=7), rand(5, 2, seed=8)

    class Probe(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = model

        def forward(self, xi, x):
            m = self.layer
            return (m.step(x, memories=xi), m.probabilities(x, memories=xi), m.iterate(x, 2, memories=xi).final,
                    m.readout(x, vals, memories=xi))

    probe = Probe()
    names = [n for n, _ in probe.named_parameters()]

    def run(xi, x, *params):
        return functional_call(probe, dict(zip(names, params)), (xi, x))

    params = tuple(p.detach().clone().requires_grad_() for p in probe.parameters())
    assert torch.autograd.gradcheck(run, (xi.requires_grad_(), x.requires_grad_(), *params))


def test_batched_bank_equals_a_loop_over_2d_banks():
    sim = footprint_sim(6)
    model = AdaptiveHopfield(None, sim, n_features=6).double()
    bank, x, xm = rand(4, 7, 6, seed=9), rand(4, 6, seed=10), rand(4, 3, 6, seed=11)
    for q in (x, xm):
        batched = (model.scores(q, memories=bank), model.step(q, memories=bank),
                   model.iterate(q, 3, memories=bank).final)
        for b in range(4):
            loop = (model.scores(q[b], memories=bank[b]), model.step(q[b], memories=bank[b]),
                    model.iterate(q[b], 3, memories=bank[b]).final)
            for u, v in zip(batched, loop):
                torch.testing.assert_close(u[b], v, rtol=1e-12, atol=1e-12)
    for s in (DotSimilarity(0.5), DistanceSimilarity(0.5), FootprintSimilarity(6, sort=False)):
        m = AdaptiveHopfield(None, s, n_features=6).double()
        torch.testing.assert_close(m.scores(xm, memories=bank)[2], m.scores(xm[2], memories=bank[2]), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="memories"):
        model.step(rand(3, 6), memories=bank)
    with pytest.raises(ValueError, match="memories"):
        model.step(x)


def test_learned_memories_move_and_stored_ones_do_not():
    xi = rand(8, 5, seed=12)
    x, k = xi.repeat(4, 1) + 0.3 * rand(32, 5, seed=13), torch.arange(8).repeat(4)
    for learn in (False, True):
        model = AdaptiveHopfield(xi, FootprintSimilarity(5), learn_memories=learn)
        fit(model, x, k, epochs=3, progress=False)
        moved = not torch.equal(model.xi.detach(), xi)
        assert moved == learn and isinstance(model.xi, torch.nn.Parameter) == learn


def test_classifier_head_is_a_probability_mixture():
    xi, y = rand(6, 4, seed=14), torch.tensor([0, 1, 2, 0, 1, 2])
    clf = HopfieldClassifier(xi, y, DotSimilarity(1.0)).double()
    x = rand(5, 4, seed=15)
    logp = clf(x)
    p = clf.memory.probabilities(x) @ torch.softmax(clf.values, -1)
    torch.testing.assert_close(logp.exp(), p, rtol=1e-12, atol=1e-12)
    logp.sum().backward()
    assert clf.memory.xi.grad.abs().sum() > 0 and clf.values.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="labels"):
        HopfieldClassifier(xi, y[:3], DotSimilarity())


def test_pooling_trains_end_to_end_on_bags():
    """Bags are positive iff one instance has a large first feature; pooling with a footprint
    similarity learns it in a few dozen Adam steps (gradients through per-sample banks)."""
    g = torch.Generator().manual_seed(16)
    bags = torch.randn(64, 5, 3, generator=g)
    pos = torch.arange(64) % 2 == 0
    bags[pos, 0, 0] = 4.0
    pool = HopfieldPooling(3, FootprintSimilarity(8), 8, seed=0)
    opt = torch.optim.Adam(pool.parameters(), lr=0.05)
    for _ in range(60):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(pool(bags).squeeze(-1), pos.float())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = float(((pool(bags).squeeze(-1) > 0) == pos).float().mean())
    assert acc > 0.9, acc


def test_sparse_models_train_and_retrieve():
    xi = rand(10, 8, seed=17)
    x, k = xi.repeat(6, 1) + 0.2 * rand(60, 8, seed=18), torch.arange(10).repeat(6)
    for name in ("Sparse-Hop", "Entmax-Hop", "U-Hop"):
        model = make_model(name, xi)
        res = fit(model, x, k, epochs=20, progress=False)
        assert np.isfinite(res.losses).all()
        with torch.no_grad():
            p = model.probabilities(x)
        torch.testing.assert_close(p.sum(-1), torch.ones(60, dtype=p.dtype))
        assert float((p.argmax(-1) == k).double().mean()) > 0.9, name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("d", [1, 2, 5, 64, 2000])
def test_packed_index_sort_is_an_exact_sort(dtype, d):
    """The CPU sort packs the index into the low mantissa bits (float32, d ≤ 1024): its values
    must equal torch.sort's exactly, with ties, ±0, subnormals, ±inf and equal rows, and its
    indices must be a permutation that gathers them."""
    from hopdyn.adaptive.similarity import _sort_with_indices

    q = torch.randn(40, 3, d, generator=torch.Generator().manual_seed(d), dtype=torch.float64).to(dtype)
    q[0, 0] = 1.0
    q[1, 1, ::2] = 0.0
    q[1, 2, 1::2] = -0.0
    q[3] = q[3].round(decimals=1)
    q[4] = q[4] * 1e-40
    values, idx = _sort_with_indices(q)
    assert torch.equal(values, q.sort(-1).values)
    assert torch.equal(q.gather(-1, idx), values)
    assert torch.equal(idx.sort(-1).values, torch.arange(d).expand_as(idx))
    q[2, 0, 0], q[2, 0, -1] = float("inf"), -float("inf")
    assert torch.equal(_sort_with_indices(q)[0], q.sort(-1).values)
