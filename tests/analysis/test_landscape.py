"""Landscape analyses against independent routes: net.energy, autograd, scipy quadrature, Theorem 3."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate

import hopdyn as hd
from hopdyn import landscape as land
from hopdyn.analysis.geometry import Plane
from hopdyn.datasets import PLANAR_BETA, PLANAR_GAMMA, planar_memories
from hopdyn.figures.paper import FIG1_START, explorer_memory_sets, planar_networks
from hopdyn.analysis.theorems import check_theorem1


@pytest.fixture(scope="module")
def nets():
    return planar_networks()


def random_net(seed=0, n_h=6, n_v=4, gamma=100.0):
    g = torch.Generator().manual_seed(seed)
    return hd.MHN(torch.randn(n_h, n_v, generator=g, dtype=torch.float64), memory=hd.RecLag(2.0, gamma))


def test_energy_grid_is_the_network_energy_on_a_plane_in_4d():
    net = random_net()
    e = land.energy_landscape(net, n=(7, 5))
    assert e.energy.shape == (5, 7)
    pts = e.grid.points
    # point [j, i] sits at origin + s_i u + t_j w
    j, i = 3, 5
    p = e.grid.plane
    expect = p.origin + e.grid.s[i] * p.basis[0] + e.grid.t[j] * p.basis[1]
    torch.testing.assert_close(pts[j, i], expect)
    torch.testing.assert_close(e.energy, net.energy(pts))
    # the default plane holds the origin and memories 0 and 1
    torch.testing.assert_close(e.memory_offset[:2], torch.zeros(2, dtype=torch.float64), atol=1e-12, rtol=0)
    assert float(e.memory_offset[2:].min()) > 0


def test_density_trapezoid_normaliser_matches_scipy(nets):
    _, rec = nets
    xi, beta = planar_memories().numpy(), PLANAR_BETA
    f = lambda y, x: np.exp(beta * (xi @ np.array([x, y]))).sum()  # noqa: E731
    z, _ = integrate.dblquad(f, -2.0, 1.0, -1.5, 2.5, epsrel=1e-10)
    err = [land.density_landscape(rec, extent=(-2.0, 1.0, -1.5, 2.5), n=n).log_Z - math.log(z) for n in (201, 401)]
    assert abs(err[0]) < 3e-3
    assert err[1] / err[0] == pytest.approx(0.25, abs=0.02)  # the trapezoidal rule's h^2 convergence
    assert "square" in land.density_landscape(rec, n=5).normaliser


def test_density_theorem3_normaliser_matches_polar_quadrature(nets):
    _, rec = nets
    R = 3.0
    d = land.density_landscape(rec, n=11, R=R)
    xi = planar_memories().numpy()
    f = lambda r, th: r * np.exp(PLANAR_BETA * (xi @ np.array([r * np.cos(th), r * np.sin(th)]))).sum()  # noqa: E731
    z, _ = integrate.dblquad(f, 0, 2 * np.pi, 0, R, epsrel=1e-10)
    assert d.log_Z == pytest.approx(math.log(z), rel=1e-9)
    assert "Theorem 3" in d.normaliser
    # log p_H = lse(beta xi x) - log Z, and delta = gamma / Z
    x = d.grid.points[4, 7]
    assert float(d.log_density[4, 7]) == pytest.approx(
        float(torch.logsumexp(PLANAR_BETA * (planar_memories() @ x), 0)) - math.log(z), rel=1e-9
    )
    assert d.log_delta == pytest.approx(math.log(PLANAR_GAMMA / z), rel=1e-9)


def test_b0_is_the_low_density_set_on_the_grid(nets):
    _, rec = nets
    d = land.density_landscape(rec, n=121, R=3.0)
    clear = d.G.abs() > 1e-9  # leave out rounding-level borderline points
    assert bool(((d.log_density < d.log_delta) == d.in_b0)[clear].all())
    assert 0.02 < float(d.in_b0.double().mean()) < 0.5


def test_b0_boundary_by_bisection(nets):
    _, rec = nets
    b = land.b0_boundary(rec, n_angles=200)
    assert bool(b.bounded.all())
    G = rec.gate_value(b.points)
    assert float(G.abs().max()) < 1e-9
    assert float(rec.gate_value(0.999 * b.points).max()) < 0 < float(rec.gate_value(1.001 * b.points).min())
    # B0 is convex: the boundary polygon turns the same way at every vertex
    c = b.coords.numpy()
    e1, e2 = np.roll(c, -1, 0) - c, np.roll(c, -2, 0) - np.roll(c, -1, 0)
    assert (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0] > 0).all()
    # its area (shoelace) agrees with the share of grid points in B0
    area = 0.5 * abs(np.sum(c[:, 0] * np.roll(c[:, 1], -1) - np.roll(c[:, 0], -1) * c[:, 1]))
    dens = land.density_landscape(rec, extent=(-2, 2, -2, 2), n=401)
    assert area == pytest.approx(16 * float(dens.in_b0.double().mean()), rel=0.02)
    # r* of Theorem 1 is the smallest boundary radius
    r_star = check_theorem1(planar_memories(), PLANAR_BETA, PLANAR_GAMMA).r_star
    assert float(b.radius.min()) == pytest.approx(r_star, rel=1e-3)


def test_b0_boundary_unbounded_directions_and_errors():
    xi = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    net = hd.MHN(xi, memory=hd.RecLag(1.0, 10.0))
    b = land.b0_boundary(net, n_angles=8, r_max=50.0)
    # along (-1, -1) every xi_mu . d < 0: B0 never ends
    assert not bool(b.bounded[5]) and bool(b.bounded[0])
    with pytest.raises(ValueError, match="center"):
        land.b0_boundary(hd.MHN(xi, memory=hd.RecLag(1.0, 1.0)))
    with pytest.raises(ValueError, match="RecLag"):
        land.b0_boundary(hd.MHN(xi, memory=hd.LogSumExp(1.0)))


@pytest.mark.parametrize("which", [0, 1])
def test_vector_field_is_minus_the_energy_gradient(nets, which):
    net = nets[which]
    f = land.vector_field(net, n=9)
    v = f.grid.points.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(net.energy(v).sum(), v)
    comp = -grad @ f.grid.plane.basis.T
    torch.testing.assert_close(f.ds, comp[..., 0])
    torch.testing.assert_close(f.dt, comp[..., 1])
    torch.testing.assert_close(f.speed, grad.norm(dim=-1))


def test_fig1_story_memory_for_vanilla_origin_for_reclag(nets):
    van, rec = nets
    pv = land.landscape_paths(van, [FIG1_START], steps=60, t_max=15.0, n_times=31)
    pr = land.landscape_paths(rec, [FIG1_START], steps=60, t_max=15.0, n_times=31)
    assert pv.iterate_ends == pv.integrate_ends == ["memory 4"]
    assert pr.iterate_ends == pr.integrate_ends == ["origin"]
    assert "origin" in pr.attractor_names and "origin" not in pv.attractor_names
    for p in (pv, pr):
        assert float((p.integrate.energy[1:] - p.integrate.energy[:-1]).max()) <= 1e-9
        torch.testing.assert_close(p.integrate_coords, p.integrate.v)  # 2-D: the plane is the space itself


def test_sweep_cells_and_swallowed_memories():
    sets = explorer_memory_sets()
    sweep = land.landscape_sweep(
        {k: sets[k] for k in list(sets)[::2]}, betas=[3.0], gammas=[None, 10.0, 1e4], n=21, n_starts=4, steps=10
    )
    assert len(sweep.cells) == 2 * 1 * 3
    planar, near = sweep.cells[0, 0, 0], sweep.cells[1, 0, 2]
    assert planar.b0_fraction is None and "origin" not in planar.attractor_names
    assert planar.energy.shape == (21, 21) and planar.paths.shape == (11, 4, 2)
    # memories close to the origin are swallowed by a large gamma (SPEC, Theorem 3 notes)
    assert near.attractor_names == ["origin"] and set(near.ends) == {"origin"}
    fr = [sweep.cells[0, 0, g].b0_fraction for g in (1, 2)]
    assert fr[0] < fr[1]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda n: land.energy_landscape(n, extent=(1, 0, 0, 1)), "extent"),
        (lambda n: land.energy_landscape(n, extent=(0, 1, 0)), "extent"),
        (lambda n: land.energy_landscape(n, n=1), "n must"),
        (lambda n: land.energy_landscape(n, plane=Plane.through([0, 0, 0], [1, 0, 0], [0, 1, 0])), "dimensions"),
        (lambda n: land.energy_landscape(n, plane="xy"), "Plane"),
        (lambda n: land.density_landscape(n.replace(memory=hd.LogSumExp(1.0))), "RecLag"),
        (lambda n: land.density_landscape(n, R=-1.0), "R"),
        (lambda n: land.landscape_paths(n, [[0.0, 0.0, 0.0]]), "v0"),
        (lambda n: land.landscape_sweep({}, [1.0], [None]), "memory_sets"),
        (lambda n: land.landscape_sweep({"a": planar_memories()}, [0.0], [None]), "betas"),
    ],
)
def test_bad_input_names_the_argument(nets, call, match):
    with pytest.raises(ValueError, match=match):
        call(nets[1])


def test_log_gamma_beyond_float_range_goes_through_density_and_b0():
    # scores lse(β xi v) ~ 800: γ itself is inf, only log γ is a number
    xi = 40 * planar_memories()
    net = hd.MHN(xi, memory=hd.RecLag(5.0, log_gamma=800.0))
    assert net.memory.gamma == math.inf
    d = land.density_landscape(net, extent=(-5, 5, -5, 5), n=61, R=10.0)
    pts = d.grid.points
    torch.testing.assert_close(d.G, torch.logsumexp(5.0 * pts @ xi.T, -1) - 800.0, rtol=0, atol=1e-9)
    assert math.isfinite(d.log_Z) and math.isfinite(d.log_delta)
    clear = d.G.abs() > 1e-9
    assert bool(((d.log_density < d.log_delta) == d.in_b0)[clear].all()) and bool(d.in_b0.any())
    sq = land.density_landscape(net, extent=(-5, 5, -5, 5), n=61)
    assert math.isfinite(sq.log_Z) and bool(((sq.log_density < sq.log_delta) == sq.in_b0)[clear].all())
    b = land.b0_boundary(net, n_angles=60)
    assert bool(b.bounded.all()) and float(net.gate_value(b.points).abs().max()) < 1e-9
    # the same geometry as xi at β = 200: the boundary does not depend on the route
    same = land.b0_boundary(hd.MHN(planar_memories(), memory=hd.RecLag(200.0, log_gamma=800.0)), n_angles=60)
    torch.testing.assert_close(b.radius, same.radius, rtol=1e-9, atol=0)


def test_smoothed_reclag_density_uses_its_own_G(nets):
    _, rec = nets
    smooth = rec.replace(memory=rec.memory.smooth(50.0))
    d, ref = land.density_landscape(smooth, n=21, R=3.0), land.density_landscape(rec, n=21, R=3.0)
    torch.testing.assert_close(d.G, ref.G)
    torch.testing.assert_close(d.G, smooth.gate_value(d.grid.points))


def test_the_networks_tau_and_feature_lagrangian_reach_the_analyses(nets):
    _, rec = nets
    slow = rec.replace(tau_v=2.0)
    f1, f2 = land.vector_field(rec, n=7), land.vector_field(slow, n=7)
    torch.testing.assert_close(f2.ds, f1.ds / 2)
    torch.testing.assert_close(f2.speed, f1.speed / 2)
    # a two-variable network: dv/dt on the slow manifold h = xi g(v) is the same field
    torch.testing.assert_close(land.vector_field(rec.replace(tau_h=0.1), n=7).ds, f1.ds)
    absnet = rec.replace(feature=hd.Abs())
    e = land.energy_landscape(absnet, n=9)
    torch.testing.assert_close(e.energy, absnet.energy(e.grid.points))
    assert not torch.allclose(e.energy, land.energy_landscape(rec, n=9).energy)
    for call in (land.density_landscape, land.b0_boundary):  # Theorem 3's geometry needs Quadratic L_V
        with pytest.raises(ValueError, match="Quadratic"):
            call(absnet)


def test_sweep_takes_networks_and_keeps_their_kind():
    xi = planar_memories()
    smooth = hd.MHN(xi, memory=hd.RecLag(1.0, 5.0).smooth(30.0), feature=hd.Abs())
    sweep = land.landscape_sweep({"net": smooth, "array": xi}, betas=[2.0], gammas=[None, 50.0], n=9, n_starts=3,
                                 steps=4)
    grid = sweep.grids[0]
    want = smooth.replace(memory=hd.SmoothRecLag(2.0, 50.0, kappa=30.0))
    torch.testing.assert_close(sweep.cells[0, 0, 1].energy, want.energy(grid.points))
    torch.testing.assert_close(sweep.cells[0, 0, 0].energy,
                               smooth.replace(memory=hd.LogSumExp(2.0)).energy(grid.points))
    # an array is MHN(xi) with the defaults, as before
    arr = hd.MHN(xi, memory=hd.RecLag(2.0, 50.0))
    torch.testing.assert_close(sweep.cells[1, 0, 1].energy, arr.energy(sweep.grids[1].points))
    assert land.vary_memory(hd.RecLag(1.0, log_gamma=900.0), 3.0, 7.0) == hd.RecLag(3.0, 7.0)
    w = land.vary_memory(hd.WeightedLogSumExp(1.0, [1.0, 2.0]), 3.0, None)
    assert w.beta == 3.0 and w.mass.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="N_V = 2"):
        land.landscape_sweep({"a": hd.MHN(torch.randn(3, 4))}, [1.0], [None])
