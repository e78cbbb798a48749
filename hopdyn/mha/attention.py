"""Modern Hopfield attention (MHA): self-attention that keeps the memory neurons' state.

Seed paper ``002`` (Masumura & Taki, "On the Role of Hidden States of Modern Hopfield Network in
Transformer") goes beyond the adiabatic limit in which an MHN step is self-attention: the
attention scores become the memory neurons' state ``h`` and are carried from layer to layer. No
official code is public; the equations implemented here are the non-adiabatic Euler steps of
eqs 1–2 with the layer index as time (see :func:`hopdyn.iterate_two_variable`), per head and with
``n`` the layer:

    h_n     = α' h_{n−1} + (1 − α') · s · Q_n K_nᵀ        (scores of layer n's input)
    x_{n+1} = α x_n      + (1 − α) · softmax(h_n + M) V_n W_O

``α' = 1 − Δt/τ_H`` carries the scores, ``α = 1 − Δt/τ_V`` replaces the residual connection;
``α' = α = 0`` is standard multi-head attention. ``M`` is the additive mask (causal, attention
and key-padding masks); ``h`` holds the unmasked scores, so a mask never leaks into a later layer.
The layer adds no parameters: it has exactly the weights of :class:`torch.nn.MultiheadAttention`
(same shapes, same initialisation), so weights can be copied in both directions.

:class:`HopfieldAttention` threads the state explicitly (``(x, h) → (x, h)``);
:class:`HopfieldMultiheadAttention` has :class:`torch.nn.MultiheadAttention`'s call signature and
return values, to replace it in an existing model.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
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


def _shape(t) -> object:
    return tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__


@dataclass
class KVCache:
    """Keys and values of the tokens seen so far by one layer, for incremental (causal) decoding:
    each call with ``cache=`` appends the new tokens' keys and values, shapes ``(B, H, S, d/H)``."""

    k: torch.Tensor | None = None
    v: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.shape[-2]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k is not None:
            if self.k.shape[:2] != k.shape[:2]:
                raise ValueError(f"cache holds batch/heads {tuple(self.k.shape[:2])}, got {tuple(k.shape[:2])}")
            k, v = torch.cat([self.k, k], -2), torch.cat([self.v, v], -2)
        self.k, self.v = k, v
        return k, v


