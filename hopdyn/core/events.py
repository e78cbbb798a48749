"""Event location on the switching surface ``G = 0`` of a hard-gated memory Lagrangian.

A :class:`~hopdyn.GatedLagrangian` with ``has_jump = True`` has the activation
``χ(G(h))·open_activation(h)``, which jumps where ``G`` changes sign. :func:`integrate_events`
integrates such a network with the gate frozen per sample (0 or 1), so that the solver sees a
smooth field, finds where ``G`` crosses 0 (including short excursions between sub-grid points),
and switches the gate there. Everything here asks the Lagrangian only: ``G``, ``gate``
(the hard gate χ, values 0 and 1), ``open_activation`` (through the field) and ``G_grad``
(a closed form, or autograd of ``G``) for ``dG/dt``. No formula of a particular Lagrangian (RecLag's β or softmax) appears, so a
user-defined hard-gated Lagrangian is integrated with its own equations.

``system`` is the ODE's state description (:class:`hopdyn.core.ode._System`): ``field(y, mode)``
(the vector field with the gate frozen at ``mode``, or the true field when ``mode`` is None),
``G(y)`` and ``net``.

Gradients: when the caller's solve tracks autograd, the search (sub-grid checks, dip probes,
bisection, Newton) runs without a graph and the located crossing is then made differentiable
by the implicit-function theorem: the crossing time ``t*`` gets the sensitivity
``dt*/dp = −(∂G/∂p)/(dG/dt)`` at the crossing, and the state there ``y(t*) + f⁻·(t* − t*₀)``, so
that the next stretch, started at ``t*`` with the new field ``f⁺``, carries the jump of the
sensitivity ``(f⁻ − f⁺)·dt*/dp`` of a hybrid system. Forward values are unchanged.
"""
from __future__ import annotations

import math

import torch

from .._rows import rowdot
from .dopri import dopri5
from .shared_step import odeint


