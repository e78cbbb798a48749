"""``hopdyn continual``: intrinsic forgetting and replay (seed 002) — instantaneous task changes
(rotations, replacement), forgetting by training on a task sequence measured by energy and by
retrieval, replay sweeps, a verdict per claim."""
from __future__ import annotations

import argparse
from pathlib import Path

from .._io import format_table
from .._validate import positive_int
from ..experiments import continual as ex
from ..stats import Interval
from ._common import add_json_option, maybe_write_json

#: The closed-form replay gain is an identity; larger disagreement with the direct gain is a bug.
CLOSED_FORM_TOL = 1e-10


def register(sub) -> None:
    p = sub.add_parser(
        "continual",
        help="intrinsic forgetting after task changes (instantaneous and by training), retrieval forgetting, replay",
        description="Four parts, each with verdicts on seed 002's claims. (1) The tractable setting (n cluster "
        "patterns with overlap c plus one orthogonal outlier, random rotations of size eps): outlier vs cluster "
        "forgetting. (2) Digits swap (task A = classes 0-4 replaced by 5-9, or rotated): energies and mass-insertion "
        "replay policies. (3) Forgetting by training: a weighted MHN (learnable memories, optionally log-masses) is "
        "fine-tuned with Adam on one task after the other (built-in digits/wine/breast_cancer split by class, or "
        "--data FILE); forgetting of old samples is measured as the energy increase dE and as the reconstruction "
        "error of a corrupted old sample retrieved by hd.iterate; Spearman statistics with 95 %% intervals over "
        "seeds. (4) Replay while training on task 1: policies (energy top/bottom, random, herding, loss) x buffer "
        "size k x replay mass. The training parameters are hopdyn's choices: the seed (an abstract) gives no numbers. "
        "Exit 1 if the closed-form replay gain disagrees with the direct computation.",
    )
    g = p.add_argument_group("(1) tractable setting")
    g.add_argument("--eps", type=float, nargs="+", default=[0.02, 0.05], help="rotation sizes (default 0.02 0.05)")
    g.add_argument("--rotations", type=int, default=2000, help="random rotations per eps (default %(default)s)")
    g.add_argument("--n", type=int, default=12, help="cluster patterns (default %(default)s)")
    g.add_argument("--d", type=int, default=50, help="dimension (default %(default)s)")
    g.add_argument("--c", type=float, default=0.35, help="cluster overlap (default %(default)s)")
    g.add_argument("--beta", type=float, default=8.0, help="inverse temperature, tractable (default %(default)s)")
    g.add_argument("--at", choices=("fixed_point", "raw"), default="fixed_point",
                   help="measure the energies at the old fixed points or at the raw samples (default %(default)s)")
    g.add_argument("--replay-mass", type=float, default=1.0, help="mass of a replayed pattern (default %(default)s)")
    g.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples (default %(default)s)")
    g.add_argument("--no-tractable", action="store_true", help="skip the tractable setting")
    g = p.add_argument_group("(2) digits swap")
    g.add_argument("--no-digits", action="store_true", help="skip the digits swap experiment")
    g.add_argument("--digits-beta", type=float, default=40.0, help="inverse temperature, digits (default %(default)s)")
    g.add_argument("--k", type=int, default=50, help="digits replayed per policy (default %(default)s)")
    g.add_argument("--total-mass", type=float, default=50.0, help="total replay mass (default %(default)s)")
    g.add_argument("--digits-per-class", type=int, help="keep only this many digits per class (quick runs)")
    g = p.add_argument_group("(3) forgetting by training, (4) replay sweep")
    g.add_argument("--data", default="digits", metavar="NAME|FILE",
                   help="task data: digits (class pairs), wine, breast_cancer (one class per task), or your .npy "
                   "(samples x features) / .npz (key x, data, features or X; optional integer labels under labels "
                   "or y) (default %(default)s)")
    g.add_argument("--memories", metavar="FILE.npy", help="your initial memories (N x d), used as given")
    g.add_argument("--tasks", metavar="0,1;2,3", help="labelled data: groups of labels, one task per group "
                   "(default: pairs of labels, or one label per task when there are at most 3)")
    g.add_argument("--n-tasks", type=int, default=2, help="unlabelled data: split into this many consecutive "
                   "blocks (default %(default)s)")
    g.add_argument("--normalize", action="store_true", help="your data: centre, then scale rows to unit norm "
                   "(built-in data always are); otherwise used as given")
    g.add_argument("--per-class", type=int, help="built-in data: keep only this many samples per class (quick runs)")
    g.add_argument("--train-beta", type=float, nargs="+", default=[10.0, 40.0],
                   help="inverse temperatures, one regime each (default 10 40)")
    g.add_argument("--learn-mass", choices=("no", "yes", "both"), default="both",
                   help="also learn the log-masses (a weighted MHN) (default %(default)s: one regime each)")
    g.add_argument("--objective", choices=("nll", "denoise"), default="nll",
                   help="nll: likelihood of exp(-beta E); denoise: the network's step as a denoiser "
                   "(default %(default)s)")
    g.add_argument("--n-memories", type=int, default=20, help="memories drawn from task 0 (default %(default)s)")
    g.add_argument("--steps", type=int, default=60, help="Adam steps per task (default %(default)s)")
    g.add_argument("--lr", type=float, default=0.03, help="learning rate (default %(default)s)")
    g.add_argument("--corruption", choices=("noise", "mask"), default="noise",
                   help="retrieval test: Gaussian noise or zeroed entries (default %(default)s)")
    g.add_argument("--corruption-level", type=float, default=0.5,
                   help="noise sd in units of the data's rms entry, or the masked fraction (default %(default)s)")
    g.add_argument("--seeds", type=int, default=5, help="seeds (from --seed) for the intervals (default %(default)s)")
    g.add_argument("--replay-k", type=int, nargs="+", default=[10, 40], help="buffer sizes (default 10 40)")
    g.add_argument("--replay-masses", type=float, nargs="+", default=[0.25, 1.0],
                   help="weight of the buffer in the loss relative to the new task (default 0.25 1)")
    g.add_argument("--policies", nargs="+", choices=ex.BUFFER_POLICIES, default=list(ex.BUFFER_POLICIES),
                   help="replay policies (default: all)")
    g.add_argument("--diffusion", action="store_true",
                   help="also the generative check: a tiny DDPM trained on task 0 then task 1; does the Hopfield "
                   "energy (memory = the model's own samples) track DDIM reconstruction forgetting? (about 6 s of CPU "
                   "per seed on digits)")
    g.add_argument("--diffusion-steps", type=int, default=600, help="DDPM Adam steps per task (default %(default)s)")
    g.add_argument("--no-training", action="store_true", help="skip forgetting by training")
    g.add_argument("--no-replay", action="store_true", help="skip the replay sweep")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="DIR", help="also write the figures (PNG and PDF) to DIR")
    add_json_option(p)
    p.set_defaults(run=run)


