"""The models compared in the A-Hop experiments, each a similarity (and separation) for
:class:`AdaptiveHopfield`.

- **M-Hop**: the modern Hopfield network of Ramsauer et al., ``s = β ξ·x`` with β learned.
- **U-Hop**: the kernelised Hopfield network of Wu et al. (2024): a linear feature map ``W``
  (``s = β ⟨Wξ, Wx⟩``) learned *from the memories alone* by their separation loss
  ``L(W) = mean_μ [lse_ν ⟨Wξ_μ, Wξ_ν⟩ − ⟨Wξ_μ, Wξ_μ⟩]`` (each memory must retrieve itself),
  then β is learned on the queries like M-Hop's. ``‖W‖_F`` is held at ``√d`` (its value at
  ``W = I``): otherwise the loss falls to zero by scaling ``W`` up (our reading of the paper's
  normalised feature map). ``W`` follows projected gradient descent, not Adam: on memories
  that are already well separated the loss and its gradient vanish and ``W`` stays near ``I``,
  where Adam's normalised steps would move it by ``lr`` per step whatever the gradient's size
  (measured: Adam made U-Hop 10–30 points worse than M-Hop on Gaussian memories).
  See :class:`SeparationKernelSimilarity`.
- **Sparse-Hop** / **Entmax-Hop**: ``β ξ·x`` with the sparsemax / 1.5-entmax separation (the
  sparse Hopfield networks of Hu et al. 2023 and its entmax generalisation), trained by their
  Fenchel–Young losses.
- **D-Hop**: ``s = −β ‖ξ − x‖²`` with β learned (not in the paper's table; it is the
  Bayes-optimal similarity for isotropic noise and so a fair fixed-similarity reference).
- **A-Hop**: the footprint similarity over both bases (see :mod:`.similarity`).

:class:`LinearKernelSimilarity` (``W`` trained by the source cross-entropy like A-Hop) was the
stand-in for U-Hop before; it is a stronger baseline than U-Hop and stays available as
**CE-kernel** for comparison.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .._validate import ArrayLike, positive, positive_int
from .retrieval import AdaptiveHopfield
from .similarity import DistanceSimilarity, DotSimilarity, FootprintSimilarity, Similarity, _Beta, dot_scores


class LinearKernelSimilarity(Similarity):
    """``s(ξ, x) = ⟨Wξ, Wx⟩`` with a learned ``W`` (``d×d``), starting at ``√β·I``."""

    def __init__(self, n_features: int, beta: float = 1.0) -> None:
        super().__init__()
        d = positive_int(n_features, "n_features")
        self.W = nn.Parameter(positive(beta, "beta") ** 0.5 * torch.eye(d))

    def forward(self, xi: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return dot_scores(xi @ self.W.T, x @ self.W.T)


def kernel_separation_loss(W: torch.Tensor, xi: torch.Tensor) -> torch.Tensor:
    """U-Hop's separation loss ``mean_μ [lse_ν ⟨Wξ_μ, Wξ_ν⟩ − ⟨Wξ_μ, Wξ_μ⟩]`` on memories ``(N, d)``."""
    f = xi @ W.T
    k = f @ f.T
    return (torch.logsumexp(k, -1) - k.diagonal()).mean()


class SeparationKernelSimilarity(_Beta):
    """U-Hop: ``s(ξ, x) = β ⟨Wξ, Wx⟩`` where ``W`` (a buffer: the query loss never touches it) is
    learned by :meth:`fit_memories` from the memories alone and β (learned through ``log β``) by
    the source loss. ``W`` starts at the identity, so before :meth:`fit_memories` this is M-Hop."""

    def __init__(self, n_features: int, beta: float = 1.0, *, steps: int = 200, lr: float = 0.1) -> None:
        super().__init__(beta, learn_beta=True)
        d = positive_int(n_features, "n_features")
        self.steps, self.lr = positive_int(steps, "steps", minimum=0), positive(lr, "lr")
        self.register_buffer("W", torch.eye(d))

    def fit_memories(self, xi: torch.Tensor, seed: int = 0) -> list[float]:
        """Stage I of U-Hop: gradient descent on :func:`kernel_separation_loss` with ``‖W‖_F = √d``
        (projected after every step). Deterministic (full batch); returns the loss per step."""
        if xi.dim() != 2:
            raise ValueError(f"U-Hop learns its kernel from one bank (N, d), got shape {tuple(xi.shape)}")
        xi = xi.detach()
        W = nn.Parameter(self.W.detach().clone())
        norm = float(W.shape[0]) ** 0.5
        opt = torch.optim.SGD([W], lr=self.lr)
        losses = []
        for _ in range(self.steps):
            loss = kernel_separation_loss(W, xi)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                W.mul_(norm / W.norm())
            losses.append(float(loss.detach()))
        self.W.copy_(W.detach())
        return losses

    def forward(self, xi: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.log_beta.exp() * dot_scores(xi @ self.W.T, x @ self.W.T)


#: Model name → factory ``(n_features) -> Similarity`` (fresh parameters on each call).
MODELS: dict[str, Callable[[int], Similarity]] = {
    "A-Hop": lambda d: FootprintSimilarity(d),
    "M-Hop": lambda d: DotSimilarity(1.0, learn_beta=True),
    "U-Hop": lambda d: SeparationKernelSimilarity(d),
    "Sparse-Hop": lambda d: DotSimilarity(1.0, learn_beta=True),
    "Entmax-Hop": lambda d: DotSimilarity(1.0, learn_beta=True),
    "D-Hop": lambda d: DistanceSimilarity(1.0, learn_beta=True),
    "CE-kernel": lambda d: LinearKernelSimilarity(d),
}

#: Models whose separation is not softmax.
SEPARATION: dict[str, str] = {"Sparse-Hop": "sparsemax", "Entmax-Hop": "entmax15"}

#: Learning rates that differ from the paper's 0.1: Adam at 0.1 on the CE-kernel's d×d matrix
#: diverges (training loss 7–18 on mixed variants), 0.01 trains it and gives it 2–9 points more accuracy.
LEARNING_RATES: dict[str, float] = {"CE-kernel": 0.01}


def make_similarity(name: str, n_features: int) -> Similarity:
    """A fresh similarity for one of :data:`MODELS`."""
    if name not in MODELS:
        raise ValueError(f"model must be one of {tuple(MODELS)}, got {name!r}")
    return MODELS[name](positive_int(n_features, "n_features"))


def make_model(name: str, xi: ArrayLike | None, n_features: int | None = None, **options) -> AdaptiveHopfield:
    """A fresh :class:`AdaptiveHopfield` for one of :data:`MODELS` (with its separation); ``options``
    go to the layer (``learn_memories``)."""
    d = int(xi.shape[-1]) if xi is not None else positive_int(n_features, "n_features")
    return AdaptiveHopfield(xi, make_similarity(name, d), separation=SEPARATION.get(name, "softmax"),
                            n_features=n_features, **options)
