"""The one optimizer hopdyn's own training loops use: Adam on a list of tensors.

Why not ``torch.optim.Adam``: constructing the first ``torch.optim`` optimizer in a process imports
``torch._dynamo`` (about 800 modules; 1.5–3 s measured with torch 2.13 on CPU), more than the whole
training of the OOD digits demo. This class is the same algorithm (Kingma & Ba 2015, default
betas, no weight decay) in a few tensor operations. It takes the gradients explicitly
(``step(torch.autograd.grad(loss, opt.params))``), so nothing is stored in ``.grad``.
"""
from __future__ import annotations

import torch


class Adam:
    """Adam with bias correction: ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
    ``p ← p − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + eps)``."""

    def __init__(self, params: list[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params, self.lr, self.betas, self.eps, self.t = list(params), lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, grads: tuple[torch.Tensor, ...] | list[torch.Tensor]) -> None:
        """One update of every parameter with its gradient (same order as ``params``)."""
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.addcdiv_(m, (v / c2).sqrt_().add_(self.eps), value=-self.lr / c1)
