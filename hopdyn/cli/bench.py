"""``hopdyn bench``: the benchmarks, with ratios against baselines measured in the same run."""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys

import torch
from tqdm.auto import tqdm

from .._io import format_table, write_json


def register(sub) -> None:
    p = sub.add_parser("bench", help="run the benchmarks and write their numbers to JSON",
                       description="Run the benchmarks; each compares against a baseline measured in the same run.")
    p.add_argument("--only", help="comma-separated benchmark names (default: all)")
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    p.add_argument("--json", metavar="PATH", default="bench.json", help="where to write the numbers (default %(default)s)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..bench import load_all

    benches = load_all()
    if args.list:
        for name, fn in benches.items():
            print(f"{name}: {(fn.__doc__ or '').strip().splitlines()[0]}")
        return 0
    names = list(benches) if not args.only else [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [n for n in names if n not in benches]
    if unknown:
        raise ValueError(f"--only: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(benches)}")
    results = {}
    for name in tqdm(names, desc="bench"):
        # a fresh process per benchmark (see hopdyn/bench/__main__.py)
        cmd = [sys.executable, "-m", "hopdyn.bench", name] + (["--quick"] if args.quick else [])
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"benchmark {name} failed:\n{out.stderr}")
        results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    rows = [[n, f"{r['ratio']:.3g}", r["target"], "yes" if r["ok"] else "NO"] for n, r in results.items()]
    print(format_table(["benchmark", "ratio", "target", "met"], rows))
    for n, r in results.items():
        details = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()
                            if k not in ("ratio", "target", "ok"))
        print(f"- {n}: {details}")
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
            "python": platform.python_version(), "quick": args.quick}
    write_json(args.json, {"meta": meta, "results": results})
    print(f"wrote {args.json}")
    return 0
