"""``hopdyn figures``: regenerate every registered figure (seeded) and ``figures/README.md``."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from tqdm.auto import tqdm

from .._io import atomic_path
from .._threads import torch_threads
from ..figures import FigureSpec, load_all
from ._common import add_json_option, maybe_write_json


def register(sub) -> None:
    p = sub.add_parser(
        "figures",
        help="regenerate the paper's figures, phase portraits and the interactive explorer",
        description="Run every registered figure recipe (deterministic, seeded) and write PNG + PDF files (and "
        "the HTML explorer) into the output folder, plus a README.md there listing each figure, what it shows "
        "and the command that made it.",
    )
    p.add_argument("--out", default="figures", help="output folder (default: %(default)s); files there that "
                   "hopdyn did not write (a README.md without its 'Made by `hopdyn figures`' line, a figure file "
                   "not listed in it) are never overwritten: the run stops instead")
    p.add_argument("--only", metavar="NAME,...", help="comma-separated figure names (see --list)")
    p.add_argument("--list", action="store_true", help="list the figure names and captions, then exit")
    add_json_option(p)
    p.set_defaults(run=run)


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
    figures = load_all()
    chosen = select(figures, args.only)
    if args.list:
        for spec in chosen:
            print(f"{spec.name}: {spec.caption}")
        maybe_write_json(args, {"figures": [{"name": s.name, "caption": s.caption} for s in chosen]})
        return 0
    out = Path(args.out)
    if not args.out.strip():
        raise ValueError("--out: expected a folder, got an empty string (the default is figures/)")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} exists and is not a folder")
    check_ownership(out, chosen)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    timings = []
    # the recipes' tensors are small: one torch thread is faster than two (see hopdyn._threads)
    with torch_threads(1), tqdm(chosen, desc="figures", unit="fig") as bar:
        for spec in bar:
            bar.set_postfix_str(spec.name)
            t0 = time.perf_counter()
            written[spec.name] = [Path(p) for p in spec.make(out)]
            timings.append((spec.name, time.perf_counter() - t0))
            # the index lists each figure as soon as it is made, so that a later run knows its files
            # are hopdyn's even when this one is interrupted
            write_index(out, figures, written)
    for name, seconds in timings:
        print(f"{name:<28} {seconds:6.1f} s  " + ", ".join(_rel(p, out) for p in written[name]))
    print(f"wrote {sum(map(len, written.values()))} files and {out / 'README.md'}")
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


def write_index(out: Path, figures: dict[str, FigureSpec], written: dict[str, list[Path]]) -> Path:
    """``out/README.md``: every registered figure with its caption, its files and the command that
    makes it. Figures not made in this run keep the files already in ``out`` (``NAME.*``,
    ``NAME/``); when there are none, the entry says how to make them."""
    lines = [
        "# Figures",
        "",
        "Made by `hopdyn figures` (all of them, seeded and deterministic); one figure alone with",
        "`hopdyn figures --only NAME`. Each entry: what the figure shows, its files, the command.",
        "",
    ]
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
        lines += ["```bash", f"hopdyn figures --only {name}", "```", ""]
    path = out / "README.md"
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path


def _rel(p: Path, root: Path) -> str:
    try:
        return Path(p).relative_to(root).as_posix()
    except ValueError:
        return Path(p).as_posix()
