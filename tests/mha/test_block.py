"""HopfieldTransformerBlock: α' = 0 with the standard residual is the standard pre-LN block built
from nn.MultiheadAttention; the α-weighted residual; attention-map diagnostics."""
import numpy as np
import pytest
import torch
from scipy.stats import entropy
from torch import nn

from hopdyn.mha import HopfieldTransformerBlock
from hopdyn.mha.collapse import attention_entropy, effective_rank

D, H, T = 16, 4, 6


def reference_block(block, causal):
    """x + MHA(LN₁ x), then + FFN(LN₂ ·), with torch's layer on the block's weights."""
    mha = nn.MultiheadAttention(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(block.attn.in_proj.weight)
        mha.in_proj_bias.copy_(block.attn.in_proj.bias)
        mha.out_proj.weight.copy_(block.attn.out_proj.weight)
        mha.out_proj.bias.copy_(block.attn.out_proj.bias)
    mask = torch.ones(T, T, dtype=torch.bool).triu(1) if causal else None

    def run(x, alpha):
        a = mha(block.norm1(x), block.norm1(x), block.norm1(x), attn_mask=mask, need_weights=False)[0]
        y = x + a if alpha is None else alpha * x + (1 - alpha) * a
        return y + block.ffn(block.norm2(y))
    return run


@pytest.mark.parametrize("alpha", [None, 0.3])
@pytest.mark.parametrize("causal", [False, True])
def test_standard_attention_block_equals_torch_reference(alpha, causal):
    torch.manual_seed(0)
    block = HopfieldTransformerBlock(D, H, 0.0, alpha, d_ff=24, causal=causal, dtype=torch.float64).eval()
    x = torch.randn(3, T, D, dtype=torch.float64)
    out, h = block(x)
    torch.testing.assert_close(out, reference_block(block, causal)(x, alpha), rtol=1e-12, atol=1e-12)
    assert h.shape == (3, H, T, T)
    # carried scores change the output, and add no parameters
    carried = HopfieldTransformerBlock(D, H, 0.5, alpha, d_ff=24, causal=causal, dtype=torch.float64).eval()
    carried.load_state_dict(block.state_dict())
    assert (carried(x, 3 * h)[0] - out).abs().max() > 1e-3
    assert torch.equal(carried(x)[0], out)  # no incoming state: the layer's own scores
    with pytest.raises(ValueError, match="alpha_h"):
        carried.alpha_h = 1.0


def test_attention_entropy_and_effective_rank_against_references():
    g = torch.Generator().manual_seed(0)
    w = torch.softmax(torch.randn(2, 3, 5, 7, generator=g, dtype=torch.float64), -1)
    expected = entropy(w.numpy(), axis=-1).mean(-1)
    np.testing.assert_allclose(attention_entropy(w).numpy(), expected, rtol=1e-12)
    m = torch.randn(4, 6, 6, generator=g, dtype=torch.float64)
    s = np.linalg.svd(m.numpy(), compute_uv=False)
    p = s / s.sum(-1, keepdims=True)
    np.testing.assert_allclose(effective_rank(m).numpy(), np.exp(-(p * np.log(p)).sum(-1)), rtol=1e-12)
    assert float(effective_rank(torch.eye(5, dtype=torch.float64))) == pytest.approx(5.0, rel=1e-12)
    uniform = torch.full((5, 5), 0.2, dtype=torch.float64)  # collapsed tokens: one attention row repeated
    assert float(effective_rank(uniform)) == pytest.approx(1.0, abs=1e-6)
    assert float(attention_entropy(uniform)) == pytest.approx(np.log(5), rel=1e-12)
    assert float(attention_entropy(torch.eye(4))) == 0.0
