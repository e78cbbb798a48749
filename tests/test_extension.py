"""A user-defined hard-gated Lagrangian, defined here (outside the package), through the public
API: both simulators (events located, checked against scipy), the analyses and Theorem 1.

``L(h) = max(Σ_μ log cosh(h_μ) − c, 0)``: ``G(h) = Σ log cosh h − c``, open activation
``tanh(h)``, gate χ(G). Bounded dynamics (|tanh| ≤ 1); for c > 0 the origin attracts (G(0) = −c).
This is the example of docs/extending.md.
"""
import math
import warnings

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

import hopdyn as hd


class LogCoshGate(hd.GatedLagrangian):
    """``L(h) = max(Σ log cosh(h_μ) − c, 0)``."""

    def __init__(self, c: float = 1.0):
        self.c = c

    def G(self, h):  # noqa: N802
        a = h.abs()  # log cosh, stably
        return (a + torch.log1p(torch.exp(-2 * a)) - math.log(2.0)).sum(-1) - self.c

    def __call__(self, h):
        return torch.clamp(self.G(h), min=0.0)

    def open_activation(self, h):
        return torch.tanh(h)

    def __repr__(self):
        return f"LogCoshGate(c={self.c})"


# one strong direction (x) and a weak one (y): fixed points at ±(3.03, 0.06), and starts far out on
# the y axis are pulled into B0 by the open flow
XI = torch.tensor([[1.6, 0.2], [-1.4, 0.3], [0.1, 0.5]], dtype=torch.float64)
C = 1.0


@pytest.fixture
def net():
    return hd.MHN(XI, memory=LogCoshGate(C))


def test_activation_is_the_gradient_of_the_lagrangian():
    lag = LogCoshGate(C)
    h = 2 * torch.randn(200, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    h = h[lag.G(h).abs() > 1e-6]  # away from the kink
    x = h.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(lag(x).sum(), x)
    torch.testing.assert_close(lag.activation(h), grad, rtol=1e-12, atol=1e-12)
    assert bool((lag.G(h) < 0).any()) and bool((lag.G(h) > 0).any())


def test_network_capabilities(net):
    assert net.has_gate and net.memory.has_jump
    v = torch.tensor([[0.1, 0.1], [1.5, 0.5]], dtype=torch.float64)
    g = net.gate_value(v)
    assert float(g[0]) < 0 < float(g[1])
    assert bool((net.step(v[:1]) == 0).all())  # the gate shuts: one step to exactly 0


def test_iterate(net):
    v0 = torch.tensor([[0.1, -0.1], [2.0, 0.5], [-1.9, -0.25]], dtype=torch.float64)
    path = hd.iterate(net, v0, steps=200, tol=1e-12)
    assert bool(path.converged.all())
    assert bool((path.final[0] == 0).all())
    fixed = path.final[1:]
    torch.testing.assert_close(fixed[0], -fixed[1], rtol=0, atol=1e-10)  # L is even: ±v*
    assert float(fixed[0, 0]) == pytest.approx(3.0314, abs=1e-4)
    torch.testing.assert_close(net.step(fixed), fixed, rtol=0, atol=1e-10)


def _scipy_switch(net, v0, t_end):
    """The same trajectory with scipy: RK45 on the open flow, a terminal event at G = 0, then
    the closed flow dv/dt = −v (exact: v(t) = v(t*) e^{−(t − t*)})."""
    xi = net.xi.numpy()

    def open_flow(_t, v):
        return xi.T @ np.tanh(xi @ v) - v

    def gate(_t, v):
        h = xi @ v
        return float(np.sum(np.logaddexp(h, -h) - math.log(2.0)) - C)

    gate.terminal, gate.direction = True, -1
    sol = solve_ivp(open_flow, (0, t_end), v0.numpy(), method="DOP853", rtol=1e-12, atol=1e-14, events=gate)
    t_star = float(sol.t_events[0][0])
    v_star = sol.y_events[0][0]
    return t_star, v_star, v_star * math.exp(-(t_end - t_star))


def test_integrate_locates_the_switch_and_agrees_with_scipy(net):
    # starts outside B0 far out on the weak axis: the open flow carries it into B0 (G falls to 0)
    v0 = torch.tensor([[0.03, -4.1]], dtype=torch.float64)
    assert float(net.gate_value(v0)) > 0
    t = torch.tensor([0.0, 0.5, 3.0], dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hd.GateCrossingWarning)
        flow = hd.integrate(net, v0, t, rtol=1e-11, atol=1e-13)
    assert flow.n_switches.tolist() == [1]
    t_star, v_star, v_end = _scipy_switch(net, v0[0], 3.0)
    assert abs(float(flow.switch_times[0, 0]) - t_star) < 1e-6
    np.testing.assert_allclose(flow.final[0].numpy(), v_end, rtol=0, atol=1e-6)
    assert bool((flow.energy[1:] <= flow.energy[:-1] + 1e-12).all())


def test_integrate_gradient_through_the_switch(net):
    v0 = torch.tensor([[0.03, -4.1]], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 3.0], dtype=torch.float64)

    def loss(v):
        return hd.integrate(net, v, t, rtol=1e-10, atol=1e-12).final.sum()

    (g,) = torch.autograd.grad(loss(v0), v0)
    eps, fd = 1e-5, torch.zeros(2, dtype=torch.float64)
    with torch.no_grad():
        for i in range(2):
            e = torch.zeros_like(v0)
            e[0, i] = eps
            fd[i] = (loss(v0 + e) - loss(v0 - e)) / (2 * eps)
    torch.testing.assert_close(g[0], fd, rtol=1e-6, atol=1e-8)


