"""The discrete adiabatic map (eq 12, eq 36 with τ_V = Δt), iterated over a batch."""
from __future__ import annotations

from typing import Literal

import torch

from .._chunks import chunk_rows, chunks
from .._validate import ArrayLike, positive, positive_int
from .network import MHN
from .trajectory import Trajectory


def iterate(
    net: MHN,
    v0: ArrayLike,
    steps: int = 20,
    *,
    tol: float | None = None,
    keep: Literal["path", "last"] = "path",
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> Trajectory:
    """Iterate the discrete adiabatic map ``v ← xiᵀ f(xi g(v))`` (eq 12) from ``v0``.

    Args:
        net: the network (its ``tau_h`` is ignored: this is the adiabatic map).
        v0: initial states, shape ``(..., N_V)``.
        steps: number of steps, or the cap on steps when ``tol`` is given.
        tol: if given, a sample has converged once ``‖v_{k+1} − v_k‖_∞ ≤ tol``; it is frozen
            from then on and costs nothing further. ``Trajectory.converged`` and
            ``.n_steps`` say which samples converged and when.
        keep: ``"path"`` stores every step (``T = steps + 1``, or one more than the last
            step any sample needed); ``"last"`` stores only the end state (``T = 1``), so
            memory does not grow with the number of steps.
        chunk_size: samples per chunk (default: about 4M state entries per chunk).
        progress: show a tqdm bar over chunks (default: when there is more than one chunk).

    Returns:
        A :class:`Trajectory` with ``t = k·τ_V`` for the stored steps ``k``.
    """
    v0 = net.check_v(v0, "v0")
    steps = positive_int(steps, "steps", minimum=0)
    if tol is not None:
        tol = positive(tol, "tol")
    if keep not in ("path", "last"):
        raise ValueError(f"keep must be 'path' or 'last', got {keep!r}")
    batch_shape, n_v = v0.shape[:-1], v0.shape[-1]
    flat = v0.reshape(-1, n_v)
    n = flat.shape[0]
    rows = chunk_rows(n_v + net.n_memories, chunk_size)

    parts = []
    grad = net.tracks_grad(v0)
    with torch.set_grad_enabled(grad):
        for sl in chunks(n, rows, progress, "iterate"):
            parts.append(_run_chunk(net, flat[sl], steps, tol, keep == "path"))
    n_t = max(p[0].shape[0] for p in parts)
    # chunks that converged sooner are padded with their (frozen) final state
    v = torch.cat([torch.cat([p[0], p[0][-1:].expand(n_t - p[0].shape[0], -1, -1)]) for p in parts], dim=1)
    converged = torch.cat([p[1] for p in parts])
    n_steps = torch.cat([p[2] for p in parts])
    with torch.set_grad_enabled(grad):
        energy = net._energy(v)
    if keep == "path":
        t = torch.arange(n_t, dtype=v.dtype, device=v.device) * net.tau_v
    else:
        t = n_steps.max().to(v.dtype).reshape(1) * net.tau_v
    return Trajectory(
        t=t,
        v=v.reshape(n_t, *batch_shape, n_v),
        energy=energy.reshape(n_t, *batch_shape),
        converged=converged.reshape(batch_shape),
        n_steps=n_steps.reshape(batch_shape),
    )


def _run_chunk(
    net: MHN, v: torch.Tensor, steps: int, tol: float | None, keep_path: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Iterate one chunk; returns (states (T, B, N_V), converged (B,), n_steps (B,))."""
    b = v.shape[0]
    n_steps = torch.full((b,), steps, dtype=torch.long, device=v.device)
    converged = torch.zeros(b, dtype=torch.bool, device=v.device)
    if tol is None:
        path = [v] if keep_path else None
        for _ in range(steps):
            v = net._step(v)
            if keep_path:
                path.append(v)
        return (torch.stack(path) if keep_path else v[None]), converged, n_steps

    # Converged samples are frozen (their end state written out) but stay in the stepped batch
    # until a sizeable fraction of it has finished: compacting the batch costs a copy of it, so
    # doing that every step made freezing slower than a fixed step count. With at most
    # 1/_COMPACT of the stepped rows idle, the run costs ≤ (1 + 1/_COMPACT)× the floor (each
    # sample stepped exactly as often as it needs).
    idx = torch.arange(b, device=v.device)  # chunk row of each stepped row
    alive = torch.ones(b, dtype=torch.bool, device=v.device)  # stepped rows not yet converged
    n_alive = b
    cur = v
    out = torch.empty_like(v) if not keep_path else None
    state = v.clone() if keep_path else None
    path = [v] if keep_path else None
    # the previous state is scratch once it is stepped (ours, and neither v nor on the path)
    # unless autograd records the run
    scratch = not (keep_path or torch.is_grad_enabled())
    for k in range(steps):
        new = net._step(cur)
        with torch.no_grad():  # (vector_norm(ord=inf) measured 10× slower over a short last dim)
            diff = torch.sub(new, cur, out=cur) if scratch and cur is not v else new - cur
            done = diff.abs_().amax(-1) <= tol
        if n_alive < alive.shape[0]:
            done &= alive
        n_done = int(done.sum())
        if keep_path:
            state = state.clone()
            if n_alive == alive.shape[0]:
                state.index_copy_(0, idx, new)
            else:
                state.index_copy_(0, idx[alive], new[alive])
            path.append(state)
        if n_done:
            rows_done = done.nonzero().squeeze(1)
            finished = idx.index_select(0, rows_done)
            converged[finished] = True
            n_steps[finished] = k + 1
            if out is not None:
                out.index_copy_(0, finished, new.index_select(0, rows_done))
            alive = alive & ~done
            n_alive -= n_done
            if n_alive == 0:
                cur = None
                break
            if _COMPACT * (alive.shape[0] - n_alive) >= alive.shape[0]:
                keep_rows = alive.nonzero().squeeze(1)
                idx, cur = idx.index_select(0, keep_rows), new.index_select(0, keep_rows)
                alive = torch.ones(n_alive, dtype=torch.bool, device=v.device)
                continue
        cur = new
    if keep_path:
        return torch.stack(path), converged, n_steps
    if cur is not None:  # samples that did not converge end where they are
        if n_alive == alive.shape[0]:
            out.index_copy_(0, idx, cur)
        else:
            out.index_copy_(0, idx[alive], cur[alive])
    return out[None], converged, n_steps


#: Compact the stepped batch once this fraction (1/_COMPACT) of it has converged.
_COMPACT = 8


def iterate_two_variable(
    net: MHN,
    v0: ArrayLike,
    steps: int = 20,
    dt: float | None = None,
    h0: ArrayLike | None = None,
    *,
    order: Literal["h_first", "simultaneous"] = "h_first",
    keep: Literal["path", "last"] = "path",
    chunk_size: int | None = None,
    progress: bool | None = None,
) -> Trajectory:
    """Euler steps of the two-variable dynamics (eqs 1–2) at finite ``τ_H``: the non-adiabatic map.

    With ``α = 1 − Δt/τ_V`` and ``α' = 1 − Δt/τ_H`` one step is

    - ``order="h_first"`` (default; the order of modern Hopfield attention, where the scores of
      layer n are formed from the layer's input and then read out):
      ``h ← α' h + (1−α') xi g(v)``, then ``v ← α v + (1−α) xiᵀ f(h)`` with the new ``h``.
      At ``α' = 0`` (``Δt = τ_H``) ``h`` is slaved to ``v`` and the step is
      ``v ← α v + (1−α) xiᵀ f(xi g(v))``: for ``Δt = τ_V`` too, exactly the adiabatic map of
      :func:`iterate` (eq 12).
    - ``order="simultaneous"``: both updates use the old state (explicit Euler, the same steps
      as ``integrate(..., method="euler")``); at ``α' = 0`` ``v`` then lags ``h`` by one step.

    Both orders are first-order accurate: as ``Δt → 0`` they converge to the ODE of
    :func:`hopdyn.integrate` with error ``O(Δt)``. ``Δt > τ_H`` (``α' < 0``) is allowed but
    overshoots; it is the Euler map, not the flow.

    Args:
        net: a two-variable network (``tau_h`` set).
        v0: initial feature states, shape ``(..., N_V)``.
        steps: number of steps.
        dt: the step ``Δt`` (default ``τ_V``, i.e. ``α = 0``).
        h0: initial memory states ``(..., N_H)`` (default ``xi g(v0)``, on the slow manifold,
            as in :func:`hopdyn.integrate`).
        order: ``"h_first"`` or ``"simultaneous"`` (see above).
        keep: ``"path"`` stores every step, ``"last"`` only the end state.
        chunk_size, progress: as in :func:`iterate`.

    Returns:
        A :class:`Trajectory` with ``t = k·Δt``, ``v``, ``h`` and the two-body energy (eq 4).
    """
    if net.adiabatic:
        raise ValueError(
            "net is adiabatic (tau_h=None); set tau_h (e.g. net.replace(tau_h=1.0)) for two-variable steps"
        )
    v0 = net.check_v(v0, "v0")
    steps = positive_int(steps, "steps", minimum=0)
    dt = net.tau_v if dt is None else positive(dt, "dt")
    if order not in ("h_first", "simultaneous"):
        raise ValueError(f"order must be 'h_first' or 'simultaneous', got {order!r}")
    if keep not in ("path", "last"):
        raise ValueError(f"keep must be 'path' or 'last', got {keep!r}")
    batch_shape, n_v, n_h = v0.shape[:-1], v0.shape[-1], net.n_memories
    if h0 is None:
        h0 = net._hidden(v0)
    else:
        h0 = net.check_h(h0, "h0", like=v0).to(v0.dtype)
        if h0.shape[:-1] != batch_shape:
            raise ValueError(f"h0 must have batch shape {tuple(batch_shape)}, got shape {tuple(h0.shape)}")
    alpha, alpha_h = 1.0 - dt / net.tau_v, 1.0 - dt / net.tau_h
    flat_v, flat_h = v0.reshape(-1, n_v), h0.reshape(-1, n_h)
    rows = chunk_rows(n_v + n_h, chunk_size)
    vs, hs = [], []
    with torch.set_grad_enabled(net.tracks_grad(v0, h0)):
        for sl in chunks(flat_v.shape[0], rows, progress, "iterate_two_variable"):
            v_path, h_path = _run_two_variable(
                net, flat_v[sl], flat_h[sl], steps, alpha, alpha_h, order, keep == "path"
            )
            vs.append(v_path)
            hs.append(h_path)
        v, h = torch.cat(vs, dim=1), torch.cat(hs, dim=1)
        energy = net._energy2(v, h)
    n_t = v.shape[0]
    if keep == "path":
        ks = torch.arange(n_t, dtype=v.dtype, device=v.device)
    else:
        ks = torch.full((1,), float(steps), dtype=v.dtype, device=v.device)
    return Trajectory(
        t=ks * dt,
        v=v.reshape(n_t, *batch_shape, n_v),
        energy=energy.reshape(n_t, *batch_shape),
        h=h.reshape(n_t, *batch_shape, n_h),
    )


def _mix(a: float, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """``a·old + (1−a)·new``; ``a = 0`` returns ``new`` itself (bit-exact adiabatic limit)."""
    return new if a == 0.0 else a * old + (1.0 - a) * new


def _run_two_variable(
    net: MHN, v: torch.Tensor, h: torch.Tensor, steps: int, alpha: float, alpha_h: float, order: str, keep_path: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Step one chunk; returns paths ``(T, B, N_V)`` and ``(T, B, N_H)`` (``T = 1`` without path)."""
    xi = net.xi_like(v)
    v_path, h_path = [v], [h]
    for _ in range(steps):
        drive_h = net.feature.activation(v) @ xi.T
        if order == "simultaneous":
            v_new = _mix(alpha, v, net.memory.activation(h) @ xi)
            h = _mix(alpha_h, h, drive_h)
            v = v_new
        else:
            h = _mix(alpha_h, h, drive_h)
            v = _mix(alpha, v, net.memory.activation(h) @ xi)
        if keep_path:
            v_path.append(v)
            h_path.append(h)
    if not keep_path:
        return v[None], h[None]
    return torch.stack(v_path), torch.stack(h_path)