def _task_sequence(args: argparse.Namespace) -> ex.TaskSequence:
    if args.data in ex.TASK_SETS:
        if args.tasks:
            raise ValueError("--tasks applies to your data file; the built-in sets have fixed tasks")
        return ex.builtin_tasks(args.data, per_class=args.per_class)
    if not Path(args.data).suffix:
        raise ValueError(f"--data: expected one of {', '.join(ex.TASK_SETS)} or a .npy/.npz file, got {args.data!r}")
    groups = None
    if args.tasks:
        try:
            groups = [tuple(int(c) for c in grp.split(",")) for grp in args.tasks.split(";")]
        except ValueError as exc:
            raise ValueError(f"--tasks: expected groups of integer labels like 0,1;2,3, got {args.tasks!r}") from exc
    return ex.tasks_from_file(args.data, n_tasks=args.n_tasks, groups=groups, normalize=args.normalize)


def run(args: argparse.Namespace) -> int:
    report: dict = {"tractable": [], "digits": [], "training": [], "replay": None, "diffusion": None,
                    "provenance": ex.PROVENANCE}
    figures: list = []
    ok = True
    # read and check the user's files before any computation
    seeds = tuple(range(args.seed, args.seed + positive_int(args.seeds, "--seeds")))
    tasks = memories = None
    training = not (args.no_training and args.no_replay)
    if training or args.diffusion:
        tasks = _task_sequence(args)
        memories = ex.load_memories(args.memories) if args.memories else None
        if memories is not None and memories.shape[1] != tasks.tasks[0].shape[1]:
            raise ValueError(f"--memories has {memories.shape[1]} features but --data has {tasks.tasks[0].shape[1]}")
        if training and memories is None and args.n_memories > tasks.tasks[0].shape[0]:
            raise ValueError(f"--n-memories {args.n_memories} exceeds the {tasks.tasks[0].shape[0]} samples of the "
                             "first task")
        if not args.no_replay and max(args.replay_k) > tasks.tasks[0].shape[0]:
            raise ValueError(f"--replay-k {max(args.replay_k)} exceeds the {tasks.tasks[0].shape[0]} samples of the "
                             "first task")
    if not args.no_tractable:
        ok &= _tractable(args, report, figures)
    if not args.no_digits:
        _digits(args, report, figures)
    if training:
        _training(args, tasks, memories, seeds, report, figures)
    if args.diffusion:
        _diffusion(args, tasks, seeds, report)
    if not ok:
        print(f"CHECK FAILED: closed-form replay gain differs from the direct gain by more than {CLOSED_FORM_TOL}")
    if args.out and figures:
        from ..figures import save

        for name, fig in figures:
            for path in save(fig, Path(args.out), name):
                print(f"wrote {path}")
    maybe_write_json(args, report)
    return 0 if ok else 1


