"""The ``hopdyn`` command line: one module per subcommand, each with ``register(subparsers)``.

Exit status: 0 on success, 1 when a check that ran failed, 2 on bad input (one line on stderr).
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: Subcommand modules in ``hopdyn.cli``.
COMMANDS = ("simulate", "bench", "figures", "verify", "mha", "continual", "ahop", "ood")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one readable line instead of usage + message
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hopdyn", description="Dynamics of modern Hopfield networks (RecLag and friends).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"hopdyn.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"hopdyn {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
