"""``hopdyn explore``: a live explorer of a network's dynamics in the browser.

Every interaction recomputes with hopdyn's analyses on the user's network (Dash on plotly):

- :mod:`.state` — the view's state and its URL encoding;
- :mod:`.inputs` — loading the user's memories (``.npy``, ``.npz``, ``.pt``);
- :mod:`.planes` — the plane shown for N_V > 2 (two memories, PCA, two directions);
- :mod:`.view` — the layers, computed by :mod:`hopdyn.analysis` and cached; the JSON export;
- :mod:`.figure` — plotly drawings of a view;
- :mod:`.layout`, :mod:`.callbacks`, :mod:`.app` — the page, its callbacks, the app and a server.

Dash is imported only by :func:`create_app` and :class:`Server` (``from hopdyn.explore.app import ...``).
"""
from .state import State, decode, encode, network
from .view import View, ViewCache, compute_view, trajectories, view_data

__all__ = ["State", "View", "ViewCache", "compute_view", "decode", "encode", "network", "trajectories", "view_data"]
