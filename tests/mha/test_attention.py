"""HopfieldAttention (modern Hopfield attention): α' = 0 is standard attention, the recurrence,
the causal mask, zero added parameters, the stack."""
import pytest
import torch
from torch import nn

import hopdyn as hd

D, H, T = 16, 4, 7


def torch_mha(bias=True, seed=0):
    torch.manual_seed(seed)
    m = nn.MultiheadAttention(D, H, batch_first=True, bias=bias, dtype=torch.float64)
    with torch.no_grad():  # non-zero biases, so that they are tested too
        for p in m.parameters():
            p.normal_(0.0, 0.5)
    return m


def tokens(*shape, seed=1):
    return torch.randn(*shape, T, D, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("causal", [False, True])
def test_alpha_prime_zero_equals_torch_multihead_attention(bias, causal):
    m = torch_mha(bias)
    layer = hd.HopfieldAttention.from_multihead(m, causal=causal)
    x = tokens(3)
    mask = torch.ones(T, T, dtype=torch.bool).triu(1) if causal else None
    ref, _ = m(x, x, x, attn_mask=mask, need_weights=False)
    out, h = layer(x)
    torch.testing.assert_close(out, ref, rtol=1e-13, atol=1e-13)
    # with α' = 0 an incoming state is ignored exactly
    out2, h2 = layer(x, 100 * torch.randn_like(h))
    assert torch.equal(out2, out) and torch.equal(h2, h)


def test_scores_and_output_against_scaled_dot_product_attention():
    layer = hd.HopfieldAttention(D, H, causal=True, scale=0.3, dtype=torch.float64)
    x = tokens(2)
    out, h = layer(x)
    q, k, v = layer.in_proj(x).view(2, T, 3, H, D // H).permute(2, 0, 3, 1, 4)
    torch.testing.assert_close(h, 0.3 * q @ k.transpose(-1, -2), rtol=1e-13, atol=1e-13)
    att = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3)
    ref = layer.out_proj(att.transpose(1, 2).reshape(2, T, D))
    torch.testing.assert_close(out, ref, rtol=1e-13, atol=1e-13)


def test_hidden_state_recurrence_and_alpha_mixing():
    a_h, a = 0.6, 0.3
    layer = hd.HopfieldAttention(D, H, alpha_h=a_h, alpha=a, dtype=torch.float64)
    plain = hd.HopfieldAttention(D, H, dtype=torch.float64)
    plain.load_state_dict(layer.state_dict())
    x = tokens(2)
    h_prev = torch.randn(2, H, T, T, dtype=torch.float64)
    out, h = layer(x, h_prev)
    _, scores = plain(x)
    torch.testing.assert_close(h, a_h * h_prev + (1 - a_h) * scores, rtol=0, atol=1e-13)
    v = plain.in_proj(x).view(2, T, 3, H, D // H).permute(2, 0, 3, 1, 4)[2]
    attn = plain.out_proj((torch.softmax(h, -1) @ v).transpose(1, 2).reshape(2, T, D))
    torch.testing.assert_close(out, a * x + (1 - a) * attn, rtol=0, atol=1e-13)
    # h=None starts from the layer's own scores: the first layer is standard attention
    torch.testing.assert_close(layer(x)[1], scores, rtol=0, atol=1e-13)


@pytest.mark.parametrize("alpha_h", [0.0, 0.5, 0.9])
def test_zero_added_parameters(alpha_h):
    for bias in (True, False):
        m = nn.MultiheadAttention(D, H, bias=bias)
        layer = hd.HopfieldAttention(D, H, alpha_h=alpha_h, alpha=0.5, bias=bias)
        assert sum(p.numel() for p in layer.parameters()) == sum(p.numel() for p in m.parameters())
        assert [tuple(p.shape) for p in layer.parameters()] == [tuple(p.shape) for p in (
            [m.in_proj_weight, m.in_proj_bias, m.out_proj.weight, m.out_proj.bias] if bias
            else [m.in_proj_weight, m.out_proj.weight])]


def test_causal_mask_holds_through_a_stack_with_carried_scores():
    stack = hd.HopfieldAttentionStack.build(4, D, H, alpha_h=0.7, causal=True, dtype=torch.float64)
    x = tokens(2)
    y = x.clone()
    y[:, 4:] += 5 * torch.randn(2, T - 4, D, dtype=torch.float64)  # change the future of token 3
    (xs, hs), (ys, _) = stack(x, return_all=True), stack(y, return_all=True)
    for a, b in zip(xs, ys):
        torch.testing.assert_close(a[:, :4], b[:, :4], rtol=0, atol=1e-12)
        assert (a[:, 4:] - b[:, 4:]).abs().max() > 1e-3
    w = stack.layers[2].weights(hs[2])
    assert torch.equal(w.triu(1), torch.zeros_like(w))
    torch.testing.assert_close(w.sum(-1), torch.ones_like(w.sum(-1)))


def test_stack_threads_the_state_and_takes_an_initial_state():
    stack = hd.HopfieldAttentionStack.build(3, D, H, alpha_h=0.5, alpha=0.2, dtype=torch.float64)
    x = tokens(2)
    h0 = torch.zeros(2, H, T, T, dtype=torch.float64)
    for init in (None, h0):
        out, h = stack(x, init)
        xx, hh = x, init
        for layer in stack.layers:
            xx, hh = layer(xx, hh)
        assert torch.equal(out, xx) and torch.equal(h, hh)
    xs, hs = stack(x, h0, return_all=True)
    assert len(xs) == len(hs) == 3 and torch.equal(xs[-1], stack(x, h0)[0])
    # from rest, the first layer sees (1 − α') of its scores
    _, h1 = stack.layers[0](x, h0)
    torch.testing.assert_close(h1, 0.5 * stack.layers[0](x)[1], rtol=0, atol=1e-14)


def test_batch_dims_unbatched_input_and_gradients():
    layer = hd.HopfieldAttention(D, H, alpha_h=0.5)
    x = torch.randn(T, D, requires_grad=True)
    out, h = layer(x)
    assert out.shape == (T, D) and h.shape == (H, T, T) and out.dtype == torch.float32
    out2, _ = layer(torch.randn(2, 3, T, D), torch.randn(2, 3, H, T, T))
    assert out2.shape == (2, 3, T, D)
    layer(x, h)[0].sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in layer.parameters())


@pytest.mark.parametrize(
    "kwargs, match",
    [({"d_model": 10, "n_heads": 4}, "divisible"), ({"alpha_h": 1.0}, "alpha_h"), ({"alpha": -0.1}, "alpha"),
     ({"scale": 0.0}, "scale"), ({"n_heads": 0}, "n_heads")],
)
def test_bad_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hd.HopfieldAttention(**{"d_model": D, "n_heads": H, **kwargs})


def test_bad_forward_input():
    layer = hd.HopfieldAttention(D, H)
    with pytest.raises(ValueError, match="x must"):
        layer(torch.randn(T, D + 1))
    with pytest.raises(ValueError, match="h must"):
        layer(torch.randn(2, T, D), torch.randn(2, H, T, T + 1))
    with pytest.raises(ValueError, match="layers is empty"):
        hd.HopfieldAttentionStack([])
    with pytest.raises(ValueError, match="mha"):
        hd.HopfieldAttention.from_multihead(nn.MultiheadAttention(D, H, add_bias_kv=True))
