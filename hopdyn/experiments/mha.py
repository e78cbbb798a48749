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


@dataclass(frozen=True)
class CollapseFit:
    """The rate of collapse per ``α'`` (from :func:`collapse_fit`), with bootstrap intervals over
    the sampled stacks and inputs: ``order[i] = (mean, low, high)`` of the order of convergence
    ``q`` and ``rate[i]`` of the per-layer factor ``ρ``; ``n_used[i]`` samples had enough layers
    above the floor to fit."""

    alphas_h: tuple[float, ...]
    order: list[tuple[float, float, float]]
    rate: list[tuple[float, float, float]]
    n_used: list[int]
    floor: float

    def lines(self) -> list[str]:
        out = []
        for a, q, r, n in zip(self.alphas_h, self.order, self.rate, self.n_used):
            if n == 0:
                out.append(f"alpha'={a:g}: collapsed below {self.floor:g} within 2 layers in every sample: no fit")
                continue
            kind = ("doubly exponential, the form of Dong et al.'s bound (order 3)" if q[1] > 2.0 else
                    "exponential (order ~ 1), far slower than the bound's doubly exponential form" if q[2] < 1.2
                    else "faster than exponential, slower than the bound's order 3")
            out.append(f"alpha'={a:g}: order q = {q[0]:.2f} [95% CI {q[1]:.2f}, {q[2]:.2f}], per-layer factor "
                       f"rho = {r[0]:.2e} [{r[1]:.2e}, {r[2]:.2e}] ({n} samples) -> {kind}")
        return out


def collapse_fit(sweep: CollapseSweep, floor: float = 1e-12) -> CollapseFit:
    """Fit the collapse of the relative residual ``r_L`` against depth, per sample, over the layers
    where ``r_L > floor`` (float64 rounding stops the decay near 1e-16).

    Dong et al. (2021) bound pure attention by ``res_L ≤ c^{(3^L−1)/2} res_0^{3^L}``: doubly
    exponential, the log-residual decrements growing by a factor 3 per layer. The fit is the
    order of convergence ``q``: the least-squares slope of ``log|Δ_L|`` against ``L``
    (``Δ_L = log r_{L+1} − log r_L``) is ``log q``; ``q = 1`` is exponential collapse, ``q = 3``
    the bound's form. ``ρ`` is the geometric-mean factor ``r_{L+1}/r_L`` over the same layers.
    Intervals: bootstrap over samples (:func:`hopdyn.stats.bootstrap_means` on ``log q``, ``log ρ``).
    """
    from ..stats import bootstrap_means, generator

    floor = positive(floor, "floor")
    orders, rates, used = [], [], []
    r = sweep.metrics["relative_residual"]  # (n_alpha, depth + 1, n_samples)
    for i in range(r.shape[0]):
        lq, lr = [], []
        for y in np.log(r[i].T):  # one sample: log r_L for L = 0..depth
            above = np.nonzero(~(y > np.log(floor)))[0]
            n = above[0] if above.size else y.size
            d = np.diff(y[:n])
            if d.size < 2 or (d >= 0).any():
                continue
            lq.append(np.polyfit(np.arange(d.size), np.log(-d), 1)[0])
            lr.append(d.mean())
        used.append(len(lq))
        if len(lq) < 2:
            orders.append((np.nan,) * 3)
            rates.append((np.nan,) * 3)
            continue
        iq, ir = bootstrap_means([torch.tensor(lq), torch.tensor(lr)], generator=generator(0, "collapse-fit"))
        orders.append(tuple(float(np.exp(v)) for v in (iq.mean, iq.low, iq.high)))
        rates.append(tuple(float(np.exp(v)) for v in (ir.mean, ir.low, ir.high)))
    return CollapseFit(sweep.alphas_h, orders, rates, used, floor)


