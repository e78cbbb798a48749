"""Weighted memories, task changes, intrinsic forgetting and replay gains of hopdyn.continual (seed 002)."""
import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import hopdyn as hd
from hopdyn import continual as cl

F64 = torch.float64


def _gen(seed):
    return torch.Generator().manual_seed(seed)


# -- task changes --------------------------------------------------------------------------------
def test_random_rotations_are_expm_of_the_skew_part_and_orthogonal():
    V = cl.random_rotations(5, 6, 0.3, generator=_gen(0))
    W = torch.randn(5, 6, 6, generator=_gen(0), dtype=F64)  # the same draw
    for i in range(5):
        omega = (W[i] - W[i].T).numpy() / 2
        np.testing.assert_allclose(V[i].numpy(), scipy.linalg.expm(0.3 * omega), rtol=1e-12, atol=1e-13)
    eye = torch.eye(6, dtype=F64).expand(5, 6, 6)
    torch.testing.assert_close(V @ V.mT, eye, rtol=0, atol=1e-13)
    torch.testing.assert_close(torch.linalg.det(V), torch.ones(5, dtype=F64), rtol=0, atol=1e-12)


def test_rotated_memory_energy_is_the_energy_of_the_rotated_state():
    # q·(V ξ) = (Vᵀq)·ξ and ‖Vᵀq‖ = ‖q‖, so E(q | X Vᵀ) = E(Vᵀ q | X)
    X = torch.randn(7, 5, generator=_gen(1), dtype=F64)
    q = torch.randn(4, 5, generator=_gen(2), dtype=F64)
    V = cl.random_rotations(3, 5, 0.5, generator=_gen(3))
    lhs = cl.weighted_energy(q, cl.rotate(X, V), 3.0)
    rhs = cl.weighted_energy(q @ V, X, 3.0)  # rows of q @ V are Vᵀ q
    torch.testing.assert_close(lhs, rhs, rtol=1e-13, atol=1e-13)


def test_drift_and_replace_shapes_and_errors():
    X = torch.randn(4, 3, dtype=F64)
    assert cl.drift(X, 0.1, 7, generator=_gen(0)).shape == (7, 4, 3)
    assert cl.replace(X, torch.randn(9, 3, dtype=F64)).shape == (1, 9, 3)
    with pytest.raises(ValueError, match="X_new must have last dimension 3"):
        cl.replace(X, torch.randn(9, 2, dtype=F64))
    with pytest.raises(ValueError, match="eps"):
        cl.random_rotations(2, 3, -0.1)
    with pytest.raises(ValueError, match="V must have"):
        cl.rotate(X, torch.eye(3, dtype=F64)[:2])


# -- intrinsic forgetting ------------------------------------------------------------------------
def test_forgetting_at_fixed_points_is_the_hessian_quadratic_form():
    # ΔE = E(Vᵀq | X) − E(q | X) = ½ δᵀ H δ + O(ε³) with δ = Vᵀq − q, since ∇E(q) = 0 at a fixed point
    X = hd.datasets.cluster_and_outlier(4, 8, 0.4)
    beta, eps = 6.0, 2e-3
    V = cl.random_rotations(3, 8, eps, generator=_gen(4))
    f = cl.intrinsic_forgetting(X, X, cl.rotate(X, V), beta)
    energy = lambda v: 0.5 * v @ v - torch.logsumexp(beta * X @ v, 0) / beta
    for k in range(X.shape[0]):
        H = torch.autograd.functional.hessian(energy, f.points[k])
        delta = f.points[k] @ V - f.points[k]  # (R, d)
        quad = 0.5 * torch.einsum("ri,ij,rj->r", delta, H, delta)
        torch.testing.assert_close(f.delta[:, k], quad, rtol=5e-3, atol=0)
    # at the raw samples the gradient term is first order: ΔE is not the quadratic form there
    raw = cl.intrinsic_forgetting(X, X, cl.rotate(X, V), beta, at="raw")
    assert raw.at == "raw" and torch.equal(raw.points, X)


