"""``hopdyn figures``: regenerate every registered figure (seeded) and ``figures/README.md``; with
``--xi FILE`` the network figures of the user's own memories (:mod:`hopdyn.figures.network`)."""

from __future__ import annotations

import argparse
import math
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .._io import atomic_path
from .._threads import torch_threads
from .._validate import as_tensor
from ..analysis.geometry import Plane
from ..figures import FigureSpec, load_all
from ._common import add_json_option, check_output_dir, maybe_write_json


def register(sub) -> None:
    p = sub.add_parser(
        "figures",
        help="regenerate the paper's figures, phase portraits and the interactive explorer; or the network "
        "figures of your own memories (--xi)",
        description="Run every registered figure recipe (deterministic, seeded) and write PNG + PDF files (and "
        "the HTML explorer) into the output folder, plus a README.md there listing each figure, what it shows "
        "and the command that made it. With --xi FILE the same network figures (energy landscapes, 3-D "
        "surfaces, phase portraits, basin maps, Theorem 1's radii, a continuation in beta or gamma) are drawn "
        "for your memories instead, into figures_<FILE stem>/ unless --out says otherwise.",
    )
    p.add_argument("--out", default=None, help="output folder (default: figures, or figures_<FILE stem> with "
                   "--xi); files there that hopdyn did not write (a README.md without its 'Made by `hopdyn "
                   "figures`' line, a figure file not listed in it) are never overwritten: the run stops instead")
    p.add_argument("--only", metavar="NAME,...", help="comma-separated figure names (see --list)")
    p.add_argument("--list", action="store_true", help="list the figure names and captions, then exit")
    net = p.add_argument_group("your own network (--xi)")
    net.add_argument("--xi", metavar="FILE", help="your memories, one per row, shape (N_H, N_V): .npy, .npz "
                     "(the array 'xi' or the only one) or .pt (one tensor)")
    net.add_argument("--beta", type=float, default=None, help=f"inverse temperature beta (default {XI_BETA:g})")
    net.add_argument("--gamma", default=None, help=f"RecLag's gamma, or 'vanilla' for the vanilla MHN alone "
                     f"(default {XI_GAMMA:g})")
    net.add_argument("--plane", default=None, help="the plane to draw when N_V > 2: 'memories:i,j' (through the "
                     "origin and memories i and j; default memories:0,1), 'pca' (through the origin, spanned by "
                     "the top-2 principal directions of the memories) or a .npy file holding two directions, "
                     "shape (2, N_V) (the plane through the origin they span)")
    net.add_argument("--continuation", choices=("beta", "gamma"), default=None, help="the parameter of the "
                     "continuation figure (default gamma, or beta for a vanilla network)")
    net.add_argument("--resolution", type=int, default=None, help="grid points per side of the basin maps "
                     f"(default {XI_RESOLUTION})")
    add_json_option(p)
    p.set_defaults(run=run)


#: Defaults of the network figures for --xi.
XI_BETA, XI_GAMMA, XI_RESOLUTION = 4.0, 1000.0, 200


def select(figures: dict[str, FigureSpec], only: str | None) -> list[FigureSpec]:
    """The figures named in ``only`` (all when None), in registry order; unknown names raise."""
    if only is None:
        return list(figures.values())
    names = [n.strip() for n in only.split(",") if n.strip()]
    if not names:
        raise ValueError("--only needs at least one figure name (see hopdyn figures --list)")
    unknown = [n for n in names if n not in figures]
    if unknown:
        raise ValueError(f"--only: unknown figure(s) {', '.join(unknown)}; known: {', '.join(figures)}")
    return [spec for name, spec in figures.items() if name in names]


