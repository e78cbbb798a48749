"""Continuation in β or γ of the user's network (hopdyn.analysis.continuation)."""
import math

import pytest
import torch

import hopdyn as hd
from hopdyn.analysis.attractors import Attractors
from hopdyn.analysis.continuation import continuation, match_attractors, network_at, vary_memory
from hopdyn.datasets import PLANAR_BETA, planar_memories


def test_continuation_in_gamma_origin_basin_grows():
    gammas = [2.0, 10.0, 100.0, 1000.0, 1e4]
    c = continuation(planar_memories(), "gamma", gammas, beta=PLANAR_BETA, n=4000, scale=3.0, progress=False)
    o = c.kinds.index("origin")
    assert c.names[o] == "origin"
    assert not c.present[0, o] and c.present[1:, o].all()  # the origin attracts only for γ > N_H = 5
    frac = c.fractions[:, o]
    assert bool((frac[1:] >= frac[:-1]).all())  # common random numbers: the origin's basin only grows
    assert c.points.shape == (5, len(c.names), 2) and c.values.tolist() == gammas
    assert sorted(c.memory[[k == "memory" for k in c.kinds]].tolist()) == [0, 1, 2, 3, 4]
    b = continuation(planar_memories(), "beta", [0.3, 4.0], n=2000, scale=3.0, progress=False)
    assert b.present[1].sum() == 5 and b.present[0].sum() == 1  # β = 0.3 merges the memories into one attractor
    # the merged point counts as its nearest memory's own fixed point: that track continues at β = 4
    a = int(b.present[0].nonzero()[0])
    assert b.kinds[a] == "memory" and bool(b.present[1, a])


def test_the_net_form_equals_the_convenience():
    net = hd.MHN(planar_memories(), memory=hd.RecLag(PLANAR_BETA, 1.0))
    a = continuation(net, "gamma", [10.0, 1e3], n=1500, scale=3.0, progress=False)
    b = continuation(planar_memories(), "gamma", [10.0, 1e3], beta=PLANAR_BETA, n=1500, scale=3.0, progress=False)
    assert a.names == b.names and a.kinds == b.kinds
    torch.testing.assert_close(a.fractions, b.fractions)


def test_continuation_keeps_a_log_gamma_reclag_and_a_smoothed_memory():
    """Varying β of RecLag(β, log_gamma=800) keeps log γ = 800 exactly (γ is inf as a float);
    varying γ of a smoothed RecLag keeps its κ and the network's feature Lagrangian and τ."""
    xi = 40 * planar_memories()
    big = hd.MHN(xi, memory=hd.RecLag(5.0, log_gamma=800.0), tau_v=2.0)
    at = network_at(big, "beta", 6.0)
    assert at.memory == hd.RecLag(6.0, log_gamma=800.0) and math.isinf(at.memory.gamma) and at.tau_v == 2.0
    c = continuation(big, "beta", [5.0, 6.0], n=500, progress=False)
    assert c.base_memory == repr(hd.RecLag(5.0, log_gamma=800.0))
    # the same as basin fractions of the user's network, value by value
    fr = hd.basins.basin_fractions(at, "box", 500, progress=False)
    for k, name in enumerate(fr.names):
        assert float(c.fractions[1, c.names.index(name)]) == float(fr.fractions[k])
    lg = continuation(big, "log_gamma", [790.0, 810.0], n=300, progress=False)
    assert lg.values.tolist() == [790.0, 810.0]

    smooth = hd.MHN(planar_memories(), memory=hd.RecLag(PLANAR_BETA, 10.0).smooth(8.0), feature=hd.Abs())
    s = network_at(smooth, "gamma", 500.0)
    assert s.memory == hd.SmoothRecLag(PLANAR_BETA, 500.0, kappa=8.0) and isinstance(s.feature, hd.Abs)
    cs = continuation(smooth, "gamma", [500.0], n=400, scale=3.0, progress=False)
    ref = hd.basins.basin_fractions(s, "box", 400, scale=3.0, progress=False)
    assert cs.names == ref.names
    torch.testing.assert_close(cs.fractions[0], ref.fractions)
    assert cs.base_memory.startswith("SmoothRecLag")


def test_vary_memory_rules():
    rl = hd.RecLag(1.0, log_gamma=900.0)
    assert vary_memory(rl, 3.0) == hd.RecLag(3.0, log_gamma=900.0)  # γ kept exactly
    assert vary_memory(rl, 3.0, 7.0) == hd.RecLag(3.0, 7.0)
    assert vary_memory(rl, gamma=None) == hd.LogSumExp(1.0)
    assert vary_memory(hd.LogSumExp(2.0), gamma=9.0) == hd.RecLag(2.0, 9.0)
    assert vary_memory(hd.LogSumExp(2.0), 3.0) == hd.LogSumExp(3.0)
    w = vary_memory(hd.WeightedLogSumExp(1.0, [1.0, 2.0]), 3.0, None)
    assert w.beta == 3.0 and w.mass.tolist() == [1.0, 2.0]
    assert vary_memory(hd.RecLag(1.0, 5.0).smooth(4.0), log_gamma=2.0).kappa == 4.0
    assert hd.landscape.vary_memory is vary_memory  # one home, used by the landscape sweep too


def test_matcher_follows_ids_then_nearness():
    tracks = []
    pts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0]], dtype=torch.float64)
    first = Attractors(["origin", "memory 1", "attractor 2"], pts, ["origin", "memory", "other"], torch.tensor([-1, 1, -1]))
    assert match_attractors(tracks, first, 0.1) == [0, 1, 2]
    # next value: memory 1 moved far (still the same id), the other moved a little, a new one appeared
    pts2 = torch.tensor([[3.0, 0.0], [5.05, 5.0], [-5.0, 0.0]], dtype=torch.float64)
    second = Attractors(["memory 1", "attractor 1", "attractor 2"], pts2, ["memory", "other", "other"],
                        torch.tensor([1, -1, -1]))
    assert match_attractors(tracks, second, 0.1) == [1, 2, 3]
    assert [t.name for t in tracks] == ["origin", "memory 1", "attractor 2", "attractor 3"]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: continuation(planar_memories(), "gamma", [10.0]), "beta"),
        (lambda: continuation(planar_memories(), "beta", [1.0], beta=2.0), "no fixed beta"),
        (lambda: continuation(planar_memories(), "kappa", [1.0]), "parameter"),
        (lambda: continuation(hd.MHN(planar_memories()), "gamma", [10.0], beta=2.0), "reads beta and gamma"),
        (lambda: continuation(hd.MHN(planar_memories()), "gamma", [-1.0]), "values"),
        (lambda: continuation(hd.MHN(planar_memories()), "beta", []), "values"),
        (lambda: continuation(hd.MHN(planar_memories()), "beta", [1.0], match_tol=0.0), "match_tol"),
        (lambda: continuation(hd.MHN(planar_memories(), memory=hd.Polynomial(3)), "beta", [1.0]), "no beta"),
        (lambda: vary_memory(hd.RecLag(1.0, 2.0), gamma=3.0, log_gamma=1.0), "not both"),
        (lambda: vary_memory("lse", 1.0), "Lagrangian"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
