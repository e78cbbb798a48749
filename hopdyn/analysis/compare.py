"""Running both simulators on the same initial conditions and comparing where they end."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validate import ArrayLike, positive
from ..core.discrete import iterate
from ..core.network import MHN
from ..core.ode import integrate
from .attractors import default_label_tol, memory_attractors, scale_of


@dataclass(frozen=True)
class SimulatorComparison:
    """Where each initial condition ends under the discrete map and under the ODE."""

    v0: torch.Tensor  # (B, N_V)
    end_iterate: torch.Tensor  # (B, N_V)
    end_integrate: torch.Tensor  # (B, N_V)
    label_iterate: list[str]
    label_integrate: list[str]
    energy0: torch.Tensor  # (B,)
    energy_drop_iterate: torch.Tensor  # (B,) E(v0) − E(end), ≥ 0
    energy_drop_integrate: torch.Tensor
    max_energy_increase_integrate: float  # largest increase between stored ODE times (≤ 0 up to tolerance)
    steps_iterate: torch.Tensor  # (B,) steps to convergence
    switches_integrate: torch.Tensor | None  # (B,) gate switches (RecLag)

    @property
    def agreement(self) -> float:
        """Fraction of initial conditions that end at the same named attractor."""
        same = [a == b for a, b in zip(self.label_iterate, self.label_integrate)]
        return sum(same) / len(same)

    @property
    def max_end_distance(self) -> float:
        return float((self.end_iterate - self.end_integrate).norm(dim=-1).max())


def compare_simulators(
    net: MHN, v0: ArrayLike, t_max: float = 40.0, n_times: int = 81, steps: int = 2000, tol: float = 1e-10
) -> SimulatorComparison:
    """Run :func:`iterate` (to convergence) and :func:`integrate` (to ``t_max``) from ``v0``."""
    v0 = net.check_v(v0, "v0").reshape(-1, net.n_features)
    t_max = positive(t_max, "t_max")
    it = iterate(net, v0, steps=steps, tol=tol, keep="last")
    t = torch.linspace(0, t_max, n_times, dtype=v0.dtype, device=v0.device)
    ode = integrate(net, v0, t)
    attractors = memory_attractors(net)
    label_tol = default_label_tol(scale_of(net))
    e0 = net.energy(v0)
    return SimulatorComparison(
        v0=v0,
        end_iterate=it.final,
        end_integrate=ode.final,
        label_iterate=attractors.label(it.final, label_tol),
        label_integrate=attractors.label(ode.final, label_tol),
        energy0=e0,
        energy_drop_iterate=e0 - it.energy[-1],
        energy_drop_integrate=e0 - ode.energy[-1],
        max_energy_increase_integrate=float((ode.energy[1:] - ode.energy[:-1]).max()),
        steps_iterate=it.n_steps,
        switches_integrate=ode.n_switches,
    )
