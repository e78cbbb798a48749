"""The MHA experiments at toy sizes (the real runs are in the report), their plots and CLI."""
import json

import numpy as np
import pytest
import torch

import hopdyn as hd
from hopdyn import collapse as C
from hopdyn.cli import main
from hopdyn.experiments.mha import collapse_vs_depth, digits_accuracy


def test_collapse_sweep_matches_a_direct_run():
    r = collapse_vs_depth((0.0, 0.5), depth=3, n_tokens=5, d_model=8, n_heads=2, n_seeds=2, batch=3, progress=False)
    assert r.metrics["cosine"].shape == (2, 4, 6) and list(r.depths) == [0, 1, 2, 3]
    # redo seed 1, α' = 0.5 by hand
    torch.manual_seed(1)
    stack = hd.HopfieldAttentionStack.build(3, 8, 2, alpha_h=0.5, dtype=torch.float64)
    x0 = torch.randn(3, 5, 8, dtype=torch.float64)
    with torch.no_grad():
        xs, _ = stack(x0, return_all=True)
    for name in ("relative_residual", "cosine_gap"):
        expected = getattr(C, name)(torch.stack([x0, *xs])).numpy()
        np.testing.assert_allclose(r.metrics[name][1, :, 3:], expected, rtol=1e-12)
    # depth 0 (the input) and depth 1 (no state carried yet) do not depend on α'
    np.testing.assert_array_equal(r.metrics["residual"][0, :2], r.metrics["residual"][1, :2])
    assert r.quantiles("cosine").shape == (3, 2, 4)
    assert len(r.layers_to("relative_residual", 1e-300)) == 2


def test_digits_experiment_smoke():
    r = digits_accuracy(depths=(1, 2), alphas_h=(0.0, 0.5), seeds=(0,), epochs=1, d_model=8, n_heads=2, d_ff=8,
                        batch_size=256, progress=False)
    assert r.accuracy.shape == r.final_cosine.shape == (2, 2, 1)
    assert ((0 <= r.accuracy) & (r.accuracy <= 1)).all()
    assert r.accuracy[0, 0, 0] == r.accuracy[1, 0, 0]  # one layer: α' has nothing to carry
    assert len(r.table_rows()) == 2 and len(r.table_headers()) == len(r.table_rows()[0])
    with pytest.raises(ValueError, match="alphas_h"):
        digits_accuracy(alphas_h=(1.5,))


def test_accuracy_plot_draws(tmp_path):  # the collapse plot is drawn by test_cli_collapse
    from hopdyn.figures import save
    from hopdyn.plots.mha import plot_accuracy_vs_depth

    fig = plot_accuracy_vs_depth((1, 2, 3), (0.0, 0.5), np.full((2, 3, 2), 0.5), chance=0.1)
    assert save(fig, tmp_path, "a", formats=("png",))[0].stat().st_size > 0


def test_cli_collapse(tmp_path, capsys):
    out = tmp_path / "c.json"
    code = main(["mha", "collapse", "--depth", "2", "--seeds", "1", "--tokens", "4", "--width", "8", "--heads", "2",
                 "--alphas", "0,0.5", "--json", str(out), "--plot", str(tmp_path / "c.png")])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["alphas_h"] == [0.0, 0.5] and len(data["median"]["cosine"][0]) == 3
    assert (tmp_path / "c.png").stat().st_size > 0
    assert "alpha'=0.5" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["mha", "collapse", "--alphas", "0,1"], ["mha", "collapse", "--depth", "0"], ["mha", "digits", "--seeds", "0"],
    ["mha", "collapse", "--plot", "x.svg", "--depth", "1"]])
def test_cli_bad_input(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hopdyn mha: error:") and len(err.strip().splitlines()) == 1


def test_experiments_leave_the_callers_random_stream_alone():
    torch.manual_seed(1234)
    state = torch.random.get_rng_state()
    kw = dict(depth=2, n_tokens=4, d_model=8, n_heads=2, n_seeds=1, batch=2, progress=False)
    a = collapse_vs_depth((0.0,), **kw)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = collapse_vs_depth((0.0,), **kw)
    np.testing.assert_array_equal(a.metrics["cosine"], b.metrics["cosine"])  # seeded, not stream-dependent
    r = digits_accuracy(depths=(1,), alphas_h=(0.0,), seeds=(0,), epochs=1, d_model=8, n_heads=2, d_ff=8,
                        batch_size=512, progress=False)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(99)  # another caller state: same result
    r2 = digits_accuracy(depths=(1,), alphas_h=(0.0,), seeds=(0,), epochs=1, d_model=8, n_heads=2, d_ff=8,
                         batch_size=512, progress=False)
    np.testing.assert_array_equal(r.accuracy, r2.accuracy)
