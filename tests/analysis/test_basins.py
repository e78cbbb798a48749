"""Attractors and basins: labelling by attractor id, grid maps on planes, Monte Carlo fractions
with intervals, basin entropy, swallowed memories. (Fixed points, continuation, planes and the
samplers have their own test modules.)"""
import math
import warnings

import pytest
import torch

import hopdyn as hd
from hopdyn.analysis.attractors import Attractors, MemorySwallowedWarning, find_attractors, memory_fates
from hopdyn.analysis.basins import basin_entropy, basin_fractions, basin_map, boundary_cells
from hopdyn.analysis.geometry import Plane
from hopdyn.datasets import PLANAR_BETA, PLANAR_GAMMA, planar_memories


def planar_net(gamma=PLANAR_GAMMA):
    return hd.MHN(planar_memories(), memory=hd.RecLag(PLANAR_BETA, gamma))


def regular(n, radius=2.0):
    a = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n + 0.1
    return radius * torch.stack([torch.cos(a), torch.sin(a)], -1)


def test_attractors_index_and_label():
    att = Attractors(["a", "b"], torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64), ["origin", "memory"],
                     torch.tensor([-1, 3]))
    states = torch.tensor([[0.0, 1e-4], [1.0, -1e-4], [0.5, 0.0]], dtype=torch.float64)
    assert att.index(states, 1e-3).tolist() == [0, 1, -1]
    assert att.label(states, 1e-3) == ["a", "b", "other"]
    # the ids are fields, whatever the display names say
    assert att.origin == 0 and att.of_memory(3) == 1 and att.of_memory(0) == -1 and len(att) == 2
    assert Attractors.empty(2).origin == -1


@pytest.mark.parametrize(
    "args, message",
    [
        ((["a"], torch.zeros(2, 2), ["other"], torch.tensor([-1])), "same 1 attractors"),
        ((["a"], torch.zeros(1, 2), ["saddle"], torch.tensor([-1])), "kinds must be"),
    ],
)
def test_attractors_bad_fields(args, message):
    with pytest.raises(ValueError, match=message):
        Attractors(*args)


def test_known_attractors_carry_kind_and_memory_ids():
    net = planar_net(1e5)  # memory 1 is swallowed: ids skip it, they are not positions
    att = hd.basins.memory_attractors(net)
    assert att.kinds == ["origin"] + ["memory"] * 4 and att.memory.tolist() == [-1, 0, 2, 3, 4]
    assert att.of_memory(1) == -1 and att.of_memory(2) == 2
    m = basin_map(net, 32, progress=False)
    assert m.attractors.kinds == att.kinds and m.attractors.memory.tolist() == att.memory.tolist()
    assert float(m.shares.sum()) + m.unconverged == pytest.approx(1.0)


def test_find_attractors_names_known_and_new_and_unconverged():
    net = planar_net()
    v0 = torch.cat([planar_memories() + 0.01, torch.zeros(1, 2, dtype=torch.float64)])
    res = find_attractors(net, v0)
    assert [res.names[i] for i in res.labels.tolist()] == [f"memory {k}" for k in range(5)] + ["origin"]
    # a step cap of 1 leaves states between memories unconverged (-1)
    capped = find_attractors(hd.MHN(planar_memories(), memory=hd.LogSumExp(0.5)), v0, steps=1)
    assert (capped.labels == -1).any()
    # unknown attractors are discovered and grouped: vanilla β = 0.3 merges all memories into one point
    merged = find_attractors(hd.MHN(planar_memories(), memory=hd.LogSumExp(0.3)), v0, known=Attractors.empty(2))
    assert merged.names == ["attractor 0"] and (merged.labels == 0).all()
    assert merged.attractors.kinds == ["other"] and merged.attractors.memory.tolist() == [-1]


def test_basin_map_whole_plane_in_2d():
    m = basin_map(planar_net(), 96, progress=False)
    assert m.labels.shape == (96, 96) and m.xs.shape == (96,) and m.ys.shape == (96,)
    assert m.names == ["origin"] + [f"memory {k}" for k in range(5)]
    fr = m.fractions()
    assert fr["unconverged"] == 0 and abs(sum(fr.values()) - 1) < 1e-12
    assert all(fr[name] > 0.02 for name in m.names)
    # the grid cell nearest each memory lies in that memory's basin, the centre in the origin's
    for k, (x, y) in enumerate(m.memories_2d.tolist()):
        i, j = int((m.xs - x).abs().argmin()), int((m.ys - y).abs().argmin())
        assert m.names[int(m.labels[j, i])] == f"memory {k}"
    assert m.names[int(m.labels[48, 48])] == "origin"
    torch.testing.assert_close(m.points_2d, m.points)
    # float32 run gives the same map except at a few boundary cells
    m32 = basin_map(planar_net(), 96, dtype=torch.float32, progress=False)
    assert float((m32.labels != m.labels).float().mean()) < 0.01


