"""``import hopdyn`` costs torch and nothing heavy: scipy (via torchdiffeq), scikit-learn,
matplotlib and plotly load with the rooms that use them, on first access."""
import json
import subprocess
import sys

HEAVY = ("scipy", "sklearn", "matplotlib", "plotly", "torchdiffeq")


def _run(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_hopdyn_loads_no_heavy_dependency():
    loaded = _run(
        "import json, sys, hopdyn\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    assert loaded == []


def test_rooms_still_load_on_access():
    res = _run(
        "import json, sys, hopdyn as hd\n"
        "ok = callable(hd.theorems.check_theorem1) and callable(hd.analysis.basin_map)\n"
        "import torch\n"
        "net = hd.MHN(torch.eye(2, dtype=torch.float64), memory=hd.RecLag(1.0, 5.0))\n"
        "v0, t = torch.ones(1, 2, dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64)\n"
        "hd.integrate(net, v0, t)\n"
        "own = 'torchdiffeq' in sys.modules\n"  # dopri5 with per-sample steps is hopdyn's own solver
        "hd.integrate(net, v0, t, method='rk4')\n"
        "print(json.dumps({'ok': ok, 'own': own, 'torchdiffeq': 'torchdiffeq' in sys.modules, "
        "'scipy': 'scipy' in sys.modules}))"
    )
    assert res == {"ok": True, "own": False, "torchdiffeq": True, "scipy": True}
