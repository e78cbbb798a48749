"""Figures of any network: the attractor palette, basin plots that stay readable with 50 memories,
the PCA plane, and ``hopdyn figures --xi`` (its files, its README, its one-line errors)."""

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from hopdyn.analysis.basins import basin_map, boundary_cells  # noqa: E402
from hopdyn.analysis.geometry import Plane  # noqa: E402
from hopdyn.cli import main  # noqa: E402
from hopdyn.core.lagrangians import RecLag  # noqa: E402
from hopdyn.core.network import MHN  # noqa: E402
from hopdyn.figures import network as nf  # noqa: E402
from hopdyn.figures.network import FigureNetwork, network_figures  # noqa: E402
from hopdyn.plots import palette  # noqa: E402
from hopdyn.plots.landscape import LEGEND_MAX, basin_maps  # noqa: E402
from hopdyn.plots.palette import _lab, _rgb, attractor_colors, memory_colors  # noqa: E402


# -- palette --------------------------------------------------------------------------------------
def test_memory_colours_are_distinct_stable_and_never_grey():
    many = memory_colors(60)
    assert memory_colors(7) == many[:7]  # a memory keeps its colour whatever the number of memories
    assert len(set(many)) == 60
    lab = _lab(_rgb(many))
    d = np.linalg.norm(lab[:, None] - lab[None], axis=-1)[np.triu_indices(60, 1)]
    assert d.min() > 10  # CIELAB ΔE: clearly different colours
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    assert chroma.min() > 25  # no greys: those mean "not a memory"
    reserved = _lab(_rgb([palette.ORIGIN, *palette.OTHER, palette.UNCONVERGED, palette.BOUNDARY]))
    assert np.linalg.norm(lab[:, None] - reserved[None], axis=-1).min() > 15


def test_attractor_colours_by_kind_and_memory_index():
    cols = attractor_colors(["memory", "origin", "other", "memory", "other"], [3, -1, -1, 0, -1])
    mem = memory_colors(4)
    assert cols == [mem[3], palette.ORIGIN, palette.OTHER[0], mem[0], palette.OTHER[1]]
    assert attractor_colors(["origin", "memory", "memory"]) == [palette.ORIGIN, mem[0], mem[1]]
    assert palette.attractor_hatches(["origin", "memory", "other"]) == [None, None, palette.OTHER_HATCH]
    with pytest.raises(ValueError, match="kinds must be"):
        attractor_colors(["spurious"], [-1])
    with pytest.raises(ValueError, match="same length"):
        attractor_colors(["memory"], [0, 1])
    with pytest.raises(ValueError, match="memory index"):
        attractor_colors(["memory"], [-1])


# -- basin plots with many memories -----------------------------------------------------------------
def circle(n: int, radius: float = 3.0) -> torch.Tensor:
    a = torch.linspace(0, 2 * torch.pi, n + 1, dtype=torch.float64)[:-1]
    return radius * torch.stack([a.cos(), a.sin()], -1)


def _overlap(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0) * max(h, 0)


@pytest.mark.parametrize("n_memories", [5, 50])
def test_basin_map_legend_stays_outside_the_picture(tmp_path, n_memories):
    net = MHN(circle(n_memories), memory=RecLag(100.0, 1e5))
    m = basin_map(net, 48, progress=False)
    n_mem = sum(k == "memory" for k in m.attractors.kinds)
    assert n_mem >= 0.8 * n_memories  # the map shows (nearly) every memory's basin
    fig = basin_maps([m], [boundary_cells(m.labels)], ["test"])
    fig.canvas.draw()
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert _overlap(legend.get_window_extent(), ax.get_window_extent()) == 0
    texts = [t.get_text() for t in legend.get_texts()]
    assert any(t.startswith("origin:") for t in texts)  # the origin is named, not a hue among hues
    compact = n_mem + 1 > LEGEND_MAX
    # few attractors: one line each; many: one line for all memories and a colour strip for their index
    assert (f"{n_mem} memory basins" in " ".join(texts)) == compact
    assert (len(fig.axes) == 2) == compact  # the strip is a colour bar below the map
    assert len(texts) <= LEGEND_MAX + 6
    path = tmp_path / "basins.png"
    fig.savefig(path, dpi=60)
    plt.close(fig)
    img = (mpimg.imread(path)[..., :3] * 255).astype(np.uint8).reshape(-1, 3)
    hexes = {f"#{r:02x}{g:02x}{b:02x}" for r, g, b in np.unique(img, axis=0)}
    # (nearly) every memory's colour is on the picture
    assert len(hexes & set(memory_colors(n_memories))) >= 0.8 * n_mem


