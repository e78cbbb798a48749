"""``hopdyn mha``: modern Hopfield attention — rank collapse against depth, a trained no-skip
model on digits, and the paper's accuracy claim on a small ViT (digits) and a character-level
GPT (Python standard-library text), for standard attention (α' = 0) against carried scores
(α' > 0), with a verdict per claim."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .._io import format_table
from ._common import add_json_option, check_device, maybe_write_json


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


def _residuals(text: str) -> list[float | None]:
    """``"std,0.5"``: ``std`` is the standard residual ``x + Attn``, a number ``α`` the weighted one."""
    try:
        return [None if s.strip() == "std" else float(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected 'std' or numbers separated by commas, got {text!r}") from exc


def register(sub) -> None:
    p = sub.add_parser(
        "mha",
        help="modern Hopfield attention: rank collapse, and the accuracy claim on a ViT (digits) and a char GPT",
        description="Experiments with modern Hopfield attention (attention scores carried between layers with "
        "weight alpha'). 'collapse': pure attention stacks with random weights; 'digits': small attention "
        "classifiers without skip connections trained on scikit-learn's digits; 'vit': a small pre-LN ViT on "
        "digit patches; 'gpt': a character-level GPT on Python standard-library source. Each prints a verdict "
        "per claim with 95% bootstrap intervals over seeds.",
    )
    ex = p.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    c = ex.add_parser("collapse", help="collapse metrics against depth in pure attention stacks")
    _shared_options(c, [0.0, 0.2, 0.5, 0.8], seeds=8, seeds_help="weight draws")
    c.add_argument("--depth", type=int, default=24, help="number of layers (default %(default)s)")
    c.add_argument("--tokens", type=int, default=32, help="tokens T (default %(default)s)")
    c.add_argument("--width", type=int, default=64, help="token width d (default %(default)s)")
    c.add_argument("--heads", type=int, default=4, help="heads (default %(default)s)")
    c.add_argument("--causal", action="store_true", help="causal attention (each token sees only earlier ones)")
    c.set_defaults(run=run_collapse)

    d = ex.add_parser("digits", help="accuracy of trained no-skip attention classifiers on digits")
    _shared_options(d, [0.0, 0.5], seeds=3, seeds_help="seeds per setting")
    d.add_argument("--depths", type=_ints, default=list(range(1, 9)), help="depths, e.g. 1-8 or 1,2,4 (default 1-8)")
    d.add_argument("--epochs", type=int, default=15, help="training epochs (default %(default)s)")
    d.add_argument("--batch-size", type=int, default=128, help="(default %(default)s)")
    d.set_defaults(run=run_digits)

    v = ex.add_parser("vit", help="a small pre-LN ViT on digit patches: MHA (alpha' > 0) against standard attention")
    _train_options(v, seeds=5, depth=4, width=32)
    v.add_argument("--patch", type=int, choices=(2, 4), default=2, help="patch size: 2 (16 tokens) or 4 (4 tokens)")
    v.add_argument("--epochs", type=int, default=20, help="training epochs (default %(default)s)")
    v.set_defaults(run=run_vit)

    g = ex.add_parser("gpt", help="a character-level GPT on stdlib source: MHA (alpha' > 0) against standard attention")
    _train_options(g, seeds=3, depth=4, width=48)
    g.add_argument("--steps", type=int, default=300, help="training steps (default %(default)s)")
    g.add_argument("--context", type=int, default=64, help="context length in characters (default %(default)s)")
    g.add_argument("--chars", type=int, default=200_000, help="corpus size in characters (default %(default)s)")
    g.set_defaults(run=run_gpt)


def _train_options(p: argparse.ArgumentParser, seeds: int, depth: int, width: int) -> None:
    p.add_argument("--alphas", type=_floats, default=[0.0, 0.5], help="values of alpha' (default 0,0.5)")
    p.add_argument("--residual", type=_residuals, default=[None],
                   help="alpha of the residual around attention: 'std' (x + Attn) or numbers in [0,1), e.g. "
                   "std,0.5 (with several --alphas: the alpha x alpha' grid; default std)")
    p.add_argument("--seeds", type=int, default=seeds, help="seeds per setting (default %(default)s)")
    p.add_argument("--depth", type=int, default=depth, help="blocks (default %(default)s)")
    p.add_argument("--width", type=int, default=width, help="model width d (default %(default)s)")
    p.add_argument("--heads", type=int, default=4, help="heads (default %(default)s)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default %(default)s)")
    p.add_argument("--out", metavar="DIR", help="also draw the figure into DIR (png and pdf)")
    add_json_option(p)


def _shared_options(p: argparse.ArgumentParser, alphas: list[float], seeds: int, seeds_help: str) -> None:
    shown = ",".join(f"{a:g}" for a in alphas)
    p.add_argument("--alphas", type=_floats, default=alphas, help=f"values of alpha' (default {shown})")
    p.add_argument("--alpha", type=float, default=0.0,
                   help="alpha, the share of the input kept by each attention layer (default 0: no skip of any kind)")
    p.add_argument("--seeds", type=int, default=seeds, help=f"{seeds_help} (default %(default)s)")
    p.add_argument("--plot", metavar="PATH", help="also draw the figure to PATH (.png or .pdf)")
    p.add_argument("--out", metavar="DIR", help="also draw the figure into DIR (png and pdf)")
    add_json_option(p)


def _check_plot(path: str | None) -> None:
    if path is not None and Path(path).suffix not in (".png", ".pdf"):
        raise ValueError(f"--plot: expected a .png or .pdf path, got {path}")


def _save_plot(fig, path: str | None, out: str | None = None, name: str = "") -> None:
    """Draw ``fig`` to ``--plot PATH`` and/or into ``--out DIR`` as ``name``.png/.pdf."""
    import matplotlib.pyplot as plt

    from ..figures import save

    if path:
        p = Path(path)
        save(fig, p.parent, p.stem, formats=(p.suffix[1:],))
        print(f"wrote {p}")
    if out:
        for f in save(fig, Path(out), name):
            print(f"wrote {f}")
    plt.close(fig)


def run_collapse(args: argparse.Namespace) -> int:
    from ..experiments.mha import collapse_fit, collapse_slowing, collapse_vs_depth

    _check_plot(args.plot)
    r = collapse_vs_depth(args.alphas, args.depth, args.tokens, args.width, args.heads, n_seeds=args.seeds,
                          alpha=args.alpha, causal=args.causal)
    med = {name: np.median(v, axis=-1) for name, v in r.metrics.items()}
    shown = [d for d in r.depths if d in (0, 1, 2, 3, 4, 6, 8, 12, 16, 24) or d == r.depths[-1]]
    rows = [[int(d), *(f"{med['relative_residual'][i, d]:.2e} / {med['cosine_gap'][i, d]:.2e}"
                       for i in range(len(r.alphas_h)))] for d in shown]
    print("median relative residual / (1 - mean token cosine) after each layer (depth 0 = input)")
    print(format_table(["depth", *(f"alpha'={a:g}" for a in r.alphas_h)], rows))
    for a, n in zip(r.alphas_h, r.layers_to("relative_residual", 1e-12)):
        reached = n if n is not None else f"> {args.depth}"
        print(f"alpha'={a:g}: relative residual below 1e-12 from depth {reached}")
    fit = collapse_fit(r)
    print("collapse rate against Dong et al.'s doubly exponential bound (order q: 1 = exponential, 3 = the bound):")
    for line in fit.lines():
        print("  " + line)
    print("verdicts (paper: carried scores slow rank collapse; paired over stacks and inputs, 95% bootstrap CI):")
    for c in collapse_slowing(r):
        print(f"  alpha'={c['alpha_h']:g} vs 0 at depth {c['depth']}: delta log10 relative residual = "
              f"{c['diff_log10']:+.2f} [{c['low']:+.2f}, {c['high']:+.2f}] -> {c['verdict']}")
    if args.plot or args.out:
        from ..figures.mha import FLOORS
        from ..plots.mha import plot_collapse_vs_depth

        q = {name: r.quantiles(name) for name in FLOORS}
        title = f"pure attention stacks, random weights, no skip{', causal' if args.causal else ''}"
        _save_plot(plot_collapse_vs_depth(r.depths, r.alphas_h, q, floors=FLOORS, title=title), args.plot, args.out,
                   "mha_collapse_causal" if args.causal else "mha_collapse")
    maybe_write_json(args, {"alphas_h": r.alphas_h, "depths": r.depths, "settings": r.settings,
                            "median": med, "quartiles": {k: r.quantiles(k, (0.25, 0.75)) for k in med}, "fit": fit,
                            "slowing": collapse_slowing(r)})
    return 0


def run_digits(args: argparse.Namespace) -> int:
    from ..experiments.mha import digits_accuracy

    _check_plot(args.plot)
    r = digits_accuracy(args.depths, args.alphas, tuple(range(args.seeds)), epochs=args.epochs,
                        batch_size=args.batch_size, alpha=args.alpha)
    print(f"test accuracy on digits (mean ± sd over {args.seeds} seeds), no skip connections, alpha={args.alpha:g}")
    print(format_table(r.table_headers(), r.table_rows()))
    if args.plot or args.out:
        from ..plots.mha import plot_accuracy_vs_depth

        title = f"digits, no residual connections; alpha = {args.alpha:g} (share of the input kept)"
        fig = plot_accuracy_vs_depth(r.depths, r.alphas_h, r.accuracy, chance=0.1, title=title)
        _save_plot(fig, args.plot, args.out, "mha_digits")
    maybe_write_json(args, r)
    return 0


def _report_training(args: argparse.Namespace, r, name: str, title: str) -> int:
    headers, rows = r.table()
    print(f"{title}; {r.n_params} parameters for every alpha' (MHA adds none); {len(r.seeds)} seeds")
    print(format_table(headers, rows))
    print(f"verdicts (paper: MHA improves {r.metric} at equal parameters; paired over seeds, 95% bootstrap CI):")
    for line in r.verdict_lines() or ["no comparison: --alphas must include 0 and another value"]:
        print("  " + line)
    if args.out:
        from ..plots.mha import plot_training_comparison

        _save_plot(plot_training_comparison(r, title=title), None, args.out, name)
    maybe_write_json(args, {**{k: v for k, v in vars(r).items()}, "comparisons": r.comparisons()})
    return 0


def run_vit(args: argparse.Namespace) -> int:
    from ..experiments.mha import vit_digits

    r = vit_digits(args.alphas, args.residual, tuple(range(_seeds(args))), patch=args.patch, depth=args.depth,
                   d_model=args.width, n_heads=args.heads, epochs=args.epochs, device=check_device(args.device))
    return _report_training(args, r, "mha_vit", f"ViT on digits ({args.patch}x{args.patch} patches), test accuracy")


def run_gpt(args: argparse.Namespace) -> int:
    from ..experiments.mha import char_gpt

    r = char_gpt(args.alphas, args.residual, tuple(range(_seeds(args))), n_chars=args.chars, context=args.context,
                 depth=args.depth, d_model=args.width, n_heads=args.heads, steps=args.steps,
                 device=check_device(args.device))
    return _report_training(args, r, "mha_gpt", "char GPT on Python stdlib source, held-out bits/char")


def _seeds(args: argparse.Namespace) -> int:
    if args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
    return args.seeds
