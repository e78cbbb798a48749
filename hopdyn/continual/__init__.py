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
- task change by training (:mod:`~hopdyn.continual.training`): the memories (and log-masses) of
  a weighted MHN fine-tuned on the new task with Adam, objective from the network's own energy
  (likelihood of ``exp(−βE)``, or its discrete map as a denoiser); forgetting measured both as
  ``ΔE`` and as the reconstruction error of a corrupted old sample retrieved by ``hd.iterate``.
- replay: old patterns ``ξ_r`` inserted into the new memory with masses ``m_r`` (mass insertion);
  the gain on sample ``k`` is the energy decrease ``E(q_k | X_new) − E(q_k | X_new ∪ {ξ_r})``.

Modules: :mod:`~hopdyn.continual.memories` (weighted energy, retrieval weights, :func:`retrieve`),
:mod:`~hopdyn.continual.tasks` (task changes), :mod:`~hopdyn.continual.forgetting`,
:mod:`~hopdyn.continual.replay`, :mod:`~hopdyn.continual.training`, :mod:`~hopdyn.continual.diffusion`
(a tiny DDPM for the generative check, imported on demand). The paper's experiments (the
tractable setting, digits, forgetting by training, replay sweeps) are in :mod:`hopdyn.experiments.continual`.
"""
from .forgetting import At, Forgetting, intrinsic_forgetting
from .memories import retrieval_weights, retrieve, weighted_energy
from .replay import (
    BUFFER_POLICIES,
    POLICIES,
    PolicyResult,
    choose_replay,
    compare_policies,
    herding,
    insert_replay,
    pairwise_replay_gain,
    replay_gain,
    replay_gain_closed_form,
    select_replay,
)
from .tasks import drift, random_rotations, replace, rotate
from .training import (
    OBJECTIVES,
    TrainableMemory,
    corrupt,
    denoising_loss,
    fit_task,
    negative_log_likelihood,
    reconstruction_error,
    task_loss,
)

__all__ = [
    "BUFFER_POLICIES",
    "OBJECTIVES",
    "POLICIES",
    "At",
    "Forgetting",
    "PolicyResult",
    "TrainableMemory",
    "choose_replay",
    "compare_policies",
    "corrupt",
    "denoising_loss",
    "drift",
    "fit_task",
    "herding",
    "insert_replay",
    "intrinsic_forgetting",
    "negative_log_likelihood",
    "pairwise_replay_gain",
    "random_rotations",
    "reconstruction_error",
    "replace",
    "replay_gain",
    "replay_gain_closed_form",
    "retrieval_weights",
    "retrieve",
    "rotate",
    "select_replay",
    "task_loss",
    "weighted_energy",
]
