"""``hopdyn verify``: Theorems 1–3 checked numerically, on a default suite or on the user's network.

Each row is one claim on one network, with what the toolkit expects (most claims must hold; a
few rows are constructed so that they must fail, e.g. γ ≤ N_H), what it measured, and whether
the two agree. Exit 0 when every row behaves as expected, 1 otherwise, 2 on bad input.
"""
from __future__ import annotations

import argparse
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from tqdm.auto import tqdm

from .. import theorems
from .._io import format_table
from .._validate import as_tensor
from ..basins import MemorySwallowedWarning
from ..examples import PLANAR_BETA, PLANAR_GAMMA, planar_memories
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
    p.add_argument("--beta", type=float, default=5.0, help="inverse temperature for --xi (default %(default)s)")
    p.add_argument("--gamma", type=float, help="RecLag gamma for --xi (needed by Theorems 1 and 3; Theorem 1 needs gamma > N_H)")
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
    """One claim on one network: ``expect`` is whether it should hold; ``ok`` whether the
    verdict matched."""

    claim: str
    network: str
    params: str
    expect: bool
    check: Callable[[], Any]
    report: Any = None
    warning: str = ""

    @property
    def verdict(self) -> bool:
        r = self.report
        if isinstance(r, theorems.Theorem1Report) and r.gamma <= r.n_memories:
            # the claim fails at γ ≤ N_H; it counts as failing only when the counter-example
            # (step(0) = mean memory) was found, so a wrong step(0) shows up as unexpected
            return not r.counterexample
        return bool(r.holds)

    @property
    def ok(self) -> bool:
        return self.verdict == self.expect


def _measured(r: Any) -> str:
    if isinstance(r, theorems.Theorem1Report):
        if r.gamma <= r.n_memories:
            return f"step(0) = mean memory: {r.counterexample}; 0 fixed: {r.origin_fixed}"
        bad = sum(b.n_not_zero for b in r.balls)
        return (f"eps={r.eps_paper:.3g} eps_CS={r.eps_cs:.3g} r*<={r.r_star:.4g}; r*/eps={r.ratio_paper:.3g} "
                f"r*/eps_CS={r.ratio_cs:.3g}; {bad} tested points not sent to 0")
    if isinstance(r, theorems.Theorem2Report):
        below, above = r.ratios < 1, r.ratios > 1
        return (f"gamma*={r.gamma_star:.4g}; max dist below={float(r.sup_distance[below].max()):.3g}, "
                f"min dist above={float(r.sup_distance[above].min()):.3g}")
    return (f"logZ={r.log_Z:.6g} (quad {r.log_Z_quad:.6g}, MC {'%.4g' % r.log_Z_mc if r.mc_informative else 'n/a'}); "
            f"{r.n_disagree} of {r.n_samples} disagree ({r.n_outside} outside ball); B0 {r.b0_fraction:.3g}, "
            f"basin of 0 {r.basin_fraction:.3g} (x{r.basin_to_b0:.3g}); {r.memories.n_swallowed} memories swallowed")


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
    if 1 in which and args.gamma <= n_h:
        raise ValueError(
            f"--gamma {args.gamma:g} <= N_H = {n_h}: Theorem 1 needs gamma > N_H (at gamma <= N_H the gate is open "
            f"at 0 and step(0) is the mean memory, so 0 is not a fixed point); pass --gamma > {n_h} or --theorem 2/3"
        )
    if args.v0:
        v0 = _load_v0(args.v0, n_v)
    else:
        g = torch.Generator().manual_seed(args.seed)
        v0 = xi[0] + 0.1 * float(xi.norm(dim=-1).max()) / math.sqrt(n_v) * torch.randn(n_v, generator=g, dtype=xi.dtype)
    R = args.radius if args.radius is not None else 1.5 * float(xi.norm(dim=-1).max())
    name, b, gam = f"{args.xi} ({n_h}x{n_v})", args.beta, args.gamma
    rows = []
    if 1 in which:
        rows.append(Row("T1: 0 attracts the eps-balls", name, f"beta={b:g} gamma={gam:g}", True,
                        lambda: theorems.check_theorem1(xi, b, gam)))
    if 2 in which:
        rows.append(Row("T2: RecLag = vanilla below gamma*", name, f"beta={b:g}", True,
                        lambda: theorems.check_theorem2(xi, b, v0)))
    if 3 in which:
        rows.append(Row("T3: B0 = {p_H < delta}", name, f"beta={b:g} gamma={gam:g} R={R:.4g}", True,
                        lambda: theorems.check_theorem3(xi, b, gam, R)))
    return rows


def _load_v0(path: str, n_v: int) -> torch.Tensor:
    try:
        v = load_xi(path)
    except (ValueError, FileNotFoundError) as exc:
        raise type(exc)(str(exc).replace("--xi:", "--v0:")) from exc
    if tuple(v.shape) != (n_v,):
        raise ValueError(f"--v0 must hold one state of shape ({n_v},), got shape {tuple(v.shape)}")
    return v


def run(args: argparse.Namespace) -> int:
    if not (args.beta > 0 and math.isfinite(args.beta)):
        raise ValueError(f"--beta must be a finite number > 0, got {args.beta}")
    if args.gamma is not None and not (args.gamma > 0 and math.isfinite(args.gamma)):
        raise ValueError(f"--gamma must be a finite number > 0, got {args.gamma}")
    if args.radius is not None and not (args.radius > 0 and math.isfinite(args.radius)):
        raise ValueError(f"--radius must be a finite number > 0, got {args.radius}")
    rows = user_rows(args) if args.xi else default_suite(args.quick, args.seed)
    for row in tqdm(rows, desc="verify", leave=False):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MemorySwallowedWarning)
            row.report = row.check()
        row.warning = "; ".join(str(w.message) for w in caught if issubclass(w.category, MemorySwallowedWarning))
    table = [[r.claim, r.network, r.params, _measured(r.report), "holds" if r.expect else "fails",
              "holds" if r.verdict else "fails", "ok" if r.ok else "UNEXPECTED"] for r in rows]
    print(format_table(["claim", "network", "parameters", "measured", "expected", "verdict", "result"], table))
    for r in rows:
        if r.warning:
            print(f"warning ({r.network}, {r.params}): {r.warning}")
    n_bad = sum(not r.ok for r in rows)
    print(f"{len(rows) - n_bad} of {len(rows)} claims behaved as expected"
          + ("" if not n_bad else f"; {n_bad} did not"))
    out: dict[str, Any] = {
        "ok": n_bad == 0,
        "rows": [{"claim": r.claim, "network": r.network, "parameters": r.params, "expected_holds": r.expect,
                  "holds": r.verdict, "ok": r.ok, "warning": r.warning, "report": r.report} for r in rows],
    }
    if args.xi:
        for r in rows:
            out["theorem" + r.claim[1]] = r.report
    maybe_write_json(args, out)
    return 0 if n_bad == 0 else 1