class HopfieldAttention(nn.Module):
    """Multi-head attention with a hidden score state (modern Hopfield attention).

    Args:
        d_model: token width ``d`` of the queries and the output (divisible by ``n_heads``).
        n_heads: number of heads ``H``.
        alpha_h: ``α'`` in ``[0, 1)``, the share of the previous scores kept in ``h``.
        alpha: ``α`` in ``[0, 1)``, the share of the input kept in the output; 0 gives the bare
            attention output (use your own residual connection or none).
        causal: token ``i`` attends only to keys ``j ≤ i`` (offset by the cached length).
        scale: score scale ``s`` (default ``1/sqrt(d/H)``, as in standard attention).
        bias: biases in the input and output projections (as ``nn.MultiheadAttention``).
        dropout: dropout on the attention weights in training mode (as ``nn.MultiheadAttention``).
        kdim, vdim: widths of keys and values for cross-attention (default ``d_model``).
        batch_first: inputs are ``(..., T, d)`` (default) or, when False, ``(T, B, d)`` / ``(T, d)``.

    ``forward(x, h=None, *, key=None, value=None, key_padding_mask=None, attn_mask=None,
    is_causal=False, cache=None, need_scores=True)`` returns ``(x_out, h_new)``; ``h`` has shape
    ``(..., H, T_query, T_key)`` whatever ``batch_first``. ``h=None`` starts from this layer's own
    scores (so the first layer of a stack is standard attention, the analogue of starting the MHN
    on its slow manifold ``h0 = xi g(v0)``); pass ``torch.zeros`` to start from rest. Masks follow
    ``nn.MultiheadAttention``: boolean ``True`` = not allowed, float = added to the scores;
    ``attn_mask`` is ``(L, S)`` or ``(B·H, L, S)``, ``key_padding_mask`` is ``(B, S)``.
    With ``need_scores=False`` and no state to mix in (``h is None`` or ``α' = 0``) the fused
    ``scaled_dot_product_attention`` runs and ``h_new`` is None.
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
        dropout: float = 0.0,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        d_model, n_heads = positive_int(d_model, "d_model"), positive_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ValueError(f"d_model must be divisible by n_heads, got d_model={d_model}, n_heads={n_heads}")
        self.d_model, self.n_heads = d_model, n_heads
        self.kdim = d_model if kdim is None else positive_int(kdim, "kdim")
        self.vdim = d_model if vdim is None else positive_int(vdim, "vdim")
        self.alpha_h, self.alpha = _fraction(alpha_h, "alpha_h"), _fraction(alpha, "alpha")
        self.dropout = _fraction(dropout, "dropout")
        self.causal, self.batch_first = bool(causal), bool(batch_first)
        self.scale = 1.0 / math.sqrt(d_model // n_heads) if scale is None else positive(scale, "scale")
        factory = {"device": device, "dtype": dtype}
        if self.kdim == self.vdim == d_model:
            self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias, **factory)
        else:  # cross-attention from other widths: separate projections (nn.MultiheadAttention's q/k/v_proj_weight)
            self.q_proj = nn.Linear(d_model, d_model, bias=bias, **factory)
            self.k_proj = nn.Linear(self.kdim, d_model, bias=bias, **factory)
            self.v_proj = nn.Linear(self.vdim, d_model, bias=bias, **factory)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias, **factory)
        self._reset_parameters()

    @property
    def _packed(self) -> bool:
        return hasattr(self, "in_proj")

    def _reset_parameters(self) -> None:
        # nn.MultiheadAttention's initialisation, so that α' = 0 is the same model in distribution
        lins = [self.in_proj] if self._packed else [self.q_proj, self.k_proj, self.v_proj]
        for lin in lins:
            nn.init.xavier_uniform_(lin.weight)
            if lin.bias is not None:
                nn.init.zeros_(lin.bias)
        if self.out_proj.bias is not None:
            nn.init.zeros_(self.out_proj.bias)

    @classmethod
    def _make(cls, d_model: int, n_heads: int, **kwargs) -> HopfieldAttention:
        return cls(d_model, n_heads, **kwargs)

    @classmethod
    def from_multihead(
        cls, mha: nn.MultiheadAttention, alpha_h: float = 0.0, alpha: float = 0.0, *, causal: bool = False
    ) -> HopfieldAttention:
        """The same weights, dropout and ``batch_first`` as ``mha`` (copied), with a hidden score
        state; ``α' = α = 0`` is ``mha``."""
        if not isinstance(mha, nn.MultiheadAttention) or mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError("mha must be an nn.MultiheadAttention with add_bias_kv=False and add_zero_attn=False")
        w = mha.in_proj_weight if mha._qkv_same_embed_dim else mha.q_proj_weight
        layer = cls._make(mha.embed_dim, mha.num_heads, alpha_h=alpha_h, alpha=alpha, causal=causal,
                          bias=mha.in_proj_bias is not None, dropout=mha.dropout, kdim=mha.kdim, vdim=mha.vdim,
                          batch_first=mha.batch_first, device=w.device, dtype=w.dtype)
        with torch.no_grad():
            if layer._packed:
                layer.in_proj.weight.copy_(mha.in_proj_weight)
            else:
                for lin, name in zip((layer.q_proj, layer.k_proj, layer.v_proj), "qkv"):
                    lin.weight.copy_(getattr(mha, f"{name}_proj_weight"))
            layer.out_proj.weight.copy_(mha.out_proj.weight)
            if mha.in_proj_bias is not None:
                if layer._packed:
                    layer.in_proj.bias.copy_(mha.in_proj_bias)
                else:
                    for lin, b in zip((layer.q_proj, layer.k_proj, layer.v_proj), mha.in_proj_bias.chunk(3)):
                        lin.bias.copy_(b)
                layer.out_proj.bias.copy_(mha.out_proj.bias)
        return layer

    def extra_repr(self) -> str:
        dims = "" if self._packed else f", kdim={self.kdim}, vdim={self.vdim}"
        return (
            f"d_model={self.d_model}, n_heads={self.n_heads}, alpha_h={self.alpha_h}, alpha={self.alpha}, "
            f"causal={self.causal}, scale={self.scale:.4g}, dropout={self.dropout}, batch_first={self.batch_first}"
            + dims
        )

    # -- pieces -------------------------------------------------------------------------------------
    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        b, n, _ = t.shape
        return t.view(b, n, self.n_heads, -1).transpose(1, 2)

    def project(self, query: torch.Tensor, key: torch.Tensor | None = None, value: torch.Tensor | None = None):
        """``(Q, K, V)`` per head from batch-first ``(B, L, d)``/``(B, S, kdim)``/``(B, S, vdim)``
        inputs (``key``/``value`` None: self-attention): shapes ``(B, H, ·, d/H)``."""
        if self._packed:
            if key is None and value is None:
                b, t, _ = query.shape
                q, k, v = self.in_proj(query).view(b, t, 3, self.n_heads, -1).permute(2, 0, 3, 1, 4)
                return q, k, v
            wq, wk, wv = self.in_proj.weight.chunk(3)
            bq, bk, bv = self.in_proj.bias.chunk(3) if self.in_proj.bias is not None else (None,) * 3
            key = query if key is None else key
            value = key if value is None else value
            return (self._heads(F.linear(query, wq, bq)), self._heads(F.linear(key, wk, bk)),
                    self._heads(F.linear(value, wv, bv)))
        key = query if key is None else key
        value = key if value is None else value
        return self._heads(self.q_proj(query)), self._heads(self.k_proj(key)), self._heads(self.v_proj(value))

    def scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(s·Q Kᵀ, V)`` per head of self-attention on batch-first ``x`` ``(B, T, d)``: shapes
        ``(B, H, T, T)`` and ``(B, H, T, d/H)``."""
        q, k, v = self.project(x)
        return (q * self.scale) @ k.transpose(-1, -2), v

    def mask(
        self,
        n_query: int,
        n_key: int,
        *,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        batch: int = 1,
        dtype: torch.dtype = torch.float32,
        device=None,
    ) -> torch.Tensor | None:
        """The additive mask ``M`` (0 or −inf, plus float masks), broadcastable to
        ``(B, H, L, S)``, or None when nothing is masked. Causal masks are offset so that the last
        query sits at the last key (cached decoding)."""
        m = None

        def add(m, t):
            return t if m is None else m + t

        if self.causal or is_causal:
            future = torch.ones(n_query, n_key, dtype=torch.bool, device=device).triu(n_key - n_query + 1)
            m = torch.zeros(n_query, n_key, dtype=dtype, device=device).masked_fill(future, float("-inf"))
        if attn_mask is not None:
            am = _float_mask(attn_mask, "attn_mask", dtype)
            if am.dim() == 2:
                ok = tuple(am.shape) == (n_query, n_key)
            else:
                ok = am.dim() == 3 and tuple(am.shape) == (batch * self.n_heads, n_query, n_key)
                am = am.view(batch, self.n_heads, n_query, n_key)
            if not ok:
                raise ValueError(f"attn_mask must have shape ({n_query}, {n_key}) or "
                                 f"({batch * self.n_heads}, {n_query}, {n_key}), got {tuple(attn_mask.shape)}")
            m = add(m, am)
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) not in ((batch, n_key), (n_key,)):
                raise ValueError(f"key_padding_mask must have shape ({batch}, {n_key}), got "
                                 f"{tuple(key_padding_mask.shape)}")
            kpm = _float_mask(key_padding_mask, "key_padding_mask", dtype)
            m = add(m, kpm.view(-1, 1, 1, n_key))
        return m

    def weights(self, h: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attention weights ``softmax(h + M)`` over keys; ``M``: ``mask`` if given, else the
        causal mask when the layer is causal."""
        if mask is None and self.causal:
            mask = self.mask(h.shape[-2], h.shape[-1], dtype=h.dtype, device=h.device)
        return torch.softmax(h if mask is None else h + mask, dim=-1)

    # -- forward ------------------------------------------------------------------------------------
    def _batch_first(self, t: torch.Tensor, name: str, width: int) -> torch.Tensor:
        """``t`` as ``(B, T, width)``: leading dims flattened (batch_first) or ``(T, B, ·)`` transposed."""
        if not isinstance(t, torch.Tensor) or t.dim() < 2 or t.shape[-1] != width:
            raise ValueError(f"{name} must be a tensor of shape (..., T, {width}), got {_shape(t)}")
        if self.batch_first:
            return t.reshape(-1, *t.shape[-2:])
        if t.dim() > 3:
            raise ValueError(f"{name} must have shape (T, B, {width}) or (T, {width}) with batch_first=False, "
                             f"got {_shape(t)}")
        return t.unsqueeze(0) if t.dim() == 2 else t.transpose(0, 1)

    def forward(
        self,
        x: torch.Tensor,
        h: torch.Tensor | None = None,
        *,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        cache: KVCache | None = None,
        need_scores: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        q_in = self._batch_first(x, "x", self.d_model)
        k_in = None if key is None else self._batch_first(key, "key", self.kdim)
        v_in = None if value is None else self._batch_first(value, "value", self.vdim)
        if (k_in is None) != (v_in is None) and not self._packed:
            raise ValueError("key and value must be given together for cross-attention with kdim/vdim")
        for name, t in (("key", k_in), ("value", v_in)):
            if t is not None and (t.shape[0] != q_in.shape[0] or (k_in is not None and t.shape[1] != k_in.shape[1])):
                raise ValueError(f"{name} has batch/length {tuple(t.shape[:2])}, which does not match the query "
                                 f"batch {q_in.shape[0]} and key length")
        q, k, v = self.project(q_in, k_in, v_in)
        if cache is not None:
            k, v = cache.append(k, v)
        b, n_q, n_k = q.shape[0], q.shape[-2], k.shape[-2]
        # a square causal mask alone goes to the fused kernel as is_causal (no mask tensor)
        plain_causal = (self.causal or is_causal) and attn_mask is None and key_padding_mask is None and n_q == n_k
        p_drop = self.dropout if self.training else 0.0
        # the state leads the batch dims of x whatever batch_first (it is torch's (B, H, L, S) layout)
        lead = tuple(x.shape[:-2]) if self.batch_first else tuple(x.shape[1:-1])
        carry = h is not None and self.alpha_h != 0.0
        if h is not None:
            expected = (*lead, self.n_heads, n_q, n_k)
            if not isinstance(h, torch.Tensor) or tuple(h.shape) != expected:
                raise ValueError(f"h must be a tensor of shape {expected} (..., heads, T_query, T_key), got {_shape(h)}")
        if need_scores or carry:
            m = self.mask(n_q, n_k, key_padding_mask=key_padding_mask, attn_mask=attn_mask, is_causal=is_causal,
                          batch=b, dtype=q.dtype, device=q.device)
            s = (q * self.scale) @ k.transpose(-1, -2)
            if carry:  # α' = 0 keeps the scores bit-exact (standard attention)
                s = self.alpha_h * h.reshape(s.shape) + (1.0 - self.alpha_h) * s
            w = self.weights(s, m) if m is not None else torch.softmax(s, dim=-1)
            out = F.dropout(w, p_drop) @ v if p_drop else w @ v
            state = s.reshape(*lead, self.n_heads, n_q, n_k)
        else:
            m = None if plain_causal else self.mask(
                n_q, n_k, key_padding_mask=key_padding_mask, attn_mask=attn_mask, is_causal=is_causal, batch=b,
                dtype=q.dtype, device=q.device)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=m, dropout_p=p_drop, is_causal=plain_causal,
                                                 scale=self.scale)
            state = None
        out = self.out_proj(out.transpose(1, 2).reshape(b, n_q, self.d_model))
        out = out.reshape(x.shape) if self.batch_first else (out[0] if x.dim() == 2 else out.transpose(0, 1))
        if self.alpha != 0.0:
            out = self.alpha * x + (1.0 - self.alpha) * out
        return out, state