def _tractable(args, report, figures) -> bool:
    ok = True
    rows, gain_rows, results = [], [], []
    for eps in args.eps:
        r = ex.tractable_experiment(eps, n_rotations=args.rotations, n=args.n, d=args.d, c=args.c, beta=args.beta,
                                    at=args.at, replay_mass=args.replay_mass, n_boot=args.bootstrap, seed=args.seed)
        ok &= r.closed_form_max_error <= CLOSED_FORM_TOL
        rows.append([eps, r.n_rotations, r.energy_outlier, r.energy_cluster, _iv(r.outlier), _iv(r.cluster),
                     _iv(r.difference), f"{r.frac_outlier_loses_more:.1%}", f"{r.frac_outlier_loses_more_single:.1%}"])
        gain_rows += [[eps, name, _iv(iv)] for name, iv in r.gains.items()]
        gain_rows.append([eps, "P(outlier self-gain > cluster self-gain)", f"{r.frac_self_gain_outlier_larger:.1%}"])
        gain_rows.append([eps, "max |closed form - direct|", f"{r.closed_form_max_error:.2g}"])
        results.append(r)
    report["tractable"] = results
    print(f"## Tractable setting: n = {args.n}, d = {args.d}, c = {args.c}, beta = {args.beta}, "
          f"energies at the {args.at.replace('_', ' ')}s (95 % paired bootstrap CIs over rotations)")
    print(f"provenance: {ex.PROVENANCE}")
    print(format_table(["eps", "rotations", "E_old outlier", "E_old cluster", "dE outlier", "dE cluster (mean)",
                        "dE outlier - cluster", "outlier loses more", "vs single cluster sample"], rows))
    verdicts = [ex.interval_verdict(f"the outlier loses more energy than the cluster (eps = {r.eps:g})",
                                    "mean dE outlier - dE cluster", r.difference, r.n_rotations, "rotations")
                for r in results]
    for r, v in zip(results, verdicts):
        print(f"{v.line}; per rotation it does so in {r.frac_outlier_loses_more:.1%} of rotations")
    report["tractable_verdicts"] = verdicts
    print(f"\n## Replay gain of one replayed old pattern (mass {args.replay_mass})")
    print(format_table(["eps", "replayed -> sample", "gain (95 % CI)"], gain_rows))
    if args.out:
        from ..plots.continual import forgetting_figure

        figures.append(("continual_forgetting", forgetting_figure(results)))
    return ok


