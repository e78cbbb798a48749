"""Theorems 1–3: each check passes where the claim holds and reports failure where it must not;
radii, γ* and log Z checked against independent routes (scipy optimisation, a plain numpy
loop, closed forms, quadrature, Monte Carlo)."""
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.special import logsumexp

import hopdyn as hd
from hopdyn.analysis.attractors import MemorySwallowedWarning
from hopdyn.datasets import planar_memories
from hopdyn.analysis.theorems import exact_radius, log_ball_exp_integral

from conftest import random_net_params


def spec_xi():
    """SPEC's Theorem 1 example: N_H = 20, N_V = 5, xi ~ N(0, 1)."""
    return random_net_params(0, n_h=20, n_v=5)


# -- Theorem 1 ------------------------------------------------------------------------------------
def test_theorem1_holds_with_the_three_radii_in_order():
    xi = spec_xi()
    r = hd.theorems.check_theorem1(xi, 2.0, 60.0)
    assert r.holds and r.origin_fixed and not r.counterexample
    assert r.eps_paper == pytest.approx(math.log(3) / (5 * 2 * float(xi.abs().max())), rel=1e-14)
    assert r.eps_cs == pytest.approx(math.log(3) / (2 * float(xi.norm(dim=-1).max())), rel=1e-14)
    assert r.eps_paper < r.eps_cs < r.r_star
    assert r.ratio_paper == pytest.approx(r.r_star / r.eps_paper) and r.ratio_cs == pytest.approx(r.r_star / r.eps_cs)
    assert {b.name for b in r.balls} == {"eps_paper", "eps_cs", "r_star"}  # r_star probed at r*(1 - 1e-10)
    assert all(b.n_not_zero == 0 and b.max_G < 0 for b in r.balls)
    # r* is attained: the returned point has the gate open, at distance r*
    point = r.r_star_point
    assert float(point.norm()) == pytest.approx(r.r_star, rel=1e-12)
    assert float(hd.MHN(xi, memory=hd.RecLag(2.0, 60.0)).gate_value(point)) >= 0
    # the gap is ≥ 0 exactly; exact_radius reports a rounding-level negative (−1e-16 on some CPUs) as 0
    assert 0 <= r.kkt_gap < 1e-9


def test_r_star_against_scipy_constrained_minimisation():
    """min ‖v‖ s.t. lse(β xi v) ≥ log γ from many starts (SLSQP) finds nothing closer than r*."""
    xi = spec_xi().numpy()
    beta, gamma = 2.0, 60.0
    r_star = exact_radius(xi, beta, gamma)[0]
    cons = {"type": "ineq", "fun": lambda v: logsumexp(beta * xi @ v) - math.log(gamma)}
    rng = np.random.default_rng(1)
    best = math.inf
    for _ in range(30):
        res = minimize(lambda v: v @ v, rng.normal(size=5), constraints=[cons], method="SLSQP", tol=1e-14)
        if res.success and cons["fun"](res.x) >= -1e-9:
            best = min(best, float(np.linalg.norm(res.x)))
    assert best >= r_star * (1 - 1e-6)
    assert best == pytest.approx(r_star, rel=1e-5)  # and the search found the same minimum


@pytest.mark.parametrize("gamma", [20.0, 10.0])
def test_theorem1_counter_example_at_gamma_le_n_h(gamma):
    xi = spec_xi()
    r = hd.theorems.check_theorem1(xi, 2.0, gamma)
    assert not r.holds and not r.origin_fixed and r.counterexample
    torch.testing.assert_close(r.step_at_origin, xi.mean(0), rtol=0, atol=1e-14)
    assert r.eps_paper == r.eps_cs == r.r_star == 0.0
    assert "not a fixed point" in r.summary


def test_theorem1_fails_on_a_ball_larger_than_r_star_and_holds_inside():
    xi = spec_xi()
    r_star = exact_radius(xi, 2.0, 60.0)[0]
    bad = hd.theorems.check_theorem1(xi, 2.0, 60.0, radius=1.01 * r_star)
    assert not bad.holds
    assert bad.balls[-1].name == "radius" and bad.balls[-1].n_not_zero > 0 and bad.balls[-1].max_G > 0
    good = hd.theorems.check_theorem1(xi, 2.0, 60.0, radius=0.999 * r_star)
    assert good.holds and good.balls[-1].n_not_zero == 0


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), n_h=st.integers(1, 8), n_v=st.integers(1, 4),
       beta=st.floats(0.3, 8.0), factor=st.floats(1.05, 50.0))
