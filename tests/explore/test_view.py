"""The explorer's view is hopdyn's analyses on the user's network, on one grid (no browser)."""
import json
import math

import numpy as np
import pytest
import torch

import hopdyn as hd
from hopdyn import analysis as an
from hopdyn.explore import State, ViewCache, compute_view, decode, encode, network, trajectories, view_data
from hopdyn.explore.inputs import builtin_memories
from hopdyn.explore.planes import view_plane


def memories(n_h=8, n_v=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_h, n_v, generator=g, dtype=torch.float64)


ALL = ("contours", "boundaries", "b0", "theorem1", "fixed_points", "fates")


@pytest.mark.parametrize("xi, state", [
    (builtin_memories(), State(n=40, background="basins", overlays=("boundaries",))),
    (memories(), State(beta=2.0, gamma=50.0, n=30, plane="pca", background="basins", overlays=("boundaries",))),
])
def test_basin_layer_is_basin_map_on_the_same_grid(xi, state):
    view = compute_view(state, xi)
    net = network(state, xi)
    plane = view_plane(state, net)
    ref = an.basin_map(net, state.n, extent=view.extent, plane=plane, dtype=torch.float32, progress=False)
    assert torch.equal(view.basins.labels, ref.labels)
    assert view.basins.names == ref.names
    torch.testing.assert_close(view.basins.grid.points, view.grid.points, rtol=0, atol=1e-12)
    assert torch.equal(view.boundaries, an.boundary_cells(ref.labels))


def test_energy_layer_is_the_network_energy_at_the_plane_points():
    xi = memories(6, 7, seed=1)
    state = State(beta=1.5, gamma=30.0, n=25, plane="memories", pair=(2, 4))
    view = compute_view(state, xi)
    net = hd.MHN(xi, memory=hd.RecLag(1.5, 30.0))
    # the plane by hand: Gram-Schmidt on memories 2 and 4 through the origin
    e1 = xi[2] / xi[2].norm()
    e2 = xi[4] - (xi[4] @ e1) * e1
    e2 = e2 / e2.norm()
    s, t = view.grid.s, view.grid.t
    pts = s[None, :, None] * e1 + t[:, None, None] * e2
    torch.testing.assert_close(view.energy.energy, net.energy(pts), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(view.memory_offset[[2, 4]], torch.zeros(2, dtype=torch.float64), rtol=0, atol=1e-12)


def test_theorem1_radii_are_check_theorem1():
    for xi, state in [(builtin_memories(), State()), (memories(), State(beta=2.0, gamma=100.0, n=20))]:
        view = compute_view(state, xi, ViewCache())
        ref = an.check_theorem1(network(state, xi))
        for key in ("eps_paper", "eps_cs", "r_star"):
            assert getattr(view.theorem1, key) == pytest.approx(getattr(ref, key), rel=1e-12), key
        assert view.theorem1.holds == ref.holds


def test_layers_that_do_not_apply_say_why_and_the_others_draw():
    xi = builtin_memories()
    vanilla = compute_view(State(gamma=None, n=20, background="density", overlays=ALL), xi)
    assert vanilla.density is None and vanilla.theorem1 is None and vanilla.fates is None and vanilla.b0 is None
    assert "RecLag" in vanilla.notes["density"] and "RecLag" in vanilla.notes["fates"]
    assert vanilla.energy is not None and vanilla.basins is not None and vanilla.fixed is not None
    # γ ≤ N_H: B0 does not hold the origin; its boundary is the zero level of G on the grid
    low = compute_view(State(gamma=2.0, n=20, overlays=("b0", "theorem1")), xi)
    assert low.b0 is None and "zero level" in low.notes["b0"]
    net = network(State(gamma=2.0), xi)
    torch.testing.assert_close(low.b0_level, net.gate_value(low.grid.points), rtol=0, atol=0)
    assert low.theorem1.counterexample and not low.theorem1.holds


def test_fates_and_fixed_points_are_the_analyses():
    xi = builtin_memories()
    state = State(gamma=2e5, n=20, overlays=("fates", "fixed_points"))
    view = compute_view(state, xi)
    net = network(state, xi)
    ref = an.memory_fates(net, warn=False)
    assert torch.equal(view.fates.survives, ref.survives) and torch.equal(view.fates.swallowed, ref.swallowed)
    fp = an.fixed_points(net)
    assert view.fixed.names == fp.names and view.fixed.kind_map == fp.kind_map


def test_pca_plane_matches_scikit_learn():
    from sklearn.decomposition import PCA

    xi = memories(12, 9, seed=3)
    plane = view_plane(State(plane="pca"), hd.MHN(xi))
    ref = torch.as_tensor(PCA(2).fit(xi.numpy()).components_)
    for k in range(2):
        assert abs(float(plane.basis[k] @ ref[k])) == pytest.approx(1.0, abs=1e-10)
    torch.testing.assert_close(plane.basis @ plane.basis.T, torch.eye(2, dtype=torch.float64), rtol=0, atol=1e-12)
    assert float(plane.distance(torch.zeros(9, dtype=torch.float64))) < 1e-12


def test_directions_plane_and_its_bad_input():
    xi = memories(4, 3)
    net = hd.MHN(xi)
    plane = view_plane(State(plane="directions", u="1,0,0", v="1,1,0"), net)
    torch.testing.assert_close(plane.basis, torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64))
    for u, v, msg in [("1,0", "0,1,0", "needs N_V = 3"), ("1,0,0", "2,0,0", "one line"), ("a,b,c", "0,1,0", "numbers"),
                      ("nan,0,0", "0,1,0", "finite")]:
        with pytest.raises(ValueError, match=msg):
            view_plane(State(plane="directions", u=u, v=v), net)
    with pytest.raises(ValueError, match="two different memories"):
        view_plane(State(pair=(1, 1)), net)


