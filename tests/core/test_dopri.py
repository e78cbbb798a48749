"""Per-sample Dormand–Prince (hopdyn.core.dopri) and its use by integrate."""
import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from scipy.special import softmax

import hopdyn as hd
from hopdyn.core.dopri import dopri5

BETA = 5.0


def _planar(n, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    xi = 2.0 * torch.randn(5, 2, generator=g, dtype=torch.float64)
    v0 = 3.0 * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return xi.to(dtype), v0.to(dtype)


def _scipy(xi, y0, t, method, rtol, atol):
    x = xi.double().numpy()
    t = t.double().numpy()
    sol = solve_ivp(lambda _t, y: x.T @ softmax(BETA * x @ y) - y, (t[0], t[-1]), y0.double().numpy(),
                    method=method, rtol=rtol, atol=atol, t_eval=t)
    assert sol.success
    return sol.y.T


def test_matches_scipy_rk45_step_for_step_and_tight_reference():
    xi, v0 = _planar(40)
    t = torch.linspace(0.0, 10.0, 11, dtype=torch.float64)
    v = hd.integrate(hd.MHN(xi, memory=hd.LogSumExp(BETA)), v0, t, rtol=1e-6, atol=1e-8).v
    for i in range(0, 40, 5):
        # the same tableau, controller, first step and dense output as scipy's RK45: same path
        same = _scipy(xi, v0[i], t, "RK45", 1e-6, 1e-8)
        np.testing.assert_allclose(v[:, i].numpy(), same, rtol=0, atol=1e-11)
        ref = _scipy(xi, v0[i], t, "DOP853", 1e-13, 1e-14)
        np.testing.assert_allclose(v[:, i].numpy(), ref, rtol=0, atol=1e-5)


def test_dense_output_at_many_times_and_a_late_start():
    xi, v0 = _planar(6, seed=1)
    t = torch.cat([torch.tensor([2.0], dtype=torch.float64), torch.linspace(2.01, 6.0, 150, dtype=torch.float64)])
    v = hd.integrate(hd.MHN(xi, memory=hd.LogSumExp(BETA)), v0, t, rtol=1e-8, atol=1e-10).v
    assert torch.equal(v[0], v0)  # the output at t[0] is the start itself
    for i in range(6):
        np.testing.assert_allclose(v[:, i].numpy(), _scipy(xi, v0[i], t, "RK45", 1e-8, 1e-10), rtol=0, atol=1e-11)


def test_a_trajectory_does_not_depend_on_its_batch():
    xi, v0 = _planar(300, seed=2)
    net = hd.MHN(xi, memory=hd.LogSumExp(BETA))
    # stiff neighbours: far out, where the field is large and the steps short, plus a few
    # starts on the boundaries between memories
    far = 40.0 * v0[100:]
    batch = torch.cat([v0[:100], far])
    t = torch.linspace(0.0, 10.0, 11, dtype=torch.float64)
    together = hd.integrate(net, batch, t, rtol=1e-6, atol=1e-8).v
    alone = torch.stack([hd.integrate(net, batch[i:i + 1], t, rtol=1e-6, atol=1e-8).v[:, 0] for i in (0, 7, 150)], 1)
    torch.testing.assert_close(together[:, [0, 7, 150]], alone, rtol=0, atol=1e-12)
    # the shared-step solver does not have this property (so the check above can fail)
    shared = hd.integrate(net, batch, t, rtol=1e-6, atol=1e-8, options={"step_size": "shared"}).v
    shared_alone = hd.integrate(net, batch[:1], t, rtol=1e-6, atol=1e-8, options={"step_size": "shared"}).v
    assert (shared[:, 0] - shared_alone[:, 0]).abs().max() > 1e-12


def test_float32_to_its_tolerance_and_chunking():
    xi, v0 = _planar(64, seed=3)
    t = torch.linspace(0.0, 5.0, 6, dtype=torch.float64)
    net64 = hd.MHN(xi, memory=hd.LogSumExp(BETA))
    ref = hd.integrate(net64, v0, t, rtol=1e-10, atol=1e-12).v
    net32 = hd.MHN(xi.float(), memory=hd.LogSumExp(BETA))
    v32 = hd.integrate(net32, v0.float(), t.float(), rtol=1e-5, atol=1e-7).v
    assert v32.dtype == torch.float32
    assert (v32.double() - ref).abs().max() < 1e-3
    chunked = hd.integrate(net64, v0, t, rtol=1e-6, atol=1e-8, chunk_size=7).v
    whole = hd.integrate(net64, v0, t, rtol=1e-6, atol=1e-8).v
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-12)


