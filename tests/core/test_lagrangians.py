"""Each Lagrangian's closed-form activation against autograd, and its numerics."""
import math

import pytest
import torch

import hopdyn as hd

LAGRANGIANS = [
    hd.Quadratic(),
    hd.Abs(),
    hd.LogSumExp(0.7),
    hd.LogSumExp(3.0),
    hd.RecLag(2.0, 5.0),
    hd.RecLag(2.0, 1e4),
    hd.RecLag(1.5, 3.0).smooth(7.0),
    hd.Polynomial(2),
    hd.Polynomial(3),
    hd.Polynomial(4, rectified=True),
    hd.Polynomial(1),
]


@pytest.mark.parametrize("lag", LAGRANGIANS, ids=repr)
def test_activation_is_the_gradient(lag):
    g = torch.Generator().manual_seed(1)
    x = 1.5 * torch.randn(64, 7, generator=g, dtype=torch.float64)
    if isinstance(lag, hd.RecLag) and not isinstance(lag, hd.SmoothRecLag):
        x = x[lag.G(x).abs() > 1e-3]  # off the kink G = 0
        assert x.shape[0] > 10
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(lag(x).sum(), x)
    torch.testing.assert_close(lag.activation(x.detach()), grad, rtol=1e-12, atol=1e-12)


def test_reclag_gate_both_sides_are_exercised():
    lag = hd.RecLag(2.0, 5.0)
    x = torch.randn(500, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    G = lag.G(x)
    assert (G > 0).any() and (G < 0).any()
    act = lag.activation(x)
    assert torch.all(act[G < 0] == 0)
    torch.testing.assert_close(act[G > 0], torch.softmax(2.0 * x[G > 0], -1))


def test_reclag_gate_is_open_at_zero():
    # χ(0) = 1: with h = 0 and γ = N_H, G(0) = log(N_H) - log(γ) = 0 exactly.
    lag = hd.RecLag(1.0, 4.0)
    h = torch.zeros(1, 4, dtype=torch.float64)
    assert lag.G(h).item() == pytest.approx(0.0, abs=1e-15)
    torch.testing.assert_close(lag.activation(h), torch.full((1, 4), 0.25, dtype=torch.float64))


def test_reclag_values():
    lag = hd.RecLag(2.0, 3.0)
    h = torch.tensor([[0.3, -1.0, 2.0]], dtype=torch.float64)
    lse = math.log(sum(math.exp(2.0 * x) for x in (0.3, -1.0, 2.0)))
    assert lag.G(h).item() == pytest.approx(lse - math.log(3.0), rel=1e-14)
    assert lag(h).item() == pytest.approx(max(lse - math.log(3.0), 0) / 2.0, rel=1e-14)


def test_smooth_reclag_tends_to_reclag():
    lag = hd.RecLag(2.0, 5.0)
    x = torch.randn(200, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    x = x[lag.G(x).abs() > 0.05]
    errs = [(lag.smooth(k).activation(x) - lag.activation(x)).abs().max().item() for k in (10, 100, 1000)]
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 1e-10
    torch.testing.assert_close(lag.smooth(1e4)(x), lag(x), atol=1e-4, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_large_beta_and_large_inputs_stay_finite(dtype):
    h = torch.tensor([[1e4, -1e4, 5e3], [0.0, 1e-3, -2.0]], dtype=dtype)
    for lag in (hd.LogSumExp(1000.0), hd.RecLag(1000.0, 1e3)):
        assert torch.isfinite(lag(h)).all()
        assert torch.isfinite(lag.activation(h)).all()
        torch.testing.assert_close(lag.activation(h).sum(-1)[0], torch.tensor(1.0, dtype=dtype))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: hd.LogSumExp(0.0), "beta"),
        (lambda: hd.LogSumExp(-1.0), "beta"),
        (lambda: hd.LogSumExp(float("nan")), "beta"),
        (lambda: hd.RecLag(1.0, 0.0), "gamma"),
        (lambda: hd.RecLag(1.0, -2.0), "gamma"),
        (lambda: hd.RecLag(-1.0, 2.0), "beta"),
        (lambda: hd.RecLag(1.0, float("inf")), "gamma"),
        (lambda: hd.RecLag(1.0, 2.0).smooth(0.0), "kappa"),
        (lambda: hd.Polynomial(0), "n"),
        (lambda: hd.Polynomial(2.5), "n"),
        (lambda: hd.LogSumExp("a"), "beta"),
    ],
)
def test_bad_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_G_only_for_gated():
    with pytest.raises(AttributeError, match="RecLag"):
        hd.LogSumExp(1.0).G(torch.zeros(2))


