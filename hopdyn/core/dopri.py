"""Batched Dormand–Prince 5(4) with a step size and an error test of its own for every sample.

torchdiffeq steps a batch with one shared step size, so the hardest sample sets the step for
all and a trajectory's path depends on its neighbours. Here each row has its own time ``t``,
step ``h`` and acceptance: a rejected row retries with a smaller step while accepted rows
advance, exactly as ``scipy.integrate.solve_ivp(method="RK45")`` would step that row alone
(the same tableau, error norm, I controller with safety 0.9 and factor limits 0.2 and 10,
and the initial step of Hairer, Nørsett & Wanner, Sec. II.4). A row's path therefore does not
depend on what else is in the batch. Outputs are read off the 4th-order continuous extension
of DOPRI5 (Dormand & Prince 1986; scipy's ``RK45`` dense output), so output times do not
shorten the steps. Rows that reached the end sit idle (step 0) until a sizeable fraction of
the batch has finished, then the batch is compacted.

The field must be autonomous and act row by row (row ``i`` of ``field(y, rows)`` depends on
row ``i`` of ``y`` only), which is what makes per-row steps and compaction valid; ``rows`` is
None while the batch is whole and, once it is compacted, the original index of each row (for
fields with per-sample parameters). The loop updates its
buffers in place: it is not meant to be differentiated (``integrate`` uses torchdiffeq when
autograd must record the solve).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

# Dormand & Prince (1980) tableau, as in scipy's RK45
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
)
_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)
# b − b̂: the difference of the 5th- and the embedded 4th-order solution, per stage (7 with FSAL)
_E = (-71 / 57600, 0.0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40)
# dense output: y(t + θh) = y + h Σ_s k_s Σ_j P[s][j] θ^(j+1)  (scipy's RK45.P)
_P = (
    (1, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432),
    (0, 0, 0, 0),
    (0, 131558114200 / 32700410799, -68118460800 / 10900136933, 87487479700 / 32700410799),
    (0, -1754552775 / 470086768, 14199869525 / 1410260304, -10690763975 / 1880347072),
    (0, 127303824393 / 49829197408, -318862633887 / 49829197408, 701980252875 / 199316789632),
    (0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844),
    (0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423),
)
SAFETY, MIN_FACTOR, MAX_FACTOR = 0.9, 0.2, 10.0
_EXPONENT = -1 / 5  # −1/(q+1) with q = 4 the order of the embedded error estimate
#: Compact the stepped batch once this fraction (1/_COMPACT) of it has finished.
_COMPACT = 4


class _Tableau:
    """The coefficients as tensors of the solve's dtype and device (one small copy per solve)."""

    def __init__(self, like: torch.Tensor):
        def vec(x):
            return torch.tensor(x, dtype=like.dtype, device=like.device)

        self.a = [vec(row) for row in _A]
        self.b = vec(_B)
        self.e = vec(_E)
        self.p = vec(_P)  # (7, 4)


