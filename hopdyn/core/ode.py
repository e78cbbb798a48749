"""The continuous dynamics (eqs 1–2) integrated with per-sample step sizes or torchdiffeq,
batched and chunked.

``method="dopri5"`` (the default) runs :func:`hopdyn.core.dopri.dopri5`: every sample has its
own step size and error test, so its path is the one it would follow if solved alone (as
``scipy.integrate.solve_ivp(method="RK45")`` steps it). Other methods, and solves that autograd
must record, go through ``torchdiffeq.odeint`` with one step size shared by the batch.

A hard-gated memory Lagrangian (a :class:`~hopdyn.GatedLagrangian` with ``has_jump``, e.g.
RecLag's ``χ(G)·softmax(βh)``) has an activation that jumps on the switching surface ``G = 0``.
An adaptive solver that steps across a jump sees a huge local error, shrinks its step until the
error test passes by luck, and may land on the wrong side without telling anyone.
:func:`integrate` therefore locates the switching events by default (:mod:`hopdyn.core.events`).
torchdiffeq (which imports scipy) is loaded on the first call, not with ``import hopdyn``.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import torch

from .._chunks import chunk_rows, chunks
from .._rows import rowdot
from .._validate import ArrayLike, as_tensor, positive, positive_int
from .dopri import dopri5
from .events import integrate_events
from .network import MHN
from .shared_step import odeint
from .trajectory import Trajectory

#: torchdiffeq methods that step on a fixed grid (they never skip over the jump silently:
#: they evaluate the discontinuous field at their own grid points, with first-order error there).
FIXED_GRID_METHODS = frozenset(
    {"euler", "midpoint", "heun2", "heun3", "rk4", "explicit_adams", "implicit_adams", "fixed_adams"}
)
ADAPTIVE_METHODS = frozenset({"dopri8", "dopri5", "bosh3", "fehlberg2", "adaptive_heun"})


class GateCrossingWarning(UserWarning):
    """An integration may have stepped across RecLag's switching surface without locating it."""


def per_sample_rms_norm(y: torch.Tensor) -> torch.Tensor:
    """Error norm: the worst sample's RMS error.

    torchdiffeq's default norm averages the error over the whole batch, so a large batch loosens
    the tolerance of every single trajectory. Taking the max over samples gives each trajectory
    the error control it would get if solved alone (as ``scipy.integrate.solve_ivp`` does).
    """
    flat = y.reshape(y.shape[0], -1)
    # the row means as a matrix-vector product: torch's reduction over a short last dimension
    # (2 features in the planar examples) is several times slower
    mean_sq = (flat * flat) @ torch.full((flat.shape[1],), 1.0 / flat.shape[1], dtype=flat.dtype, device=flat.device)
    return mean_sq.max().sqrt()


def _frozen(p: torch.Tensor, mode: torch.Tensor | float) -> torch.Tensor:
    """The open activation ``p`` (fresh from the Lagrangian) with each row's gate frozen at
    ``mode`` (``(B,)``, or 1.0 / 0.0 for every row): in place unless autograd needs ``p`` (an
    allocation less per field evaluation)."""
    if isinstance(mode, float):
        return p if mode else torch.zeros_like(p)
    return p * mode[..., None] if p.requires_grad else p.mul_(mode[..., None])


