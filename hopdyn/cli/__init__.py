"""The ``hopdyn`` command line: one module per subcommand, each with ``register(subparsers)``.

Exit status: 0 on success, 1 when a check that ran failed, 2 on bad input (one line on stderr),
130 when interrupted (Ctrl-C or SIGTERM; one line on stderr, no temporary files left behind).

Before a command computes anything, :func:`main` checks its output paths (``--json``, ``--out``,
``--markdown``, ``--plot`` and whatever a subcommand lists, see ``_common.check_outputs``).
"""
from __future__ import annotations

import argparse
import importlib
import pickle
import sys
import zipfile

from .._interrupts import checkpoint, interrupts

#: Subcommand modules in ``hopdyn.cli``.
COMMANDS = ("simulate", "bench", "figures", "verify", "explore", "mha", "continual", "ahop", "ood", "sweep")

#: Exceptions that mean bad input (a file, a path, a value): exit 2 with one line.
INPUT_ERRORS = (ValueError, OSError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one readable line instead of usage + message
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hopdyn", description="Dynamics of modern Hopfield networks (RecLag and friends).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"hopdyn.cli.{name}").register(sub)
    return parser


def _defaults(parser: argparse.ArgumentParser, command: str) -> dict:
    """The parser defaults of one subcommand (``dest -> default``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            sub = action.choices[command]
            return {a.dest: a.default for a in sub._actions}
    return {}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    prog = "hopdyn"
    try:
        with interrupts():
            parser = build_parser()
            args = parser.parse_args(argv)
            prog = f"hopdyn {args.command}"
            try:
                from ._common import check_outputs

                check_outputs(args, _defaults(parser, args.command))
                status = int(args.run(args) or 0)
                # the run finished although an interrupt arrived: some library swallowed it
                checkpoint()
                return status
            except INPUT_ERRORS as exc:
                checkpoint()  # an interrupt that a library turned into another error
                print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
                return 2
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted" if sys.stderr.isatty() else f"{prog}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
