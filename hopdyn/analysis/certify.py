"""Certified basins: balls around known attractors inside which the map (eq 12) provably
converges to them, so that a basin map can label a state as soon as it enters one instead of
iterating it until its step falls below ``tol``.

For the quadratic feature Lagrangian the map is ``T(v) = xiᵀ softmax(β xi v)`` (gated by χ(G)
for RecLag, eqs 12 and 24). Its Jacobian is ``β xiᵀ (diag p − p pᵀ) xi = β Cov_p(xi)``, the
covariance of the memories under ``p``, so for any anchor ``a``

    ‖J‖₂ = β λ_max(Cov_p(xi)) ≤ β Σ_i p_i ‖xi_i − a‖²

(``Cov ⪯ E[(X − a)(X − a)ᵀ]``, whose λ_max is at most its trace). With ``a = xi_k``, ``k`` the
top score at the centre ``x*``, and ``p_i ≤ p_i/p_k = exp(−β (xi_k − xi_i)·v)``, where the margin
``(xi_k − xi_i)·v`` drops by at most ``‖xi_k − xi_i‖ δ`` over the ball ``B(x*, δ)``, this bounds
``‖J‖`` on the whole ball in closed form (:func:`jacobian_bound`). If it is ``≤ c < 1`` and the
gate stays open on the ball (``lse(β xi v) ≥ β max_i(xi_i·x* − ‖xi_i‖ δ) > log γ``), the map is a
contraction of the convex ball about its fixed point: ``‖T(v) − x*‖ ≤ c ‖v − x*‖``, so the ball is
invariant and every state in it converges to ``x*`` geometrically. Rounding in the working dtype
(the scores, the softmax, the read-out) and the residual of ``x*`` itself enter as an additive
``e`` per step (first-order error bounds), which the radius, the step count and the labelling
tolerance all absorb (:func:`certified_balls`). For RecLag with γ > N_H the origin also has a
*closed* ball, where the gate is shut (``G < 0``) everywhere: the map sends it to 0 in one step
(Theorem 1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._chunks import chunk_rows, chunks
from ..core.lagrangians import _CUTOFF, LogSumExp, Quadratic, RecLag
from ..core.network import MHN
from .attractors import AttractorLabels, Attractors, Labeller, find_attractors

__all__ = ["CertifiedBalls", "certified_balls", "certified_labels", "jacobian_bound"]


@dataclass(frozen=True)
class CertifiedBalls:
    """Balls ``B(centers[b], radii[b])`` from which the map of eq 12, run in ``dtype``, converges
    to attractor ``attractor[b]`` (an index of the :class:`Attractors` they were made for).
    ``rates[b]`` bounds the contraction (``0`` for the origin's closed-gate ball); ``finish[b]``
    is the number of further steps within which :func:`hopdyn.iterate` with ``tol`` is certain to
    stop a state that is in the ball, at an end within the labelling tolerance of the centre."""

    attractor: torch.Tensor  # (K,) long
    centers: torch.Tensor  # (K, N_V) float64
    radii: torch.Tensor  # (K,) float64
    rates: torch.Tensor  # (K,) float64
    finish: torch.Tensor  # (K,) long
    dtype: torch.dtype

    def __len__(self) -> int:
        return self.attractor.numel()


def _supported(net: MHN) -> bool:
    """Quadratic features and a softmax memory, plain or with RecLag's hard gate: the map whose
    Jacobian the bound covers (SmoothRecLag, weighted or polynomial memories are not)."""
    return type(net.feature) is Quadratic and type(net.memory) in (LogSumExp, RecLag)


def _errors(net: MHN, radius, dtype: torch.dtype):
    """First-order rounding bounds of one step in ``dtype`` for states of norm ≤ ``radius`` (a
    float or a tensor of them): (score error ``max|Δh|``, read-out error apart from the score
    term, gate-value error)."""
    xi = net.xi.to(torch.float64)
    n_h, d = xi.shape
    u = torch.finfo(dtype).eps / 2  # unit roundoff
    big = float(xi.norm(dim=-1).max())
    dh = d * u / max(1 - d * u, 0.5) * big * radius
    beta = net.memory.beta
    # softmax (exp, sum, divide) and the read-out xiᵀp, plus the mass the softmax cut drops
    read = big * u * (2 * n_h + 6) + 2 * n_h * math.exp(_CUTOFF.get(dtype, -math.inf)) * big
    log_gamma = getattr(net.memory, "log_gamma", 0.0)
    gate = beta * dh + 128 * u * (1 + beta * big * radius + abs(log_gamma))
    return dh, read, gate


def jacobian_bound(net: MHN, center: torch.Tensor, radius, score_error=0.0):
    """Upper bound of ``‖J(v)‖₂`` over ``B(center, radius)`` for the open-gate map
    ``T(v) = xiᵀ softmax(β xi v)``: ``β Σ_i min(1, exp(−β m_i)) ‖xi_i − xi_k‖²`` with ``k`` the top
    score at the centre and ``m_i = (xi_k − xi_i)·center − ‖xi_k − xi_i‖ radius − 2·score_error``
    the smallest margin over the ball (scores perturbed by ``score_error``). See the module notes.
    ``radius`` (and ``score_error``) may be tensors of radii: then one bound per radius."""
    xi = net.xi.to(torch.float64)
    c = torch.as_tensor(center, dtype=torch.float64)
    beta = net.memory.beta
    k = int((xi @ c).argmax())
    dk = (xi - xi[k]).norm(dim=-1)
    r = torch.as_tensor(radius, dtype=torch.float64)[..., None]
    margin = (xi[k] - xi) @ c - dk * r - 2 * torch.as_tensor(score_error, dtype=torch.float64)[..., None]
    q = torch.exp(-beta * margin).clamp(max=1.0)
    q[..., k] = 0.0
    # Σ p_i ≤ 1 as well: the weighted sum is at most the largest squared distance
    out = beta * torch.minimum((q * dk.square()).sum(-1), dk.square().max())
    return float(out) if out.dim() == 0 else out


def _gate_floor(net: MHN, center: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """A lower bound of ``G`` over ``B(center, radius)``: ``β max_i(xi_i·x − ‖xi_i‖ δ) − log γ``,
    asked of the Lagrangian's own ``G`` at the one-entry hidden state ``[max_i(...)]``
    (``lse(βh) ≥ β max h``, and ``G`` grows with every entry of ``h``)."""
    xi = net.xi.to(torch.float64)
    low = (xi @ center - xi.norm(dim=-1) * radius[..., None]).amax(-1)
    return net.memory.G(low[..., None])


def _open_ball(
    net: MHN, x: torch.Tensor, limit: float, rate: float, residual: float, tol: float, label_tol: float,
    dtype: torch.dtype, gated: bool,
) -> tuple[float, float, int] | None:
    """(radius, contraction, finish) of the largest ball about the fixed point ``x`` (radius ≤
    ``limit``) with Jacobian bound ≤ ``rate`` (and the gate open), or None when the rounding of a
    step in ``dtype`` leaves no certificate at that rate."""
    norm, d, beta = float(x.norm()), x.numel(), net.memory.beta

    def ok(r: torch.Tensor) -> torch.Tensor:
        dh, _, gate_err = _errors(net, norm + r, dtype)
        good = jacobian_bound(net, x, r, dh) <= rate
        return good & (_gate_floor(net, x, r) >= gate_err) if gated else good

    # both conditions only tighten as the ball grows: the largest good radius on a grid, refined once
    lo, hi = 0.0, limit
    for _ in range(2):
        r = torch.linspace(lo, hi, 1025, dtype=torch.float64)
        good = ok(r)
        if not bool(good[0]):
            return None
        last = int(good.int().cumprod(0).sum()) - 1
        if last == 1024:
            lo = hi
            break
        lo, hi = float(r[last]), float(r[last + 1])
    r = lo
    dh, read, _ = _errors(net, norm + r, dtype)
    c = jacobian_bound(net, x, r, dh)
    # per step: the centre's residual, rounding of the step, and the centre cast to dtype
    e = residual + read + math.sqrt(beta * c) * dh + torch.finfo(dtype).eps * norm
    room = tol - 2 * e / (1 - c)
    # invariance (c r + e ≤ r); the step falls below tol; the end it stops at lies within label_tol/2
    if (1 - c) * r < e or room <= 0 or (c * math.sqrt(d) * tol + e) / (1 - c) > 0.5 * label_tol:
        return None
    # ‖v_{j+1} − v_j‖ ≤ r_j + r_{j+1} ≤ (1 + c) c^j r + 2e/(1 − c) ≤ tol after j steps:
    # stopped at step j + 1
    if (1 + c) * r <= room:
        j = 0
    else:
        j = 1 if c == 0 else math.ceil(math.log(room / ((1 + c) * r)) / math.log(c))
    return r, c, j + 1


def certified_balls(
    net: MHN, attractors: Attractors, *, tol: float, label_tol: float, steps_dtype: torch.dtype,
    rates: tuple[float, ...] = (0.5, 0.25, 0.1),
) -> CertifiedBalls:
    """A certified ball per attractor of ``attractors`` where one exists (module notes): the
    largest radius with Jacobian bound ≤ the first of ``rates`` that passes and, for RecLag, the
    gate open with a margin; kept only when the step in ``steps_dtype`` provably stops below ``tol`` at an end
    within ``label_tol / 2`` of the centre. The closed-gate ball of RecLag's origin (γ > N_H)
    has radius ``(log γ − log N_H − margin) / (β max‖xi_i‖)``."""
    xi = net.xi.to(torch.float64)
    n_h, d = xi.shape
    empty = CertifiedBalls(torch.zeros(0, dtype=torch.long), xi.new_zeros(0, d), xi.new_zeros(0), xi.new_zeros(0),
                           torch.zeros(0, dtype=torch.long), steps_dtype)
    if not _supported(net) or len(attractors) == 0:
        return empty
    net64 = net.replace(xi=xi)
    gated = type(net.memory) is RecLag
    beta = net.memory.beta
    big = float(xi.norm(dim=-1).max())
    pts = attractors.points.to(torch.float64)
    gap = torch.cdist(pts, pts).fill_diagonal_(math.inf)
    rows = []
    for a in range(len(pts)):
        x = pts[a]
        half = 0.5 * float(gap[a].min()) if len(pts) > 1 else 4 * big + 1
        norm = float(x.norm())
        if gated and norm == 0.0:  # the origin with the gate shut around it (Theorem 1)
            room = net.memory.log_gamma - math.log(n_h)
            _, _, gate_err = _errors(net, max(room, 0.0) / (beta * big), steps_dtype)
            r0 = (room - gate_err) / (beta * big)
            r0 = min(r0, half) * (1 - 1e-6)
            if r0 > 0:
                rows.append((a, r0, 0.0, 2))
            continue
        residual = float((net64.step(x[None])[0] - x).norm()) + 4 * torch.finfo(torch.float64).eps * (norm + big)
        # a smaller rate leaves more room for rounding below tol; take the largest ball that passes
        for rate in rates:
            got = _open_ball(net, x, half, rate, residual, tol, label_tol, steps_dtype, gated)
            if got is not None:
                rows.append((a, *got))
                break
    if not rows:
        return empty
    idx = torch.tensor([r[0] for r in rows], dtype=torch.long)
    return CertifiedBalls(idx, pts[idx], torch.tensor([r[1] for r in rows], dtype=torch.float64),
                          torch.tensor([r[2] for r in rows], dtype=torch.float64),
                          torch.tensor([r[3] for r in rows], dtype=torch.long), steps_dtype)


class _Membership:
    """Which certified ball each state lies in, batched: the balls are disjoint,
    so the one that maximises ``δ_b² − ‖v − x_b‖²`` is the only candidate. The expanded square
    is evaluated with a margin that covers its rounding."""

    def __init__(self, balls: CertifiedBalls, dtype: torch.dtype):
        c = balls.centers
        self.w = (2 * c).to(dtype)  # (K, N_V)
        self.bias = (balls.radii.square() - c.square().sum(-1)).to(dtype)[:, None]
        reach = float((c.norm(dim=-1) + balls.radii).max()) if len(balls) else 0.0
        u = torch.finfo(dtype).eps
        self.slack = 8 * (c.shape[1] + 3) * u * reach * reach
        self.ones = torch.ones(c.shape[1], dtype=dtype)

    def __call__(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(in a ball, which ball) per state."""
        # (K, B) layout: the max over the balls is then elementwise over rows (fast on CPU)
        # ‖v‖² is the same for every ball, so it moves to the comparison
        val, arg = torch.addmm(self.bias, self.w, v.T).max(0)
        return val >= ((v * v) @ self.ones).add_(self.slack), arg


def certified_labels(
    net: MHN,
    v0: torch.Tensor,
    *,
    steps: int,
    tol: float,
    label_tol: float,
    known: Attractors,
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> AttractorLabels:
    """The labels of :func:`~hopdyn.analysis.attractors.find_attractors` (same ``tol``,
    ``label_tol`` and ``known``), computed with less work: a state stops as soon as it lies in a
    certified ball of ``known`` (:func:`certified_balls`) from which the plain iteration would
    stop within the step cap at that attractor. The others run as in :func:`hopdyn.iterate`
    (frozen once ``‖Δv‖_∞ ≤ tol``) and are labelled by their end states as there.

    Why the labels are the same: a state in ball ``b`` after ``k`` steps is, in the plain run,
    stopped by ``tol`` within ``finish[b]`` more steps at an end within ``label_tol / 2`` of the
    ball's attractor (:func:`certified_balls`), which the matching then names; it is certified
    only if ``k + finish[b] ≤ steps``, so a state the plain run leaves unconverged stays ``-1``.
    States the plain run stops earlier (``‖Δv‖_∞ ≤ tol``) stop here at the same step, at the
    same end, and are matched and grouped into new attractors in the same order.

    ``n_steps`` counts the steps until each label was certain; ``ends`` holds, for a certified
    state, where it stood then. ``v0``: ``(B, N_V)`` in the run's dtype. Networks other than
    Quadratic features with LogSumExp or RecLag memories (or with no ball) take the plain run."""
    balls = certified_balls(net, known, tol=tol, label_tol=label_tol, steps_dtype=v0.dtype)
    if not len(balls):  # nothing to certify: the plain run, exactly
        return find_attractors(net, v0, steps=steps, tol=tol, label_tol=label_tol, known=known,
                               chunk_size=chunk_size, progress=progress)
    member = _Membership(balls, v0.dtype)
    dev = v0.device
    ball_att = balls.attractor.to(dev)
    # a state that enters ball b after k steps is labelled only if k + finish[b] ≤ steps, so
    # that the plain iteration would have stopped it in time (only checked near the cap)
    latest = (steps - balls.finish).to(dev)
    late = int(latest.min())
    n = v0.shape[0]
    ends = torch.empty_like(v0)
    n_steps = torch.full((n,), steps, dtype=torch.long, device=dev)
    converged = torch.zeros(n, dtype=torch.bool, device=dev)
    label = torch.full((n,), -1, dtype=torch.long, device=dev)
    rows = chunk_rows(net.n_features + net.n_memories, chunk_size)

    with torch.no_grad():
        for sl in chunks(n, rows, progress, "basin labels"):
            idx = torch.arange(sl.start, sl.stop, device=dev)
            cur = v0[sl]
            for k in range(1, steps + 1):
                # after k steps a state leaves the batch when it has converged (as in iterate) or
                # lies in a ball (a check before the first step costs more than it saves)
                new = net._step(cur)
                done = torch.sub(new, cur).abs_().amax(-1) <= tol
                hit, b = member(new)
                if k > late:
                    hit &= latest[b] >= k
                hit &= ~done
                cur = new
                out = done | hit
                n_out = int(out.sum())
                if n_out:
                    rows_out = out.nonzero().squeeze(1)
                    where = idx.index_select(0, rows_out)
                    ends[where] = cur.index_select(0, rows_out)
                    n_steps[where] = k
                    converged[where] = done.index_select(0, rows_out)
                    label[where] = torch.where(hit.index_select(0, rows_out), ball_att[b.index_select(0, rows_out)], -1)
                    if n_out == cur.shape[0]:
                        break
                    keep = (~out).nonzero().squeeze(1)
                    idx, cur = idx.index_select(0, keep), cur.index_select(0, keep)
            else:  # the states still running at the cap end where they are (unconverged)
                ends[idx] = cur
    # the converged states are labelled by their ends, in their order, as find_attractors does
    lab = Labeller(known, label_tol)
    conv = converged.nonzero().squeeze(1)
    label[conv] = lab(ends[conv], torch.ones(conv.numel(), dtype=torch.bool, device=dev))
    return AttractorLabels(label, lab.attractors(ends), n_steps, ends)