def _digits(args, report, figures) -> None:
    results = ex.digits_experiment(beta=args.digits_beta, k=args.k, total_mass=args.total_mass,
                                   per_class=args.digits_per_class, seed=args.seed)
    r0 = results[0]
    print(f"\n## Digits swap: task A = classes 0-4 ({r0.n_old} memories, {r0.n_fixed_points} distinct fixed points), "
          f"beta = {args.digits_beta}; replay {args.k} old digits, total mass {args.total_mass} (mass insertion)")
    rows = []
    for r in results:
        for p in r.policies:
            sd = f" ± {p.restored_sd:.3f}" if p.restored_sd > 0 else ""
            rows.append([r.change, f"{float(r.delta.mean()):.4g}", f"{r.spearman_rho:+.3f}", p.policy,
                         f"{p.restored:.3f}{sd}", f"{p.restored_high:.3f}", f"{p.restored_low:.3f}",
                         f"{p.mean_residual:.4g}"])
    print(format_table(["task change", "mean dE", "Spearman(E_old, dE)", "policy", "restored (all)",
                        "restored (high-E quartile)", "restored (low-E quartile)", "mean dE after replay"], rows))
    for r in results:
        top, rnd = (next(p for p in r.policies if p.policy == name) for name in ("top", "random"))
        word = "HOLDS" if top.restored > rnd.restored + 2 * rnd.restored_sd else (
            "DOES NOT HOLD" if top.restored < rnd.restored - 2 * rnd.restored_sd else "NOT SHOWN")
        print(f"{word}: energy top-{r.policies[0].k} replay restores more than random ({r.change}) — "
              f"{top.restored:.3f} vs {rnd.restored:.3f} ± {rnd.restored_sd:.3f} (sd over random draws; one data set)")
        print(f"{'HOLDS' if r.spearman_rho > 0 else 'DOES NOT HOLD'}: high-energy samples lose more ({r.change}) — "
              f"Spearman(E_old, dE) = {r.spearman_rho:+.3f} (p = {r.spearman_p:.2g}; one data set, no seeds)")
    report["digits"] = results
    if args.out:
        from ..plots.continual import replay_figure

        figures.append(("continual_replay", replay_figure(results)))


