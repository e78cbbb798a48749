"""Edge cases of RecLag's event location in ``integrate`` (issue 12, items 1 and 9).

Short excursions into B0 = {G < 0} between two sub-grid checks, the side taken on the repulsive
part of the switching surface (per sample, whatever else is in the batch), no sliding fallback
for adiabatic RecLag, and the located switch times.
"""
import math
import warnings

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from scipy.special import logsumexp, softmax

import hopdyn as hd
from conftest import random_net_params, scipy_reference

# Two-dimensional case with a known short excursion: along the open (gate frozen at 1) flow from
# DIP_V0, G(ξv) < 0 only for t ∈ [1.109, 1.227] (0.117 time units), strictly between the sub-grid
# checks at t = 1.0 and 1.25 (event_dt = τ_V/4). Since γ = 18.1 > N_H = 3, B0 is convex, contains
# 0 and is invariant under the closed flow −v: the true path ends at the origin. NEAR_V0, 0.005
# away, passes the same place with min G = +0.0125 and ends at a memory.
DIP_XI = [[-0.8, 0.12], [-0.25, 2.68], [0.27, -2.82]]
DIP_BETA, DIP_GAMMA = 2.0, 18.1
DIP_V0 = [-3.664, -0.82]
NEAR_V0 = [-3.663, -0.825]
# a second one: G < 0 for t ∈ [0.605, 0.724]
DIP2_XI = [[2.41, -1.55], [-0.2, 0.54], [2.47, 0.18]]
DIP2_GAMMA = 11.6
DIP2_V0 = [-0.012, 3.172]


def reference(xi, beta, gamma, v0, t_eval, max_step=0.002):
    """The shared solve_ivp reference (conftest) with steps short enough (``max_step``) that its
    sign check between steps cannot miss an excursion of 0.1. Returns (states, switch times)."""
    return scipy_reference(xi, beta, gamma, v0, t_eval, max_step=max_step)


def open_path_G(xi, beta, gamma, v0, t):
    """G along the open flow (gate frozen at 1) at times t."""
    xi = np.asarray(xi, dtype=float)
    sol = solve_ivp(lambda _t, y: xi.T @ softmax(beta * (xi @ y)) - y, (0, t[-1]), np.asarray(v0, float),
                    method="DOP853", rtol=1e-12, atol=1e-13, dense_output=True)
    return logsumexp(beta * (xi @ sol.sol(t)), axis=0) - math.log(gamma)


@pytest.mark.parametrize("xi, gamma, v0, window", [
    (DIP_XI, DIP_GAMMA, DIP_V0, (1.0, 1.25)),
    (DIP2_XI, DIP2_GAMMA, DIP2_V0, (0.5, 0.75)),
], ids=["dip1", "dip2"])
def test_short_excursion_into_B0_is_caught(xi, gamma, v0, window):  # noqa: N802
    t = np.linspace(0, 6, 13)
    # the case is what it claims: along the open flow G > 0 on the old sub-grid (every 0.25),
    # G < 0 inside one sub-interval, for less than 0.2 time units
    g_grid = open_path_G(xi, DIP_BETA, gamma, v0, np.arange(0, 6.01, 0.25))
    assert (g_grid > 0).all()
    fine = np.linspace(*window, 2001)
    g_fine = open_path_G(xi, DIP_BETA, gamma, v0, fine)
    dip = fine[g_fine < 0]
    assert dip.size and 0.05 < dip[-1] - dip[0] < 0.2

    ref, ref_times = reference(xi, DIP_BETA, gamma, v0, t)
    assert len(ref_times) == 1 and window[0] < ref_times[0] < window[1]
    net = hd.MHN(torch.tensor(xi, dtype=torch.float64), memory=hd.RecLag(DIP_BETA, gamma))
    for rtol, atol in ((1e-7, 1e-9), (1e-11, 1e-13)):  # tolerances were never the issue
        traj = hd.integrate(net, torch.tensor([v0], dtype=torch.float64), t, rtol=rtol, atol=atol)
        assert traj.n_switches.item() == 1
        np.testing.assert_allclose(traj.switch_times[0].numpy(), ref_times, atol=1e-6, rtol=0)
        np.testing.assert_allclose(traj.v[:, 0].numpy(), ref, atol=1e-6, rtol=0)
        # after entering B0 the path is the closed flow v(t) = v(t_e)·exp(−(t − t_e)) towards 0
        assert traj.final.norm() < 0.03
    # float32 too, and inside a batch of other starts
    others = 3 * torch.randn(20, 2, generator=torch.Generator().manual_seed(0))
    v32 = torch.cat([torch.tensor([v0], dtype=torch.float32), others])
    net32 = hd.MHN(torch.tensor(xi, dtype=torch.float32), memory=hd.RecLag(DIP_BETA, gamma))
    traj = hd.integrate(net32, v32, torch.tensor(t, dtype=torch.float32), rtol=1e-5, atol=1e-6)
    assert traj.n_switches[0].item() == 1
    np.testing.assert_allclose(traj.v[:, 0].numpy(), ref, atol=2e-4, rtol=0)


