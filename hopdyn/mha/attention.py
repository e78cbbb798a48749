"""Modern Hopfield attention (MHA): self-attention that keeps the memory neurons' state.

Seed paper ``002`` ("On the Role of Hidden States of Modern Hopfield Network in Transformer")
goes beyond the adiabatic limit in which an MHN step is self-attention: the attention scores
become the memory neurons' state ``h`` and are carried from layer to layer. No official code is
public; the equations implemented here are the ones known from secondary sources (the
non-adiabatic Euler steps of eqs 1–2 with the layer index as time, see
:func:`hopdyn.iterate_two_variable`), per head and with ``n`` the layer:

    h_n     = α' h_{n−1} + (1 − α') · s · Q_n K_nᵀ        (scores of layer n's input)
    x_{n+1} = α x_n      + (1 − α) · softmax(h_n) V_n W_O

``α' = 1 − Δt/τ_H`` carries the scores, ``α = 1 − Δt/τ_V`` replaces the residual connection;
``α' = α = 0`` is standard multi-head attention. The layer adds no parameters: it has exactly
the weights of :class:`torch.nn.MultiheadAttention` (``in_proj`` and ``out_proj``, same shapes,
same initialisation), so weights can be copied in both directions.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from .._validate import positive, positive_int


def _fraction(value: float, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}") from exc
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{name} must be in [0, 1) (1 would freeze the state), got {value!r}")
    return v


class HopfieldAttention(nn.Module):
    """Multi-head self-attention with a hidden score state (modern Hopfield attention).

    Args:
        d_model: token width ``d`` (divisible by ``n_heads``).
        n_heads: number of heads ``H``.
        alpha_h: ``α'`` in ``[0, 1)``, the share of the previous scores kept in ``h``.
        alpha: ``α`` in ``[0, 1)``, the share of the input kept in the output; 0 gives the bare
            attention output (use your own residual connection or none).
        causal: mask scores so that token ``i`` attends only to tokens ``j ≤ i``.
        scale: score scale ``s`` (default ``1/sqrt(d/H)``, as in standard attention).
        bias: biases in the input and output projections (as ``nn.MultiheadAttention``).

    ``forward(x, h=None)`` takes tokens ``x`` of shape ``(..., T, d)`` and a score state ``h``
    of shape ``(..., H, T, T)`` and returns ``(x_out, h_new)``. ``h=None`` starts from this
    layer's own scores (so the first layer of a stack is standard attention, the analogue of
    starting the MHN on its slow manifold ``h0 = xi g(v0)``); pass ``torch.zeros`` to start
    from rest. ``h`` holds unmasked scores; the causal mask is applied when it is read out,
    so masked entries never reach the output.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int = 1,
        alpha_h: float = 0.0,
        alpha: float = 0.0,
        *,
        causal: bool = False,
        scale: float | None = None,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        d_model, n_heads = positive_int(d_model, "d_model"), positive_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ValueError(f"d_model must be divisible by n_heads, got d_model={d_model}, n_heads={n_heads}")
        self.d_model, self.n_heads = d_model, n_heads
        self.alpha_h, self.alpha = _fraction(alpha_h, "alpha_h"), _fraction(alpha, "alpha")
        self.causal = bool(causal)
        self.scale = 1.0 / math.sqrt(d_model // n_heads) if scale is None else positive(scale, "scale")
        factory = {"device": device, "dtype": dtype}
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias, **factory)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias, **factory)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # nn.MultiheadAttention's initialisation, so that α' = 0 is the same model in distribution
        nn.init.xavier_uniform_(self.in_proj.weight)
        if self.in_proj.bias is not None:
            nn.init.zeros_(self.in_proj.bias)
            nn.init.zeros_(self.out_proj.bias)

    @classmethod
    def from_multihead(
        cls, mha: nn.MultiheadAttention, alpha_h: float = 0.0, alpha: float = 0.0, *, causal: bool = False
    ) -> "HopfieldAttention":
        """The same weights as ``mha`` (copied), with a hidden score state; ``α' = α = 0`` is ``mha``."""
        if not isinstance(mha, nn.MultiheadAttention) or not mha._qkv_same_embed_dim or mha.bias_k is not None:
            raise ValueError("mha must be an nn.MultiheadAttention with kdim = vdim = embed_dim and add_bias_kv=False")
        p = mha.in_proj_weight
        layer = cls(mha.embed_dim, mha.num_heads, alpha_h, alpha, causal=causal, bias=mha.in_proj_bias is not None,
                    device=p.device, dtype=p.dtype)
        with torch.no_grad():
            layer.in_proj.weight.copy_(mha.in_proj_weight)
            layer.out_proj.weight.copy_(mha.out_proj.weight)
            if mha.in_proj_bias is not None:
                layer.in_proj.bias.copy_(mha.in_proj_bias)
                layer.out_proj.bias.copy_(mha.out_proj.bias)
        return layer

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, n_heads={self.n_heads}, alpha_h={self.alpha_h}, alpha={self.alpha}, "
            f"causal={self.causal}, scale={self.scale:.4g}"
        )

    def scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(s·Q Kᵀ, V)`` per head: shapes ``(B, H, T, T)`` and ``(B, H, T, d/H)``."""
        b, t, _ = x.shape
        q, k, v = self.in_proj(x).view(b, t, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
        return (q * self.scale) @ k.transpose(-1, -2), v

    def weights(self, h: torch.Tensor) -> torch.Tensor:
        """Attention weights ``softmax(h)`` over keys, with the causal mask applied."""
        if self.causal:
            t = h.shape[-1]
            future = torch.ones(t, t, dtype=torch.bool, device=h.device).triu(1)
            h = h.masked_fill(future, float("-inf"))
        return torch.softmax(h, dim=-1)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(x, torch.Tensor) or x.dim() < 2 or x.shape[-1] != self.d_model:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor of shape (..., T, {self.d_model}), got {shape}")
        batch, t = x.shape[:-2], x.shape[-2]
        flat = x.reshape(-1, t, self.d_model)
        s, v = self.scores(flat)
        if h is not None:
            expected = (*batch, self.n_heads, t, t)
            if not isinstance(h, torch.Tensor) or tuple(h.shape) != expected:
                shape = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
                raise ValueError(f"h must be a tensor of shape {expected} (..., heads, T, T), got {shape}")
            if self.alpha_h != 0.0:  # α' = 0 keeps the scores bit-exact (standard attention)
                s = self.alpha_h * h.reshape(s.shape) + (1.0 - self.alpha_h) * s
        out = (self.weights(s) @ v).transpose(1, 2).reshape(flat.shape)
        out = self.out_proj(out).reshape(x.shape)
        if self.alpha != 0.0:
            out = self.alpha * x + (1.0 - self.alpha) * out
        return out, s.reshape(*batch, self.n_heads, t, t)


class HopfieldAttentionStack(nn.Module):
    """Layers that each map ``(x, h) → (x, h)``, threaded in order, carrying the score state.

    The layers are :class:`HopfieldAttention` modules or blocks built around one (e.g. attention
    followed by a feed-forward network) with the same signature.
    ``forward(x, h0=None, return_all=False)`` returns ``(x, h)`` after the last layer, or with
    ``return_all=True`` the lists of the states after every layer (index ``l`` = output of layer
    ``l + 1``).
    """

    def __init__(self, layers: Iterable[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        if len(self.layers) == 0:
            raise ValueError("layers is empty; expected at least one layer")

    @classmethod
    def build(cls, depth: int, d_model: int, n_heads: int = 1, **kwargs) -> "HopfieldAttentionStack":
        """``depth`` independent :class:`HopfieldAttention` layers (``kwargs`` go to each)."""
        depth = positive_int(depth, "depth")
        return cls(HopfieldAttention(d_model, n_heads, **kwargs) for _ in range(depth))

    def __len__(self) -> int:
        return len(self.layers)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None, return_all: bool = False):
        h = h0
        xs, hs = [], []
        for layer in self.layers:
            x, h = layer(x, h)
            if return_all:
                xs.append(x)
                hs.append(h)
        return (xs, hs) if return_all else (x, h)
