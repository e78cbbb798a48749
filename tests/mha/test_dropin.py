"""HopfieldMultiheadAttention as a drop-in for nn.MultiheadAttention: at α' = 0 the same outputs,
weights and gradients (masks, batch_first both ways, cross-attention with kdim/vdim); dropout;
the fused path; the incremental-decoding cache against the full causal pass."""
import pytest
import torch
from torch import nn

from hopdyn.mha import (
    HopfieldAttention,
    HopfieldAttentionStack,
    HopfieldMultiheadAttention,
    HopfieldTransformerBlock,
    KVCache,
)

E, H, L, S, B = 16, 4, 5, 7, 3
TOL = {torch.float32: dict(rtol=1e-5, atol=2e-6), torch.float64: dict(rtol=1e-12, atol=1e-12)}
SCALED = {torch.float32: 2e-6, torch.float64: 1e-12}  # max error / max magnitude, for gradients


def assert_close_scaled(got, want):
    err = float((got - want).abs().max() / want.abs().max().clamp_min(1.0))
    assert err <= SCALED[want.dtype], err


def torch_mha(dtype, batch_first, kdim=None, vdim=None, seed=0):
    torch.manual_seed(seed)
    m = nn.MultiheadAttention(E, H, batch_first=batch_first, kdim=kdim, vdim=vdim, dtype=dtype)
    with torch.no_grad():  # non-zero biases, so that they are tested too
        for p in m.parameters():
            p.normal_(0.0, 0.5)
    return m


def grads_of(m):
    if isinstance(m, nn.MultiheadAttention):
        names = (["in_proj_weight"] if m._qkv_same_embed_dim else ["q_proj_weight", "k_proj_weight", "v_proj_weight"])
        g = [getattr(m, n).grad for n in names] + [m.in_proj_bias.grad]
    elif m._packed:
        g = [m.in_proj.weight.grad, m.in_proj.bias.grad]
    else:
        g = [m.q_proj.weight.grad, m.k_proj.weight.grad, m.v_proj.weight.grad,
             torch.cat([m.q_proj.bias.grad, m.k_proj.bias.grad, m.v_proj.bias.grad])]
    return g + [m.out_proj.weight.grad, m.out_proj.bias.grad]


def masks(kind, n_q, dtype, g):
    am = kpm = None
    if kind in ("bool", "both"):
        am = torch.rand(n_q, S, generator=g) < 0.3
        am[:, 0] = False  # every query keeps a key
    if kind == "float":
        am = torch.randn(n_q, S, generator=g, dtype=dtype)
    if kind == "3d":
        am = torch.randn(B * H, n_q, S, generator=g, dtype=dtype)
    if kind in ("padding", "both"):
        kpm = torch.zeros(B, S, dtype=torch.bool)
        kpm[0, -2:] = True
        kpm[2, -1] = True
    if kind == "float_padding":
        kpm = torch.randn(B, S, generator=g, dtype=dtype)
    return am, kpm


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("kind", ["none", "bool", "float", "3d", "padding", "float_padding", "both"])
@pytest.mark.parametrize("cross", [None, "same", "kvdim"])
def test_equals_torch_multihead_attention_forward_and_backward(dtype, batch_first, kind, cross):
    kdim, vdim = (6, 9) if cross == "kvdim" else (None, None)
    ref = torch_mha(dtype, batch_first, kdim, vdim)
    ours = HopfieldMultiheadAttention.from_multihead(ref)
    assert isinstance(ours, HopfieldMultiheadAttention) and ours.batch_first == batch_first
    g = torch.Generator().manual_seed(1)

    def shaped(n, width):
        t = torch.randn(B, n, width, generator=g, dtype=dtype)
        return t if batch_first else t.transpose(0, 1).contiguous()

    q = shaped(L if cross else S, E)
    k = q if cross is None else shaped(S, kdim or E)
    v = q if cross is None else shaped(S, vdim or E)
    am, kpm = masks(kind, L if cross else S, dtype, g)
    for need_weights, average in ((False, True), (True, True), (True, False)):
        outs = []
        for m in (ref, ours):
            m.zero_grad()
            qq, kk, vv = (t.detach().clone().requires_grad_() for t in (q, k, v))
            if cross is None:
                kk = vv = qq
            out, w = m(qq, kk, vv, key_padding_mask=kpm, need_weights=need_weights, attn_mask=am,
                       average_attn_weights=average)
            (out * torch.linspace(-1, 1, out.numel(), dtype=dtype).view(out.shape)).sum().backward()
            outs.append((out, w, [t.grad for t in ({qq, kk, vv} if cross is None else (qq, kk, vv))], grads_of(m)))
        (o1, w1, gi1, gp1), (o2, w2, gi2, gp2) = outs
        torch.testing.assert_close(o2, o1, **TOL[dtype])
        if need_weights:
            torch.testing.assert_close(w2, w1, **TOL[dtype])
        else:
            assert w1 is None and w2 is None
        for a, b in zip(gi1 + gp1, gi2 + gp2):
            assert_close_scaled(b, a)


@pytest.mark.parametrize("batch_first", [True, False])
def test_unbatched_input_and_causal_hint(batch_first):
    ref = torch_mha(torch.float64, batch_first)
    ours = HopfieldMultiheadAttention.from_multihead(ref)
    x = torch.randn(S, E, dtype=torch.float64)
    causal = nn.Transformer.generate_square_subsequent_mask(S, dtype=torch.float64)
    r, rw = ref(x, x, x, attn_mask=causal, is_causal=True)
    o, ow = ours(x, x, x, attn_mask=causal, is_causal=True)
    torch.testing.assert_close(o, r, **TOL[torch.float64])
    torch.testing.assert_close(ow, rw, **TOL[torch.float64])
    o2, _ = ours(x, x, x, is_causal=True, need_weights=False)  # the hint alone: causal
    torch.testing.assert_close(o2, r, **TOL[torch.float64])