def test_near_miss_is_not_a_crossing():
    # min G = +0.0125 between the same two sub-grid checks: a dip is suspected and refined, but
    # it stays on the open side, so there is no switch and the path ends at a memory
    t = np.linspace(0, 6, 13)
    g_fine = open_path_G(DIP_XI, DIP_BETA, DIP_GAMMA, NEAR_V0, np.linspace(1.0, 1.25, 2001))
    assert 0 < g_fine.min() < 0.02
    ref, ref_times = reference(DIP_XI, DIP_BETA, DIP_GAMMA, NEAR_V0, t)
    assert len(ref_times) == 0
    net = hd.MHN(torch.tensor(DIP_XI, dtype=torch.float64), memory=hd.RecLag(DIP_BETA, DIP_GAMMA))
    traj = hd.integrate(net, torch.tensor([NEAR_V0, DIP_V0], dtype=torch.float64), t)
    assert traj.n_switches.tolist() == [0, 1]
    assert traj.switch_times.shape == (2, 1) and math.isnan(traj.switch_times[0, 0])
    np.testing.assert_allclose(traj.v[:, 0].numpy(), ref, atol=1e-6, rtol=0)
    assert traj.final[0].norm() > 2.0 and traj.final[1].norm() < 0.03


def surface_points(net, n_rays, seed):
    """Points on G = 0 (to the last bit, both sides) along random rays from the origin, for
    γ > N_H (G is convex along a ray and negative at 0: one crossing per ray)."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(n_rays, net.n_features, dtype=torch.float64, generator=g)
    u = u / u.norm(dim=-1, keepdim=True)
    lo = torch.zeros(n_rays, dtype=torch.float64)
    hi = torch.full((n_rays,), 100.0, dtype=torch.float64)
    for _ in range(100):
        mid = (lo + hi) / 2
        outside = net.gate_value(mid[:, None] * u) >= 0
        hi = torch.where(outside, mid, hi)
        lo = torch.where(outside, lo, mid)
    v = torch.cat([lo[:, None] * u, hi[:, None] * u])
    return v[net.gate_value(v).abs() < 1e-12]


def surface_rates(net, v):
    """dG/dt of the open and the closed flow at v (SPEC: β(‖ξᵀp‖² − p·h) and −β p·h on G = 0)."""
    h = net.hidden(v)
    p = torch.softmax(net.memory.beta * h, -1)
    ph = (p * h).sum(-1)
    return net.memory.beta * (((p @ net.xi) ** 2).sum(-1) - ph), -net.memory.beta * ph


def test_repulsive_surface_side_does_not_depend_on_the_batch():
    # on the repulsive part of G = 0 both flows leave the surface; the last bit of G differs
    # between a sample computed alone and inside a batch (N_V = 5 here), and used to pick the side
    net = hd.MHN(random_net_params(4, n_h=4, n_v=5), memory=hd.RecLag(2.0, 12.0))
    v = surface_points(net, 12, seed=1)
    r_open, r_closed = surface_rates(net, v)
    rep = v[(r_open > 0) & (r_closed < 0)]
    assert rep.shape[0] >= 8
    others = 2 * torch.randn(39, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(100))
    t = [0.0, 5.0, 10.0]
    batch = hd.integrate(net, torch.cat([rep, others]), t)
    for b in range(rep.shape[0]):
        alone = hd.integrate(net, rep[b:b + 1], t)
        among = hd.integrate(net, torch.cat([others[:b], rep[b:b + 1], others[b:]]), t)
        for res in (batch.final[b], among.final[b]):
            torch.testing.assert_close(res, alone.final[0], atol=1e-5, rtol=0)
        assert alone.n_switches.item() == 0
    # the documented rule: on a repulsive part the gate is open (χ(0) = 1), so no start ends at 0
    assert (batch.final[: rep.shape[0]].norm(dim=-1) > 1.0).all()


def test_start_on_the_surface_takes_the_flows_side():
    # where both flows cross the surface into B0 (r_open < 0, r_closed < 0) a start on G = 0 is
    # closed and ends at 0; elsewhere (for γ > N_H the repulsive part) it is open and ends at a
    # memory; no switch is counted either way
    net = hd.MHN(random_net_params(1, n_h=4, n_v=2), memory=hd.RecLag(2.0, 12.0))
    v = surface_points(net, 64, seed=2)
    r_open, r_closed = surface_rates(net, v)
    entering = (r_open < 0) & (r_closed < 0)
    assert entering.sum() >= 4 and (~entering).sum() >= 4
    traj = hd.integrate(net, v, [0.0, 20.0])
    assert (traj.n_switches == 0).all()
    at_origin = traj.final.norm(dim=-1) < 1e-6
    assert torch.equal(at_origin, entering)


@pytest.mark.parametrize("seed", range(3))
def test_no_sliding_fallback_for_adiabatic_reclag_gamma_at_most_n_h(seed):
    # SPEC: adiabatic RecLag with quadratic L_V has no attracting sliding mode, so the RK4
    # sliding fallback (and its warning) must not fire, also for γ ≤ N_H
    n_h, n_v = [(5, 2), (4, 3), (6, 5)][seed]
    xi = random_net_params(seed, n_h=n_h, n_v=n_v, scale=1.5)
    g = torch.Generator().manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hd.GateCrossingWarning)
        for ratio in (0.3, 0.7, 1.0):
            net = hd.MHN(xi, memory=hd.RecLag(2.0, ratio * n_h))
            v0 = torch.cat([2 * torch.randn(64, n_v, dtype=torch.float64, generator=g),
                            torch.zeros(1, n_v, dtype=torch.float64)])  # G(0) = 0 at γ = N_H
            traj = hd.integrate(net, v0, np.linspace(0, 5, 11))
            assert traj.n_switches.max() <= 2
            if ratio == 1.0:  # from 0 the open flow leaves the surface: no switch, mean memory first
                assert traj.n_switches[-1] == 0


def test_switch_times_match_solve_ivp_events():
    # memories near the origin: trajectories start with the gate open and enter B0 on the way
    xi = random_net_params(11, n_h=5, n_v=3, scale=0.5)
    beta, gamma = 3.0, 12.0
    v0 = 2.0 * torch.randn(2, 12, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    t = np.linspace(0.5, 6, 12)
    traj = hd.integrate(hd.MHN(xi, memory=hd.RecLag(beta, gamma)), v0, t, rtol=1e-10, atol=1e-12)
    times = traj.switch_times
    assert times.shape == (2, 12, int(traj.n_switches.max()))
    crossed = 0
    for i in range(2):
        for j in range(12):
            n = int(traj.n_switches[i, j])
            row = times[i, j]
            assert torch.isnan(row[n:]).all() and not torch.isnan(row[:n]).any()
            assert (row[:n] >= t[0]).all() and (row[:n] <= t[-1]).all()
            assert (row[1:n] > row[: n - 1]).all()
            _, ref_times = reference(xi, beta, gamma, v0[i, j].numpy(), t, max_step=np.inf)
            assert n == len(ref_times)
            np.testing.assert_allclose(row[:n].numpy(), ref_times, atol=1e-6, rtol=0)
            crossed += n > 0
    assert crossed >= 5


def test_switch_times_in_and_out_of_B0():
    # γ < N_H: B0 does not contain 0 and the closed flow −v leaves it again, so a path can switch
    # in and out
    xi = torch.tensor([[-1.406, -2.016], [-0.73, 1.968], [0.952, -1.85]], dtype=torch.float64)
    beta, gamma = 1.0, 2.895
    net = hd.MHN(xi, memory=hd.RecLag(beta, gamma))
    v0 = torch.tensor([[3.143, 1.399]], dtype=torch.float64)
    t = np.linspace(0, 5, 6)
    traj = hd.integrate(net, v0, t, rtol=1e-10, atol=1e-12)
    _, ref_times = reference(xi.numpy(), beta, gamma, v0[0].numpy(), t, max_step=np.inf)
    assert traj.n_switches.item() == len(ref_times) == 2
    np.testing.assert_allclose(traj.switch_times[0].numpy(), ref_times, atol=1e-6, rtol=0)
    # a run that stops at a switch time ends on G = 0 (and does not slide there)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hd.GateCrossingWarning)
        for ts in traj.switch_times[0].tolist():
            stop = hd.integrate(net, v0, [0.0, ts], rtol=1e-10, atol=1e-12)
            assert abs(net.gate_value(stop.final).item()) < 1e-6


def test_two_variable_switch_times():
    xi = random_net_params(12, n_h=4, n_v=3)
    net = hd.MHN(xi, memory=hd.RecLag(1.5, 20.0), tau_v=1.0, tau_h=0.3)
    g = torch.Generator().manual_seed(1)
    v0 = 1.5 * torch.randn(8, 3, dtype=torch.float64, generator=g)
    h0 = torch.randn(8, 4, dtype=torch.float64, generator=g)
    traj = hd.integrate(net, v0, np.linspace(0, 5, 11), h0=h0, rtol=1e-10, atol=1e-12)
    assert traj.switch_times.shape == (8, int(traj.n_switches.max()))
    assert traj.n_switches.sum() >= 1
    for b in range(8):
        n = int(traj.n_switches[b])
        row = traj.switch_times[b]
        assert torch.isnan(row[n:]).all() and (row[1:n] > row[: n - 1]).all()
        for k in range(n):
            # h at the switch time, from a run that stops there: G(h) = 0
            with warnings.catch_warnings():
                warnings.simplefilter("error", hd.GateCrossingWarning)
                stop = hd.integrate(net, v0[b:b + 1], [0.0, row[k].item()], h0=h0[b:b + 1], rtol=1e-10, atol=1e-12)
            assert abs(net.memory.G(stop.h[-1, 0]).item()) < 1e-6


def test_no_events_no_switch_times():
    net = hd.MHN(random_net_params(0, n_h=4, n_v=2), memory=hd.RecLag(2.0, 8.0))
    v0 = torch.randn(5, 2, dtype=torch.float64)
    assert hd.integrate(net, v0, [0.0, 1.0], method="rk4", options={"step_size": 0.1}).switch_times is None
    assert hd.integrate(net.replace(memory=hd.LogSumExp(2.0)), v0, [0.0, 1.0]).switch_times is None
    # with events but no crossing: an empty last dimension
    far = hd.integrate(net, 10 * v0, [0.0, 1.0])
    if int(far.n_switches.max()) == 0:
        assert far.switch_times.shape == (5, 0)


def test_switch_times_do_not_depend_on_chunking():
    xi = random_net_params(11, n_h=5, n_v=3, scale=0.5)
    net = hd.MHN(xi, memory=hd.RecLag(3.0, 12.0))
    v0 = 2.0 * torch.randn(30, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    t = [0.0, 2.0, 6.0]
    whole = hd.integrate(net, v0, t, progress=False)
    parts = hd.integrate(net, v0, t, chunk_size=7, progress=False)
    assert torch.equal(whole.n_switches, parts.n_switches)
    assert parts.switch_times.shape == whole.switch_times.shape
    torch.testing.assert_close(parts.switch_times, whole.switch_times, atol=1e-6, rtol=0, equal_nan=True)


@pytest.mark.parametrize("feature", [hd.Quadratic(), hd.LogSumExp(1.5), hd.Polynomial(3)])
def test_gate_gradient_and_rate_against_autograd(feature):
    # the pull-back of ∇_h G through h = ξ g(v) (one formula, MHN._hidden_vjp) against autograd of
    # G(ξ g(v)), with feature Hessians that are the identity, dense and diagonal non-constant
    from hopdyn.core.ode import _System

    g = torch.Generator().manual_seed(3)
    xi = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    net = hd.MHN(xi, memory=hd.RecLag(2.0, 5.0), feature=feature)
    v = torch.randn(6, 3, generator=g, dtype=torch.float64)
    system = _System(net)
    G, grad = system.G_grad(v)
    vr = v.clone().requires_grad_(True)
    G_ref = net.memory.G(feature.activation(vr) @ xi.detach().T)
    (grad_ref,) = torch.autograd.grad(G_ref.sum(), vr)
    assert not grad.requires_grad and not G.requires_grad
    torch.testing.assert_close(G, G_ref.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, grad_ref, rtol=1e-10, atol=1e-12)
    # dG/dt at the end of each solver step (the watch's route) is the same gradient along the field
    with torch.no_grad():
        for mode in (1.0, 0.0):
            f, G2, rate = system.field_gate(v, mode)
            torch.testing.assert_close(rate, (grad_ref * f).sum(-1), rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(G2, G_ref.detach(), rtol=1e-12, atol=1e-12)


def test_reclag_with_a_softmax_feature_lagrangian_integrates():
    # dG/dt needs the feature activation's derivative; forward-mode autograd failed on softmax
    # (NotImplementedError): check against solve_ivp with its own event location on G
    g = torch.Generator().manual_seed(5)
    xi = 2.0 * torch.randn(4, 3, generator=g, dtype=torch.float64)
    beta, gamma, b_v = 2.0, 3.0, 1.5
    net = hd.MHN(xi, memory=hd.RecLag(beta, gamma), feature=hd.LogSumExp(b_v))
    v0 = torch.randn(6, 3, generator=g, dtype=torch.float64)
    t = torch.linspace(0.0, 4.0, 5, dtype=torch.float64)
    out = hd.integrate(net, v0, t, rtol=1e-10, atol=1e-12)
    x = xi.numpy()

    def G(v):  # noqa: N802
        return logsumexp(beta * (x @ softmax(b_v * v))) - math.log(gamma)

    def rhs(gate):
        return lambda _t, v: x.T @ (gate * softmax(beta * (x @ softmax(b_v * v)))) - v

    switched = 0
    for b in range(v0.shape[0]):
        v, t0, gate, ref = v0[b].numpy(), 0.0, float(G(v0[b].numpy()) >= 0), []
        while True:
            event = lambda _t, v: G(v)  # noqa: E731
            # leaving the open side downwards or the closed side upwards (not the crossing just made)
            event.terminal, event.direction = True, -1.0 if gate else 1.0
            sol = solve_ivp(rhs(gate), (t0, 4.0), v, method="DOP853", rtol=1e-12, atol=1e-13, events=event,
                            dense_output=True)
            hit = sol.status == 1
            t_end = sol.t_events[0][0] if hit else 4.0
            ref += [sol.sol(s) for s in t.numpy()[len(ref):] if s <= t_end]
            if not hit:
                break
            switched += 1
            v, t0, gate = sol.y_events[0][0], t_end, 1.0 - gate
        np.testing.assert_allclose(out.v[:, b].numpy(), np.array(ref), atol=1e-7)
    assert int(out.n_switches.sum()) == switched
