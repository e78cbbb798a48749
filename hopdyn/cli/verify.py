"""``hopdyn verify``: Theorems 1–3 checked numerically, on a default suite or on the user's network.

Each row is one claim on one network, with what the toolkit expects (most claims must hold; a
few rows are constructed so that they must fail, e.g. γ ≤ N_H), what it measured, and whether
the two agree. A check that samples nothing relevant (Theorem 3 with no sampled point in B0) is
reported as untested; a check that raises a numeric problem is reported as an error for its row
while the other rows run. Exit 0 when every row behaves as expected or is untested, 1 when a row
is unexpected or raised an error, 2 on bad input.
"""
from __future__ import annotations

import argparse
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..analysis import theorems
from .._io import format_table
from .._validate import as_tensor
from ..analysis.attractors import MemorySwallowedWarning
from ..datasets import PLANAR_BETA, PLANAR_GAMMA, planar_memories
from ..core.lagrangians import LogSumExp, RecLag
from ..core.network import MHN
from ._common import add_json_option, load_xi, maybe_write_json


def register(sub) -> None:
    p = sub.add_parser(
        "verify",
        help="check Theorems 1-3 of the RecLag paper numerically",
        description="Check Theorem 1 (the origin attracts a ball for gamma > N_H; the paper's radius, the "
        "Cauchy-Schwarz radius and the exact radius r* found by search), Theorem 2 (RecLag equals the vanilla MHN "
        "below gamma*) and Theorem 3 (B0 = {p_H < delta}, with log Z in closed form; memories swallowed by the "
        "origin). Without --xi: a default suite of small adversarial networks, 2-D examples and the paper's setting "
        "(N_V=512, N_H=250, beta=5, memories of norm 10), including rows that must fail.",
    )
    p.add_argument("--xi", help="your interaction matrix (.npy or .pt, shape N_H x N_V): check this network only")
    p.add_argument("--beta", type=float, help="inverse temperature for --xi (default 5)")
    p.add_argument("--gamma", type=float, help="RecLag gamma for --xi (needed by Theorems 1 and 3; at gamma <= N_H "
                   "Theorem 1 reports its counter-example and fails)")
    p.add_argument("--radius", type=float, help="Theorem 3's ball radius R for --xi (default 1.5 x the largest memory norm)")
    p.add_argument("--v0", help="Theorem 2's initial state for --xi (.npy or .pt, shape N_V; default memory 0 plus noise)")
    p.add_argument("--theorem", type=int, action="append", choices=(1, 2, 3),
                   help="check only this theorem (repeatable; default all three)")
    p.add_argument("--quick", action="store_true", help="default suite without the paper-setting rows")
    p.add_argument("--seed", type=int, default=0)
    add_json_option(p)
    p.set_defaults(run=run)


@dataclass
class Row:
    """One claim on one network: ``expect`` is whether it should hold; ``verdict`` what the
    check found ("holds", "fails", "untested", "error", or "step(0) wrong" for a Theorem 1
    counter-example that did not come out); ``result`` whether that matched ("ok",
    "UNEXPECTED", "untested", "ERROR")."""

    claim: str
    network: str
    params: str
    expect: bool
    check: Callable[[], Any]
    report: Any = None
    warning: str = ""
    error: str = ""

    @property
    def verdict(self) -> str:
        if self.error:
            return "error"
        r = self.report
        if isinstance(r, theorems.Theorem1Report) and not r.gamma > r.n_memories:
            # the claim fails at γ ≤ N_H; it counts as failing only when the counter-example
            # (step(0) = mean memory) was found, so a wrong step(0) shows up as unexpected
            return "fails" if r.counterexample else "step(0) wrong"
        if isinstance(r, theorems.Theorem3Report):
            return r.verdict
        return "holds" if r.holds else "fails"

    @property
    def result(self) -> str:
        v = self.verdict
        if v in ("error", "untested"):
            return "ERROR" if v == "error" else "untested"
        return "ok" if v == ("holds" if self.expect else "fails") else "UNEXPECTED"

    @property
    def ok(self) -> bool:
        return self.result == "ok"


