"""Event location on the switching surface ``G = 0`` of a hard-gated memory Lagrangian.

A :class:`~hopdyn.GatedLagrangian` with ``has_jump = True`` has the activation
``χ(G(h))·open_activation(h)``, which jumps where ``G`` changes sign. :func:`integrate_events`
integrates such a network with the gate frozen per sample (0 or 1), so that the solver sees a
smooth field, finds where ``G`` crosses 0 (including short excursions between sub-grid points),
and switches the gate there. Everything here asks the Lagrangian only: ``G``, ``gate``
(the hard gate χ, values 0 and 1), ``open_activation`` (through the field) and autograd of ``G``
for ``dG/dt``. No formula of a particular Lagrangian (RecLag's β or softmax) appears, so a
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

from .dopri import dopri5


def _odeint(*args, **kwargs):
    # torchdiffeq imports scipy.integrate (~0.4 s): load it when a solve is first asked for
    from torchdiffeq import odeint

    return odeint(*args, **kwargs)


def _rowdot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise dot product of two ``(B, D)`` tensors (a matrix-vector product: torch's sum over
    a short last dimension is several times slower)."""
    return (a * b) @ torch.ones(a.shape[-1], dtype=a.dtype, device=a.device)


def gate_grad(system, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``G(y)`` and its gradient ``∇_y G`` (autograd of the Lagrangian's one formula for ``G``),
    both detached."""
    with torch.enable_grad():
        y_req = y.detach().requires_grad_(True)
        g = system.G(y_req)
        (grad,) = torch.autograd.grad(g.sum(), y_req)
    return g.detach(), grad


def gate_rates(system, y: torch.Tensor, *modes: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``(G(y), dG/dt under modes[0], dG/dt under modes[1], …)`` with ``dG/dt = ∇G·field(y, mode)``.

    ``y`` has shape ``(..., D)``; each mode broadcasts to its batch shape ``(...)``. Detached.
    """
    flat = y.detach().reshape(-1, y.shape[-1])
    g, grad = gate_grad(system, flat)
    out = [g.reshape(y.shape[:-1])]
    with torch.no_grad():
        for mode in modes:
            m = mode.expand(y.shape[:-1]).reshape(-1)
            out.append(_rowdot(grad, system.field(flat, m)).reshape(y.shape[:-1]))
    return tuple(out)


def _rescaled(system, duration: torch.Tensor, mode: torch.Tensor):
    """The frozen-gate field in rescaled time ``u ∈ [0, 1]`` (``t = start + u·duration``), so
    samples with different start times and durations share one batched solve."""
    scale = duration[:, None]
    return lambda _u, y: scale * system.field(y, mode)


def _advance(system, y, duration, mode, grid, solve, step=None):
    """States at ``start + grid·duration`` (per sample) under the frozen gate ``mode``.

    With ``solve["per_sample"]`` and no graph to record, each sample gets its own step sizes
    (:func:`hopdyn.core.dopri.dopri5`); otherwise torchdiffeq with a step shared by the batch.
    With ``step`` (per-sample step sizes in time units, 0 where unknown) returns ``(states,
    step)``, the step each sample would take next, so that the next stretch starts with it
    instead of selecting a first step again (0 from torchdiffeq)."""
    if solve.get("per_sample") and not torch.is_grad_enabled():
        def field(x, rows):
            if rows is None:
                return duration[:, None] * system.field(x, mode)
            return duration[rows, None] * system.field(x, mode[rows])

        if step is None:
            return dopri5(field, y, grid, solve["rtol"], solve["atol"])
        path, unit_step = dopri5(field, y, grid, solve["rtol"], solve["atol"], first_step=step / duration,
                                 return_step=True)
        return path, unit_step * duration
    path = _odeint(_rescaled(system, duration, mode), y, grid, **{k: v for k, v in solve.items() if k != "per_sample"})
    return path if step is None else (path, torch.zeros_like(step))


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
    unit = torch.tensor([0.0, 1.0], dtype=y_lo.dtype, device=y_lo.device)
    y_star = y_hi
    for _ in range(newton_steps):
        y_star = _advance(system, y_lo, t_star - t_lo, mode, unit, solve)[-1]
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
        g, grad = gate_grad(system, y_star)
        back = ~_wrong_side(system, g, mode)
        if not bool(back.any()):
            return t_star, y_star
        f = system.field(y_star, mode)
        rate = _rowdot(grad, f)
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
    return 64 * eps * (1.0 + g.abs() + _rowdot((y * grad).abs(), torch.ones_like(y)))


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
    r_open = _rowdot(grad, system.field(y, ones))
    r_closed = _rowdot(grad, system.field(y, torch.zeros_like(ones)))
    closed = (r_open < 0) & (r_closed < 0)
    return torch.where(closed, torch.zeros_like(ones), ones), torch.where(closed, r_closed, r_open)


def _initial_mode(system, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """χ(G(y)) per sample, with samples within rounding of ``G = 0`` given :func:`_surface_mode`.
    Returns ``(mode, G, dG/dt under mode)``."""
    g, grad = gate_grad(system, y)
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
        g, grad = gate_grad(system, ys)
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


def integrate_events(system, y0, t, solve, event_dt, max_switches):
    """Event-located integration of one chunk (see :func:`hopdyn.integrate`).

    Returns (states (T, B, D), switches (B,), switch times (B, S) NaN-padded, n sliding).
    Under ``torch.enable_grad`` with ``y0`` or the network's parameters requiring grad the states
    are differentiable, the located crossings included (see the module docstring); the switch
    times are returned detached.
    """
    track = torch.is_grad_enabled()
    n = y0.shape[0]
    dtype, device = y0.dtype, y0.device
    out = torch.empty((t.shape[0], n, y0.shape[-1]), dtype=dtype, device=device)
    out[0] = y0
    # mode, and G and dG/dt at the current state y under it (reused as the start of each stretch)
    with torch.no_grad():
        mode, g_cur, r_cur = _initial_mode(system, y0.detach())
    switches = torch.zeros(n, dtype=torch.long, device=device)
    times = torch.full((n, 0), math.nan, dtype=dtype, device=device)
    y = y0.clone()
    sliding = torch.zeros(n, dtype=torch.bool, device=device)
    step = torch.zeros(n, dtype=dtype, device=device)  # each sample's next step size, carried on
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
            path, step[pending] = _advance(system, y[pending], dur, m, grid, solve, step[pending])  # (k+1, P, D)
            with torch.no_grad():
                found = _search(system, path.detach(), g_cur[pending], r_cur[pending], dur.detach(), m, grid, steps,
                                k, solve)
            j_event, frac_hi, y_hi, dip, g_end, r_end, width = found
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
                with torch.no_grad():
                    mode[idx], g_cur[idx], r_cur[idx] = _initial_mode(system, y[idx].detach())
                sliding[idx] = True
                break
            j = j_event[crossed]
            cols = torch.nonzero(crossed).flatten()
            d = dur[crossed]
            t_lo = start[idx] + grid[j] * d
            with torch.no_grad():
                y_end = path[j + 1, cols].detach()
                if y_hi is not None:
                    y_end = torch.where(dip[cols][:, None], y_hi[cols], y_end)
                t_hi = t_lo.detach() + frac_hi[cols] * width[j, cols]
                t_star, y_star = _locate(system, path[j, cols].detach(), y_end, t_lo.detach(), t_hi, m[cols], solve)
                # on the surface: the side is chosen from the sample's own one-sided rates
                g_star, grad = gate_grad(system, y_star)
                new_mode, r_star = _surface_mode(system, y_star, grad)
                changed = new_mode != m[cols]
            if track:
                t_star_d, y_star = _differentiable_crossing(
                    system, path[j, cols], t_lo, t_star, y_star, m[cols], solve
                )
            else:
                t_star_d = t_star
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
            start[idx] = t_star_d
            mode[idx] = new_mode
            g_cur[idx], r_cur[idx] = g_star, r_star
            pending = idx
        out[i + 1] = y
    return out, switches, times, int(sliding.sum())


def _search(system, path, g_first, r_first, dur, m, grid, steps, k, solve):
    """The first crossing (or dip to the wrong side) of each pending sample on one stretch.

    ``path``: states on the sub-grid ``(k+1, P, D)`` under the frozen gates ``m``; ``g_first``,
    ``r_first``: G and dG/dt at its start. Returns ``(j_event (P,), frac_hi (P,), y_hi, dip,
    g_end, r_end, width)``: the first sub-interval holding a crossing (``k`` where none), the
    fraction of it that brackets the crossing, the dip states (``y_hi``, ``dip``: None where no
    dip was found), G and dG/dt at the end of the stretch and the sub-interval lengths."""
    G, rate = gate_rates(system, path[1:], m)  # (k, P) each
    g_end, r_end = G[-1], rate[-1]
    G = torch.cat([g_first[None], G])  # (k+1, P)
    rate = torch.cat([r_first[None], rate])
    wrong = _wrong_side(system, G[1:], m)  # (k, P)
    j_event = torch.where(wrong.any(0), wrong.to(torch.int8).argmax(0), k)
    # short excursions to the wrong side between two sub-grid points: G is smooth along
    # the frozen-gate flow, so its values and slopes at the sub-grid points bound them
    sigma = 2 * m - 1
    width = (grid[1:] - grid[:-1])[:, None] * dur  # (k, P)
    slope = sigma * rate
    flags = _dip_flags(sigma * G, slope[:-1] * width, slope[1:] * width) & (steps[:, None] < j_event)
    frac_hi = torch.ones_like(dur)
    y_hi, dip = None, None
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
    return j_event, frac_hi, y_hi, dip, g_end, r_end, width


def _differentiable_crossing(system, y_lo, t_lo, t_star, y_star, mode, solve):
    """The located crossing ``(t*, y(t*))`` as a differentiable function of the parameters.

    ``y_lo`` at ``t_lo`` (both carrying the graph) is the last sub-grid state before the crossing;
    ``t_star``, ``y_star`` the located values (no graph). The state at ``t*`` is re-integrated
    from ``y_lo`` with the graph, and the implicit-function theorem on ``G(y(t*)) = 0`` gives
    ``dt*/dp = −(∂G(y(t*))/∂p)/(dG/dt)``; the returned state moves with ``t*`` along the old
    field ``f⁻``. Values equal the located ones exactly (only gradients are added)."""
    unit = torch.tensor([0.0, 1.0], dtype=y_star.dtype, device=y_star.device)
    y_s = _advance(system, y_lo, t_star - t_lo, mode, unit, solve)[-1]
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
