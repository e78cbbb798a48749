"""Analyses of a user's :class:`~hopdyn.MHN`, one concept per module:

- :mod:`.attractors` — the attractor set (ids: kind, memory index; names for display), labelling
  end states, the memories a RecLag network keeps or swallows;
- :mod:`.basins` — Monte Carlo basin fractions, basin maps on a plane, boundaries, basin entropy;
- :mod:`.fixed_points` — Newton fixed points of the map and their stability;
- :mod:`.continuation` — a network along β or γ, attractors followed across values;
- :mod:`.geometry` — planes and grids in feature space;
- :mod:`.landscape` — energy, density, B0 and vector field on a plane;
- :mod:`.theorems` — the RecLag paper's Theorems 1–3; :mod:`.compare` — both simulators side by side.

Each takes the network itself; the ``(xi, beta, gamma)`` forms are conveniences that build one
and call the same code. Everything public is re-exported here (``hopdyn.basins`` is this package).
"""
# modules whose name is also a function's (continuation, fixed_points) are reached as the function
from . import attractors, basins, geometry, landscape, theorems
from ..stats import generator, sample_ball, sample_box, sample_gaussian, wilson_interval
from .attractors import (
    AttractorLabels, Attractors, MemoryFates, MemorySwallowedWarning, find_attractors, memory_attractors, memory_fates,
)
from .basins import BasinEntropy, BasinFractions, BasinMap, basin_entropy, basin_fractions, basin_map, boundary_cells
from .compare import SimulatorComparison, compare_simulators
from .continuation import Continuation, continuation, match_attractors, network_at, vary_memory
from .fixed_points import FixedPoints, fixed_points
from .geometry import Extent, Grid, Plane, check_extent, check_plane, default_extent, default_plane, plane_grid
from .landscape import (
    B0Boundary, DensityLandscape, EnergyLandscape, LandscapePaths, LandscapeSweep, SweepCell, VectorField,
    b0_boundary, density_landscape, energy_landscape, landscape_paths, landscape_sweep, vector_field,
)
from .theorems import check_theorem1, check_theorem2, check_theorem3

__all__ = [
    "AttractorLabels", "Attractors", "B0Boundary", "BasinEntropy", "BasinFractions", "BasinMap", "Continuation",
    "DensityLandscape", "EnergyLandscape", "Extent", "FixedPoints", "Grid", "LandscapePaths", "LandscapeSweep",
    "MemoryFates", "MemorySwallowedWarning", "Plane", "SimulatorComparison", "SweepCell", "VectorField",
    "attractors", "b0_boundary", "basin_entropy", "basin_fractions", "basin_map", "basins", "boundary_cells",
    "check_extent", "check_plane", "check_theorem1", "check_theorem2", "check_theorem3", "compare_simulators",
    "continuation", "default_extent", "default_plane", "density_landscape", "energy_landscape", "find_attractors",
    "fixed_points", "generator", "geometry", "landscape", "landscape_paths", "landscape_sweep", "match_attractors",
    "memory_attractors", "memory_fates", "network_at", "plane_grid", "sample_ball", "sample_box", "sample_gaussian", "theorems",
    "vary_memory", "vector_field", "wilson_interval",
]
