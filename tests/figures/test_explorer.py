"""The offline explorer pages render in headless Chromium without script errors.

Needs Debian's ``chromium`` (``.ci/run`` installs it). Without it the tests are skipped, except
under CI (the ``CI`` environment variable set), where a missing browser is a failure.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from hopdyn.figures import load_all

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=15000",
    "--window-size=1000,950",
]


def chromium() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed but CI is set: .ci/run must install it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")
    return path


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("figs")
    load_all()["explorer"].make(out)
    return out / "explorer"


def browse(page: Path, tmp_path: Path, *args: str, fragment: str = "") -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile{len(list(tmp_path.iterdir()))}"
    url = page.resolve().as_uri() + fragment
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, url], capture_output=True, text=True, timeout=120
    )


def body_attrs(dom: str) -> dict:
    tag = re.findall(r"<body\b[^>]*>", dom)[-1]
    return dict(re.findall(r'data-([a-z]+)="([^"]*)"', tag))


@pytest.mark.parametrize(
    "page, fragment",
    [
        ("index.html", ""),
        ("index.html", "#set=2&beta=0&gamma=4&view=3d"),  # the near-origin set, 3-D, largest gamma
        ("index.html", "#set=1&beta=3&gamma=2&view=3d&layer=basins&b0=0"),  # basins coloured on the 3-D surface
        ("landscape_3d.html", ""),
    ],
)
def test_page_renders_without_script_errors(pages, tmp_path, page, fragment):
    shot = tmp_path / "shot.png"
    res = browse(pages / page, tmp_path, "--dump-dom", f"--screenshot={shot}", fragment=fragment)
    assert res.returncode == 0, res.stderr[-2000:]
    attrs = body_attrs(res.stdout)
    assert attrs.get("rendered") == "yes", (attrs, res.stderr[-2000:])
    assert attrs.get("errors", "") == "", attrs["errors"]
    assert "main-svg" in res.stdout  # plotly drew into the page
    # and the picture is not blank: the plot fills a large part of the window, in many colours
    img = mpimg.imread(shot)[..., :3]
    not_white = (img < 0.95).any(-1).mean()
    colours = len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert not_white > 0.08, not_white
    assert colours > 200, colours


def test_a_broken_page_is_caught(pages, tmp_path):
    """The error hook works: a page whose script throws reports it on <body>."""
    bad = pages / "broken.html"
    bad.write_text((pages / "index.html").read_text().replace("const DATA = ", "undefinedFunction(); const DATA = "))
    attrs = body_attrs(browse(bad, tmp_path, "--dump-dom").stdout)
    assert "undefinedFunction" in attrs.get("errors", "") and attrs.get("rendered") != "yes"


def test_info_line_speaks_of_swallowing_only_for_reclag(tmp_path):
    """Memory fates on the page follow hopdyn.analysis.attractors.memory_fates; a vanilla cell whose memories
    merge (β = 1) says they are not attractors, never that they were swallowed."""
    import torch

    from hopdyn import landscape as land
    from hopdyn.plots.interactive import write_explorer

    close = torch.tensor([[1.541, -0.2934], [1.662, -0.0420], [-1.0845, -1.3986]], dtype=torch.float64)
    sweep = land.landscape_sweep({"close": close}, betas=[1.0, 4.0], gammas=[None, 59874.14171519782], n=15,
                                 n_starts=2, steps=5)
    page = write_explorer(sweep, tmp_path / "fates.html")

    def info(fragment):
        dom = browse(page, tmp_path, "--dump-dom", fragment=fragment).stdout
        assert body_attrs(dom).get("rendered") == "yes"
        return re.search(r'<div id="info">(.*?)</div>', dom).group(1)

    vanilla = info("#set=0&beta=0&gamma=0")
    assert "vanilla" in vanilla and "not an attractor" in vanilla and "swallow" not in vanilla
    gated = info("#set=0&beta=1&gamma=1")
    assert "memory 0 swallowed" in gated


def _pixels(shot: Path, hex_colour: str, tol: int = 3) -> int:
    img = (mpimg.imread(shot)[..., :3] * 255).round().astype(int)
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(img - rgb).max(-1) <= tol).sum())


def test_basins_and_b0_layers(pages, tmp_path):
    """The basins layer colours the map by attractor (palette colours: the origin light grey, memory 0
    tab:blue) and names each basin's share; the boundary of B0 is a layer of its own, and a vanilla
    cell says it has none."""
    from hopdyn.plots.palette import ORIGIN, memory_colors

    shot = tmp_path / "basins.png"
    res = browse(pages / "index.html", tmp_path, "--dump-dom", f"--screenshot={shot}",
                 fragment="#set=0&beta=2&gamma=3&layer=basins")
    attrs = body_attrs(res.stdout)
    assert attrs.get("rendered") == "yes" and attrs.get("errors", "") == "", attrs
    info = re.search(r'<div id="info">(.*?)</div>', res.stdout).group(1)
    assert re.search(r"basins: origin \d+\.\d%, memory 0 \d+\.\d%", info), info
    legend = r'class="legendtext"[^>]*>boundary of B0<'
    assert re.search(legend, res.stdout)
    assert _pixels(shot, ORIGIN) > 2000 and _pixels(shot, memory_colors(1)[0]) > 2000
    # a vanilla cell has no B0: no boundary drawn, and the page says why
    dom = browse(pages / "index.html", tmp_path, "--dump-dom", fragment="#set=0&beta=2&gamma=0&layer=basins").stdout
    assert body_attrs(dom).get("rendered") == "yes" and re.search(r'class="legendtext"', dom)
    assert not re.search(legend, dom)
    assert "no B0 boundary here" in re.search(r'<div id="info">(.*?)</div>', dom).group(1)


def test_explorer_data_carries_basins_and_b0(tmp_path):
    """The page's basin labels decode to the basin map's labels, with a palette colour per attractor,
    and the B0 line is the closed boundary."""
    import base64

    import torch

    from hopdyn import landscape as land
    from hopdyn.figures.paper import explorer_layers
    from hopdyn.plots.interactive import explorer_data
    from hopdyn.plots.palette import ORIGIN, UNCONVERGED, attractor_colors

    xi = torch.tensor([[2.0, 0.3], [-1.0, 1.7], [-0.8, -1.9]], dtype=torch.float64)
    sweep = land.landscape_sweep({"three": xi}, betas=[4.0], gammas=[None, 1000.0], n=15, n_starts=2, steps=5)
    basins, b0 = explorer_layers(sweep)
    data = explorer_data(sweep, basins, b0)
    for gi in (0, 1):
        cell, bm = data["cells"][f"0_0_{gi}"], basins[0, 0, gi]
        packed = cell["basins"]["labels"]
        q = np.frombuffer(base64.b64decode(packed["b64"]), dtype=np.uint8).reshape(packed["shape"])
        assert np.array_equal(q.astype(int) - 1, bm.labels.numpy())
        att = bm.attractors
        assert cell["basins"]["colors"] == [UNCONVERGED] + attractor_colors(att.kinds, att.memory.tolist())
    assert data["cells"]["0_0_0"]["b0_line"] is None  # vanilla: no gate
    line = np.array(data["cells"]["0_0_1"]["b0_line"])
    assert np.allclose(line[0], line[-1]) and len(line) == 181
    assert data["cells"]["0_0_1"]["basins"]["colors"][1 + basins[0, 0, 1].attractors.origin] == ORIGIN