def collapse_slowing(sweep: CollapseSweep, level: float = 1e-12) -> list[dict]:
    """The paper's collapse claim, per ``α' > 0`` against ``α' = 0`` on the same stacks and inputs:
    the paired difference of ``log10`` relative residual at the depth ``L*`` where the median for
    ``α' = 0`` first falls below ``level`` (the last depth if it never does), with a bootstrap
    interval (:func:`hopdyn.stats.paired_bootstrap`); positive = carried scores collapse slower."""
    from ..stats import generator, paired_bootstrap

    if 0.0 not in sweep.alphas_h:
        return []
    i0 = sweep.alphas_h.index(0.0)
    reached = sweep.layers_to("relative_residual", level)[i0]
    depth = int(sweep.depths[-1]) if reached is None else reached
    logr = np.log10(np.maximum(sweep.metrics["relative_residual"][:, depth], 1e-300))
    out = []
    for i, a in enumerate(sweep.alphas_h):
        if i == i0:
            continue
        _, _, d = paired_bootstrap(torch.tensor(logr[i]), torch.tensor(logr[i0]), generator=generator(0, "slowing"))
        verdict = ("slower collapse (claim holds)" if d.low > 0 else "faster collapse (claim fails)" if d.high < 0
                   else "no significant difference (claim not shown)")
        out.append({"alpha_h": a, "depth": depth, "diff_log10": d.mean, "low": d.low, "high": d.high,
                    "verdict": verdict})
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


# -- (c) the paper's accuracy claim: pre-LN Transformers on digits (ViT) and text (char GPT) -------
#: Python standard-library sources read as the text corpus, in this order (those present are used)
STDLIB_FILES = ("textwrap.py", "functools.py", "string.py", "heapq.py", "bisect.py", "dataclasses.py",
                "argparse.py", "random.py", "shutil.py", "tempfile.py", "inspect.py", "typing.py", "os.py")


def _residual_alphas(values: Sequence[float | None]) -> tuple[float | None, ...]:
    out = tuple(None if a is None else _fraction(a, "residual_alphas") for a in values)
    if not out:
        raise ValueError("residual_alphas is empty; expected at least one value (None: standard residual)")
    return out


class _Transformer(nn.Module):
    """Embedding → pre-LN :class:`~hopdyn.mha.block.HopfieldTransformerBlock` stack → LayerNorm."""

    def __init__(self, depth: int, d_model: int, n_heads: int, alpha_h: float, alpha: float | None, causal: bool):
        super().__init__()
        from ..mha.block import HopfieldTransformerBlock

        self.blocks = HopfieldAttentionStack(
            HopfieldTransformerBlock(d_model, n_heads, alpha_h, alpha, causal=causal) for _ in range(depth))
        self.norm = nn.LayerNorm(d_model)

    def set_alpha_h(self, alpha_h: float) -> None:
        for block in self.blocks.layers:
            block.alpha_h = alpha_h

    def run(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.blocks(x, need_scores=False)[0])

    def diagnostics(self, x: torch.Tensor) -> dict[str, np.ndarray]:
        """Per layer: mean attention entropy, mean effective rank of the attention maps, and mean
        token cosine similarity of the block outputs (token uniformity)."""
        from ..mha.collapse import attention_entropy, effective_rank

        xs, hs = self.blocks(x, return_all=True)
        ws = [b.attn.weights(h) for b, h in zip(self.blocks.layers, hs)]
        return {"entropy": np.array([float(attention_entropy(w).mean()) for w in ws]),
                "effective_rank": np.array([float(effective_rank(w).mean()) for w in ws]),
                "cosine": np.array([float(collapse_metrics(t)["cosine"].mean()) for t in xs])}