def test_forgetting_validates():
    X = torch.randn(4, 3, dtype=F64)
    with pytest.raises(ValueError, match="at must be"):
        cl.intrinsic_forgetting(X, X, X, 1.0, at="middle")
    with pytest.raises(ValueError, match="mass_new must have one entry per memory"):
        cl.intrinsic_forgetting(X, X, X, 1.0, mass_new=[1.0, 2.0])
    with pytest.raises(ValueError, match="mass_old must be > 0"):
        cl.intrinsic_forgetting(X, X, X, 1.0, mass_old=[1.0, 0.0, 1.0, 1.0])


# -- replay --------------------------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n_old=st.integers(2, 7), d=st.integers(2, 6),
       beta=st.floats(0.2, 30.0), m_r=st.floats(0.01, 50.0), change=st.sampled_from(["rotate", "drift"]),
       at=st.sampled_from(["fixed_point", "raw"]))
def test_closed_form_replay_gain_is_the_direct_gain(seed, n_old, d, beta, m_r, change, at):
    g = _gen(seed)
    X = torch.randn(n_old, d, generator=g, dtype=F64)
    mass_old = torch.rand(n_old, generator=g, dtype=F64) + 0.1
    X_new = (cl.rotate(X, cl.random_rotations(3, d, 0.3, generator=g)) if change == "rotate"
             else cl.drift(X, 0.5, 3, generator=g))
    mass_new = torch.rand(n_old, generator=g, dtype=F64) + 0.1
    f = cl.intrinsic_forgetting(X, X, X_new, beta, mass_old=mass_old, mass_new=mass_new, at=at)
    direct = cl.pairwise_replay_gain(f.points, X_new, X, beta, m_r, mass_new=mass_new)  # (R, S, K)
    p = cl.retrieval_weights(f.points, X, beta, mass_old).mT
    closed = cl.replay_gain_closed_form(p, f.delta, beta, m_r, old_mass=mass_old)
    torch.testing.assert_close(closed, direct, rtol=1e-9, atol=1e-12)
    # and the pairwise gain is the energy difference of the two networks, one pattern at a time
    r = seed % n_old
    joint = cl.replay_gain(f.points, X_new, X[r:r + 1], beta, m_r, mass_new=mass_new)
    torch.testing.assert_close(direct[:, r], joint, rtol=1e-9, atol=1e-12)


def test_joint_replay_is_the_energy_of_the_bigger_network():
    X_new = torch.randn(5, 3, generator=_gen(5), dtype=F64)
    rep = torch.randn(2, 3, generator=_gen(6), dtype=F64)
    q = torch.randn(4, 3, generator=_gen(7), dtype=F64)
    X, m = cl.insert_replay(X_new, rep, [0.3, 2.0])
    assert X.shape == (7, 3) and m.tolist() == [1.0] * 5 + [0.3, 2.0]
    big = hd.MHN(X, memory=hd.WeightedLogSumExp(2.0, m))
    small = hd.MHN(X_new, memory=hd.LogSumExp(2.0))
    torch.testing.assert_close(cl.replay_gain(q, X_new, rep, 2.0, [0.3, 2.0]), small.energy(q) - big.energy(q))


def test_closed_form_does_not_overflow_for_large_forgetting():
    p = torch.tensor([[0.5, 0.0]], dtype=F64)
    gain = cl.replay_gain_closed_form(p, torch.tensor([200.0, 1.0], dtype=F64), beta=50.0)
    # β ΔE = 1e4: Δ = ΔE + β⁻¹ log p to within e^{-1e4}; p = 0 gives no gain at all
    assert gain[0, 0].item() == pytest.approx(200.0 + np.log(0.5) / 50.0, rel=1e-15)
    assert gain[0, 1].item() == 0.0


def test_select_replay_policies():
    e = torch.tensor([0.3, -1.0, 2.0, 0.5, 0.5 + 1e-12], dtype=F64)
    assert cl.select_replay(e, 2, "top").tolist() == [2, 3]  # 3 and 4 tie at 9 decimals: lower index first
    assert cl.select_replay(e, 2, "bottom").tolist() == [1, 0]
    r1 = cl.select_replay(e, 3, "random", generator=_gen(0))
    assert r1.tolist() == cl.select_replay(e, 3, "random", generator=_gen(0)).tolist()
    assert len(set(r1.tolist())) == 3
    with pytest.raises(ValueError, match="policy must be one of"):
        cl.select_replay(e, 2, "middle")
    with pytest.raises(ValueError, match="k must be at most"):
        cl.select_replay(e, 6, "top")


