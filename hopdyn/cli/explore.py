"""``hopdyn explore``: the live explorer in the browser, on the built-in network or ``--xi FILE``."""
from __future__ import annotations

import argparse
import math
import sys
import time
import webbrowser


def register(sub) -> None:
    p = sub.add_parser(
        "explore",
        help="live explorer of a network in the browser (energy, basins, B0, Theorem 1, trajectories)",
        description="Start a local web app that recomputes with hopdyn on every interaction: energy, density, "
        "basins, the B0 boundary, Theorem 1's radii, fixed points and memory fates on a plane of feature space, "
        "and trajectories of both simulators from wherever you click. Without --xi it starts on the built-in "
        "planar network (5 memories). The URL keeps the view's state; Ctrl-C stops the server.",
    )
    p.add_argument("--xi", metavar="FILE", help="your memories, one per row: .npy, .npz (array 'xi' or the only "
                   "one) or .pt (one tensor), shape (N_H, N_V)")
    p.add_argument("--beta", type=float, default=4.0, help="inverse temperature β (default: %(default)s)")
    p.add_argument("--gamma", default="1000", help="RecLag's γ, or 'vanilla' for the MHN without gate "
                   "(default: %(default)s)")
    p.add_argument("--lagrangian", choices=("reclag", "smooth", "vanilla"), default="reclag",
                   help="memory Lagrangian: RecLag (hard gate), its smoothed form (--kappa), or the vanilla "
                   "LogSumExp (default: %(default)s)")
    p.add_argument("--kappa", type=float, default=20.0, help="sharpness κ of the smoothed gate (default: %(default)s)")
    p.add_argument("--feature", choices=("quadratic", "abs"), default="quadratic",
                   help="feature Lagrangian L_V (default: %(default)s)")
    p.add_argument("--plane", default="memories:0,1", help="plane for N_V > 2: 'memories:i,j' (origin and "
                   "memories i, j), 'pca' (top-2 principal directions of the memories) (default: %(default)s)")
    p.add_argument("--n", type=int, default=200, help="grid points per side (default: %(default)s)")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8050, help="port (default: %(default)s; 0 picks a free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    p.add_argument("--check", action="store_true", help="compute the first view, print its timing and exit "
                   "without serving (for scripts and tests)")
    p.set_defaults(run=run)


def _state(args: argparse.Namespace):
    from ..explore.state import State

    gamma: float | None
    if args.lagrangian == "vanilla" or args.gamma.strip().lower() == "vanilla":
        gamma = None
    else:
        try:
            gamma = float(args.gamma)
        except ValueError:
            raise ValueError(f"--gamma: expected a number > 0 or 'vanilla', got {args.gamma!r}") from None
    plane, pair = "memories", (0, 1)
    if args.plane == "pca":
        plane = "pca"
    elif args.plane.startswith("memories:"):
        try:
            i, j = (int(x) for x in args.plane.split(":", 1)[1].split(","))
        except ValueError:
            raise ValueError(f"--plane: expected 'memories:i,j' or 'pca', got {args.plane!r}") from None
        pair = (i, j)
    else:
        raise ValueError(f"--plane: expected 'memories:i,j' or 'pca', got {args.plane!r}")
    for name, x in (("--beta", args.beta), ("--kappa", args.kappa)):
        if not (math.isfinite(x) and x > 0):
            raise ValueError(f"{name}: expected a finite number > 0, got {x}")
    return State(beta=args.beta, gamma=gamma, gate="smooth" if args.lagrangian == "smooth" else "hard",
                 kappa=args.kappa, feature=args.feature, plane=plane, pair=pair, n=args.n)


def run(args: argparse.Namespace) -> int:
    from .._threads import few_threads
    from ..explore.inputs import builtin_memories, load_memories

    state = _state(args)
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port: expected 0..65535, got {args.port}")
    xi = load_memories(args.xi) if args.xi else builtin_memories()
    name = args.xi or "built-in planar network"
    from ..explore.app import Server, create_app
    from ..explore.view import compute_view

    app = create_app(xi, state, name)
    t0 = time.perf_counter()
    with few_threads(state.n ** 2 * xi.shape[0] * xi.shape[1]):
        view = compute_view(state, xi)
    seconds = time.perf_counter() - t0
    net = view.net
    print(f"{name}: {net.n_memories} memories, N_V = {net.n_features}, {net.memory!r}; "
          f"first view {seconds:.2f} s at {state.n}² grid points")
    for layer, why in view.notes.items():
        print(f"  {layer}: {why}")
    if args.check:
        return 0
    try:
        server = Server(app, args.host, args.port)
    except OSError as exc:
        raise OSError(f"--port {args.port}: cannot serve on {args.host}:{args.port} ({exc.strerror or exc})") from None
    print(f"hopdyn explore: serving on {server.url} (Ctrl-C to stop)", flush=True)
    server.start()
    if not args.no_browser:
        webbrowser.open(server.url)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()
        print("hopdyn explore: stopped", file=sys.stderr)