@pytest.mark.parametrize("shape", [(5,), (3000, 5), (2, 3000, 5), (5000, 10), (5000, 11), (5000, 1), (3, 4)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_short_softmax_equals_torch_softmax(shape, dtype):
    from hopdyn.core.lagrangians import softmax

    z = 4 * torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    w = torch.randn(*shape, dtype=dtype)
    ours, ref = softmax(z), torch.softmax(z, dim=-1)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=0, atol=4 * torch.finfo(dtype).eps)
    (g_ours,) = torch.autograd.grad((ours * w).sum(), z)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), z)
    torch.testing.assert_close(g_ours, g_ref)


def test_reclag_from_log_gamma_beyond_float_range():
    lag = hd.RecLag(2.0, log_gamma=800.0)
    assert lag.gamma == float("inf") and lag.log_gamma == 800.0
    h = torch.tensor([[401.0, 0.0], [399.0, -1.0]], dtype=torch.float64)
    G = lag.G(h)
    torch.testing.assert_close(G, torch.logsumexp(2.0 * h, -1) - 800.0)
    assert G[0] > 0 > G[1]
    torch.testing.assert_close(lag.activation(h)[1], torch.zeros(2, dtype=torch.float64))
    small = hd.RecLag(2.0, log_gamma=math.log(5.0))
    torch.testing.assert_close(small.G(h), hd.RecLag(2.0, 5.0).G(h))
    assert hd.RecLag(2.0).gamma == 1.0 and hd.RecLag(2.0).log_gamma == 0.0
    assert small.smooth(3.0).log_gamma == small.log_gamma
    with pytest.raises(ValueError, match="not both"):
        hd.RecLag(2.0, 5.0, log_gamma=1.0)
    with pytest.raises(ValueError, match="log_gamma must be a finite number"):
        hd.RecLag(2.0, log_gamma=float("nan"))


def test_reclag_repr():
    assert repr(hd.RecLag(4.0, 1000.0)) == "RecLag(beta=4.0, gamma=1000.0)"
    assert repr(hd.RecLag(2.0, log_gamma=800.0)) == "RecLag(beta=2.0, log_gamma=800.0)"
    assert repr(hd.RecLag(1.0, 5.0).smooth(3.0)).startswith("SmoothRecLag(beta=1.0, gamma=5.0")
    assert repr(hd.RecLag(1.0, 5.0).smooth(3.0)).endswith("kappa=3.0)")


@pytest.mark.parametrize("n_h", [3, 10, 22, 52, 250])
def test_gate_at_gamma_equal_n_h_is_open_at_the_origin(n_h):
    # G(0) = log N_H − log γ = 0 and χ(0) = 1: the step from 0 is the mean memory. A second route
    # to G (read off the softmax) disagreed with logsumexp in the last bit and shut the gate here.
    xi = torch.randn(n_h, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(n_h))
    net = hd.MHN(xi, memory=hd.RecLag(3.0, float(n_h)))
    zero = torch.zeros(1, 4, dtype=torch.float64)
    assert float(net.gate_value(zero)) == 0.0
    torch.testing.assert_close(net.step(zero)[0], xi.mean(0), rtol=0, atol=1e-15)


