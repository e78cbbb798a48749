"""``hopdyn simulate``: both simulators on a 2-D network, vanilla and RecLag, side by side."""
from __future__ import annotations

import argparse

import torch

from .._io import format_table
from ..analysis.compare import compare_simulators
from ..datasets import PLANAR_BETA, PLANAR_GAMMA, planar_memories
from ..core.lagrangians import LogSumExp, RecLag
from ..core.network import MHN
from ._common import add_json_option, load_xi, maybe_write_json


def register(sub) -> None:
    p = sub.add_parser(
        "simulate",
        help="run the discrete map and the ODE on a small network and compare where they end",
        description="Run hopdyn.iterate (to convergence) and hopdyn.integrate (event-located ODE) from the same "
        "initial conditions, for the vanilla MHN and for RecLag, and report where each trajectory ends "
        "(which memory, or the origin), the energy drop, and whether the two simulators agree.",
    )
    p.add_argument("--xi", help="interaction matrix (.npy or .pt, shape N_H x N_V); default: 5 memories in 2-D")
    p.add_argument("--beta", type=float, default=PLANAR_BETA, help="inverse temperature (default %(default)s)")
    p.add_argument("--gamma", type=float, default=PLANAR_GAMMA, help="RecLag gamma (default %(default)s)")
    p.add_argument("--n-points", type=int, default=12, help="number of initial conditions (default %(default)s)")
    p.add_argument("--radius", type=float, default=3.0, help="initial conditions uniform in this box (default 3)")
    p.add_argument("--t-max", type=float, default=40.0, help="ODE end time in units of tau_V (default 40)")
    p.add_argument("--seed", type=int, default=0)
    add_json_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    xi = load_xi(args.xi) if args.xi else planar_memories()
    if args.n_points < 1:
        raise ValueError(f"--n-points must be >= 1, got {args.n_points}")
    if not args.radius > 0:
        raise ValueError(f"--radius must be > 0, got {args.radius}")
    networks = {
        "vanilla": MHN(xi, memory=LogSumExp(args.beta)),
        "reclag": MHN(xi, memory=RecLag(args.beta, args.gamma)),
    }
    g = torch.Generator().manual_seed(args.seed)
    v0 = (2 * torch.rand(args.n_points, xi.shape[1], generator=g, dtype=torch.float64) - 1) * args.radius
    report = {"n_memories": xi.shape[0], "n_features": xi.shape[1], "beta": args.beta, "gamma": args.gamma}
    for name, net in networks.items():
        c = compare_simulators(net, v0, t_max=args.t_max)
        rows = []
        for i in range(v0.shape[0]):
            rows.append([
                i,
                _fmt_vec(c.v0[i]),
                c.label_iterate[i],
                c.label_integrate[i],
                float(c.energy0[i]),
                float(c.energy_drop_iterate[i]),
                float(c.energy_drop_integrate[i]),
                float((c.end_iterate[i] - c.end_integrate[i]).norm()),
                int(c.steps_iterate[i]),
                "-" if c.switches_integrate is None else int(c.switches_integrate[i]),
            ])
        print(f"\n## {name}: {net.memory!r}, N_H = {net.n_memories}, N_V = {net.n_features}")
        print(format_table(
            ["#", "v0", "iterate ends at", "integrate ends at", "E(v0)", "dE iterate", "dE integrate",
             "|end_it - end_ode|", "steps", "gate switches"],
            rows,
        ))
        print(
            f"agreement: {c.agreement:.0%} of initial conditions end at the same attractor; "
            f"largest end-state distance {c.max_end_distance:.3g}; "
            f"energy along the ODE never rose by more than {max(c.max_energy_increase_integrate, 0.0):.2g}"
        )
        report[name] = {
            "memory": repr(net.memory),
            "agreement": c.agreement,
            "max_end_distance": c.max_end_distance,
            "max_energy_increase_integrate": c.max_energy_increase_integrate,
            "trajectories": [
                dict(zip(["index", "v0", "iterate_end_label", "integrate_end_label", "energy0", "energy_drop_iterate",
                          "energy_drop_integrate", "end_distance", "iterate_steps", "gate_switches"], r))
                | {"v0": c.v0[r[0]].tolist(), "iterate_end": c.end_iterate[r[0]].tolist(),
                   "integrate_end": c.end_integrate[r[0]].tolist()}
                for r in rows
            ],
        }
    maybe_write_json(args, report)
    return 0


def _fmt_vec(v: torch.Tensor) -> str:
    vals = v.tolist()
    shown = ", ".join(f"{x:+.2f}" for x in vals[:3])
    return f"({shown}{', ...' if len(vals) > 3 else ''})"