def test_from_multihead_batch_first_false_was_wrong_and_is_right():
    ref = torch_mha(torch.float64, batch_first=False)
    x = torch.randn(S, B, E, dtype=torch.float64)  # (T, B, E)
    out, h = HopfieldAttention.from_multihead(ref)(x)
    torch.testing.assert_close(out, ref(x, x, x, need_weights=False)[0], **TOL[torch.float64])
    assert h.shape == (B, H, S, S)


def test_inside_a_torch_transformer_layer():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, H, 32, dropout=0.0, batch_first=True, dtype=torch.float64).eval()
    x = torch.randn(B, S, E, dtype=torch.float64)
    kpm = torch.zeros(B, S, dtype=torch.bool)
    kpm[1, -3:] = True
    with torch.no_grad():
        ref = layer(x, src_key_padding_mask=kpm)
        layer.self_attn = HopfieldMultiheadAttention.from_multihead(layer.self_attn)
        out = layer(x, src_key_padding_mask=kpm)
    torch.testing.assert_close(out, ref, **TOL[torch.float64])


def test_fused_path_equals_explicit_scores():
    layer = HopfieldAttention(E, H, alpha_h=0.5, causal=True, dtype=torch.float64)
    x = torch.randn(B, S, E, dtype=torch.float64)
    kpm = torch.zeros(B, S, dtype=torch.bool)
    kpm[0, 3] = True
    full, h = layer(x, key_padding_mask=kpm)
    fused, none = layer(x, key_padding_mask=kpm, need_scores=False)  # h = None: nothing to carry
    assert none is None and h.shape == (B, H, S, S)
    torch.testing.assert_close(fused, full, **TOL[torch.float64])
    with pytest.raises(ValueError, match="h must"):
        layer(x, torch.zeros(B, H, S, S + 1, dtype=torch.float64))


def test_dropout_acts_in_training_only():
    ref = nn.MultiheadAttention(E, H, dropout=0.5, batch_first=True, dtype=torch.float64)
    ours = HopfieldMultiheadAttention.from_multihead(ref, alpha_h=0.5)
    assert ours.dropout == 0.5
    x = torch.randn(B, S, E, dtype=torch.float64)
    ref.eval(), ours.eval()
    torch.testing.assert_close(ours(x, x, x)[0], ref(x, x, x)[0], **TOL[torch.float64])
    ours.train()
    h = torch.randn(B, H, S, S, dtype=torch.float64)
    for kw in ({}, {"h": h}):  # the fused path and the explicit (carried) path both drop
        a, b = ours(x, x, x, need_weights=False, **kw)[0], ours(x, x, x, need_weights=False, **kw)[0]
        assert (a - b).abs().max() > 1e-3
    # dropout keeps the mean: the average over many draws approaches the eval output
    layer = HopfieldAttention(E, H, dropout=0.3, dtype=torch.float64).train()
    xs = x[:1].expand(4000, S, E)
    mean = layer(xs, need_scores=False)[0].mean(0)
    layer.eval()
    torch.testing.assert_close(mean, layer(x[:1])[0][0], rtol=0, atol=0.05)


def test_state_is_left_for_layers_called_by_other_code():
    ours = HopfieldMultiheadAttention(E, H, batch_first=True, alpha_h=0.6, dtype=torch.float64)
    x = torch.randn(B, S, E, dtype=torch.float64)
    ours(x, x, x, need_weights=False)
    h = ours.state
    assert h.shape == (B, H, S, S)
    out, _ = ours(x, x, x, need_weights=False, h=h)
    ref, _ = HopfieldAttention.forward(ours, x, h)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    assert HopfieldMultiheadAttention(E, H).state is None
    with pytest.raises(ValueError, match="add_bias_kv"):
        HopfieldMultiheadAttention(E, H, add_bias_kv=True)


@pytest.mark.parametrize("alpha", [None, 0.5])
def test_cache_gives_the_full_causal_pass(alpha):
    torch.manual_seed(3)
    stack = HopfieldAttentionStack(HopfieldTransformerBlock(E, H, alpha_h=0.7, alpha=alpha, d_ff=24, causal=True,
                                                            dtype=torch.float64) for _ in range(3)).eval()
    x = torch.randn(2, 9, E, dtype=torch.float64)
    full, _ = stack(x)
    caches = [KVCache() for _ in stack.layers]
    steps = [stack(x[:, :4], caches=caches)[0]]  # a prompt of 4 tokens, then one token at a time
    steps += [stack(x[:, t:t + 1], caches=caches)[0] for t in range(4, 9)]
    torch.testing.assert_close(torch.cat(steps, 1), full, rtol=0, atol=1e-12)
    assert len(caches[0]) == 9


def test_bad_masks():
    layer = HopfieldAttention(E, H)
    x = torch.randn(B, S, E)
    with pytest.raises(ValueError, match="attn_mask must have shape"):
        layer(x, attn_mask=torch.zeros(S, S + 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="key_padding_mask must have shape"):
        layer(x, key_padding_mask=torch.zeros(B + 1, S, dtype=torch.bool))
    with pytest.raises(ValueError, match="boolean or floating"):
        layer(x, attn_mask=torch.zeros(S, S, dtype=torch.int64))
    with pytest.raises(ValueError, match="key must"):
        HopfieldAttention(E, H, kdim=6, vdim=9)(x, key=torch.randn(B, S, 7), value=torch.randn(B, S, 9))
