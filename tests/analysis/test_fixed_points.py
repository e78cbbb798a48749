"""Fixed points of the map by Newton's method and their stability (hopdyn.analysis.fixed_points)."""
import pytest
import torch

import hopdyn as hd
from hopdyn.analysis.fixed_points import fixed_points
from hopdyn.datasets import PLANAR_BETA, PLANAR_GAMMA, planar_memories

TWO = torch.tensor([[2.0, 0.0], [-2.0, 0.0]], dtype=torch.float64)


def test_fixed_points_and_stability_two_memories():
    fp = fixed_points(hd.MHN(TWO, memory=hd.LogSumExp(2.0)))
    kinds = dict(zip(fp.names, fp.kind_map))
    assert kinds["memory 0"] == kinds["memory 1"] == "stable"
    origin = [k for k, p in enumerate(fp.points) if float(p.norm()) < 1e-8]
    assert len(origin) == 1 and fp.kind_map[origin[0]] == "saddle" and fp.kind_flow[origin[0]] == "saddle"
    # identified by its id (kind "origin"), whatever its stability
    assert fp.kinds[origin[0]] == "origin" and int(fp.memory[origin[0]]) == -1
    others = [k for k, kind in enumerate(fp.kinds) if kind == "other"]
    assert all(fp.names[k] == f"fixed point {k}" for k in others)
    # the map's Jacobian at 0 is β xiᵀ(diag p − p pᵀ)xi = diag(8, 0): eigenvalues 8 and 0
    assert sorted(fp.eig_map[origin[0]].real.tolist()) == pytest.approx([0.0, 8.0], abs=1e-9)
    # finite differences agree with the autograd Jacobian at a memory
    net = hd.MHN(TWO, memory=hd.LogSumExp(2.0))
    k = fp.names.index("memory 0")
    assert fp.kinds[k] == "memory" and int(fp.memory[k]) == 0
    v = fp.points[k]
    h = 1e-6
    fd = torch.stack([(net.step(v + h * e) - net.step(v - h * e)) / (2 * h) for e in torch.eye(2, dtype=torch.float64)], 1)
    torch.testing.assert_close(torch.linalg.eigvals(fd), fp.eig_map[k], atol=1e-6, rtol=1e-6)
    # RecLag with γ > N_H: the origin becomes a stable fixed point (Jacobian 0)
    rl = fixed_points(hd.MHN(TWO, memory=hd.RecLag(2.0, 5.0)))
    o = rl.kinds.index("origin")
    assert rl.names[o] == "origin" and rl.kind_map[o] == "stable"
    assert float(rl.residual.max()) < 1e-9


def test_fixed_points_use_the_networks_own_lagrangians():
    """A smoothed RecLag and the Abs feature Lagrangian reach the solver: every point found is a
    fixed point of that network's own map, not of a network rebuilt from (xi, β, γ)."""
    net = hd.MHN(planar_memories(), memory=hd.RecLag(PLANAR_BETA, PLANAR_GAMMA).smooth(5.0), tau_v=3.0)
    fp = fixed_points(net)
    torch.testing.assert_close(net.step(fp.points), fp.points, atol=1e-8, rtol=0)
    hard = fixed_points(net.replace(memory=hd.RecLag(PLANAR_BETA, PLANAR_GAMMA)))
    assert fp.points.shape != hard.points.shape or not torch.allclose(fp.points, hard.points)
    absnet = hd.MHN(TWO, memory=hd.LogSumExp(2.0), feature=hd.Abs())
    fa = fixed_points(absnet, torch.tensor([[1.9, 0.1], [-1.9, 0.1]], dtype=torch.float64))
    torch.testing.assert_close(absnet.step(fa.points), fa.points, atol=1e-8, rtol=0)


def test_float32_network_is_solved_in_float64():
    fp = fixed_points(hd.MHN(TWO.float(), memory=hd.LogSumExp(2.0)))
    assert fp.points.dtype == torch.float64 and float(fp.residual.max()) < 1e-9


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: fixed_points(TWO), "net must"),
        (lambda: fixed_points(hd.MHN(TWO), n_random=0), "n_random"),
        (lambda: fixed_points(hd.MHN(TWO), max_iter=0), "max_iter"),
        (lambda: fixed_points(hd.MHN(TWO), tol=-1.0), "tol"),
        (lambda: fixed_points(hd.MHN(TWO), [[1.0, 2.0, 3.0]]), "seeds"),
        (lambda: fixed_points(hd.MHN(TWO), [[float("nan"), 0.0]]), "seeds"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