def test_trajectories_are_both_simulators_from_the_clicked_point():
    xi = builtin_memories()
    state = State(n=20, starts=((0.3, -0.4), (1.5, 1.0)), overlays=())
    view = compute_view(state, xi)
    cache = ViewCache()
    paths = trajectories(view, state.starts, cache, steps=30, t_max=5.0, n_times=51)
    v0 = torch.tensor(state.starts, dtype=torch.float64)
    net = network(state, xi)
    t = torch.linspace(0, 5.0, 51, dtype=torch.float64)
    it = hd.iterate(net, v0, steps=30)
    batch = hd.integrate(net, v0, t)
    for b, p in enumerate(paths):
        torch.testing.assert_close(p.iterate.v[:, 0], it.v[:, b], rtol=0, atol=1e-12)
        torch.testing.assert_close(p.integrate.v[:, 0], batch.v[:, b], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(p.integrate.energy[:, 0], batch.energy[:, b], rtol=1e-12, atol=1e-12)
        assert p.iterate_ends == paths[b].iterate_ends and p.integrate.v.shape == (51, 1, 2)
        torch.testing.assert_close(p.iterate_coords[0, 0], v0[b], rtol=0, atol=1e-12)
    # a new start runs alone: the first ones come from the cache
    again = trajectories(view, (*state.starts, (0.0, 1.0)), cache, steps=30, t_max=5.0, n_times=51)
    assert again[0] is paths[0] and again[1] is paths[1] and len(again) == 3


def test_cache_reuses_layers_and_export_is_plain_json():
    cache = ViewCache()
    xi = builtin_memories()
    state = State(n=30, background="basins", overlays=ALL, starts=((0.5, 0.5),))
    first = compute_view(state, xi, cache)
    again = compute_view(state.with_(background="energy"), xi, cache)
    assert again.basins is first.basins and all(v == 0 for v in again.timings.values())
    data = view_data(state, first, trajectories(first, state.starts, steps=5, t_max=1.0, n_times=5))
    text = json.dumps(data, allow_nan=False)
    back = json.loads(text)
    assert np.array(back["basins"]["labels"]).shape == (30, 30)
    assert back["theorem1"]["r_star"] == pytest.approx(first.theorem1.r_star)
    assert len(back["trajectories"]) == 1 and len(back["trajectories"][0]["iterate"]["coords"]) == 6


def test_state_round_trips_through_the_url():
    state = State(beta=2.5, gamma=None, gate="smooth", kappa=7.0, feature="abs", plane="pca", pair=(3, 1),
                  u="1,2", v="0,1", extent=(-1.0, 2.0, -3.0, 0.5), n=150, background="basins",
                  overlays=("fates",), starts=((0.1, 0.2), (-1.0, 2.0)), memories=((1.0, 0.0), (0.0, 1.0)), click="add")
    assert decode(encode(state)) == state
    assert encode(State()) == ""
    assert decode("?overlays=none").overlays == ()
    for query, msg in [("?beta=-1", "beta"), ("?gamma=abc", "gamma"), ("?foo=1", "unknown"), ("?n=5", "n "),
                       ("?extent=1,0,0,1", "extent"), ("?starts=1", "two numbers"), ("?overlays=bogus", "layer"),
                       ("?beta=nan", "beta")]:
        with pytest.raises(ValueError, match=msg):
            decode(query)


def test_edited_memories_build_the_network():
    xi = builtin_memories()
    state = State(memories=((1.0, 0.0), (0.0, 2.0), (-1.0, -1.0)))
    net = network(state, xi)
    assert net.n_memories == 3 and float(net.xi[1, 1]) == 2.0
    with pytest.raises(ValueError, match="2-D"):
        network(state, memories(4, 3))
    with pytest.raises(ValueError, match="at least one memory"):
        State(memories=())
    assert math.isclose(network(State(gate="smooth", kappa=5.0), xi).memory.kappa, 5.0)
