"""The speed paths of the core (issue 15): the thresholded softmax and run-to-convergence.

No timings here (those belong to ``hopdyn bench``): only that the fast paths give the results
of the plain ones.
"""
import pytest
import torch

from hopdyn import MHN, LogSumExp, RecLag, iterate
from hopdyn.core.lagrangians import softmax


def _scores(n_v, n_h, b, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    xi = torch.randn(n_h, n_v, generator=g, dtype=torch.float64).to(dtype)
    v = torch.randn(b, n_v, generator=g, dtype=torch.float64).to(dtype)
    return xi, v


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("beta", [0.01, 1.0, 5.0, 50.0, 1e3])
@pytest.mark.parametrize("n_h", [5, 250])
def test_thresholded_softmax_equals_torch(dtype, beta, n_h):
    xi, v = _scores(64, n_h, 1024, dtype)
    h = v @ xi.T
    p = softmax(h, beta)
    z = beta * h
    ref = torch.softmax(z, dim=-1)
    # the same to the rounding of z = βh: an error δ in z moves p by ≤ δ relative
    eps = torch.finfo(dtype).eps
    tol = 8 * eps * (1 + z.abs().amax(-1, keepdim=True))
    assert bool(((p - ref).abs() <= tol * ref.clamp(min=torch.finfo(dtype).tiny) + eps * 1e-3).all())
    assert torch.equal(p.argmax(-1), ref.argmax(-1))
    assert bool(((p.amax(-1) - ref.amax(-1)).abs() <= tol[:, 0] * ref.amax(-1)).all())
    assert torch.allclose(p.sum(-1), torch.ones(p.shape[0], dtype=dtype), rtol=0, atol=8 * eps)


@pytest.mark.parametrize("n_h", [5, 250])
def test_no_subnormal_in_float32_softmax(n_h):
    # β = 5 at (a reduced) paper scale: the plain softmax has subnormal entries, ours none
    xi, v = _scores(512, n_h, 512, torch.float32)
    h = v @ xi.T
    tiny = torch.finfo(torch.float32).tiny
    plain = torch.softmax(5.0 * h, dim=-1)
    assert bool(((plain != 0) & (plain < tiny)).any())
    p = softmax(h, 5.0)
    assert not bool(((p != 0) & (p.abs() < tiny)).any())


@pytest.mark.parametrize("dtype,rtol", [(torch.float32, 1e-6), (torch.float64, 1e-14)])
@pytest.mark.parametrize("beta", [0.01, 1.0, 5.0, 50.0])
@pytest.mark.parametrize("memory", [LogSumExp, lambda beta: RecLag(beta, 1.0)])
def test_step_equals_unthresholded_reference(dtype, rtol, beta, memory):
    xi, v = _scores(128, 250, 256, dtype)
    net = MHN(xi, memory=memory(beta))
    h = v @ xi.T
    out = net.step(v)
    scale = (torch.softmax(beta * h, dim=-1) @ xi).abs().amax(-1, keepdim=True)
    # the same scores β(h − max h), not thresholded: only the dropped mass differs
    ref = torch.softmax(torch.add(-beta * h.amax(-1, keepdim=True), h, alpha=beta), dim=-1) @ xi
    assert float(((out - ref).abs() / scale).max()) <= rtol
    # against the plain formula softmax(βh): equal to the rounding of βh
    plain = torch.softmax(beta * h, dim=-1) @ xi
    z_round = 8 * torch.finfo(dtype).eps * (1 + (beta * h).abs().amax())
    assert float(((out - plain).abs() / scale).max()) <= max(rtol, float(z_round))


def test_thresholded_softmax_autograd():
    xi, v = _scores(16, 12, 64, torch.float64)
    h = (v @ xi.T).requires_grad_(True)
    w = torch.randn(64, 12, dtype=torch.float64)
    (softmax(h, 3.0) * w).sum().backward()
    h2 = h.detach().clone().requires_grad_(True)
    (torch.softmax(3.0 * h2, dim=-1) * w).sum().backward()
    assert torch.allclose(h.grad, h2.grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("keep", ["last", "path"])
def test_iterate_tol_equals_fixed_steps_for_converged_samples(keep):
    # step counts that differ a lot: most samples start at a memory, a few between memories
    g = torch.Generator().manual_seed(3)
    xi = 2.0 * torch.randn(6, 2, generator=g, dtype=torch.float64)
    n = 4000
    v0 = xi[torch.randint(0, 6, (n,), generator=g)] + 0.05 * torch.randn(n, 2, generator=g, dtype=torch.float64)
    slow = torch.rand(n, generator=g) < 0.2
    v0[slow] = 3 * torch.randn(int(slow.sum()), 2, generator=g, dtype=torch.float64)
    net = MHN(xi, memory=LogSumExp(4.0))
    steps = 200
    res = iterate(net, v0, steps=steps, tol=1e-9, keep=keep)
    fixed = iterate(net, v0, steps=steps, keep="path")
    assert bool(res.converged.any()) and int(res.n_steps.min()) < int(res.n_steps.max())
    k = res.n_steps
    rows = torch.arange(n)
    at_k = fixed.v[k, rows]  # fixed-step state at each sample's own step count
    end = res.v[-1]
    assert torch.allclose(end, at_k, rtol=0, atol=1e-12)
    # converged samples: k steps and the previous state are within tol
    c = res.converged
    prev = fixed.v[(k - 1).clamp(min=0), rows]
    assert bool(((at_k[c] - prev[c]).abs().amax(-1) <= 1e-9).all())
    if keep == "path":
        # frozen after convergence, and equal to the fixed run before
        for t in sorted({0, 1, 5, 50, res.v.shape[0] - 1} & set(range(res.v.shape[0]))):
            tk = torch.minimum(torch.tensor(t), k)
            assert torch.allclose(res.v[t], fixed.v[tk, rows], rtol=0, atol=1e-12)


def test_iterate_tol_reclag_float32_chunks():
    g = torch.Generator().manual_seed(4)
    xi = torch.randn(20, 8, generator=g)
    v0 = 2 * torch.randn(3000, 8, generator=g)
    net = MHN(xi, memory=RecLag(3.0, 30.0))
    res = iterate(net, v0, steps=100, tol=1e-5, keep="last", chunk_size=700)
    fixed = iterate(net, v0, steps=100, keep="path", chunk_size=700)
    at_k = fixed.v[res.n_steps, torch.arange(3000)]
    assert torch.allclose(res.v[-1], at_k, rtol=0, atol=1e-6)
