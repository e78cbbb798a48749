"""The continuous dynamics (eqs 1–2) integrated with torchdiffeq, batched and chunked.

RecLag's activation ``χ(G)·softmax(βh)`` jumps on the switching surface ``G = 0``. An adaptive
solver that steps across a jump sees a huge local error, shrinks its step until the error test
passes by luck, and may land on the wrong side without telling anyone. :func:`integrate`
therefore locates the switching events by default (see its docstring).
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torchdiffeq import odeint

from .._chunks import chunk_rows, chunks
from .._validate import ArrayLike, as_tensor, positive, positive_int
from .network import MHN
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


def _rowdot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise dot product of two ``(B, D)`` tensors (a matrix-vector product: torch's sum over
    a short last dimension is several times slower)."""
    return (a * b) @ torch.ones(a.shape[-1], dtype=a.dtype, device=a.device)


class _System:
    """The state vector ``y`` of a network: ``v`` (adiabatic) or ``[v, h]`` (two-variable)."""

    def __init__(self, net: MHN):
        self.net = net
        self.n_v = net.n_features

    def split(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.net.adiabatic:
            return y, self.net._hidden(y)
        return y[..., : self.n_v], y[..., self.n_v:]

    def activation(self, h: torch.Tensor, mode: torch.Tensor | None) -> torch.Tensor:
        """``f(h)``; with ``mode`` (0/1 per sample) the gate is frozen at that value."""
        if mode is None:
            return self.net.memory.activation(h)
        return self.net.memory.open_activation(h) * mode[..., None]

    def field(self, y: torch.Tensor, mode: torch.Tensor | None = None) -> torch.Tensor:
        """The vector field at states ``y`` of shape ``(B, D)`` (``mode``: ``(B,)`` or None)."""
        net = self.net
        if net.adiabatic:
            f = self.activation(net._hidden(y), mode)
            # (f @ xi − y) / τ_V in one fused call: at small state sizes the solver's cost is
            # per-operation overhead, not arithmetic
            return torch.addmm(y, f, net.xi_like(y), beta=-1.0 / net.tau_v, alpha=1.0 / net.tau_v)
        v, h = self.split(y)
        dv, dh = net._velocity2(v, h, self.activation(h, mode))
        return torch.cat([dv, dh], dim=-1)

    def G(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        return self.net.memory.G(self.split(y)[1])

    def gate_grad(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``G(y)`` and its gradient ``∇_y G`` (autograd of :meth:`G`: the Lagrangian's one formula)."""
        with torch.enable_grad():
            y_req = y.detach().requires_grad_(True)
            g = self.G(y_req)
            (grad,) = torch.autograd.grad(g.sum(), y_req)
        return g.detach(), grad

    def gate_rates(self, y: torch.Tensor, *modes: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(G(y), dG/dt under modes[0], dG/dt under modes[1], …)`` with ``dG/dt = ∇G·field(y, mode)``.

        ``y`` has shape ``(..., D)``; each mode broadcasts to its batch shape ``(...)``.
        """
        flat = y.reshape(-1, y.shape[-1])
        g, grad = self.gate_grad(flat)
        out = [g.reshape(y.shape[:-1])]
        for mode in modes:
            m = mode.expand(y.shape[:-1]).reshape(-1)
            out.append(_rowdot(grad, self.field(flat, m)).reshape(y.shape[:-1]))
        return tuple(out)

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
    """Integrate eqs 1–2 with ``torchdiffeq.odeint`` and return the path at times ``t``.

    Adiabatic network (``tau_h=None``): ``τ_V dv/dt = xiᵀ f(xi g(v)) − v``.
    Two-variable network: ``τ_V dv/dt = xiᵀ f(h) − v``, ``τ_H dh/dt = xi g(v) − h``, starting
    from ``h0`` (default ``xi g(v0)``, on the slow manifold).

    **RecLag's jump.** With ``events="auto"`` (the default) and an adaptive method, a memory
    Lagrangian whose activation jumps (``RecLag``) is integrated with *event location*: each
    sample's gate is frozen (open: ``open_activation(h)`` = ``softmax(βh)``; closed: 0) so the
    solver sees a smooth field. After each stretch the gate value ``G`` and its rate
    ``dG/dt = ∇G·field`` (autograd of the Lagrangian's ``G``) are taken on a sub-grid of spacing
    ``event_dt``. A sub-interval whose end is on the wrong side holds a crossing; so may one whose
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
    side taken does not depend on what else is in the batch (the solver's step sizes are shared
    by the batch, so the paths themselves agree with a lone run to solver tolerance only).

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

    Args:
        net: the network.
        v0: initial feature states, shape ``(..., N_V)``.
        t: increasing output times, shape ``(T,)``, ``T ≥ 2``; ``t[0]`` is the start.
        h0: initial memory states ``(..., N_H)`` for a two-variable network.
        method, rtol, atol, options: passed to ``torchdiffeq.odeint``. The error norm
            defaults to :func:`per_sample_rms_norm` (each trajectory controlled as if alone).
        events: ``"auto"``, ``True`` or ``False`` (see above).
        event_dt: spacing of the sub-grid on which ``G`` and ``dG/dt`` are checked for
            crossings and excursions (default ``τ/4`` with τ the smallest time constant).
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

    jumps = getattr(net.memory, "has_jump", False)
    adaptive = method not in FIXED_GRID_METHODS
    use_events = jumps and adaptive and events in ("auto", True)
    if jumps and adaptive and events is False:
        warnings.warn(
            f"integrating RecLag with the adaptive method {method!r} and events=False: the solver may step "
            "across the switching surface G = 0 without locating it; use events='auto', a fixed-grid method, "
            "or RecLag.smooth(kappa)",
            GateCrossingWarning,
            stacklevel=2,
        )
    taus = [net.tau_v] + ([] if net.adiabatic else [net.tau_h])
    event_dt = positive(event_dt, "event_dt") if event_dt is not None else min(taus) / 4
    opts = dict(options or {})
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
    with torch.no_grad():
        for sl in chunks(n, rows, progress, "integrate"):
            if use_events:
                ys[:, sl], switches[sl], when, slid = _integrate_events(
                    system, y0[sl], t, solve, event_dt, max_switches
                )
                switch_times.append((sl, when))
                sliding += slid
            else:
                ys[:, sl] = odeint(lambda _t, y: system.field(y), y0[sl], t, **solve)
        energy = system.energy(ys)
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


# -- event location ---------------------------------------------------------------------------
def _rescaled(system: _System, duration: torch.Tensor, mode: torch.Tensor):
    """The frozen-gate field in rescaled time ``u ∈ [0, 1]`` (``t = start + u·duration``), so
    samples with different start times and durations share one batched solve."""
    scale = duration[:, None]
    return lambda _u, y: scale * system.field(y, mode)


def _advance(system, y, duration, mode, grid, solve) -> torch.Tensor:
    """States at ``start + grid·duration`` (per sample) under the frozen gate ``mode``."""
    return odeint(_rescaled(system, duration, mode), y, grid, **solve)


def _wrong_side(system: _System, G: torch.Tensor, mode: torch.Tensor) -> torch.Tensor:  # noqa: N803
    """True where the Lagrangian's gate ``χ(G)`` disagrees with the frozen gate (χ(0) = 1)."""
    return system.net.memory.gate(G) != mode


def _hermite(y0, y1, d0, d1, s):
    """Cubic Hermite interpolation on [0, 1] at ``s`` (shape (P,)) with end slopes d0, d1."""
    s = s[:, None]
    s2, s3 = s * s, s * s * s
    return (2 * s3 - 3 * s2 + 1) * y0 + (s3 - 2 * s2 + s) * d0 + (-2 * s3 + 3 * s2) * y1 + (s3 - s2) * d1


def _locate(system, y_lo, y_hi, t_lo, t_hi, mode, solve, newton_steps: int = 3):
    """Crossing time and state in ``(t_lo, t_hi]`` for samples known to cross there.

    ``y_lo`` must be on the frozen gate's side and ``y_hi`` on the other. A Hermite-interpolation
    bisection gives a first estimate; Newton steps on ``G(y(t))`` with states re-integrated from
    ``y_lo`` refine it to solver tolerance (kept inside the bracket, so a dip that is entered
    and left again inside ``[t_lo, t_hi]`` gives its entry). Returns ``(t*, y(t*))``.
    """
    width = t_hi - t_lo
    d_lo = system.field(y_lo, mode) * width[:, None]
    d_hi = system.field(y_hi, mode) * width[:, None]
    lo = torch.zeros_like(width)
    hi = torch.ones_like(width)
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        bad = _wrong_side(system, system.G(_hermite(y_lo, y_hi, d_lo, d_hi, mid)), mode)
        hi = torch.where(bad, mid, hi)
        lo = torch.where(bad, lo, mid)
    t_star = t_lo + hi * width
    unit = torch.tensor([0.0, 1.0], dtype=y_lo.dtype, device=y_lo.device)
    y_star = y_hi
    for _ in range(newton_steps):
        y_star = _advance(system, y_lo, t_star - t_lo, mode, unit, solve)[-1]
        g, rate = system.gate_rates(y_star, mode)
        dt = torch.where(rate != 0, -g / rate, torch.zeros_like(rate))
        new_t = torch.clamp(t_star + dt, min=t_lo, max=t_hi)
        if bool((new_t == t_star).all()):
            break
        # the last correction is applied to the state to first order (its error is O(dt²))
        y_star = y_star + (new_t - t_star)[:, None] * system.field(y_star, mode)
        t_star = new_t
    # return a state just past the surface (G within rounding of 0, on the far side), so that
    # the stretch that follows does not find the same crossing again (e.g. when t* is the end
    # of an output interval and that stretch has zero length)
    eps = torch.finfo(y_lo.dtype).eps
    for _ in range(4):
        g, rate = system.gate_rates(y_star, mode)
        back = ~_wrong_side(system, g, mode)
        if not bool(back.any()):
            return t_star, y_star
        step = 2 * g.abs() / rate.abs() + 4 * eps * torch.clamp(t_star.abs(), min=1.0)
        step = torch.where(back & (rate != 0), step, torch.zeros_like(step))
        new_t = torch.minimum(t_star + step, t_hi)
        y_star = y_star + (new_t - t_star)[:, None] * system.field(y_star, mode)
        t_star = new_t
    back = ~_wrong_side(system, system.G(y_star), mode)
    return torch.where(back, t_hi, t_star), torch.where(back[:, None], y_hi, y_star)


def _g_tolerance(y: torch.Tensor, g: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Rounding scale of ``G(y)``: where ``|G|`` is below it, the sign of G is a rounding accident
    (a sample computed alone and inside a batch can get different last bits)."""
    eps = torch.finfo(y.dtype).eps
    return 64 * eps * (1.0 + g.abs() + _rowdot((y * grad).abs(), torch.ones_like(y)))


def _surface_mode(system: _System, y: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The gate for samples ON the switching surface ``G = 0``, chosen per sample (B,), and
    ``dG/dt`` under it.

    With the one-sided rates ``r_open = ∇G·field(open)`` and ``r_closed = ∇G·field(closed)``:
    closed if both flows go into ``G < 0`` (``r_open < 0`` and ``r_closed < 0``: a crossing into
    B0), open otherwise — a crossing out of B0 (``r_closed > 0``, ``r_open ≥ 0``), the repulsive
    part (``r_open ≥ 0 ≥ r_closed``: both flows leave the surface, and χ(0) = 1 picks the open
    side) and an attracting sliding part (``r_open < 0 ≤ r_closed``, again χ(0) = 1).
    The rule uses nothing but the sample's own state, so the side taken does not depend on
    the rest of the batch.
    """
    ones = torch.ones(y.shape[0], dtype=y.dtype, device=y.device)
    r_open = _rowdot(grad, system.field(y, ones))
    r_closed = _rowdot(grad, system.field(y, torch.zeros_like(ones)))
    closed = (r_open < 0) & (r_closed < 0)
    return torch.where(closed, torch.zeros_like(ones), ones), torch.where(closed, r_closed, r_open)


def _initial_mode(system: _System, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """χ(G(y)) per sample, with samples within rounding of ``G = 0`` given :func:`_surface_mode`.
    Returns ``(mode, G, dG/dt under mode)``."""
    g, grad = system.gate_grad(y)
    mode = system.net.memory.gate(g).to(y.dtype)
    on = g.abs() <= _g_tolerance(y, g, grad)
    if bool(on.any()):
        mode[on] = _surface_mode(system, y[on], grad[on])[0]
    return mode, g, _rowdot(grad, system.field(y, mode))


def _cubic_min(g0, g1, d0, d1):
    """Interior local minimum of the cubic Hermite ``p`` on [0, 1] with values ``g0, g1`` and
    slopes ``d0, d1`` at the ends. Returns ``(s, p(s))``; ``s`` is NaN where there is none."""
    a3 = 2 * g0 + d0 - 2 * g1 + d1  # p(s) = a3 s³ + a2 s² + d0 s + g0
    a2 = -3 * g0 - 2 * d0 + 3 * g1 - d1
    disc = a2 * a2 - 3 * a3 * d0
    root = torch.sqrt(torch.clamp(disc, min=0.0))
    # p'(s) = 3 a3 s² + 2 a2 s + d0 = 0 with p'' = +2·sqrt(disc) > 0; two forms, each free of
    # cancellation on its side of a2 = 0 (a3 = 0 with a2 > 0 is the parabola's vertex)
    s = torch.where(a2 > 0, d0 / (-a2 - root), (root - a2) / (3 * a3))
    s = torch.where((disc > 0) & (s > 0) & (s < 1), s, torch.full_like(s, math.nan))
    return s, ((a3 * s + a2) * s + d0) * s + g0


def _dip_flags(g: torch.Tensor, d0: torch.Tensor, d1: torch.Tensor):
    """Sub-intervals whose Hermite estimate of the signed gate value ``g`` (``(k+1, P)``, > 0 on
    the frozen gate's side; slopes ``d0, d1`` per unit sub-interval) has an interior minimum
    near or beyond the wrong side: below half the lower end value. ``(k, P)`` booleans."""
    g0, g1 = g[:-1], g[1:]
    s, m = _cubic_min(g0, g1, d0, d1)
    low = torch.minimum(g0, g1)
    return ~torch.isnan(s) & (m < low) & (2 * m < low)


def _find_dips(system, y_lo, y_hi, g_lo, g_hi, r_lo, r_hi, width, mode, solve, iters: int = 10):
    """Whether ``G`` reaches the wrong side inside the flagged sub-intervals (C of them).

    ``y_lo, y_hi``: end states (C, D); ``g_*``, ``r_*``: G and dG/dt there; ``width``: the
    sub-interval lengths. The minimum of the signed gate value ``σG`` (σ = +1 open, −1 closed)
    is bracketed between points where it descends and ascends; each iteration probes the
    bracket at the minimum of its cubic Hermite model with a state re-integrated from the
    bracket's left end, and stops at a probe on the wrong side (by more than G's rounding
    scale) or when the model, checked against the probe, puts the whole bracket on the right
    side. Returns ``(dipped (C,), s (C,), y (C, D))``: a fraction ``s`` of the sub-interval and
    the state there with G on the wrong side (where dipped).
    """
    n = y_lo.shape[0]
    sigma = 2 * mode - 1
    a, b = torch.zeros_like(width), torch.ones_like(width)
    ya = y_lo.clone()
    ga, gb = sigma * g_lo, sigma * g_hi
    da, db = sigma * r_lo * width, sigma * r_hi * width  # slopes per unit fraction
    dipped = torch.zeros(n, dtype=torch.bool, device=y_lo.device)
    s_out, y_out = torch.ones_like(width), y_hi.clone()
    active = torch.ones_like(dipped)
    unit = torch.tensor([0.0, 1.0], dtype=y_lo.dtype, device=y_lo.device)
    for _ in range(iters):
        idx = torch.nonzero(active).flatten()
        if idx.numel() == 0:
            break
        a_i, b_i = a[idx], b[idx]
        span = b_i - a_i
        u, _ = _cubic_min(ga[idx], gb[idx], da[idx] * span, db[idx] * span)
        u = torch.nan_to_num(u, nan=0.5).clamp(0.05, 0.95)  # keep shrinking the bracket
        s = a_i + u * span
        ys = _advance(system, ya[idx], (s - a_i) * width[idx], mode[idx], unit, solve)[-1]
        g, grad = system.gate_grad(ys)
        m = mode[idx]
        rs = sigma[idx] * _rowdot(grad, system.field(ys, m)) * width[idx]
        gs = sigma[idx] * g
        h00, h10 = (2 * u - 3) * u * u + 1, ((u - 2) * u + 1) * u
        h01, h11 = (3 - 2 * u) * u * u, (u - 1) * u * u
        pred = h00 * ga[idx] + h10 * da[idx] * span + h01 * gb[idx] + h11 * db[idx] * span
        hit = gs < -_g_tolerance(ys, g, grad)
        dipped[idx[hit]] = True
        s_out[idx[hit]] = s[hit]
        y_out[idx[hit]] = ys[hit]
        # the minimum lies right of the probe where σG still descends there
        right = rs < 0
        a_n = torch.where(right, s, a_i)
        b_n = torch.where(right, b_i, s)
        ga_n = torch.where(right, gs, ga[idx])
        gb_n = torch.where(right, gb[idx], gs)
        da_n = torch.where(right, rs, da[idx])
        db_n = torch.where(right, db[idx], rs)
        span_n = b_n - a_n
        u2, m2 = _cubic_min(ga_n, gb_n, da_n * span_n, db_n * span_n)
        floor = torch.where(torch.isnan(u2), torch.minimum(ga_n, gb_n), m2)
        # the Hermite error scales with the fourth power of the bracket
        err = (pred - gs).abs() * (span_n / span) ** 4
        safe = floor > 4 * err
        a[idx], b[idx], ga[idx], gb[idx], da[idx], db[idx] = a_n, b_n, ga_n, gb_n, da_n, db_n
        ya[idx] = torch.where(right[:, None], ys, ya[idx])
        active[idx[hit | safe]] = False
    return dipped, s_out, y_out


def _integrate_events(system: _System, y0, t, solve, event_dt, max_switches):
    """Event-located integration of one chunk.

    Returns (states (T, B, D), switches (B,), switch times (B, S) NaN-padded, n sliding).
    """
    n = y0.shape[0]
    dtype, device = y0.dtype, y0.device
    out = torch.empty((t.shape[0], n, y0.shape[-1]), dtype=dtype, device=device)
    out[0] = y0
    # mode, and G and dG/dt at the current state y under it (reused as the start of each stretch)
    mode, g_cur, r_cur = _initial_mode(system, y0)
    switches = torch.zeros(n, dtype=torch.long, device=device)
    times = torch.full((n, 0), math.nan, dtype=dtype, device=device)
    y = y0.clone()
    sliding = torch.zeros(n, dtype=torch.bool, device=device)
    for i in range(t.shape[0] - 1):
        t_a, t_b = t[i], t[i + 1]
        k = max(1, math.ceil(float(t_b - t_a) / event_dt))
        grid = torch.linspace(0.0, 1.0, k + 1, dtype=dtype, device=device)
        steps = torch.arange(k, device=device)
        start = torch.full((n,), float(t_a), dtype=dtype, device=device)
        pending = torch.arange(n, device=device)
        rounds = 0
        while pending.numel():
            dur = t_b - start[pending]
            m = mode[pending]
            path = _advance(system, y[pending], dur, m, grid, solve)  # (k+1, P, D)
            G, rate = system.gate_rates(path[1:], m)  # (k, P) each
            g_end, r_end = G[-1], rate[-1]
            G = torch.cat([g_cur[pending][None], G])  # (k+1, P)
            rate = torch.cat([r_cur[pending][None], rate])
            wrong = _wrong_side(system, G[1:], m)  # (k, P)
            j_event = torch.where(wrong.any(0), wrong.to(torch.int8).argmax(0), k)
            # short excursions to the wrong side between two sub-grid points: G is smooth along
            # the frozen-gate flow, so its values and slopes at the sub-grid points bound them
            sigma = 2 * m - 1
            width = (grid[1:] - grid[:-1])[:, None] * dur  # (k, P)
            slope = sigma * rate
            flags = _dip_flags(sigma * G, slope[:-1] * width, slope[1:] * width) & (steps[:, None] < j_event)
            frac_hi = torch.ones_like(dur)
            y_hi = None
            if bool(flags.any()):
                jj, pp = torch.nonzero(flags, as_tuple=True)
                dipped, s_w, y_w = _find_dips(
                    system, path[jj, pp], path[jj + 1, pp], G[jj, pp], G[jj + 1, pp], rate[jj, pp],
                    rate[jj + 1, pp], width[jj, pp], m[pp], solve,
                )
                if bool(dipped.any()):
                    jd = torch.full_like(j_event, k).scatter_reduce(0, pp[dipped], jj[dipped], "amin")
                    first = dipped & (jj == jd[pp])  # the earliest dip of its sample
                    j_event = torch.minimum(j_event, jd)
                    frac_hi[pp[first]] = s_w[first]
                    y_hi = torch.zeros_like(path[0])
                    y_hi[pp[first]] = y_w[first]
                    dip = torch.zeros_like(m, dtype=torch.bool)
                    dip[pp[first]] = True
            crossed = j_event < k
            y[pending[~crossed]] = path[-1, ~crossed]
            g_cur[pending[~crossed]] = g_end[~crossed]
            r_cur[pending[~crossed]] = r_end[~crossed]
            if not bool(crossed.any()):
                break
            rounds += 1
            idx = pending[crossed]
            if rounds > max_switches:
                y[idx] = _rk4_discontinuous(system, y[idx], t_b - start[idx], k)
                mode[idx], g_cur[idx], r_cur[idx] = _initial_mode(system, y[idx])
                sliding[idx] = True
                break
            j = j_event[crossed]
            cols = torch.nonzero(crossed).flatten()
            d = dur[crossed]
            t_lo = start[idx] + grid[j] * d
            y_end = path[j + 1, cols]
            if y_hi is not None:
                y_end = torch.where(dip[cols][:, None], y_hi[cols], y_end)
            t_hi = t_lo + frac_hi[cols] * width[j, cols]
            t_star, y_star = _locate(system, path[j, cols], y_end, t_lo, t_hi, m[cols], solve)
            # on the surface: the side is chosen from the sample's own one-sided rates
            g_star, grad = system.gate_grad(y_star)
            new_mode, r_star = _surface_mode(system, y_star, grad)
            changed = new_mode != m[cols]
            if bool(changed.any()):
                who = idx[changed]
                slot = switches[who]
                need = int(slot.max()) + 1
                if need > times.shape[1]:
                    times = torch.cat(
                        [times, torch.full((n, need - times.shape[1]), math.nan, dtype=dtype, device=device)], 1
                    )
                times[who, slot] = t_star[changed]
                switches[who] += 1
            y[idx] = y_star
            start[idx] = t_star
            mode[idx] = new_mode
            g_cur[idx], r_cur[idx] = g_star, r_star
            pending = idx
        out[i + 1] = y
    return out, switches, times, int(sliding.sum())


def _rk4_discontinuous(system: _System, y, duration, k: int, substeps: int = 64):
    """Fixed-step RK4 with the gate evaluated at every stage (used only for sliding samples)."""
    h = (duration / (k * substeps))[:, None]
    for _ in range(k * substeps):
        k1 = system.field(y)
        k2 = system.field(y + 0.5 * h * k1)
        k3 = system.field(y + 0.5 * h * k2)
        k4 = system.field(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y