def test_spurious_attractors_are_grey_and_hatched():
    from hopdyn.analysis.attractors import Attractors
    from hopdyn.analysis.basins import BasinMap
    from hopdyn.analysis.geometry import Grid

    grid = Grid(Plane.standard(), torch.linspace(-1, 1, 8, dtype=torch.float64), torch.linspace(-1, 1, 8, dtype=torch.float64))
    labels = torch.zeros(8, 8, dtype=torch.long)
    labels[:, 4:] = 1
    att = Attractors(["memory 0", "attractor 1"], torch.tensor([[-0.5, 0.0], [0.5, 0.0]], dtype=torch.float64),
                     ["memory", "other"], torch.tensor([0, -1]))
    bm = BasinMap(grid, labels, torch.ones_like(labels), att, att.points, torch.zeros(2, dtype=torch.float64),
                  torch.tensor([[-0.5, 0.0]], dtype=torch.float64))
    fig = basin_maps([bm], [boundary_cells(labels)], ["spurious"])
    ax = fig.axes[0]
    handles = ax.get_legend().legend_handles
    spurious = [h for h in handles if h.get_label().startswith("attractor 1")][0]
    assert matplotlib.colors.to_hex(spurious.get_facecolor()) == palette.OTHER[0]
    assert spurious.get_hatch() == palette.OTHER_HATCH
    assert any(getattr(c, "hatches", None) == [palette.OTHER_HATCH] for c in ax.collections)  # the basin itself
    plt.close(fig)


# -- the PCA plane ----------------------------------------------------------------------------------
def test_pca_plane_matches_scikit_learn():
    from sklearn.decomposition import PCA

    xi = torch.randn(30, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * torch.arange(1, 10)
    plane = Plane.pca(xi)
    ref = PCA(2).fit(xi.numpy()).components_
    assert np.allclose(np.abs(plane.basis.numpy() @ ref.T), np.eye(2), atol=1e-10)
    assert float(plane.origin.abs().max()) == 0  # through the origin
    with pytest.raises(ValueError, match="fewer than two directions"):
        Plane.pca(torch.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 6.0, 9.0]], dtype=torch.float64))


# -- the figure set of any network ------------------------------------------------------------------
def test_figure_set_follows_the_network():
    xi = circle(6)
    assert list(network_figures(FigureNetwork(xi, 4.0, 1000.0))) == [
        "landscapes", "landscapes_3d", "phase_portraits", "basin_maps", "theorem1_radii", "continuation_gamma"]
    # Theorem 1 needs gamma > N_H; a vanilla network has no gamma to continue in
    assert "theorem1_radii" not in network_figures(FigureNetwork(xi, 4.0, 6.0))
    assert list(network_figures(FigureNetwork(xi, 4.0, None)))[-1] == "continuation_beta"
    with pytest.raises(ValueError, match="beta"):
        FigureNetwork(xi, 0.0, None)


