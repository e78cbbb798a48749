"""Training a similarity by cross-entropy over the source index (seed 003, "Loss & Training"):
``L = E_{(ξ_k, x) ~ V(Ξ)} [−log softmax(s(Ξ, x))_k]``, Adam, lr 0.1, 200 epochs (for the sparse
separations their Fenchel–Young loss, see :mod:`.separations`)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from .._validate import ArrayLike, positive, positive_int
from .retrieval import AdaptiveHopfield
from .separations import separation_loss


@dataclass(frozen=True)
class TrainResult:
    """``losses``: mean training cross-entropy per epoch; ``seconds``: wall time of the fit."""

    losses: list[float]
    seconds: float


def fit(
    model: AdaptiveHopfield,
    x: ArrayLike,
    source: ArrayLike,
    *,
    epochs: int = 200,
    lr: float = 0.1,
    batch_size: int = 256,
    seed: int = 0,
    progress: bool | None = None,
) -> TrainResult:
    """Fit ``model``'s parameters (the similarity's, and the memories if they are learned) in place
    by Adam on the loss of the source index (:func:`~.separations.separation_loss`). A similarity
    with a stage of its own on the memories alone (U-Hop's separation loss, ``fit_memories``) runs
    it first. The minibatch order is drawn from ``seed``; ``progress`` shows a tqdm bar over epochs
    (``None``: only for runs of 50 epochs or more). Models without parameters are left as they are."""
    x = model.check_x(x)
    if x.dim() != 2:
        raise ValueError(f"x must have shape (n, d), got shape {tuple(x.shape)}")
    src = torch.as_tensor(source, device=x.device)
    if src.shape != x.shape[:1] or src.dtype not in (torch.int32, torch.int64):
        raise ValueError(f"source must be integer indices of shape ({x.shape[0]},), got {tuple(src.shape)} {src.dtype}")
    if src.numel() and not (0 <= int(src.min()) and int(src.max()) < model.n_memories):
        raise ValueError(f"source must index the {model.n_memories} memories, got values in [{int(src.min())}, {int(src.max())}]")
    epochs = positive_int(epochs, "epochs", minimum=0)
    lr = positive(lr, "lr")
    batch_size = positive_int(batch_size, "batch_size")
    sim = model.similarity
    if hasattr(sim, "fit_memories"):
        sim.fit_memories(model.memory_bank(), seed=seed)
    params = [p for p in model.parameters() if p.requires_grad]
    losses: list[float] = []
    start = time.perf_counter()
    if not params:
        return TrainResult(losses, 0.0)
    opt = torch.optim.Adam(params, lr=lr)
    if hasattr(sim, "score_features") and not model.memory_bank().requires_grad:
        # with fixed memories the footprint does not depend on the parameters: compute it once
        inputs = model.features(x)
        score = sim.score_features
    else:
        inputs, score = x, model
    g = torch.Generator().manual_seed(int(seed))
    show = epochs >= 50 if progress is None else bool(progress)
    for _ in tqdm(range(epochs), desc="fit", disable=not show, leave=False):
        order = torch.randperm(x.shape[0], generator=g).to(x.device)
        total = 0.0
        for i in range(0, x.shape[0], batch_size):
            idx = order[i : i + batch_size]
            loss = separation_loss(score(inputs[idx]), src[idx], model.separation)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
        losses.append(total / x.shape[0])
    return TrainResult(losses, time.perf_counter() - start)
