"""Experiments with modern Hopfield attention (:mod:`hopdyn.mha.attention`): does carrying the
attention scores (``α' > 0``) slow rank collapse, and does it help a model without skip
connections?

- :func:`collapse_vs_depth`: pure attention stacks (random weights, no feed-forward, no skip)
  on random inputs; the collapse metrics of :mod:`hopdyn.mha.collapse` after every layer.
- :func:`digits_accuracy`: small attention classifiers without skip connections trained on
  scikit-learn's bundled ``load_digits`` (each 8×8 image read as 8 tokens of 8 pixels), at
  several depths, for ``α' = 0`` (standard attention) against ``α' > 0``, over seeds.
"""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .._threads import torch_threads
from .._validate import positive, positive_int
from ..datasets import digits
from ..mha.attention import HopfieldAttention, HopfieldAttentionStack, _fraction
from ..mha.collapse import collapse_metrics

METRICS = ("relative_residual", "cosine", "cosine_gap", "residual")


def _alphas(alphas_h: Sequence[float]) -> tuple[float, ...]:
    out = tuple(_fraction(a, "alphas_h") for a in alphas_h)
    if not out:
        raise ValueError("alphas_h is empty; expected at least one value of alpha'")
    return out


# -- (a) collapse against depth ----------------------------------------------------------------
@dataclass(frozen=True)
class CollapseSweep:
    """Collapse metrics after each layer of pure attention stacks.

    ``metrics[name]`` has shape ``(len(alphas_h), depth + 1, n_seeds * batch)``: index ``l`` on
    the second axis is the output of layer ``l`` (``l = 0``: the input). Every ``α'`` uses the
    same weights and inputs (a paired comparison).
    """

    alphas_h: tuple[float, ...]
    depths: np.ndarray
    metrics: dict[str, np.ndarray]
    settings: dict = field(default_factory=dict)

    def quantiles(self, name: str, q: Sequence[float] = (0.25, 0.5, 0.75)) -> np.ndarray:
        """Quantiles over seeds and inputs, shape ``(len(q), len(alphas_h), depth + 1)``."""
        return np.quantile(self.metrics[name], q, axis=-1)

    def layers_to(self, name: str, level: float) -> list[int | None]:
        """Per ``α'``: the first depth at which the median of ``name`` falls below ``level``."""
        med = np.median(self.metrics[name], axis=-1)
        out = []
        for row in med:
            below = np.nonzero(row < level)[0]
            out.append(int(self.depths[below[0]]) if below.size else None)
        return out


