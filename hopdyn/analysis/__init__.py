"""Analyses of a user's :class:`~hopdyn.MHN`: attractors and basins, fixed points,
continuation, energy landscapes on a plane, the RecLag paper's Theorems 1–3, and the two
simulators side by side. Each takes the network itself; the ``(xi, beta, gamma)`` forms are
conveniences that build one and call the same code."""
from . import landscape, theorems
from .basins import *  # noqa: F401,F403 - re-exported: the basins room is split by concept below
from .basins import __all__ as _basins_all
from .compare import SimulatorComparison, compare_simulators
from .landscape import (
    B0Boundary, DensityLandscape, EnergyLandscape, Grid, LandscapePaths, LandscapeSweep, VectorField, b0_boundary,
    default_plane, density_landscape, energy_landscape, landscape_paths, landscape_sweep, vector_field, vary_memory,
)
from .theorems import check_theorem1, check_theorem2, check_theorem3

__all__ = [
    *_basins_all, "B0Boundary", "DensityLandscape", "EnergyLandscape", "Grid", "LandscapePaths", "LandscapeSweep",
    "SimulatorComparison", "VectorField", "b0_boundary", "check_theorem1", "check_theorem2", "check_theorem3",
    "compare_simulators", "default_plane", "density_landscape", "energy_landscape", "landscape", "landscape_paths",
    "landscape_sweep", "theorems", "vary_memory", "vector_field",
]
