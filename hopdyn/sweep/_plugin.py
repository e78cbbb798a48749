"""The Dask worker plugin of the sweeps (its own module: it imports distributed, which
``hopdyn.sweep`` loads only when a sweep runs on a cluster)."""
from __future__ import annotations

from distributed import WorkerPlugin


class TorchThreads(WorkerPlugin):
    """Torch intra-op threads per worker process, so that workers × Dask threads × torch
    threads stay within the cores (torch's default is one per core in every worker, which
    oversubscribes a machine ``n_workers`` times). Also applied to workers that join or restart."""

    name = "hopdyn-torch-threads"

    def __init__(self, n: int) -> None:
        self.n = int(n)

    def setup(self, worker) -> None:
        import torch

        torch.set_num_threads(self.n)
