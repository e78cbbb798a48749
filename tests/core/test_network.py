"""The network: energies (eqs 4, 8), the step (eq 12), the vector field (eqs 1–2), bad input."""
import numpy as np
import pytest
import torch

import hopdyn as hd
from conftest import random_net_params

MEMORIES = [hd.LogSumExp(1.0), hd.LogSumExp(4.0), hd.RecLag(2.0, 3.0), hd.RecLag(2.0, 50.0), hd.Polynomial(2)]
FEATURES = [hd.Quadratic(), hd.Abs()]


@pytest.mark.parametrize("memory", MEMORIES, ids=repr)
@pytest.mark.parametrize("feature", FEATURES, ids=repr)
def test_two_body_energy_on_slow_manifold_equals_adiabatic(memory, feature):
    net = hd.MHN(random_net_params(0), memory=memory, feature=feature)
    v = torch.randn(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(net.energy(v, net.hidden(v)), net.energy(v), rtol=1e-12, atol=1e-12)


def test_eq8_vanilla_energy():
    xi = random_net_params(1)
    net = hd.MHN(xi, memory=hd.LogSumExp(1.0))
    v = torch.randn(20, 3, dtype=torch.float64)
    eq8 = -torch.logsumexp(v @ xi.T, -1) + 0.5 * (v * v).sum(-1)
    torch.testing.assert_close(net.energy(v), eq8, rtol=1e-13, atol=1e-13)


def test_two_body_energy_formula_off_manifold():
    xi = random_net_params(2)
    net = hd.MHN(xi, memory=hd.LogSumExp(2.0))
    v = torch.randn(10, 3, dtype=torch.float64)
    h = torch.randn(10, 6, dtype=torch.float64)
    f = torch.softmax(2.0 * h, -1)
    expected = 0.5 * (v * v).sum(-1) + (h * f).sum(-1) - torch.logsumexp(2.0 * h, -1) / 2.0 - (f * (v @ xi.T)).sum(-1)
    torch.testing.assert_close(net.energy(v, h), expected)


@pytest.mark.parametrize("memory", MEMORIES, ids=repr)
def test_step_is_euler_step_of_ode_with_dt_tau(memory):
    net = hd.MHN(random_net_params(3), memory=memory, tau_v=0.7)
    v = torch.randn(30, 3, dtype=torch.float64)
    torch.testing.assert_close(net.step(v), v + 0.7 * net.velocity(v), rtol=1e-12, atol=1e-12)


def test_vanilla_step_is_ramsauer_update():
    xi = random_net_params(4)
    net = hd.MHN(xi, memory=hd.LogSumExp(3.0))
    v = np.random.default_rng(0).normal(size=(8, 3))
    expected = torch.softmax(3.0 * torch.as_tensor(v) @ xi.T, -1) @ xi
    torch.testing.assert_close(net.step(v), expected)


def test_reclag_step_gates():
    xi = random_net_params(5)
    net = hd.MHN(xi, memory=hd.RecLag(2.0, 40.0))
    v = torch.randn(400, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    G = net.gate_value(v)
    assert (G < 0).any() and (G > 0).any()
    out = net.step(v)
    assert torch.all(out[G < 0] == 0)
    torch.testing.assert_close(out[G >= 0], hd.MHN(xi, memory=hd.LogSumExp(2.0)).step(v[G >= 0]))


def test_gamma_equal_NH_step_from_origin_is_mean_memory():
    xi = random_net_params(6, n_h=20, n_v=5)
    net = hd.MHN(xi, memory=hd.RecLag(2.0, 20.0))
    torch.testing.assert_close(net.step(torch.zeros(5, dtype=torch.float64)), xi.mean(0), rtol=1e-15, atol=1e-15)
    # and for gamma > N_H the origin is a fixed point
    assert torch.all(net.replace(memory=hd.RecLag(2.0, 20.0001)).step(torch.zeros(5, dtype=torch.float64)) == 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_large_beta_large_state_finite(dtype):
    xi = random_net_params(7).to(dtype)
    v = torch.full((4, 3), 1e4 / 3**0.5, dtype=dtype)
    for mem in (hd.LogSumExp(1000.0), hd.RecLag(1000.0, 1e6)):
        net = hd.MHN(xi, memory=mem)
        for out in (net.energy(v), net.step(v), net.velocity(v), net.hidden(v), net.energy(v, net.hidden(v))):
            assert out.dtype == dtype and torch.isfinite(out).all()


def test_dtype_and_shape_follow_input():
    net = hd.MHN(np.random.default_rng(0).normal(size=(4, 2)), memory=hd.RecLag(1.0, 5.0))
    v32 = torch.zeros(3, 5, 2, dtype=torch.float32)
    assert net.step(v32).dtype == torch.float32 and net.step(v32).shape == (3, 5, 2)
    assert net.energy(v32).shape == (3, 5)
    assert net.step(np.zeros(2)).dtype == torch.float64  # numpy input keeps float64
    assert net.hidden([[1, 2]]).dtype == torch.float64  # integers take xi's dtype


def test_two_variable_velocity():
    xi = random_net_params(8)
    net = hd.MHN(xi, memory=hd.LogSumExp(2.0), tau_v=2.0, tau_h=0.5)
    v = torch.randn(5, 3, dtype=torch.float64)
    h = torch.randn(5, 6, dtype=torch.float64)
    dv, dh = net.velocity(v, h)
    torch.testing.assert_close(dv, (torch.softmax(2 * h, -1) @ xi - v) / 2.0)
    torch.testing.assert_close(dh, (v @ xi.T - h) / 0.5)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: hd.MHN(np.zeros(3)), "xi must have at least 2"),
        (lambda: hd.MHN(np.zeros((0, 3))), "xi is empty"),
        (lambda: hd.MHN([[1.0, float("nan")]]), "xi contains NaN"),
        (lambda: hd.MHN(np.ones((2, 2)), tau_v=0), "tau_v"),
        (lambda: hd.MHN(np.ones((2, 2)), tau_h=-1), "tau_h"),
        (lambda: hd.MHN(np.ones((2, 2)), memory="softmax"), "memory must be a hopdyn Lagrangian"),
        (lambda: hd.MHN(np.ones((2, 2))).step(np.ones(3)), "v must have last dimension 2"),
        (lambda: hd.MHN(np.ones((2, 2))).step(np.full(2, np.inf)), "v contains NaN or inf"),
        (lambda: hd.MHN(np.ones((2, 2))).energy(np.zeros((0, 2))), "v is empty"),
        (lambda: hd.MHN(np.ones((2, 2))).energy(np.zeros((3, 2)), np.zeros((3, 3))), "h must have last dimension 2"),
        (lambda: hd.MHN(np.ones((2, 2))).energy(np.zeros((3, 2)), np.zeros((4, 2))), "batch dimensions"),
        (lambda: hd.MHN(np.ones((2, 2))).gate_value(np.zeros(2)), "no gate"),
        (lambda: hd.MHN(np.ones((2, 2))).step("abc"), "v must"),
        (lambda: hd.MHN(np.ones((2, 2))).velocity(np.zeros(2), np.zeros(2)), "adiabatic"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
