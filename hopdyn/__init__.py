"""hopdyn: dynamics of modern Hopfield networks (Lagrangian MHNs, RecLag, OOD detection).

The public surface is small: Lagrangians, the network :class:`MHN`, two simulators
(:func:`iterate`, :func:`integrate`) returning a :class:`Trajectory`, and the analysis
subpackages (``hopdyn.theorems``, ``hopdyn.ood``, ...).
"""
from .lagrangians import Abs, Lagrangian, LogSumExp, Polynomial, Quadratic, RecLag, SmoothRecLag
from .network import MHN
from .ode import GateCrossingWarning, integrate
from .stepper import iterate
from .trajectory import Trajectory

__version__ = "0.1.0"

__all__ = [
    "Abs",
    "GateCrossingWarning",
    "Lagrangian",
    "LogSumExp",
    "MHN",
    "Polynomial",
    "Quadratic",
    "RecLag",
    "SmoothRecLag",
    "Trajectory",
    "integrate",
    "iterate",
]
