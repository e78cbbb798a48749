"""Both simulators: against scipy's solve_ivp, against each other, energy monotonicity, batching."""
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hopdyn as hd
from conftest import random_net_params, scipy_reference


@pytest.mark.parametrize("seed", range(4))
def test_integrate_vanilla_matches_solve_ivp(seed):
    xi = random_net_params(seed, n_h=5, n_v=3)
    net = hd.MHN(xi, memory=hd.LogSumExp(2.0))
    v0 = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    t = np.linspace(0, 8, 17)
    traj = hd.integrate(net, v0, t, rtol=1e-11, atol=1e-13)
    for b in range(6):
        ref, _ = scipy_reference(xi, 2.0, None, v0[b].numpy(), t)
        np.testing.assert_allclose(traj.v[:, b].numpy(), ref, atol=1e-6, rtol=0)


def reclag_case():
    # memories and gamma chosen so that many trajectories cross G = 0 on their way
    # (memories near the origin: trajectories start with the gate open and enter B0 on the way)
    xi = random_net_params(11, n_h=5, n_v=3, scale=0.5)
    v0 = 2.0 * torch.randn(24, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    return xi, 3.0, 12.0, v0


def test_integrate_reclag_matches_solve_ivp_with_events():
    xi, beta, gamma, v0 = reclag_case()
    net = hd.MHN(xi, memory=hd.RecLag(beta, gamma))
    t = np.linspace(0, 6, 13)
    traj = hd.integrate(net, v0, t, rtol=1e-11, atol=1e-13)
    crossed = 0
    for b in range(v0.shape[0]):
        ref, times = scipy_reference(xi, beta, gamma, v0[b].numpy(), t)
        n_sw = len(times)
        assert traj.n_switches[b].item() == n_sw
        crossed += n_sw > 0
        np.testing.assert_allclose(traj.v[:, b].numpy(), ref, atol=1e-6, rtol=0)
    assert crossed >= 3, "the case must exercise the switching surface"


def test_integrate_two_variable_matches_solve_ivp():
    xi = random_net_params(12, n_h=4, n_v=3)
    for gamma in (None, 20.0):
        mem = hd.LogSumExp(1.5) if gamma is None else hd.RecLag(1.5, gamma)
        net = hd.MHN(xi, memory=mem, tau_v=1.0, tau_h=0.3)
        g = torch.Generator().manual_seed(1)
        v0 = 1.5 * torch.randn(8, 3, dtype=torch.float64, generator=g)
        h0 = torch.randn(8, 4, dtype=torch.float64, generator=g)
        t = np.linspace(0, 5, 11)
        traj = hd.integrate(net, v0, t, h0=h0, rtol=1e-11, atol=1e-13)
        for b in range(8):
            ref, _ = scipy_reference(xi, 1.5, gamma, v0[b].numpy(), t, h0=h0[b].numpy(), tau_h=0.3)
            np.testing.assert_allclose(traj.v[:, b].numpy(), ref[:, :3], atol=1e-6, rtol=0)
            np.testing.assert_allclose(traj.h[:, b].numpy(), ref[:, 3:], atol=1e-6, rtol=0)


def test_adaptive_without_events_on_reclag_warns():
    xi, beta, gamma, v0 = reclag_case()
    net = hd.MHN(xi, memory=hd.RecLag(beta, gamma))
    with pytest.warns(hd.GateCrossingWarning, match="switching surface"):
        hd.integrate(net, v0, [0.0, 1.0], events=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hd.integrate(net, v0, [0.0, 1.0], method="rk4", options={"step_size": 0.05})
        hd.integrate(net.replace(memory=hd.RecLag(beta, gamma).smooth(50.0)), v0, [0.0, 1.0])


def test_smooth_reclag_converges_to_event_solution():
    xi, beta, gamma, v0 = reclag_case()
    t = np.linspace(0, 6, 4)
    exact = hd.integrate(hd.MHN(xi, memory=hd.RecLag(beta, gamma)), v0, t, rtol=1e-10, atol=1e-12).v
    errs = [
        (hd.integrate(hd.MHN(xi, memory=hd.RecLag(beta, gamma).smooth(k)), v0, t, rtol=1e-10, atol=1e-12).v - exact)
        .abs().max().item()
        for k in (10.0, 100.0, 1000.0)
    ]
    assert errs[0] > errs[1] > errs[2]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    beta=st.floats(0.2, 8.0),
    log_gamma_ratio=st.floats(-2.0, 4.0),
    reclag=st.booleans(),
)
def test_energy_never_increases_along_integrate(seed, beta, log_gamma_ratio, reclag):
    xi = random_net_params(seed, n_h=5, n_v=2, scale=1.5)
    mem = hd.RecLag(beta, 5 * math.exp(log_gamma_ratio)) if reclag else hd.LogSumExp(beta)
    v0 = 2 * torch.randn(16, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hd.GateCrossingWarning)  # sliding modes (gamma <= N_H) are fine here
        traj = hd.integrate(hd.MHN(xi, memory=mem), v0, np.linspace(0, 5, 26), rtol=1e-9, atol=1e-11)
    assert torch.all(traj.energy[1:] - traj.energy[:-1] <= 1e-8)


def test_two_variable_approaches_adiabatic_as_tau_h_shrinks():
    xi = random_net_params(13, n_h=5, n_v=3)
    v0 = torch.randn(10, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    t = np.linspace(0, 4, 9)
    adiabatic = hd.integrate(hd.MHN(xi, memory=hd.LogSumExp(2.0)), v0, t, rtol=1e-10, atol=1e-12).v
    errs = []
    for tau_h in (0.1, 0.01, 0.001):
        two = hd.integrate(hd.MHN(xi, memory=hd.LogSumExp(2.0), tau_h=tau_h), v0, t, rtol=1e-10, atol=1e-12)
        errs.append((two.v - adiabatic).abs().max().item())
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-2
    assert errs[1] / errs[2] > 5  # O(tau_h)


@pytest.mark.parametrize("memory", [hd.LogSumExp(3.0), hd.RecLag(3.0, 30.0)], ids=repr)
def test_iterate_fixed_steps_equals_repeated_step(memory):
    net = hd.MHN(random_net_params(14), memory=memory)
    v0 = torch.randn(4, 7, 3, dtype=torch.float64)
    traj = hd.iterate(net, v0, steps=5)
    assert traj.v.shape == (6, 4, 7, 3) and traj.energy.shape == (6, 4, 7)
    v = v0
    for k in range(6):
        # iterate flattens the batch: BLAS may block the matmul differently (last-bit differences)
        torch.testing.assert_close(traj.v[k], v, rtol=0, atol=1e-13)
        torch.testing.assert_close(traj.energy[k], net.energy(v))
        v = net.step(v)
    torch.testing.assert_close(traj.t, torch.arange(6, dtype=torch.float64))


def test_iterate_until_converged_freezes_and_matches_fixed():
    xi = random_net_params(15, n_h=6, n_v=2, scale=2.0)
    net = hd.MHN(xi, memory=hd.RecLag(4.0, 30.0))
    v0 = 3 * torch.randn(500, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    conv = hd.iterate(net, v0, steps=200, tol=1e-12)
    fixed = hd.iterate(net, v0, steps=200, keep="last")
    assert conv.converged.all()
    assert conv.n_steps.min() < conv.n_steps.max() <= 200
    torch.testing.assert_close(conv.final, fixed.final, atol=1e-10, rtol=0)
    assert conv.v.shape[0] == conv.n_steps.max() + 1
    last = hd.iterate(net, v0, steps=200, tol=1e-12, keep="last")
    assert last.v.shape == (1, 500, 2)
    torch.testing.assert_close(last.final, conv.final, rtol=0, atol=1e-13)
    # a sample frozen at step n stays unchanged afterwards in the stored path
    k = int(conv.n_steps[0])
    assert torch.all(conv.v[k:, 0] == conv.v[k, 0])


def test_iterate_reports_unconverged():
    xi = random_net_params(16, n_h=6, n_v=2, scale=2.0)
    net = hd.MHN(xi, memory=hd.LogSumExp(0.5))
    traj = hd.iterate(net, torch.randn(50, 2, dtype=torch.float64), steps=2, tol=1e-14)
    assert not traj.converged.any()
    assert torch.all(traj.n_steps == 2)


@pytest.mark.parametrize("simulate", ["iterate", "integrate"])
def test_chunking_changes_nothing(simulate):
    xi = random_net_params(17, n_h=5, n_v=2)
    net = hd.MHN(xi, memory=hd.RecLag(2.0, 20.0))
    v0 = 2 * torch.randn(3, 37, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    if simulate == "iterate":
        run = lambda cs: hd.iterate(net, v0, steps=30, tol=1e-12, chunk_size=cs, progress=False)  # noqa: E731
    else:
        run = lambda cs: hd.integrate(net, v0, [0.0, 1.0, 3.0], chunk_size=cs, progress=False)  # noqa: E731
    whole, parts = run(None), run(10)
    assert parts.v.shape == whole.v.shape
    # per-sample error control makes each sample's solution independent of its chunk mates only
    # up to the solver tolerance
    torch.testing.assert_close(parts.v, whole.v, atol=1e-6, rtol=0)


def test_float32_integrate_and_iterate():
    xi = random_net_params(18, n_h=5, n_v=2).float()
    net = hd.MHN(xi, memory=hd.RecLag(2.0, 20.0))
    v0 = torch.randn(100, 2)
    tr = hd.integrate(net, v0, torch.linspace(0, 5, 6), rtol=1e-5, atol=1e-6)
    it = hd.iterate(net, v0, steps=10)
    assert tr.v.dtype == torch.float32 and it.v.dtype == torch.float32 and tr.energy.dtype == torch.float32


def test_iterate_and_integrate_share_fixed_points():
    xi = random_net_params(19, n_h=4, n_v=2, scale=3.0)
    net = hd.MHN(xi, memory=hd.LogSumExp(5.0))
    fps = hd.iterate(net, xi, steps=200, tol=1e-13).final  # from the memories themselves
    flow = hd.integrate(net, fps, [0.0, 5.0]).final
    torch.testing.assert_close(flow, fps, atol=1e-7, rtol=0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda net: hd.iterate(net, np.zeros((3, 4)), 5), "v0 must have last dimension 2"),
        (lambda net: hd.iterate(net, np.zeros((0, 2)), 5), "v0 is empty"),
        (lambda net: hd.iterate(net, np.zeros(2), -1), "steps"),
        (lambda net: hd.iterate(net, np.zeros(2), 5, tol=0), "tol"),
        (lambda net: hd.iterate(net, np.zeros(2), 5, keep="all"), "keep"),
        (lambda net: hd.iterate(net, np.zeros(2), 5, chunk_size=0), "chunk_size"),
        (lambda net: hd.integrate(net, np.zeros(2), [0.0]), "t must be a 1-D array of at least 2"),
        (lambda net: hd.integrate(net, np.zeros(2), [1.0, 0.0]), "strictly increasing"),
        (lambda net: hd.integrate(net, np.zeros(2), [0.0, np.nan]), "t contains NaN"),
        (lambda net: hd.integrate(net, np.full(2, np.nan), [0.0, 1.0]), "v0 contains NaN"),
        (lambda net: hd.integrate(net, np.zeros(2), [0.0, 1.0], method="rk45"), "method"),
        (lambda net: hd.integrate(net, np.zeros(2), [0.0, 1.0], rtol=-1), "rtol"),
        (lambda net: hd.integrate(net, np.zeros(2), [0.0, 1.0], h0=np.zeros(3)), "adiabatic"),
        (lambda net: hd.integrate(net.replace(tau_h=0.1), np.zeros((4, 2)), [0.0, 1.0], h0=np.zeros((4, 2))),
         "h0 must have last dimension 3"),
        (lambda net: hd.integrate(net.replace(tau_h=0.1), np.zeros((4, 2)), [0.0, 1.0], h0=np.zeros((5, 3))),
         "h0 must have batch shape"),
    ],
)
def test_simulator_bad_input(call, match):
    net = hd.MHN(np.eye(3, 2), memory=hd.RecLag(1.0, 5.0))
    with pytest.raises(ValueError, match=match):
        call(net)


# -- a solution that blows up: said plainly on every route ---------------------------------------------

def _blowing_up():
    # L_V = Σ v³ grows faster than the leak: h = ξ·3v², f = 2h, and v escapes in finite time
    xi = torch.tensor([[1.0, 0.5], [-0.3, 1.2]], dtype=torch.float64)
    return hd.MHN(xi, memory=hd.Polynomial(2), feature=hd.Polynomial(3)), torch.tensor([[1.0, 1.0]], dtype=torch.float64)


def test_blow_up_on_the_shared_step_route_is_a_clear_runtime_error():
    net, v0 = _blowing_up()
    t = torch.linspace(0.0, 3.0, 4, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="step size underflowed.*blows up"):
        hd.integrate(net, v0.requires_grad_(True), t)  # autograd: torchdiffeq's route
    with pytest.raises(RuntimeError, match="step size fell below"):
        hd.integrate(net, v0.detach(), t)  # per-sample steps


def test_blow_up_with_a_fixed_step_warns_with_the_time():
    net, v0 = _blowing_up()
    t = torch.linspace(0.0, 3.0, 4, dtype=torch.float64)
    with pytest.warns(RuntimeWarning, match=r"1 of 1 trajectories are not finite from t = 1 on.*rk4's fixed step"):
        out = hd.integrate(net, v0, t, method="rk4", options=dict(step_size=0.05))
    assert torch.isfinite(out.v[0]).all() and not torch.isfinite(out.v[-1]).all()
