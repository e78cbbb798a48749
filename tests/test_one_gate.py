"""The model owns its formulas (issue 13): RecLag's gate ``G(h) = lse(βh) − log γ`` (eq 13) and
its χ are written once, in ``hopdyn/core/lagrangians.py``; everything else asks the Lagrangian
(``RecLag.G``, ``RecLag.gate``) or the network (``MHN.gate_value``).

Two routes to G disagree in the last bit near the surface and flip the gate (SPEC), so a second
copy of the formula is a bug waiting for a boundary point. This test reads the package's sources
and lists every line that re-derives it.
"""
import re
from pathlib import Path

import hopdyn

PACKAGE = Path(hopdyn.__file__).resolve().parent
OWNER = PACKAGE / "core" / "lagrangians.py"

#: Patterns of a re-derived gate (one source line each); ASCII operators only, so prose with "−"
#: in docstrings does not count.
GATE_PATTERNS = {
    # lse(...) − log γ, or lse(...) compared with log γ (the gate decision G ≥ 0)
    "lse minus/compared with log gamma": re.compile(
        r"logsumexp\(.*\)\)?\s*(?:-|<=?|>=?)\s*(?:math\.log\(|(?:[\w\]\[]+\.)*log_gamma\b)"),
    # <something> − log(γ): G written from a score computed elsewhere
    "minus math.log(gamma)": re.compile(r"-\s*(?:math|np|torch)\.log\(\s*(?:[\w]+\.)*gamma\s*\)"),
    # <score> − log_gamma
    "minus log_gamma": re.compile(r"[\w)\]]\s*-\s*(?:[\w]+\.)*log_gamma\b(?!_limit)"),
    # a hand-written smooth gate sigmoid(κ·G)
    "hand-written smooth gate": re.compile(r"sigmoid\([^)]*kappa"),
}


def _code_lines(path: Path):
    """(line number, code) for each line, with ``#`` comments stripped (docstrings kept: the
    patterns need ASCII operators and code-like names, which prose does not use)."""
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        yield i, line.split("#", 1)[0]


def gate_rederivations(root: Path = PACKAGE) -> list[str]:
    """``file:line: pattern: code`` for every re-derivation of the gate outside lagrangians.py."""
    hits = []
    for path in sorted(root.rglob("*.py")):
        if path.resolve() == OWNER:
            continue
        for i, code in _code_lines(path):
            names = [name for name, pattern in GATE_PATTERNS.items() if pattern.search(code)]
            if names:
                hits.append(f"{path.relative_to(root.parent)}:{i}: {', '.join(names)}: {code.strip()}")
    return hits


def test_the_patterns_catch_the_known_forms():
    caught = [
        "G = torch.logsumexp(beta * h, dim=-1) - math.log(gamma)",
        "score = torch.logsumexp(beta * (x @ xi.T), -1) - lag.log_gamma",
        "G=score - lag.log_gamma,",
        "G = limit - math.log(gamma)",
        "step = (lse - log_gamma) / slope",
        "shut = torch.logsumexp(beta * r[:, None] * S, -1) < log_gamma",
        "return torch.sigmoid(self.kappa * G)",
    ]
    for line in caught:
        assert any(p.search(line) for p in GATE_PATTERNS.values()), line
    allowed = [
        "log_delta = lag.log_gamma - log_Z",
        "eps = math.log(gamma / n_h) / (n_v * beta * big_xi)",
        "return self.temperature * torch.logsumexp(logits / self.temperature, -1)",
        "G = net.gate_value(points)",
        "return beta * LogSumExp(beta)(h)",
    ]
    for line in allowed:
        assert not any(p.search(line) for p in GATE_PATTERNS.values()), line


def test_the_owner_still_has_the_formula():
    # the scan is meaningful only if the one formula is where the test says it is
    text = OWNER.read_text(encoding="utf-8")
    assert re.search(r"logsumexp\(self\.beta \* h, dim=-1\) - self\.log_gamma", text)


def test_gate_formula_lives_only_in_the_lagrangians():
    hits = gate_rederivations()
    assert not hits, "RecLag's gate re-derived outside hopdyn/core/lagrangians.py (use RecLag.G / .gate or " \
                     "MHN.gate_value):\n" + "\n".join(hits)
