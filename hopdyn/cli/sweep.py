"""``hopdyn sweep``: placeholder while the command is built (see its issue)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("sweep", help="(in progress)")
    p.set_defaults(run=lambda args: (_ for _ in ()).throw(ValueError("hopdyn sweep is not built yet")))
