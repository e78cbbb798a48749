"""``hopdyn figures``: selection, errors, the index, deterministic output, pages that load plotly once."""

import json
import re

import matplotlib.image as mpimg
import pytest

from hopdyn.cli import main
from hopdyn.figures import load_all

MINE = [
    "fig1_landscapes_3d",
    "fig2_energy_density",
    "phase_portraits",
    "explorer",
    "basin_maps",
    "theorem1_radii",
    "theorem2_sweep",
    "continuation_gamma",
]


def test_list_names_every_recipe(capsys):
    assert main(["figures", "--list"]) == 0
    out = capsys.readouterr().out
    for name in MINE:
        assert f"{name}: " in out
    assert set(MINE) <= set(load_all())


@pytest.mark.parametrize("only", ["nope", "fig2_energy_density,nope", " , "])
def test_unknown_names_exit_2_with_one_line(capsys, tmp_path, only):
    assert main(["figures", "--out", str(tmp_path / "f"), "--only", only]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hopdyn figures: error: --only")
    assert not (tmp_path / "f").exists()


def test_out_must_be_a_folder(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    assert main(["figures", "--out", str(tmp_path / "file"), "--only", "theorem2_sweep"]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_figures_index_pages_and_determinism(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    only = "fig2_energy_density,theorem2_sweep,explorer"
    assert main(["figures", "--out", str(a), "--only", only]) == 0
    assert (
        main(["figures", "--out", str(b), "--only", "theorem2_sweep,explorer", "--json", str(tmp_path / "r.json")]) == 0
    )
    report = json.loads((tmp_path / "r.json").read_text())
    assert [f["name"] for f in report["figures"]] == ["explorer", "theorem2_sweep"]  # registry order
    assert report["figures"][1]["files"] == ["theorem2_sweep.png", "theorem2_sweep.pdf"]
    # seeded and deterministic: the same bytes twice
    for rel in ["theorem2_sweep.png", "theorem2_sweep.pdf", "explorer/index.html", "explorer/landscape_3d.html"]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    # PNGs are pictures, not blank canvases
    img = mpimg.imread(a / "fig2_energy_density.png")
    assert img.shape[0] > 300 and img.shape[1] > 900 and float(img[..., :3].std()) > 0.1
    # the index lists every registered figure with its caption and command
    index = (a / "README.md").read_text()
    for name, spec in load_all().items():
        assert f"## {name}\n\n{spec.caption}" in index
        assert f"hopdyn figures --only {name}" in index
    assert "![fig2_energy_density](fig2_energy_density.png)" in index
    assert "(not generated yet)" in index  # fig1 was not made in this run
    # pages load one shared plotly.js by a relative src instead of inlining it
    js = a / "explorer" / "plotly.min.js"
    assert js.stat().st_size > 1_000_000
    for page in ["index.html", "landscape_3d.html"]:
        html = (a / "explorer" / page).read_text()
        assert re.search(r'<script[^>]*src="plotly.min.js"', html), page
        assert len(html) < 1_500_000 and "Plotly.register" not in html


def test_packed_energies_round_trip():
    import base64

    import numpy as np

    from hopdyn.plots.interactive import _packed, _trimmed

    a = np.random.default_rng(0).normal(size=(7, 5)) * 3
    p = _packed(a)
    q = np.frombuffer(base64.b64decode(p["b64"]), dtype="<u2").reshape(p["shape"])
    assert np.abs(p["lo"] + q * p["step"] - a).max() <= p["step"] / 2 + 1e-12
    flat = _packed(np.ones((2, 2)))
    assert flat["step"] == 1.0 and flat["lo"] == 1.0
    path = np.array([[0.0, 1.0], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    assert _trimmed(path).tolist() == [[0.0, 1.0], [0.5, 0.5]]