def test_basin_map_on_a_plane_through_three_points():
    g = torch.Generator().manual_seed(0)
    xi = 2 * torch.randn(4, 5, generator=g, dtype=torch.float64)
    net = hd.MHN(xi, memory=hd.RecLag(3.0, 40.0))
    m = basin_map(net, 48, progress=False)
    assert m.plane.anchor_names == ["origin", "memory 0", "memory 1"]
    torch.testing.assert_close(m.plane.basis @ m.plane.basis.T, torch.eye(2, dtype=torch.float64))
    torch.testing.assert_close(m.plane.embed(m.plane.anchors_2d), m.plane.anchors)
    assert float(m.off_plane[m.names.index("memory 0")]) < 1e-6  # memory 0's fixed point lies near the plane
    custom = Plane.through(xi[1], xi[2], xi[3], names=("m1", "m2", "m3"))
    m2 = basin_map(net, 16, plane=custom, extent=(-1, 5, -1, 5), progress=False)
    assert m2.xs[0] == -1 and m2.ys[-1] == 5


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: basin_map(planar_net(), 0), "resolution"),
        (lambda: basin_map(planar_net(), 8, extent=(1, 0, 0, 1)), "extent"),
        (lambda: basin_map(planar_net(), 8, plane=Plane.through([0.0, 0, 0], [1.0, 0, 0], [0.0, 1, 0])), "dimensions"),
        (lambda: basin_fractions(planar_net(), "cube", 10), "sampler"),
        (lambda: basin_fractions(planar_net(), "box", 0), "n must"),
        (lambda: basin_fractions(planar_net(), torch.zeros(3, 3)), "sampler"),
        (lambda: basin_entropy(torch.zeros(4, 4, dtype=torch.long), box=5), "box"),
        (lambda: basin_map(planar_net(), 8, extent=(0, 1, 0, math.inf)), "extent"),
        (lambda: basin_map(planar_net(), (8, 1)), "resolution"),
        (lambda: memory_fates(hd.MHN(planar_memories())), "RecLag"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_symmetric_network_has_equal_basin_fractions():
    """Memories symmetric under rotation by 90°, states uniform in a disc (also symmetric):
    the four memory basins come out equal within their 95 % intervals."""
    net = hd.MHN(regular(4), memory=hd.RecLag(2.0, 30.0))
    fr = basin_fractions(net, "ball", 40_000, scale=3.0, seed=1, progress=False)
    mem = [fr.names.index(f"memory {k}") for k in range(4)]
    lo, hi = fr.ci_low[mem], fr.ci_high[mem]
    assert float(lo.max()) <= float(hi.min())  # all four intervals share a point
    assert fr.fraction("origin") > 0.01 and fr.n_unconverged == 0
    assert int(fr.counts.sum()) == fr.n == 40_000


def test_fractions_stream_in_chunks_and_match_one_batch():
    net = planar_net()
    pts = 3 * (2 * torch.rand(3000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) - 1)
    whole = find_attractors(net, pts)
    fr = basin_fractions(net, pts, chunk_size=100, progress=False)
    for k, name in enumerate(fr.names):
        assert int(fr.counts[k]) == int((torch.tensor([whole.names[i] == name for i in whole.labels.tolist()])).sum())
    assert fr.sampler == "data(n=3000)"


def test_boundary_cells_and_basin_entropy():
    labels = torch.zeros(10, 10, dtype=torch.long)
    labels[:, 5:] = 1
    b = boundary_cells(labels)
    assert b[:, 4:6].all() and not b[:, :4].any() and not b[:, 6:].any()
    one = basin_entropy(torch.zeros(20, 20, dtype=torch.long), box=5)
    assert one.entropy == 0 and one.n_boundary_boxes == 0
    # boxes straddling the boundary hold a 50/50 mix: entropy log 2 there
    half = basin_entropy(labels, box=2)
    assert half.n_boxes == 25 and half.n_boundary_boxes == 5
    assert half.boundary_entropy == pytest.approx(math.log(2)) and half.entropy == pytest.approx(math.log(2) / 5)
    # a random two-label grid: every box mixed, S_bb near log 2 (above it for three labels: 'fractal')
    rnd = torch.randint(0, 3, (200, 200), generator=torch.Generator().manual_seed(0))
    assert basin_entropy(rnd, box=10).fractal_boundary
    smooth = basin_map(planar_net(), 64, progress=False)
    s = basin_entropy(smooth.labels, box=4)
    assert 0 < s.entropy < s.boundary_entropy < math.log(2) and not s.fractal_boundary


def test_memory_fates_and_warning():
    xi = 0.5 * planar_memories() / planar_memories().norm(dim=-1, keepdim=True)
    with pytest.warns(MemorySwallowedWarning, match="keep γ ≤"):
        fates = memory_fates(hd.MHN(xi, memory=hd.RecLag(3.0, 10.0)))
    assert fates.n_swallowed == 5 and not bool(fates.survives.any())
    assert bool((hd.MHN(xi, memory=hd.RecLag(3.0, 10.0)).step(xi) == 0).all())  # xi[mu] in B0
    # at β = 3 the vanilla network merges these memories into one point near 0 (which counts as
    # the nearest memory's own): below the limit the gate never acts, nothing is swallowed, and
    # the other four still do not survive (merged)
    gamma_ok = math.exp(float(fates.log_gamma_limit.min())) * 0.999
    with warnings.catch_warnings():
        warnings.simplefilter("error", MemorySwallowedWarning)
        merged = memory_fates(hd.MHN(xi, memory=hd.RecLag(3.0, gamma_ok)))
    assert merged.n_swallowed == 0 and merged.n_merged == 4 and merged.n_survive == 1
    assert merged.has_own_fixed_point.tolist() == merged.survives.tolist()
    # the planar example: every memory is kept below its limit, and is a fixed point of RecLag too
    big = memory_fates(planar_net(1e5), warn=False)
    assert big.survives.tolist() == [True, False, True, True, True] and big.swallowed.tolist()[1]
    gamma_ok = math.exp(float(big.log_gamma_limit.min())) * 0.999
    kept = memory_fates(planar_net(gamma_ok))
    assert kept.n_swallowed == 0 and bool(kept.survives.all()) and bool(kept.has_own_fixed_point.all())
    torch.testing.assert_close(planar_net(gamma_ok).step(kept.fixed_points), kept.fixed_points, atol=1e-9, rtol=0)
