"""Benchmarks of hopdyn's mha room: the attention layer's forward + backward against the fused
``scaled_dot_product_attention`` layer and ``nn.MultiheadAttention`` (issue 17)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..mha import HopfieldAttention
from . import benchmark, interleaved


@benchmark("mha_attention")
def mha_attention(quick: bool) -> dict:
    """Forward + backward of one self-attention layer (B = 8, T = 256, d = 256, 8 heads, float32,
    causal) on the same weights: hopdyn's layer at α' = 0 (fused path: no scores returned) and at
    α' = 0.5 (scores carried in and out) against the plain SDPA layer (in_proj →
    ``F.scaled_dot_product_attention`` → out_proj) and ``nn.MultiheadAttention``."""
    b, t, d, heads = (4, 256, 128, 4) if quick else (8, 256, 256, 8)
    g = torch.Generator().manual_seed(0)
    ref = nn.MultiheadAttention(d, heads, batch_first=True)
    ours = HopfieldAttention.from_multihead(ref, causal=True)
    carried = HopfieldAttention.from_multihead(ref, alpha_h=0.5, causal=True)
    x = torch.randn(b, t, d, generator=g, requires_grad=True)
    h = torch.randn(b, heads, t, t, generator=g, requires_grad=True)
    mask = torch.ones(t, t, dtype=torch.bool).triu(1)

    def sdpa_layer():
        q, k, v = F.linear(x, ref.in_proj_weight, ref.in_proj_bias).view(b, t, 3, heads, -1).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return F.linear(o.transpose(1, 2).reshape(b, t, d), ref.out_proj.weight, ref.out_proj.bias)

    def step(fn):
        def run():
            fn().square().mean().backward()
        return run

    def carried_step():
        out, s = carried(x, h)  # the new state feeds the next layer: its gradient flows too
        (out.square().mean() + s.mean()).backward()

    times = interleaved({
        "sdpa": step(sdpa_layer),
        "torch_mha": step(lambda: ref(x, x, x, attn_mask=mask, need_weights=False, is_causal=True)[0]),
        "ours_alpha0": step(lambda: ours(x, need_scores=False)[0]),
        "ours_carried": carried_step,
    }, repeats=5 if quick else 9)
    ratio = times["ours_alpha0"] / times["sdpa"]
    return {
        **{f"{k}_ms": 1e3 * v for k, v in times.items()},
        "ratio": ratio,
        "ratio_vs_torch_mha": times["ours_alpha0"] / times["torch_mha"],
        "ratio_carried_vs_sdpa": times["ours_carried"] / times["sdpa"],
        "shape": f"B={b}, T={t}, d={d}, heads={heads}",
        "target": "ratio <= 1.2 (alpha'=0 against the SDPA layer)",
        "ok": ratio <= 1.2,
    }
