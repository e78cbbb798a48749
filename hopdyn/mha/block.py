"""A pre-LN Transformer block around modern Hopfield attention (seed 002's ViT/GPT block).

    h_n     = α' h_{n−1} + (1 − α') · s · Q Kᵀ          (Q, K, V from LN₁(x_n))
    y_n     = α x_n + (1 − α) · softmax(h_n + M) V W_O   (α-weighted residual, seed 002)
    x_{n+1} = y_n + FFN(LN₂(y_n))                        (standard residual around the FFN)

``alpha=None`` uses the standard residual ``y_n = x_n + Attn(LN₁ x_n)`` instead. ``α' = 0`` with
``alpha=None`` is the standard pre-LN block (GPT-2/ViT). The block adds no parameters to the
standard one whatever ``α'`` and ``α``.
"""
from __future__ import annotations

import torch
from torch import nn

from .._validate import positive_int
from .attention import HopfieldAttention, KVCache, _fraction


class HopfieldTransformerBlock(nn.Module):
    """Pre-LN block ``(x, h) → (x, h)``: LayerNorm → Hopfield attention (carried scores) →
    α-weighted (or standard) residual → LayerNorm → GELU FFN → residual.

    Args:
        d_model, n_heads: width and heads.
        alpha_h: ``α'`` of the attention (0: standard attention).
        alpha: ``α`` of the residual around attention, or None for the standard ``x + Attn``.
        d_ff: hidden width of the FFN (default ``4·d_model``).
        dropout: dropout on the attention weights and after each branch.
        causal: causal self-attention.

    ``forward(x, h=None, *, key_padding_mask=None, attn_mask=None, cache=None, need_scores=True)``
    takes batch-first tokens ``(B, T, d)``.
    """

    def __init__(self, d_model: int, n_heads: int, alpha_h: float = 0.0, alpha: float | None = None, *,
                 d_ff: int | None = None, dropout: float = 0.0, causal: bool = False, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        d_ff = 4 * d_model if d_ff is None else positive_int(d_ff, "d_ff")
        self.residual_alpha = None if alpha is None else _fraction(alpha, "alpha")
        self.norm1 = nn.LayerNorm(d_model, **factory)
        self.attn = HopfieldAttention(d_model, n_heads, alpha_h, causal=causal, dropout=dropout, **factory)
        self.norm2 = nn.LayerNorm(d_model, **factory)
        self.ffn = nn.Sequential(nn.Linear(d_model, d_ff, **factory), nn.GELU(), nn.Linear(d_ff, d_model, **factory))
        self.drop = nn.Dropout(dropout)

    @property
    def alpha_h(self) -> float:
        return self.attn.alpha_h

    @alpha_h.setter
    def alpha_h(self, value: float) -> None:
        self.attn.alpha_h = _fraction(value, "alpha_h")

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None, *, key_padding_mask=None, attn_mask=None,
                cache: KVCache | None = None, need_scores: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        a, h = self.attn(self.norm1(x), h, key_padding_mask=key_padding_mask, attn_mask=attn_mask, cache=cache,
                         need_scores=need_scores)
        a = self.drop(a)
        y = x + a if self.residual_alpha is None else self.residual_alpha * x + (1.0 - self.residual_alpha) * a
        return y + self.drop(self.ffn(self.norm2(y))), h
