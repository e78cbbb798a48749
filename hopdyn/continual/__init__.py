"""Continual learning in modern Hopfield networks: intrinsic forgetting and energy-based replay.

Seed 002 (Takeda, Oizumi & Karakida, "Continual Learning in Modern Hopfield Networks with an
Application to Diffusion Models"). No code of the paper is public; the definitions below are the
ones this module implements (states ``q ∈ R^d``, memories ``X ∈ R^{N×d}``, masses ``m > 0``):

- weighted energy ``E(q | X, m) = ½‖q‖² − β⁻¹ log Σ_μ m_μ exp(β q·ξ_μ)``, the energy of
  ``MHN(X, memory=WeightedLogSumExp(β, m))``; the update is ``q ← Σ_μ softmax(β q·ξ + log m)_μ ξ_μ``.
- task change ``X_old → X_new``: :func:`replace` (a new memory set), :func:`rotate` with
  :func:`random_rotations` (``X_new = X_old Vᵀ``, ``V = expm(εΩ)``, ``Ω = (W − Wᵀ)/2``,
  ``W_ij ~ N(0, 1)``), :func:`drift` (``X_new = X_old + σZ``). Every operator returns a batch of new
  memory sets, shape ``(R, N_new, d)``; every measurement below broadcasts over that batch.
- intrinsic forgetting of an old sample ``x``: ``ΔE(x) = E(q | X_new) − E(q | X_old)`` with
  ``q = retrieve(x)``, the fixed point reached from ``x`` under the old memory, or ``q = x`` ("raw").
- replay: old patterns ``ξ_r`` inserted into the new memory with masses ``m_r`` (mass insertion);
  the gain on sample ``k`` is the energy decrease ``E(q_k | X_new) − E(q_k | X_new ∪ {ξ_r})``.

Modules: :mod:`~hopdyn.continual.memories` (weighted energy, retrieval weights, :func:`retrieve`),
:mod:`~hopdyn.continual.tasks` (task changes), :mod:`~hopdyn.continual.forgetting`,
:mod:`~hopdyn.continual.replay`. The paper's experiments (the tractable setting, digits) are in
:mod:`hopdyn.experiments.continual`.
"""
from .forgetting import At, Forgetting, intrinsic_forgetting
from .memories import retrieval_weights, retrieve, weighted_energy
from .replay import (
    POLICIES, PolicyResult, compare_policies, insert_replay, pairwise_replay_gain, replay_gain, replay_gain_closed_form,
    select_replay,
)
from .tasks import drift, random_rotations, replace, rotate

__all__ = [
    "At", "Forgetting", "POLICIES", "PolicyResult", "compare_policies", "drift", "insert_replay", "intrinsic_forgetting",
    "pairwise_replay_gain", "random_rotations", "replace", "replay_gain", "replay_gain_closed_form", "retrieval_weights",
    "retrieve", "rotate", "select_replay", "weighted_energy",
]