def test_radii_order_property(seed, n_h, n_v, beta, factor):
    """ε ≤ ε_CS ≤ r* and the ε-balls are sent to 0, on any network (γ > N_H)."""
    xi = random_net_params(seed, n_h=n_h, n_v=n_v, scale=2.0)
    r = hd.theorems.check_theorem1(xi, beta, factor * n_h, n_directions=128, n_random=128, n_adversarial=16)
    assert r.holds
    assert r.eps_paper <= r.eps_cs * (1 + 1e-12) and r.eps_cs <= r.r_star * (1 + 1e-12)


def test_theorem1_paper_setting_is_fast_and_loose():
    g = torch.Generator().manual_seed(0)
    xi = torch.randn(250, 512, generator=g, dtype=torch.float64)
    xi = 10 * xi / xi.norm(dim=-1, keepdim=True)
    r = hd.theorems.check_theorem1(xi, 5.0, 300.0, n_directions=256, n_random=256, n_adversarial=16)
    assert r.holds and r.ratio_paper > 1000 and r.ratio_cs > 5


# -- Theorem 2 ------------------------------------------------------------------------------------
def _gamma_star_numpy(xi, beta, v0, steps):
    """γ* by a plain loop over the Ramsauer update (independent of hopdyn.iterate)."""
    v, best = v0.copy(), math.inf
    for _ in range(steps + 1):
        z = beta * xi @ v
        best = min(best, logsumexp(z))
        p = np.exp(z - logsumexp(z))
        v = xi.T @ p
    return best


def test_theorem2_zero_below_and_positive_above_gamma_star():
    xi = random_net_params(3, n_h=10, n_v=4)
    v0 = random_net_params(4, n_h=1, n_v=4)[0]
    r = hd.theorems.check_theorem2(xi, 2.0, v0, ratios=[0.5, 0.999, 1.001, 2.0])
    assert r.holds and r.separates_above
    assert r.sup_distance[0] == 0 and r.sup_distance[1] == 0
    assert r.sup_distance[2] > 0.1 and r.sup_distance[3] > 0.1
    assert r.log_gamma_star == pytest.approx(_gamma_star_numpy(xi.numpy(), 2.0, v0.numpy(), r.n_steps), abs=1e-12)
    torch.testing.assert_close(r.gammas, r.gamma_star * r.ratios)


def test_theorem2_fails_with_a_smoothed_gate():
    xi = random_net_params(3, n_h=10, n_v=4)
    r = hd.theorems.check_theorem2(xi, 2.0, xi[0], kappa=1.0)
    assert not r.holds and r.kappa == 1.0
    assert float(r.sup_distance[r.ratios < 1].max()) > 0


# -- Theorem 3 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("a", [0.0, 0.3, 2.0, 7.5])
@pytest.mark.parametrize("R", [0.5, 2.0])
def test_ball_integral_closed_forms_d1_d3(a, R):
    d1 = 2 * R if a == 0 else 2 * math.sinh(a * R) / a
    d3 = 4 / 3 * math.pi * R**3 if a == 0 else 4 * math.pi * (a * R * math.cosh(a * R) - math.sinh(a * R)) / a**3
    assert log_ball_exp_integral([a], 1, R)[0] == pytest.approx(math.log(d1), rel=1e-12, abs=1e-12)
    if a * R > 1e-3:  # the closed form for d = 3 cancels catastrophically at small aR
        assert log_ball_exp_integral([a], 3, R)[0] == pytest.approx(math.log(d3), rel=1e-10, abs=1e-10)


def test_ball_integral_high_dimension_both_routes_and_no_overflow():
    from hopdyn.analysis.theorems import _log_ball_exp_integral_quad

    # d = 512: ive underflows for small aR (series route), is fine for large aR (Bessel route)
    for a in [0.0, 1e-3, 1.0, 30.0, 200.0, 1e4]:
        got = log_ball_exp_integral([a], 512, 1.0)[0]
        assert np.isfinite(got)
        assert got == pytest.approx(_log_ball_exp_integral_quad(a, 512, 1.0), rel=1e-9)


def test_ball_integral_against_monte_carlo_d3():
    rng = np.random.default_rng(0)
    n = 400_000
    x = rng.normal(size=(n, 3))
    x *= (1.5 * rng.random(n) ** (1 / 3) / np.linalg.norm(x, axis=1))[:, None]
    a = np.array([1.2, -0.4, 0.7])
    w = np.exp(x @ a)
    vol = 4 / 3 * math.pi * 1.5**3
    mc, se = vol * w.mean(), vol * w.std() / math.sqrt(n)
    exact = math.exp(log_ball_exp_integral([np.linalg.norm(a)], 3, 1.5)[0])
    assert abs(mc - exact) < 4 * se and se / exact < 3e-3