def test_basins_and_attractors(net):
    import hopdyn.analysis as an

    bm = an.basin_map(net, 24, steps=300)
    assert bm.labels.shape == (24, 24)
    frac = an.basin_fractions(net, n=2000, steps=300)
    assert float(frac.fractions.sum()) == pytest.approx(1.0) and frac.n_unconverged == 0
    assert int((frac.fractions > 0).sum()) == 3  # the origin and ±v*
    v0 = torch.tensor([[0.1, -0.1], [2.0, 0.5], [-2.0, -0.5]], dtype=torch.float64)
    labels = an.find_attractors(net, v0, steps=300)
    assert labels is not None


def test_fixed_points(net):
    import hopdyn.analysis as an

    fp = an.fixed_points(net)
    pts = fp.points
    assert bool((pts.norm(dim=-1) == 0).any())  # the origin
    torch.testing.assert_close(net.step(pts), pts, rtol=0, atol=1e-8)


def test_energy_landscape(net):
    import hopdyn.analysis as an

    land = an.energy_landscape(net, n=21)
    assert bool(torch.isfinite(land.energy).all())


def test_b0_boundary(net):
    import hopdyn.analysis as an

    bd = an.b0_boundary(net, n_angles=32)
    assert float(net.gate_value(bd.points).abs().max()) < 1e-8  # G = 0 on the boundary


def test_theorem1_generic_parts(net):
    r = hd.theorems.check_theorem1(net, n_directions=64, n_random=256, n_adversarial=16)
    assert r.origin_fixed and r.holds, r.summary
    assert math.isnan(r.eps_paper) and math.isnan(r.eps_cs) and math.isnan(r.beta) and "RecLag" in r.note
    assert {b.name for b in r.balls} == {"r_star"}
    # r* is where the gate opens: G(r* u) = 0 to rounding, and a 2-D sweep of directions agrees
    assert abs(float(net.gate_value(r.r_star_point))) < 1e-12
    ang = torch.linspace(0, 2 * math.pi, 20_001, dtype=torch.float64)[:-1]
    u = torch.stack([ang.cos(), ang.sin()], -1)
    lo, hi = torch.zeros(len(ang), dtype=torch.float64), torch.full((len(ang),), 10.0, dtype=torch.float64)
    for _ in range(60):
        mid = (lo + hi) / 2
        shut = net.gate_value(mid[:, None] * u) < 0
        lo, hi = torch.where(shut, mid, lo), torch.where(shut, hi, mid)
    assert r.r_star == pytest.approx(float(hi.min()), rel=1e-6)
    assert r.kkt_gap >= 0 and r.kkt_gap < 1e-8


def test_theorem1_gate_open_at_origin_is_the_counterexample():
    r = hd.theorems.check_theorem1(hd.MHN(XI, memory=LogCoshGate(-0.5)), n_directions=16)
    assert not r.holds and r.counterexample and r.origin_fixed  # tanh(0) = 0, but the gate is open at 0
    assert "open at 0" in r.summary


def test_theorems_2_and_3_say_why_they_refuse(net):
    with pytest.raises(ValueError, match="Theorem 2"):
        hd.theorems.check_theorem2(net, v0=torch.zeros(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="Theorem 3"):
        hd.theorems.check_theorem3(net, R=3.0)
