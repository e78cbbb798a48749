"""Adaptive similarity for Hopfield retrieval (A-Hop; Wang et al., ICLR 2026, seed 003).

Retrieval ``T(x) = Ξᵀ softmax(s(Ξ, x))`` with a learned similarity ``s``, judged by *correct*
retrieval (the retrieved pattern's nearest memory is the query's source)::

    import hopdyn as hd
    xi = hd.datasets.gaussian_memories(64, 64, seed=0)
    V = hd.adaptive.VariantDistribution("mixed", difficulty=0.4)
    x, k = V.sample(xi, 50, seed=1)
    model = hd.adaptive.AdaptiveHopfield(xi, hd.adaptive.FootprintSimilarity(64))
    hd.adaptive.fit(model, x, k)
    xt, kt = V.sample(xi, 20, seed=2)
    hd.adaptive.correct_retrieval(xi, model.step(xt), kt)

The paper's tables (memories, settings, seeds) are in :mod:`hopdyn.experiments.adaptive`.
"""
from .baselines import LEARNING_RATES, MODELS, LinearKernelSimilarity, make_similarity
from .metrics import correct_retrieval, eps_retrieval, memory_distances, nearest_memory, separation
from .retrieval import AdaptiveHopfield, EnergyDescent, RetrievalPath, energy_descent
from .similarity import (
    BASES,
    DistanceSimilarity,
    DotSimilarity,
    FootprintSimilarity,
    Similarity,
    footprint,
    per_dimension,
)
from .training import TrainResult, fit
from .variants import KINDS, VariantDistribution

__all__ = [
    "BASES", "KINDS", "LEARNING_RATES", "MODELS",
    "AdaptiveHopfield", "DistanceSimilarity", "DotSimilarity", "EnergyDescent", "FootprintSimilarity",
    "LinearKernelSimilarity", "RetrievalPath", "Similarity", "TrainResult", "VariantDistribution",
    "correct_retrieval", "energy_descent", "eps_retrieval", "fit", "footprint", "make_similarity",
    "memory_distances", "nearest_memory", "per_dimension", "separation",
]
