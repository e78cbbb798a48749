"""Certified basins (hopdyn.analysis.certify): a basin map that stops a state once it provably
lies in a known attractor's basin gives exactly the labels of the plain run to convergence; the
balls are what they claim (states in them converge there; the Jacobian bound holds)."""
import math

import pytest
import torch

import hopdyn as hd
from hopdyn.analysis.attractors import find_attractors, memory_attractors
from hopdyn.analysis.basins import basin_map, boundary_cells
from hopdyn.analysis.certify import certified_balls, certified_labels, jacobian_bound
from hopdyn.analysis.attractors import default_label_tol, default_tol, scale_of


def hexagon(dtype=torch.float64):
    """The network of the basin_map_1024 benchmark: 6 memories of unequal norms on a hexagon."""
    angles = torch.arange(6, dtype=torch.float64) * math.pi / 3 + 0.3
    radii = torch.tensor([2.0, 1.7, 2.2, 1.9, 2.1, 1.8], dtype=torch.float64)
    return torch.stack([radii * torch.cos(angles), radii * torch.sin(angles)], -1).to(dtype)


def three_d():
    g = torch.Generator().manual_seed(3)
    xi = torch.randn(7, 3, generator=g, dtype=torch.float64)
    return 2.0 * xi / xi.norm(dim=-1, keepdim=True)


NETS = {
    "reclag": lambda: hd.MHN(hexagon(), memory=hd.RecLag(4.0, 1000.0)),
    "vanilla": lambda: hd.MHN(hexagon(), memory=hd.LogSumExp(4.0)),
    "reclag_soft": lambda: hd.MHN(hexagon(), memory=hd.RecLag(2.0, 20.0)),
    "reclag_3d": lambda: hd.MHN(three_d(), memory=hd.RecLag(6.0, 500.0)),
}


def _both(net, v0, steps=1000, tol=None):
    scale = scale_of(net)
    tol = default_tol(v0.dtype, scale) if tol is None else tol
    label_tol = default_label_tol(scale)
    known = memory_attractors(net.replace(xi=net.xi.to(torch.float64)))
    run = net.replace(xi=net.xi.to(v0.dtype))
    kw = dict(steps=steps, tol=tol, label_tol=label_tol, known=known, progress=False)
    return find_attractors(run, v0, **kw), certified_labels(run, v0, **kw)


def _grid_and_edges(net, n=72, ext=3.3):
    """A grid over the plane of the first two coordinates, plus states jittered around the cells
    where the plain map changes label (the states nearest the basin boundaries)."""
    xs = torch.linspace(-ext, ext, n, dtype=torch.float64)
    pts = torch.stack(torch.meshgrid(xs, xs, indexing="xy"), -1).reshape(-1, 2)
    pts = torch.cat([pts, torch.zeros(pts.shape[0], net.n_features - 2, dtype=torch.float64)], -1)
    ref = find_attractors(net, pts, progress=False).labels.reshape(n, n)
    edge = boundary_cells(ref).flatten()
    g = torch.Generator().manual_seed(1)
    near = pts[edge].repeat(4, 1) + 0.5 * (xs[1] - xs[0]) * torch.randn(4 * int(edge.sum()), net.n_features,
                                                                         generator=g, dtype=torch.float64)
    return torch.cat([pts, near])