def test_two_variable_network_against_scipy():
    xi, v0 = _planar(4, seed=4)
    net = hd.MHN(xi, memory=hd.LogSumExp(BETA), tau_h=0.3)
    t = torch.linspace(0.0, 3.0, 7, dtype=torch.float64)
    tr = hd.integrate(net, v0, t, rtol=1e-6, atol=1e-8)
    x = xi.numpy()

    def f(_t, y):
        v, h = y[:2], y[2:]
        return np.concatenate([x.T @ softmax(BETA * h) - v, (x @ v - h) / 0.3])

    for i in range(4):
        y0 = np.concatenate([v0[i].numpy(), x @ v0[i].numpy()])
        ref = solve_ivp(f, (0, 3), y0, method="RK45", rtol=1e-6, atol=1e-8, t_eval=t.numpy()).y.T
        np.testing.assert_allclose(tr.v[:, i].numpy(), ref[:, :2], rtol=0, atol=1e-11)
        np.testing.assert_allclose(tr.h[:, i].numpy(), ref[:, 2:], rtol=0, atol=1e-11)


def test_solver_failures_and_bad_input():
    xi, v0 = _planar(3)
    net = hd.MHN(xi, memory=hd.LogSumExp(BETA))
    with pytest.raises(ValueError, match="step_size"):
        hd.integrate(net, v0, [0.0, 1.0], options={"step_size": "each"})
    with pytest.raises(ValueError, match="increasing"):
        hd.integrate(net, v0, [0.0, 1.0, 1.0])
    with pytest.raises(ValueError):
        hd.integrate(net, torch.full((2, 2), float("nan"), dtype=torch.float64), [0.0, 1.0])
    with pytest.raises(RuntimeError, match="max_steps"):
        dopri5(lambda y, _r: -y, v0, torch.tensor([0.0, 100.0], dtype=torch.float64), 1e-10, 1e-12, max_steps=5)
    with pytest.raises(RuntimeError, match="step size"):  # finite-time blow-up: y' = y²
        dopri5(lambda y, _r: y * y, torch.ones(2, 1, dtype=torch.float64), torch.tensor([0.0, 2.0], dtype=torch.float64),
               1e-6, 1e-8)


def test_empty_batch_and_gradient_fallback():
    xi, v0 = _planar(3)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    assert dopri5(lambda y, _r: -y, v0[:0], t, 1e-6, 1e-8).shape == (2, 0, 2)
    # autograd goes through torchdiffeq (dopri5 works in place): the gradient is still there
    v = v0.clone().requires_grad_(True)
    out = hd.integrate(hd.MHN(xi, memory=hd.LogSumExp(BETA)), v, t, rtol=1e-8, atol=1e-10).v[-1].sum()
    (g,) = torch.autograd.grad(out, v)
    assert torch.isfinite(g).all()