def run(args: argparse.Namespace) -> int:
    if args.xi is None:
        given = [f for f in ("beta", "gamma", "plane", "continuation", "resolution") if getattr(args, f) is not None]
        if given:
            raise ValueError(f"--{given[0]} needs --xi FILE (the built-in figures have fixed settings)")
        figures, command, intro = load_all(), None, None
    else:
        figures, command, intro = xi_figures(args)
    chosen = select(figures, args.only)
    if args.list:
        for spec in chosen:
            print(f"{spec.name}: {spec.caption}")
        maybe_write_json(args, {"figures": [{"name": s.name, "caption": s.caption} for s in chosen]})
        return 0
    if args.out is None:
        args.out = "figures" if args.xi is None else f"figures_{Path(args.xi).stem}"
        check_output_dir(args.out, "--out")
    out = Path(args.out)
    if not args.out.strip():
        raise ValueError("--out: expected a folder, got an empty string (the default is figures/)")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} exists and is not a folder")
    check_ownership(out, chosen)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    timings = []
    start = time.perf_counter()
    # the recipes' tensors are small: one torch thread is faster than two (see hopdyn._threads)
    with torch_threads(1), tqdm(chosen, desc="figures", unit="fig") as bar:
        for spec in bar:
            bar.set_postfix_str(spec.name)
            t0 = time.perf_counter()
            written[spec.name] = [Path(p) for p in spec.make(out)]
            timings.append((spec.name, time.perf_counter() - t0))
            # the index lists each figure as soon as it is made, so that a later run knows its files
            # are hopdyn's even when this one is interrupted
            write_index(out, figures, written, command, intro)
    for name, seconds in timings:
        print(f"{name:<28} {seconds:6.1f} s  " + ", ".join(_rel(p, out) for p in written[name]))
    print(f"wrote {sum(map(len, written.values()))} files and {out / 'README.md'} in {time.perf_counter() - start:.1f} s")
    maybe_write_json(
        args,
        {
            "out": str(out),
            "figures": [
                {
                    "name": name,
                    "caption": figures[name].caption,
                    "files": [_rel(p, out) for p in written[name]],
                    "seconds": sec,
                }
                for name, sec in timings
            ],
        },
    )
    return 0


def parse_plane(spec: str, xi: torch.Tensor) -> Plane:
    """The plane of ``--plane``: ``memories:i,j``, ``pca`` or a ``.npy`` file of two directions ``(2, N_V)``,
    all through the origin; ``ValueError`` naming ``--plane`` otherwise."""
    n_h, n_v = xi.shape
    zero = torch.zeros(n_v, dtype=torch.float64)
    try:
        if spec == "pca":
            return Plane.pca(xi)
        if spec.startswith("memories:"):
            try:
                i, j = (int(k) for k in spec.split(":", 1)[1].split(","))
            except ValueError:
                raise ValueError(f"expected 'memories:i,j' with two memory indices, got {spec!r}") from None
            if not (0 <= i < n_h and 0 <= j < n_h) or i == j:
                raise ValueError(f"expected two different memories in 0..{n_h - 1}, got {i} and {j}")
            return Plane.through(zero, xi[i], xi[j], ("origin", f"memory {i}", f"memory {j}"))
        if not spec.endswith(".npy"):
            raise ValueError(f"expected 'memories:i,j', 'pca' or a .npy file of two directions, got {spec!r}")
        if not Path(spec).is_file():
            raise ValueError(f"no such file: {spec}")
        try:
            d = np.load(spec, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f"{spec} is not a readable .npy array") from exc
        if not isinstance(d, np.ndarray) or d.dtype.kind not in "fiu":
            raise ValueError(f"{spec} must hold an array of real numbers")
        d = as_tensor(torch.from_numpy(d.astype(np.float64)), spec)  # refuses NaN and inf
        if tuple(d.shape) != (2, n_v):
            raise ValueError(f"{spec} must hold two directions of shape (2, N_V) = (2, {n_v}), got {tuple(d.shape)}")
        return Plane.through(zero, d[0], d[1], ("origin", "direction 1", "direction 2"))
    except ValueError as exc:
        raise ValueError(f"--plane: {str(exc).splitlines()[0]}") from None


def xi_figures(args: argparse.Namespace) -> tuple[dict[str, FigureSpec], Callable[[str], str], list[str]]:
    """The network figures of the memories in ``--xi`` (checked: file, shape, values, β, γ, plane),
    the command that makes each one and the lines that open their README."""
    from ..explore.inputs import load_memories
    from ..figures.network import FigureNetwork, network_figures

    xi = load_memories(args.xi)
    beta = XI_BETA if args.beta is None else args.beta
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"--beta: expected a finite number > 0, got {beta:g}")
    gamma_text = str(XI_GAMMA if args.gamma is None else args.gamma).strip()
    if gamma_text.lower() == "vanilla":
        gamma = None
    else:
        try:
            gamma = float(gamma_text)
        except ValueError:
            raise ValueError(f"--gamma: expected a number > 0 or 'vanilla', got {gamma_text!r}") from None
        if not (math.isfinite(gamma) and gamma > 0):
            raise ValueError(f"--gamma: expected a finite number > 0 or 'vanilla', got {gamma_text}")
    if args.continuation == "gamma" and gamma is None:
        raise ValueError("--continuation gamma needs RecLag: give --gamma (a number, not vanilla)")
    resolution = XI_RESOLUTION if args.resolution is None else args.resolution
    if resolution < 2:
        raise ValueError(f"--resolution: expected at least 2 grid points per side, got {resolution}")
    if xi.shape[1] == 2 and args.plane is not None:
        raise ValueError("--plane: a 2-D network is drawn in its own plane (N_V = 2); leave --plane out")
    plane_spec = args.plane or "memories:0,1"
    plane = None if xi.shape[1] == 2 else parse_plane(plane_spec, xi)
    net = FigureNetwork(xi, beta, gamma, plane, name=Path(args.xi).name)
    cmd = f"hopdyn figures --xi {args.xi} --beta {beta:g} --gamma {'vanilla' if gamma is None else f'{gamma:g}'}"
    if xi.shape[1] > 2:
        cmd += f" --plane {plane_spec}"
    if args.continuation:
        cmd += f" --continuation {args.continuation}"
    if args.resolution is not None:
        cmd += f" --resolution {resolution}"
    if args.out is not None:
        cmd += f" --out {args.out}"
    intro = [
        f"# Figures of {net.describe}",
        "",
        f"{MARKER} from your memories: `{cmd}` (seeded and deterministic); one figure alone",
        "with `--only NAME` added. Each entry: what the figure shows, its files, the command.",
        "",
    ]
    figures = network_figures(net, parameter=args.continuation, resolution=resolution)
    return figures, (lambda name: f"{cmd} --only {name}"), intro


