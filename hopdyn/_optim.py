"""The one optimizer hopdyn's own training loops use: Adam on a list of tensors.

Why not ``torch.optim.Adam``: constructing the first ``torch.optim`` optimizer in a process imports
``torch._dynamo`` (about 800 modules; 1.5–3 s measured with torch 2.13 on CPU), more than the whole
training of the OOD digits demo. This class is the same algorithm (Kingma & Ba 2015, default
betas, no weight decay) in a few tensor operations. It takes the gradients explicitly
(``step(torch.autograd.grad(loss, opt.params))``), so nothing is stored in ``.grad``.

By default one step is torch's fused Adam kernel (``torch._fused_adam_``: one pass over each
parameter instead of six); ``fused=False`` is the same update in plain tensor operations (equal to
the fused one up to rounding: 1e-12 after 100 steps in float64, tested).
"""
from __future__ import annotations

import torch


class Adam:
    """Adam with bias correction: ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
    ``p ← p − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + eps)``."""

    def __init__(self, params: list[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, fused: bool = True) -> None:
        self.params, self.lr, self.betas, self.eps, self.t = list(params), lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        # the kernel takes one dtype and device for the whole list
        self.fused = fused and hasattr(torch, "_fused_adam_") and len({(p.dtype, p.device) for p in self.params}) <= 1 \
            and all(p.is_floating_point() for p in self.params)
        if self.fused:  # the kernel reads the step count from one tensor per parameter
            self._steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]

    @torch.no_grad()
    def step(self, grads: tuple[torch.Tensor, ...] | list[torch.Tensor]) -> None:
        """One update of every parameter with its gradient (same order as ``params``)."""
        self.t += 1
        b1, b2 = self.betas
        if self.fused:
            for s in self._steps:
                s.fill_(self.t)
            torch._fused_adam_(self.params, list(grads), self.m, self.v, [], self._steps, lr=self.lr, beta1=b1,
                               beta2=b2, weight_decay=0.0, eps=self.eps, amsgrad=False, maximize=False)
            return
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.addcdiv_(m, (v / c2).sqrt_().add_(self.eps), value=-self.lr / c1)
