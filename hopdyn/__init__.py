"""hopdyn: dynamics of modern Hopfield networks (Lagrangian MHNs, RecLag, OOD detection).

The public surface is small: Lagrangians, the network :class:`MHN`, two simulators
(:func:`iterate`, :func:`integrate`) returning a :class:`Trajectory`, and the analysis
subpackages (``hopdyn.theorems``, ``hopdyn.ood``, ...).
"""
from .lagrangians import Abs, Lagrangian, LogSumExp, Polynomial, Quadratic, RecLag, SmoothRecLag
from .lagrangians import WeightedLogSumExp
from .network import MHN
from .ode import GateCrossingWarning, integrate
from .stepper import iterate, iterate_two_variable
from .attention import HopfieldAttention, HopfieldAttentionStack
from .trajectory import Trajectory
from . import basins, theorems  # noqa: E402 - analysis subpackages, after the core they build on
from . import continual  # noqa: E402 - continual learning (seed 002)
from . import adaptive  # noqa: E402 - adaptive similarity, A-Hop (seed 003)
from . import collapse, mha_experiments  # noqa: E402 - hidden-state attention and rank collapse (seed 002)
from . import ood  # noqa: E402 - OOD detection with RecLag (seed 001, sections 5-6)
from . import landscape  # noqa: E402 - energy landscapes, p_H, B0 and trajectories on a plane

__version__ = "0.1.0"

__all__ = [
    "Abs",
    "GateCrossingWarning",
    "HopfieldAttention",
    "HopfieldAttentionStack",
    "Lagrangian",
    "LogSumExp",
    "MHN",
    "Polynomial",
    "Quadratic",
    "RecLag",
    "SmoothRecLag",
    "Trajectory",
    "WeightedLogSumExp",
    "integrate",
    "iterate",
    "iterate_two_variable",
]
