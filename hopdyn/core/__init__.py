"""The model and its two simulators: Lagrangians, :class:`MHN`, the discrete map (eq 12), the
ODE (eqs 1–2) with event location on a gated Lagrangian's switching surface, and the
:class:`Trajectory` both return. Everything else in hopdyn asks these for the formulas."""
from .discrete import iterate, iterate_two_variable
from .lagrangians import (
    Abs, GatedLagrangian, Lagrangian, LogSumExp, Polynomial, Quadratic, RecLag, SmoothRecLag, WeightedLogSumExp,
)
from .network import MHN
from .ode import GateCrossingWarning, integrate
from .trajectory import Trajectory

__all__ = [
    "Abs", "GateCrossingWarning", "GatedLagrangian", "Lagrangian", "LogSumExp", "MHN", "Polynomial", "Quadratic",
    "RecLag", "SmoothRecLag", "Trajectory", "WeightedLogSumExp", "integrate", "iterate", "iterate_two_variable",
]