@contextlib.contextmanager
def _seeded(seed: int):
    """A block in which torch's global CPU stream starts from ``seed``, and after which the
    caller's stream is as it was (``torch.random.fork_rng``): ``nn.Module`` initialisation has no
    generator argument, and an analysis must not reset the user's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def collapse_vs_depth(
    alphas_h: Sequence[float] = (0.0, 0.2, 0.5, 0.8),
    depth: int = 24,
    n_tokens: int = 32,
    d_model: int = 64,
    n_heads: int = 4,
    n_seeds: int = 8,
    batch: int = 8,
    alpha: float = 0.0,
    causal: bool = False,
    seed: int = 0,
    num_threads: int | None = 1,
    progress: bool | None = None,
) -> CollapseSweep:
    """Run pure attention stacks (``nn.MultiheadAttention``'s initialisation, float64 so that the
    collapse can be followed down to 1e-15) on Gaussian inputs and measure collapse per layer.

    Args:
        alphas_h: the values of ``α'`` compared (0 is standard attention).
        depth: number of layers; metrics are recorded after each.
        n_tokens, d_model, n_heads: ``T``, ``d`` and the number of heads.
        n_seeds: independent weight draws; ``batch`` inputs ``X ~ N(0, 1)`` per draw.
        alpha: ``α`` (0: no skip connection of any kind).
        causal: use a causal mask.
        seed: base seed.
        num_threads: torch threads for the run (see :func:`torch_threads`).
        progress: tqdm bar over weight draws (default: shown).
    """
    alphas = _alphas(alphas_h)
    depth, n_seeds, batch = positive_int(depth, "depth"), positive_int(n_seeds, "n_seeds"), positive_int(batch, "batch")
    n_tokens = positive_int(n_tokens, "n_tokens", minimum=2)
    alpha = _fraction(alpha, "alpha")
    out = {name: np.empty((len(alphas), depth + 1, n_seeds * batch)) for name in METRICS}
    dt = torch.float64
    with torch.no_grad(), torch_threads(num_threads):
        for s in tqdm(range(n_seeds), desc="collapse", disable=progress is False, leave=False):
            # the weights and inputs of draw s, seeded without touching the caller's random stream
            with _seeded(seed + s):
                stack = HopfieldAttentionStack.build(depth, d_model, n_heads, alpha=alpha, causal=causal, dtype=dt)
                x0 = torch.randn(batch, n_tokens, d_model, dtype=dt)
            cols = slice(s * batch, (s + 1) * batch)
            for i, a in enumerate(alphas):
                for layer in stack.layers:  # same weights for every α' (validated by _alphas)
                    layer.alpha_h = a
                xs, _ = stack(x0, return_all=True)
                m = collapse_metrics(torch.stack([x0, *xs]))
                for name in METRICS:
                    out[name][i, :, cols] = m[name].numpy()
    settings = dict(depth=depth, n_tokens=n_tokens, d_model=d_model, n_heads=n_heads, n_seeds=n_seeds,
                    batch=batch, alpha=alpha, causal=causal, seed=seed)
    return CollapseSweep(alphas, np.arange(depth + 1), out, settings)


# -- (b) a small trained model without skip connections ------------------------------------------
class NoSkipBlock(nn.Module):
    """Attention then a feed-forward network, each followed by LayerNorm, no skip connection
    (the no-skip blocks of Dong et al. 2021); ``(x, h) → (x, h)`` for a
    :class:`~hopdyn.mha.attention.HopfieldAttentionStack`."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, alpha_h: float, alpha: float = 0.0):
        super().__init__()
        self.attn = HopfieldAttention(d_model, n_heads, alpha_h, alpha)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        y, h = self.attn(x, h)
        return self.norm2(self.ffn(self.norm1(y))), h


class TokenClassifier(nn.Module):
    """Tokens ``(B, T, n_in)`` → linear embedding + learned positions → no-skip blocks → mean
    over tokens → class logits."""

    def __init__(self, n_tokens: int, n_in: int, n_classes: int, depth: int, d_model: int, n_heads: int,
                 d_ff: int, alpha_h: float, alpha: float = 0.0):
        super().__init__()
        self.embed = nn.Linear(n_in, d_model)
        self.pos = nn.Parameter(0.02 * torch.randn(n_tokens, d_model))
        self.blocks = HopfieldAttentionStack(NoSkipBlock(d_model, n_heads, d_ff, alpha_h, alpha) for _ in range(depth))
        self.head = nn.Linear(d_model, n_classes)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Token states after every block."""
        xs, _ = self.blocks(self.embed(x) + self.pos, return_all=True)
        return xs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, _ = self.blocks(self.embed(x) + self.pos)
        return self.head(x.mean(-2))


@dataclass(frozen=True)
class MHADigitsResult:
    """Test accuracy (and the token cosine similarity after the last block, on the test set) of
    trained no-skip classifiers; arrays have shape ``(len(alphas_h), len(depths), len(seeds))``."""

    alphas_h: tuple[float, ...]
    depths: tuple[int, ...]
    seeds: tuple[int, ...]
    accuracy: np.ndarray
    final_cosine: np.ndarray
    settings: dict = field(default_factory=dict)

    def table_rows(self) -> list[list]:
        """One row per depth: mean ± sd of accuracy per ``α'`` and the paired difference to ``α'[0]``."""
        rows = []
        for j, d in enumerate(self.depths):
            row = [d]
            for i in range(len(self.alphas_h)):
                acc = self.accuracy[i, j]
                row.append(f"{acc.mean():.3f} ± {acc.std(ddof=1) if acc.size > 1 else 0.0:.3f}")
            for i in range(1, len(self.alphas_h)):
                diff = self.accuracy[i, j] - self.accuracy[0, j]
                row.append(f"{diff.mean():+.3f} ± {diff.std(ddof=1) if diff.size > 1 else 0.0:.3f}")
            for i in range(len(self.alphas_h)):
                row.append(f"{self.final_cosine[i, j].mean():.3f}")
            rows.append(row)
        return rows

    def table_headers(self) -> list[str]:
        a0 = self.alphas_h[0]
        return (["depth"] + [f"acc α'={a}" for a in self.alphas_h]
                + [f"Δacc α'={a} − α'={a0} (paired)" for a in self.alphas_h[1:]]
                + [f"cos last layer α'={a}" for a in self.alphas_h])


def digits_tokens() -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`hopdyn.datasets.digits` as tokens: each 8×8 image is 8 row tokens of 8 pixels in [0, 1]."""
    x, y = digits(torch.float32)
    return x.reshape(-1, 8, 8), y


