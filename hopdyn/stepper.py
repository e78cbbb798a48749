"""The discrete adiabatic map (eq 12, eq 36 with τ_V = Δt), iterated over a batch."""
from __future__ import annotations

from typing import Literal

import torch

from ._chunks import chunk_rows, chunks
from ._validate import ArrayLike, positive, positive_int
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
    with torch.no_grad():
        for sl in chunks(n, rows, progress, "iterate"):
            parts.append(_run_chunk(net, flat[sl], steps, tol, keep == "path"))
    n_t = max(p[0].shape[0] for p in parts)
    # chunks that converged sooner are padded with their (frozen) final state
    v = torch.cat([torch.cat([p[0], p[0][-1:].expand(n_t - p[0].shape[0], -1, -1)]) for p in parts], dim=1)
    converged = torch.cat([p[1] for p in parts])
    n_steps = torch.cat([p[2] for p in parts])
    with torch.no_grad():
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

    state = v.clone()
    active = torch.arange(b, device=v.device)
    cur = v
    path = [v.clone()] if keep_path else None
    for k in range(steps):
        new = net._step(cur)
        done = (new - cur).abs().amax(-1) <= tol
        state[active] = new
        if keep_path:
            path.append(state.clone())
        if bool(done.any()):
            finished = active[done]
            converged[finished] = True
            n_steps[finished] = k + 1
            keep_rows = ~done
            active, cur = active[keep_rows], new[keep_rows]
            if active.numel() == 0:
                break
        else:
            cur = new
    return (torch.stack(path) if keep_path else state[None]), converged, n_steps
