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