def test_event_location_steps_per_sample_too():
    xi = torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    v0 = torch.randn(60, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    net = hd.MHN(xi, memory=hd.RecLag(2.0, 8.0))
    t = torch.linspace(0.0, 4.0, 5, dtype=torch.float64)
    tr = hd.integrate(net, v0, t, rtol=1e-8, atol=1e-10)
    shared = hd.integrate(net, v0, t, rtol=1e-8, atol=1e-10, options={"step_size": "shared"})
    assert int((tr.n_switches > 0).sum()) >= 5
    assert torch.equal(tr.n_switches, shared.n_switches)
    torch.testing.assert_close(tr.v, shared.v, rtol=0, atol=1e-6)
    torch.testing.assert_close(tr.switch_times, shared.switch_times, rtol=0, atol=1e-6, equal_nan=True)
    for i in tr.n_switches.nonzero().flatten()[:3].tolist():  # a switching sample alone: its own path
        alone = hd.integrate(net, v0[i:i + 1], t, rtol=1e-8, atol=1e-10)
        torch.testing.assert_close(alone.v[:, 0], tr.v[:, i], rtol=0, atol=1e-12)
        k = int(tr.n_switches[i])
        assert int(alone.n_switches[0]) == k
        torch.testing.assert_close(alone.switch_times[0, :k], tr.switch_times[i, :k], rtol=0, atol=1e-12)



def test_per_row_times_match_separate_solves():
    xi, v0 = _planar(5, seed=6)
    field = hd.core.ode._System(hd.MHN(xi, memory=hd.LogSumExp(BETA))).field
    # each row its own start; the grid points before it are padded with the start time
    starts = torch.tensor([0.0, 0.7, 1.3, 2.0, 0.2], dtype=torch.float64)
    grid = torch.linspace(0.0, 4.0, 9, dtype=torch.float64)
    times = torch.maximum(grid[:, None], starts[None])  # (T, B): column b is row b's times
    path = dopri5(lambda y, _r: field(y), v0, times, 1e-9, 1e-11)
    for i in range(5):
        later = times[:, i] > starts[i]
        assert torch.equal(path[~later, i], v0[i].expand(int((~later).sum()), -1))
        own = torch.cat([starts[i:i + 1], times[later, i]])
        alone = dopri5(lambda y, _r: field(y), v0[i:i + 1], own, 1e-9, 1e-11)
        torch.testing.assert_close(path[later, i], alone[1:, 0], rtol=0, atol=1e-12)


class _Threshold:
    """A watch that stops a row in the step where its first coordinate falls through ``level``
    (halfway into the step, to check that ``frac`` is honoured), and records every call."""

    def __init__(self, field, level):
        self.f, self.level, self.calls = field, level, 0

    def field(self, y, rows):
        return self.f(y, rows), y[:, :1].clone()

    def step(self, y, y_new, h, state, state_new, moved, rows):
        self.calls += 1
        assert bool((h[moved] > 0).all())
        # the watch's states at both ends of the step, from its own field calls
        assert torch.equal(state[:, 0][moved], y[:, 0][moved])
        assert torch.equal(state_new[:, 0], y_new[:, 0])
        stop = moved & (y_new[:, 0] < self.level) & (y[:, 0] >= self.level)
        return stop, torch.full_like(h, 0.5), 0.5 * (y + y_new)


def test_watch_stops_rows_in_the_step_that_crosses_and_leaves_the_rest_alone():
    # dy/dt = −y: rows starting at 1, 2, 4 fall through 0.5 at t = ln 2, ln 4, ln 8; row 3 starts below
    v0 = torch.tensor([[1.0], [2.0], [4.0], [0.4]], dtype=torch.float64)
    t = torch.linspace(0.0, 3.0, 31, dtype=torch.float64)
    watch = _Threshold(lambda y, _r: -y, 0.5)
    path, stopped, t_lo, t_hi, y_lo, y_hi = dopri5(lambda y, _r: -y, v0, t, 1e-10, 1e-12, watch=watch)
    plain = dopri5(lambda y, _r: -y, v0, t, 1e-10, 1e-12)
    assert watch.calls > 0
    assert stopped.tolist() == [True, True, True, False]
    for i, crossing in enumerate([math.log(2), math.log(4), math.log(8)]):
        assert t_lo[i] < crossing  # the stopping step brackets the crossing
        step_end = t_lo[i] + 2 * (t_hi[i] - t_lo[i])
        assert crossing <= step_end
        torch.testing.assert_close(y_lo[i, 0], v0[i, 0] * torch.exp(-t_lo[i]), rtol=1e-8, atol=0)
        before = t <= t_lo[i]
        torch.testing.assert_close(path[before, i], plain[before, i], rtol=0, atol=1e-14)
    torch.testing.assert_close(path[:, 3], plain[:, 3], rtol=0, atol=1e-14)
    assert math.isnan(float(t_lo[3]))


def test_rows_that_start_at_their_end_are_left_as_they_are():
    v0 = torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64)
    times = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 2.0], [2.0, 2.0, 2.0]], dtype=torch.float64)
    path = dopri5(lambda y, _r: -y, v0, times, 1e-10, 1e-12)
    # row 0 from 0 to 1 to 2; row 1 from 1 to 2; row 2 starts and ends at 2
    torch.testing.assert_close(path[:, 0, 0], torch.tensor([1.0, np.exp(-1.0), np.exp(-2.0)], dtype=torch.float64),
                               rtol=1e-8, atol=0)
    torch.testing.assert_close(path[:, 1, 0], torch.tensor([2.0, 2.0, 2.0 * np.exp(-1.0)], dtype=torch.float64),
                               rtol=1e-8, atol=0)
    assert torch.equal(path[:, 2, 0], torch.full((3,), 3.0, dtype=torch.float64))