class _System:
    """The state vector ``y`` of a network: ``v`` (adiabatic) or ``[v, h]`` (two-variable)."""

    def __init__(self, net: MHN):
        self.net = net
        self.n_v = net.n_features

    def split(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.net.adiabatic:
            return y, self.net._hidden(y)
        return y[..., : self.n_v], y[..., self.n_v:]

    def activation(self, h: torch.Tensor, mode: torch.Tensor | float | None) -> torch.Tensor:
        """``f(h)``; with ``mode`` (0/1 per sample) the gate is frozen at that value; ``mode=1.0``
        or ``0.0``: open, or closed, for every sample."""
        if mode is None:
            return self.net.memory.activation(h)
        if isinstance(mode, float) and not mode:  # every gate closed: no open activation to compute
            return torch.zeros_like(h)
        return _frozen(self.net.memory.open_activation(h), mode)

    def field(self, y: torch.Tensor, mode: torch.Tensor | float | None = None) -> torch.Tensor:
        """The vector field at states ``y`` of shape ``(B, D)`` (``mode``: ``(B,)``, 1.0, 0.0 or None,
        see :meth:`activation`)."""
        net = self.net
        if net.adiabatic:
            if isinstance(mode, float) and not mode:  # every gate closed: no softmax to compute
                return self._field(y, y.new_zeros(y.shape[:-1] + (net.n_memories,)))
            return self._field(y, self.activation(net._hidden(y), mode))
        return self._field(y, self.activation(self.split(y)[1], mode))

    def _field(self, y: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        """The vector field at ``y`` given the memory activation ``f`` there."""
        net = self.net
        if net.adiabatic:
            # (f @ xi − y) / τ_V in one fused call: at small state sizes the solver's cost is
            # per-operation overhead, not arithmetic
            return torch.addmm(y, f, net.xi_like(y), beta=-1.0 / net.tau_v, alpha=1.0 / net.tau_v)
        v, h = self.split(y)
        return torch.cat(net._velocity2(v, h, f), dim=-1)

    def field_gate(self, y: torch.Tensor, mode: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(field(y, mode), G(y), dG/dt)`` with the gate frozen at ``mode`` (see :meth:`activation`),
        from one evaluation of the memory Lagrangian (its ``open_activation_G_grad``), detached."""
        net = self.net
        h = net._hidden(y) if net.adiabatic else self.split(y)[1]
        p, g, grad_h = net.memory.open_activation_G_grad(h)
        f = self._field(y, _frozen(p, mode))
        if net.adiabatic:
            return f, g, net._hidden_rate_dot(y, f, grad_h)
        return f, g, rowdot(grad_h, f[..., self.n_v:])

    def G(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        return self.net.memory.G(self.split(y)[1])

    def G_grad(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: N802
        """``G(y)`` and ``∇_y G``, detached: the Lagrangian's ``G_grad`` in ``h``, pulled back
        through ``h = xi g(v)`` (the network's ``_hidden_vjp``) when ``h`` is adiabatic."""
        net = self.net
        y = y.detach()
        if not net.adiabatic:
            g, grad_h = net.memory.G_grad(y[..., self.n_v:])
            return g, torch.cat([torch.zeros_like(y[..., : self.n_v]), grad_h], dim=-1)
        with torch.no_grad():  # the network's parameters may track gradients
            g, grad_h = net.memory.G_grad(net._hidden(y))
            return g, net._hidden_vjp(y, grad_h)

    def energy(self, y: torch.Tensor) -> torch.Tensor:
        if self.net.adiabatic:
            return self.net._energy(y)
        return self.net._energy2(*self.split(y))


def integrate(
    net: MHN,
    v0: ArrayLike,
    t: ArrayLike,
    h0: ArrayLike | None = None,
    method: str = "dopri5",
    rtol: float = 1e-7,
    atol: float = 1e-9,
    *,
    events: bool | str = "auto",
    options: dict[str, Any] | None = None,
    event_dt: float | None = None,
    max_switches: int = 20,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> Trajectory:
    """Integrate eqs 1–2 and return the path at times ``t``.

    Adiabatic network (``tau_h=None``): ``τ_V dv/dt = xiᵀ f(xi g(v)) − v``.
    Two-variable network: ``τ_V dv/dt = xiᵀ f(h) − v``, ``τ_H dh/dt = xi g(v) − h``, starting
    from ``h0`` (default ``xi g(v0)``, on the slow manifold).

    **The gate's jump.** With ``events="auto"`` (the default) and an adaptive method, a memory
    Lagrangian whose activation jumps (a :class:`~hopdyn.GatedLagrangian` with ``has_jump``:
    RecLag, or your own) is integrated with *event location*: each sample's gate is frozen
    (open: the Lagrangian's ``open_activation(h)``, ``softmax(βh)`` for RecLag; closed: 0) so the
    solver sees a smooth field. The gate value ``G`` and its rate ``dG/dt = ∇G·field`` are
    checked at every step the solver accepts (per-sample steps, the default for ``"dopri5"``:
    taken from the field evaluation that ends each step, at no extra evaluation), or, with a
    shared step, on a sub-grid of spacing ``event_dt`` after each stretch. A step or
    sub-interval whose end is on the wrong side holds a crossing; so may one whose
    ends are both on the right side, when ``G`` makes a short excursion across ``G = 0`` and back
    in between (a sign check alone misses these): where the cubic Hermite model of ``G`` in time
    (end values and slopes) has an interior extremum near or beyond ``0``, the extremum is
    bracketed and probed with re-integrated states until a probe lands on the wrong side or the
    model puts the whole sub-interval on the right side. The first crossing of each sample is
    then bracketed, estimated by Hermite interpolation and refined by Newton steps on
    re-integrated states, and the sample goes on from there. Events are thus located to solver
    tolerance, batched over samples; their times are returned in ``switch_times``.

    **On the surface** ``G = 0`` (a start within rounding of it, or a located crossing) the gate
    is chosen per sample from the two one-sided rates: closed if the open and the closed flow
    both go into ``G < 0``, open otherwise (χ(0) = 1). So a crossing switches the gate, and on a
    *repulsive* part of the surface (the open flow leaves into ``G > 0``, the closed one into
    ``G < 0``) a start takes the open side. The rule reads only the sample's own state, so the
    side taken does not depend on what else is in the batch. With per-sample step sizes (the
    default for ``"dopri5"``) each stretch between events is stepped per sample too, so the
    paths and crossing times agree with a lone run to rounding; with a shared step
    (``options={"step_size": "shared"}``, or a solve that keeps the graph) to solver tolerance.

    **Sliding.** If the open and the closed flow both point into the surface, the solution
    slides along ``G = 0`` (a Filippov sliding mode) and the gate would chatter. For RecLag this
    cannot happen, for any γ (γ ≤ N_H included), in an adiabatic network with quadratic ``L_V``:
    on ``G = 0`` the open flow has ``dG/dt = β(‖ξᵀp‖² − p·h)`` and the closed one ``−β p·h``
    (``p = softmax(βh)``), and flow into the surface from both sides would need
    ``p·h > ‖ξᵀp‖² ≥ 0`` and ``p·h < 0`` at once (the same holds for any convex ``L_V`` with
    Hessian ``J``: ``‖ξᵀp‖²`` becomes ``pᵀξJξᵀp ≥ 0`` and ``p·h`` becomes ``pᵀξJv``). Nor in
    a two-variable network: ``G`` depends on ``h`` alone, whose rate does not involve the gate,
    so both sides have the same ``dG/dt``. It can happen with a non-convex feature Lagrangian or another gated memory
    Lagrangian (whose ``∇G`` is not along its ``open_activation``). As a fallback for those,
    a sample that meets more than ``max_switches`` crossings within one output interval is
    finished with fixed-step RK4 on the discontinuous field, and a
    :class:`GateCrossingWarning` says so.

    Fixed-grid methods (``"euler"``, ``"rk4"``, …) evaluate the discontinuous field on their grid
    (first-order error at a crossing) and need no event location. ``events=False`` with an
    adaptive method on RecLag warns. Alternatively use ``RecLag.smooth(kappa)``, whose gate
    ``sigmoid(κG)`` is smooth.

    **Gradients.** When autograd is on and ``v0``, ``h0``, ``xi`` or a tensor of a Lagrangian
    requires grad (:meth:`MHN.tracks_grad`), the result keeps the graph: the solve goes through
    torchdiffeq (shared step, per-sample norm; the per-sample solver updates its buffers in
    place) and the gradient is
    backpropagated directly through the solver's operations (discretise-then-differentiate: the
    exact derivative of the computed solution, which agrees with the true sensitivity to solver
    tolerance; memory grows with the number of solver steps; torchdiffeq's adjoint is not used,
    it would need the event times inside its backward solve). With event location the crossing
    times depend on the parameters too; each located crossing is made differentiable by the
    implicit-function theorem (``dt*/dp = −(∂G/∂p)/(dG/dt)``, and the sensitivity jumps by
    ``(f⁻ − f⁺)·dt*/dp``, see :mod:`hopdyn.core.events`), so gradients are correct across gate
    switches (checked against finite differences; a trajectory that merely touches ``G = 0``
    tangentially has no derivative there). ``switch_times`` are returned without graph.
    Otherwise everything runs under ``no_grad``.

    Args:
        net: the network.
        v0: initial feature states, shape ``(..., N_V)``.
        t: increasing output times, shape ``(T,)``, ``T ≥ 2``; ``t[0]`` is the start.
        h0: initial memory states ``(..., N_H)`` for a two-variable network.
        method, rtol, atol, options: ``"dopri5"`` without options uses per-sample step sizes
            (:func:`hopdyn.core.dopri.dopri5`: each trajectory stepped and controlled exactly
            as if alone, independent of the batch). ``options={"step_size": "shared"}``, any
            other torchdiffeq option, another method, or a solve that must keep the autograd
            graph goes through ``torchdiffeq.odeint`` with one step size for the batch; its
            error norm defaults to :func:`per_sample_rms_norm` (each trajectory's error
            controlled as if alone, the step set by the hardest one).
        events: ``"auto"``, ``True`` or ``False`` (see above).
        event_dt: with a shared step (torchdiffeq), spacing of the sub-grid on which ``G`` and
            ``dG/dt`` are checked for crossings and excursions (default ``τ/4`` with τ the
            smallest time constant); per-sample steps check at every accepted step instead.
            Also the step of the RK4 fallback for sliding (see above).
        max_switches: located crossings per output interval beyond which a sample counts as
            sliding.
        chunk_size: samples per chunk (bounded memory for very large batches).
        progress: tqdm bar over chunks (default: when there is more than one chunk).

    Returns:
        A :class:`Trajectory` with ``v`` of shape ``(T, ..., N_V)``, the energy along the path
        (two-body energy, eq 4, when ``h`` is simulated), ``h`` for two-variable networks and,
        with events, ``n_switches`` per sample and the located ``switch_times``
        (``(..., S)``, NaN-padded; see :class:`Trajectory`).
    """
    v0 = net.check_v(v0, "v0")
    t = as_tensor(t, "t", like=v0).to(dtype=v0.dtype, device=v0.device)
    if t.dim() != 1 or t.shape[0] < 2:
        raise ValueError(f"t must be a 1-D array of at least 2 times, got shape {tuple(t.shape)}")
    if not bool((t[1:] > t[:-1]).all()):
        raise ValueError("t must be strictly increasing")
    rtol, atol = positive(rtol, "rtol"), positive(atol, "atol")
    max_switches = positive_int(max_switches, "max_switches")
    if method not in FIXED_GRID_METHODS | ADAPTIVE_METHODS | {"scipy_solver"}:
        raise ValueError(
            f"method must be a torchdiffeq method ({', '.join(sorted(FIXED_GRID_METHODS | ADAPTIVE_METHODS))}),"
            f" got {method!r}"
        )
    if events not in ("auto", True, False):
        raise ValueError(f"events must be 'auto', True or False, got {events!r}")
    batch_shape, n_v = v0.shape[:-1], v0.shape[-1]
    flat_v = v0.reshape(-1, n_v)
    if net.adiabatic:
        if h0 is not None:
            raise ValueError("h0 was given but the network is adiabatic (tau_h=None); set tau_h to simulate h")
        y0 = flat_v
    else:
        h0 = net._hidden(v0) if h0 is None else net.check_h(h0, "h0", like=v0)
        if h0.shape[:-1] != batch_shape:
            raise ValueError(f"h0 must have batch shape {tuple(batch_shape)}, got shape {tuple(h0.shape)}")
        y0 = torch.cat([flat_v, h0.reshape(-1, net.n_memories).to(v0.dtype)], dim=-1)

    jumps = net.has_gate and net.memory.has_jump
    adaptive = method not in FIXED_GRID_METHODS
    use_events = jumps and adaptive and events in ("auto", True)
    if jumps and adaptive and events is False:
        warnings.warn(
            f"integrating the hard-gated {type(net.memory).__name__} with the adaptive method {method!r} and "
            "events=False: the solver may step across the switching surface G = 0 without locating it; use "
            "events='auto', a fixed-grid method, or a smooth gate (e.g. RecLag.smooth(kappa))",
            GateCrossingWarning,
            stacklevel=2,
        )
    taus = [net.tau_v] + ([] if net.adiabatic else [net.tau_h])
    event_dt = positive(event_dt, "event_dt") if event_dt is not None else min(taus) / 4
    opts = dict(options or {})
    step_size = opts.pop("step_size", "per_sample") if method == "dopri5" else None
    if step_size not in (None, "per_sample", "shared"):
        raise ValueError(f"options['step_size'] must be 'per_sample' or 'shared' for dopri5, got {step_size!r}")
    if adaptive and method != "scipy_solver":
        opts.setdefault("norm", per_sample_rms_norm)
    solve = dict(method=method, rtol=rtol, atol=atol, options=opts)

    system = _System(net)
    rows = chunk_rows(y0.shape[-1], chunk_size)
    n = y0.shape[0]
    ys = torch.empty((t.shape[0], n, y0.shape[-1]), dtype=y0.dtype, device=y0.device)
    switches = torch.zeros(n, dtype=torch.long, device=y0.device) if use_events else None
    switch_times = []
    sliding = 0
    grad = net.tracks_grad(v0, *(() if h0 is None else (h0,)))
    # dopri5 updates its buffers in place: autograd goes through torchdiffeq's operations
    per_sample = step_size == "per_sample" and not set(options or {}) - {"step_size"}
    # (the event search runs without a graph, so it steps per sample even when grad is tracked)
    solve_events = dict(solve, per_sample=per_sample)
    per_sample = per_sample and not grad
    with torch.set_grad_enabled(grad):
        for sl in chunks(n, rows, progress, "integrate"):
            if use_events:
                ys[:, sl], switches[sl], when, slid = integrate_events(
                    system, y0[sl], t, solve_events, event_dt, max_switches
                )
                switch_times.append((sl, when))
                sliding += slid
            elif per_sample:
                ys[:, sl] = dopri5(lambda y, _rows: system.field(y), y0[sl], t, rtol, atol)
            else:
                ys[:, sl] = odeint(lambda _t, y: system.field(y), y0[sl], t, **solve)
        energy = system.energy(ys)
    blown = ~torch.isfinite(ys.detach()).all(-1)  # (T, B); the starts were checked finite
    if bool(blown.any()):
        first = int(blown.any(1).nonzero()[0])
        warnings.warn(
            f"integrate: {int(blown.any(0).sum())} of {n} trajectories are not finite from t = {float(t[first]):g} "
            "on: the solution blows up" + (f", or {method}'s fixed step is too large for the field"
                                            if method in FIXED_GRID_METHODS else ""),
            RuntimeWarning,
            stacklevel=2,
        )
    if sliding:
        warnings.warn(
            f"{sliding} trajectories slide along the switching surface G = 0 (more than {max_switches} gate "
            "switches in one output interval); they were continued with fixed-step RK4 on the discontinuous "
            "field and are approximate there",
            GateCrossingWarning,
            stacklevel=2,
        )
    n_t = t.shape[0]
    times = None
    if use_events:
        width = max(when.shape[1] for _, when in switch_times)
        times = torch.full((n, width), math.nan, dtype=y0.dtype, device=y0.device)
        for sl, when in switch_times:
            times[sl, : when.shape[1]] = when
        times = times.reshape(*batch_shape, width)
    return Trajectory(
        t=t,
        v=ys[..., :n_v].reshape(n_t, *batch_shape, n_v),
        energy=energy.reshape(n_t, *batch_shape),
        h=None if net.adiabatic else ys[..., n_v:].reshape(n_t, *batch_shape, net.n_memories),
        n_switches=None if switches is None else switches.reshape(batch_shape),
        switch_times=times,
    )