def test_compare_policies_matches_direct_replay():
    X = torch.randn(12, 4, generator=_gen(8), dtype=F64)
    X_new = cl.drift(X, 0.4, 2, generator=_gen(9))
    f = cl.intrinsic_forgetting(X, X, X_new, 3.0)
    res = {p.policy: p for p in cl.compare_policies(f, X, X_new, 3.0, k=3, total_mass=1.5, n_random=4)}
    assert set(res) == {"top", "random", "bottom"}
    idx = cl.select_replay(f.energy_old, 3, "top")
    gain = cl.replay_gain(f.points, X_new, X[idx], 3.0, 0.5)
    lost = f.delta.clamp(min=0)
    assert res["top"].restored == pytest.approx(float(torch.minimum(gain, lost).sum() / lost.sum()), rel=1e-12)
    assert res["top"].mean_residual == pytest.approx(float((f.delta - gain).mean()), rel=1e-10)
    assert res["top"].restored_sd == 0 and res["random"].restored_sd >= 0


def test_float32_in_float32_out():
    X = torch.randn(6, 3, generator=_gen(10))
    X_new = cl.rotate(X, cl.random_rotations(2, 3, 0.1, generator=_gen(11), dtype=torch.float32))
    f = cl.intrinsic_forgetting(X, X.double(), X_new, 2.0)
    assert f.points.dtype == f.delta.dtype == torch.float32
    assert cl.pairwise_replay_gain(f.points, X_new, X, 2.0).dtype == torch.float32
    ref = cl.intrinsic_forgetting(X.double(), X.double(), X_new.double(), 2.0)
    torch.testing.assert_close(f.delta.double(), ref.delta, rtol=1e-3, atol=1e-5)


def test_the_users_network_is_the_analysis_network():
    g = torch.Generator().manual_seed(3)
    X = torch.randn(6, 4, generator=g, dtype=torch.float64)
    x = X + 0.1 * torch.randn(6, 4, generator=g, dtype=torch.float64)
    mass = torch.rand(6, generator=g, dtype=torch.float64) + 0.5
    X_new = cl.rotate(X, cl.random_rotations(3, 4, 0.1, generator=g))
    net = hd.MHN(X, memory=hd.WeightedLogSumExp(2.0, mass))
    # the network form equals the (X, β, m) convenience form
    torch.testing.assert_close(cl.weighted_energy(x, net), cl.weighted_energy(x, X, 2.0, mass))
    torch.testing.assert_close(cl.retrieval_weights(x, net), cl.retrieval_weights(x, X, 2.0, mass))
    torch.testing.assert_close(cl.retrieve(x, net), cl.retrieve(x, X, 2.0, mass))
    a = cl.intrinsic_forgetting(x, net, X_new, mass_new=mass)
    b = cl.intrinsic_forgetting(x, X, X_new, 2.0, mass_old=mass, mass_new=mass)
    torch.testing.assert_close(a.points, b.points)
    torch.testing.assert_close(a.delta, b.delta)
    # ... and a network the convenience form cannot express keeps its Lagrangians
    absnet = net.replace(feature=hd.Abs())
    torch.testing.assert_close(cl.weighted_energy(x, absnet), absnet.energy(x))
    f = cl.intrinsic_forgetting(x, absnet, X_new, at="raw")
    torch.testing.assert_close(f.energy_new[1], absnet.replace(xi=X_new[1], memory=hd.WeightedLogSumExp(2.0, torch.ones(6))).energy(x))
    with pytest.raises(ValueError, match="network"):
        cl.weighted_energy(x, net, 2.0)
    with pytest.raises(ValueError, match="beta is required"):
        cl.intrinsic_forgetting(x, X, X_new)
