"""The explorer's state: one small value object that the controls, the URL and the view share.

A :class:`State` says which network to build from the loaded memories (β, γ or vanilla, the kind of
gate, the feature Lagrangian), which plane and square of feature space to show at what resolution,
which layers to draw and where the user started trajectories. :func:`encode` and :func:`decode`
turn it into the URL's query string and back, so that a link reopens the same view; bad values in a
URL or a control raise ``ValueError`` with one readable line (the page shows it).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from urllib.parse import parse_qsl, urlencode

import torch

from ..analysis.continuation import vary_memory
from ..core.lagrangians import Abs, LogSumExp, Quadratic
from ..core.network import MHN

__all__ = ["BACKGROUNDS", "FEATURES", "GATES", "OVERLAYS", "PLANES", "State", "decode", "encode", "network"]

#: The layer drawn as the picture's colours.
BACKGROUNDS = ("energy", "density", "basins", "none")
#: Layers drawn over it.
OVERLAYS = ("contours", "boundaries", "b0", "theorem1", "fixed_points", "fates")
#: The gate of a network with a γ: RecLag's hard gate or its smoothed form (sigmoid(κ G)).
GATES = ("hard", "smooth")
#: Feature Lagrangians: Quadratic (g(v) = v) or Abs (g(v) = sign v).
FEATURES = {"quadratic": Quadratic, "abs": Abs}
#: Planes of feature space for N_V > 2: through the origin and two memories, the top-2 PCA plane of
#: the memories, or two directions of the user's.
PLANES = ("memories", "pca", "directions")
#: Resolutions offered (grid points per side).
RESOLUTIONS = (50, 100, 150, 200, 300)
#: Most trajectory starts kept (older ones are dropped first).
MAX_STARTS = 12

Point = tuple[float, float]


@dataclass(frozen=True)
class State:
    """Everything the view depends on, as plain values (all hashable: it keys the view cache).

    ``gamma=None`` is the vanilla network (LogSumExp); otherwise RecLag(β, γ) with the ``gate``
    (``"smooth"``: :meth:`hopdyn.RecLag.smooth` with ``kappa``). ``memories`` are the user's own
    edits of a 2-D network's memories (``None``: the loaded ones). ``plane`` and its arguments
    (``pair`` of memory indices, ``u``/``v`` directions as comma-separated numbers) apply when
    N_V > 2. ``extent`` is the square shown (``None``: around the memories), ``n`` the grid points
    per side, ``starts`` the in-plane points where trajectories begin."""

    beta: float = 4.0
    gamma: float | None = 1000.0
    gate: str = "hard"
    kappa: float = 20.0
    feature: str = "quadratic"
    plane: str = "memories"
    pair: tuple[int, int] = (0, 1)
    u: str = ""
    v: str = ""
    extent: tuple[float, float, float, float] | None = None
    n: int = 200
    background: str = "energy"
    overlays: tuple[str, ...] = ("contours", "b0", "theorem1", "fates")
    starts: tuple[Point, ...] = ()
    memories: tuple[Point, ...] | None = None
    click: str = "trajectory"

    def __post_init__(self) -> None:
        _finite_positive(self.beta, "beta")
        if self.gamma is not None:
            _finite_positive(self.gamma, "gamma")
        _finite_positive(self.kappa, "kappa")
        _choice(self.gate, GATES, "gate")
        _choice(self.feature, tuple(FEATURES), "feature")
        _choice(self.plane, PLANES, "plane")
        _choice(self.background, BACKGROUNDS, "background")
        _choice(self.click, ("trajectory", "add", "delete"), "click")
        for o in self.overlays:
            _choice(o, OVERLAYS, "layer")
        if not (isinstance(self.n, int) and 10 <= self.n <= 400):
            raise ValueError(f"n (grid points per side) must be an integer in [10, 400], got {self.n!r}")
        if self.extent is not None:
            s0, s1, t0, t1 = self.extent
            if not all(math.isfinite(x) for x in self.extent) or not (s0 < s1 and t0 < t1):
                raise ValueError(f"extent must be finite (s_min < s_max, t_min < t_max), got {self.extent}")
        for name, pts in (("starts", self.starts), ("memories", self.memories or ())):
            if not all(len(p) == 2 and all(math.isfinite(x) for x in p) for p in pts):
                raise ValueError(f"{name} must be finite points (x, y), got {pts}")
        if self.memories is not None and len(self.memories) == 0:
            raise ValueError("at least one memory is needed (deleting the last one is not possible)")

    def with_(self, **changes) -> State:
        return replace(self, **changes)


def _finite_positive(x: float, name: str) -> None:
    if not (isinstance(x, (int, float)) and math.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {x!r}")


def _choice(x: str, allowed: tuple[str, ...], name: str) -> None:
    if x not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {x!r}")


def network(state: State, xi: torch.Tensor) -> MHN:
    """The network the state describes on the memories ``xi`` (or on its edited 2-D memories)."""
    if state.memories is not None:
        if xi.shape[1] != 2:
            raise ValueError(f"memories can be edited only for a 2-D network, this one has N_V = {xi.shape[1]}")
        xi = torch.tensor(state.memories, dtype=torch.float64)
    memory = vary_memory(LogSumExp(state.beta), state.beta, state.gamma)
    if state.gamma is not None and state.gate == "smooth":
        memory = memory.smooth(state.kappa)
    return MHN(xi, memory=memory, feature=FEATURES[state.feature]())


# -- the URL -------------------------------------------------------------------------------------
def _num(x: float) -> str:
    return f"{x:.6g}"


def _points(pts) -> str:
    return ";".join(f"{_num(a)},{_num(b)}" for a, b in pts)


def encode(state: State) -> str:
    """The query string (with its ``?``) of the state's fields that differ from the defaults."""
    d, default = asdict(state), asdict(State())
    out = {}
    for k, val in d.items():
        if val == default[k]:
            continue
        if k == "gamma":
            out[k] = "vanilla" if val is None else _num(val)
        elif k in ("starts", "memories"):
            out[k] = _points(val)
        elif k in ("extent", "pair"):
            out[k] = ",".join(_num(x) for x in val)
        elif k == "overlays":
            out[k] = ",".join(val) or "none"
        elif isinstance(val, float):
            out[k] = _num(val)
        else:
            out[k] = str(val)
    return "?" + urlencode(out) if out else ""


