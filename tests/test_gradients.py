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
