"""iterate_two_variable: the non-adiabatic Euler steps of eqs 1–2."""
import pytest
import torch

import hopdyn as hd
from conftest import random_net_params


def nets(seed=0, tau_v=1.0, tau_h=1.0):
    xi = random_net_params(seed, n_h=6, n_v=3)
    return [hd.MHN(xi, memory=hd.LogSumExp(2.0), tau_v=tau_v, tau_h=tau_h),
            hd.MHN(xi, memory=hd.RecLag(2.0, 3.0), tau_v=tau_v, tau_h=tau_h)]


@pytest.mark.parametrize("net", nets(), ids=["lse", "reclag"])
def test_alpha_prime_zero_is_the_adiabatic_map(net):
    # Δt = τ_V = τ_H: α = α' = 0 and h_first is eq 12
    v0 = 2 * torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    two = hd.iterate_two_variable(net, v0, 12)
    adiabatic = hd.iterate(net.replace(tau_h=None), v0, 12)
    # same formulas; the matmuls see other batch shapes, so equal up to rounding on any CPU
    torch.testing.assert_close(two.v, adiabatic.v, rtol=0, atol=1e-13)
    assert torch.equal(two.t, adiabatic.t)
    torch.testing.assert_close(two.h[1:], net.hidden(two.v[:-1]), rtol=0, atol=1e-13)  # h slaved to the previous v


def test_alpha_prime_zero_with_damping_is_euler_of_the_adiabatic_ode():
    # Δt = τ_H < τ_V: v ← α v + (1−α) step(v), the Euler step of τ_V dv/dt = step(v) − v
    net = nets(tau_v=2.0, tau_h=0.5)[0]
    v0 = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    two = hd.iterate_two_variable(net, v0, 10, dt=0.5)
    ode = hd.integrate(net.replace(tau_h=None), v0, two.t, method="euler")
    torch.testing.assert_close(two.v, ode.v, rtol=0, atol=1e-13)


@pytest.mark.parametrize("net", nets(tau_v=1.0, tau_h=0.7), ids=["lse", "reclag"])
def test_simultaneous_order_is_explicit_euler(net):
    v0 = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    h0 = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    two = hd.iterate_two_variable(net, v0, 15, dt=0.1, h0=h0, order="simultaneous")
    ode = hd.integrate(net, v0, two.t, h0=h0, method="euler")
    torch.testing.assert_close(two.v, ode.v, rtol=0, atol=1e-13)
    torch.testing.assert_close(two.h, ode.h, rtol=0, atol=1e-13)
    torch.testing.assert_close(two.energy, net.energy(two.v, two.h), rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def ode_reference():
    net = nets(tau_v=1.0, tau_h=0.5)[0]
    v0 = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    ref = hd.integrate(net, v0, torch.tensor([0.0, 2.0], dtype=torch.float64), rtol=1e-8, atol=1e-10)
    return net, v0, ref


@pytest.mark.parametrize("order", ["h_first", "simultaneous"])
def test_first_order_convergence_to_the_ode(order, ode_reference):
    net, v0, ref = ode_reference
    t_end = float(ref.t[-1])
    errors = []
    for n in (20, 40, 80):
        run = hd.iterate_two_variable(net, v0, n, dt=t_end / n, order=order, keep="last")
        assert run.t.item() == pytest.approx(t_end)
        err_v = (run.v[-1] - ref.v[-1]).abs().max()
        err_h = (run.h[-1] - ref.h[-1]).abs().max()
        errors.append(float(max(err_v, err_h)))
    ratios = [a / b for a, b in zip(errors, errors[1:])]
    assert all(1.8 < r < 2.2 for r in ratios), (errors, ratios)  # halving Δt halves the error
    assert errors[-1] < 0.05


def test_batch_shape_chunks_and_keep_last():
    net = nets(tau_v=1.0, tau_h=2.0)[0]
    v0 = torch.randn(3, 4, 3, dtype=torch.float64)
    full = hd.iterate_two_variable(net, v0, 5, dt=0.5)
    assert full.v.shape == (6, 3, 4, 3) and full.h.shape == (6, 3, 4, 6) and full.energy.shape == (6, 3, 4)
    chunked = hd.iterate_two_variable(net, v0, 5, dt=0.5, chunk_size=5)
    # other chunk sizes block the matmuls differently: equal up to rounding, not bit for bit
    torch.testing.assert_close(chunked.v, full.v, rtol=0, atol=1e-13)
    last = hd.iterate_two_variable(net, v0, 5, dt=0.5, keep="last")
    torch.testing.assert_close(last.v[0], full.v[-1], rtol=0, atol=1e-13)
    assert last.t.tolist() == [2.5]


@pytest.mark.parametrize(
    "kwargs, match",
    [({"dt": 0.0}, "dt"), ({"order": "backwards"}, "order"), ({"keep": "all"}, "keep"),
     ({"h0": torch.zeros(2, 5, dtype=torch.float64)}, "h0"), ({"h0": torch.zeros(3, 6, dtype=torch.float64)}, "h0"),
     ({"steps": -1}, "steps")],
)
def test_bad_input(kwargs, match):
    net = nets()[0]
    with pytest.raises(ValueError, match=match):
        hd.iterate_two_variable(net, torch.zeros(2, 3, dtype=torch.float64), **{"steps": 3, **kwargs})


def test_adiabatic_network_is_refused():
    with pytest.raises(ValueError, match="tau_h"):
        hd.iterate_two_variable(nets()[0].replace(tau_h=None), torch.zeros(2, 3, dtype=torch.float64))