def _parse_points(text: str, name: str) -> tuple[Point, ...]:
    pts = []
    for part in filter(None, text.split(";")):
        xy = _floats(part, name)
        if len(xy) != 2:
            raise ValueError(f"{name}: each point needs two numbers x,y, got {part!r}")
        pts.append((xy[0], xy[1]))
    return tuple(pts)


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{name}: expected comma-separated numbers, got {text!r}") from None


def decode(query: str, base: State | None = None) -> State:
    """The state of a query string (``?beta=2&gamma=vanilla…``); fields it does not name keep
    their value in ``base`` (default :class:`State`). Unknown keys and bad values raise
    ``ValueError``."""
    base = State() if base is None else base
    changes: dict = {}
    for key, val in parse_qsl(query.lstrip("?"), keep_blank_values=True):
        if key in ("beta", "kappa"):
            changes[key] = _floats(val, key)[0] if val else math.nan
        elif key == "gamma":
            changes[key] = None if val == "vanilla" else (_floats(val, key) or [math.nan])[0]
        elif key in ("gate", "feature", "plane", "background", "click", "u", "v"):
            changes[key] = val
        elif key == "n":
            try:
                changes[key] = int(val)
            except ValueError:
                raise ValueError(f"n: expected an integer, got {val!r}") from None
        elif key == "pair":
            p = _floats(val, key)
            if len(p) != 2 or any(x != int(x) for x in p):
                raise ValueError(f"pair: expected two memory indices i,j, got {val!r}")
            changes[key] = (int(p[0]), int(p[1]))
        elif key == "extent":
            e = _floats(val, key)
            if len(e) != 4:
                raise ValueError(f"extent: expected four numbers s_min,s_max,t_min,t_max, got {val!r}")
            changes[key] = tuple(e)
        elif key == "overlays":
            changes[key] = () if val == "none" else tuple(filter(None, val.split(",")))
        elif key in ("starts", "memories"):
            changes[key] = _parse_points(val, key)
        else:
            raise ValueError(f"unknown URL parameter {key!r}")
    return replace(base, **changes)
