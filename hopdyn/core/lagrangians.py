"""Lagrangians of the two neuron layers (Krotov & Hopfield 2021; RecLag paper eqs 3, 5, 7, 11).

A Lagrangian is a small immutable object: calling it gives ``L(x)`` summed over the last
dimension, and ``.activation(x)`` gives ``dL/dx`` in closed form (eq 3). The energy and the
dynamics of :class:`hopdyn.MHN` are built from these two functions only.

Memory Lagrangians with a gate (RecLag and its smoothed form) also expose ``G(h)`` (eq 13):
the activation is ``gate(G) * softmax(beta h)``. Simulators use ``G`` to locate the switching
surface ``G = 0`` where RecLag's activation jumps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from .._validate import as_tensor, positive, positive_int


#: Up to this many memories, softmax runs over dim 0 of the transposed tensor (see :func:`softmax`).
_SHORT_SOFTMAX = 10

#: Entries with ``z − rowmax`` below this go to −inf before the softmax (see :func:`softmax`):
#: ``exp`` of them is below the smallest normal float, and the dropped mass, ``≤ N_H·e⁻⁶⁰``
#: (float32) or ``N_H·e⁻⁶⁰⁰`` (float64), is far below the rounding of the largest entry.
_CUTOFF = {torch.float32: -60.0, torch.float64: -600.0}


def softmax(z: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``softmax(scale·z)`` over the last dimension, with no subnormal float in it.

    At large ``β·|ξv|`` a plain softmax is full of subnormal floats, on which some CPUs run
    the exp and the next matmul (``p @ xi``) 5–30× slower (float32 at β = 1: 0.03 of the
    two-matmul roofline; SPEC "Numerics on CPU"). So entries with ``scale·z − rowmax`` below
    −60 (float32) / −600 (float64) are set to −inf first: exact to rounding (the dropped mass
    is ≤ N_H·e⁻⁶⁰), with no flush-to-zero needed. The largest entry is untouched, so
    ``max p`` is the plain softmax's to rounding. Under autograd the dropped entries get a zero
    gradient (their true one is below rounding as well). Other dtypes take the plain softmax.

    torch's CPU kernel for a short last dimension is scalar code: with a handful of memories
    (the planar examples, basin maps, phase portraits) a softmax over dim 0 of the transposed,
    contiguous tensor is 3–4× faster (measured: 10 000 × 5 float64, 512 µs against 136 µs;
    the crossover is near 12 memories). The result is then a transposed view, which matmuls
    take as it is.
    """
    return _softmax_max(z, scale)[0]


