"""Adaptive similarity for Hopfield retrieval (A-Hop; Wang et al., ICLR 2026, seed 003).

Retrieval ``T(x) = Ξᵀ softmax(s(Ξ, x))`` with a learned similarity ``s``, judged by *correct*
retrieval (the retrieved pattern's nearest memory is the query's source). :class:`AdaptiveHopfield`
is a differentiable layer (learned or per-call memory banks, ``(N, d)`` or ``(B, N, d)``);
:class:`HopfieldClassifier` and :class:`HopfieldPooling` are ready heads built on it::

    import hopdyn as hd
    xi = hd.datasets.gaussian_memories(64, 64, seed=0)
    V = hd.adaptive.VariantDistribution("mixed", difficulty=0.4)
    x, k = V.sample(xi, 50, seed=1)
    model = hd.adaptive.AdaptiveHopfield(xi, hd.adaptive.FootprintSimilarity(64))
    hd.adaptive.fit(model, x, k)
    xt, kt = V.sample(xi, 20, seed=2)
    with torch.no_grad():
        hd.adaptive.correct_retrieval(xi, model.step(xt), kt)

    # as a layer: learned memories, or a bank per sample (B, N, d), gradients everywhere
    layer = hd.adaptive.AdaptiveHopfield(None, hd.adaptive.FootprintSimilarity(16), n_features=16)
    y = layer.step(queries, memories=bags)  # queries (B, d) or (B, M, d), bags (B, N, d)

The paper's tables (memories, settings, seeds) are in :mod:`hopdyn.experiments.adaptive`.
"""
from .baselines import (
    LEARNING_RATES, MODELS, SEPARATION, LinearKernelSimilarity, SeparationKernelSimilarity, kernel_separation_loss,
    make_model, make_similarity,
)
from .layers import HopfieldClassifier, HopfieldPooling
from .metrics import correct_retrieval, eps_retrieval, memory_distances, nearest_memory, separation
from .retrieval import AdaptiveHopfield, EnergyDescent, RetrievalPath, energy_descent
from .separations import SEPARATIONS, entmax15, separation_loss, sparsemax
from .similarity import (
    BASES,
    DistanceSimilarity,
    DotSimilarity,
    FootprintSimilarity,
    Similarity,
    footprint,
    per_dimension,
    sorted_contraction,
)
from .training import TrainResult, fit
from .variants import KINDS, VariantDistribution

__all__ = [
    "BASES", "KINDS", "LEARNING_RATES", "MODELS", "SEPARATION", "SEPARATIONS",
    "AdaptiveHopfield", "DistanceSimilarity", "DotSimilarity", "EnergyDescent", "FootprintSimilarity",
    "HopfieldClassifier", "HopfieldPooling", "LinearKernelSimilarity", "RetrievalPath", "SeparationKernelSimilarity",
    "Similarity", "TrainResult", "VariantDistribution",
    "correct_retrieval", "energy_descent", "entmax15", "eps_retrieval", "fit", "footprint", "kernel_separation_loss",
    "make_model", "make_similarity", "memory_distances", "nearest_memory", "per_dimension", "separation",
    "separation_loss", "sorted_contraction", "sparsemax",
]
