"""Recipe for the A-Hop figure (seed 003): correct retrieval against difficulty and the footprint
weights A-Hop learns (one seed, small problem, so it runs in seconds; see :mod:`hopdyn.experiments.adaptive`)."""
from __future__ import annotations

from pathlib import Path

from ..experiments import adaptive as ex
from . import figure, save


@figure(
    "adaptive_sweep",
    "Seed 003 (A-Hop). (a) Correct retrieval (the retrieved pattern's nearest memory is the query's source) "
    "against the difficulty of mixed variants (shared random shift, Gaussian noise, masking; hopdyn's "
    "parameterisation) on 32 synthetic memories in d = 32, one seed, 60 epochs of Adam (lr 0.1), "
    "10 training and 10 test variants per memory; U-Hop learns its kernel from the memories alone (separation loss); "
    "dashed: the Bayes-optimal accuracy (MAP source under the true likelihood); stars: the paper's A-Hop and best baseline at 0.4 and 0.5 "
    "(N = d = 64, 200 epochs, its own variants). (b) A-Hop's learned weight of each rank of the sorted "
    "per-dimension similarities (U^T beta w) at t = 0.4, for the distance and dot-product bases.",
)
def sweep(out_dir: Path) -> list[Path]:
    from ..plots.adaptive import sweep_figure

    data = ex.difficulty_sweep(epochs=60, n_train=10, n_test=10, progress=False)
    paper = {
        "paper A-Hop": (0.4, ex.PAPER["A-Hop"]["synthetic@0.4"][0]),
        "paper best baseline": (0.4, ex.PAPER["best baseline"]["synthetic@0.4"][0]),
        "paper A-Hop ": (0.5, ex.PAPER["A-Hop"]["synthetic@0.5"][0]),
        "paper best baseline ": (0.5, ex.PAPER["best baseline"]["synthetic@0.5"][0]),
    }
    return save(sweep_figure(data, paper), out_dir, "adaptive_sweep")