@pytest.mark.parametrize("name", list(NETS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_labels_equal_the_plain_run(name, dtype):
    net = NETS[name]()
    v0 = _grid_and_edges(net).to(dtype)
    ref, new = _both(net, v0)
    assert new.attractors.names == ref.attractors.names
    assert torch.equal(new.labels, ref.labels), f"{int((new.labels != ref.labels).sum())} labels differ"
    # the certificate did the work: fewer steps, and never more than the plain run for any state
    assert float(new.n_steps.float().mean()) < float(ref.n_steps.float().mean())
    assert bool((new.n_steps <= ref.n_steps).all())


def test_basin_map_keeps_its_labels():
    net = NETS["reclag"]()
    m = basin_map(net, 64, extent=(-3.3, 3.3, -3.3, 3.3), dtype=torch.float32, progress=False)
    ref = find_attractors(net.replace(xi=net.xi.float()), m.grid.points.reshape(-1, 2).float(),
                          known=memory_attractors(net), progress=False)
    assert torch.equal(m.labels.flatten(), ref.labels) and m.names == ref.attractors.names


@pytest.mark.parametrize("steps, tol", [(3, None), (12, None), (1000, 1e-9)])
def test_step_cap_and_tiny_tol_keep_the_unconverged(steps, tol):
    # a state that enters a ball too late to stop by the cap, or a tol below float32's rounding
    # (nothing converges), is not labelled by the ball: it stays -1 as in the plain run
    net = NETS["reclag_soft"]()
    v0 = _grid_and_edges(net, n=40).to(torch.float32)
    ref, new = _both(net, v0, steps=steps, tol=tol)
    assert bool((ref.labels < 0).any())
    assert torch.equal(new.labels, ref.labels) and new.attractors.names == ref.attractors.names


def _balls(net, dtype=torch.float32):
    known = memory_attractors(net.replace(xi=net.xi.to(torch.float64)))
    scale = scale_of(net)
    return known, certified_balls(net, known, tol=default_tol(dtype, scale), label_tol=default_label_tol(scale),
                                  steps_dtype=dtype)


def _in_ball(center, radius, n, g):
    d = center.numel()
    u = torch.randn(n, d, generator=g, dtype=torch.float64)
    u = u / u.norm(dim=-1, keepdim=True) * radius * torch.rand(n, 1, generator=g, dtype=torch.float64) ** (1 / d)
    return center + u


@pytest.mark.parametrize("name", ["reclag", "vanilla", "reclag_3d"])
def test_states_in_a_ball_converge_to_its_attractor(name):
    net = NETS[name]()
    known, balls = _balls(net)
    assert len(balls) >= 3
    if name == "reclag":  # the benchmark network: the big memories have sizeable balls, the origin too
        assert float(balls.radii.max()) > 0.5 and known.names[int(balls.attractor[0])] == "origin"
    g = torch.Generator().manual_seed(2)
    scale = scale_of(net)
    for b in range(len(balls)):
        v0 = _in_ball(balls.centers[b], float(balls.radii[b]), 200, g)
        # the sphere itself as well
        v0[:20] = balls.centers[b] + (v0[:20] - balls.centers[b]) / (v0[:20] - balls.centers[b]).norm(
            dim=-1, keepdim=True) * float(balls.radii[b])
        run = hd.iterate(net.replace(xi=net.xi.float()), v0.float(), steps=int(balls.finish[b]),
                         tol=default_tol(torch.float32, scale), keep="last", progress=False)
        assert bool(run.converged.all())
        dist = (run.final.double() - known.points[int(balls.attractor[b])]).norm(dim=-1)
        assert float(dist.max()) <= 0.5 * default_label_tol(scale)
        # and the exact map contracts about the centre at the certified rate
        step = net.step(v0)
        if float(balls.rates[b]) > 0:
            shrink = (step - balls.centers[b]).norm(dim=-1) / (v0 - balls.centers[b]).norm(dim=-1)
            assert float(shrink.max()) <= float(balls.rates[b]) + 1e-9
        else:
            assert bool((step == 0).all())  # the origin's closed-gate ball: one step to 0


@pytest.mark.parametrize("name", ["reclag", "reclag_3d"])
def test_jacobian_bound_holds_against_autograd(name):
    net = NETS[name]()
    known, balls = _balls(net)
    vanilla = net.replace(memory=hd.LogSumExp(net.memory.beta))  # the open-gate map
    g = torch.Generator().manual_seed(4)
    for b in range(len(balls)):
        r = float(balls.radii[b])
        if float(balls.rates[b]) == 0:
            continue
        bound = jacobian_bound(net, balls.centers[b], r)
        assert bound <= float(balls.rates[b]) + 1e-12
        worst = 0.0
        for v in _in_ball(balls.centers[b], r, 40, g):
            jac = torch.autograd.functional.jacobian(lambda x: vanilla.step(x), v)
            worst = max(worst, float(torch.linalg.matrix_norm(jac, ord=2)))
        assert worst <= bound
        # a smaller ball has a smaller bound, and the bound is not vacuous at the centre
        assert jacobian_bound(net, balls.centers[b], 0.5 * r) <= bound
        jac0 = torch.autograd.functional.jacobian(lambda x: vanilla.step(x), balls.centers[b])
        assert float(torch.linalg.matrix_norm(jac0, ord=2)) <= jacobian_bound(net, balls.centers[b], 0.0) <= 20 * (
            float(torch.linalg.matrix_norm(jac0, ord=2)) + 1e-12)


def test_gate_stays_open_on_reclag_balls():
    net = NETS["reclag"]()
    _, balls = _balls(net)
    g = torch.Generator().manual_seed(5)
    for b in range(len(balls)):
        v = _in_ball(balls.centers[b], float(balls.radii[b]), 300, g)
        G = net.gate_value(v)
        assert bool((G >= 0).all()) if float(balls.rates[b]) > 0 else bool((G < 0).all())


@pytest.mark.parametrize("memory", [hd.RecLag(4.0, 1000.0).smooth(50.0), hd.Polynomial(3)])
def test_other_lagrangians_run_plainly(memory):
    net = hd.MHN(hexagon(), memory=memory)
    known, balls = _balls(net)
    assert len(balls) == 0
    v0 = _grid_and_edges(net, n=24).to(torch.float32)
    ref, new = _both(net, v0)
    assert torch.equal(new.labels, ref.labels) and torch.equal(new.n_steps, ref.n_steps)
