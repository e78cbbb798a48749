"""Edge cases of the Theorem 1–3 checks (issue 12): rounding of the KKT gap, γ = N_H exactly,
Theorem 3's verdict (pointwise over uniform and B0-surface samples, "untested" when nothing is in B0) apart from the log Z
cross-checks, exact_radius as γ → N_H⁺, γ* beyond the float range, and the checks taking the
user's MHN."""
import math
import time
import warnings

import pytest
import torch

import hopdyn as hd
from hopdyn import theorems
from hopdyn.analysis.theorems import _log_ball_exp_integral_quad, exact_radius, log_ball_exp_integral

from conftest import random_net_params


def spec_xi():
    return random_net_params(0, n_h=20, n_v=5)


def _gate(xi, beta, gamma, v):
    return float(hd.MHN(xi, memory=hd.RecLag(beta, gamma)).gate_value(v))


# -- item 0: the KKT gap is ≥ 0 exactly; rounding below 0 is reported as 0 ------------------------
@pytest.mark.parametrize("seed", [8, 9, 15, 20])
def test_kkt_gap_is_not_negative_from_rounding(seed):
    """These networks gave gaps of −3e-16 … −6e-17 (the rounding of log γ − H(p)) before."""
    n_h, n_v = 2 + seed % 7, 2 + seed % 4
    xi = torch.randn(n_h, n_v, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    r, point, gap = exact_radius(xi, 2.0, 3.0 * n_h, n_directions=64)
    assert 0 <= gap < 1e-9 * r
    assert _gate(xi, 2.0, 3.0 * n_h, point) >= 0


# -- item 1: γ = N_H exactly is the counter-example, consistently --------------------------------
@pytest.mark.parametrize("n_h", [10, 22, 52, 100])
def test_gamma_equal_n_h_steps_origin_to_the_mean_memory(n_h):
    xi = random_net_params(n_h, n_h=n_h, n_v=5)
    net = hd.MHN(xi, memory=hd.RecLag(2.0, float(n_h)))
    assert float(net.gate_value(torch.zeros(5, dtype=torch.float64))) == 0.0  # G(0) = 0, χ(0) = 1
    torch.testing.assert_close(net.step(torch.zeros(5, dtype=torch.float64)), xi.mean(0), rtol=0, atol=1e-14)
    for r in (hd.theorems.check_theorem1(xi, 2.0, float(n_h)), hd.theorems.check_theorem1(net)):
        assert r.counterexample and not r.origin_fixed and not r.holds
        torch.testing.assert_close(r.step_at_origin, xi.mean(0), rtol=0, atol=1e-14)
        assert "not a fixed point" in r.summary


# -- item 2: Theorem 3's verdict is the pointwise claim ------------------------------------------
def _spec_R(xi):  # noqa: N802 - the CLI's default radius
    return 1.5 * float(xi.norm(dim=-1).max())


@pytest.mark.parametrize("beta", [2.0, 1000.0])
def test_theorem3_default_sampling_tests_the_surface_of_b0(beta):
    """20×5 at γ = 60 with the CLI's default R = 1.5 max‖xi[mu]‖: B0 (radius ~ r*) gets no
    uniform sample (it was "untested"); the points placed on both sides of its surface along
    rays from 0 test the claim, and it holds."""
    xi = spec_xi()
    R = _spec_R(xi)
    r = hd.theorems.check_theorem3(xi, beta, 60.0, R, n_samples=2000, n_mc=2000)
    assert r.verdict == "holds" and r.holds
    assert r.n_disagree == 0 and r.n_outside == 0 and r.b0_in_basin
    assert r.n_b0 == 0  # the uniform samples alone test nothing
    assert r.n_tested_b0 > 0 and r.n_boundary_b0 > 0 and r.n_boundary_outside_b0 > 0
    assert r.n_boundary_samples == r.n_boundary_b0 + r.n_boundary_outside_b0
    assert r.n_checked == r.n_samples + r.n_boundary_samples == 2000 + r.n_boundary_samples
    assert "near the surface of B0" in r.summary
    # the fractions and their intervals are over the uniform samples only: unchanged
    r0 = hd.theorems.check_theorem3(xi, beta, 60.0, R, n_samples=2000, n_mc=2000, n_boundary=0)
    assert r0.n_boundary_samples == 0 and r0.n_checked == 2000
    assert (r.b0_fraction, r.b0_ci, r.basin_fraction, r.basin_ci) == (r0.b0_fraction, r0.b0_ci, r0.basin_fraction,
                                                                      r0.basin_ci)
    assert (r.n_b0, r.n_low_density, r.n_samples) == (r0.n_b0, r0.n_low_density, r0.n_samples)


def test_theorem3_large_beta_without_boundary_samples_is_untested_not_failed():
    """β = 1000: B0 is a ball of radius ~1e-3 around 0, so no uniform sample falls in it; the
    closed-form log Z is right (the old quadrature was off by 1.1)."""
    xi = spec_xi()
    R = _spec_R(xi)
    r = hd.theorems.check_theorem3(xi, 1000.0, 60.0, R, n_samples=2000, n_mc=2000, n_boundary=0)
    assert r.verdict == "untested" and r.holds is False
    assert r.n_b0 == 0 and r.n_disagree == 0 and r.n_tested_b0 == 0
    assert r.quad_agrees and abs(r.log_Z - r.log_Z_quad) <= r.quad_tol
    assert r.quad_tol == pytest.approx(1e-6 * abs(r.log_Z))
    assert r.mc_agrees is None and not r.mc_informative
    assert "UNTESTED" in r.summary and "nothing tested" in r.summary
    # the same network with points in B0 (near 0) is tested, and holds; exactly those points
    pts = 1e-4 * torch.randn(500, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    r2 = hd.theorems.check_theorem3(xi, 1000.0, 60.0, R, points=pts, n_mc=2000)
    assert r2.verdict == "holds" and r2.holds and r2.n_b0 > 0 and r2.b0_in_basin
    assert r2.n_samples == r2.n_checked == 500 and r2.n_boundary_samples == 0


def test_theorem3_boundary_points_stay_in_the_ball():
    """B0 reaching beyond the ball: the targeted points outside it are dropped, not counted."""
    xi = spec_xi()
    r = hd.theorems.check_theorem3(xi, 2.0, 60.0, 0.3, n_samples=500, n_mc=2000)  # r* ≈ 0.44 > R
    assert r.holds and r.n_outside == 0 and r.n_boundary_samples > 0 and r.n_boundary_outside_b0 == 0


def test_theorem3_gamma_below_n_h_anchors_on_uniform_points_in_b0():
    """γ ≤ N_H: the gate is open at 0 and B0 lies away from it (here on the side away from the
    memories); the surface is found between 0 and the uniform samples in B0."""
    xi = spec_xi().clone()
    xi[:, 0] += 3
    R = _spec_R(xi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = hd.theorems.check_theorem3(xi, 1.0, 15.0, R, n_samples=2000, n_mc=2000, n_boundary=64)
        r0 = hd.theorems.check_theorem3(xi, 1.0, 15.0, R, n_samples=2000, n_mc=2000, n_boundary=0)
    assert r.holds and r.n_disagree == 0 and r.n_b0 > 0
    assert r.n_boundary_samples > 0 and r.n_boundary_b0 > 0 and r.n_boundary_outside_b0 > 0
    assert r.b0_fraction == r0.b0_fraction and r.basin_fraction == r0.basin_fraction
    # no uniform sample in B0 (here B0 is empty): nothing to anchor on, untested
    r3 = hd.theorems.check_theorem3(spec_xi(), 2.0, 10.0, _spec_R(spec_xi()), n_samples=500, n_mc=2000)
    assert r3.verdict == "untested" and r3.n_boundary_samples == 0


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_theorem3_rejects_a_bad_n_boundary(bad):
    with pytest.raises(ValueError, match="n_boundary"):
        hd.theorems.check_theorem3(spec_xi(), 2.0, 60.0, 1.0, n_boundary=bad)


def test_quadrature_resolves_the_spike_at_large_beta_norm():
    for a, d, R in [(3500.0, 5, 5.0), (1e6, 5, 4.0), (2000.0, 3, 4.0)]:
        closed = log_ball_exp_integral([a], d, R)[0]
        assert _log_ball_exp_integral_quad(a, d, R) == pytest.approx(closed, rel=1e-12)


def test_theorem3_verdict_ignores_the_quadrature_cross_check(monkeypatch):
    xi = random_net_params(4, n_h=6, n_v=3)
    monkeypatch.setattr(theorems, "_log_ball_exp_integral_quad", lambda a, d, R: 0.0)
    with pytest.warns(hd.basins.MemorySwallowedWarning):
        r = hd.theorems.check_theorem3(xi, 1.0, 20.0, 2.0, n_samples=2000, n_mc=20_000)
    assert not r.quad_agrees and "DISAGREES" in r.summary
    assert r.verdict == "holds" and r.holds and r.mc_agrees is True


def test_theorem3_verdict_fails_on_points_outside_the_ball():
    xi = random_net_params(4, n_h=6, n_v=3)
    pts = 4 * torch.rand(1000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) - 2
    r = hd.theorems.check_theorem3(xi, 1.0, 5.0, 1.0, points=pts, n_mc=2000)
    assert r.verdict == "fails" and not r.holds


# -- item 3: exact_radius bisects, so γ → N_H⁺ is fast --------------------------------------------
@pytest.mark.parametrize("rel", [1e-7, 1e-12])
def test_exact_radius_near_n_h_is_fast(rel):
    xi = spec_xi()
    gamma = 20 * (1 + rel)
    exact_radius(xi, 2.0, 60.0, n_directions=16)  # warm-up
    t = time.perf_counter()
    r, point, gap = exact_radius(xi, 2.0, gamma)
    assert time.perf_counter() - t < 3.0
    assert 0 < r < math.inf and float(point.norm()) == r
    assert _gate(xi, 2.0, gamma, point) >= 0
    assert r >= math.log(gamma / 20) / (2.0 * float(xi.norm(dim=-1).max())) * (1 - 1e-6)  # ≥ ε_CS


@pytest.mark.parametrize("gamma, old", [(60.0, 0.44255880744138776), (40.0, 0.3595653402838893),
                                        (25.0, 0.1855454722902332), (200.0, 0.6287747124318471)])
def test_exact_radius_matches_the_previous_search(gamma, old):
    r, point, _ = exact_radius(spec_xi(), 2.0, gamma)
    assert r == pytest.approx(old, rel=1e-12)
    assert _gate(spec_xi(), 2.0, gamma, point) >= 0
    # the ray crossing is pinned to adjacent floats: just inside it the gate is shut
    assert _gate(spec_xi(), 2.0, gamma, point * (1 - 1e-13)) < 0


def test_ray_crossings_are_adjacent_floats():
    xi = spec_xi()
    U = torch.randn(50, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    S = (U / U.norm(dim=-1, keepdim=True)) @ xi.T
    lag = hd.RecLag(2.0, 60.0)
    r = theorems._ray_crossings(S, lag)
    below = torch.nextafter(r, torch.zeros_like(r))
    G = lambda t: lag.G(t[:, None] * S)  # noqa: E731 - the Lagrangian's own G, as the search uses
    assert bool((G(r) >= 0).all()) and bool((G(below) < 0).all())


# -- item 4: γ* beyond the float range -----------------------------------------------------------
def test_theorem2_in_log_space_beyond_float_range():
    xi = random_net_params(3, n_h=10, n_v=4, scale=30.0)
    v0 = xi[0] + 0.5
    r = hd.theorems.check_theorem2(xi, 2.0, v0, ratios=[0.5, 0.999, 1.001, 2.0])
    assert r.log_gamma_star > 709 and r.gamma_star == math.inf
    assert bool(torch.isinf(r.gammas).all()) and bool(torch.isfinite(r.log_gammas).all())
    torch.testing.assert_close(r.log_gammas, r.log_gamma_star + torch.log(r.ratios))
    assert r.holds and r.separates_above
    assert "log γ*" in r.summary
    # the network form gives the same answer (its own γ plays no part)
    net = hd.MHN(xi, memory=hd.RecLag(2.0, log_gamma=3000.0))
    r2 = hd.theorems.check_theorem2(net, v0=v0, ratios=[0.5, 0.999, 1.001, 2.0])
    assert r2.log_gamma_star == r.log_gamma_star and torch.equal(r2.sup_distance, r.sup_distance)


# -- item 6: the checks take the user's MHN ------------------------------------------------------
def test_checks_take_the_users_network():
    xi = spec_xi()
    net = hd.MHN(xi, memory=hd.RecLag(2.0, 60.0))
    a, b = hd.theorems.check_theorem1(net, n_directions=128), hd.theorems.check_theorem1(xi, 2.0, 60.0, n_directions=128)
    assert a.holds and a.r_star == b.r_star and a.eps_cs == b.eps_cs and a.log_gamma == math.log(60.0)
    assert exact_radius(net)[0] == exact_radius(xi, 2.0, 60.0)[0]
    # float32 networks are checked in float64
    c = hd.theorems.check_theorem1(hd.MHN(xi.float(), memory=hd.RecLag(2.0, 60.0)), n_directions=128)
    assert c.holds and c.r_star_point.dtype == torch.float64
    t3a = hd.theorems.check_theorem3(net, R=2.0, n_samples=500, n_mc=2000)
    t3b = hd.theorems.check_theorem3(xi, 2.0, 60.0, 2.0, n_samples=500, n_mc=2000)
    assert t3a.log_Z == t3b.log_Z and t3a.n_b0 == t3b.n_b0 and t3a.verdict == t3b.verdict == "holds"
    # γ beyond the float range: given as log γ
    big = hd.MHN(xi, memory=hd.RecLag(2.0, log_gamma=800.0))
    r = hd.theorems.check_theorem1(big, n_directions=64, n_random=64, n_adversarial=8)
    assert r.gamma == math.inf and r.log_gamma == 800.0 and r.holds
    assert r.eps_cs == pytest.approx((800.0 - math.log(20)) / (2.0 * float(xi.norm(dim=-1).max())), rel=1e-12)


def test_smoothed_network_gives_theorem2_its_kappa():
    xi = random_net_params(3, n_h=10, n_v=4)
    r = hd.theorems.check_theorem2(hd.MHN(xi, memory=hd.RecLag(2.0, 5.0).smooth(1.0)), v0=xi[0])
    assert r.kappa == 1.0 and not r.holds


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda xi: hd.theorems.check_theorem1(hd.MHN(xi, memory=hd.RecLag(2.0, 60.0)), 2.0, 60.0), "beta"),
        (lambda xi: hd.theorems.check_theorem1(hd.MHN(xi, memory=hd.LogSumExp(2.0))), "net"),
        (lambda xi: hd.theorems.check_theorem1(hd.MHN(xi, memory=hd.RecLag(2.0, 60.0).smooth(5.0))), "net"),
        (lambda xi: hd.theorems.check_theorem1(hd.MHN(xi, memory=hd.RecLag(2.0, 60.0), feature=hd.Abs())), "net"),
        (lambda xi: hd.theorems.check_theorem1(xi), "beta"),
        (lambda xi: hd.theorems.check_theorem3(hd.MHN(xi, memory=hd.RecLag(2.0, 60.0))), "R"),
        (lambda xi: hd.theorems.check_theorem2(hd.MHN(xi, memory=hd.LogSumExp(2.0)), 2.0), "beta"),
        (lambda xi: hd.theorems.check_theorem2(hd.MHN(xi, memory=hd.LogSumExp(2.0))), "v0"),
        (lambda xi: hd.theorems.check_theorem2(xi, v0=xi[0]), "beta"),
        (lambda xi: exact_radius(hd.MHN(xi, memory=hd.RecLag(2.0, 20.0))), "gamma"),
        (lambda xi: exact_radius(xi, 2.0, 60.0, n_directions=0), "n_directions"),
    ],
)
def test_bad_network_input_raises_value_error_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call(spec_xi())