def _softmax_max(z: torch.Tensor, scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`softmax` and ``max(scale·z)`` over the last dimension (``None`` where not
    computed: other dtypes, or under autograd). ``lse(scale·z)`` is then ``max − log max p``
    (the entry at the max is ``exp(0)/Σ``). The row max is taken by ``amax``: torch's
    max-with-indices costs 6× that on CPU (measured, 4096 × 250 float32: 1.36 ms against
    0.21 ms), more than the pass over ``p`` that finds ``max p`` afterwards."""
    cut = _CUTOFF.get(z.dtype)
    n = z.shape[-1]
    short = z.device.type == "cpu" and n <= _SHORT_SOFTMAX and z.dim() >= 2 and z.numel() >= 4096
    if cut is None:
        w = z if scale == 1.0 else scale * z
        if not short:
            return torch.softmax(w, dim=-1), None
        return torch.softmax(w.reshape(-1, n).T.contiguous(), dim=0).T.reshape(z.shape), None
    grad = z.requires_grad and torch.is_grad_enabled()
    if short:
        # rows along dim 1 of the transposed copy; the max over memories is then elementwise
        w = z.reshape(-1, n).T.contiguous()
        if grad:
            w = w * scale if scale != 1.0 else w
            w = torch.nn.functional.threshold(w - w.detach().amax(0, keepdim=True), cut, -math.inf)
            return torch.softmax(w, dim=0).T.reshape(z.shape), None
        w_max = w.amax(0, keepdim=True)
        torch.add(w_max * -scale, w, alpha=scale, out=w)
        torch.nn.functional.threshold_(w, cut, -math.inf)
        return torch.softmax(w, dim=0).T.reshape(z.shape), (w_max[0] * scale).reshape(z.shape[:-1])
    # one pass for scale·(z − max z); the max is not differentiated (softmax does not depend on it)
    z_max = z.detach().amax(-1, keepdim=True)
    if scale != 1.0:
        z_max = z_max * scale
    w = torch.add(-z_max, z, alpha=scale)
    if grad:
        return torch.softmax(torch.nn.functional.threshold(w, cut, -math.inf), dim=-1), None
    torch.nn.functional.threshold_(w, cut, -math.inf)
    # w is ours: the softmax overwrites it (the kernel reads each row before it writes it;
    # measured 6 % faster at 4096 × 250 and 30 % at 4096 × 3000, where a fresh output faults
    # its pages in)
    return torch.ops.aten._softmax.out(w, -1, False, out=w), z_max[..., 0]


class Lagrangian:
    """Base class: ``L(x)`` (summed over the last dimension) and its gradient ``activation(x)``.

    A new Lagrangian implements ``__call__`` and ``activation`` (checked against autograd in
    the tests); the network, both simulators and every analysis use nothing else.
    """

    #: True when the activation jumps on a switching surface ``G = 0`` (a hard gate).
    has_jump: bool = False

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def activation(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def activation_jvp(self, x: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
        """The activation's derivative along ``dx``, ``∇²L(x)·dx``, detached (a subclass may give
        a closed form). Event location takes ``dG/dt`` with it.

        By reverse-mode autograd of :meth:`activation`: ``∇²L`` is symmetric, so its VJP is its
        JVP, and every op has a backward, where forward mode fails on some (softmax's ``out=``
        kernel: a LogSumExp feature Lagrangian under RecLag raised ``NotImplementedError``)."""
        with torch.enable_grad():
            x_req = x.detach().requires_grad_(True)
            out = self.activation(x_req)
            if not out.requires_grad:  # a constant activation
                return torch.zeros_like(x_req).detach()
            (jvp,) = torch.autograd.grad(out, x_req, dx.detach(), allow_unused=True, materialize_grads=True)
        return jvp

    def check_size(self, n: int) -> None:
        """Raise ``ValueError`` if this Lagrangian cannot act on ``n`` neurons (most act on any)."""

    def G(self, h: torch.Tensor) -> torch.Tensor:  # noqa: N802 - the paper's name
        raise AttributeError(f"{type(self).__name__} has no gate; G(h) exists for gated Lagrangians (RecLag)")


class GatedLagrangian(Lagrangian):
    """A memory Lagrangian whose activation is ``gate(G(h))·open_activation(h)``.

    RecLag is the example (eq 24). A subclass implements ``__call__``, the gate value ``G(h)``
    (shape ``(...)``; the gate is open where ``G ≥ 0``) and ``open_activation(h)``, the
    activation while the gate is open, which must be smooth. ``activation`` is derived here,
    the one place a gate is applied. With the hard gate ``χ`` (``has_jump = True``)
    :func:`hopdyn.integrate` locates the switching surface ``G = 0`` by asking ``G`` and
    ``open_activation``; a smooth ``gate`` (override it, set ``has_jump = False``) needs no
    event location. The B0 of the analyses is ``{G < 0}``.
    """

    has_jump: bool = True

    def G(self, h: torch.Tensor) -> torch.Tensor:  # noqa: N802
        raise NotImplementedError

    def open_activation(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def G_grad(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: N802
        """``(G(h), ∂G/∂h)``, detached (autograd of :meth:`G`; a subclass may give a closed form).
        Event location asks it at every check point of a trajectory."""
        with torch.enable_grad():
            h_req = h.detach().requires_grad_(True)
            g = self.G(h_req)
            (grad,) = torch.autograd.grad(g.sum(), h_req)
        return g.detach(), grad

    def open_activation_G_grad(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # noqa: N802
        """``(open_activation(h), G(h), ∂G/∂h)``, detached: the open field and the gate's value
        and gradient at once (a subclass may share work between them). Event location asks it
        at the last stage of every solver step."""
        return self.open_activation(h), *self.G_grad(h)

    def gate(self, G: torch.Tensor) -> torch.Tensor:  # noqa: N803
        """``χ(G)``: 1 where ``G ≥ 0`` else 0 (the convention χ(0) = 1)."""
        return (G >= 0).to(G.dtype)

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        """``gate(G(h))·open_activation(h)`` (eq 24 for RecLag)."""
        # G comes from the subclass's one formula: a second route to it (for RecLag, lse read
        # off the softmax) differs in the last bit and flips the gate at G = 0 (γ = N_H, v = 0)
        gate = self.gate(self.G(h))[..., None]
        p = self.open_activation(h)
        # p is ours: gate it in place (one allocation less on the hot path) unless autograd
        # needs it for the backward pass
        return p * gate if p.requires_grad else p.mul_(gate)


@dataclass(frozen=True)
class Quadratic(Lagrangian):
    """``L(x) = ½‖x‖²``, activation ``x`` (eq 7): the default feature Lagrangian."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (x * x).sum(-1)

    def activation(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def activation_jvp(self, x: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
        return dx


@dataclass(frozen=True)
class Abs(Lagrangian):
    """``L(x) = Σ|x_i|``, activation ``sign(x)`` (eq 5)."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.abs().sum(-1)

    def activation(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sign(x)


@dataclass(frozen=True)
class LogSumExp(Lagrangian):
    """``L(h) = (1/β)·lse(βh)``, activation ``softmax(βh)`` (eq 7): the vanilla MHN."""

    beta: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta", positive(self.beta, "beta"))

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.beta * h, dim=-1) / self.beta

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        return softmax(h, self.beta)


@dataclass(frozen=True, eq=False, repr=False)
class WeightedLogSumExp(Lagrangian):
    """``L(h) = (1/β)·lse(βh + log m)``, activation ``softmax(βh + log m)``: memories with masses.

    With Quadratic ``L_V`` the network ``MHN(xi, memory=WeightedLogSumExp(β, m))`` has the
    weighted energy ``E(q) = ½‖q‖² − β⁻¹ log Σ_μ m_μ exp(β q·ξ_μ)`` and the update
    ``q ← Σ_μ softmax(β q·ξ + log m)_μ ξ_μ`` (continual-learning paper, seed 002): a memory of
    mass ``m_μ`` acts as ``m_μ`` copies of ``ξ_μ``, and all masses 1 is :class:`LogSumExp`.

    Args:
        beta: inverse temperature (> 0).
        mass: one finite mass > 0 per memory, shape ``(N_H,)``; its length must equal the
            number of memories of the network it is used in (checked at every call).
    """

    beta: float
    mass: Any
    _cache: dict = field(default_factory=dict, init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta", positive(self.beta, "beta"))
        # float64 so that log m is exact for the float64 verification paths
        mass = as_tensor(self.mass, "mass").to(torch.float64)
        if mass.dim() != 1:
            raise ValueError(f"mass must be a 1-D array with one entry per memory, got shape {tuple(mass.shape)}")
        if not bool((mass > 0).all()):
            raise ValueError(f"mass must be > 0 for every memory, got min {mass.min().item()!r}")
        object.__setattr__(self, "mass", mass)

    def __repr__(self) -> str:
        return f"WeightedLogSumExp(beta={self.beta}, N_H={self.mass.shape[0]}, total_mass={float(self.mass.sum()):.6g})"

    def check_size(self, n: int) -> None:
        """Raise unless there is one mass per memory (``n`` memories); :class:`MHN` calls this."""
        if n != self.mass.shape[0]:
            raise ValueError(
                f"WeightedLogSumExp has {self.mass.shape[0]} masses but got {n} memories; "
                "mass must have one entry per memory, i.e. per row of xi"
            )

    def log_mass(self, h: torch.Tensor) -> torch.Tensor:
        """``log m`` in the dtype and on the device of ``h``, after checking ``h`` has one entry
        per mass (cached per dtype and device)."""
        self.check_size(h.shape[-1])
        key = (h.dtype, h.device)
        if key not in self._cache:
            self._cache[key] = torch.log(self.mass.to(dtype=h.dtype, device=h.device))
        return self._cache[key]

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(self.beta * h + self.log_mass(h), dim=-1) / self.beta

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        return softmax(self.beta * h + self.log_mass(h))


@dataclass(frozen=True)
class RecLag(GatedLagrangian):
    """Rectified Lagrangian ``L(h) = max((1/β)(lse(βh) − log γ), 0)`` (eq 11).

    Its activation is ``χ(G(h))·softmax(βh)`` (eq 24) with ``χ(z) = 1`` for ``z ≥ 0`` and 0
    otherwise, and ``G(h) = lse(βh) − log γ`` (eq 13). For ``γ > N_H`` the origin is a point
    attractor (Theorem 1). The activation jumps on ``G = 0``; see :func:`hopdyn.integrate`.

    Give either ``gamma`` or, keyword-only, ``log_gamma``: with unnormalised features the
    scores ``lse(β xi v)``, hence a useful ``log γ``, can exceed 709, where ``γ`` itself is no
    longer a float (``gamma`` then reads ``inf``; everything computes with ``log_gamma``).
    """

    beta: float = 1.0
    gamma: float | None = None
    log_gamma: float | None = field(default=None, kw_only=True)
    has_jump: bool = field(default=True, init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta", positive(self.beta, "beta"))
        if self.gamma is not None and self.log_gamma is not None:
            raise ValueError(f"give gamma or log_gamma, not both (got gamma={self.gamma!r}, log_gamma={self.log_gamma!r})")
        if self.log_gamma is None:
            gamma = positive(1.0 if self.gamma is None else self.gamma, "gamma")
            object.__setattr__(self, "gamma", gamma)
            object.__setattr__(self, "log_gamma", math.log(gamma))
        else:
            try:
                log_gamma = float(self.log_gamma)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"log_gamma must be a finite number, got {self.log_gamma!r}") from exc
            if not math.isfinite(log_gamma):
                raise ValueError(f"log_gamma must be a finite number, got {self.log_gamma!r}")
            object.__setattr__(self, "log_gamma", log_gamma)
            object.__setattr__(self, "gamma", math.exp(log_gamma) if log_gamma < 709 else math.inf)

    def __repr__(self) -> str:
        gamma = f"gamma={self.gamma!r}" if math.isfinite(self.gamma) else f"log_gamma={self.log_gamma!r}"
        return f"{type(self).__name__}(beta={self.beta!r}, {gamma}{self._repr_extra()})"

    def _repr_extra(self) -> str:
        return ""

    def G(self, h: torch.Tensor) -> torch.Tensor:  # noqa: N802 - eq 13
        """``G(h) = lse(βh) − log γ`` (eq 13); the gate is open where ``G ≥ 0``."""
        return torch.logsumexp(self.beta * h, dim=-1) - self.log_gamma

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.G(h), min=0.0) / self.beta

    def open_activation(self, h: torch.Tensor) -> torch.Tensor:
        """The activation with the gate open, ``softmax(βh)``: what flows while ``G ≥ 0``."""
        return softmax(h, self.beta)

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        """``χ(G(h))·softmax(βh)`` (eq 24): the gate of :meth:`G`, computed fast.

        torch's ``logsumexp`` costs 5–8× the fused softmax on CPU (a paper-scale step ran at 0.54
        of the two-matmul roofline with it), so the gate is read off the softmax we need anyway,
        ``lse(z) = max z − log max softmax(z)``. That route differs from :meth:`G` by a few ulps,
        which flips χ only where G is within rounding of 0 (e.g. γ = N_H at v = 0); rows within a
        margin well above that difference take :meth:`G` itself, so χ is always the sign of G.
        """
        if not self.has_jump or h.requires_grad:
            return super().activation(h)
        p, z_max = _softmax_max(h, self.beta)
        # G ≥ max(βh) − log γ: rows that clear the rounding margin on that bound are open
        # without max p (a pass over p saved; all rows of a run away from the origin)
        if z_max is not None and bool((z_max - self.log_gamma > self._margin(h, z_max)).all()):
            return p
        p, G = self._softmax_G(h, p, z_max)
        gate = self.gate(G)
        # all gates open (the common case in a run): p is the activation as it is
        return p if bool(gate.all()) else p.mul_(gate[..., None])

    def G_grad(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: N802
        """``(G(h), ∂G/∂h = β·softmax(βh))`` (the gradient of eq 13), from one softmax."""
        p, G = self._softmax_G(h.detach())
        return G, p.mul_(self.beta)

    def open_activation_G_grad(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # noqa: N802
        """``(softmax(βh), G(h), β·softmax(βh))`` from one softmax."""
        p, G = self._softmax_G(h.detach())
        return p, G, p * self.beta

    def _margin(self, h: torch.Tensor, z_max: torch.Tensor) -> torch.Tensor:
        """How far the fast route to G may be from :meth:`G` (a few ulps of its terms, widely)."""
        return 64 * torch.finfo(h.dtype).eps * (1 + z_max.abs() + abs(self.log_gamma))

    def _softmax_G(
        self, h: torch.Tensor, p: torch.Tensor | None = None, z_max: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``softmax(βh)`` and ``G(h)`` read off it (see :meth:`activation`), without autograd;
        ``p, z_max`` as :func:`_softmax_max` returned them for ``h``, if already computed."""
        if p is None:
            p, z_max = _softmax_max(h, self.beta)
        if z_max is None:
            z_max = self.beta * h.amax(-1)
        # the max entry of p is the plain softmax's to rounding: the thresholding of
        # :func:`softmax` drops only a mass below rounding, and never that entry
        G = z_max - torch.log(p.amax(-1)) - self.log_gamma
        near = G.abs() <= self._margin(h, z_max)
        if bool(near.any()):
            G[near] = self.G(h[near])
        return p, G

    def smooth(self, kappa: float) -> "SmoothRecLag":
        """The smoothed RecLag with gate ``sigmoid(κ·G)``; tends to this one as κ → ∞."""
        if math.isfinite(self.gamma):
            return SmoothRecLag(self.beta, self.gamma, kappa)
        return SmoothRecLag(self.beta, kappa=kappa, log_gamma=self.log_gamma)


@dataclass(frozen=True, repr=False)
class SmoothRecLag(RecLag):
    """RecLag with a smooth gate: ``L(h) = softplus(κ·G(h)) / (κβ)``.

    Its gradient is ``sigmoid(κ·G)·softmax(βh)``, so this is a convex Lagrangian whose
    activation tends to RecLag's as κ → ∞ (``softplus(κz)/κ → max(z, 0)``). The right-hand side
    of the dynamics is smooth, so any adaptive solver is accurate on it.
    """

    kappa: float = 100.0
    has_jump: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "kappa", positive(self.kappa, "kappa"))

    def _repr_extra(self) -> str:
        return f", kappa={self.kappa!r}"

    def gate(self, G: torch.Tensor) -> torch.Tensor:  # noqa: N803
        return torch.sigmoid(self.kappa * G)

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        # logaddexp(z, 0) is softplus without torch's linear cut-off at z > 20, which would make
        # the value disagree with the sigmoid gate by ~1e-9
        z = self.kappa * self.G(h)
        return torch.logaddexp(z, torch.zeros_like(z)) / (self.kappa * self.beta)


@dataclass(frozen=True)
class Polynomial(Lagrangian):
    """Dense associative memory ``L(h) = Σ_μ σ(h_μ)`` with ``σ(x) = xⁿ`` (eq 5).

    ``n = 2`` is the classical Hopfield network. ``rectified=True`` uses ``σ(x) = max(x, 0)ⁿ``
    (Krotov & Hopfield 2016), which keeps the Lagrangian convex for odd ``n``.
    """

    n: int = 2
    rectified: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", positive_int(self.n, "n"))

    def _base(self, h: torch.Tensor) -> torch.Tensor:
        return torch.clamp(h, min=0.0) if self.rectified else h

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        return self._base(h).pow(self.n).sum(-1)

    def activation(self, h: torch.Tensor) -> torch.Tensor:
        if self.n == 1:
            return (h > 0).to(h.dtype) if self.rectified else torch.ones_like(h)
        return self.n * self._base(h).pow(self.n - 1)