def _measured(row: Row) -> str:
    if row.error:
        return f"error: {row.error}"
    r = row.report
    if isinstance(r, theorems.Theorem1Report):
        if not r.gamma > r.n_memories:
            return f"step(0) = mean memory: {r.counterexample}; 0 fixed: {r.origin_fixed}"
        bad = sum(b.n_not_zero for b in r.balls)
        return (f"eps={r.eps_paper:.3g} eps_CS={r.eps_cs:.3g} r*<={r.r_star:.4g}; r*/eps={r.ratio_paper:.3g} "
                f"r*/eps_CS={r.ratio_cs:.3g}; {bad} tested points not sent to 0")
    if isinstance(r, theorems.Theorem2Report):
        below, above = r.ratios < 1, r.ratios > 1
        star = f"gamma*={r.gamma_star:.4g}" if math.isfinite(r.gamma_star) else f"log gamma*={r.log_gamma_star:.6g}"
        return (f"{star}; max dist below={float(r.sup_distance[below].max()):.3g}, "
                f"min dist above={float(r.sup_distance[above].min()):.3g}")
    quad = "agrees" if r.quad_agrees else "DISAGREES"
    mc = ("n/a" if not r.mc_informative else f"{r.log_Z_mc:.4g} {'agrees' if r.mc_agrees else 'DISAGREES'}")
    tested = "none in B0: untested" if r.verdict == "untested" else f"{r.n_tested_b0} in B0"
    near = (f", {r.n_boundary_samples} near the B0 surface ({r.n_boundary_b0} in B0)"
            if r.n_boundary_samples else "")
    return (f"{r.n_disagree} of {r.n_checked} disagree ({r.n_samples} sampled{near}; {r.n_outside} outside ball; "
            f"{tested}); "
            f"logZ={r.log_Z:.6g} (quad {r.log_Z_quad:.6g} {quad}, MC {mc}); B0 {r.b0_fraction:.3g}, "
            f"basin of 0 {r.basin_fraction:.3g} (x{r.basin_to_b0:.3g}), B0 {'in' if r.b0_in_basin else 'NOT in'} "
            f"basin; {r.memories.n_swallowed} memories swallowed")