def test_activation_gate_is_the_gate_of_G_everywhere():
    # points scattered tightly around the switching surface: the activation's gate and G's sign agree
    lag = hd.RecLag(5.0, 40.0)
    g = torch.Generator().manual_seed(3)
    h = torch.randn(20_000, 30, dtype=torch.float64, generator=g)
    # move each row onto G = 0 (lse(βh) = log γ), then perturb by a few ulps
    h = h - ((torch.logsumexp(5.0 * h, -1) - math.log(40.0)) / 5.0)[:, None]
    h = h * (1 + 1e-15 * torch.randn(h.shape[0], 1, dtype=torch.float64, generator=g))
    open_ = lag.activation(h).sum(-1) > 0
    assert bool((open_ == (lag.G(h) >= 0)).all())
    assert 0 < int(open_.sum()) < h.shape[0]  # both sides were exercised


@pytest.mark.parametrize("beta", [0.3, 5.0, 300.0])
def test_G_grad_closed_form_matches_autograd_and_the_sign_of_G(beta):
    # RecLag's (G, ∂G/∂h = β softmax(βh)) from one softmax, against the base class (autograd of G)
    lag = hd.RecLag(beta, 40.0)
    g = torch.Generator().manual_seed(4)
    h = torch.randn(5_000, 12, dtype=torch.float64, generator=g)
    # half the rows on G = 0 to within a few ulps: the sign must be G's own there
    on = (torch.logsumexp(beta * h[::2], -1) - math.log(40.0)) / beta
    h[::2] = (h[::2] - on[:, None]) * (1 + 1e-15 * torch.randn(2_500, 1, dtype=torch.float64, generator=g))
    G, grad = lag.G_grad(h)
    G_ref, grad_ref = hd.GatedLagrangian.G_grad(lag, h)
    torch.testing.assert_close(G, G_ref, rtol=0, atol=1e-12 * max(beta, 1.0))
    torch.testing.assert_close(grad, grad_ref, rtol=1e-12, atol=1e-12 * beta)
    assert bool(((G >= 0) == (lag.G(h) >= 0)).all())
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("n", [4, 11, 250, 3000])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softmax_without_autograd_equals_torch_softmax(n, dtype):
    # the no-grad path shifts, thresholds and overwrites its own buffer in place
    from hopdyn.core.lagrangians import softmax

    z = 30 * torch.randn(2000, n, dtype=dtype, generator=torch.Generator().manual_seed(n))
    before = z.clone()
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(softmax(z), torch.softmax(z, -1), rtol=0, atol=4 * eps)
    # with a scale, exp amplifies the rounding of scale·z by |scale·z − max| (up to ~600 here)
    exact = torch.softmax(5.0 * z.double(), -1)
    torch.testing.assert_close(softmax(z, 5.0).double(), exact, rtol=1000 * eps, atol=4 * eps)
    assert torch.equal(z, before)  # the input is not touched


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_open_rows_shortcut_keeps_the_gate_of_G(dtype):
    # rows whose max(βh) is just above log γ (the gate surely open, no pass over p) and rows
    # just below it (open or shut by lse): the activation is χ(G)·softmax either way
    beta, gamma = 4.0, 30.0
    lag = hd.RecLag(beta, gamma)
    g = torch.Generator().manual_seed(5)
    h = torch.randn(4000, 40, dtype=dtype, generator=g)
    shift = math.log(gamma) / beta - h.amax(-1)  # max(βh) = log γ
    delta = torch.linspace(-2, 2, h.shape[0], dtype=dtype)
    h = h + (shift + delta)[:, None]
    act = lag.activation(h)
    gate = (lag.G(h) >= 0).to(dtype)
    torch.testing.assert_close(act, gate[:, None] * torch.softmax(beta * h, -1), rtol=0, atol=4 * torch.finfo(dtype).eps)
    assert 0 < int(gate.sum()) < h.shape[0]
    above = h[delta > 0.01]  # every row surely open: the shortcut returns the softmax as it is
    torch.testing.assert_close(lag.activation(above), torch.softmax(beta * above, -1), rtol=0, atol=4 * torch.finfo(dtype).eps)