def _training(args, tasks, memories, seeds, report, figures) -> None:
    sizes = ", ".join(f"{n} ({t.shape[0]})" for n, t in zip(tasks.names, tasks.tasks))
    norms = [float(t.norm(dim=1).mean()) for t in tasks.tasks]
    print(f"\n## Forgetting by training: {tasks.source}, {len(tasks.tasks)} tasks: {sizes}; d = "
          f"{tasks.tasks[0].shape[1]}, mean sample norm {min(norms):.3g}-{max(norms):.3g}")
    if memories is None:
        origin = f"{args.n_memories} drawn from task 0 (a new draw per seed)"
    else:
        norm = float(memories.norm(dim=1).mean())
        origin = (f"--memories {args.memories} ({memories.shape[0]}, mean norm {norm:.3g}; "
                  "the same for every seed, so seeds vary only the corruption draw and random buffers)")
    print(f"memories: {origin}; objective {args.objective}; {args.steps} Adam steps per task, lr {args.lr}; "
          f"retrieval test: {args.corruption} {args.corruption_level}; {len(seeds)} seeds")
    if args.no_tractable:
        print(f"provenance: {ex.PROVENANCE}")
    masses = {"no": (False,), "yes": (True,), "both": (False, True)}[args.learn_mass]
    common = dict(objective=args.objective, n_memories=args.n_memories, memories=memories, steps=args.steps,
                  lr=args.lr, corruption=args.corruption, corruption_level=args.corruption_level, seeds=seeds,
                  n_boot=args.bootstrap)
    results = []
    if not args.no_training:
        rows, lines = [], []
        for beta in args.train_beta:
            for lm in masses:
                r = ex.training_experiment(tasks, beta=beta, learn_mass=lm, progress=True, **common)
                results.append(r)
                vf, vt = r.verdicts
                rows.append([beta, "learned" if lm else "fixed", _fmt_list(r.mean_delta_energy.mean(0)),
                             _fmt_list(r.mean_delta_error.mean(0)), _iv(vf.interval),
                             f"{float(r.rho_old_new.nanmean()):+.3f}", _iv(vt.interval)])
                lines += [f"[beta = {beta:g}, masses {'learned' if lm else 'fixed'}] {v.line}" for v in r.verdicts]
        print(format_table(["beta", "masses", "mean dE per change t->t+1", "mean d(reconstruction error)",
                            "Spearman(E_old, dE)", "Spearman(E_old, E_new)", "Spearman(dE, d error)"], rows))
        print("\n".join(lines))
        print("note: dE = E_new - E_old contains -E_old, so Spearman(E_old, dE) leans negative whenever "
              "Spearman(E_old, E_new) is well below 1 (regression to the mean); read the first verdict with that "
              "column")
        report["training"] = results
        if args.out:
            from ..plots.continual import training_figure

            figures.append(("continual_training", training_figure(results)))
    if not args.no_replay:
        beta, lm = args.train_beta[0], masses[0]
        r = ex.replay_sweep(tasks, beta=beta, learn_mass=lm, policies=tuple(args.policies), ks=tuple(args.replay_k),
                            masses=tuple(args.replay_masses), progress=True, **common)
        print(f"\n## Replay while training on task 1 ({tasks.names[1]}): beta = {beta:g}, masses "
              f"{'learned' if lm else 'fixed'}; forgetting of task 0 without replay: "
              f"dE {float(r.forgetting_energy.mean()):.3g}, "
              f"d error {float(r.forgetting_error.mean()):.3g} (mean over seeds)")
        print(format_table(["policy", "k", "mass", "restored dE", "restored error", "restored dE (high-E quartile)",
                            "restored dE (low-E quartile)"],
                           [[c.policy, c.k, c.mass, _iv(c.energy), _iv(c.error), _iv(c.energy_high),
                             _iv(c.energy_low)] for c in r.cells]))
        top_random = [v for v in r.verdicts if v.claim.startswith("energy top-K")]
        if top_random:
            counts = {w: sum(v.verdict.startswith(w) for v in top_random) for w in ("HOLDS", "DOES NOT", "NOT SHOWN")}
            print(f"energy top-K vs random over {len(top_random)} budget x metric cells: holds in {counts['HOLDS']}, "
                  f"opposite in {counts['DOES NOT']}, not shown in {counts['NOT SHOWN']}")
        print("\n".join(v.line for v in r.verdicts))
        report["replay"] = r
        if args.out:
            from ..plots.continual import replay_sweep_figure

            figures.append(("continual_replay_sweep", replay_sweep_figure(r)))


def _diffusion(args, tasks, seeds, report) -> None:
    r = ex.diffusion_experiment(tasks, steps=args.diffusion_steps, seeds=seeds, n_boot=args.bootstrap)
    print(f"\n## Generative check: tiny DDPM on {tasks.source}, task 0 ({tasks.names[0]}) then task 1 "
          f"({tasks.names[1]}), {r.steps} Adam steps each; reconstruction from DDIM step {r.t0}; energy of the "
          f"MHN whose memories are {r.n_samples} samples of the model (beta = {r.beta:g})")
    print(f"provenance: {r.provenance}")
    print(f"mean dE {float(r.mean_delta_energy.mean()):.4g}, mean d(reconstruction error) "
          f"{float(r.mean_delta_error.mean()):.4g} (mean over seeds)")
    print("\n".join(v.line for v in r.verdicts))
    report["diffusion"] = r


def _fmt_list(x) -> str:
    return " ".join(f"{float(v):.3g}" for v in x)


def _iv(iv: Interval) -> str:
    return f"{iv.mean:.4g} [{iv.low:.4g}, {iv.high:.4g}]"