def _rms(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    # row means as a matrix-vector product: torch's reduction over a short last dim is slower
    return ((x * x) @ mean).sqrt()


def _initial_step(field, y0, f0, span, rtol, atol, mean) -> torch.Tensor:
    """Per-row first step (Hairer, Nørsett & Wanner I, Sec. II.4; scipy's ``select_initial_step``
    for an order-4 error estimate)."""
    scale = atol + y0.abs() * rtol
    d0, d1 = _rms(y0 / scale, mean), _rms(f0 / scale, mean)
    h0 = torch.where((d0 < 1e-5) | (d1 < 1e-5), torch.full_like(d0, 1e-6), 0.01 * d0 / d1)
    h0 = torch.minimum(h0, span)
    f1 = field(torch.addcmul(y0, h0[:, None], f0), None)
    d2 = _rms((f1 - f0) / scale, mean) / h0
    dmax = torch.maximum(d1, d2)
    h1 = torch.where(
        dmax <= 1e-15, torch.clamp(h0 * 1e-3, min=1e-6), (0.01 / dmax) ** (1 / 5)
    )
    return torch.minimum(torch.minimum(100 * h0, h1), span)


class Watch(Protocol):
    """Checks every accepted step of :func:`dopri5` and may stop a row inside it (event location).

    ``field(y, rows)`` replaces the field at a row's start and at the last stage of every step
    (the state after the step, FSAL), returning ``(field, state (a, m))``: a per-row state
    computed alongside, at no extra evaluation. ``step(y, y_new, h, state, state_new, moved,
    rows)`` is then called with the rows' old and new states, the step sizes, the watch's states
    at both ends and the rows that moved (accepted, ``h > 0``). It returns ``(stop (a,), frac
    (a,), y_stop (a, D))``: rows to stop at ``t + frac·h`` with state ``y_stop`` (only ``moved``
    rows may stop), or None when no row stops."""

    def field(self, y: torch.Tensor, rows: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]: ...

    def step(
        self, y: torch.Tensor, y_new: torch.Tensor, h: torch.Tensor, state: torch.Tensor,
        state_new: torch.Tensor, moved: torch.Tensor, rows: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None: ...


def dopri5(
    field: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    y0: torch.Tensor,
    t: torch.Tensor,
    rtol: float,
    atol: float,
    max_steps: int = 100_000,
    watch: Watch | None = None,
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """Solve ``dy/dt = field(y, rows)`` for every row of ``y0`` (``(B, D)``) and return the states at
    the times ``t`` as a ``(T, B, D)`` tensor.

    ``t`` is ``(T,)``, increasing, shared by all rows, or ``(T, B)``: non-decreasing times of
    each row's own (column ``b`` for row ``b``), ``t[0, b]`` its start. A row's output times
    equal to its start get ``y0`` (so a row that starts later pads its grid with its start
    time; event location restarts rows at their own crossing times this way).

    Each row is controlled as ``solve_ivp(method="RK45", rtol=rtol, atol=atol)`` controls a lone
    trajectory: error norm ``RMS(err / (atol + rtol·max(|y|, |y_new|))) < 1``. ``max_steps``
    bounds the attempted steps of any row; exceeding it, or a step size shrinking below the
    spacing of floats at ``t``, raises a ``RuntimeError``.

    With a ``watch`` (:class:`Watch`) the result is ``(states, stopped, t_lo, t_hi, y_lo,
    y_hi)``: rows the watch stopped (``(B,)``) end there, with their stopping step's start
    ``t_lo``, ``y_lo`` and stop ``t_hi``, ``y_hi``. Their outputs are written up to the end of
    that step (later ones are left unset); those after ``t_hi`` are not on the path.
    """
    n, d = y0.shape
    dtype, device = y0.dtype, y0.device
    times = t[:, None].expand(-1, n) if t.dim() == 1 else t
    n_t = times.shape[0]
    tab = _Tableau(y0)
    mean = torch.full((d,), 1.0 / d, dtype=dtype, device=device)
    out = torch.empty((n_t, n, d), dtype=dtype, device=device)
    if watch is not None:
        stopped = torch.zeros(n, dtype=torch.bool, device=device)
        t_lo, t_hi = torch.full((n,), torch.nan, dtype=dtype, device=device), torch.full((n,), torch.nan, dtype=dtype, device=device)
        y_lo, y_hi = torch.zeros_like(y0), torch.zeros_like(y0)

    def result():
        return out if watch is None else (out, stopped, t_lo, t_hi, y_lo, y_hi)

    if n == 0:
        return result()
    # each row's times, +inf last ("no output left"), rows contiguous for searchsorted
    t_row = torch.cat([times.T, times.new_full((n, 1), float("inf"))], 1).contiguous()
    eps, tiny = torch.finfo(dtype).eps, torch.finfo(dtype).tiny

    y = y0.clone()
    k = torch.empty((7, n, d), dtype=dtype, device=device)
    if watch is None:
        k[0] = field(y, None)
    else:
        k[0], state = watch.field(y, None)
    tt = times[0].clone()
    # outputs at a row's start time are its initial state
    at_start = times <= tt
    out[at_start] = y0.expand(n_t, -1, -1)[at_start]
    nxt = at_start.sum(0)  # index of each row's next output time
    idx = torch.arange(n, device=device)  # the output row of each stepped row
    rows = None  # original index of each stepped row, once the batch has been compacted
    if not bool((nxt < n_t).all()):
        keep = (nxt < n_t).nonzero().squeeze(1)
        if keep.numel() == 0:
            return result()
        idx = rows = keep
        y, tt, nxt, k, t_row = y[keep], tt[keep], nxt[keep], k[:, keep].contiguous(), t_row[keep]
        state = state[keep] if watch is not None else None
    t_end = t_row[:, n_t - 1].clone()
    h = _initial_step(lambda x, _r: field(x, rows), y, k[0], t_end - tt, rtol, atol, mean)
    capped = torch.zeros(y.shape[0], dtype=torch.bool, device=device)  # rejected since the last accept
    n_done = 0
    for _ in range(max_steps):
        a = k.shape[1]
        # clip the step to the end (scipy's rule: h = min(t + h, t_end) − t)
        t_new = torch.minimum(tt + h, t_end)
        h = t_new - tt
        hc = h[:, None]
        flat = k.view(7, -1)
        for s in range(1, 6):
            ys = torch.addcmul(y, hc, (tab.a[s] @ flat[:s]).view(a, d))
            k[s] = field(ys, rows)
        y_new = torch.addcmul(y, hc, (tab.b @ flat[:6]).view(a, d))
        if watch is None:
            k[6] = field(y_new, rows)
        else:
            k[6], state_new = watch.field(y_new, rows)
        err = hc * (tab.e @ flat).view(a, d)
        scale = torch.maximum(y.abs(), y_new.abs()).mul_(rtol).add_(atol)
        err_norm = _rms(err.div_(scale), mean)
        accept = err_norm < 1
        factor = torch.clamp(SAFETY * err_norm.pow(_EXPONENT), min=MIN_FACTOR)
        factor = torch.minimum(factor, torch.where(capped, 1.0, MAX_FACTOR))
        # finished rows step with h = 0: error 0, accepted, nothing moves
        if not bool(accept.all()):
            small = ~accept & (h <= torch.clamp(10 * eps * tt.abs(), min=tiny))  # scipy's min_step
            if bool(small.any()):
                raise RuntimeError(
                    f"dopri5: the step size fell below the float spacing at t = {float(tt[small][0]):g}"
                    " (a stiff or singular field); try a looser tolerance or a stiff solver"
                )
        capped = ~accept
        t_next = torch.where(accept, t_new, tt)
        if watch is not None:
            stopping = watch.step(y, y_new, h, state, state_new, accept & (h > 0), rows)
            state = torch.where(accept[:, None], state_new, state)
            stop = None
            if stopping is not None and bool(stopping[0].any()):
                stop, frac, y_stop = stopping
                at = stop.nonzero().squeeze(1)
                who = idx.index_select(0, at)
                stopped[who] = True
                t_lo[who] = tt.index_select(0, at)
                t_hi[who] = t_lo[who] + frac.index_select(0, at) * h.index_select(0, at)
                y_lo[who] = y.index_select(0, at)
                y_hi[who] = y_stop.index_select(0, at)
        # dense output at every output time passed by an accepted step, all in one pass
        passed = torch.searchsorted(t_row, t_next[:, None], right=True).squeeze(1)
        if watch is not None:  # (rows a watch stopped stay finished)
            passed = torch.maximum(passed, nxt)
        count = passed - nxt
        if bool((count > 0).any()):
            # index_select / index_copy_ on flat views: several times faster than advanced indexing
            at = torch.repeat_interleave(torch.arange(a, device=device), count)
            j = nxt.index_select(0, at) + torch.arange(at.shape[0], device=device) - (
                torch.cumsum(count, 0) - count).index_select(0, at)
            theta = (t_row.view(-1).index_select(0, at * (n_t + 1) + j) - tt.index_select(0, at)).div_(
                h.index_select(0, at))[:, None]
            q = (tab.p.T @ flat).view(4, a, d).index_select(1, at)  # y(t + θh) = y + h Σ_j q_j θ^(j+1)
            poly = q[3]
            for i in (2, 1, 0):
                poly = torch.addcmul(q[i], theta, poly)
            where = j * n + idx.index_select(0, at)
            out.view(-1, d).index_copy_(
                0, where, torch.addcmul(y.index_select(0, at), h.index_select(0, at)[:, None] * theta, poly))
            n_done += int(((count > 0) & (passed == n_t)).sum())
        if watch is not None and stop is not None:
            # a stopped row is finished: no output left, and steps of 0 from its stopping step on
            n_done += int((stop & (passed < n_t)).sum())
            passed = torch.where(stop, n_t, passed)
            t_end = torch.where(stop, t_next, t_end)
        nxt = passed
        h = h * factor
        if n_done == a:
            return result()
        acc = accept[:, None]
        y = torch.where(acc, y_new, y)
        torch.where(acc, k[6], k[0], out=k[0])  # FSAL
        tt = t_next
        if _COMPACT * n_done >= a:
            keep = (nxt < n_t).nonzero().squeeze(1)
            idx, y, tt, h, nxt, capped = idx[keep], y[keep], tt[keep], h[keep], nxt[keep], capped[keep]
            t_end, t_row = t_end[keep], t_row[keep]
            k = k[:, keep].contiguous()
            state = state[keep] if watch is not None else None
            rows = idx
            n_done = 0
    raise RuntimeError(f"dopri5: more than max_steps={max_steps} steps on some trajectory")
