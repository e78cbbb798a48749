"""``hopdyn ood``: the OOD benchmark on the bundled digits demo or on the user's feature files."""
from __future__ import annotations

import argparse

import numpy as np

from .._io import atomic_path, format_table
from ._common import add_json_option, check_device, maybe_write_json


def register(sub) -> None:
    p = sub.add_parser(
        "ood",
        help="OOD detection: RecLag against MSP, Energy, ReAct, MHE, SHE (digits demo or your features)",
        description="Without file arguments: the offline demo on scikit-learn's load_digits (a small classifier "
        "on digits 0-5; OOD sets: digits 6-9, inverted, noise, shuffled and rotated images). With --id-train, "
        "--id-test and --ood: the same benchmark on your features. Feature files are .npz archives with keys "
        "'features' (n, d), and 'logits' (n, C) and integer 'labels' (n,) where a baseline needs them (logits "
        "for MSP, Energy, ReAct and the predicted class; labels in the ID training file for MHE, SHE and the "
        "class-wise RecLag). Methods whose inputs are missing are skipped, with the reason (only on the sets "
        "that lack them). RecLag is trained --trials times with different seeds and reported as the trimmed mean "
        "± sd. Rows with NaN or inf are refused with their indices (or dropped with --drop-bad-rows); results worse "
        "than chance and fragile settings are flagged as warnings.",
    )
    p.add_argument("--id-train", metavar="A.npz", help="ID training features (fit the detectors)")
    p.add_argument("--id-test", metavar="B.npz", help="ID test features")
    p.add_argument("--ood", metavar="NAME=C.npz", action="append", default=[],
                   help="an OOD test set (repeat for several)")
    p.add_argument("--trials", type=int, default=11, help="RecLag trainings with different seeds (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="first seed (default %(default)s)")
    p.add_argument("--setting", choices=("paper", "code"), default="paper",
                   help="RecLag: 'paper' = one global xi, N_H=250, norm 10; 'code' = one xi per class, N_H=10 "
                   "(the authors' code) (default %(default)s)")
    p.add_argument("--objective", choices=("mc", "exact", "both"), default="both",
                   help="SFNN objective: Monte Carlo with M=5 (the paper's), the exact marginal, or both as two "
                   "rows (default %(default)s)")
    p.add_argument("--covariance", choices=("diagonal", "full"), default="diagonal")
    p.add_argument("--n-memories", type=int, help="RecLag memories (per class for --setting code)")
    p.add_argument("--epochs", type=int, help="RecLag training epochs (default: 100 paper, 50 code, 10 on digits)")
    p.add_argument("--beta", type=float, default=5.0, help="RecLag inverse temperature (default %(default)s)")
    p.add_argument("--mhe-beta", type=float, default=0.01, help="MHE inverse temperature (default %(default)s)")
    p.add_argument("--react-percentile", type=float, default=90.0, help="ReAct clipping percentile (default 90)")
    p.add_argument("--tpr", type=float, default=0.95, help="TPR at which the FPR is read (default %(default)s)")
    p.add_argument("--positive", choices=("id", "ood"), default="id",
                   help="positive class: 'id' (the RecLag/SHE tables) or 'ood' (OpenOOD, pytorch-ood)")
    p.add_argument("--steps", type=int, default=8, help="time evolution: steps of the MHE and RecLag dynamics "
                   "(0: skip; default %(default)s)")
    p.add_argument("--evolution-set", help="OOD set for the time evolution (default: the first)")
    gamma = p.add_mutually_exclusive_group()
    gamma.add_argument("--gamma-quantile", type=float,
                       help="RecLag dynamics: log γ is this quantile of the held-out ID scores, so about this share "
                       "of ID test points starts in B0 (default 0.02)")
    gamma.add_argument("--gamma", type=float, help="RecLag dynamics: this γ (> 0) as given; xi is then trained on all "
                       "the ID training data")
    p.add_argument("--calibration", type=float, help="share of the ID training samples held out (per class) to set γ "
                   "on (default 0.2; 0 = the training scores, biased upward)")
    p.add_argument("--early-stopping", action="store_true",
                   help="RecLag: stop training when the held-out calibration split's exact NLL has not improved by a "
                        "relative 1e-4 for --patience epochs (that split then also sets gamma; default: all epochs, "
                        "as in the paper)")
    p.add_argument("--patience", type=int,
                   help="epochs without improvement before --early-stopping stops (default 5)")
    p.add_argument("--save-detector", metavar="PATH.pt", help="save the first trained RecLag row's detector (first "
                   "trial) to PATH.pt, to score new features later with --load-detector")
    p.add_argument("--load-detector", metavar="PATH.pt", help="score with a saved RecLag detector (row 'RecLag "
                   "(loaded)', one trial, joins the time evolution) instead of training RecLag rows")
    p.add_argument("--drop-bad-rows", action="store_true",
                   help="drop feature rows with NaN or inf (saying how many and which) instead of refusing the file")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where to fit and score (default %(default)s; cuda needs a CUDA build of torch and a GPU)")
    p.add_argument("--out", metavar="DIR", help="also write figures (ROC per OOD set, scores and metrics over the "
                   "dynamics), per-sample scores (scores.npz, keys 'method/set') and report.json to DIR")
    p.add_argument("--markdown", metavar="PATH", help="also write the tables as markdown to PATH")
    add_json_option(p)
    p.set_defaults(run=run, output_files=("save_detector",))


def _input_info(path: str, fs) -> dict:
    from pathlib import Path

    return {"path": str(path), "bytes": Path(path).stat().st_size, "rows": len(fs), "dim": fs.dim,
            "logits": None if fs.logits is None else fs.logits.shape[1], "labels": fs.labels is not None,
            "dropped_rows": list(fs.dropped_rows), "zero_rows": len(fs.zero_rows)}


def run(args: argparse.Namespace) -> int:
    from ..ood import load_features, run_benchmark

    device = check_device(args.device)
    files = [args.id_train, args.id_test]
    reclag = dict(setting=args.setting, beta=args.beta, covariance=args.covariance)
    for opt in ("gamma_quantile", "gamma", "calibration"):
        if getattr(args, opt) is not None:
            reclag[opt] = getattr(args, opt)
    if args.patience is not None and not args.early_stopping:
        raise ValueError("--patience needs --early-stopping")
    if args.early_stopping:
        reclag["early_stopping"] = True
        if args.patience is not None:
            reclag["patience"] = args.patience
    _check_reclag_options(reclag)
    prefitted = {}
    if args.load_detector:
        from ..ood import RecLagDetector

        prefitted[LOADED] = RecLagDetector.load(args.load_detector)
    if args.n_memories is not None:
        reclag["n_memories"] = args.n_memories
    if args.epochs is not None:
        reclag["epochs"] = args.epochs
    if args.steps < 0:
        raise ValueError(f"--steps must be >= 0, got {args.steps}")
    objectives = ("mc", "exact") if args.objective == "both" else (args.objective,)
    if prefitted:
        objectives = ()
    if args.save_detector and not objectives:
        raise ValueError("--save-detector saves a trained RecLag row; with --load-detector nothing is trained")
    opts = dict(reclag=reclag, objectives=objectives, prefitted=prefitted,
                trials=args.trials, seed=args.seed, steps=args.steps, evolution_set=args.evolution_set, tpr=args.tpr,
                positive=args.positive, mhe_beta=args.mhe_beta, react_percentile=args.react_percentile)
    if any(files) or args.ood:
        if not all(files) or not args.ood:
            raise ValueError("give --id-train, --id-test and at least one --ood NAME=FILE together "
                             "(or none of them for the digits demo)")
        drop = args.drop_bad_rows
        id_train = load_features(args.id_train, "--id-train", drop_bad_rows=drop)
        id_test = load_features(args.id_test, "--id-test", drop_bad_rows=drop)
        inputs = {"id_train": _input_info(args.id_train, id_train), "id_test": _input_info(args.id_test, id_test)}
        ood = {}
        for item in args.ood:
            name, sep, path = item.partition("=")
            if not sep or not name or not path:
                raise ValueError(f"--ood: expected NAME=FILE.npz, got {item!r}")
            if name in ood:
                raise ValueError(f"--ood: the name {name!r} is given twice")
            ood[name] = load_features(path, f"--ood {name}", drop_bad_rows=drop)
            inputs[f"ood {name}"] = _input_info(path, ood[name])
        if args.evolution_set is not None and args.evolution_set not in ood:
            raise ValueError(f"--evolution-set: unknown OOD set {args.evolution_set!r}; known: {', '.join(ood)}")
        if device != "cpu":
            id_train, id_test = id_train.to(device), id_test.to(device)
            ood = {k: v.to(device) for k, v in ood.items()}
        res = run_benchmark(id_train, id_test, ood, **opts)
        title, accuracy = "your features", res.classifier_accuracy
        what = "ID test features (argmax of the logits against the labels)"
    else:
        from ..experiments.ood import run_digits

        inputs = {"digits demo": "sklearn load_digits (bundled)"}
        res = run_digits(**opts)
        title, accuracy = "digits demo (load_digits; ID = digits 0-5)", res.test_accuracy
        what = "ID test images"
    report, evo = res.report, res.evolution
    warnings, notes = list(res.warnings), list(res.notes)
    if args.load_detector:
        inputs["detector"] = args.load_detector
    settings = {**res.settings, "device": device, "inputs": inputs}

    print(f"# OOD detection: {title}")
    for line in notes:
        print(f"note: {line}")
    if accuracy is not None:
        print(f"classifier accuracy on {what}: {100 * accuracy:.1f} %")
    text = report.markdown()
    aupr = res.aupr
    if aupr:
        text += (f"\n### AUPR-{report.positive.upper()} (%) ↑ (positive class: "
                 f"{report.positive.upper()})\n\n{res.aupr_table()}\n")
    out = {"report": report, "classifier_accuracy": accuracy, "aupr": aupr, "warnings": warnings, "notes": notes,
           "settings": settings}
    if evo is not None:
        text += _evolution_table(evo)
        out["evolution"] = {k: getattr(evo, k) for k in ("ood_name", "steps", "fpr", "auroc", "convention",
                                                         "b0_share", "ood_outside_b0", "verdicts")}
    print(text)
    for line in warnings:
        print(f"warning: {line}")
    if args.save_detector:
        first = next(m for m in report.methods if m in res.settings["reclag"])
        report.detectors[first].save(args.save_detector)
        print(f"wrote {args.save_detector} (detector of '{first}', seed {args.seed}; reload with --load-detector)")
    if args.out:
        _write_out(args.out, res, title, out)
    if args.markdown:
        with atomic_path(args.markdown) as tmp:
            tmp.write_text(f"# OOD detection: {title}\n\n{text}")
        print(f"wrote {args.markdown}")
    maybe_write_json(args, out)
    return 0


def _write_out(folder: str, res, title: str, out: dict) -> None:
    from pathlib import Path

    from .._io import write_json
    from ..figures.ood import roc_curves_from_scores, write_report_figures

    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    rep = res.report
    scores = res.scores()
    with atomic_path(d / "scores.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **scores)
    paths = write_report_figures(roc_curves_from_scores(scores, rep.ood_sets, rep.positive), res.evolution, d, title,
                                 rep.references)
    write_json(d / "report.json", out)
    for p in [d / "scores.npz", *paths, d / "report.json"]:
        print(f"wrote {p}")


def _evolution_table(evo) -> str:
    rows = [[m, metric, *(f"{100 * x:.1f}" for x in getattr(evo, metric)[m])] for m in evo.methods
            for metric in ("fpr", "auroc")]
    verdicts = "".join(f"\nverdict: {v}" for v in evo.verdicts)
    return (f"\n### Time evolution on '{evo.ood_name}' (%, step k of each network's own dynamics)\n\n"
            + format_table(["Method", "metric", *(f"k={k}" for k in np.asarray(evo.steps))], rows) + "\n"
            + (verdicts + "\n" if verdicts else ""))


#: the row of a detector read with --load-detector
LOADED = "RecLag (loaded)"


def _check_reclag_options(reclag: dict) -> None:
    """Build one detector from the options so that a bad value fails before anything is trained."""
    from ..ood import RecLagDetector

    RecLagDetector(**reclag)