def gate_rates(system, y: torch.Tensor, *modes: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(G(y), dG/dt under modes[0], dG/dt under modes[1], …)`` with ``dG/dt = ∇G·field(y, mode)``.

    ``y`` has shape ``(..., D)``; each mode broadcasts to its batch shape ``(...)``. Detached.
    """
    flat = y.detach().reshape(-1, y.shape[-1])
    g, grad = system.G_grad(flat)
    out = [g.reshape(y.shape[:-1])]
    with torch.no_grad():
        for mode in modes:
            m = mode.expand(y.shape[:-1]).reshape(-1)
            out.append(rowdot(grad, system.field(flat, m)).reshape(y.shape[:-1]))
    return tuple(out)


def _rescaled(system, duration: torch.Tensor, mode: torch.Tensor):
    """The frozen-gate field in rescaled time ``u ∈ [0, 1]`` (``t = start + u·duration``), so
    samples with different start times and durations share one batched solve."""
    scale = duration[:, None]
    return lambda _u, y: scale * system.field(y, mode)


def _frozen_field(system, mode: torch.Tensor):
    """The field with the gates frozen at ``mode`` in :func:`~hopdyn.core.dopri.dopri5`'s form
    ``field(y, rows)``."""
    uniform = _uniform(mode)
    return lambda x, rows: system.field(x, _rows_mode(mode, uniform, rows))


def _uniform(mode: torch.Tensor) -> float | None:
    """1.0 if every gate in ``mode`` is open, 0.0 if every one is closed, else None."""
    return 1.0 if bool(mode.all()) else 0.0 if not bool(mode.any()) else None


def _rows_mode(mode: torch.Tensor, uniform: float | None, rows: torch.Tensor | None) -> torch.Tensor | float:
    """The frozen gates of the rows ``rows`` (None: all) of ``mode``, as the field takes them:
    the float ``uniform`` when every gate is the same (most runs, most of the time: no per-row
    mask), else a ``(B,)`` tensor."""
    if uniform is not None:
        return uniform
    return mode if rows is None else mode[rows]


def _per_sample(solve) -> bool:
    """Whether solves step each sample on its own (dopri5), which needs no graph to record."""
    return bool(solve.get("per_sample")) and not torch.is_grad_enabled()


def _advance_grid(system, y, times, mode, solve, pieces):
    """States of each sample at its own times ``times`` (``(M+1, P)``, non-decreasing per
    column, ``times[0]`` the start) under the frozen gate ``mode``, by torchdiffeq: one step size
    for the batch, one solve per piece ``(j0, j1)`` of ``pieces`` (index ranges on which every
    column of ``times`` is affine in the index, so that a rescaled time ``u ∈ [0, 1]`` serves all
    samples at once)."""
    options = {k: v for k, v in solve.items() if k != "per_sample"}
    states = [y[None]]
    for j0, j1 in pieces:
        duration = times[j1] - times[j0]
        if not bool((duration > 0).any()):  # every sample is past this piece (or starts after it)
            states.append(y.expand(j1 - j0, -1, -1))
            continue
        grid = torch.linspace(0.0, 1.0, j1 - j0 + 1, dtype=y.dtype, device=y.device)
        path = odeint(_rescaled(system, duration, mode), y, grid, **options)
        states.append(path[1:])
        y = path[-1]
    return torch.cat(states)


def _advance_by(system, y, duration, mode, solve):
    """States after ``duration`` (per sample) under the frozen gate ``mode``."""
    times = torch.stack([torch.zeros_like(duration), duration])
    if _per_sample(solve):
        return dopri5(_frozen_field(system, mode), y, times, solve["rtol"], solve["atol"])[-1]
    return _advance_grid(system, y, times, mode, solve, [(0, 1)])[-1]


def _wrong_side(system, G: torch.Tensor, mode: torch.Tensor) -> torch.Tensor:  # noqa: N803
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
    y_star = y_hi
    for _ in range(newton_steps):
        y_star = _advance_by(system, y_lo, t_star - t_lo, mode, solve)
        g, rate = gate_rates(system, y_star, mode)
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
        g, grad = system.G_grad(y_star)
        back = ~_wrong_side(system, g, mode)
        if not bool(back.any()):
            return t_star, y_star
        f = system.field(y_star, mode)
        rate = rowdot(grad, f)
        # far enough to move G past its rounding scale (G can land on exactly 0, where a step of
        # a few ulps of t leaves the state, and G, unchanged)
        step = (2 * g.abs() + _g_tolerance(y_star, g, grad)) / rate.abs() + 4 * eps * torch.clamp(t_star.abs(), min=1.0)
        step = torch.where(back & (rate != 0), step, torch.zeros_like(step))
        new_t = torch.minimum(t_star + step, t_hi)
        y_star = y_star + (new_t - t_star)[:, None] * f
        t_star = new_t
    back = ~_wrong_side(system, system.G(y_star), mode)
    return torch.where(back, t_hi, t_star), torch.where(back[:, None], y_hi, y_star)


def _g_tolerance(y: torch.Tensor, g: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Rounding scale of ``G(y)``: where ``|G|`` is below it, the sign of G is a rounding accident
    (a sample computed alone and inside a batch can get different last bits)."""
    eps = torch.finfo(y.dtype).eps
    return 64 * eps * (1.0 + g.abs() + rowdot((y * grad).abs(), torch.ones_like(y)))


def _surface_mode(system, y: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
    r_open = rowdot(grad, system.field(y, ones))
    r_closed = rowdot(grad, system.field(y, torch.zeros_like(ones)))
    closed = (r_open < 0) & (r_closed < 0)
    return torch.where(closed, torch.zeros_like(ones), ones), torch.where(closed, r_closed, r_open)


def _initial_mode(system, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """χ(G(y)) per sample, with samples within rounding of ``G = 0`` given :func:`_surface_mode`.
    Returns ``(mode, G, dG/dt under mode)``."""
    g, grad = system.G_grad(y)
    mode = system.net.memory.gate(g).to(y.dtype)
    on = g.abs() <= _g_tolerance(y, g, grad)
    if bool(on.any()):
        mode[on] = _surface_mode(system, y[on], grad[on])[0]
    return mode, g, rowdot(grad, system.field(y, mode))


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


#: The cubic Hermite on [0, 1] is ≥ min(g0, g1) − (4/27)(|d0| + |d1|): twice that bound (with
#: 1 % to spare) reaches below half the lower end only where this times (|d0| + |d1|) exceeds it.
_REACH = 1.01 * 8 / 27


def _dip_flags(g: torch.Tensor, d0: torch.Tensor, d1: torch.Tensor):
    """Sub-intervals whose Hermite estimate of the signed gate value ``g`` (``(k+1, P)``, > 0 on
    the frozen gate's side; slopes ``d0, d1`` per unit sub-interval) has an interior minimum
    near or beyond the wrong side: below half the lower end value. ``(k, P)`` booleans."""
    g0, g1 = g[:-1], g[1:]
    low = torch.minimum(g0, g1)
    # only sub-intervals where the bound of _REACH reaches below low/2 can be flagged (most of a
    # run is far from G = 0)
    reach = (d0.abs() + d1.abs()).mul_(_REACH)
    cand = torch.nonzero(reach > low.clamp(min=0.0), as_tuple=True)
    flags = torch.zeros_like(low, dtype=torch.bool)
    if cand[0].numel():
        s, m = _cubic_min(g0[cand], g1[cand], d0[cand], d1[cand])
        flags[cand] = ~torch.isnan(s) & (m < low[cand]) & (2 * m < low[cand])
    return flags


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
    for _ in range(iters):
        idx = torch.nonzero(active).flatten()
        if idx.numel() == 0:
            break
        a_i, b_i = a[idx], b[idx]
        span = b_i - a_i
        u, _ = _cubic_min(ga[idx], gb[idx], da[idx] * span, db[idx] * span)
        u = torch.nan_to_num(u, nan=0.5).clamp(0.05, 0.95)  # keep shrinking the bracket
        s = a_i + u * span
        ys = _advance_by(system, ya[idx], (s - a_i) * width[idx], mode[idx], solve)
        g, grad = system.G_grad(ys)
        m = mode[idx]
        rs = sigma[idx] * rowdot(grad, system.field(ys, m)) * width[idx]
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


def _sub_grid(t: torch.Tensor, event_dt: float):
    """The check grid: each output interval ``[t_i, t_i+1]`` cut into ``k_i = ⌈(t_i+1 − t_i)/event_dt⌉``
    equal parts. Returns ``(interval, frac, pos, pieces)``: for each grid point ``j ≥ 1``
    (``(M,)``) the output interval it closes a part of and its fraction of that interval, the grid
    index of every output time (``(T,)``), and the grid index ranges of the output intervals."""
    k = [max(1, math.ceil(float(t[i + 1] - t[i]) / event_dt)) for i in range(t.shape[0] - 1)]
    interval = torch.repeat_interleave(torch.arange(len(k), device=t.device), torch.tensor(k, device=t.device))
    frac = torch.cat([torch.arange(1, ki + 1, dtype=t.dtype, device=t.device) / ki for ki in k])
    pos = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(torch.tensor(k), 0)]).to(t.device)
    return interval, frac, pos, list(zip(pos[:-1].tolist(), pos[1:].tolist()))


def _sample_times(t, interval, frac, start):
    """Each sample's check times ``(M+1, P)`` from its start time on: the output interval
    holding ``start`` is cut into its parts afresh from ``start``, later intervals keep the
    grid, and grid points before ``start`` are moved to it (zero-length parts)."""
    lo = torch.minimum(torch.maximum(start[None], t[interval, None]), t[interval + 1, None])  # (M, P)
    times = lo + (t[interval + 1, None] - lo) * frac[:, None]
    return torch.cat([start[None], torch.maximum(times, start[None])])


class _GateWatch:
    """Event checks at every step :func:`~hopdyn.core.dopri.dopri5` accepts (its
    :class:`~hopdyn.core.dopri.Watch`), for samples with frozen gates ``mode``.

    ``G`` and ``dG/dt = ∇G·f`` are taken at each accepted state from the evaluation of the
    field there (the step's last stage, FSAL: ``system.field_gate``), so a check costs no extra
    softmax. A step whose end is on the wrong side holds a crossing; a step whose cubic Hermite
    model of ``G`` dips near or past 0 is searched for a short excursion (:func:`_find_dips`).
    The solver's error control sets the spacing of the checks: the steps that resolve the state
    resolve ``G`` along it."""

    def __init__(self, system, mode: torch.Tensor, solve):
        self.system, self.mode, self.solve = system, mode, solve
        self.uniform = _uniform(mode)
        # every gate open (most rounds): the signed gate value σG is G itself
        self.all_open = self.uniform == 1.0

    def _mode(self, rows):
        return self.mode[:1] if self.uniform is not None else self.mode if rows is None else self.mode[rows]

    def field(self, y, rows):
        f, g, rate = self.system.field_gate(y, _rows_mode(self.mode, self.uniform, rows))
        return f, torch.stack([g, rate], 1)

    def step(self, y, y_new, h, state, state_new, moved, rows):
        g0, r0, g1, r1 = state[:, 0], state[:, 1], state_new[:, 0], state_new[:, 1]
        m = self._mode(rows)
        if not self.all_open:  # the signed gate value σG, > 0 on the frozen gate's side
            sigma = 2 * m - 1
            g0, r0, g1, r1 = sigma * g0, sigma * r0, sigma * g1, sigma * r1
        # a step can hold a crossing (an end at σG < 0) or a dip only where the Hermite bound of
        # :func:`_dip_flags` reaches below half its lower end: one cheap test for all rows, the
        # exact ones for the few near the surface
        cand = (r0.abs() + r1.abs()).mul_(h).mul_(_REACH) >= torch.minimum(g0, g1)
        cand &= moved
        if not bool(cand.any()):
            return None
        c = cand.nonzero().squeeze(1)
        m_c = m.expand_as(h)[c]
        sigma_c = 2 * m_c - 1
        wrong = _wrong_side(self.system, sigma_c * g1[c], m_c)
        flags = _dip_flags(torch.stack([g0[c], g1[c]]), (r0[c] * h[c])[None], (r1[c] * h[c])[None])[0] & ~wrong
        stop = torch.zeros_like(moved)
        stop[c[wrong]] = True
        frac, y_stop = torch.ones_like(h), y_new
        if bool(flags.any()):
            f = c[flags]
            dipped, s_w, y_w = _find_dips(
                self.system, y[f], y_new[f], sigma_c[flags] * g0[f], sigma_c[flags] * g1[f], sigma_c[flags] * r0[f],
                sigma_c[flags] * r1[f], h[f], m_c[flags], self.solve,
            )
            if bool(dipped.any()):
                hit = f[dipped]
                stop[hit] = True
                frac[hit] = s_w[dipped]
                y_stop = y_new.clone()
                y_stop[hit] = y_w[dipped]
        return stop, frac, y_stop


def _round_steps(system, y, t, start, mode, solve):
    """One round of :func:`integrate_events` with per-sample steps: every pending sample solved
    from its start to the last output time, stopped at its first crossing by :class:`_GateWatch`.
    Returns ``(states at t (T, P, D), crossed (P,), t_lo, t_hi, y_lo, y_hi)``, the last four for
    the crossed samples: the bracket of the crossing."""
    times = torch.maximum(t[:, None], start[None])
    path, crossed, t_lo, t_hi, y_lo, y_hi = dopri5(
        _frozen_field(system, mode), y, times, solve["rtol"], solve["atol"], watch=_GateWatch(system, mode, solve)
    )
    return path, crossed, t_lo[crossed], t_hi[crossed], y_lo[crossed], y_hi[crossed]


def _round_grid(system, y, t, start, mode, g_first, r_first, solve, grid):
    """One round of :func:`integrate_events` with torchdiffeq (a shared step, and the graph when
    one is recorded): the pending samples solved over the check grid ``grid`` (from
    :func:`_sub_grid`), then searched on it (:func:`_search`). Returns as :func:`_round_steps`;
    ``t_lo`` and ``y_lo`` carry the graph."""
    interval, frac, pos, pieces = grid
    when = _sample_times(t, interval, frac, start)  # (M+1, P)
    path = _advance_grid(system, y, when, mode, solve, pieces)
    with torch.no_grad():
        j_event, frac_hi, y_dip, dip, width = _search(system, path.detach(), g_first, r_first, when.detach(), mode, solve)
    crossed = j_event < interval.shape[0]
    cols = torch.nonzero(crossed).flatten()
    j = j_event[cols]
    t_lo, y_lo = when[j, cols], path[j, cols]
    with torch.no_grad():
        y_hi = path[j + 1, cols].detach()
        if y_dip is not None:
            y_hi = torch.where(dip[cols][:, None], y_dip[cols], y_hi)
        t_hi = t_lo.detach() + frac_hi[cols] * width[j, cols]
    return path[pos], crossed, t_lo, t_hi, y_lo, y_hi


def integrate_events(system, y0, t, solve, event_dt, max_switches):
    """Event-located integration of one chunk (see :func:`hopdyn.integrate`).

    Each round solves the pending samples with their gates frozen from their start times to
    the last output time and finds each one's first crossing: at every accepted step with
    per-sample steps (:func:`_round_steps`), on the check grid of spacing ``event_dt``
    otherwise (:func:`_round_grid`). It keeps the path up to the crossing; samples that cross
    restart from the located crossing in the next round, the others are done. So a sample that
    never meets the surface is solved once over the whole span.

    Returns (states (T, B, D), switches (B,), switch times (B, S) NaN-padded, n sliding).
    Under ``torch.enable_grad`` with ``y0`` or the network's parameters requiring grad the states
    are differentiable, the located crossings included (see the module docstring); the switch
    times are returned detached.
    """
    track = torch.is_grad_enabled()
    stepwise = _per_sample(solve)
    grid = None if stepwise else _sub_grid(t, event_dt)
    n = y0.shape[0]
    dtype, device = y0.dtype, y0.device
    out = torch.empty((t.shape[0], n, y0.shape[-1]), dtype=dtype, device=device)
    # mode, and G and dG/dt at each sample's start under it
    with torch.no_grad():
        mode, g_cur, r_cur = _initial_mode(system, y0.detach())
    switches = torch.zeros(n, dtype=torch.long, device=device)
    times = torch.full((n, 0), math.nan, dtype=dtype, device=device)
    y = y0.clone()
    start = t[0].expand(n).clone()
    # crossings located in one output interval, and which interval (for max_switches)
    recent = torch.zeros(n, dtype=torch.long, device=device)
    last_interval = torch.full((n,), -1, dtype=torch.long, device=device)
    sliding = torch.zeros(n, dtype=torch.bool, device=device)
    pending = torch.arange(n, device=device)
    while pending.numel():
        s, m = start[pending], mode[pending]
        if stepwise:
            path, crossed, t_lo, t_hi, y_lo, y_hi = _round_steps(system, y[pending], t, s, m, solve)
        else:
            path, crossed, t_lo, t_hi, y_lo, y_hi = _round_grid(
                system, y[pending], t, s, m, g_cur[pending], r_cur[pending], solve, grid
            )
        keep = t[:, None] >= s.detach()[None]  # (T, P): outputs from the start on
        if not bool(crossed.any()):
            out[:, pending] = torch.where(keep[..., None], path, out[:, pending])
            break
        idx = pending[crossed]
        cols = torch.nonzero(crossed).flatten()
        with torch.no_grad():
            t_star, y_star = _locate(system, y_lo.detach(), y_hi, t_lo.detach(), t_hi, m[cols], solve)
            # on the surface: the side is chosen from the sample's own one-sided rates
            g_star, grad = system.G_grad(y_star)
            new_mode, r_star = _surface_mode(system, y_star, grad)
            changed = new_mode != m[cols]
        # a crossed sample's path holds up to its crossing (the outputs on the frozen field
        # beyond it are the next round's)
        keep[:, cols] &= t[:, None] < t_star[None]
        out[:, pending] = torch.where(keep[..., None], path, out[:, pending])
        if track:
            t_star_d, y_star = _differentiable_crossing(system, y_lo, t_lo, t_star, y_star, m[cols], solve)
        else:
            t_star_d = t_star
        if bool(changed.any()):
            who = idx[changed]
            slot = switches[who]
            need = int(slot.max()) + 1
            if need > times.shape[1]:
                times = torch.cat([times, torch.full((n, need - times.shape[1]), math.nan, dtype=dtype, device=device)], 1)
            times[who, slot] = t_star[changed]
            switches[who] += 1
        y[idx] = y_star
        start[idx] = t_star_d
        mode[idx] = new_mode
        g_cur[idx], r_cur[idx] = g_star, r_star
        # more than max_switches crossings in one output interval: sliding (finished with RK4 on
        # the discontinuous field to the interval's end, then on as usual)
        iv = (torch.searchsorted(t, t_star) - 1).clamp_(0, t.shape[0] - 2)
        recent[idx] = torch.where(iv == last_interval[idx], recent[idx] + 1, 1)
        last_interval[idx] = iv
        slide = recent[idx] > max_switches
        if bool(slide.any()):
            who, end = idx[slide], t[iv[slide] + 1]
            k = math.ceil(float((end - start[who]).max()) / event_dt)
            y[who] = _rk4_discontinuous(system, y[who], end - start[who], max(k, 1))
            start[who] = end
            with torch.no_grad():
                mode[who], g_cur[who], r_cur[who] = _initial_mode(system, y[who].detach())
            sliding[who] = True
            recent[who] = 0
        pending = idx
    return out, switches, times, int(sliding.sum())


def _search(system, path, g_first, r_first, when, m, solve):
    """The first crossing (or dip to the wrong side) of each pending sample on its check grid.

    ``path``: states at the check times ``when`` (``(M+1, P, D)`` and ``(M+1, P)``) under the
    frozen gates ``m``; ``g_first``, ``r_first``: G and dG/dt at the start. Returns
    ``(j_event (P,), frac_hi (P,), y_hi, dip, width)``: the first sub-interval holding a
    crossing (``M`` where none), the fraction of it that brackets the crossing, the dip states
    (``y_hi``, ``dip``: None where no dip was found) and the sub-interval lengths ``(M, P)``."""
    n_grid = path.shape[0] - 1
    G, rate = gate_rates(system, path[1:], m)  # (M, P) each
    G = torch.cat([g_first[None], G])  # (M+1, P)
    rate = torch.cat([r_first[None], rate])
    width = when[1:] - when[:-1]  # (M, P)
    # points moved onto the start (before it on the grid) are the start state: not a crossing
    wrong = _wrong_side(system, G[1:], m) & (when[1:] > when[0])
    j_event = torch.where(wrong.any(0), wrong.to(torch.int8).argmax(0), n_grid)
    # short excursions to the wrong side between two sub-grid points: G is smooth along
    # the frozen-gate flow, so its values and slopes at the sub-grid points bound them
    sigma = 2 * m - 1
    slope_g = sigma * rate
    steps = torch.arange(n_grid, device=path.device)
    flags = _dip_flags(sigma * G, slope_g[:-1] * width, slope_g[1:] * width) & (steps[:, None] < j_event) & (width > 0)
    frac_hi = torch.ones_like(g_first)
    y_hi, dip = None, None
    if bool(flags.any()):
        jj, pp = torch.nonzero(flags, as_tuple=True)
        dipped, s_w, y_w = _find_dips(
            system, path[jj, pp], path[jj + 1, pp], G[jj, pp], G[jj + 1, pp], rate[jj, pp],
            rate[jj + 1, pp], width[jj, pp], m[pp], solve,
        )
        if bool(dipped.any()):
            jd = torch.full_like(j_event, n_grid).scatter_reduce(0, pp[dipped], jj[dipped], "amin")
            first = dipped & (jj == jd[pp])  # the earliest dip of its sample
            j_event = torch.minimum(j_event, jd)
            frac_hi[pp[first]] = s_w[first]
            y_hi = torch.zeros_like(path[0])
            y_hi[pp[first]] = y_w[first]
            dip = torch.zeros_like(m, dtype=torch.bool)
            dip[pp[first]] = True
    return j_event, frac_hi, y_hi, dip, width


def _differentiable_crossing(system, y_lo, t_lo, t_star, y_star, mode, solve):
    """The located crossing ``(t*, y(t*))`` as a differentiable function of the parameters.

    ``y_lo`` at ``t_lo`` (both carrying the graph) is the last sub-grid state before the crossing;
    ``t_star``, ``y_star`` the located values (no graph). The state at ``t*`` is re-integrated
    from ``y_lo`` with the graph, and the implicit-function theorem on ``G(y(t*)) = 0`` gives
    ``dt*/dp = −(∂G(y(t*))/∂p)/(dG/dt)``; the returned state moves with ``t*`` along the old
    field ``f⁻``. Values equal the located ones exactly (only gradients are added)."""
    y_s = _advance_by(system, y_lo, t_star - t_lo, mode, solve)
    g = system.G(y_s)
    with torch.no_grad():
        _, rate = gate_rates(system, y_s, mode)
        f_minus = system.field(y_s.detach(), mode)
    safe = torch.where(rate != 0, rate, torch.ones_like(rate))
    shift = torch.where(rate != 0, -(g - g.detach()) / safe, torch.zeros_like(g))  # value 0, gradient dt*/dp
    t_d = t_star + shift
    y_d = y_star + (y_s - y_s.detach()) + shift[:, None] * f_minus
    return t_d, y_d


def _rk4_discontinuous(system, y, duration, k: int, substeps: int = 64):
    """Fixed-step RK4 with the gate evaluated at every stage (used only for sliding samples)."""
    h = (duration / (k * substeps))[:, None]
    for _ in range(k * substeps):
        k1 = system.field(y)
        k2 = system.field(y + 0.5 * h * k1)
        k3 = system.field(y + 0.5 * h * k2)
        k4 = system.field(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y
