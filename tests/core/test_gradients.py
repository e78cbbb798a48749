"""Training through the dynamics: gradients of the simulators against central finite differences."""
import pytest
import torch

import hopdyn as hd
from conftest import random_net_params


def finite_difference(f, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    grad = torch.zeros_like(x)
    with torch.no_grad():
        for idx in range(x.numel()):
            e = torch.zeros_like(x).reshape(-1)
            e[idx] = eps
            e = e.reshape(x.shape)
            grad.reshape(-1)[idx] = (f(x + e) - f(x - e)) / (2 * eps)
    return grad


@pytest.mark.parametrize("memory", [hd.LogSumExp(2.0), hd.RecLag(2.0, 20.0), hd.Polynomial(3)], ids=repr)
@pytest.mark.parametrize("tol", [None, 1e-10])
def test_iterate_gradient_to_xi(memory, tol):
    xi = random_net_params(3, n_h=5, n_v=3).requires_grad_(True)
    v0 = 0.5 * torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    steps = 3 if isinstance(memory, hd.Polynomial) else 15  # polynomial maps blow up when iterated long

    def loss(x):
        return hd.iterate(hd.MHN(x, memory=memory), v0, steps=steps, tol=tol).final.pow(2).sum()

    (grad,) = torch.autograd.grad(loss(xi), xi)
    fd = finite_difference(loss, xi.detach())
    torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-6 * float(fd.abs().max()))


def test_iterate_gradient_to_v0_and_energy():
    xi = random_net_params(5, n_h=4, n_v=2)
    net = hd.MHN(xi, memory=hd.LogSumExp(1.5))
    v0 = torch.randn(3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(6)).requires_grad_(True)

    def loss(v):
        traj = hd.iterate(net, v, steps=5)
        return traj.final.sum() + traj.energy[-1].sum()

    (grad,) = torch.autograd.grad(loss(v0), v0)
    torch.testing.assert_close(grad, finite_difference(loss, v0.detach()), rtol=1e-6, atol=1e-8)


def test_iterate_two_variable_gradient():
    xi = random_net_params(7, n_h=4, n_v=3).requires_grad_(True)
    v0 = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(8))

    def loss(x):
        net = hd.MHN(x, memory=hd.LogSumExp(2.0), tau_h=2.0)
        return hd.iterate_two_variable(net, v0, 6, dt=0.5).final.pow(2).sum()

    (grad,) = torch.autograd.grad(loss(xi), xi)
    torch.testing.assert_close(grad, finite_difference(loss, xi.detach()), rtol=1e-6, atol=1e-8)


def test_no_graph_without_requires_grad():
    net = hd.MHN(random_net_params(1), memory=hd.RecLag(2.0, 20.0))
    v0 = torch.randn(3, 3, dtype=torch.float64)
    assert not hd.iterate(net, v0, steps=3).v.requires_grad
    assert not hd.iterate_two_variable(net.replace(tau_h=1.0), v0, 3).v.requires_grad
    with torch.no_grad():  # the caller's no_grad wins even when xi requires grad
        net2 = hd.MHN(random_net_params(1).requires_grad_(True), memory=hd.LogSumExp(2.0))
        assert not hd.iterate(net2, v0, steps=3).v.requires_grad


# -- integrate: direct backpropagation through the solver, events included ----------------------
_T = torch.tensor([0.0, 2.0], dtype=torch.float64)
_V0 = torch.tensor([[0.9, 0.4], [-0.3, 0.8]], dtype=torch.float64)
_TIGHT = dict(rtol=1e-10, atol=1e-12)


def _xi_2d():
    return torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize(
    "memory, kwargs",
    [
        (hd.LogSumExp(2.0), {}),
        (hd.SmoothRecLag(2.0, 8.0, kappa=5.0), {}),
        (hd.Polynomial(2), dict(scale=0.3)),
        (hd.RecLag(2.0, 8.0), dict(method="rk4", options={"step_size": 0.01})),
        (hd.RecLag(2.0, 8.0), {}),  # event-located: one sample crosses into B0 at t = 0.895
    ],
    ids=["lse", "smooth_reclag", "polynomial", "reclag_rk4", "reclag_events"],
)
def test_integrate_gradient_to_xi_and_v0(memory, kwargs):
    kwargs = dict(kwargs)
    scale = kwargs.pop("scale", 1.0)
    xi = scale * _xi_2d()
    solve = {**_TIGHT, **kwargs}

    def loss(x, v):
        return hd.integrate(hd.MHN(x, memory=memory), v, _T, **solve).final.pow(2).sum()

    x, v = xi.clone().requires_grad_(True), _V0.clone().requires_grad_(True)
    traj = hd.integrate(hd.MHN(x, memory=memory), v, _T, **solve)
    assert traj.v.requires_grad and traj.energy.requires_grad
    if traj.n_switches is not None:
        assert traj.n_switches.tolist() == [1, 0]  # the gradient crosses a located switch
        assert not traj.switch_times.requires_grad
    g_xi, g_v = torch.autograd.grad(loss(x, v), (x, v))
    fd_xi = finite_difference(lambda z: loss(z, _V0), xi, eps=1e-5)
    fd_v = finite_difference(lambda z: loss(xi, z), _V0, eps=1e-5)
    torch.testing.assert_close(g_xi, fd_xi, rtol=1e-6, atol=1e-6 * float(fd_xi.abs().max()))
    torch.testing.assert_close(g_v, fd_v, rtol=1e-6, atol=1e-6 * float(fd_v.abs().max()))


def test_integrate_gradient_two_variable_with_events():
    xi = _xi_2d()
    net = hd.MHN(xi, memory=hd.RecLag(2.0, 8.0), tau_h=0.5)

    def loss(v):
        return hd.integrate(net, v, _T, **_TIGHT).final.pow(2).sum()

    v = _V0.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(v), v)
    fd = finite_difference(loss, _V0, eps=1e-5)
    torch.testing.assert_close(g, fd, rtol=1e-6, atol=1e-6 * float(fd.abs().max()))


class _ScaledQuadratic(hd.Lagrangian):
    """``L(h) = ½ w ‖h‖²`` with a learnable tensor ``w``: a Lagrangian parameter outside xi."""

    def __init__(self, w):
        self.w = w

    def __call__(self, h):
        return 0.5 * self.w * (h * h).sum(-1)

    def activation(self, h):
        return self.w * h


def test_integrate_gradient_to_a_lagrangian_parameter():
    xi = 0.5 * _xi_2d()

    def loss(w):
        return hd.integrate(hd.MHN(xi, memory=_ScaledQuadratic(w)), _V0, _T, **_TIGHT).final.pow(2).sum()

    w = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    assert hd.MHN(xi, memory=_ScaledQuadratic(w)).tracks_grad()
    (g,) = torch.autograd.grad(loss(w), w)
    fd = finite_difference(loss, w.detach(), eps=1e-5)
    torch.testing.assert_close(g, fd, rtol=1e-6, atol=0.0)


def test_integrate_no_graph_without_requires_grad():
    net = hd.MHN(_xi_2d(), memory=hd.RecLag(2.0, 8.0))
    assert not hd.integrate(net, _V0, _T).v.requires_grad
    net2 = hd.MHN(_xi_2d().requires_grad_(True), memory=hd.RecLag(2.0, 8.0))
    with torch.no_grad():  # the caller's no_grad wins
        assert not hd.integrate(net2, _V0, _T).v.requires_grad
