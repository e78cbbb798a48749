"""A tiny denoising diffusion model (DDPM, Ho et al. 2020) for the generative check of seed 002:
does the Hopfield energy of old samples track their reconstruction-based forgetting when the model
is fine-tuned on a new task?

The model is a small MLP ``ε_θ(x_t, t)`` trained on ``E‖ε − ε_θ(√ᾱ_t x + √(1−ᾱ_t) ε, t)‖²`` with a
linear β schedule. Two measurements of an old sample ``x``:

- reconstruction: noise ``x`` to step ``t₀`` with a fixed draw, run the deterministic DDIM reverse
  chain (Song et al. 2021, η = 0) back to 0, and take ``‖x̂ − x‖²`` (:meth:`TinyDDPM.reconstruct`);
- Hopfield energy: the MHN–diffusion link reads a diffusion model as an associative memory of what
  it generates, so the memory is ``M`` samples drawn from the model (:meth:`TinyDDPM.sample`) and
  the energy is that network's own, ``MHN(samples, LogSumExp(β)).energy(x)``.

Everything here is hopdyn's construction: the seed (an abstract) gives no architecture, schedule
or energy estimator for its diffusion experiments.
"""
from __future__ import annotations

import math

import torch

from .._optim import Adam
from .._validate import ArrayLike, as_tensor, positive, positive_int


class TinyDDPM(torch.nn.Module):
    """``ε_θ(x, t)``: an MLP on ``[x, sin/cos time features]`` with two hidden SiLU layers, and the
    DDPM schedule ``β_t`` linear from ``1e-4`` to ``beta_max`` over ``steps`` steps."""

    def __init__(self, dim: int, *, hidden: int = 128, steps: int = 40, beta_max: float = 0.2,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.dim, self.steps = positive_int(dim, "dim"), positive_int(steps, "steps")
        betas = torch.linspace(1e-4, positive(beta_max, "beta_max"), self.steps, dtype=torch.float64)
        self.register_buffer("alpha_bar", torch.cumprod(1 - betas, 0))
        sizes = [dim + 16, hidden, hidden, dim]
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b, dtype=torch.float64) for a, b in zip(sizes, sizes[1:]))
        with torch.no_grad():  # seeded initialisation, independent of torch's global stream
            for layer in self.layers:
                bound = 1 / math.sqrt(layer.in_features)
                u = torch.rand(layer.weight.shape, generator=generator, dtype=torch.float64)
                layer.weight.copy_((2 * u - 1) * bound)
                layer.bias.zero_()

    def _time(self, t: torch.Tensor) -> torch.Tensor:
        freq = torch.exp(torch.arange(8, dtype=torch.float64) * -math.log(100.0) / 8)
        ang = (t.double() / self.steps)[:, None] * freq * 2 * math.pi * 10
        return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = torch.cat([x, self._time(t)], dim=1)
        for layer in self.layers[:-1]:
            h = torch.nn.functional.silu(layer(h))
        return self.layers[-1](h)

    def noised(self, x: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """``x_t = √ᾱ_t x + √(1−ᾱ_t) ε`` (the closed form of the forward process)."""
        ab = self.alpha_bar[t][:, None]
        return ab.sqrt() * x + (1 - ab).sqrt() * eps

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The DDPM objective on a batch: mean ``‖ε − ε_θ(x_t, t)‖²`` with random ``t`` and ``ε``."""
        t = torch.randint(0, self.steps, (x.shape[0],), generator=generator)
        eps = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        return ((eps - self(self.noised(x, t, eps), t)) ** 2).sum(1).mean()

    def fit(self, data: ArrayLike, steps: int, *, lr: float = 2e-3, batch: int = 128,
            generator: torch.Generator | None = None) -> "TinyDDPM":
        """``steps`` Adam steps (:class:`hopdyn._optim.Adam`) on minibatches of ``data``; in place."""
        data = as_tensor(data, "data", min_dim=2, last_dim=self.dim).double()
        params = list(self.parameters())
        opt = Adam(params, lr=positive(lr, "lr"))
        for _ in range(positive_int(steps, "steps", minimum=0)):
            idx = torch.randint(0, data.shape[0], (min(batch, data.shape[0]),), generator=generator)
            opt.step(torch.autograd.grad(self.loss(data[idx], generator), params))
        return self

    @torch.no_grad()
    def _reverse(self, x: torch.Tensor, t0: int) -> torch.Tensor:
        # deterministic DDIM steps t0 → 0: predict x̂₀, then move to the previous noise level
        for t in range(t0, -1, -1):
            tt = torch.full((x.shape[0],), t, dtype=torch.int64)
            ab = self.alpha_bar[t]
            eps = self(x, tt)
            x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
            if t == 0:
                return x0
            ab_prev = self.alpha_bar[t - 1]
            x = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps
        return x

    def reconstruct(self, x: ArrayLike, t0: int, eps: ArrayLike) -> torch.Tensor:
        """Noise ``x`` to step ``t0`` with the given ``eps`` and denoise it with DDIM; returns ``x̂``."""
        x = as_tensor(x, "x", min_dim=2, last_dim=self.dim).double()
        eps = as_tensor(eps, "eps", like=x, last_dim=self.dim)
        if not 0 <= t0 < self.steps:
            raise ValueError(f"t0 must be in [0, {self.steps - 1}], got {t0}")
        return self._reverse(self.noised(x, torch.full((x.shape[0],), t0, dtype=torch.int64), eps), t0)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples by the DDIM chain from pure noise at the last step."""
        z = torch.randn(positive_int(n, "n"), self.dim, generator=generator, dtype=torch.float64)
        return self._reverse(z, self.steps - 1)
