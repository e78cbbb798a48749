"""``hopdyn continual``: intrinsic forgetting and energy-based replay (seed 002), as tables."""
from __future__ import annotations

import argparse

from .._io import format_table
from ..experiments import continual as ex
from ..stats import Interval
from ._common import add_json_option, maybe_write_json

#: The closed-form replay gain is an identity; larger disagreement with the direct gain is a bug.
CLOSED_FORM_TOL = 1e-10


def register(sub) -> None:
    p = sub.add_parser(
        "continual",
        help="intrinsic forgetting after a task change and replay gains (tractable setting and digits)",
        description="The tractable setting of the continual-learning paper (n cluster patterns with overlap c plus "
        "one orthogonal outlier, random rotations of size eps): outlier vs cluster forgetting with paired bootstrap "
        "intervals and the fraction of rotations in which the outlier loses more, and the replay-gain table. Then the "
        "digits experiment (task A = classes 0-4, task B = 5-9): energies before and after, and replay policies "
        "(top-K / random / bottom-K by energy, fixed total mass). Exit 1 if the closed-form replay gain disagrees "
        "with the direct computation.",
    )
    p.add_argument("--eps", type=float, nargs="+", default=[0.02, 0.05], help="rotation sizes (default 0.02 0.05)")
    p.add_argument("--rotations", type=int, default=2000, help="random rotations per eps (default %(default)s)")
    p.add_argument("--n", type=int, default=12, help="cluster patterns (default %(default)s)")
    p.add_argument("--d", type=int, default=50, help="dimension (default %(default)s)")
    p.add_argument("--c", type=float, default=0.35, help="cluster overlap (default %(default)s)")
    p.add_argument("--beta", type=float, default=8.0, help="inverse temperature, tractable (default %(default)s)")
    p.add_argument("--at", choices=("fixed_point", "raw"), default="fixed_point",
                   help="measure the energies at the old fixed points or at the raw samples (default %(default)s)")
    p.add_argument("--replay-mass", type=float, default=1.0, help="mass of a replayed pattern (default %(default)s)")
    p.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples (default %(default)s)")
    p.add_argument("--no-digits", action="store_true", help="skip the digits experiment")
    p.add_argument("--digits-beta", type=float, default=40.0, help="inverse temperature, digits (default %(default)s)")
    p.add_argument("--k", type=int, default=50, help="digits replayed per policy (default %(default)s)")
    p.add_argument("--total-mass", type=float, default=50.0, help="total replay mass (default %(default)s)")
    p.add_argument("--digits-per-class", type=int, help="keep only this many digits per class (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    add_json_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    report: dict = {"tractable": [], "digits": []}
    ok = True
    rows, gain_rows = [], []
    for eps in args.eps:
        r = ex.tractable_experiment(eps, n_rotations=args.rotations, n=args.n, d=args.d, c=args.c, beta=args.beta,
                                    at=args.at, replay_mass=args.replay_mass, n_boot=args.bootstrap, seed=args.seed)
        ok &= r.closed_form_max_error <= CLOSED_FORM_TOL
        rows.append([eps, r.n_rotations, r.energy_outlier, r.energy_cluster, _iv(r.outlier), _iv(r.cluster),
                     _iv(r.difference), f"{r.frac_outlier_loses_more:.1%}", f"{r.frac_outlier_loses_more_single:.1%}"])
        gain_rows += [[eps, name, _iv(iv)] for name, iv in r.gains.items()]
        gain_rows.append([eps, "P(outlier self-gain > cluster self-gain)", f"{r.frac_self_gain_outlier_larger:.1%}"])
        gain_rows.append([eps, "max |closed form - direct|", f"{r.closed_form_max_error:.2g}"])
        report["tractable"].append(r)
    print(f"## Tractable setting: n = {args.n}, d = {args.d}, c = {args.c}, beta = {args.beta}, "
          f"energies at the {args.at.replace('_', ' ')}s (95 % paired bootstrap CIs over rotations)")
    print(format_table(["eps", "rotations", "E_old outlier", "E_old cluster", "dE outlier", "dE cluster (mean)",
                        "dE outlier - cluster", "outlier loses more", "vs single cluster sample"], rows))
    print(f"\n## Replay gain of one replayed old pattern (mass {args.replay_mass})")
    print(format_table(["eps", "replayed -> sample", "gain (95 % CI)"], gain_rows))

    if not args.no_digits:
        results = ex.digits_experiment(beta=args.digits_beta, k=args.k, total_mass=args.total_mass,
                                       per_class=args.digits_per_class, seed=args.seed)
        r0 = results[0]
        print(f"\n## Digits: task A = classes 0-4 ({r0.n_old} memories, {r0.n_fixed_points} distinct fixed points), "
              f"beta = {args.digits_beta}; replay {args.k} old digits, total mass {args.total_mass}")
        rows = []
        for r in results:
            for p in r.policies:
                sd = f" ± {p.restored_sd:.3f}" if p.restored_sd > 0 else ""
                rows.append([r.change, f"{float(r.delta.mean()):.4g}", f"{r.spearman_rho:+.3f}", p.policy,
                             f"{p.restored:.3f}{sd}", f"{p.restored_high:.3f}", f"{p.restored_low:.3f}",
                             f"{p.mean_residual:.4g}"])
        print(format_table(["task change", "mean dE", "Spearman(E_old, dE)", "policy", "restored (all)",
                            "restored (high-E quartile)", "restored (low-E quartile)", "mean dE after replay"], rows))
        report["digits"] = results
    if not ok:
        print(f"CHECK FAILED: closed-form replay gain differs from the direct gain by more than {CLOSED_FORM_TOL}")
    maybe_write_json(args, report)
    return 0 if ok else 1


def _iv(iv: Interval) -> str:
    return f"{iv.mean:.4g} [{iv.low:.4g}, {iv.high:.4g}]"