def test_theorem3_holds_and_matches_independent_routes():
    xi = random_net_params(4, n_h=6, n_v=3)
    with pytest.warns(MemorySwallowedWarning):  # γ = 20 > every memory's limit here
        r = hd.theorems.check_theorem3(xi, 1.0, 20.0, 2.0, n_samples=4000, n_mc=100_000)
    assert r.holds and r.verdict == "holds" and r.mc_informative and r.mc_agrees and r.quad_agrees
    assert r.log_Z == pytest.approx(r.log_Z_quad, rel=1e-10)
    assert abs(math.expm1(r.log_Z_mc - r.log_Z)) < 4 * r.log_Z_mc_se
    assert r.log_delta == pytest.approx(math.log(20.0) - r.log_Z)
    assert r.n_disagree == 0 and r.n_outside == 0 and r.n_b0 == r.n_low_density
    assert r.b0_in_basin and r.basin_fraction >= r.b0_fraction
    assert r.b0_ci[0] <= r.b0_fraction <= r.b0_ci[1]


def test_theorem3_fails_for_points_outside_the_ball():
    xi = random_net_params(4, n_h=6, n_v=3)
    pts = 4 * torch.rand(1000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) - 2
    r = hd.theorems.check_theorem3(xi, 1.0, 5.0, 1.0, points=pts, n_mc=2000)
    assert not r.holds and r.n_outside > 0 and r.n_disagree > 0


def test_theorem3_warns_when_gamma_swallows_memories():
    """SPEC: memories near the origin (β = 3, ‖xi[mu]‖ = 0.5) fall into B0; the basin of 0 is
    the whole ball while B0 is a part of it."""
    xi = planar_memories()
    xi = 0.5 * xi / xi.norm(dim=-1, keepdim=True)
    with pytest.warns(MemorySwallowedWarning, match="swallows 5 of 5"):
        r = hd.theorems.check_theorem3(xi, 3.0, 10.0, 1.5, n_samples=4000, n_mc=2000)
    assert r.holds
    assert bool(r.memories.swallowed.all()) and r.memories.n_swallowed == 5
    assert r.basin_fraction == 1.0 and r.b0_fraction < 1.0 and r.basin_to_b0 > 1.0


def test_theorem3_no_warning_when_memories_survive():
    with warnings.catch_warnings():
        warnings.simplefilter("error", MemorySwallowedWarning)
        r = hd.theorems.check_theorem3(planar_memories(), 4.0, 1000.0, 3.0, n_samples=2000, n_mc=2000)
    assert r.holds and r.memories.n_swallowed == 0
    assert bool((r.memories.log_gamma_limit > math.log(1000.0)).all())


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, message",
    [
        (lambda xi: hd.theorems.check_theorem1(xi, 0.0, 60.0), "beta"),
        (lambda xi: hd.theorems.check_theorem1(xi, 2.0, float("nan")), "gamma"),
        (lambda xi: hd.theorems.check_theorem1(xi[0], 2.0, 60.0), "xi"),
        (lambda xi: hd.theorems.check_theorem1(xi, 2.0, 60.0, radius=-1.0), "radius"),
        (lambda xi: hd.theorems.check_theorem1(torch.full((3, 2), float("nan")), 2.0, 60.0), "NaN"),
        (lambda xi: hd.theorems.check_theorem2(xi, 2.0, torch.zeros(3)), "v0"),
        (lambda xi: hd.theorems.check_theorem2(xi, 2.0, torch.zeros(2, 5)), "v0"),
        (lambda xi: hd.theorems.check_theorem2(xi, 2.0, xi[0], ratios=[0.5, -1.0]), "ratios"),
        (lambda xi: hd.theorems.check_theorem3(xi, 2.0, 60.0, 0.0), "R"),
        (lambda xi: hd.theorems.check_theorem3(xi, 2.0, 60.0, 1.0, points=torch.zeros(4, 3)), "points"),
        (lambda xi: hd.theorems.check_theorem3(xi[:0], 2.0, 60.0, 1.0), "xi"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call(spec_xi())


def test_theorem1_holds_where_eps_cs_is_exact():
    """One memory in 1-D: ε_CS is the exact radius, so probe points must stay strictly inside
    (found by hypothesis: at one ulp inside, rounding put G at exactly 0 and the gate open)."""
    xi = random_net_params(0, n_h=1, n_v=1, scale=2.0)
    r = hd.theorems.check_theorem1(xi, 1.5625, 2.0, n_directions=128, n_random=128, n_adversarial=16)
    assert r.eps_cs == pytest.approx(r.r_star, rel=1e-9)
    assert r.holds