class PatchViT(_Transformer):
    """A small ViT: ``p×p`` patches of an image → linear embedding + learned positions → blocks →
    mean over tokens → class logits."""

    def __init__(self, image: int, patch: int, n_classes: int, depth: int, d_model: int, n_heads: int,
                 alpha_h: float, alpha: float | None):
        super().__init__(depth, d_model, n_heads, alpha_h, alpha, causal=False)
        if image % patch:
            raise ValueError(f"patch must divide the image size {image}, got {patch}")
        self.patch, self.n_tokens = patch, (image // patch) ** 2
        self.embed = nn.Linear(patch * patch, d_model)
        self.pos = nn.Parameter(0.02 * torch.randn(self.n_tokens, d_model))
        self.head = nn.Linear(d_model, n_classes)

    def tokens(self, images: torch.Tensor) -> torch.Tensor:
        b, s, p = images.shape[0], images.shape[-1], self.patch
        t = images.reshape(b, s // p, p, s // p, p).transpose(2, 3).reshape(b, self.n_tokens, p * p)
        return self.embed(t) + self.pos

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.run(self.tokens(images)).mean(-2))


class CharGPT(_Transformer):
    """A character-level GPT: token + learned position embeddings → causal blocks → logits."""

    def __init__(self, vocab: int, context: int, depth: int, d_model: int, n_heads: int, alpha_h: float,
                 alpha: float | None):
        super().__init__(depth, d_model, n_heads, alpha_h, alpha, causal=True)
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(0.02 * torch.randn(context, d_model))
        self.head = nn.Linear(d_model, vocab)

    def tokens(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embed(ids) + self.pos[: ids.shape[-1]]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.run(self.tokens(ids)))


def stdlib_corpus(n_chars: int = 200_000) -> tuple[torch.Tensor, str]:
    """The first ``n_chars`` characters of :data:`STDLIB_FILES` (this Python's standard library,
    present on every machine; the content varies with the Python version), as ASCII codes
    ``(n,)`` int64 (other characters become ``?``), and a description with a checksum."""
    import hashlib
    import os

    n_chars = positive_int(n_chars, "n_chars", minimum=1000)
    root = os.path.dirname(os.__file__)
    parts, used = [], []
    for name in STDLIB_FILES:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as fh:
                parts.append(fh.read())
            used.append(name)
        if sum(map(len, parts)) >= n_chars:
            break
    text = "".join(parts)[:n_chars]
    if len(text) < n_chars:
        raise ValueError(f"the standard-library corpus in {root} has only {len(text)} characters, need {n_chars}")
    codes = torch.tensor([c if c < 128 else 63 for c in text.encode("ascii", errors="replace")], dtype=torch.int64)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return codes, f"{len(used)} stdlib files of Python {os.sys.version.split()[0]} ({', '.join(used)}), sha256 {digest}"


@dataclass(frozen=True)
class MHATrainResult:
    """Trained pre-LN Transformers for every (``α``, ``α'``, seed): ``score`` has shape
    ``(len(residual_alphas), len(alphas_h), len(seeds))``; the diagnostics (``entropy``,
    ``effective_rank``, ``cosine``) add a last axis over layers. ``residual_alphas`` holds ``α``
    of the residual around attention (None: the standard residual ``x + Attn``). Seeds are shared
    across ``α'`` (same initial weights and batches: paired comparisons; ``α'`` adds no parameters)."""

    task: str
    metric: str
    higher_is_better: bool
    residual_alphas: tuple[float | None, ...]
    alphas_h: tuple[float, ...]
    seeds: tuple[int, ...]
    score: np.ndarray
    entropy: np.ndarray
    effective_rank: np.ndarray
    cosine: np.ndarray
    n_params: int
    settings: dict = field(default_factory=dict)

    def comparisons(self, level: float = 0.95) -> list[dict]:
        """Each ``α' > 0`` against ``α' = 0`` at the same ``α``: the paired mean difference of the
        score, and of the last layer's attention effective rank, with bootstrap intervals
        (:func:`hopdyn.stats.paired_bootstrap`) and a verdict for each."""
        from ..stats import generator, paired_bootstrap

        if 0.0 not in self.alphas_h:
            return []
        base = self.alphas_h.index(0.0)
        out = []
        for r, a in enumerate(self.residual_alphas):
            for i, ah in enumerate(self.alphas_h):
                if i == base:
                    continue
                _, _, d = paired_bootstrap(self.score[r, i], self.score[r, base], level=level,
                                           generator=generator(0, "mha-compare"))
                better = d.low > 0 if self.higher_is_better else d.high < 0
                worse = d.high < 0 if self.higher_is_better else d.low > 0
                if len(self.seeds) < 3:
                    verdict = "fewer than 3 seeds: no interval worth a verdict"
                elif better:
                    verdict = "MHA better (claim holds here)"
                elif worse:
                    verdict = "MHA worse (claim fails here)"
                else:
                    verdict = "no significant difference (claim not shown)"
                # the paper's other claim: carried scores keep the attention maps from collapsing
                _, _, e = paired_bootstrap(self.effective_rank[r, i, :, -1], self.effective_rank[r, base, :, -1],
                                           level=level, generator=generator(0, "mha-rank"))
                rank_verdict = ("fewer than 3 seeds: no verdict" if len(self.seeds) < 3 else
                                "higher with MHA (claim holds here)" if e.low > 0 else
                                "lower with MHA (claim fails here)" if e.high < 0 else "no significant difference")
                out.append({"alpha": a, "alpha_h": ah, "diff": d.mean, "low": d.low, "high": d.high,
                            "verdict": verdict, "rank_diff": e.mean, "rank_low": e.low, "rank_high": e.high,
                            "rank_verdict": rank_verdict})
        return out

    def table(self) -> tuple[list[str], list[list]]:
        """Headers and rows: per (``α``, ``α'``) the mean ± sd score, last-layer diagnostics."""
        rows = []
        for r, a in enumerate(self.residual_alphas):
            for i, ah in enumerate(self.alphas_h):
                s = self.score[r, i]
                sd = s.std(ddof=1) if s.size > 1 else 0.0
                rows.append(["std" if a is None else f"{a:g}", f"{ah:g}", f"{s.mean():.4f} ± {sd:.4f}",
                             f"{self.entropy[r, i, :, -1].mean():.3f}", f"{self.effective_rank[r, i, :, -1].mean():.2f}",
                             f"{self.cosine[r, i, :, -1].mean():.3f}"])
        return (["alpha (residual)", "alpha'", f"{self.metric} (mean ± sd)", "attn entropy (last)",
                 "attn eff. rank (last)", "token cosine (last)"], rows)

    def verdict_lines(self) -> list[str]:
        lines = []
        for c in self.comparisons():
            head = f"alpha={'std' if c['alpha'] is None else format(c['alpha'], 'g')}, alpha'={c['alpha_h']:g} vs 0: "
            lines.append(f"{head}delta {self.metric} = {c['diff']:+.4f} [95% CI {c['low']:+.4f}, {c['high']:+.4f}] "
                         f"over {len(self.seeds)} seeds -> {c['verdict']}")
            lines.append(f"{head}delta last-layer attention effective rank = {c['rank_diff']:+.2f} "
                         f"[{c['rank_low']:+.2f}, {c['rank_high']:+.2f}] -> {c['rank_verdict']}")
        return lines


def _warmup_cosine(t: int, steps: int) -> float:
    """Learning-rate factor at step ``t``: linear warm-up over 5 % of the steps, then cosine decay."""
    return min(1.0, (t + 1) / max(1, steps // 20)) * 0.5 * (1 + np.cos(np.pi * min(t, steps) / steps))


def _train_grid(task: str, make_model, batches, evaluate, diag_input, residual_alphas, alphas_h, seeds, steps: int,
                lr: float, device, num_threads, progress, metric: str, higher: bool, settings: dict) -> MHATrainResult:
    """Train one model per (α, α', seed): AdamW, linear warm-up then cosine decay, ``steps`` steps."""
    res, alphas = _residual_alphas(residual_alphas), _alphas(alphas_h)
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds is empty; expected at least one seed")
    steps, lr = positive_int(steps, "steps"), positive(lr, "lr")
    shape = (len(res), len(alphas), len(seeds))
    score = np.empty(shape)
    diags: dict[str, np.ndarray] = {}
    n_params = None
    runs = [(r, i, k) for r in range(len(res)) for i in range(len(alphas)) for k in range(len(seeds))]
    with torch_threads(num_threads):
        for r, i, k in tqdm(runs, desc=task, disable=progress is False, leave=False):
            with _seeded(seeds[k]):  # same initial weights for every α' (it adds no parameters)
                model = make_model(alphas[i], res[r]).to(device)
            n = sum(p.numel() for p in model.parameters())
            if n_params is not None and n != n_params:
                raise AssertionError("parameter counts differ between settings")  # α' must add none
            n_params = n
            opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: _warmup_cosine(t, steps))
            g = torch.Generator().manual_seed(seeds[k])
            model.train()
            for xb, yb in batches(g, steps):
                opt.zero_grad(set_to_none=True)
                loss = model.loss(xb, yb) if hasattr(model, "loss") else nn.functional.cross_entropy(
                    model(xb).flatten(0, -2), yb.flatten())
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
            model.eval()
            with torch.no_grad():
                score[r, i, k] = evaluate(model)
                for name, v in model.diagnostics(model.tokens(diag_input)).items():
                    diags.setdefault(name, np.empty((*shape, v.size)))[r, i, k] = v
    return MHATrainResult(task, metric, higher, res, alphas, seeds, score, diags["entropy"], diags["effective_rank"],
                          diags["cosine"], int(n_params), settings)


def vit_digits(
    alphas_h: Sequence[float] = (0.0, 0.5),
    residual_alphas: Sequence[float | None] = (None,),
    seeds: Sequence[int] = tuple(range(5)),
    patch: int = 2,
    depth: int = 4,
    d_model: int = 32,
    n_heads: int = 4,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 3e-3,
    test_size: float = 0.3,
    device: str | torch.device = "cpu",
    num_threads: int | None = 1,
    progress: bool | None = None,
) -> MHATrainResult:
    """A small ViT (:class:`PatchViT`) on scikit-learn's digits (``patch``×``patch`` patches of the
    8×8 images) for every (``α``, ``α'``, seed); the score is test accuracy. The train/test split
    is fixed (stratified, ``random_state=0``); a seed sets the initial weights and batch order."""
    from sklearn.model_selection import train_test_split

    patch = positive_int(patch, "patch")
    epochs, batch_size = positive_int(epochs, "epochs"), positive_int(batch_size, "batch_size")
    x, y = digits(torch.float32)
    x = x.reshape(-1, 8, 8).to(device)
    y = y.to(device)
    tr, te = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y.cpu().numpy(), random_state=0)
    tr, te = torch.as_tensor(tr, device=device), torch.as_tensor(te, device=device)
    per_epoch = -(-len(tr) // batch_size)

    def batches(g, steps):
        for _ in range(epochs):
            for idx in torch.randperm(len(tr), generator=g).split(batch_size):
                j = tr[idx.to(device)]
                yield x[j], y[j]

    def evaluate(model):
        return float((model(x[te]).argmax(-1) == y[te]).float().mean())

    settings = dict(patch=patch, tokens=(8 // patch) ** 2, depth=depth, d_model=d_model, n_heads=n_heads,
                    epochs=epochs, batch_size=batch_size, lr=lr, n_train=len(tr), n_test=len(te), device=str(device))
    return _train_grid("vit-digits", lambda ah, a: PatchViT(8, patch, 10, depth, d_model, n_heads, ah, a), batches,
                       evaluate, x[te[:128]], residual_alphas, alphas_h, seeds, epochs * per_epoch, lr, device,
                       num_threads, progress, "test accuracy", True, settings)


def char_gpt(
    alphas_h: Sequence[float] = (0.0, 0.5),
    residual_alphas: Sequence[float | None] = (None,),
    seeds: Sequence[int] = tuple(range(3)),
    n_chars: int = 200_000,
    context: int = 64,
    depth: int = 4,
    d_model: int = 48,
    n_heads: int = 4,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 3e-3,
    n_eval: int = 256,
    device: str | torch.device = "cpu",
    num_threads: int | None = 1,
    progress: bool | None = None,
) -> MHATrainResult:
    """A character-level GPT (:class:`CharGPT`) on :func:`stdlib_corpus` (first 90 % to train,
    last 10 % held out) for every (``α``, ``α'``, seed); the score is the held-out loss in bits per
    character on ``n_eval`` fixed windows (lower is better)."""
    context, batch_size = positive_int(context, "context", minimum=2), positive_int(batch_size, "batch_size")
    codes, source = stdlib_corpus(n_chars)
    codes = codes.to(device)
    cut = int(0.9 * len(codes))
    train, held = codes[:cut], codes[cut:]
    if len(held) <= context + 1:
        raise ValueError(f"the held-out text ({len(held)} characters) is shorter than the context {context}")
    offsets = torch.arange(context + 1, device=device)
    starts = torch.linspace(0, len(held) - context - 2, positive_int(n_eval, "n_eval")).long().to(device)
    windows = held[starts[:, None] + offsets]

    def batches(g, steps):
        for _ in range(steps):
            s = torch.randint(0, len(train) - context - 1, (batch_size,), generator=g).to(device)
            w = train[s[:, None] + offsets]
            yield w[:, :-1], w[:, 1:]

    def evaluate(model):
        losses = [nn.functional.cross_entropy(model(w[:, :-1]).flatten(0, 1), w[:, 1:].flatten())
                  for w in windows.split(64)]
        return float(torch.stack(losses).mean()) / np.log(2.0)

    settings = dict(corpus=source, n_chars=len(codes), context=context, depth=depth, d_model=d_model,
                    n_heads=n_heads, steps=steps, batch_size=batch_size, lr=lr, n_eval=len(windows),
                    device=str(device))
    return _train_grid("char-gpt", lambda ah, a: CharGPT(128, context, depth, d_model, n_heads, ah, a), batches,
                       evaluate, windows[:32, :-1], residual_alphas, alphas_h, seeds, steps, lr, device, num_threads,
                       progress, "bits/char", False, settings)
