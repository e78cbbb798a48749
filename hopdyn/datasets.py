"""Built-in example networks used by the commands, the figures and the notebooks."""
from __future__ import annotations

import math

import torch


def planar_memories(dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Five memories in the plane at irregular angles and radii (shape ``(5, 2)``).

    With ``β = 4`` every memory is a stable attractor of the vanilla network (with ``β = 2``
    memories 1 and 3 are not), and for RecLag with ``γ = 1000`` the origin becomes a sixth
    attractor while all memories survive.
    """
    angles = torch.tensor([10.0, 85.0, 150.0, 215.0, 300.0], dtype=dtype) * math.pi / 180
    radii = torch.tensor([2.0, 1.6, 2.3, 1.8, 2.1], dtype=dtype)
    return torch.stack([radii * torch.cos(angles), radii * torch.sin(angles)], dim=-1)


#: β and γ of the default planar example.
PLANAR_BETA = 4.0
PLANAR_GAMMA = 1000.0
