"""Adaptive similarity for Hopfield retrieval (A-Hop; Wang et al., ICLR 2026, seed 003).

Retrieval ``T(x) = Ξᵀ softmax(s(Ξ, x))`` with a learned similarity ``s``, judged by *correct*
retrieval (the retrieved pattern's nearest memory is the query's source)::

    import hopdyn as hd
    xi = hd.adaptive.synthetic_memories(64, 64, seed=0)
    V = hd.adaptive.VariantDistribution("mixed", difficulty=0.4)
    x, k = V.sample(xi, 50, seed=1)
    model = hd.adaptive.AdaptiveHopfield(xi, hd.adaptive.FootprintSimilarity(64))
    hd.adaptive.fit(model, x, k)
    xt, kt = V.sample(xi, 20, seed=2)
    hd.adaptive.correct_retrieval(xi, model.step(xt), kt)
"""
from .baselines import LEARNING_RATES, MODELS, LinearKernelSimilarity, make_similarity
from .experiments import (
    ABLATION,
    PAPER,
    EnergyRow,
    RunResult,
    Setting,
    TableResult,
    ablation_table,
    energy_table,
    digits_memories,
    paper_table,
    run_setting,
    synthetic_memories,
)
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
    "ABLATION", "BASES", "KINDS", "LEARNING_RATES", "MODELS", "PAPER",
    "AdaptiveHopfield", "DistanceSimilarity", "DotSimilarity", "EnergyDescent", "EnergyRow", "FootprintSimilarity",
    "LinearKernelSimilarity", "RetrievalPath", "RunResult", "Setting", "Similarity", "TableResult", "TrainResult",
    "VariantDistribution",
    "ablation_table", "correct_retrieval", "digits_memories", "energy_descent", "energy_table", "eps_retrieval", "fit",
    "footprint", "make_similarity", "memory_distances", "nearest_memory", "paper_table", "per_dimension",
    "run_setting", "separation", "synthetic_memories",
]
