"""Heads built on :class:`~hopdyn.adaptive.retrieval.AdaptiveHopfield` for downstream tasks
(seed 003, "downstream tasks": A-Hop as a differentiable memory layer).

- :class:`HopfieldClassifier`: a memory-based classifier. Learned memories ``Ξ`` (prototypes,
  e.g. initialised from training samples) carry learned label logits ``V``; the class
  probabilities are ``P(c | x) = Σ_μ p_μ(x) softmax(V_μ)_c`` with ``p = softmax(s(Ξ, x))``,
  computed in the log domain.
- :class:`HopfieldPooling`: multiple-instance pooling. The instances of a bag are the bank
  ``(B, n, d)``; learned queries retrieve from it, ``z = Σ_μ p_μ ξ_μ``, and a linear map scores
  the bag (the Hopfield pooling of Ramsauer et al., with A-Hop's similarity in place of ``βξ·x``).
"""
from __future__ import annotations

import torch
from torch import nn

from .._validate import ArrayLike, positive_int
from .retrieval import AdaptiveHopfield
from .similarity import Similarity


class HopfieldClassifier(nn.Module):
    """Log class probabilities ``log Σ_μ p_μ(x) softmax(V_μ)`` from learned memories.

    Args:
        xi: initial memories ``(N, d)`` (learned).
        labels: initial class of each memory ``(N,)`` (integers in ``[0, n_classes)``); ``V``
            starts at ``label_scale`` × one-hot and is learned.
        similarity: the similarity of the layer.
        n_classes: number of classes (default ``max(labels) + 1``).
    """

    def __init__(self, xi: ArrayLike, labels: ArrayLike, similarity: Similarity, n_classes: int | None = None,
                 *, label_scale: float = 3.0, separation: str = "softmax") -> None:
        super().__init__()
        self.memory = AdaptiveHopfield(xi, similarity, learn_memories=True, separation=separation)
        y = torch.as_tensor(labels).long()
        if y.shape != (self.memory.n_memories,):
            raise ValueError(f"labels must have shape ({self.memory.n_memories},), got {tuple(y.shape)}")
        c = positive_int(int(y.max()) + 1 if n_classes is None else n_classes, "n_classes", minimum=2)
        if int(y.min()) < 0 or int(y.max()) >= c:
            raise ValueError(f"labels must lie in [0, {c}), got values in [{int(y.min())}, {int(y.max())}]")
        self.values = nn.Parameter(label_scale * nn.functional.one_hot(y, c).to(self.memory.xi.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log class probabilities ``(n, n_classes)`` (train with ``nll_loss``)."""
        s = self.memory(x)
        if self.memory.separation == "softmax":
            logp = torch.log_softmax(s, -1).unsqueeze(-1) + torch.log_softmax(self.values, -1)
            return torch.logsumexp(logp, dim=-2)
        probs = self.memory.readout(x, torch.softmax(self.values, -1))
        return probs.clamp_min(torch.finfo(probs.dtype).tiny).log()


class HopfieldPooling(nn.Module):
    """Bag logits from bags ``(B, n, d_in)``: embed each instance (``Linear + ReLU`` to ``d``),
    retrieve with ``n_queries`` learned queries from the bag as a per-sample memory bank, and
    score the retrieved patterns with a linear map to ``n_outputs`` logits."""

    def __init__(self, n_inputs: int, similarity: Similarity, n_features: int, *, n_queries: int = 1,
                 n_outputs: int = 1, separation: str = "softmax", seed: int = 0) -> None:
        super().__init__()
        d, k = positive_int(n_features, "n_features"), positive_int(n_queries, "n_queries")
        g = torch.Generator().manual_seed(int(seed))
        self.embed = nn.Linear(positive_int(n_inputs, "n_inputs"), d)
        self.memory = AdaptiveHopfield(None, similarity, n_features=d, separation=separation)
        self.queries = nn.Parameter(torch.randn(k, d, generator=g) / d**0.5)
        self.head = nn.Linear(k * d, positive_int(n_outputs, "n_outputs"))
        # instances scaled by d^-1/2 (attention's scaling): the scores start small, the retrieval
        # soft, and every similarity can move its attention towards the witness instances
        self.scale = d**-0.5

    def forward(self, bags: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_outputs)`` for bags ``(B, n, d_in)``."""
        if bags.dim() != 3:
            raise ValueError(f"bags must have shape (B, n, d_in), got {tuple(bags.shape)}")
        bank = torch.relu(self.embed(bags)) * self.scale
        q = self.queries.expand(bags.shape[0], *self.queries.shape)
        z = self.memory.step(q, memories=bank)  # (B, k, d)
        return self.head(z.flatten(1))