def _float_mask(mask: torch.Tensor, name: str, dtype: torch.dtype) -> torch.Tensor:
    """A boolean mask (True = not allowed) as 0/−inf, a float mask as is (``nn.MultiheadAttention``)."""
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"{name} must be a tensor, got {type(mask).__name__}")
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    if not mask.is_floating_point():
        raise ValueError(f"{name} must be boolean or floating, got dtype {mask.dtype}")
    return mask.to(dtype)


class HopfieldMultiheadAttention(HopfieldAttention):
    """A drop-in replacement for :class:`torch.nn.MultiheadAttention` with carried scores.

    Same constructor arguments (``batch_first=False`` by default, as in torch; ``add_bias_kv``
    and ``add_zero_attn`` are not supported) plus ``alpha_h``, ``alpha``, ``causal`` and ``scale``;
    same ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returning ``(output, weights or None)``. With
    ``α' = α = 0`` it computes what ``nn.MultiheadAttention`` computes (fused
    ``scaled_dot_product_attention`` when ``need_weights=False``).

    The carried state: ``forward(..., h=...)`` takes the previous layer's scores, and the new
    ones are left in :attr:`state` (None when nothing needed them: ``α' = 0`` or
    ``carry_state=False``), so that a model whose layers are called by code you do not control
    can still thread them: ``h = layer.state`` after each layer. The returned weights are the
    ones before dropout (torch returns the dropped ones in training mode).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device=None,
        dtype=None,
        *,
        alpha_h: float = 0.0,
        alpha: float = 0.0,
        causal: bool = False,
        scale: float | None = None,
        carry_state: bool = True,
    ):
        if add_bias_kv or add_zero_attn:
            raise ValueError("add_bias_kv and add_zero_attn are not supported by HopfieldMultiheadAttention")
        super().__init__(embed_dim, num_heads, alpha_h, alpha, causal=causal, scale=scale, bias=bias,
                         dropout=dropout, kdim=kdim, vdim=vdim, batch_first=batch_first, device=device, dtype=dtype)
        self.carry_state = bool(carry_state)
        self.state: torch.Tensor | None = None

    @classmethod
    def _make(cls, d_model: int, n_heads: int, **kwargs) -> HopfieldMultiheadAttention:
        return cls(d_model, n_heads, **kwargs)

    @property
    def embed_dim(self) -> int:
        return self.d_model

    @property
    def num_heads(self) -> int:
        return self.n_heads

    @property
    def in_proj_weight(self) -> torch.Tensor | None:
        return self.in_proj.weight if self._packed else None

    @property
    def in_proj_bias(self) -> torch.Tensor | None:
        return self.in_proj.bias if self._packed else None

    @property
    def _qkv_same_embed_dim(self) -> bool:
        # torch's fused encoder-layer kernels read nn.MultiheadAttention's packed weights directly
        # and would skip this forward (and the carried scores) when this is True: never take them
        return False

    def forward(  # type: ignore[override]
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
        *,
        h: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        self_attn = key is query and value is query
        need = need_weights or (self.carry_state and self.alpha_h != 0.0)
        out, s = super().forward(query, h, key=None if self_attn else key, value=None if self_attn else value,
                                 key_padding_mask=key_padding_mask, attn_mask=attn_mask,
                                 is_causal=is_causal and attn_mask is None, need_scores=need)
        self.state = s if self.carry_state and self.alpha_h != 0.0 else None
        if not need_weights:
            return out, None
        b = 1 if query.dim() == 2 else (query.shape[0] if self.batch_first else query.shape[1])
        m = self.mask(s.shape[-2], s.shape[-1], key_padding_mask=key_padding_mask, attn_mask=attn_mask,
                      is_causal=is_causal and attn_mask is None, batch=b, dtype=s.dtype, device=s.device)
        w = self.weights(s.reshape(b, self.n_heads, *s.shape[-2:]), m)
        w = w.mean(1) if average_attn_weights else w
        return out, w[0] if query.dim() == 2 else w


class HopfieldAttentionStack(nn.Module):
    """Layers that each map ``(x, h) → (x, h)``, threaded in order, carrying the score state.

    The layers are :class:`HopfieldAttention` modules or blocks built around one (e.g.
    :class:`~hopdyn.mha.block.HopfieldTransformerBlock`) with the same signature.
    ``forward(x, h0=None, return_all=False, **kwargs)`` returns ``(x, h)`` after the last layer,
    or with ``return_all=True`` the lists of the states after every layer (index ``l`` = output
    of layer ``l + 1``); ``kwargs`` (masks) go to every layer, ``caches`` (one
    :class:`KVCache` per layer) to each its own. A layer that has ``alpha_h`` is
    told, by ``need_scores``, whether anyone reads its scores (the next layer carries them, or
    they are returned), so that otherwise the fused attention path runs.
    """

    def __init__(self, layers: Iterable[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        if len(self.layers) == 0:
            raise ValueError("layers is empty; expected at least one layer")

    @classmethod
    def build(cls, depth: int, d_model: int, n_heads: int = 1, **kwargs) -> HopfieldAttentionStack:
        """``depth`` independent :class:`HopfieldAttention` layers (``kwargs`` go to each)."""
        depth = positive_int(depth, "depth")
        return cls(HopfieldAttention(d_model, n_heads, **kwargs) for _ in range(depth))

    def __len__(self) -> int:
        return len(self.layers)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None, return_all: bool = False, *,
                need_scores: bool = True, caches: list[KVCache] | None = None, **kwargs):
        h = h0
        xs, hs = [], []
        n = len(self.layers)
        if caches is not None and len(caches) != n:
            raise ValueError(f"caches must hold one KVCache per layer ({n}), got {len(caches)}")
        for i, layer in enumerate(self.layers):
            kw = dict(kwargs) if caches is None else {**kwargs, "cache": caches[i]}
            if hasattr(layer, "alpha_h"):
                nxt = self.layers[i + 1] if i + 1 < n else None
                kw["need_scores"] = (return_all or (nxt is None and need_scores)
                                     or (nxt is not None and getattr(nxt, "alpha_h", 1.0) != 0.0))
            x, h = layer(x, h, **kw)
            if return_all:
                xs.append(x)
                hs.append(h)
        return (xs, hs) if return_all else (x, h)
