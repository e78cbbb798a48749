"""torchdiffeq's ``odeint`` (one step size shared by the batch): the route of solves that record
autograd, of torchdiffeq's other methods and of ``step_size="shared"``.

Imported on first use (torchdiffeq imports scipy.integrate, ~0.4 s). Its step-size underflow is
an ``AssertionError`` from deep inside torchdiffeq; here it is a ``RuntimeError`` that says what
happened, as :func:`hopdyn.core.dopri.dopri5` says it.
"""
from __future__ import annotations

import torch


def odeint(field, y0: torch.Tensor, t: torch.Tensor, **solve) -> torch.Tensor:
    """``torchdiffeq.odeint(field, y0, t, **solve)``, with its failures said plainly."""
    from torchdiffeq import odeint as _odeint

    try:
        return _odeint(field, y0, t, **solve)
    except AssertionError as exc:
        if "underflow in dt" not in str(exc):
            raise
        raise RuntimeError(
            f"{solve.get('method', 'dopri5')}: the step size underflowed ({exc}): the field is stiff or the "
            "solution blows up in finite time; try a looser tolerance, a stiff solver or a shorter span"
        ) from None