def _normal_xi(n_h: int, n_v: int, seed: int) -> torch.Tensor:
    return torch.randn(n_h, n_v, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _paper_xi(seed: int) -> torch.Tensor:
    xi = _normal_xi(250, 512, seed)
    return 10 * xi / xi.norm(dim=-1, keepdim=True)


def _paper_points(xi: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """States that straddle B0's boundary in the paper's setting (random directions at radii
    up to 0.4, where the gate opens near 0.27) and data-like states (memories plus noise)."""
    u = torch.randn(4000, xi.shape[1], generator=g, dtype=xi.dtype)
    near = 0.4 * torch.rand(4000, 1, generator=g, dtype=xi.dtype) * u / u.norm(dim=-1, keepdim=True)
    idx = torch.randint(0, xi.shape[0], (1000,), generator=g)
    noisy = xi[idx] + 2.0 * torch.randn(1000, xi.shape[1], generator=g, dtype=xi.dtype) / math.sqrt(xi.shape[1])
    return torch.cat([near, noisy])


def default_suite(quick: bool, seed: int) -> list[Row]:
    """The default rows: small adversarial networks, 2-D examples and the paper's setting."""
    T1, T2, T3 = theorems.check_theorem1, theorems.check_theorem2, theorems.check_theorem3
    gauss = _normal_xi(20, 5, seed)
    clustered = torch.tensor([[1.0] + [0.0] * 7]) + 0.05 * _normal_xi(30, 8, seed + 1)
    pairs = torch.cat([_normal_xi(3, 6, seed + 2), -_normal_xi(3, 6, seed + 2)])
    planar = planar_memories()
    tiny = 0.5 * planar / planar.norm(dim=-1, keepdim=True)  # SPEC: memories near the origin are swallowed
    small = _normal_xi(10, 4, seed + 3)
    d3 = _normal_xi(6, 3, seed + 4)
    r_gauss = theorems.exact_radius(gauss, 2.0, 60.0)[0]
    g = torch.Generator().manual_seed(seed)
    rows = [
        Row("T1: 0 attracts the eps-balls", "N(0,1) 20x5", "beta=2 gamma=3N_H", True, lambda: T1(gauss, 2.0, 60.0)),
        Row("T1 at gamma = N_H (counter-example)", "N(0,1) 20x5", "beta=2 gamma=N_H", False, lambda: T1(gauss, 2.0, 20.0)),
        Row("T1 on a ball 5% larger than r*", "N(0,1) 20x5", f"beta=2 gamma=3N_H R={1.05 * r_gauss:.3g}", False,
            lambda: T1(gauss, 2.0, 60.0, radius=1.05 * r_gauss)),
        Row("T1: 0 attracts the eps-balls", "clustered 30x8", "beta=4 gamma=2N_H", True, lambda: T1(clustered, 4.0, 60.0)),
        Row("T1: 0 attracts the eps-balls", "+-pairs 6x6", "beta=3 gamma=1.01N_H", True, lambda: T1(pairs, 3.0, 6.06)),
        Row("T1: 0 attracts the eps-balls", "planar 5x2", f"beta={PLANAR_BETA:g} gamma={PLANAR_GAMMA:g}", True,
            lambda: T1(planar, PLANAR_BETA, PLANAR_GAMMA)),
        Row("T2: RecLag = vanilla below gamma*", "N(0,1) 10x4", "beta=2", True,
            lambda: T2(small, 2.0, torch.randn(4, generator=g, dtype=torch.float64))),
        Row("T2 with a smoothed gate (kappa=1)", "N(0,1) 10x4", "beta=2 kappa=1", False,
            lambda: T2(small, 2.0, small[0], kappa=1.0)),
        Row("T2: RecLag = vanilla below gamma*", "planar 5x2", f"beta={PLANAR_BETA:g}", True,
            lambda: T2(planar, PLANAR_BETA, torch.tensor([0.3, -1.2], dtype=torch.float64))),
        Row("T3: B0 = {p_H < delta}", "N(0,1) 6x3", "beta=1 gamma=20 R=2", True, lambda: T3(d3, 1.0, 20.0, 2.0)),
        Row("T3 with points outside the ball", "N(0,1) 6x3", "beta=1 gamma=20 R=1, points in R=3", False,
            lambda: T3(d3, 1.0, 20.0, 1.0, points=3 * torch.rand(2000, 3, generator=g, dtype=torch.float64) - 1.5)),
        Row("T3: B0 = {p_H < delta}", "planar 5x2", f"beta={PLANAR_BETA:g} gamma={PLANAR_GAMMA:g} R=3", True,
            lambda: T3(planar, PLANAR_BETA, PLANAR_GAMMA, 3.0)),
        Row("T3: B0 = {p_H < delta}", "norm-0.5 planar 5x2", "beta=3 gamma=10 R=1.5", True,
            lambda: T3(tiny, 3.0, 10.0, 1.5)),
    ]
    if not quick:
        paper = _paper_xi(seed)
        v0 = paper[0] + torch.randn(512, generator=g, dtype=torch.float64)
        rows += [
            Row("T1: 0 attracts the eps-balls", "paper 250x512 |xi|=10", "beta=5 gamma=300", True,
                lambda: T1(paper, 5.0, 300.0)),
            Row("T2: RecLag = vanilla below gamma*", "paper 250x512 |xi|=10", "beta=5", True, lambda: T2(paper, 5.0, v0)),
            Row("T3: B0 = {p_H < delta}", "paper 250x512 |xi|=10",
                "beta=5 gamma=300 R=12; 4000 points at |v|<0.4, 1000 noisy memories", True,
                lambda: T3(paper, 5.0, 300.0, 12.0, points=_paper_points(paper, g))),
        ]
    return rows


def user_rows(args: argparse.Namespace) -> list[Row]:
    xi = as_tensor(load_xi(args.xi), "--xi", min_dim=2)
    if xi.dim() != 2:
        raise ValueError(f"--xi must have shape (N_H, N_V), got shape {tuple(xi.shape)}")
    n_h, n_v = xi.shape
    which = sorted(set(args.theorem or (1, 2, 3)))
    if (1 in which or 3 in which) and args.gamma is None:
        raise ValueError("--gamma is required with --xi for Theorems 1 and 3 (or pass --theorem 2)")
    # at --gamma <= N_H Theorem 1's row runs and reports its counter-example (a check that fails)
    if args.v0:
        v0 = _load_v0(args.v0, n_v)
    else:
        g = torch.Generator().manual_seed(args.seed)
        v0 = xi[0] + 0.1 * float(xi.norm(dim=-1).max()) / math.sqrt(n_v) * torch.randn(n_v, generator=g, dtype=xi.dtype)
    R = args.radius if args.radius is not None else 1.5 * float(xi.norm(dim=-1).max())
    name, b, gam = f"{args.xi} ({n_h}x{n_v})", 5.0 if args.beta is None else args.beta, args.gamma
    # the checks take the user's network (the same MHN a user would build)
    reclag = MHN(xi, memory=RecLag(b, gam)) if gam is not None else None
    rows = []
    if 1 in which:
        rows.append(Row("T1: 0 attracts the eps-balls", name, f"beta={b:g} gamma={gam:g}", True,
                        lambda: theorems.check_theorem1(reclag)))
    if 2 in which:
        rows.append(Row("T2: RecLag = vanilla below gamma*", name, f"beta={b:g}", True,
                        lambda: theorems.check_theorem2(MHN(xi, memory=LogSumExp(b)), v0=v0)))
    if 3 in which:
        rows.append(Row("T3: B0 = {p_H < delta}", name, f"beta={b:g} gamma={gam:g} R={R:.4g}", True,
                        lambda: theorems.check_theorem3(reclag, R=R)))
    return rows


def _load_v0(path: str, n_v: int) -> torch.Tensor:
    try:
        v = load_xi(path)
    except (ValueError, FileNotFoundError) as exc:
        raise type(exc)(str(exc).replace("--xi:", "--v0:")) from exc
    if tuple(v.shape) != (n_v,):
        raise ValueError(f"--v0 must hold one state of shape ({n_v},), got shape {tuple(v.shape)}")
    return v


# what a check may raise on a network it cannot handle numerically (overflow, a solver that
# gives up): reported as that row's error while the other rows run
_NUMERIC_ERRORS = (ValueError, ArithmeticError, RuntimeError, np.linalg.LinAlgError)


def _run_row(row: Row) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MemorySwallowedWarning)
        try:
            row.report = row.check()
        except _NUMERIC_ERRORS as exc:
            msg = str(exc).splitlines()[0] if str(exc) else ""
            row.error = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    row.warning = "; ".join(str(w.message) for w in caught if issubclass(w.category, MemorySwallowedWarning))


def _row_json(r: Row) -> dict[str, Any]:
    return {"claim": r.claim, "network": r.network, "parameters": r.params, "expected_holds": r.expect,
            "holds": r.verdict == "holds", "verdict": r.verdict, "result": r.result, "ok": r.ok,
            "warning": r.warning, "error": r.error, "report": r.report}


def run(args: argparse.Namespace) -> int:
    if args.beta is not None and not (args.beta > 0 and math.isfinite(args.beta)):
        raise ValueError(f"--beta must be a finite number > 0, got {args.beta}")
    if args.gamma is not None and not (args.gamma > 0 and math.isfinite(args.gamma)):
        raise ValueError(f"--gamma must be a finite number > 0, got {args.gamma}")
    if args.radius is not None and not (args.radius > 0 and math.isfinite(args.radius)):
        raise ValueError(f"--radius must be a finite number > 0, got {args.radius}")
    if not args.xi and any(x is not None for x in (args.beta, args.gamma, args.radius, args.v0)):
        print("note: --beta, --gamma, --radius and --v0 apply to --xi only; the default suite uses its own parameters")
    rows = user_rows(args) if args.xi else default_suite(args.quick, args.seed)
    for row in tqdm(rows, desc="verify", leave=False):
        _run_row(row)
    table = [[r.claim, r.network, r.params, _measured(r), "holds" if r.expect else "fails", r.verdict, r.result]
             for r in rows]
    print(format_table(["claim", "network", "parameters", "measured", "expected", "verdict", "result"], table))
    for r in rows:
        if r.warning:
            print(f"warning ({r.network}, {r.params}): {r.warning}")
        if r.error:
            print(f"error ({r.claim}; {r.network}, {r.params}): {r.error}; the other claims ran")
        elif r.verdict == "untested":
            print(f"untested ({r.claim}; {r.network}, {r.params}): no sampled point lies in B0 (no ray from 0 "
                  "crosses its surface inside the ball and no uniform sample fell in it), so the claim was not "
                  "tested (pass points in B0, a larger radius or gamma, or a smaller beta)")
        elif isinstance(r.report, theorems.Theorem1Report) and not r.report.gamma > r.report.n_memories and r.expect:
            print(f"counter-example ({r.claim}; {r.network}, {r.params}): gamma <= N_H = {r.report.n_memories}, "
                  "the gate is open at 0 and step(0) is the mean memory: Theorem 1 needs gamma > N_H")
    n_unexpected = sum(r.result == "UNEXPECTED" for r in rows)
    n_errors = sum(r.result == "ERROR" for r in rows)
    n_untested = sum(r.result == "untested" for r in rows)
    n_ok = sum(r.ok for r in rows)
    print(f"{n_ok} of {len(rows)} claims behaved as expected"
          + (f"; {n_untested} untested" if n_untested else "")
          + (f"; {n_unexpected} did not" if n_unexpected else "")
          + (f"; {n_errors} raised an error" if n_errors else ""))
    out: dict[str, Any] = {
        "ok": n_unexpected == 0 and n_errors == 0,
        "n_untested": n_untested,
        "n_errors": n_errors,
        "rows": [_row_json(r) for r in rows],
    }
    if args.xi:
        for r in rows:
            out["theorem" + r.claim[1]] = r.report if not r.error else {"verdict": "error", "error": r.error}
    maybe_write_json(args, out)
    return 0 if out["ok"] else 1
