"""Planes and grids (hopdyn.analysis.geometry): one Plane and one Grid for landscapes and basin maps."""
import math

import pytest
import torch

import hopdyn as hd
from hopdyn import landscape as land
from hopdyn.analysis.geometry import Grid, Plane, check_extent, default_extent, default_plane, plane_grid
from hopdyn.datasets import PLANAR_BETA, PLANAR_GAMMA, planar_memories


def net4(seed=0):
    g = torch.Generator().manual_seed(seed)
    return hd.MHN(torch.randn(5, 4, generator=g, dtype=torch.float64), memory=hd.RecLag(2.0, 50.0))


def test_plane_through_three_points_is_orthonormal_and_round_trips():
    net = net4()
    xi = net.xi
    p = Plane.through(xi[1], xi[2], xi[3], names=("m1", "m2", "m3"))
    torch.testing.assert_close(p.basis @ p.basis.T, torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(p.embed(p.anchors_2d), p.anchors)
    assert p.anchors_2d[0].tolist() == [0.0, 0.0] and abs(float(p.anchors_2d[1, 1])) < 1e-12
    assert float(p.distance(p.anchors).abs().max()) < 1e-12
    v = xi[4]
    # the distance is the norm of what the projection leaves out
    assert float(p.distance(v)) == pytest.approx(float((v - p.embed(p.project(v))).norm()))
    assert p.n_features == 4


def test_default_plane_and_extent():
    assert default_plane(hd.MHN(planar_memories())).anchor_names == ["origin"]
    net = net4()
    p = default_plane(net)
    assert p.anchor_names == ["origin", "memory 0", "memory 1"]
    torch.testing.assert_close(p.origin, torch.zeros(4, dtype=torch.float64))
    s0, s1, t0, t1 = default_extent(net, p, 1.5)
    assert s0 == t0 == -s1 and s1 == t1
    assert s1 == pytest.approx(1.5 * float(p.project(net.xi).abs().max()))
    with pytest.raises(ValueError, match="at least 2 memories"):
        default_plane(hd.MHN(torch.ones(1, 3)))


def test_one_grid_for_landscapes_and_basin_maps():
    """The energy landscape and the basin map of a network on the same plane and extent sit on
    the same points: the same Grid type, the same [j, i] ↔ (s[i], t[j]) convention."""
    net = hd.MHN(planar_memories(), memory=hd.RecLag(PLANAR_BETA, PLANAR_GAMMA))
    ext = (-2.0, 2.0, -1.0, 3.0)
    e = land.energy_landscape(net, extent=ext, n=(9, 7))
    m = hd.basins.basin_map(net, (9, 7), extent=ext, progress=False)
    assert isinstance(e.grid, Grid) and isinstance(m.grid, Grid)
    assert e.grid.shape == m.labels.shape == (7, 9)
    torch.testing.assert_close(e.grid.points, m.grid.points)
    torch.testing.assert_close(m.xs, m.grid.s)
    j, i = 5, 2
    torch.testing.assert_close(m.grid.points[j, i], torch.stack([m.xs[i], m.ys[j]]))
    assert e.grid.extent == m.grid.extent == ext


def test_plane_grid_dtype_and_default_margin():
    net = hd.MHN(planar_memories().float())
    g = plane_grid(net, n=5)
    assert g.s.dtype == torch.float32 and g.points.shape == (5, 5, 2)
    g64 = plane_grid(net, n=5, dtype=torch.float64, margin=2.0)
    assert g64.s.dtype == torch.float64 and g64.extent[1] == pytest.approx(2.0 / 1.35 * g.extent[1], rel=1e-6)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: Plane.through([0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0]), "one line"),
        (lambda: Plane.through([0.0, 0, 0], [0.0, 0, 0], [2.0, 1, 0]), "coincide"),
        (lambda: Plane.through([0.0, 0, 0], [1.0, 0], [2.0, 1, 0]), "b must"),
        (lambda: check_extent((0, 1, 0)), "extent"),
        (lambda: check_extent((0, 1, 1, 0)), "extent \\(t_min, t_max\\)"),
        (lambda: check_extent((0, math.nan, 0, 1)), "extent \\(s_min, s_max\\)"),
        (lambda: check_extent("abcd"), "extent"),
        (lambda: plane_grid(net4(), n=1), "n must"),
        (lambda: plane_grid(net4(), n=1, name="resolution"), "resolution must"),
        (lambda: plane_grid(net4(), plane=Plane.standard()), "dimensions"),
        (lambda: plane_grid(net4(), plane="xy"), "Plane"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