#: The line that marks a README.md as written by ``hopdyn figures`` (in its first lines).
MARKER = "Made by `hopdyn figures`"


def _hopdyn_index(out: Path) -> str | None:
    """The text of ``out/README.md`` when hopdyn wrote it; None when there is none; raises when a
    README.md is there that hopdyn did not write."""
    readme = out / "README.md"
    if not readme.exists() and not readme.is_symlink():
        return None
    try:
        text = readme.read_text(errors="replace") if readme.is_file() and not readme.is_symlink() else ""
    except OSError:
        text = ""
    if not any(line.startswith(MARKER) for line in text.splitlines()[:5]):
        raise ValueError(f"--out {out}: {readme} was not written by hopdyn figures and would be overwritten; "
                         "choose another --out (e.g. a new folder)")
    return text


def check_ownership(out: Path, chosen: list[FigureSpec]) -> None:
    """Refuse (``ValueError``, one line) to overwrite any file hopdyn did not write: ``out/README.md``
    must carry the hopdyn marker, and every existing file of the chosen figures (``NAME.*``,
    ``NAME/*``) must be listed in that index."""
    if not out.is_dir():
        return
    index = _hopdyn_index(out) or ""
    listed = set(re.findall(r"\[`([^`]+)`\]\(", index))
    for spec in chosen:
        mine = [p for p in out.glob(f"{spec.name}.*") if not p.name.startswith(".")]
        if (out / spec.name).is_dir():
            mine += [p for p in (out / spec.name).iterdir() if not p.name.startswith(".")]
        for p in sorted(mine):
            if _rel(p, out) not in listed:
                raise ValueError(f"--out {out}: {p} was not written by hopdyn figures and would be overwritten; "
                                 "choose another --out (e.g. a new folder)")


def write_index(out: Path, figures: dict[str, FigureSpec], written: dict[str, list[Path]],
                command: Callable[[str], str] | None = None, intro: list[str] | None = None) -> Path:
    """``out/README.md``: every figure of ``figures`` with its caption, its files and the command that
    makes it (``command(name)``, default ``hopdyn figures --only NAME``), after the ``intro`` lines.
    Figures not made in this run keep the files already in ``out`` (``NAME.*``, ``NAME/``); when there
    are none, the entry says how to make them."""
    command = command or (lambda name: f"hopdyn figures --only {name}")
    lines = intro or [
        "# Figures",
        "",
        f"{MARKER} (all of them, seeded and deterministic); one figure alone with",
        "`hopdyn figures --only NAME`. Each entry: what the figure shows, its files, the command.",
        "",
    ]
    lines = list(lines)
    for name, spec in figures.items():
        files = written.get(name) or sorted(p for p in out.glob(f"{name}.*") if not p.name.startswith("."))
        if name not in written and (out / name).is_dir():
            files += sorted(p for p in (out / name).iterdir() if p.is_file())
        lines += [f"## {name}", "", spec.caption, ""]
        pngs = [p for p in files if p.suffix == ".png"]
        for p in pngs:
            lines += [f"![{name}]({_rel(p, out)})", ""]
        if files:
            lines += ["Files: " + ", ".join(f"[`{_rel(p, out)}`]({_rel(p, out)})" for p in files), ""]
        else:
            lines += ["(not generated yet)", ""]
        lines += ["```bash", command(name), "```", ""]
    path = out / "README.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path


def _rel(p: Path, root: Path) -> str:
    try:
        return Path(p).relative_to(root).as_posix()
    except ValueError:
        return Path(p).as_posix()
