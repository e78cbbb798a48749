"""``hopdyn mha``: modern Hopfield attention — rank collapse against depth, and a trained
no-skip model on digits, for standard attention (α' = 0) against carried scores (α' > 0)."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .._io import format_table
from ._common import add_json_option, maybe_write_json


def _floats(text: str) -> list[float]:
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from exc


def _ints(text: str) -> list[int]:
    """``"1-8"`` or ``"1,2,4"``."""
    try:
        if "-" in text:
            lo, hi = (int(s) for s in text.split("-", 1))
            return list(range(lo, hi + 1))
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a range like 1-8 or integers like 1,2,4, got {text!r}") from exc


def register(sub) -> None:
    p = sub.add_parser(
        "mha",
        help="modern Hopfield attention: rank collapse against depth, and a trained no-skip model on digits",
        description="Experiments with modern Hopfield attention (attention scores carried between layers with "
        "weight alpha'). 'collapse': pure attention stacks with random weights; 'digits': small attention "
        "classifiers without skip connections trained on scikit-learn's digits.",
    )
    ex = p.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    c = ex.add_parser("collapse", help="collapse metrics against depth in pure attention stacks")
    _shared_options(c, [0.0, 0.2, 0.5, 0.8], seeds=8, seeds_help="weight draws")
    c.add_argument("--depth", type=int, default=24, help="number of layers (default %(default)s)")
    c.add_argument("--tokens", type=int, default=32, help="tokens T (default %(default)s)")
    c.add_argument("--width", type=int, default=64, help="token width d (default %(default)s)")
    c.add_argument("--heads", type=int, default=4, help="heads (default %(default)s)")
    c.set_defaults(run=run_collapse)

    d = ex.add_parser("digits", help="accuracy of trained no-skip attention classifiers on digits")
    _shared_options(d, [0.0, 0.5], seeds=3, seeds_help="seeds per setting")
    d.add_argument("--depths", type=_ints, default=list(range(1, 9)), help="depths, e.g. 1-8 or 1,2,4 (default 1-8)")
    d.add_argument("--epochs", type=int, default=15, help="training epochs (default %(default)s)")
    d.add_argument("--batch-size", type=int, default=128, help="(default %(default)s)")
    d.set_defaults(run=run_digits)


def _shared_options(p: argparse.ArgumentParser, alphas: list[float], seeds: int, seeds_help: str) -> None:
    shown = ",".join(f"{a:g}" for a in alphas)
    p.add_argument("--alphas", type=_floats, default=alphas, help=f"values of alpha' (default {shown})")
    p.add_argument("--alpha", type=float, default=0.0,
                   help="alpha, the share of the input kept by each attention layer (default 0: no skip of any kind)")
    p.add_argument("--seeds", type=int, default=seeds, help=f"{seeds_help} (default %(default)s)")
    p.add_argument("--plot", metavar="PATH", help="also draw the figure to PATH (.png or .pdf)")
    add_json_option(p)


def _check_plot(path: str | None) -> None:
    if path is not None and Path(path).suffix not in (".png", ".pdf"):
        raise ValueError(f"--plot: expected a .png or .pdf path, got {path}")


def _save_plot(fig, path: str) -> None:
    from ..figures import save

    p = Path(path)
    save(fig, p.parent, p.stem, formats=(p.suffix[1:],))
    print(f"wrote {p}")


def run_collapse(args: argparse.Namespace) -> int:
    from ..experiments.mha import collapse_vs_depth

    _check_plot(args.plot)
    r = collapse_vs_depth(args.alphas, args.depth, args.tokens, args.width, args.heads, n_seeds=args.seeds,
                          alpha=args.alpha)
    med = {name: np.median(v, axis=-1) for name, v in r.metrics.items()}
    shown = [d for d in r.depths if d in (0, 1, 2, 3, 4, 6, 8, 12, 16, 24) or d == r.depths[-1]]
    rows = [[int(d), *(f"{med['relative_residual'][i, d]:.2e} / {med['cosine_gap'][i, d]:.2e}"
                       for i in range(len(r.alphas_h)))] for d in shown]
    print("median relative residual / (1 - mean token cosine) after each layer (depth 0 = input)")
    print(format_table(["depth", *(f"alpha'={a:g}" for a in r.alphas_h)], rows))
    for a, n in zip(r.alphas_h, r.layers_to("relative_residual", 1e-12)):
        reached = n if n is not None else f"> {args.depth}"
        print(f"alpha'={a:g}: relative residual below 1e-12 from depth {reached}")
    if args.plot:
        from ..plots.mha import plot_collapse_vs_depth

        from ..figures.mha import FLOORS

        q = {name: r.quantiles(name) for name in FLOORS}
        _save_plot(plot_collapse_vs_depth(r.depths, r.alphas_h, q, floors=FLOORS), args.plot)
    maybe_write_json(args, {"alphas_h": r.alphas_h, "depths": r.depths, "settings": r.settings,
                            "median": med, "quartiles": {k: r.quantiles(k, (0.25, 0.75)) for k in med}})
    return 0


def run_digits(args: argparse.Namespace) -> int:
    from ..experiments.mha import digits_accuracy

    _check_plot(args.plot)
    r = digits_accuracy(args.depths, args.alphas, tuple(range(args.seeds)), epochs=args.epochs,
                        batch_size=args.batch_size, alpha=args.alpha)
    print(f"test accuracy on digits (mean ± sd over {args.seeds} seeds), no skip connections, alpha={args.alpha:g}")
    print(format_table(r.table_headers(), r.table_rows()))
    if args.plot:
        from ..plots.mha import plot_accuracy_vs_depth

        title = f"digits, no residual connections; alpha = {args.alpha:g} (share of the input kept)"
        fig = plot_accuracy_vs_depth(r.depths, r.alphas_h, r.accuracy, chance=0.1, title=title)
        _save_plot(fig, args.plot)
    maybe_write_json(args, r)
    return 0
