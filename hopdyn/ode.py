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

from ._chunks import chunk_rows, chunks
from ._validate import ArrayLike, as_tensor, positive, positive_int
from .lagrangians import softmax
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
        return softmax(self.net.memory.beta * h) * mode[..., None]

    def field(self, y: torch.Tensor, mode: torch.Tensor | None = None) -> torch.Tensor:
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
    sample's gate is frozen (open: ``softmax(βh)``; closed: 0) so the solver sees a smooth field;
    after each stretch the gate value ``G`` is checked on a sub-grid of spacing ``event_dt``;
    where it changed sign the crossing time is bracketed, estimated by cubic Hermite
    interpolation, refined by Newton steps on re-integrated states, the gate is flipped and the
    sample goes on from the crossing. Events are thus located to solver tolerance, batched
    over samples. A sample that switches more than ``max_switches`` times within one output
    interval is sliding along ``G = 0`` (a Filippov sliding mode, possible only for γ ≤ N_H);
    it is finished with fixed-step RK4 on the discontinuous field and a
    :class:`GateCrossingWarning` says so. Fixed-grid methods (``"euler"``, ``"rk4"``, …)
    evaluate the discontinuous field on their grid (first-order error at a crossing) and need
    no event location. ``events=False`` with an adaptive method on RecLag warns.
    Alternatively use ``RecLag.smooth(kappa)``, whose gate ``sigmoid(κG)`` is smooth.

    Args:
        net: the network.
        v0: initial feature states, shape ``(..., N_V)``.
        t: increasing output times, shape ``(T,)``, ``T ≥ 2``; ``t[0]`` is the start.
        h0: initial memory states ``(..., N_H)`` for a two-variable network.
        method, rtol, atol, options: passed to ``torchdiffeq.odeint``. The error norm
            defaults to :func:`per_sample_rms_norm` (each trajectory controlled as if alone).
        events: ``"auto"``, ``True`` or ``False`` (see above).
        event_dt: spacing of the sub-grid on which sign changes of ``G`` are looked for
            (default ``τ/4`` with τ the smallest time constant).
        max_switches: switches per output interval beyond which a sample counts as sliding.
        chunk_size: samples per chunk (bounded memory for very large batches).
        progress: tqdm bar over chunks (default: when there is more than one chunk).

    Returns:
        A :class:`Trajectory` with ``v`` of shape ``(T, ..., N_V)``, the energy along the path
        (two-body energy, eq 4, when ``h`` is simulated), ``h`` for two-variable networks and,
        with events, ``n_switches`` per sample.
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
    sliding = 0
    with torch.no_grad():
        for sl in chunks(n, rows, progress, "integrate"):
            if use_events:
                ys[:, sl], switches[sl], slid = _integrate_events(
                    system, y0[sl], t, solve, event_dt, max_switches
                )
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
    return Trajectory(
        t=t,
        v=ys[..., :n_v].reshape(n_t, *batch_shape, n_v),
        energy=energy.reshape(n_t, *batch_shape),
        h=None if net.adiabatic else ys[..., n_v:].reshape(n_t, *batch_shape, net.n_memories),
        n_switches=None if switches is None else switches.reshape(batch_shape),
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


def _wrong_side(G: torch.Tensor, mode: torch.Tensor) -> torch.Tensor:  # noqa: N803
    """True where the gate value disagrees with the frozen gate (χ(0) = 1: G = 0 is open)."""
    return torch.where(mode > 0, G < 0, G >= 0)


def _hermite(y0, y1, d0, d1, s):
    """Cubic Hermite interpolation on [0, 1] at ``s`` (shape (P,)) with end slopes d0, d1."""
    s = s[:, None]
    s2, s3 = s * s, s * s * s
    return (2 * s3 - 3 * s2 + 1) * y0 + (s3 - 2 * s2 + s) * d0 + (-2 * s3 + 3 * s2) * y1 + (s3 - s2) * d1


def _locate(system, y_lo, y_hi, t_lo, t_hi, mode, solve, newton_steps: int = 3):
    """Crossing time and state in ``(t_lo, t_hi]`` for samples known to cross there.

    A Hermite-interpolation bisection gives a first estimate; Newton steps on ``G(y(t))`` with
    states re-integrated from ``y_lo`` refine it to solver tolerance. Returns ``(t*, y(t*))``.
    """
    width = t_hi - t_lo
    d_lo = system.field(y_lo, mode) * width[:, None]
    d_hi = system.field(y_hi, mode) * width[:, None]
    lo = torch.zeros_like(width)
    hi = torch.ones_like(width)
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        bad = _wrong_side(system.G(_hermite(y_lo, y_hi, d_lo, d_hi, mid)), mode)
        hi = torch.where(bad, mid, hi)
        lo = torch.where(bad, lo, mid)
    t_star = t_lo + hi * width
    unit = torch.tensor([0.0, 1.0], dtype=y_lo.dtype, device=y_lo.device)
    y_star = y_hi
    for _ in range(newton_steps):
        y_star = _advance(system, y_lo, t_star - t_lo, mode, unit, solve)[-1]
        with torch.enable_grad():
            y_req = y_star.detach().requires_grad_(True)
            g = system.G(y_req)
            (grad,) = torch.autograd.grad(g.sum(), y_req)
        rate = (grad * system.field(y_star, mode)).sum(-1)
        dt = torch.where(rate != 0, -g.detach() / rate, torch.zeros_like(rate))
        new_t = torch.clamp(t_star + dt, min=t_lo, max=t_hi)
        if bool((new_t == t_star).all()):
            break
        # the last correction is applied to the state to first order (its error is O(dt²))
        y_star = y_star + (new_t - t_star)[:, None] * system.field(y_star, mode)
        t_star = new_t
    return t_star, y_star


def _integrate_events(system: _System, y0, t, solve, event_dt, max_switches):
    """Event-located integration of one chunk; returns (states (T, B, D), switches (B,), n sliding)."""
    n = y0.shape[0]
    dtype, device = y0.dtype, y0.device
    out = torch.empty((t.shape[0], n, y0.shape[-1]), dtype=dtype, device=device)
    out[0] = y0
    mode = (system.G(y0) >= 0).to(dtype)
    switches = torch.zeros(n, dtype=torch.long, device=device)
    y = y0.clone()
    sliding = torch.zeros(n, dtype=torch.bool, device=device)
    for i in range(t.shape[0] - 1):
        t_a, t_b = t[i], t[i + 1]
        k = max(1, math.ceil(float(t_b - t_a) / event_dt))
        grid = torch.linspace(0.0, 1.0, k + 1, dtype=dtype, device=device)
        start = torch.full((n,), float(t_a), dtype=dtype, device=device)
        pending = torch.arange(n, device=device)
        rounds = 0
        while pending.numel():
            dur = t_b - start[pending]
            path = _advance(system, y[pending], dur, mode[pending], grid, solve)  # (k+1, P, D)
            wrong = _wrong_side(system.G(path[1:]), mode[pending][None])  # (k, P)
            crossed = wrong.any(0)
            y[pending[~crossed]] = path[-1, ~crossed]
            if not bool(crossed.any()):
                break
            rounds += 1
            idx = pending[crossed]
            if rounds > max_switches:
                y[idx] = _rk4_discontinuous(system, y[idx], t_b - start[idx], k)
                mode[idx] = (system.G(y[idx]) >= 0).to(dtype)
                sliding[idx] = True
                break
            j = wrong[:, crossed].to(torch.int8).argmax(0)  # first sub-interval that ends on the wrong side
            cols = torch.arange(idx.numel(), device=device)
            sub = path[:, crossed]
            d = dur[crossed]
            t_lo = start[idx] + grid[j] * d
            t_hi = start[idx] + grid[j + 1] * d
            t_star, y_star = _locate(system, sub[j, cols], sub[j + 1, cols], t_lo, t_hi, mode[idx], solve)
            y[idx] = y_star
            start[idx] = t_star
            mode[idx] = 1.0 - mode[idx]
            switches[idx] += 1
            pending = idx
        out[i + 1] = y
    return out, switches, int(sliding.sum())


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
