"""hopdyn: dynamics of modern Hopfield networks (Lagrangian MHNs, RecLag, OOD detection).

The public surface is small: Lagrangians, the network :class:`MHN`, two simulators
(:func:`iterate`, :func:`integrate`) returning a :class:`Trajectory`, and the analysis
subpackages (``hopdyn.theorems``, ``hopdyn.ood``, ...).
"""
from .lagrangians import Abs, GatedLagrangian, Lagrangian, LogSumExp, Polynomial, Quadratic, RecLag, SmoothRecLag, WeightedLogSumExp
from .network import MHN
from .ode import GateCrossingWarning, integrate
from .stepper import iterate, iterate_two_variable
from .attention import HopfieldAttention, HopfieldAttentionStack
from .trajectory import Trajectory

# analysis subpackages, after the core they build on
from . import basins, theorems  # Theorems 1-3 and basins of attraction (seed 001)
from . import landscape  # energy landscapes, p_H, B0 and trajectories on a plane
from . import ood  # OOD detection with RecLag (seed 001, sections 5-6)
from . import collapse, mha_experiments  # hidden-state attention and rank collapse (seed 002)
from . import continual  # continual learning (seed 002)
from . import adaptive  # adaptive similarity, A-Hop (seed 003)

__version__ = "0.1.0"

__all__ = [
    "Abs",
    "GateCrossingWarning",
    "GatedLagrangian",
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
    # subpackages
    "adaptive",
    "basins",
    "collapse",
    "continual",
    "landscape",
    "mha_experiments",
    "ood",
    "theorems",
]