@pytest.mark.parametrize("gamma", [40.0, None])
def test_every_figure_of_a_network_in_12_dimensions(gamma):
    """Each figure of the set draws for N_V > 2 on the PCA plane (small grids), vanilla and RecLag."""
    xi = torch.randn(8, 12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    net = FigureNetwork(xi, 3.0, gamma, Plane.pca(xi), name="random")
    figs = [
        nf.landscapes_figure(net, n=21),
        nf.basins_figure(net, 12),
        nf.continuation_figure(net, values=[2.0, 6.0] if gamma is None else [4.0, 40.0], n=60),
    ]
    if gamma is None:  # the trajectories (the ODE across RecLag's gate is slow to integrate: vanilla only)
        figs += [nf.surfaces_figure(net, n=11), nf.phase_figure(net, n_starts=2, n=15)]
    else:
        figs.append(nf.radii_figure(net, n=21))
    assert len(figs[0].axes) == (6 if gamma else 2)  # energy (and RecLag, density), each with its colour bar
    for f in figs:
        f.canvas.draw()
        plt.close(f)
    with pytest.raises(ValueError, match="gamma > N_H"):
        nf.radii_figure(FigureNetwork(xi, 3.0, 8.0, Plane.pca(xi)))


@pytest.fixture
def xi_file(tmp_path):
    path = tmp_path / "xi8.npy"
    np.save(path, np.random.default_rng(0).normal(size=(8, 12)))
    return path


def test_xi_figures_files_readme_and_json(tmp_path, xi_file, capsys):
    out = tmp_path / "figs"
    args = ["figures", "--xi", str(xi_file), "--beta", "3", "--gamma", "40", "--plane", "pca", "--resolution", "24",
            "--only", "basin_maps", "--out", str(out), "--json", str(tmp_path / "r.json")]
    assert main(args) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["README.md", "basin_maps.pdf", "basin_maps.png"]
    readme = (out / "README.md").read_text()
    assert readme.startswith("# Figures of xi8.npy (8 memories in 12-D, beta = 3, gamma = 40, on the plane through "
                             "origin, PC 1, PC 2)")
    assert "Made by `hopdyn figures`" in readme and "![basin_maps](basin_maps.png)" in readme
    assert f"hopdyn figures --xi {xi_file} --beta 3 --gamma 40 --plane pca --resolution 24 --out {out} --only " \
           "basin_maps" in readme
    assert "(not generated yet)" in readme  # landscapes were not asked for
    report = json.loads((tmp_path / "r.json").read_text())
    assert [f["name"] for f in report["figures"]] == ["basin_maps"]
    assert "## theorem1_radii" in readme  # listed (gamma = 40 > N_H = 8), not made in this run
    img = mpimg.imread(out / "basin_maps.png")
    assert float(img[..., :3].std()) > 0.1
    # hopdyn never overwrites a README it did not write
    (out / "README.md").write_text("# mine\n")
    assert main(args) == 2
    assert "not written by hopdyn figures" in capsys.readouterr().err


def test_xi_list_and_default_out(tmp_path, xi_file, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["figures", "--xi", str(xi_file), "--gamma", "vanilla", "--list"]) == 0
    out = capsys.readouterr().out
    assert "continuation_beta: Continuation in beta" in out and "theorem1_radii" not in out
    assert not (tmp_path / "figures_xi8").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--beta", "0"], "--beta: expected a finite number > 0"),
        (["--beta", "nan"], "--beta: expected a finite number > 0"),
        (["--gamma", "-1"], "--gamma: expected a finite number > 0"),
        (["--gamma", "lots"], "--gamma: expected a number > 0 or 'vanilla'"),
        (["--plane", "memories:0,0"], "--plane: expected two different memories"),
        (["--plane", "memories:0,99"], "--plane: expected two different memories in 0..7"),
        (["--plane", "memories:a"], "--plane: expected 'memories:i,j'"),
        (["--plane", "diagonal"], "--plane: expected 'memories:i,j', 'pca' or a .npy file"),
        (["--plane", "missing.npy"], "--plane: no such file"),
        (["--gamma", "vanilla", "--continuation", "gamma"], "--continuation gamma needs RecLag"),
        (["--resolution", "1"], "--resolution: expected at least 2"),
        (["--only", "nope"], "--only: unknown figure(s) nope"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, xi_file, capsys, extra, message):
    monkey_out = tmp_path / "never"
    assert main(["figures", "--xi", str(xi_file), "--out", str(monkey_out), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not monkey_out.exists()


def test_bad_files_exit_2_with_one_line(tmp_path, capsys):
    nan = np.ones((4, 3))
    nan[1, 2] = np.nan
    cases = {"nan.npy": nan, "flat.npy": np.ones(5), "cube.npy": np.ones((2, 3, 4)), "zeros.npy": np.zeros((3, 4))}
    for name, arr in cases.items():
        np.save(tmp_path / name, arr)
    np.savez(tmp_path / "two.npz", a=np.ones((3, 4)), b=np.ones((3, 4)))
    (tmp_path / "dirs.npy").write_bytes(b"")
    np.save(tmp_path / "dirs3.npy", np.ones((3, 12)))
    np.save(tmp_path / "ok.npy", np.random.default_rng(1).normal(size=(5, 12)))
    for argv, message in [
        (["--xi", str(tmp_path / "missing.npy")], "no such file"),
        (["--xi", str(tmp_path / "nan.npy")], "NaN"),
        (["--xi", str(tmp_path / "flat.npy")], "dimension"),
        (["--xi", str(tmp_path / "cube.npy")], "(N_H, N_V)"),
        (["--xi", str(tmp_path / "zeros.npy")], "all zeros"),
        (["--xi", str(tmp_path / "two.npz")], "name the memories 'xi'"),
        (["--xi", str(tmp_path / "ok.npy"), "--plane", str(tmp_path / "dirs.npy")], "--plane:"),
        (["--xi", str(tmp_path / "ok.npy"), "--plane", str(tmp_path / "dirs3.npy")], "shape (2, N_V) = (2, 12)"),
        (["--beta", "2"], "--beta needs --xi"),
    ]:
        assert main(["figures", "--out", str(tmp_path / "never"), *argv]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (argv, err)
    assert not (tmp_path / "never").exists()
