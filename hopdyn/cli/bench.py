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
    if not names:
        raise ValueError(f"--only needs at least one benchmark name; known: {', '.join(benches)}")
    unknown = [n for n in names if n not in benches]
    if unknown:
        raise ValueError(f"--only: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(benches)}")
    results = {name: _run_one(name, args.quick) for name in tqdm(names, desc="bench")}
    rows = [[n, f"{r['ratio']:.3g}" if isinstance(r.get("ratio"), (int, float)) else "-", r.get("target", "-"),
             "yes" if r.get("ok") else "NO"] for n, r in results.items()]
    print(format_table(["benchmark", "ratio", "target", "met"], rows))
    for n, r in results.items():
        details = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()
                            if k not in ("ratio", "target", "ok"))
        print(f"- {n}: {details}")
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "machine": platform.machine(),
            "python": platform.python_version(), "quick": args.quick}
    missed = [n for n, r in results.items() if not r.get("ok")]
    write_json(args.json, {"meta": meta, "ok": not missed, "missed": missed, "results": results})
    print(f"wrote {args.json}")
    for n in missed:
        r = results[n]
        why = f"failed: {r['error']}" if "error" in r else f"ratio {r.get('ratio', float('nan')):.3g}"
        print(f"MISSED: {n}: target {r.get('target', '-')} not met ({why})")
    if missed:
        print(f"{len(missed)} of {len(results)} benchmarks missed their target: {', '.join(missed)}", file=sys.stderr)
        return 1
    print(f"all {len(results)} benchmarks met their targets")
    return 0


def _run_one(name: str, quick: bool) -> dict:
    """Run one benchmark in a fresh process (see hopdyn/bench/__main__.py) and return its numbers;
    a benchmark that crashes counts as missed, with the last line of its error."""
    cmd = [sys.executable, "-m", "hopdyn.bench", name] + (["--quick"] if quick else [])
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        err = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        return {"ok": False, "target": "runs", "error": err}
    try:
        result = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"ok": False, "target": "runs", "error": f"no JSON result, last line: {lines[-1][:200]}"}
    result["ok"] = bool(result.get("ok"))
    return result