def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float,
                     batch_size: int, generator: torch.Generator) -> None:
    """Adam with a cosine learning-rate schedule, cross-entropy, shuffled mini-batches."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n_batches = -(-x.shape[0] // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * n_batches)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(x.shape[0], generator=generator).split(batch_size):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
            sched.step()
    model.eval()


def _train_and_test(x_tr, y_tr, x_te, y_te, depth, alpha_h, seed, epochs, d_model, n_heads, d_ff, lr, batch_size,
                    alpha) -> tuple[float, float]:
    """One run: (test accuracy, mean token cosine similarity after the last block on the test set)."""
    with _seeded(seed):  # nn.Module initialisation draws from the global stream: fork it
        model = TokenClassifier(x_tr.shape[1], x_tr.shape[2], 10, depth, d_model, n_heads, d_ff, alpha_h, alpha)
    train_classifier(model, x_tr, y_tr, epochs, lr, batch_size, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        acc = float((model(x_te).argmax(-1) == y_te).float().mean())
        cos = float(collapse_metrics(model.features(x_te)[-1])["cosine"].mean())
    return acc, cos


def digits_accuracy(
    depths: Sequence[int] = tuple(range(1, 9)),
    alphas_h: Sequence[float] = (0.0, 0.5),
    seeds: Sequence[int] = (0, 1, 2),
    epochs: int = 20,
    d_model: int = 32,
    n_heads: int = 4,
    d_ff: int = 64,
    lr: float = 3e-3,
    batch_size: int = 64,
    alpha: float = 0.0,
    test_size: float = 0.25,
    num_threads: int | None = 1,
    progress: bool | None = None,
) -> MHADigitsResult:
    """Train no-skip attention classifiers on digits for every (``α'``, depth, seed) and report
    test accuracy. The train/test split is fixed (stratified, ``random_state=0``); a seed sets
    the initial weights and the batch order, and is shared by the ``α'`` values (paired runs).
    ``num_threads``: torch threads for the run (see :func:`torch_threads`).
    """
    from sklearn.model_selection import train_test_split

    alphas = _alphas(alphas_h)
    depths = tuple(positive_int(d, "depths") for d in depths)
    seeds = tuple(int(s) for s in seeds)
    if not depths or not seeds:
        raise ValueError("depths and seeds must be non-empty")
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    lr, alpha = positive(lr, "lr"), _fraction(alpha, "alpha")
    x, y = digits_tokens()
    tr, te = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y.numpy(), random_state=0)
    tr, te = torch.as_tensor(tr), torch.as_tensor(te)
    shape = (len(alphas), len(depths), len(seeds))
    acc, cos = np.empty(shape), np.empty(shape)
    runs = [(i, j, k) for i in range(len(alphas)) for j in range(len(depths)) for k in range(len(seeds))]
    with torch_threads(num_threads):
        for i, j, k in tqdm(runs, desc="digits", disable=progress is False, leave=False):
            acc[i, j, k], cos[i, j, k] = _train_and_test(
                x[tr], y[tr], x[te], y[te], depths[j], alphas[i], seeds[k], epochs, d_model, n_heads, d_ff, lr,
                batch_size, alpha,
            )
    settings = dict(epochs=epochs, d_model=d_model, n_heads=n_heads, d_ff=d_ff, lr=lr, batch_size=batch_size,
                    alpha=alpha, n_train=len(tr), n_test=len(te), tokens="8 image rows of 8 pixels")
    return MHADigitsResult(alphas, depths, seeds, acc, cos, settings)
