"""The Dash app of ``hopdyn explore`` and a server that can be started and stopped in-process.

Dash (on plotly, hopdyn's interactive stack) runs every interaction through hopdyn itself on the
server: the page holds no precomputed data, so any ``xi``, β, γ and plane can be explored.
"""
from __future__ import annotations

import logging
import threading

import torch
from dash import Dash
from werkzeug.serving import make_server

from .callbacks import Explorer, register
from .inputs import builtin_memories, check_memories
from .layout import layout
from .state import State, network

__all__ = ["Server", "create_app"]


def create_app(xi: torch.Tensor | None = None, state: State | None = None, name: str | None = None) -> Dash:
    """The explorer on the memories ``xi`` (default: the built-in planar network) starting from
    ``state`` (default :class:`State`); ``name`` is shown in the title. The network ``state``
    builds on ``xi`` is checked here, so bad input fails before a server starts."""
    if xi is None:
        xi, name = builtin_memories(), name or "built-in planar network"
    xi = check_memories(xi, name or "xi")
    state = State() if state is None else state
    network(state, xi)  # raises ValueError on a network hopdyn refuses
    if xi.shape[1] > 2 and state.plane == "memories" and max(state.pair) >= xi.shape[0]:
        raise ValueError(f"the plane's memories {state.pair} do not exist: there are {xi.shape[0]}")
    app = Dash(__name__, title="hopdyn explore", update_title=None)
    app.layout = layout(f"hopdyn explore: {name or 'xi'}", xi.shape[0], xi.shape[1], state.n)
    register(app, Explorer(xi, state, name or "xi"))
    return app


class Server:
    """``app`` served on ``host:port`` (port 0: a free one) in a background thread, until
    :meth:`stop`; ``url`` is where it answers."""

    def __init__(self, app: Dash, host: str = "127.0.0.1", port: int = 0):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        self._server = make_server(host, port, app.server, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> Server:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
