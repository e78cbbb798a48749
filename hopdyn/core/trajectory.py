"""The result type shared by both simulators."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Trajectory:
    """States along a simulated path; batch dimensions follow the time dimension.

    Attributes:
        t: times, shape ``(T,)``. For :func:`hopdyn.iterate` step ``k`` is at ``k·τ_V``
            (a step is an Euler step with ``Δt = τ_V``).
        v: feature states, shape ``(T, ..., N_V)``.
        energy: energy at each stored state, shape ``(T, ...)`` (adiabatic energy, or the
            two-body energy of eq 4 when ``h`` is simulated).
        h: memory states, shape ``(T, ..., N_H)``, when the memory neurons are simulated.
        converged: per sample, whether the run met its tolerance (``iterate(..., tol=...)``).
        n_steps: per sample, the number of steps taken before convergence (or the cap).
        n_switches: per sample, how often the RecLag gate switched (``integrate`` with events).
        switch_times: the located switch times, shape ``(..., S)`` with ``S`` the largest
            ``n_switches`` in the batch: sample ``b`` has its ``n_switches[b]`` switches, in
            increasing order, in ``switch_times[b, :n_switches[b]]`` and NaN after them
            (``integrate`` with events; G is 0 there to solver tolerance). Switches inside a
            stretch continued as sliding (see :class:`hopdyn.GateCrossingWarning`) are not
            located and neither counted nor listed.
    """

    t: torch.Tensor
    v: torch.Tensor
    energy: torch.Tensor
    h: torch.Tensor | None = None
    converged: torch.Tensor | None = None
    n_steps: torch.Tensor | None = None
    n_switches: torch.Tensor | None = None
    switch_times: torch.Tensor | None = None

    @property
    def final(self) -> torch.Tensor:
        """The last stored feature state, shape ``(..., N_V)``."""
        return self.v[-1]

    def __len__(self) -> int:
        return self.t.shape[0]
